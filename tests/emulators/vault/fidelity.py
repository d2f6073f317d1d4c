#!/usr/bin/python3
"""The Vault emulator against hvac, the official-style Python client from
Debian (python3-hvac): what a Vault KV v2 user does, with the answers and
errors a real server gives.

Environment: VEMU_ADDR (http://127.0.0.1:PORT), VEMU_TOKEN (root token),
VEMU_ROLE_ID and VEMU_SECRET_ID (an AppRole), VEMU_COUNTS (a file that gets
"PASSED FAILED").  Prints one line per failed check.
"""

import json
import os
import sys
import urllib.request

import hvac
import hvac.exceptions as hx

ADDR = os.environ["VEMU_ADDR"]
TOKEN = os.environ["VEMU_TOKEN"]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail))


def raises(name, exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc as e:
        check(name, True)
        return e
    except Exception as e:  # noqa: BLE001 - any other is a failure
        check(name, False, "raised %r" % e)
        return None
    check(name, False, "did not raise")
    return None


def faults(f):
    req = urllib.request.Request(ADDR + "/_emulator/faults", data=json.dumps(f).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req).read()


c = hvac.Client(url=ADDR, token=TOKEN)
kv = c.secrets.kv.v2

check("is_authenticated (lookup-self)", c.is_authenticated())
check("sys/health: initialized, unsealed", c.sys.read_health_status(method="GET")["sealed"] is False)

# Versions and check-and-set.
r = kv.create_or_update_secret("fid/app/db", {"value": "v1", "user": "app"}, cas=0)
check("create with cas=0 is version 1", r["data"]["version"] == 1, r)
e = raises("cas=0 on an existing key raises InvalidRequest", hx.InvalidRequest,
           kv.create_or_update_secret, "fid/app/db", {"value": "x"}, cas=0)
check("cas mismatch message is Vault's",
      e is not None and "check-and-set parameter did not match the current version" in str(e), e)
r = kv.create_or_update_secret("fid/app/db", {"value": "v2"}, cas=1)
check("update with cas=1 is version 2", r["data"]["version"] == 2, r)
raises("a stale cas raises", hx.InvalidRequest, kv.create_or_update_secret,
       "fid/app/db", {"value": "v3"}, cas=1)
r = kv.create_or_update_secret("fid/app/db", {"value": "v3"})
check("update without cas is version 3", r["data"]["version"] == 3, r)
r = kv.read_secret_version("fid/app/db")
check("read latest", r["data"]["data"] == {"value": "v3"} and r["data"]["metadata"]["version"] == 3, r)
check("read has created_time and empty deletion_time",
      r["data"]["metadata"]["created_time"].endswith("Z") and r["data"]["metadata"]["deletion_time"] == "")
r = kv.read_secret_version("fid/app/db", version=1)
check("read version 1", r["data"]["data"] == {"value": "v1", "user": "app"}, r)
raises("read of a version that never was: InvalidPath (404)", hx.InvalidPath,
       kv.read_secret_version, "fid/app/db", version=9)
raises("read of a missing key: InvalidPath (404)", hx.InvalidPath,
       kv.read_secret_version, "fid/nothing")
r = kv.patch("fid/app/db", {"extra": "1"})
check("patch (read + cas write) is version 4", r["data"]["version"] == 4, r)
check("patch merged", kv.read_secret_version("fid/app/db")["data"]["data"] == {"value": "v3", "extra": "1"})

# Metadata and custom_metadata.
c.adapter.post("/v1/secret/metadata/fid/app/db",
               json={"custom_metadata": {"owner": "payments", "cspf_rotation_id": "r-1"}})
m = kv.read_secret_metadata("fid/app/db")["data"]
check("metadata current_version", m["current_version"] == 4, m)
check("metadata custom_metadata", m["custom_metadata"] == {"owner": "payments", "cspf_rotation_id": "r-1"}, m)
check("metadata versions map", sorted(m["versions"]) == ["1", "2", "3", "4"], m)
r = c.adapter.request("patch", "/v1/secret/metadata/fid/app/db",
                      json={"custom_metadata": {"owner": None, "team": "core"}},
                      headers={"Content-Type": "application/merge-patch+json"})
m = kv.read_secret_metadata("fid/app/db")["data"]
check("metadata PATCH merges (null removes)", m["custom_metadata"] == {"cspf_rotation_id": "r-1", "team": "core"}, m)
raises("custom_metadata value over 512 characters: InvalidRequest", hx.InvalidRequest,
       c.adapter.post, "/v1/secret/metadata/fid/app/db", json={"custom_metadata": {"k": "x" * 513}})
kv.update_metadata("fid/app/db", max_versions=2)
kv.create_or_update_secret("fid/app/db", {"value": "v5"})
m = kv.read_secret_metadata("fid/app/db")["data"]
check("max_versions=2 keeps the last two", sorted(m["versions"]) == ["4", "5"] and m["oldest_version"] == 4, m)
kv.update_metadata("fid/app/db", cas_required=True)
e = raises("cas_required: a write without cas raises", hx.InvalidRequest,
           kv.create_or_update_secret, "fid/app/db", {"value": "v6"})
check("cas required message", e is not None and "check-and-set parameter required" in str(e), e)

# List (the LIST method, and GET ?list=true as strict_http sends it).
kv.create_or_update_secret("fid/app/cache", {"value": "c"})
kv.create_or_update_secret("fid/other/x", {"value": "x"})
r = kv.list_secrets("fid/app")
check("LIST fid/app", r["data"]["keys"] == ["cache", "db"], r)
r = kv.list_secrets("fid")
check("LIST fid shows folders", r["data"]["keys"] == ["app/", "other/"], r)
strict = hvac.Client(url=ADDR, token=TOKEN, strict_http=True)
r = strict.secrets.kv.v2.list_secrets("fid/app")
check("GET ?list=true", r["data"]["keys"] == ["cache", "db"], r)
raises("LIST of nothing: InvalidPath", hx.InvalidPath, kv.list_secrets, "fid/none")

# Delete, undelete, destroy, delete all.
kv.delete_latest_version_of_secret("fid/app/cache")
e = raises("read of a deleted version: InvalidPath", hx.InvalidPath, kv.read_secret_version, "fid/app/cache")
kv.undelete_secret_versions("fid/app/cache", versions=[1])
check("undelete", kv.read_secret_version("fid/app/cache")["data"]["data"] == {"value": "c"})
kv.destroy_secret_versions("fid/app/cache", versions=[1])
raises("read of a destroyed version: InvalidPath", hx.InvalidPath, kv.read_secret_version, "fid/app/cache")
m = kv.read_secret_metadata("fid/app/cache")["data"]
check("metadata says destroyed", m["versions"]["1"]["destroyed"] is True, m)
kv.delete_metadata_and_all_versions("fid/app/cache")
raises("metadata gone after delete", hx.InvalidPath, kv.read_secret_metadata, "fid/app/cache")

# Auth.
bad = hvac.Client(url=ADDR, token="not-a-token")
check("a bad token is not authenticated", not bad.is_authenticated())
e = raises("a bad token: Forbidden (403)", hx.Forbidden, bad.secrets.kv.v2.read_secret_version, "fid/app/db")
check("403 says permission denied", e is not None and "permission denied" in str(e), e)
ar = hvac.Client(url=ADDR)
r = ar.auth.approle.login(os.environ["VEMU_ROLE_ID"], os.environ["VEMU_SECRET_ID"])
check("approle login gives a client_token", r["auth"]["client_token"].startswith("hvs.") and r["auth"]["lease_duration"] > 0, r)
check("approle token works", ar.secrets.kv.v2.read_secret_version("fid/app/db")["data"]["metadata"]["version"] == 5)
raises("approle login with a wrong secret id: InvalidRequest (400)", hx.InvalidRequest,
       hvac.Client(url=ADDR).auth.approle.login, os.environ["VEMU_ROLE_ID"], "wrong")

# Namespaces are apart.
ns = hvac.Client(url=ADDR, token=TOKEN, namespace="team-a")
ns.secrets.kv.v2.create_or_update_secret("fid/app/db", {"value": "in-ns"})
check("namespace sees its own version 1",
      ns.secrets.kv.v2.read_secret_version("fid/app/db")["data"]["metadata"]["version"] == 1)
check("root namespace unchanged", kv.read_secret_version("fid/app/db")["data"]["metadata"]["version"] == 5)

# Faults.
faults({"fail_at": [1], "fail_status": 503})
raises("fail_at 503: VaultDown", hx.VaultDown, kv.read_secret_version, "fid/app/db")
check("then it answers", kv.read_secret_version("fid/app/db")["data"]["metadata"]["version"] == 5)
faults({"fail_at": [1], "fail_status": 500})
raises("fail_at 500: InternalServerError", hx.InternalServerError, kv.read_secret_version, "fid/app/db")
faults({"throttle_at": [1]})
raises("throttle: RateLimitExceeded (429)", hx.RateLimitExceeded, kv.read_secret_version, "fid/app/db")
faults({})

with open(os.environ["VEMU_COUNTS"], "w") as f:
    f.write("%d %d\n" % (passed, failed))
sys.exit(1 if failed else 0)
