#!/usr/bin/python3
"""A cloud estate made from a registry, with drift planted on purpose.

    world.py REGISTRY --now 2026-11-23T09:00:00Z
        [--plant NAME]...            drift to plant (see PLANTS)
        [--aws-state FILE]           the AWS emulator's state
        [--azure-state FILE]         the Azure emulator's state
        [--snapshot FILE]            the snapshot cspf inventory should make
        [--registry-out DIR]         the registry, edited where a plant needs it
        [--principal-key ID --principal-secret S]   cspf's own AWS key
        [--azure-client-id ID --azure-client-secret S]

Everything the registry documents exists and is in order (keys created
when credential_generated says, used yesterday, MFA on, one good trail per
account...), so a run of cspf drift on it finds nothing; each plant adds
exactly one finding, named in PLANTS.  The tests seed the emulators with
the states, run cspf inventory and cspf drift, and compare.
"""
import argparse
import copy
import datetime as dt
import hashlib
import json
import os
import shutil
import sys

# plant -> (the rules it trips, space-separated; what it does)
PLANTS = {
    "undocumented-user": ("drift/undocumented",
                          "an IAM user 'mallory' in payments-prod"),
    "deleted-bucket": ("drift/stale",
                       "bucket example-build-artifacts gone"),
    "rotated-key": ("drift/mismatch",
                    "svc-payments-api's key replaced outside cspf"),
    "old-key": ("CSPF-4.5",
                "svc-backup-copier's key (and registry) 200 days old"),
    "no-mfa": ("CSPF-4.6", "svc-ci-deploy has a console password, no MFA"),
    "root-key": ("CSPF-4.4", "the security sandbox's root has a key"),
    "unused-role": ("CSPF-7.6", "payments-api-runtime unused for 120 days"),
    "bad-trail": ("CSPF-5.1",
                  "platform-shared's trail without log file validation"),
    "bucket-no-versioning": ("drift/mismatch CSPF-11.2",
                             "payments-receipts versioning suspended"),
    "undocumented-secret": ("drift/undocumented",
                            "a Key Vault secret no credential names"),
    "app-secret-expiry": ("drift/mismatch",
                          "analytics-ingest's secret ends a month early"),
}


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)


def fake_id(prefix, seed, n=16):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    h = hashlib.sha256(seed.encode()).digest()
    return prefix + "".join(alphabet[b % 32] for b in h[:n])


def fake_secret(seed):
    return hashlib.sha256(("secret:" + seed).encode()).hexdigest()[:40]


