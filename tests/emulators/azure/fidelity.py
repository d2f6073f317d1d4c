#!/usr/bin/python3
"""Drives the Azure emulator with the official Azure SDK for Python (from
Debian: azure-identity, azure-mgmt-resourcegraph, azure-keyvault-secrets,
azure-core) and checks that each client works against it as it would
against Azure, the refusals included.

Environment:
  AZEMU_BASE    https://127.0.0.1:PORT of a running emulator
  AZEMU_STATE   the state file it was started with (example_state.json)
  AZEMU_COUNTS  optional file to write "PASSED FAILED" to
  REQUESTS_CA_BUNDLE  the CA of the emulator's certificate

Every connection to a host that is not loopback is refused by a guard
around socket.getaddrinfo, and counted: the run fails if any client tried
to reach a real host where that was not the point of the check.
Prints one line per check and "N passed, M failed"; exits 1 on a failure.
"""

import datetime
import json
import logging
import os
import socket
import ssl
import sys
import time
import traceback
import urllib.request

BASE = os.environ["AZEMU_BASE"].rstrip("/")
STATE = json.load(open(os.environ["AZEMU_STATE"], encoding="utf-8"))
TENANT = STATE["tenant_id"]
CLIENT = STATE["clients"][0]
SUB = next(iter(STATE["subscriptions"]))
VAULT = STATE["key_vaults"][STATE.get("default_vault") or next(iter(STATE["key_vaults"]))]
ARM = "https://management.azure.com/.default"
GRAPH = "https://graph.microsoft.com/.default"
KV = "https://vault.azure.net/.default"

for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(var, None)
os.environ.pop("AZURE_AUTHORITY_HOST", None)


# ---------------------------------------------------------------- guard

class Guard:
    LOOPBACK = ("127.0.0.1", "::1", "localhost")

    def __init__(self):
        self.blocked = []
        self.expected = False
        self.orig = socket.getaddrinfo
        socket.getaddrinfo = self.getaddrinfo

    def getaddrinfo(self, host, *args, **kwargs):
        h = host.decode() if isinstance(host, bytes) else str(host)
        if h not in self.LOOPBACK and not h.startswith("127."):
            self.blocked.append((h, self.expected))
            raise socket.gaierror(socket.EAI_NONAME, "fidelity guard: %s is not loopback" % h)
        return self.orig(host, *args, **kwargs)

    def unexpected(self):
        return sorted({h for h, exp in self.blocked if not exp})


GUARD = Guard()
# azure-identity logs each refused sign-in at WARNING; the checks say it.
logging.getLogger("azure.identity").setLevel(logging.ERROR)

# Imported after the guard so that nothing can slip past it.
from azure.core import PipelineClient  # noqa: E402
from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,  # noqa: E402
                                   ResourceExistsError, ResourceNotFoundError)
from azure.core.pipeline.policies import (BearerTokenCredentialPolicy, HeadersPolicy,  # noqa: E402
                                          RetryPolicy)
from azure.core.rest import HttpRequest  # noqa: E402
from azure.identity import ClientSecretCredential  # noqa: E402
from azure.keyvault.secrets import SecretClient  # noqa: E402
from azure.mgmt.resourcegraph import ResourceGraphClient  # noqa: E402
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions  # noqa: E402

# ---------------------------------------------------------------- helpers

PASSED = 0
FAILED = 0


