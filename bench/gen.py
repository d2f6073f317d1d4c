#!/usr/bin/python3
"""Write the benchmark's schema and documents.

    /usr/bin/python3 bench/gen.py N [OUTDIR]

OUTDIR defaults to bench/out.  Writes OUTDIR/schema.json (a draft 2020-12
schema shaped like a registry's account schema) and OUTDIR/docs-N/DDD/*.json:
N account records with their static credentials, pretty-printed with indent
2, 1000 files per subdirectory.  Exactly 1 in 100 documents is invalid in
one realistic way (an email without "@", a property the schema does not
allow, a value outside an enum, a missing required property, an account id
that is not 12 digits); OUTDIR/docs-N.expected lists them.

Deterministic: the same N gives byte-identical files on every machine
(seeded random.Random, sorted nothing, no clock).  A stamp file,
docs-N/.stamp, holds a hash of this script; when it matches, nothing is
rewritten.  Standard library only.
"""

import hashlib
import json
import os
import random
import shutil
import sys

FILES_PER_DIR = 1000
INVALID_EVERY = 100  # 1 %
INVALID_OFFSET = 37

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://cspf.invalid/schemas/bench/account.json",
    "title": "IaaS account and its static credentials (CSPF 1.1, 3.2, 4.1)",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "accountid", "name", "provider", "contact", "team", "escalation",
        "security", "owner", "created", "credentials",
    ],
    "properties": {
        "accountid": {"type": "string", "pattern": "^[0-9]{12}$"},
        "name": {
            "type": "string", "minLength": 3, "maxLength": 63,
            "pattern": "^[a-z][a-z0-9-]*$",
        },
        "provider": {"enum": ["aws", "azure", "gcp"]},
        "description": {"type": "string", "minLength": 1, "maxLength": 2000},
        "contact": {"$ref": "#/$defs/email"},
        "team": {"$ref": "#/$defs/team"},
        "escalation": {"type": "string", "format": "uri"},
        "security": {"$ref": "#/$defs/classification"},
        "owner": {"$ref": "#/$defs/owner"},
        "created": {"$ref": "#/$defs/timestamp"},
        "environment": {"enum": ["prod", "staging", "dev", "sandbox"]},
        "regions": {
            "type": "array", "maxItems": 20, "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[a-z]{2}-[a-z]+-[0-9]$"},
        },
        "tags": {
            "type": "object", "maxProperties": 32,
            "propertyNames": {"type": "string",
                              "pattern": "^[a-z][a-z0-9_.-]*$"},
            "additionalProperties": {"type": "string", "maxLength": 256},
        },
        "monthly_budget_usd": {
            "type": "integer", "minimum": 0, "maximum": 10000000,
        },
        "credentials": {
            "type": "array", "maxItems": 50,
            "items": {"$ref": "#/$defs/credential"},
        },
    },
    "$defs": {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "team": {
            "type": "string", "minLength": 2, "maxLength": 40,
            "pattern": "^[a-z][a-z0-9-]*$",
        },
        "classification": {"enum": ["red", "blue", "green"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "owner": {
            "type": "object",
            "additionalProperties": False,
            "required": ["team", "contact"],
            "properties": {
                "team": {"$ref": "#/$defs/team"},
                "contact": {"$ref": "#/$defs/email"},
                "manager": {"$ref": "#/$defs/email"},
                "slack": {"type": "string", "pattern": "^#[a-z0-9_-]+$"},
            },
        },
        "credential": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "username", "scope", "custodians",
                "credential_generated", "credential_expires",
            ],
            "properties": {
                "username": {"type": "string", "minLength": 1,
                             "maxLength": 128},
                "kind": {"enum": ["access_key", "password", "api_token",
                                  "ssh_key"]},
                "scope": {"enum": ["root", "partial", "prod", "test",
                                   "readonly"]},
                "custodians": {
                    "type": "array", "minItems": 1, "maxItems": 10,
                    "uniqueItems": True,
                    "items": {"$ref": "#/$defs/email"},
                },
                "credential_generated": {"$ref": "#/$defs/timestamp"},
                "credential_expires": {"$ref": "#/$defs/timestamp"},
                "rotation_days": {"type": "integer", "minimum": 1,
                                  "maximum": 366},
                "vault": {"type": "string", "format": "uri"},
            },
        },
    },
}

