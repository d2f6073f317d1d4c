#!/usr/bin/python3
"""Writes a large, deterministic state file for the Azure emulator, for
benchmarks: the same arguments always give the same bytes.

  gen_state.py --subscriptions N --resources M --seed S
               [--secrets K] [--applications A] [--tagged PCT] [--out FILE]

N subscriptions of M resources each (mixed types and locations; PCT per
cent of them carry a cspf-id tag, the rest are unregistered drift), one
key vault "bench-kv" with K secrets of 1-3 versions, and A applications
with 1-2 client secrets each.  The client that signs in is
client_id 00000000-0000-4000-8000-00000000c5f0, secret "bench-client-secret".
Standard library only.
"""

import argparse
import json
import random
import sys
import uuid

TENANT = "c0ffee00-1234-4abc-9def-0123456789ab"
T0 = 1790000000  # 2026-09-21: a fixed "now" so output never depends on the clock

TYPES = [
    ("Microsoft.Storage/storageAccounts", "st", "assets/bucket"),
    ("Microsoft.Compute/virtualMachines", "vm", "assets/server"),
    ("Microsoft.Sql/servers", "sql", "assets/database"),
    ("Microsoft.Network/networkSecurityGroups", "nsg", "assets/firewall-rule"),
    ("Microsoft.KeyVault/vaults", "kv", "assets/vault"),
    ("Microsoft.Web/sites", "app", "assets/service"),
    ("Microsoft.Compute/images", "img", "assets/machine-image"),
    ("Microsoft.Network/publicIPAddresses", "pip", "assets/network"),
]
LOCATIONS = ["westeurope", "northeurope", "eastus", "uksouth", "swedencentral"]
CLASSES = ["blue", "green", "yellow", "red"]


def guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def iso(ts):
    import datetime
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_text(rng, n=40):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    head = "".join(rng.choice(alphabet) for _ in range(3))
    return head + "8Q~" + "".join(rng.choice(alphabet) for _ in range(n - 6))


def generate(n_subs, n_res, seed, n_secrets, n_apps, tagged):
    rng = random.Random(seed)
    subs = {}
    for s in range(n_subs):
        sid = guid(rng)
        resources = []
        for r in range(n_res):
            rtype, short, kind = TYPES[rng.randrange(len(TYPES))]
            rg = "rg-%02d" % rng.randrange(20)
            name = "%s-%d-%06d" % (short, s, r)
            tags = {"classification": rng.choice(CLASSES)}
            if rng.randrange(100) < tagged:
                tags["cspf-id"] = "%s/%s" % (kind, name)
            resources.append({
                "id": "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (sid, rg, rtype, name),
                "name": name,
                "type": rtype.lower(),
                "location": rng.choice(LOCATIONS),
                "resourceGroup": rg,
                "tags": tags,
                "properties": {"provisioningState": "Succeeded"},
            })
        subs[sid] = {"display_name": "bench-%03d" % s, "resources": resources}

    secrets = []
    for k in range(n_secrets):
        versions = []
        created = T0 - rng.randrange(400) * 86400
        for v in range(1 + rng.randrange(3)):
            versions.append({
                "version": uuid.UUID(int=rng.getrandbits(128)).hex,
                "value": "bench-secret-%d-%d-%08x" % (k, v, rng.getrandbits(32)),
                "enabled": True,
                "exp": created + (30 + rng.randrange(365)) * 86400,
                "nbf": None,
                "created": created,
                "updated": created,
                "content_type": "text/plain",
                "tags": {"cspf-id": "credentials/azure/bench#user-%d" % k},
            })
            created += (10 + rng.randrange(90)) * 86400
        secrets.append({"name": "bench-secret-%05d" % k, "versions": versions})

    apps = []
    for a in range(n_apps):
        creds = []
        for c in range(1 + rng.randrange(2)):
            text = secret_text(rng)
            start = T0 - rng.randrange(300) * 86400
            creds.append({"keyId": guid(rng), "displayName": "secret %d" % c, "hint": text[:3],
                          "startDateTime": iso(start),
                          "endDateTime": iso(start + (90 + rng.randrange(600)) * 86400),
                          "secretText": text})
        apps.append({"id": guid(rng), "appId": guid(rng), "displayName": "bench-app-%05d" % a,
                     "createdDateTime": iso(T0 - rng.randrange(900) * 86400),
                     "passwordCredentials": creds})

    return {
        "tenant_id": TENANT,
        "clients": [{"client_id": "00000000-0000-4000-8000-00000000c5f0",
                     "client_secret": "bench-client-secret"}],
        "subscriptions": subs,
        "default_vault": "bench-kv",
        "key_vaults": {"bench-kv": {"secrets": secrets}},
        "applications": apps,
        "faults": {},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscriptions", type=int, required=True)
    ap.add_argument("--resources", type=int, required=True, help="per subscription")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--secrets", type=int, default=50)
    ap.add_argument("--applications", type=int, default=20)
    ap.add_argument("--tagged", type=int, default=90, help="per cent of resources with a cspf-id tag")
    ap.add_argument("--out", help="file to write (default: standard output)")
    a = ap.parse_args(argv)
    for name in ("subscriptions", "resources", "secrets", "applications"):
        if getattr(a, name) < 0:
            ap.error("--%s must be 0 or more" % name)
    doc = generate(a.subscriptions, a.resources, a.seed, a.secrets, a.applications, a.tagged)
    text = json.dumps(doc, indent=1, sort_keys=False) + "\n"
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
