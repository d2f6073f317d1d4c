#!/usr/bin/python3
"""Throughput check of the AWS emulator: signed IAM calls over keep-alive
connections, the way an inventory run makes them.

    /usr/bin/python3 loadcheck.py --port P --state STATE.json
        [--procs 2] [--conns 8] [--seconds 5] [--assume]

Each of --procs processes opens --conns keep-alive connections, one thread
each, and sends signed IAM ListUsers (MaxItems 100) calls in a loop for
--seconds.  With --assume, every thread first assumes cspf-inventory in
one account after another (STS AssumeRole) and lists that account's users
with the temporary credentials, as cspf does across accounts.  Prints
calls, errors and calls per second.  The client is Python too: on a small
machine it competes with the emulator for the CPUs, so the figure is a
floor of what the emulator can do.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import re
import threading
import time
from urllib.parse import quote


def sign(method, host, body, akid, secret, region, service, token=None,
         skew=0):
    """SigV4 headers for a POST form to / (skew: seconds added to now)."""
    t = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=skew)
    amz = t.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    headers = {"host": host, "x-amz-date": amz,
               "content-type": "application/x-www-form-urlencoded"}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    creq = "\n".join([method, "/", "",
                      "".join("%s:%s\n" % (n, headers[n]) for n in names),
                      ";".join(names), hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (day, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
        % (akid, scope, ";".join(names), sig))
    return headers


def form(**kw):
    return "&".join("%s=%s" % (k, quote(str(v), safe="-_.~"))
                    for k, v in kw.items()).encode()


def call(conn, host, body, cred, service):
    h = sign("POST", host, body, cred[0], cred[1], "eu-west-1", service,
             cred[2] if len(cred) > 2 else None)
    conn.request("POST", "/", body, h)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def worker(args, accounts, principal, seed, out):
    host = "127.0.0.1:%d" % args.port
    stop = time.monotonic() + args.seconds
    counts = []

    def run(tid):
        conn = http.client.HTTPConnection("127.0.0.1", args.port)
        n = err = 0
        i = seed * 1000 + tid
        base = (principal["access_key_id"], principal["secret_access_key"])
        while time.monotonic() < stop:
            cred = base
            if args.assume:
                acct = accounts[i % len(accounts)]
                i += 7
                st, data = call(conn, host, form(
                    Action="AssumeRole", Version="2011-06-15",
                    RoleArn="arn:aws:iam::%s:role/cspf-inventory" % acct,
                    RoleSessionName="load"), base, "sts")
                n += 1
                if st != 200:
                    err += 1
                    continue
                d = data.decode()
                cred = tuple(re.search("<%s>([^<]+)</%s>" % (t, t), d)
                             .group(1) for t in ("AccessKeyId",
                                                 "SecretAccessKey",
                                                 "SessionToken"))
            st, _ = call(conn, host, form(Action="ListUsers",
                                          Version="2010-05-08",
                                          MaxItems=100), cred, "iam")
            n += 1
            if st != 200:
                err += 1
        counts.append((n, err))

    threads = [threading.Thread(target=run, args=(t,))
               for t in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(c[0] for c in counts), sum(c[1] for c in counts)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--assume", action="store_true")
    args = ap.parse_args()
    with open(args.state) as f:
        state = json.load(f)
    principal = state["principals"][0]
    accounts = sorted(a for a, d in state["accounts"].items()
                      if any(r["name"] == "cspf-inventory"
                             for r in d.get("roles", [])))
    q = multiprocessing.Queue()
    t0 = time.monotonic()
    ps = [multiprocessing.Process(target=worker,
                                  args=(args, accounts, principal, i, q))
          for i in range(args.procs)]
    for p in ps:
        p.start()
    res = [q.get() for _ in ps]
    for p in ps:
        p.join()
    dt = time.monotonic() - t0
    n = sum(r[0] for r in res)
    err = sum(r[1] for r in res)
    print("calls %d errors %d seconds %.1f calls/s %.0f (procs %d x conns "
          "%d%s)" % (n, err, dt, n / dt, args.procs, args.conns,
                     ", AssumeRole + ListUsers" if args.assume
                     else ", ListUsers"))


if __name__ == "__main__":
    main()