WORDS = (
    "payments ledger search billing identity gateway ingest analytics "
    "messaging storage backup audit security platform data mobile edge "
    "voice video email notify reporting warehouse catalog orders fraud "
    "risk compliance sandbox logging metrics tracing build release"
).split()
FIRST = (
    "alice bob carol dave erin frank grace heidi ivan judy mallory niaj "
    "olivia peggy rupert sybil trent victor walter yvonne zoe amir bea "
    "chen dara emeka farah goran hana ines jonas kemal lena"
).split()
LAST = (
    "smith jones garcia miller davis lopez wilson anderson thomas moore "
    "martin lee walker hall young king wright scott green baker adams "
    "nelson carter mitchell perez roberts turner phillips campbell parker"
).split()
DOMAINS = ("example.com", "corp.example.net", "ops.example.org")
REGIONS = (
    "us-east-1 us-east-2 us-west-1 us-west-2 eu-west-1 eu-west-2 "
    "eu-central-1 ap-southeast-1 ap-southeast-2 ap-northeast-1 sa-east-1 "
    "ca-central-1"
).split()
SENTENCES = (
    "Hosts the production workloads of the team.",
    "Access is federated through the corporate identity provider.",
    "Root credentials are split between two custodians (CSPF 4.3).",
    "Static keys are rotated every 180 days by the rotation job.",
    "Holds customer data; classified after the last review.",
    "Experimental services only; no customer data is allowed here.",
    "Logs are shipped to the central audit account.",
    "Network access is limited to the corporate VPN ranges.",
)
INVALID_KINDS = ("bad-email", "extra-property", "enum-miss",
                 "missing-required", "bad-pattern")


def person(rng):
    return "%s.%s@%s" % (rng.choice(FIRST), rng.choice(LAST),
                         rng.choice(DOMAINS))


def timestamp(rng, year_lo, year_hi):
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (
        rng.randint(year_lo, year_hi), rng.randint(1, 12),
        rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
        rng.randint(0, 59))


def credential(rng, team, name, i):
    kind = rng.choice(("access_key", "password", "api_token", "ssh_key"))
    c = {
        "username": "%s-%s-%d" % (team, kind.replace("_", "-"), i),
        "kind": kind,
        "scope": rng.choice(("root", "partial", "prod", "test", "readonly")),
        "custodians": [],
        "credential_generated": timestamp(rng, 2023, 2024),
        "credential_expires": timestamp(rng, 2025, 2026),
        "rotation_days": rng.choice((30, 90, 180, 365)),
        "vault": "https://vault.example.net/v1/kv/data/%s/%s/%d" % (
            team, name, i),
    }
    n = rng.randint(1, 3)
    while len(c["custodians"]) < n:
        p = person(rng)
        if p not in c["custodians"]:
            c["custodians"].append(p)
    return c


def document(rng, idx):
    team = "%s-%s" % (rng.choice(WORDS), rng.choice(("ops", "eng", "sre",
                                                     "platform", "core")))
    name = "%s-%s-%d" % (team, rng.choice(("prod", "staging", "dev",
                                           "sandbox")), idx)
    provider = rng.choice(("aws", "aws", "aws", "azure", "gcp"))
    doc = {
        "accountid": "%012d" % rng.randrange(10 ** 12),
        "name": name,
        "provider": provider,
        "description": " ".join(rng.sample(SENTENCES, rng.randint(1, 3))),
        "contact": "%s@%s" % (team, rng.choice(DOMAINS)),
        "team": team,
        "escalation": "https://%s.pagerduty.example.com/escalation_policies"
                      "#P%06d" % (rng.choice(WORDS), rng.randrange(10 ** 6)),
        "security": rng.choice(("red", "blue", "green")),
        "owner": {
            "team": team,
            "contact": person(rng),
            "manager": person(rng),
            "slack": "#%s" % team,
        },
        "created": timestamp(rng, 2015, 2024),
        "environment": rng.choice(("prod", "staging", "dev", "sandbox")),
        "regions": rng.sample(REGIONS, rng.randint(1, 4)),
        "tags": {
            "cost-center": "cc-%04d" % rng.randrange(10000),
            "data.classification": rng.choice(("public", "internal",
                                               "confidential")),
            "managed_by": rng.choice(("terraform", "pulumi", "console")),
        },
        "monthly_budget_usd": rng.randrange(100, 250000),
        "credentials": [credential(rng, team, name, i)
                        for i in range(rng.randint(1, 3))],
    }
    return doc