class CheckFailed(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def check(name):
    def run(fn):
        global PASSED, FAILED
        t = time.time()
        try:
            fn()
        except CheckFailed as e:
            FAILED += 1
            print("FAIL - %s: %s" % (name, e))
        except Exception as e:
            FAILED += 1
            print("FAIL - %s: %s: %s" % (name, type(e).__name__, str(e)[:500]))
            traceback.print_exc(limit=4)
        else:
            PASSED += 1
            print("ok - %s (%.2fs)" % (name, time.time() - t))
        sys.stdout.flush()
        return fn
    return run


def raises(exc, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc as e:
        return e
    raise CheckFailed("expected %s, nothing raised" % exc.__name__)


_CTX = ssl.create_default_context(cafile=os.environ.get("REQUESTS_CA_BUNDLE"))


def control(method, path, doc=None):
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=_CTX, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None


def faults(doc):
    return control("POST", "/_emulator/faults", doc)


def stats():
    return control("GET", "/_emulator/stats")


def credential(client_id=None, secret=None, tenant=TENANT, **kwargs):
    kwargs.setdefault("authority", BASE)
    # MSAL 1.21 sends its instance discovery to login.microsoftonline.com
    # whatever the authority; azure-identity 1.13.0b2 turns it off with
    # instance_discovery=False (disable_instance_discovery=True in 1.13.0).
    kwargs.setdefault("instance_discovery", False)
    return ClientSecretCredential(tenant, client_id or CLIENT["client_id"],
                                  secret or CLIENT["client_secret"], **kwargs)


def raw_client():
    return PipelineClient(base_url=BASE, policies=[HeadersPolicy(), RetryPolicy(retry_total=0)])


def graph_client(cred):
    return PipelineClient(base_url=BASE, policies=[
        HeadersPolicy({"Accept": "application/json"}),
        RetryPolicy(),
        BearerTokenCredentialPolicy(cred, GRAPH),
    ])


def graph(client, method, url, body=None, params=None):
    req = HttpRequest(method, url if url.startswith("https://") else BASE + url,
                      json=body, params=params)
    return client.send_request(req)


def graph_all(client, url, params=None):
    """Lists a Graph collection, following @odata.nextLink; returns
    (items, pages)."""
    items, pages = [], 0
    r = graph(client, "GET", url, params=params)
    while True:
        expect(r.status_code == 200, "GET %s: %d %s" % (url, r.status_code, r.text()[:300]))
        doc = r.json()
        pages += 1
        items.extend(doc["value"])
        nxt = doc.get("@odata.nextLink")
        if not nxt:
            return items, pages
        expect(nxt.startswith(BASE + "/v1.0/applications"), "nextLink leaves the emulator: " + nxt)
        r = graph(client, "GET", nxt)


def rg_all(client, query, top=None, subscriptions=(SUB,), fmt=None):
    """Runs a Resource Graph query, following $skipToken; returns
    (rows, pages, first_response)."""
    rows, pages, first, tok = [], 0, None, None
    while True:
        opts = QueryRequestOptions(top=top, skip_token=tok, result_format=fmt)
        r = client.resources(QueryRequest(subscriptions=list(subscriptions), query=query, options=opts))
        first = first or r
        pages += 1
        rows.extend(r.data if fmt != "table" else r.data["rows"])
        tok = r.skip_token
        if not tok:
            return rows, pages, first
        expect(pages < 1000, "endless paging")


def epoch(dt):
    return int(dt.timestamp()) if dt else None


STATE_RESOURCES = STATE["subscriptions"][SUB]["resources"]
STATE_SECRETS = {s["name"]: s for s in VAULT["secrets"]}
INGEST = next(a for a in STATE["applications"] if a["displayName"] == "analytics-ingest")
LEGACY = next(a for a in STATE["applications"] if a["displayName"] == "legacy-reporting")
CRED = credential()

# ---------------------------------------------------------------- identity


@check("identity: ClientSecretCredential(authority=emulator) gets an ARM token")
def _():
    t = CRED.get_token(ARM)
    expect(len(t.token) > 20, "token too short")
    left = t.expires_on - time.time()
    expect(3500 < left < 3700, "expires_on %d s from now, expected ~3599" % left)
    s = stats()
    expect(s["routes"].get("openid", 0) >= 1, "no OIDC discovery seen: %s" % s["routes"])
    expect(s["routes"].get("token", 0) >= 1, "no token request seen")


@check("identity: AZURE_AUTHORITY_HOST is honoured")
def _():
    os.environ["AZURE_AUTHORITY_HOST"] = BASE
    try:
        c = ClientSecretCredential(TENANT, CLIENT["client_id"], CLIENT["client_secret"],
                                   instance_discovery=False)
        t = c.get_token(KV)
    finally:
        del os.environ["AZURE_AUTHORITY_HOST"]
    expect(t.token, "no token")


@check("identity: a cached token is reused, not fetched again")
def _():
    before = stats()["routes"].get("token", 0)
    for _ in range(5):
        CRED.get_token(ARM)
    expect(stats()["routes"].get("token", 0) == before, "token endpoint called again")


@check("identity: wrong client secret -> ClientAuthenticationError (AADSTS7000215)")
def _():
    e = raises(ClientAuthenticationError, credential(secret="not-the-secret").get_token, ARM)
    expect("AADSTS7000215" in str(e), str(e)[:200])


@check("identity: unknown client id -> ClientAuthenticationError (AADSTS700016)")
def _():
    e = raises(ClientAuthenticationError,
               credential(client_id="00000000-0000-4000-8000-000000000001").get_token, ARM)
    expect("AADSTS700016" in str(e), str(e)[:200])


@check("identity: unknown tenant -> ClientAuthenticationError")
def _():
    e = raises(ClientAuthenticationError,
               credential(tenant="00000000-0000-4000-8000-00000000dead").get_token, ARM)
    expect("AADSTS90002" in str(e) or "Unable to get authority configuration" in str(e), str(e)[:200])


@check("identity: expired application secret -> ClientAuthenticationError (AADSTS7000222)")
def _():
    p = LEGACY["passwordCredentials"][0]
    e = raises(ClientAuthenticationError, credential(LEGACY["appId"], p["secretText"]).get_token, GRAPH)
    expect("AADSTS7000222" in str(e), str(e)[:200])


@check("identity: with instance discovery on, MSAL reaches for login.microsoftonline.com (guard blocks it)")
def _():
    GUARD.expected = True
    try:
        c = ClientSecretCredential(TENANT, CLIENT["client_id"], CLIENT["client_secret"],
                                   authority=BASE, retry_total=0)
        raises(ClientAuthenticationError, c.get_token, ARM)
    finally:
        GUARD.expected = False
    hosts = {h for h, exp in GUARD.blocked if exp}
    expect("login.microsoftonline.com" in hosts, "blocked: %s" % hosts)


# ---------------------------------------------------------------- Resource Graph

RG = ResourceGraphClient(CRED, base_url=BASE)


@check("resource graph: 'Resources' pages through $skipToken ($top=2), rows as in the state")
def _():
    rows, pages, first = rg_all(RG, "Resources | project id, name, type, tags", top=2)
    want = [r["id"] for r in STATE_RESOURCES]
    expect([r["id"] for r in rows] == want, "ids %s != %s" % ([r["id"] for r in rows], want))
    expect(pages == (len(want) + 1) // 2, "pages %d" % pages)
    expect(first.total_records == len(want) and first.count == 2, "totalRecords %s count %s" % (first.total_records, first.count))
    expect(first.result_truncated == "false", "resultTruncated %r" % first.result_truncated)
    expect(rows[0]["tags"] == STATE_RESOURCES[0]["tags"], "tags differ")


@check("resource graph: where type =~ (any case) with project and tags")
def _():
    rows, _, _ = rg_all(RG, "Resources | where type =~ 'Microsoft.Storage/storageAccounts' | project id, name, location, cspf = tags['cspf-id']")
    want = [r for r in STATE_RESOURCES if r["type"] == "microsoft.storage/storageaccounts"]
    expect(len(rows) == len(want) == 1, "rows %s" % rows)
    expect(rows[0]["cspf"] == want[0]["tags"]["cspf-id"], "cspf %r" % rows[0].get("cspf"))
    expect(set(rows[0]) == {"id", "name", "location", "cspf"}, "columns %s" % set(rows[0]))


@check("resource graph: full rows carry subscriptionId, resourceGroup, tenantId, properties")
def _():
    rows, _, _ = rg_all(RG, "Resources | where name == 'scratch-vm'")
    expect(len(rows) == 1, "rows %d" % len(rows))
    r = rows[0]
    expect(r["subscriptionId"] == SUB and r["tenantId"] == TENANT and r["resourceGroup"] == "rg-scratch",
           "row %s" % {k: r.get(k) for k in ("subscriptionId", "tenantId", "resourceGroup")})
    expect(r["properties"]["hardwareProfile"]["vmSize"] == "Standard_B2s", "properties")


@check("resource graph: page_size fault forces one row per page")
def _():
    faults({"page_size": 1})
    try:
        rows, pages, _ = rg_all(RG, "Resources | project id")
    finally:
        faults({})
    expect(len(rows) == len(STATE_RESOURCES) and pages == len(STATE_RESOURCES), "rows %d pages %d" % (len(rows), pages))


@check("resource graph: no id column -> resultTruncated 'true' and no $skipToken")
def _():
    r = RG.resources(QueryRequest(subscriptions=[SUB], query="Resources | project name",
                                  options=QueryRequestOptions(top=2)))
    expect(r.result_truncated == "true" and not r.skip_token and r.count == 2, "truncated %r token %r count %r" % (r.result_truncated, r.skip_token, r.count))


@check("resource graph: resultFormat table")
def _():
    r = RG.resources(QueryRequest(subscriptions=[SUB], query="Resources | project id, name | order by name asc",
                                  options=QueryRequestOptions(result_format="table")))
    cols = [c["name"] for c in r.data["columns"]]
    expect(cols == ["id", "name"], "columns %s" % cols)
    names = [row[1] for row in r.data["rows"]]
    expect(names == sorted(x["name"] for x in STATE_RESOURCES), "names %s" % names)


@check("resource graph: other subscriptions' resources are not returned")
def _():
    rows, _, first = rg_all(RG, "Resources", subscriptions=["11111111-2222-4333-8444-555555555555"])
    expect(rows == [] and first.total_records == 0, "rows %d" % len(rows))


@check("resource graph: an unsupported query -> HttpResponseError 400 InvalidQuery")
def _():
    e = raises(HttpResponseError, RG.resources, QueryRequest(subscriptions=[SUB], query="Resources | summarize count() by type"))
    expect(e.status_code == 400 and "InvalidQuery" in str(e), "%s %s" % (e.status_code, str(e)[:200]))


# ---------------------------------------------------------------- Key Vault

KVC = SecretClient(vault_url=BASE + "/", credential=CRED, verify_challenge_resource=False)
NAME = "analytics-ingest-client-secret"


@check("key vault: the SDK's default challenge-resource check refuses a vault at 127.0.0.1")
def _():
    c = SecretClient(vault_url=BASE, credential=CRED)
    e = raises(ValueError, c.get_secret, NAME)
    expect("verify_challenge_resource" in str(e), str(e)[:200])


@check("key vault: the first call is challenged (401 + WWW-Authenticate), then authorized")
def _():
    r = raw_client().send_request(HttpRequest("GET", BASE + "/secrets", params={"api-version": "7.4"}))
    expect(r.status_code == 401, "status %d" % r.status_code)
    want = 'Bearer authorization="%s/%s", resource="https://vault.azure.net"' % (BASE, TENANT)
    expect(r.headers.get("WWW-Authenticate") == want, "challenge %r" % r.headers.get("WWW-Authenticate"))
    expect(r.json()["error"]["code"] == "Unauthorized", r.text())
    expect(stats()["challenges"] >= 2, "challenges %d" % stats()["challenges"])


@check("key vault: list_properties_of_secrets pages (maxresults=1) with exp as datetime")
def _():
    before = stats()["routes"].get("kv.list", 0)
    props = list(KVC.list_properties_of_secrets(max_page_size=1))
    calls = stats()["routes"].get("kv.list", 0) - before
    expect(sorted(p.name for p in props) == sorted(STATE_SECRETS), "names %s" % [p.name for p in props])
    expect(calls == len(STATE_SECRETS), "kv.list calls %d" % calls)
    for p in props:
        latest = STATE_SECRETS[p.name]["versions"][-1]
        expect(epoch(p.expires_on) == latest["exp"], "%s exp %r != %r" % (p.name, p.expires_on, latest["exp"]))
        expect(p.expires_on is None or isinstance(p.expires_on, datetime.datetime), "exp type")
        expect(p.enabled == latest["enabled"] and (p.tags or {}) == latest["tags"], "%s attrs" % p.name)
        expect(p.content_type == latest["content_type"], "%s contentType" % p.name)
        expect(p.version is None, "list items name no version")


@check("key vault: get_secret latest and by version")
def _():
    s = KVC.get_secret(NAME)
    versions = STATE_SECRETS[NAME]["versions"]
    expect(s.value == versions[-1]["value"] and s.properties.version == versions[-1]["version"], "latest")
    old = KVC.get_secret(NAME, versions[0]["version"])
    expect(old.value == versions[0]["value"], "old version value")
    expect(epoch(old.properties.created_on) == versions[0]["created"], "created_on")


@check("key vault: set_secret with expires_on, not_before, tags, content_type makes a new version")
def _():
    exp = datetime.datetime(2027, 5, 15, 10, 30, tzinfo=datetime.timezone.utc)
    nbf = datetime.datetime(2026, 11, 20, 0, 0, tzinfo=datetime.timezone.utc)
    s = KVC.set_secret(NAME, "Nw58Q~fidelity-new-value", expires_on=exp, not_before=nbf,
                       tags={"cspf-id": "credentials/azure/data-analytics#analytics-ingest", "step": "set"},
                       content_type="text/plain")
    expect(s.value == "Nw58Q~fidelity-new-value", "value echoed")
    expect(s.properties.expires_on == exp and s.properties.not_before == nbf, "dates %r %r" % (s.properties.expires_on, s.properties.not_before))
    expect(s.properties.version not in [v["version"] for v in STATE_SECRETS[NAME]["versions"]], "version reused")
    g = KVC.get_secret(NAME)
    expect(g.value == s.value and g.properties.version == s.properties.version, "get after set")
    expect(g.properties.tags["step"] == "set", "tags")
    expect(g.properties.recovery_level == "Recoverable+Purgeable", "recovery level %r" % g.properties.recovery_level)


@check("key vault: update_secret_properties changes tags and exp of one version, not its value")
def _():
    versions = STATE_SECRETS[NAME]["versions"]
    exp = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
    p = KVC.update_secret_properties(NAME, versions[-1]["version"], tags={"step": "superseded"}, expires_on=exp)
    expect(p.tags == {"step": "superseded"} and p.expires_on == exp, "props %r %r" % (p.tags, p.expires_on))
    g = KVC.get_secret(NAME, versions[-1]["version"])
    expect(g.value == versions[-1]["value"], "value changed by an update")
    expect(epoch(g.properties.updated_on) >= epoch(g.properties.created_on), "updated_on")


@check("key vault: a disabled version cannot be read (403 SecretDisabled), re-enabled can")
def _():
    v0 = STATE_SECRETS[NAME]["versions"][0]["version"]
    KVC.update_secret_properties(NAME, v0, enabled=False)
    e = raises(HttpResponseError, KVC.get_secret, NAME, v0)
    expect(e.status_code == 403 and "disabled" in str(e), "%s %s" % (e.status_code, str(e)[:200]))
    KVC.update_secret_properties(NAME, v0, enabled=True)
    expect(KVC.get_secret(NAME, v0).value == STATE_SECRETS[NAME]["versions"][0]["value"], "re-enabled")


@check("key vault: list_properties_of_secret_versions lists every version")
def _():
    vs = list(KVC.list_properties_of_secret_versions(NAME, max_page_size=1))
    expect(len(vs) == len(STATE_SECRETS[NAME]["versions"]) + 1, "versions %d" % len(vs))
    expect(all(v.version and v.name == NAME for v in vs), "each names its version")
    expect(len({v.version for v in vs}) == len(vs), "versions unique")


@check("key vault: missing secret -> ResourceNotFoundError (SecretNotFound)")
def _():
    e = raises(ResourceNotFoundError, KVC.get_secret, "no-such-secret")
    expect("SecretNotFound" in str(e), str(e)[:200])


@check("key vault: soft delete, name reuse refused (409), purge")
def _():
    KVC.set_secret("fidelity-temp", "temp-value")
    KVC.begin_delete_secret("fidelity-temp").wait()
    d = KVC.get_deleted_secret("fidelity-temp")
    expect(d.recovery_id.endswith("/deletedsecrets/fidelity-temp") and d.deleted_date, "deleted secret %r" % d.recovery_id)
    expect("fidelity-temp" in [x.name for x in KVC.list_deleted_secrets()], "in deleted list")
    raises(ResourceExistsError, KVC.set_secret, "fidelity-temp", "again")
    KVC.purge_deleted_secret("fidelity-temp")
    raises(ResourceNotFoundError, KVC.get_deleted_secret, "fidelity-temp")
    KVC.set_secret("fidelity-temp", "after purge")


class _FixedScope:
    """A credential that answers every request with a token for another
    audience (what a confused client would send)."""

    def __init__(self, cred, scope):
        self.cred, self.scope = cred, scope

    def get_token(self, *scopes, **kwargs):
        return self.cred.get_token(self.scope)


@check("key vault: a token for ARM is refused (401 AKV10022 invalid audience)")
def _():
    c = SecretClient(vault_url=BASE, credential=_FixedScope(CRED, ARM), verify_challenge_resource=False)
    e = raises(HttpResponseError, c.get_secret, NAME)
    expect(e.status_code == 401 and "AKV10022" in str(e), "%s %s" % (e.status_code, str(e)[:200]))


# ---------------------------------------------------------------- Graph

GC = graph_client(CRED)


@check("graph: list applications with $top=1 follows @odata.nextLink; secretText never shown")
def _():
    apps, pages = graph_all(GC, "/v1.0/applications", {"$top": "1"})
    expect([a["id"] for a in apps] == [a["id"] for a in STATE["applications"]], "ids")
    expect(pages == len(STATE["applications"]), "pages %d" % pages)
    for a in apps:
        for p in a["passwordCredentials"]:
            expect(p["secretText"] is None, "secretText shown")
    ing = next(a for a in apps if a["appId"] == INGEST["appId"])
    ends = {p["keyId"]: p["endDateTime"] for p in ing["passwordCredentials"]}
    want = {p["keyId"]: p["endDateTime"] for p in INGEST["passwordCredentials"]}
    expect(ends == want, "endDateTime %s" % ends)


@check("graph: $select and $filter")
def _():
    r = graph(GC, "GET", "/v1.0/applications", params={"$select": "id,appId,displayName", "$filter": "appId eq '%s'" % INGEST["appId"]})
    doc = r.json()
    expect(r.status_code == 200 and len(doc["value"]) == 1, "%d %s" % (r.status_code, r.text()[:200]))
    expect(set(doc["value"][0]) == {"id", "appId", "displayName"}, "keys %s" % set(doc["value"][0]))
    expect(doc["@odata.context"].endswith("#applications(id,appId,displayName)"), doc["@odata.context"])


@check("graph: GET applications/{id} and applications(appId='...')")
def _():
    a = graph(GC, "GET", "/v1.0/applications/" + INGEST["id"]).json()
    b = graph(GC, "GET", "/v1.0/applications(appId='%s')" % INGEST["appId"]).json()
    expect(a["displayName"] == "analytics-ingest" and a["id"] == b["id"] == INGEST["id"], "%s %s" % (a.get("id"), b.get("id")))


@check("graph: unknown application -> 404 Request_ResourceNotFound in Graph's error shape")
def _():
    r = graph(GC, "GET", "/v1.0/applications/00000000-0000-4000-8000-0000000000ff")
    err = r.json().get("error", {})
    expect(r.status_code == 404 and err.get("code") == "Request_ResourceNotFound" and err.get("message"), r.text()[:200])


@check("graph: $top over 999 -> 400")
def _():
    r = graph(GC, "GET", "/v1.0/applications", params={"$top": "1000"})
    expect(r.status_code == 400 and r.json()["error"]["code"] == "Request_BadRequest", r.text()[:200])


NEW = {}


@check("graph: addPassword returns secretText once, hint, keyId, dates")
def _():
    end = "2027-05-15T10:30:00Z"
    r = graph(GC, "POST", "/v1.0/applications/%s/addPassword" % INGEST["id"],
              {"passwordCredential": {"displayName": "cspf rotation", "endDateTime": end}})
    expect(r.status_code == 200, "%d %s" % (r.status_code, r.text()[:200]))
    p = r.json()
    expect(len(p["secretText"]) == 40 and p["hint"] == p["secretText"][:3], "secretText/hint")
    expect(p["endDateTime"].startswith("2027-05-15T10:30:00") and p["displayName"] == "cspf rotation", "end %s" % p["endDateTime"])
    expect(len(p["keyId"]) == 36 and p["startDateTime"], "keyId/start")
    NEW.update(p)
    a = graph(GC, "GET", "/v1.0/applications/" + INGEST["id"]).json()
    mine = [x for x in a["passwordCredentials"] if x["keyId"] == p["keyId"]]
    expect(len(mine) == 1 and mine[0]["secretText"] is None and mine[0]["hint"] == p["hint"], "listed without secretText")


@check("graph: the new secret signs in as the application")
def _():
    t = credential(INGEST["appId"], NEW["secretText"]).get_token(GRAPH)
    expect(t.token, "no token")


@check("graph: removePassword (204) and the removed secret no longer signs in")
def _():
    old = INGEST["passwordCredentials"][-1]
    expect(credential(INGEST["appId"], old["secretText"]).get_token(KV).token, "old secret works before removal")
    r = graph(GC, "POST", "/v1.0/applications/%s/removePassword" % INGEST["id"], {"keyId": old["keyId"]})
    expect(r.status_code == 204, "%d %s" % (r.status_code, r.text()[:200]))
    e = raises(ClientAuthenticationError, credential(INGEST["appId"], old["secretText"]).get_token, KV)
    expect("AADSTS7000215" in str(e), str(e)[:200])
    a = graph(GC, "GET", "/v1.0/applications/" + INGEST["id"]).json()
    expect(old["keyId"] not in [x["keyId"] for x in a["passwordCredentials"]], "still listed")


@check("graph: removePassword of an unknown keyId -> 400")
def _():
    r = graph(GC, "POST", "/v1.0/applications/%s/removePassword" % INGEST["id"], {"keyId": "00000000-0000-4000-8000-0000000000aa"})
    expect(r.status_code == 400, "%d" % r.status_code)


@check("graph: a Key Vault token is refused (401 InvalidAuthenticationToken)")
def _():
    c = PipelineClient(base_url=BASE, policies=[RetryPolicy(), BearerTokenCredentialPolicy(_FixedScope(CRED, KV), GRAPH)])
    r = graph(c, "GET", "/v1.0/applications")
    expect(r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken", "%d %s" % (r.status_code, r.text()[:200]))


@check("emulator state: rotation results are visible in /_emulator/state")
def _():
    doc = control("GET", "/_emulator/state")
    app = next(a for a in doc["applications"] if a["id"] == INGEST["id"])
    expect(NEW["keyId"] in [p["keyId"] for p in app["passwordCredentials"]], "new keyId")
    sec = next(s for s in doc["key_vaults"]["data-kv"]["secrets"] if s["name"] == NAME)
    expect(sec["versions"][-1]["value"] == "Nw58Q~fidelity-new-value", "new version")


# ---------------------------------------------------------------- token lifetime

@check("tokens: short token_ttl_s; an expired token is refused, the SDK refreshes")
def _():
    faults({"token_ttl_s": 2})
    try:
        c = credential()
        t = c.get_token(ARM)
        expect(t.expires_on - time.time() <= 3, "ttl not applied")
        time.sleep(2.5)
        r = raw_client().send_request(HttpRequest("GET", BASE + "/subscriptions", params={"api-version": "2022-12-01"},
                                                  headers={"Authorization": "Bearer " + t.token}))
        expect(r.status_code == 401 and r.json()["error"]["code"] == "ExpiredAuthenticationToken", "%d %s" % (r.status_code, r.text()[:200]))
        before = stats()["tokens_issued"]
        rows, _, _ = rg_all(ResourceGraphClient(c, base_url=BASE), "Resources | project id")
        expect(len(rows) == len(STATE_RESOURCES), "rows")
        expect(stats()["tokens_issued"] > before, "no new token fetched")
    finally:
        faults({})


# ---------------------------------------------------------------- faults

@check("faults: 429 (Retry-After) and 500/503 every few calls; SDK retries succeed; stats count them")
def _():
    s0 = stats()
    faults({"throttle_every": 3, "error_every": 4, "retry_after_s": 1})
    try:
        props = list(KVC.list_properties_of_secrets(max_page_size=1))
        rows, _, _ = rg_all(RG, "Resources | project id", top=2)
        apps, _ = graph_all(GC, "/v1.0/applications", {"$top": "1"})
        val = KVC.get_secret("warehouse-reader-password").value
    finally:
        faults({})
    s1 = stats()
    expect(len(props) == len(STATE_SECRETS) + 1, "secrets %d" % len(props))
    expect(len(rows) == len(STATE_RESOURCES) and len(apps) == len(STATE["applications"]), "rows/apps")
    expect(val == STATE_SECRETS["warehouse-reader-password"]["versions"][-1]["value"], "value")
    thr, err = s1["throttled"] - s0["throttled"], s1["5xx"] - s0["5xx"]
    expect(thr >= 3 and err >= 2, "throttled %d 5xx %d" % (thr, err))
    expect(s1["status"].get("500", 0) > s0["status"].get("500", 0) and s1["status"].get("503", 0) > s0["status"].get("503", 0), "both 500 and 503 seen")


@check("faults: 429 bodies and Retry-After as each service sends them")
def _():
    faults({"throttle_every": 1, "retry_after_s": 1})
    try:
        raw = raw_client()
        kv = raw.send_request(HttpRequest("GET", BASE + "/secrets", params={"api-version": "7.4"}))
        gr = raw.send_request(HttpRequest("GET", BASE + "/v1.0/applications"))
        rg = raw.send_request(HttpRequest("POST", BASE + "/providers/Microsoft.ResourceGraph/resources",
                                          params={"api-version": "2021-03-01"}, json={"query": "Resources"}))
    finally:
        faults({})
    for r, code in ((kv, "Throttled"), (gr, "TooManyRequests"), (rg, "RateLimiting")):
        expect(r.status_code == 429 and r.headers.get("Retry-After") == "1", "%d %r" % (r.status_code, r.headers.get("Retry-After")))
        expect(r.json()["error"]["code"] == code, r.text()[:200])


@check("faults: a dropped connection is retried by the SDK (GET)")
def _():
    s0 = stats()
    faults({"drop_at": [2]})
    try:
        a = KVC.get_secret("exports-sas-token").value
        b = KVC.get_secret("exports-sas-token").value
    finally:
        faults({})
    s1 = stats()
    expect(a == b == STATE_SECRETS["exports-sas-token"]["versions"][-1]["value"], "values")
    expect(s1["dropped"] - s0["dropped"] == 1, "dropped %d" % (s1["dropped"] - s0["dropped"]))
    expect(s1["routes"]["kv.get"] - s0["routes"]["kv.get"] == 3, "kv.get calls %d" % (s1["routes"]["kv.get"] - s0["routes"]["kv.get"]))


@check("faults: fail_route fails the next N calls of one route; POST retried on 500")
def _():
    s0 = stats()
    faults({"fail_route": {"kv.get": 2, "rg.query": {"count": 1, "status": 500}}})
    try:
        v = KVC.get_secret("exports-sas-token").value
        rows, _, _ = rg_all(RG, "Resources | project id")
        left = control("GET", "/_emulator/faults")["fail_route"]
    finally:
        faults({})
    s1 = stats()
    expect(v and len(rows) == len(STATE_RESOURCES), "results")
    expect(left["kv.get"]["count"] == 0 and left["rg.query"]["count"] == 0, "counts left %s" % left)
    expect(s1["routes"]["kv.get"] - s0["routes"]["kv.get"] == 3, "kv.get calls")
    expect(s1["injected"].get("fail", 0) - s0["injected"].get("fail", 0) == 3, "injected")


@check("faults: latency_ms delays each answer")
def _():
    faults({"latency_ms": 300})
    try:
        t = time.time()
        KVC.get_secret("exports-sas-token")
        took = time.time() - t
    finally:
        faults({})
    expect(took >= 0.3, "took %.3f s" % took)


@check("stats: total equals the sum of the routes; auth failures counted")
def _():
    s = stats()
    expect(s["total"] == sum(s["routes"].values()), "total %d routes %d" % (s["total"], sum(s["routes"].values())))
    answered = sum(s["status"].values())
    expect(answered + s["dropped"] == s["total"], "answered %d + dropped %d != total %d" % (answered, s["dropped"], s["total"]))
    expect(s["auth_failures"] >= 5, "auth_failures %d" % s["auth_failures"])


@check("guard: no client tried to reach a host other than loopback")
def _():
    expect(not GUARD.unexpected(), "tried: %s" % GUARD.unexpected())


print("%d passed, %d failed" % (PASSED, FAILED))
if os.environ.get("AZEMU_COUNTS"):
    with open(os.environ["AZEMU_COUNTS"], "w") as f:
        f.write("%d %d\n" % (PASSED, FAILED))
sys.exit(1 if FAILED else 0)
