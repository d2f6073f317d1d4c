#!/usr/bin/python3
"""Write a large state file for the AWS emulator (benchmarks).

    /usr/bin/python3 gen_state.py --accounts N --users M [--seed S]
        [--out FILE] [--base-date 2026-11-23T00:00:00Z]
        [--account-ids FILE] [--principals K]

Every account gets M users (passwords, MFA devices, 0 to 2 access keys,
last uses), the role cspf-inventory (trusting the management account
below), one or two other roles, two or three buckets and a trail.  The
principals (K, default 1: cspf, cspf-2, ...) live in a management account,
100000000000, which is in "accounts" too but holds nothing else: they
reach every account by assuming cspf-inventory.

Deterministic: the same arguments give the same bytes (seeded
random.Random; dates count back from --base-date, not from the clock).
--account-ids takes account ids from a file, one a line (say, those of a
generated registry), instead of 200000000000, 200000000001, ...
"""

import argparse
import datetime
import json
import random
import sys

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
MANAGEMENT = "100000000000"
REGIONS = ["eu-west-1", "us-east-1", "eu-central-1", "us-west-2"]
SERVICES = ["s3", "ec2", "iam", "sts", "lambda", "dynamodb"]
FIRST = ["ana", "ben", "chen", "dana", "emil", "fatima", "goran", "hana",
         "ivan", "jia", "kofi", "lena", "mateo", "nora", "omar", "priya"]


class Gen:
    def __init__(self, seed, base):
        self.r = random.Random(seed)
        self.base = base

    def ident(self, prefix, n=16):
        return prefix + "".join(self.r.choice(B32) for _ in range(n))

    def secret(self):
        return "".join(self.r.choice(B64) for _ in range(40))

    def ago(self, max_days, min_days=0):
        """A time between max_days and min_days before the base date."""
        s = self.r.randint(min_days * 86400, max_days * 86400)
        t = self.base - datetime.timedelta(seconds=s)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    def chance(self, p):
        return self.r.random() < p

    def last_used(self, created_days):
        if self.chance(0.2):
            return None
        return {"date": self.ago(min(created_days, 400)),
                "service": self.r.choice(SERVICES),
                "region": self.r.choice(REGIONS)}

    def user(self, acct, i):
        human = self.chance(0.4)
        name = ("%s.%04d" % (self.r.choice(FIRST), i) if human
                else "svc-%04d" % i)
        age = self.r.randint(30, 2000)
        u = {"name": name, "id": self.ident("AIDA", 17),
             "created": self.ago(age, age), "path": "/",
             "password": None, "mfa_devices": [], "access_keys": []}
        if human:
            u["password"] = {"created": self.ago(age),
                             "last_used": (self.ago(min(age, 200))
                                           if self.chance(0.8) else None)}
            if self.chance(0.75):
                u["mfa_devices"].append({
                    "serial": "arn:aws:iam::%s:mfa/%s" % (acct, name),
                    "enabled": self.ago(age)})
        nkeys = self.r.choice([0, 1, 1, 1, 2]) if human else \
            self.r.choice([1, 1, 2])
        for _ in range(nkeys):
            kage = self.r.randint(1, age)
            u["access_keys"].append({
                "id": self.ident("AKIA"), "secret": self.secret(),
                "status": "Active" if self.chance(0.85) else "Inactive",
                "created": self.ago(kage, kage),
                "last_used": self.last_used(kage)})
        return u

    def account(self, acct, idx, users):
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::%s:root" % MANAGEMENT}}]}
        roles = [{"name": "cspf-inventory", "path": "/",
                  "created": self.ago(900, 300),
                  "last_used": {"date": self.ago(2), "region": "eu-west-1"},
                  "assume_role_policy": trust}]
        for j in range(self.r.randint(1, 2)):
            roles.append({
                "name": "app-role-%d" % j, "path": "/service-role/",
                "created": self.ago(1500, 10),
                "last_used": ({"date": self.ago(90),
                               "region": self.r.choice(REGIONS)}
                              if self.chance(0.7) else None),
                "assume_role_policy": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "ec2.amazonaws.com"}}]}})
        buckets = []
        for j in range(self.r.randint(2, 3)):
            buckets.append({
                "name": "bench-%s-%d" % (acct, j),
                "created": self.ago(1500, 10),
                "region": self.r.choice(REGIONS),
                "versioning": self.r.choice(["Enabled", "Enabled",
                                             "Suspended", None]),
                "logging": ({"target_bucket": "bench-%s-0" % acct,
                             "prefix": "logs/%d/" % j}
                            if self.chance(0.6) else None)})
        root_keys = []
        if self.chance(0.05):
            root_keys.append({"id": self.ident("AKIA"), "status": "Active",
                              "created": self.ago(2000, 100),
                              "last_used": self.last_used(100)})
        return {
            "alias": "bench-account-%05d" % idx,
            "created": self.ago(2500, 1000),
            "root": {"access_keys": root_keys,
                     "mfa_enabled": self.chance(0.9),
                     "password_last_used": (self.ago(300)
                                            if self.chance(0.5) else None)},
            "users": [self.user(acct, i) for i in range(users)],
            "roles": roles,
            "buckets": buckets,
            "trails": [{"name": "audit", "home_region": "us-east-1",
                        "multi_region": self.chance(0.8),
                        "log_file_validation": self.chance(0.8),
                        "s3_bucket": buckets[0]["name"],
                        "is_logging": self.chance(0.9)}],
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, required=True)
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--principals", type=int, default=1)
    ap.add_argument("--base-date", default="2026-11-23T00:00:00Z")
    ap.add_argument("--account-ids", metavar="FILE")
    ap.add_argument("--out", default="-", help="file, or - for stdout")
    a = ap.parse_args()
    base = datetime.datetime.fromisoformat(a.base_date.replace("Z", "+00:00"))
    g = Gen(a.seed, base)
    if a.account_ids:
        with open(a.account_ids) as f:
            ids = [line.strip() for line in f if line.strip()][:a.accounts]
        if len(ids) < a.accounts:
            ap.error("%s has %d ids, fewer than --accounts" % (
                a.account_ids, len(ids)))
    else:
        ids = ["%012d" % (200000000000 + i) for i in range(a.accounts)]
    principals = []
    for i in range(a.principals):
        name = "cspf" if i == 0 else "cspf-%d" % (i + 1)
        principals.append({"access_key_id": g.ident("AKIA"),
                           "secret_access_key": g.secret(),
                           "account": MANAGEMENT,
                           "arn": "arn:aws:iam::%s:user/%s" % (MANAGEMENT,
                                                              name)})
    accounts = {MANAGEMENT: {"alias": "bench-management",
                             "root": {"access_keys": [], "mfa_enabled": True},
                             "users": [], "roles": []}}
    for idx, acct in enumerate(ids):
        accounts[acct] = g.account(acct, idx, a.users)
    state = {"principals": principals,
             "web_identity_tokens": ["bench-web-identity-token"],
             "accounts": accounts, "faults": {}}
    out = sys.stdout if a.out == "-" else open(a.out, "w")
    json.dump(state, out, sort_keys=True, separators=(",", ":"))
    out.write("\n")
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