def spoil(rng, doc, kind):
    """Make doc invalid in one way; return a line describing how."""
    cred = rng.choice(doc["credentials"])
    if kind == "bad-email":
        if rng.random() < 0.5:
            doc["contact"] = doc["contact"].replace("@", " at ")
            return "/contact is not an email"
        cred["custodians"][0] = cred["custodians"][0].replace("@", ".")
        return "a custodian is not an email"
    if kind == "extra-property":
        r = rng.randrange(3)
        if r == 0:
            doc["owner_email"] = doc["owner"]["contact"]
            return "/owner_email is not allowed"
        if r == 1:
            doc["owner"]["phone"] = "+1 555 0100"
            return "/owner/phone is not allowed"
        cred["expires"] = cred["credential_expires"]
        return "a credential's expires is not allowed"
    if kind == "enum-miss":
        r = rng.randrange(3)
        if r == 0:
            doc["security"] = rng.choice(("yellow", "Green", "amber"))
            return "/security is not red, blue or green"
        if r == 1:
            cred["scope"] = rng.choice(("admin", "Prod", "full"))
            return "a credential's scope is not in the enum"
        doc["provider"] = "aws-gov"
        return "/provider is not in the enum"
    if kind == "missing-required":
        r = rng.randrange(3)
        if r == 0:
            del doc["team"]
            return "/team is missing"
        if r == 1:
            del doc["owner"]["contact"]
            return "/owner/contact is missing"
        del cred["credential_expires"]
        return "a credential's credential_expires is missing"
    if kind == "bad-pattern":
        a = doc["accountid"]
        doc["accountid"] = "%s-%s-%s" % (a[:4], a[4:8], a[8:])
        return "/accountid is not 12 digits"
    raise ValueError(kind)


def dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv):
    if len(argv) < 2 or not argv[1].isdigit() or int(argv[1]) < 1:
        sys.stderr.write("usage: gen.py N [OUTDIR]\n")
        return 2
    n = int(argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = argv[2] if len(argv) > 2 else os.path.join(here, "out")
    os.makedirs(outdir, exist_ok=True)
    write_if_changed(os.path.join(outdir, "schema.json"), dump(SCHEMA))

    with open(os.path.abspath(__file__), "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest() + " %d\n" % n
    docdir = os.path.join(outdir, "docs-%d" % n)
    stampfile = os.path.join(docdir, ".stamp")
    try:
        with open(stampfile) as f:
            if f.read() == stamp:
                print("gen: %s is up to date" % docdir)
                return 0
    except FileNotFoundError:
        pass
    if os.path.exists(docdir):
        shutil.rmtree(docdir)
    os.makedirs(docdir)

    rng = random.Random(20201202)
    expected = []
    total = 0
    for idx in range(n):
        sub = os.path.join(docdir, "%03d" % (idx // FILES_PER_DIR))
        if idx % FILES_PER_DIR == 0:
            os.makedirs(sub)
        doc = document(rng, idx)
        rel = "%03d/%06d.json" % (idx // FILES_PER_DIR, idx)
        if idx % INVALID_EVERY == INVALID_OFFSET:
            kind = INVALID_KINDS[(idx // INVALID_EVERY) % len(INVALID_KINDS)]
            expected.append("%s\t%s\t%s" % (rel, kind, spoil(rng, doc, kind)))
        text = dump(doc)
        total += len(text.encode("utf-8"))
        with open(os.path.join(docdir, rel), "w", encoding="utf-8") as f:
            f.write(text)

    with open(os.path.join(outdir, "docs-%d.expected" % n), "w") as f:
        f.write("# %d invalid of %d documents: file, kind, what\n"
                % (len(expected), n))
        f.write("".join(line + "\n" for line in expected))
    with open(stampfile, "w") as f:
        f.write(stamp)
    print("gen: wrote %d documents (%d invalid, %.0f bytes on average, "
          "%.1f MiB) to %s" % (n, len(expected), total / n,
                               total / 1048576.0, docdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