def load(reg):
    out = {}
    for root, _, files in os.walk(reg):
        for f in files:
            if not f.endswith(".json") or f == "cspf.json":
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, reg)[:-5]
            with open(path) as fh:
                out[rel] = json.load(fh)
    with open(os.path.join(reg, "cspf.json")) as fh:
        config = json.load(fh)
    return out, config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("registry")
    ap.add_argument("--now", required=True)
    ap.add_argument("--plant", action="append", default=[])
    ap.add_argument("--aws-state")
    ap.add_argument("--azure-state")
    ap.add_argument("--snapshot")
    ap.add_argument("--registry-out")
    ap.add_argument("--principal-key", default="AKIACSPFINVENTORY001")
    ap.add_argument("--principal-secret",
                    default="cspf-emulator-principal-secret-0000000001")
    ap.add_argument("--principal-account", default="000000000001")
    ap.add_argument("--azure-client-id",
                    default="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
    ap.add_argument("--azure-client-secret",
                    default="cspf-emulator-azure-client-secret")
    ap.add_argument("--list-plants", action="store_true",
                    help="print each plant and the rules it trips")
    a = ap.parse_args()
    if a.list_plants:
        for name, (rules, _) in PLANTS.items():
            print(name, rules)
        return
    for p in a.plant:
        if p not in PLANTS:
            sys.exit("unknown plant %r; known: %s" % (p, ", ".join(PLANTS)))
    now = parse(a.now)
    yesterday = now - dt.timedelta(days=1)
    ents, config = load(a.registry)
    plants = set(a.plant)

    # Edits of the registry some plants need.
    edits = {}
    if "old-key" in plants:
        f = "credentials/aws/platform-shared"
        doc = copy.deepcopy(ents[f])
        for c in doc["credentials"]:
            if c["username"] == "svc-backup-copier":
                c["credential_generated"] = ts(now - dt.timedelta(days=200))
                c["credential_expires"] = ts(now + dt.timedelta(days=10))
                c["rotation"]["max_age"] = "P180D"
        edits[f] = doc
    ents.update(edits)

    inv_role = config.get("providers", {}).get("aws", {}).get(
        "inventory_role", "cspf-inventory")
    regions = config.get("providers", {}).get("aws", {}).get(
        "regions", ["us-east-1"])
    accounts = {k: v for k, v in ents.items() if k.startswith("accounts/")}
    creds = []
    for k, v in ents.items():
        if k.startswith("credentials/"):
            for c in v.get("credentials", []):
                creds.append((k + "#" + c["username"], c))
    assets = {k: v for k, v in ents.items() if k.startswith("assets/")}

    aws_state = {"principals": [{
        "access_key_id": a.principal_key,
        "secret_access_key": a.principal_secret,
        "account": a.principal_account,
        "arn": "arn:aws:iam::%s:user/cspf" % a.principal_account}],
        "web_identity_tokens": [], "accounts": {}, "faults": {}}
    snap = {"cspf_snapshot": 1, "generated": ts(now), "accounts": [],
            "directories": []}
    azure_state = {"tenant_id": config.get("providers", {}).get(
        "azure", {}).get("tenant_id", ""),
        "clients": [{"client_id": a.azure_client_id,
                     "client_secret": a.azure_client_secret}],
        "subscriptions": {}, "key_vaults": {}, "applications": [],
        "faults": {}}

    for aid_path, acct in sorted(accounts.items()):
        provider = acct.get("provider") or aid_path.split("/")[1]
        if provider != "aws":
            continue
        aid = acct["accountid"]
        st = {"alias": aid_path.split("/")[-1],
              "root": {"access_keys": [], "mfa_enabled": True},
              "users": [], "roles": [], "buckets": [], "trails": []}
        sn = {"provider": "aws", "id": aid, "registry_id": aid_path,
              "source": "api", "status": "ok",
              "root": {"access_keys": 0, "mfa": True},
              "users": [], "roles": [], "buckets": [], "trails": []}
        if "root-key" in plants and aid_path.endswith("security-sandbox"):
            st["root"]["access_keys"].append({
                "id": fake_id("AKIA", "root" + aid), "status": "Active",
                "created": ts(now - dt.timedelta(days=30))})
            sn["root"]["access_keys"] = 1
        users = {}
        for cid, c in creds:
            if c.get("account") != aid_path:
                continue
            ident = c.get("identity") or {}
            if ident.get("type") != "aws-iam-user":
                continue
            name = ident.get("user") or c["username"]
            created = parse(c["credential_generated"])
            key = {"id": ident.get("access_key_id") or fake_id(
                "AKIA", cid), "secret": fake_secret(cid),
                "status": "Active", "created": ts(created),
                "last_used": {"date": ts(yesterday), "service": "s3",
                              "region": regions[0]}}
            if "rotated-key" in plants and name == "svc-payments-api":
                key["id"] = fake_id("AKIA", "rotated" + cid)
                key["created"] = ts(now - dt.timedelta(days=3))
            u = users.setdefault(name, {
                "name": name, "id": fake_id("AIDA", aid + name),
                "created": ts(created - dt.timedelta(days=1)), "path": "/",
                "password": None, "mfa_devices": [], "access_keys": []})
            u["access_keys"].append(key)
            if "no-mfa" in plants and name == "svc-ci-deploy":
                u["password"] = {"created": ts(created),
                                 "last_used": ts(yesterday)}
        if "undocumented-user" in plants and aid_path.endswith(
                "payments-prod"):
            users["mallory"] = {
                "name": "mallory", "id": fake_id("AIDA", "mallory"),
                "created": ts(now - dt.timedelta(days=2)), "path": "/",
                "password": None, "mfa_devices": [],
                "access_keys": [{"id": fake_id("AKIA", "mallory"),
                                 "secret": fake_secret("mallory"),
                                 "status": "Active",
                                 "created": ts(now - dt.timedelta(days=2)),
                                 "last_used": {"date": ts(yesterday),
                                               "service": "iam",
                                               "region": regions[0]}}]}
        for name in sorted(users):
            u = users[name]
            st["users"].append(u)
            su = {"name": name, "arn": "arn:aws:iam::%s:user/%s" % (
                aid, name), "created": u["created"],
                "password": u["password"] is not None,
                "mfa": len(u["mfa_devices"]), "access_keys": []}
            if u["password"]:
                su["password_last_used"] = u["password"]["last_used"]
            for k in u["access_keys"]:
                su["access_keys"].append({
                    "id": k["id"], "status": k["status"],
                    "created": k["created"],
                    "last_used": k["last_used"]["date"],
                    "last_used_service": k["last_used"]["service"],
                    "last_used_region": k["last_used"]["region"]})
            sn["users"].append(su)
        roles = [{"name": inv_role, "created": ts(now - dt.timedelta(
            days=400)), "path": "/", "last_used": {
                "date": ts(yesterday), "region": regions[0]}}]
        for k, v in assets.items():
            if not k.startswith("assets/iam-role/"):
                continue
            arn = v.get("role", "")
            if (":%s:role/" % aid) not in arn:
                continue
            rn = arn.rsplit("/", 1)[1]
            used = yesterday
            if "unused-role" in plants and rn == "payments-api-runtime":
                used = now - dt.timedelta(days=120)
            role = {"name": rn, "created": ts(now - dt.timedelta(
                days=365)), "path": "/", "last_used": {
                    "date": ts(used), "region": regions[0]}}
            # Its members may assume it: IAM users named as their
            # e-mail's local part (what cspf digest maps back).
            trusted = ["arn:aws:iam::%s:user/%s" % (aid, m.split("@")[0])
                       for m in v.get("members", [])]
            if trusted:
                role["assume_role_policy"] = {
                    "Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": trusted}}]}
            roles.append(role)
        for r in sorted(roles, key=lambda r: r["name"]):
            st["roles"].append(r)
            snr = {
                "name": r["name"],
                "arn": "arn:aws:iam::%s:role/%s" % (aid, r["name"]),
                "path": r["path"], "created": r["created"],
                "last_used": r["last_used"]["date"]}
            if "assume_role_policy" in r:
                snr["trusted"] = r["assume_role_policy"]["Statement"][0][
                    "Principal"]["AWS"]
            sn["roles"].append(snr)
        for k, v in sorted(assets.items()):
            if not k.startswith("assets/bucket/") or \
                    v.get("account") != aid_path:
                continue
            name = v.get("bucket") or v["name"]
            if "deleted-bucket" in plants and \
                    name == "example-build-artifacts":
                continue
            versioning = "Enabled" if v.get("versioning") else None
            if "bucket-no-versioning" in plants and \
                    name == "example-payments-receipts-prod":
                versioning = "Suspended"
            logging = bool(v.get("logging"))
            st["buckets"].append({
                "name": name, "created": ts(now - dt.timedelta(days=300)),
                "region": v.get("region", regions[0]),
                "versioning": versioning,
                "logging": {"target_bucket": "example-access-logs",
                            "prefix": name + "/"} if logging else None})
            sn["buckets"].append({
                "name": name, "region": v.get("region", regions[0]),
                "created": ts(now - dt.timedelta(days=300)),
                "versioning": versioning or "Disabled",
                "logging": logging})
        sn["buckets"].sort(key=lambda b: b["name"])
        st["buckets"].sort(key=lambda b: b["name"])
        trail = {"name": "org-trail", "home_region": regions[0],
                 "multi_region": True, "log_file_validation": True,
                 "s3_bucket": "example-cloudtrail-archive",
                 "is_logging": True}
        if "bad-trail" in plants and aid_path.endswith("platform-shared"):
            trail["log_file_validation"] = False
        st["trails"].append(trail)
        sn["trails"].append({
            "name": trail["name"],
            "arn": "arn:aws:cloudtrail:%s:%s:trail/%s" % (
                regions[0], aid, trail["name"]),
            "home_region": trail["home_region"],
            "multi_region": trail["multi_region"],
            "log_file_validation": trail["log_file_validation"],
            "logging": True, "bucket": trail["s3_bucket"]})
        aws_state["accounts"][aid] = st
        snap["accounts"].append(sn)

    # Azure: subscriptions with the registry's assets as resources, the
    # vaults' secrets, and the applications of azure-app credentials.
    vaults = {n: v for n, v in config.get("vaults", {}).items()
              if v.get("type") == "azure-key-vault"}
    for aid_path, acct in sorted(accounts.items()):
        provider = acct.get("provider") or aid_path.split("/")[1]
        if provider != "azure":
            continue
        sub = acct["accountid"]
        resources = []
        for k, v in sorted(assets.items()):
            if v.get("account") != aid_path:
                continue
            kind = k.split("/")[1]
            if kind == "bucket":
                name = (v.get("bucket") or v["name"]).split("/")[0]
                rtype = "microsoft.storage/storageaccounts"
                prov = "Microsoft.Storage/storageAccounts"
            elif kind == "database":
                name = v["name"]
                rtype = "microsoft.sql/servers"
                prov = "Microsoft.Sql/servers"
            else:
                continue
            resources.append({
                "id": "/subscriptions/%s/resourceGroups/%s/providers/%s/%s"
                      % (sub, "rg-" + acct["name"], prov, name),
                "name": name, "type": rtype, "location": "westeurope",
                "resourceGroup": "rg-" + acct["name"],
                "tags": {"cspf-id": k, "classification": v["security"]}})
        azure_state["subscriptions"][sub] = {
            "display_name": acct["name"], "resources": resources}
        secrets = []
        for vname, vconf in sorted(vaults.items()):
            url = vconf["vault_url"].rstrip("/") + "/"
            # The Key Vault's own name: its host's first label.
            kvname = url.split("://", 1)[1].split(".", 1)[0].split("/")[0]
            if "/kv/" in url:
                kvname = url.rstrip("/").rsplit("/", 1)[1]
            kv = azure_state["key_vaults"].setdefault(
                kvname, {"secrets": []})
            for cid, c in creds:
                v = c.get("vault") or {}
                if v.get("vault") != vname:
                    continue
                exp = parse(c["credential_expires"])
                gen = parse(c["credential_generated"])
                kv["secrets"].append({"name": v["path"], "versions": [{
                    "version": hashlib.sha256(cid.encode()).hexdigest()[:32],
                    "value": fake_secret(cid), "enabled": True,
                    "exp": int(exp.timestamp()), "nbf": None,
                    "created": int(gen.timestamp()),
                    "updated": int(gen.timestamp()),
                    "content_type": None, "tags": {}}]})
                secrets.append({"vault": url, "name": v["path"],
                                "enabled": True, "created": ts(gen),
                                "updated": ts(gen), "expires": ts(exp),
                                "tags": {}})
            if "undocumented-secret" in plants:
                t = now - dt.timedelta(days=5)
                kv["secrets"].append({"name": "forgotten-api-token",
                                      "versions": [{
                    "version": "f" * 32, "value": fake_secret("forgotten"),
                    "enabled": True, "exp": None, "nbf": None,
                    "created": int(t.timestamp()),
                    "updated": int(t.timestamp()),
                    "content_type": None, "tags": {}}]})
                secrets.append({"vault": url, "name": "forgotten-api-token",
                                "enabled": True, "created": ts(t),
                                "updated": ts(t), "tags": {}})
        snap["accounts"].append({
            "provider": "azure", "id": sub, "registry_id": aid_path,
            "source": "api", "status": "ok",
            "resources": [{"id": r["id"], "name": r["name"],
                           "type": r["type"], "location": r["location"],
                           "resource_group": r["resourceGroup"],
                           "tags": r["tags"]} for r in resources],
            "secrets": sorted(secrets, key=lambda s: (s["vault"],
                                                      s["name"]))})
    tenant = azure_state["tenant_id"]
    apps = {}
    for cid, c in creds:
        ident = c.get("identity") or {}
        if ident.get("type") != "azure-app":
            continue
        app = apps.setdefault(ident["app_id"], {
            "id": hashlib.sha256(ident["app_id"].encode()).hexdigest()[:8]
                  + "-0000-4000-8000-" + "0" * 12,
            "appId": ident["app_id"],
            "displayName": ident.get("display_name", ident["app_id"]),
            "createdDateTime": ts(now - dt.timedelta(days=400)),
            "passwordCredentials": []})
        end = parse(c["credential_expires"])
        if "app-secret-expiry" in plants:
            end = end - dt.timedelta(days=30)
        app["passwordCredentials"].append({
            "keyId": ident.get("secret_id"),
            "displayName": c["username"], "hint": "xyz",
            "startDateTime": c["credential_generated"],
            "endDateTime": ts(end), "secretText": None})
    azure_state["applications"] = [apps[k] for k in sorted(apps)]
    if tenant:
        snap["directories"].append({
            "provider": "azure", "id": tenant, "status": "ok",
            "applications": [{
                "app_id": app["appId"], "object_id": app["id"],
                "name": app["displayName"],
                "secrets": [{"key_id": p["keyId"], "name": p["displayName"],
                             "start": p["startDateTime"],
                             "end": p["endDateTime"]}
                            for p in app["passwordCredentials"]]}
                for app in azure_state["applications"]]})

    def write(path, obj):
        with open(path, "w") as fh:
            json.dump(obj, fh, indent=2, sort_keys=False)
            fh.write("\n")

    if a.aws_state:
        write(a.aws_state, aws_state)
    if a.azure_state:
        write(a.azure_state, azure_state)
    if a.snapshot:
        write(a.snapshot, snap)
    if a.registry_out:
        if os.path.exists(a.registry_out):
            shutil.rmtree(a.registry_out)
        shutil.copytree(a.registry, a.registry_out)
        for rel, doc in edits.items():
            write(os.path.join(a.registry_out, rel + ".json"), doc)


if __name__ == "__main__":
    main()
