#!/usr/bin/python3
"""Does an IAM user's access key work, and which keys does IAM hold?

    cspf vault exec ... PATH -- /usr/bin/python3 key_probe.py PORT ACCOUNT USER SECRETS

The key comes on stdin, as cspf vault exec hands it over:
{"access_key_id": "AKIA...", "secret_access_key": "..."}.  The probe signs
sts:GetCallerIdentity with it against the AWS emulator on 127.0.0.1:PORT
and prints "arn ARN" (or "error CODE"), then reads the emulator's state and
prints "key ID STATUS" for each access key of USER in ACCOUNT, sorted by
id.  Every secret access key IAM holds for USER is appended to SECRETS, one
a line, for the caller's leak checks; no secret is printed.

Standard library only, and light (http.client, not urllib.request): the
rotation crash matrix runs it twice a point.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import re
import sys


def signed(host, body, akid, secret):
    amz = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    h = {"host": host, "x-amz-date": amz,
         "content-type": "application/x-www-form-urlencoded"}
    names = sorted(h)
    creq = "\n".join(["POST", "/", "",
                      "".join("%s:%s\n" % (n, h[n]) for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = amz[:8] + "/eu-west-1/sts/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz[:8], "eu-west-1", "sts", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    h["authorization"] = (
        "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
        % (akid, scope, ";".join(names),
           hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()))
    return h


def main():
    port, account, user, secrets = (int(sys.argv[1]), sys.argv[2],
                                    sys.argv[3], sys.argv[4])
    try:
        v = json.load(sys.stdin)
        akid, secret = v["access_key_id"], v["secret_access_key"]
    except (ValueError, KeyError, TypeError):
        print("error the value is not an access key")
        akid = secret = None
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if akid:
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        c.request("POST", "/", body,
                  signed("127.0.0.1:%d" % port, body, akid, secret))
        r = c.getresponse().read().decode("utf-8", "replace")
        m = re.search(r"<Arn>([^<]*)</Arn>", r)
        code = re.search(r"<Code>([^<]*)</Code>", r)
        print("arn " + m.group(1) if m else
              "error " + (code.group(1) if code else "no answer"))
    c.request("GET", "/_emulator/state")
    s = json.loads(c.getresponse().read())
    users = s.get("accounts", {}).get(account, {}).get("users", [])
    keys = [k for u in users if u.get("name") == user
            for k in u.get("access_keys", [])]
    keys.sort(key=lambda k: k["id"])
    with open(secrets, "a") as f:
        f.write("".join(k["secret"] + "\n" for k in keys if k.get("secret")))
    for k in keys:
        print("key", k["id"], k.get("status", "Active"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
