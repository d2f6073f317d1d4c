#!/usr/bin/python3
"""The peer of bench/digest-bench.sh: what a team would write with
Debian's python3 to review CloudTrail files by hand -- every .json.gz
under a directory, gzip + json, a count per (account, actor, action),
read-only calls included (as the bench runs cspf digest --read-only).
Prints the ten largest groups."""
import collections
import gzip
import json
import os
import sys


def main(root):
    counts = collections.Counter()
    for d, _, files in os.walk(root):
        for f in sorted(files):
            if not f.endswith(".json.gz"):
                continue
            with gzip.open(os.path.join(d, f), "rb") as fh:
                for r in json.load(fh).get("Records", []):
                    who = r.get("userIdentity", {})
                    actor = who.get("arn") or who.get("invokedBy") or "?"
                    action = "%s:%s" % (r.get("eventSource", "").split(".")[0],
                                        r.get("eventName"))
                    counts[(r.get("recipientAccountId"), actor, action)] += 1
    for k, n in counts.most_common(10):
        print(n, *k)


if __name__ == "__main__":
    main(sys.argv[1])
