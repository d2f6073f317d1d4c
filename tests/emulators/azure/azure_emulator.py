#!/usr/bin/python3
"""Azure emulator for cspf's tests and benchmarks.

One HTTP/1.1 (keep-alive, threaded, TLS when given a certificate) server on
127.0.0.1 plays the Azure surfaces cspf talks to, routed by path:

  Entra ID (v2.0)   POST /{tenant}/oauth2/v2.0/token
                    GET  /{tenant}/v2.0/.well-known/openid-configuration
                    GET  /common/discovery/instance
                    GET  /{tenant}/discovery/v2.0/keys
  ARM               POST /providers/Microsoft.ResourceGraph/resources
                    GET  /subscriptions, /subscriptions/{id},
                         /subscriptions/{id}/resources
  Key Vault         /secrets..., /deletedsecrets...   (the vault is chosen
                    by a /kv/{vault} path prefix, by the first label of the
                    Host header, or is the default vault)
  Microsoft Graph   /v1.0/applications..., /v1.0/servicePrincipals
  control           /_emulator/faults, /_emulator/stats, /_emulator/state

README.md beside this file documents the URLs, the state file and the
fault switches.  Standard library only; run it with /usr/bin/python3.
"""

import argparse
import base64
import calendar
import concurrent.futures
import copy
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets as _secrets
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kql  # noqa: E402

# Audiences each API accepts, as the resource part of a v2.0 scope
# ("<resource>/.default"): the well-known URI and the application id.
AUDIENCES = {
    "arm": ("https://management.azure.com", "https://management.core.windows.net",
            "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
    "graph": ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"),
    "kv": ("https://vault.azure.net", "cfa8b339-82a2-471a-a3c9-0fc0be7a4093"),
}
KV_RESOURCE = "https://vault.azure.net"
RG_API_VERSIONS = ("2018-09-01-preview", "2019-04-01", "2020-04-01-preview",
                   "2021-03-01", "2021-06-01-preview", "2022-10-01", "2024-04-01")
KV_API_VERSIONS = ("2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6")
KV_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
RECOVERABLE_DAYS = 90


# ---------------------------------------------------------------- time

def now():
    return time.time()


def iso(ts, fraction=False):
    """RFC 3339 UTC; with fraction=True seven digits as Graph writes them."""
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    if fraction:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%07d" % (dt.microsecond * 10) + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s):
    """RFC 3339 / ISO 8601 date-time to epoch seconds; None if invalid."""
    if not isinstance(s, str):
        return None
    m = re.match(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", s.strip())
    if not m:
        return None
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    try:
        base = calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
        datetime.datetime(y, mo, d, h, mi, se)
    except ValueError:
        return None
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    tz = m.group(8) or "Z"
    off = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        off = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return base - off + frac


def aad_timestamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def new_guid():
    return str(uuid.uuid4())


# ---------------------------------------------------------------- errors

class ApiError(Exception):
    """An answer other than success: status, JSON body, extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def arm_error(status, code, message, details=None, headers=None):
    err = {"code": code, "message": message}
    if details:
        err["details"] = details
    return ApiError(status, {"error": err}, headers)


def kv_error(status, code, message, inner=None, headers=None):
    err = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner}
    return ApiError(status, {"error": err}, headers)


def graph_error(status, code, message, headers=None):
    return ApiError(status, {"error": {
        "code": code, "message": message,
        "innerError": {"date": iso(now()), "request-id": new_guid(),
                       "client-request-id": new_guid()}}}, headers)


def aad_error(status, error, code, description, base):
    trace, corr = new_guid(), new_guid()
    stamp = aad_timestamp()
    return ApiError(status, {
        "error": error,
        "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                             % (code, description, trace, corr, stamp),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": corr,
        "error_uri": "%s/error?code=%d" % (base, code),
    })


# ---------------------------------------------------------------- state

def _kv_version(v, t):
    out = {
        "version": v.get("version") or uuid.uuid4().hex,
        "value": v.get("value", ""),
        "enabled": bool(v.get("enabled", True)),
        "exp": v.get("exp"),
        "nbf": v.get("nbf"),
        "created": int(v.get("created") or t),
        "updated": int(v.get("updated") or v.get("created") or t),
        "content_type": v.get("content_type"),
        "tags": dict(v.get("tags") or {}),
    }
    return out


def _password(p, t):
    return {
        "customKeyIdentifier": p.get("customKeyIdentifier"),
        "displayName": p.get("displayName"),
        "endDateTime": p.get("endDateTime") or iso(t + 2 * 365 * 86400),
        "hint": p.get("hint") or (p.get("secretText") or "")[:3] or None,
        "keyId": p.get("keyId") or new_guid(),
        "secretText": p.get("secretText"),
        "startDateTime": p.get("startDateTime") or iso(t),
    }


class State:
    """Everything the emulator knows, behind one lock."""

    def __init__(self, doc):
        t = now()
        self.lock = threading.RLock()
        self.tenant = doc["tenant_id"]
        self.tenant_domains = [d.lower() for d in doc.get("tenant_domains", [])]
        self.clients = {c["client_id"]: c for c in doc.get("clients", [])}
        self.base_token_ttl = int(doc.get("token_ttl_s", 3599))
        self.token_ttl = self.base_token_ttl
        self.subscriptions = {}
        for sid, sub in (doc.get("subscriptions") or {}).items():
            self.subscriptions[sid.lower()] = {
                "id": sid.lower(),
                "display_name": sub.get("display_name", sid),
                "state": sub.get("state", "Enabled"),
                "tags": sub.get("tags") or {},
                "resource_groups": sub.get("resource_groups") or [],
                "resources": [self._resource(sid.lower(), r) for r in sub.get("resources", [])],
            }
        self.vaults = {}
        for name, vault in (doc.get("key_vaults") or {}).items():
            self.vaults[name.lower()] = self._vault(name.lower(), vault, t)
        self.default_vault = (doc.get("default_vault") or next(iter(self.vaults), "")).lower()
        self.apps = []
        for a in doc.get("applications") or []:
            app = dict(a)
            app["id"] = app.get("id") or new_guid()
            app.setdefault("displayName", None)
            app.setdefault("createdDateTime", iso(t))
            app["passwordCredentials"] = [_password(p, t) for p in a.get("passwordCredentials", [])]
            self.apps.append(app)
        self.sps = doc.get("service_principals")
        # Entra's replication delay: a password added by addPassword signs
        # in only this many seconds later (keyId -> the time it may).
        self.base_propagation = float(doc.get("propagation_s", 0))
        self.propagation = self.base_propagation
        self.pw_ready = {}
        self.tokens = {}
        self.generation = 0
        self.rg_cache = {}
        self.faults = {}
        self.faults_base = 0
        self.total = 0
        self.stats = self._zero_stats()
        self.set_faults(doc.get("faults") or {})

    @staticmethod
    def _zero_stats():
        return {"total": 0, "routes": {}, "status": {}, "throttled": 0,
                "5xx": 0, "dropped": 0, "auth_failures": 0,
                "challenges": 0, "tokens_issued": 0, "injected": {}}

    def _resource(self, sid, r):
        rid = r["id"]
        parts = rid.split("/")
        rg = r.get("resourceGroup")
        if rg is None:
            for i, p in enumerate(parts):
                if p.lower() == "resourcegroups" and i + 1 < len(parts):
                    rg = parts[i + 1]
        row = {
            "id": rid,
            "name": r.get("name") or parts[-1],
            "type": (r.get("type") or "").lower(),
            "tenantId": self.tenant,
            "kind": r.get("kind", ""),
            "location": r.get("location", ""),
            "resourceGroup": rg or "",
            "subscriptionId": sid,
            "managedBy": r.get("managedBy", ""),
            "sku": r.get("sku"),
            "plan": r.get("plan"),
            "properties": r.get("properties") or {},
            "tags": r.get("tags") or {},
            "identity": r.get("identity"),
            "zones": r.get("zones"),
            "extendedLocation": r.get("extendedLocation"),
        }
        return row

    def _vault(self, name, vault, t):
        out = {"name": name, "secrets": {}, "deleted": {}}
        for s in vault.get("secrets", []):
            out["secrets"][s["name"].lower()] = {
                "name": s["name"],
                "versions": [_kv_version(v, t) for v in s.get("versions", [])]}
        for s in vault.get("deleted_secrets", []):
            out["deleted"][s["name"].lower()] = {
                "name": s["name"],
                "versions": [_kv_version(v, t) for v in s.get("versions", [])],
                "deleted": int(s.get("deleted") or t),
                "scheduled_purge": int(s.get("scheduled_purge") or (t + RECOVERABLE_DAYS * 86400))}
        return out

    def export(self):
        """The state in the form of the state file (secrets included)."""
        def versions(vs):
            return [dict(v) for v in vs]
        doc = {
            "tenant_id": self.tenant,
            "tenant_domains": self.tenant_domains,
            "clients": list(self.clients.values()),
            "token_ttl_s": self.base_token_ttl,
            "propagation_s": self.base_propagation,
            "subscriptions": {
                sid: {"display_name": s["display_name"], "state": s["state"],
                      "tags": s["tags"], "resource_groups": s["resource_groups"],
                      "resources": s["resources"]}
                for sid, s in self.subscriptions.items()},
            "default_vault": self.default_vault,
            "key_vaults": {
                n: {"secrets": [{"name": s["name"], "versions": versions(s["versions"])}
                                for s in v["secrets"].values()],
                    "deleted_secrets": [{"name": s["name"], "versions": versions(s["versions"]),
                                         "deleted": s["deleted"],
                                         "scheduled_purge": s["scheduled_purge"]}
                                        for s in v["deleted"].values()]}
                for n, v in self.vaults.items()},
            "applications": self.apps,
            "faults": self.faults,
        }
        if self.sps is not None:
            doc["service_principals"] = self.sps
        return doc

    def set_faults(self, f):
        if not isinstance(f, dict):
            raise ValueError("faults must be an object")
        known = {"latency_ms", "throttle_every", "error_every", "error_status",
                 "drop_at", "page_size", "fail_route", "retry_after_s", "token_ttl_s",
                 "fail_at", "die_at", "propagation_s"}
        bad = set(f) - known
        if bad:
            raise ValueError("unknown fault switches: %s" % ", ".join(sorted(bad)))
        f = copy.deepcopy(f)
        fr = {}
        for route, v in (f.get("fail_route") or {}).items():
            if isinstance(v, int):
                v = {"count": v}
            fr[route] = {"count": int(v.get("count", 1)), "status": int(v.get("status", 503))}
        f["fail_route"] = fr
        f["drop_at"] = [int(x) for x in f.get("drop_at") or []]
        f["fail_at"] = [int(x) for x in f.get("fail_at") or []]
        if f.get("die_at") is not None:
            f["die_at"] = int(f["die_at"])
        self.propagation = float(f.get("propagation_s", self.base_propagation))
        self.token_ttl = int(f.get("token_ttl_s", self.base_token_ttl))
        self.faults = f
        self.faults_base = self.total

    # The fault to apply to the next call on route, under the lock: one of
    # None, ("die",), ("drop",), ("fail", status), ("throttle",),
    # ("error", status).
    def next_call(self, route):
        self.total += 1
        self.stats["total"] = self.total
        self.stats["routes"][route] = self.stats["routes"].get(route, 0) + 1
        f = self.faults
        n = self.total - self.faults_base
        if f.get("die_at") is not None and n == f["die_at"]:
            return ("die",)
        if n in f.get("drop_at", ()):
            return ("drop",)
        if n in f.get("fail_at", ()):
            return ("fail", int(f.get("error_status") or 503))
        fr = f.get("fail_route") or {}
        key = route if route in fr else route.split(".")[0] if route.split(".")[0] in fr else None
        if key is not None and fr[key]["count"] > 0:
            fr[key]["count"] -= 1
            return ("fail", fr[key]["status"])
        te = int(f.get("throttle_every") or 0)
        if te > 0 and n % te == 0:
            return ("throttle",)
        ee = int(f.get("error_every") or 0)
        if ee > 0 and n % ee == 0:
            status = f.get("error_status")
            if not status:
                status = 500 if (n // ee) % 2 else 503
            return ("error", int(status))
        return None

    def page(self, asked, default, maximum):
        """The page size for a list call: what the client asked (or the
        API's default), capped by the API's maximum and the page_size
        fault."""
        n = asked if asked else default
        n = min(n, maximum)
        ps = int(self.faults.get("page_size") or 0)
        if ps > 0:
            n = min(n, ps)
        return max(1, n)


# ---------------------------------------------------------------- handler

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cspf-azure-emulator/1"

    def version_string(self):
        return self.server_version
    timeout = 120  # idle keep-alive connections close after this

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("azure-emulator: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # -- plumbing

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def base_url(self):
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.port
        return "%s://%s" % (self.server.scheme, host)

    def login_base(self):
        return "%s://127.0.0.1:%d" % (self.server.scheme, self.server.port)

    def send(self, status, body=None, headers=None, ctype="application/json; charset=utf-8"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("x-ms-request-id", new_guid())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 204:
            if body is not None:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store, no-cache")
        self.end_headers()
        if status != 204 and data:
            self.wfile.write(data)
        if getattr(self, "route", "") == "_emulator":
            return  # control calls are neither counted nor logged
        st = self.server.state
        with st.lock:
            key = str(status)
            st.stats["status"][key] = st.stats["status"].get(key, 0) + 1
            if status >= 500:
                st.stats["5xx"] += 1
        self.server.log_request_line(self.command, self.path, status, getattr(self, "route", ""))

    def dispatch(self, method):
        self.route = ""
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.q = {k: v[-1] for k, v in query.items()}
        self.body = body
        if path.startswith("/_emulator/"):
            self.route = "_emulator"
            return self.control(method, path)
        route, svc, fn, args = self.server.router.match(method, path)
        self.route = route
        st = self.server.state
        with st.lock:
            action = st.next_call(route)
            latency = float(st.faults.get("latency_ms") or 0) / 1000.0
            retry_after = str(st.faults.get("retry_after_s", 1))
        if latency > 0:
            time.sleep(latency)
        try:
            if action is not None:
                self.inject(action, svc, retry_after)
                return
            status, out, headers = fn(self, *args)
            ctype = "application/json; charset=utf-8"
            if svc == "graph":
                ctype = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
            self.send(status, out, headers, ctype)
        except ApiError as e:
            if e.status == 401 or (svc == "aad" and e.status in (400, 401)
                                   and isinstance(e.body, dict)
                                   and e.body.get("error") in ("invalid_client", "unauthorized_client")):
                with st.lock:
                    st.stats["auth_failures"] += 1
            self.send(e.status, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the emulator: say so loudly
            sys.stderr.write("azure-emulator: internal error on %s %s: %r\n" % (method, path, e))
            import traceback
            traceback.print_exc()
            self.send(500, {"error": {"code": "EmulatorBug", "message": repr(e)}})

    def inject(self, action, svc, retry_after):
        st = self.server.state
        with st.lock:
            inj = st.stats["injected"]
            inj[action[0]] = inj.get(action[0], 0) + 1
        if action[0] == "die":
            # The whole emulator dies mid-call, as a host that crashes:
            # the request was read, no answer goes out.
            self.server.log_request_line(self.command, self.path, 0, self.route)
            if self.server.log_file:
                self.server.log_file.flush()
            sys.stderr.write("azure-emulator: dying at call %d (die_at)\n" % st.faults["die_at"])
            sys.stderr.flush()
            os._exit(70)
        if action[0] == "drop":
            with st.lock:
                st.stats["dropped"] += 1
            self.server.log_request_line(self.command, self.path, 0, self.route)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if action[0] == "throttle":
            with st.lock:
                st.stats["throttled"] += 1
            hdr = {"Retry-After": retry_after}
            if svc == "aad":
                e = aad_error(429, "temporarily_unavailable", 50196,
                              "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.",
                              self.login_base())
            elif svc == "kv":
                e = kv_error(429, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached")
            elif svc == "graph":
                e = graph_error(429, "TooManyRequests", "Too many requests.")
            elif svc == "rg":
                hdr["x-ms-user-quota-remaining"] = "0"
                hdr["x-ms-user-quota-resets-after"] = "00:00:%02d" % min(59, int(float(retry_after)))
                e = arm_error(429, "RateLimiting", "Please provide below info when asking for support: timestamp = %s, correlationId = %s." % (iso(now()), new_guid()),
                              details=[{"code": "RateLimiting", "message": "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help."}])
            else:
                e = arm_error(429, "TooManyRequests", "The request is being throttled as the limit has been reached for operation type - Read_ObservationWindow_00:05:00. For more information, see - https://aka.ms/srpthrottlinglimits")
            e.headers.update(hdr)
            return self.send(e.status, e.body, e.headers)
        status = action[1]
        if svc == "aad":
            e = aad_error(status, "temporarily_unavailable", 90033,
                          "A transient error has occurred. Please try again.", self.login_base())
        elif svc == "kv":
            e = kv_error(status, "ServiceUnavailable" if status == 503 else "InternalServerError",
                         "The service is unavailable." if status == 503 else "An unexpected error occurred.")
        elif svc == "graph":
            e = graph_error(status, "serviceNotAvailable" if status == 503 else "generalException",
                            "The service is temporarily unavailable." if status == 503 else "General exception while processing.")
        else:
            e = arm_error(status, "ServiceUnavailable" if status == 503 else "InternalServerError",
                          "The server is currently unable to handle the request." if status == 503
                          else "Encountered internal server error. Diagnostic information: timestamp '%s'." % iso(now()))
        return self.send(e.status, e.body, e.headers)

    # -- control endpoints (exempt from faults and counting)

    def control(self, method, path):
        st = self.server.state
        if path == "/_emulator/faults":
            if method == "GET":
                with st.lock:
                    return self.send(200, st.faults)
            if method == "POST":
                try:
                    f = json.loads(self.body or b"{}")
                    with st.lock:
                        st.set_faults(f)
                        out = st.faults
                except (ValueError, TypeError, AttributeError) as e:
                    return self.send(400, {"error": str(e)})
                return self.send(200, out)
        if path == "/_emulator/stats":
            if method == "GET":
                with st.lock:
                    return self.send(200, st.stats)
            if method == "DELETE":
                with st.lock:
                    st.stats = st._zero_stats()
                    st.stats["total"] = st.total
                return self.send(204)
        if path == "/_emulator/state" and method == "GET":
            with st.lock:
                return self.send(200, st.export())
        if path == "/_emulator/health" and method == "GET":
            return self.send(200, {"status": "ok"})
        return self.send(404, {"error": "no such control endpoint"})

    # -- authorization of API calls

    def bearer(self):
        h = self.headers.get("Authorization") or ""
        if h[:7].lower() == "bearer ":
            return h[7:].strip()
        return None

    def check_token(self, svc):
        """Returns the token record, or raises the 401 the service sends."""
        tok = self.bearer()
        st = self.server.state
        with st.lock:
            rec = st.tokens.get(tok) if tok else None
        if tok is None:
            problem = "missing"
        elif rec is None:
            problem = "invalid"
        elif rec["exp"] <= now():
            problem = "expired"
        elif rec["svc"] != svc:
            problem = "audience"
        else:
            return rec
        if svc == "kv":
            hdr = {"WWW-Authenticate": 'Bearer authorization="%s/%s", resource="%s"'
                   % (self.login_base(), st.tenant, KV_RESOURCE)}
            if problem == "missing":
                with st.lock:
                    st.stats["challenges"] += 1
                raise kv_error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", headers=hdr)
            if problem == "audience":
                raise kv_error(401, "Unauthorized", "AKV10022: Invalid audience. Expected %s, found: %s." % (KV_RESOURCE, rec["aud"]), headers=hdr)
            if problem == "expired":
                raise kv_error(401, "Unauthorized", "[TokenExpired] Error validating token: 'S2S12115'.", headers=hdr)
            raise kv_error(401, "Unauthorized", "[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'.", headers=hdr)
        if svc == "graph":
            hdr = {"WWW-Authenticate": 'Bearer realm="", authorization_uri="%s/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"' % self.login_base()}
            msg = {"missing": "Access token is empty.",
                   "invalid": "IDX14100: JWT is not well formed, there are no dots (.).",
                   "expired": "Lifetime validation failed, the token is expired.",
                   "audience": "Access token validation failure. Invalid audience."}[problem]
            raise graph_error(401, "InvalidAuthenticationToken", msg, headers=hdr)
        # ARM (Resource Graph included)
        hdr = {"WWW-Authenticate": 'Bearer authorization_uri="%s/%s", error="invalid_token", error_description="The authentication failed because of %s."'
               % (self.login_base(), st.tenant, "missing 'Authorization' header" if problem == "missing" else "an invalid access token")}
        if problem == "missing":
            raise arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", headers=hdr)
        if problem == "expired":
            raise arm_error(401, "ExpiredAuthenticationToken", "The access token expiry UTC time '%s' is earlier than current UTC time '%s'." % (iso(rec["exp"]), iso(now())), headers=hdr)
        if problem == "audience":
            raise arm_error(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'." % rec["aud"], headers=hdr)
        raise arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.", headers=hdr)

    def json_body(self, err):
        try:
            doc = json.loads(self.body.decode("utf-8")) if self.body else None
        except (ValueError, UnicodeDecodeError):
            raise err
        return doc


# ---------------------------------------------------------------- Entra ID

def h_token(h, tenant):
    st = h.server.state
    base = h.login_base()
    ctype = (h.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.", base)
    form = {k: v[-1] for k, v in urllib.parse.parse_qs(h.body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    if not tenant_known(st, tenant):
        raise aad_error(400, "invalid_request", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant." % tenant, base)
    grant = form.get("grant_type")
    if not grant:
        raise aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.", base)
    if grant != "client_credentials":
        raise aad_error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'." % grant, base)
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    auth = h.headers.get("Authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            cid, _, sec = base64.b64decode(auth[6:]).decode().partition(":")
            client_id = client_id or urllib.parse.unquote_plus(cid)
            secret = secret or urllib.parse.unquote_plus(sec)
        except (ValueError, UnicodeDecodeError):
            pass
    if not client_id:
        raise aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.", base)
    scope = form.get("scope")
    if not scope:
        raise aad_error(400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.", base)
    if form.get("client_assertion") and not secret:
        raise aad_error(401, "invalid_client", 700027, "Client assertion failed signature validation. (The emulator takes client secrets only.)", base)
    if not secret:
        raise aad_error(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", base)
    with st.lock:
        check_client(st, client_id, secret, base)
    scopes = [s for s in scope.split() if s not in OIDC_SCOPES]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        raise aad_error(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)." % scope, base)
    resource = scopes[0][:-len("/.default")].rstrip("/")
    svc = None
    for name, auds in AUDIENCES.items():
        if resource.lower() in auds:
            svc = name
    if svc is None:
        raise aad_error(400, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant." % (resource, st.tenant), base)
    token = _secrets.token_urlsafe(64)
    with st.lock:
        ttl = st.token_ttl
        t = now()
        if len(st.tokens) > 10000:
            st.tokens = {k: v for k, v in st.tokens.items() if v["exp"] > t}
        st.tokens[token] = {"aud": resource, "svc": svc, "client_id": client_id,
                            "exp": t + ttl, "tenant": st.tenant}
        st.stats["tokens_issued"] += 1
    return 200, {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl,
                 "access_token": token}, {}


def tenant_known(st, tenant):
    return tenant.lower() == st.tenant.lower() or tenant.lower() in st.tenant_domains


def check_client(st, client_id, secret, base):
    """Raises the Entra ID error for a client id and secret that do not
    sign in; called under the lock."""
    c = st.clients.get(client_id)
    if c is not None:
        if hmac.compare_digest(str(c.get("client_secret", "")).encode(), secret.encode()):
            return
        raise aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'." % client_id, base)
    app = next((a for a in st.apps if a.get("appId") == client_id), None)
    if app is None:
        raise aad_error(400, "unauthorized_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant." % (client_id, st.tenant), base)
    t = now()
    expired = False
    for p in app["passwordCredentials"]:
        if p.get("secretText") and hmac.compare_digest(p["secretText"].encode(), secret.encode()):
            if t < st.pw_ready.get(p["keyId"], 0):
                break  # not replicated yet: Entra does not know it
            start = parse_iso(p.get("startDateTime")) or 0
            end = parse_iso(p.get("endDateTime")) or float("inf")
            if start <= t < end:
                return
            expired = True
    if expired:
        raise aad_error(401, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app, or consider using certificate credentials for added security." % client_id, base)
    raise aad_error(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'." % client_id, base)


def h_openid(h, tenant):
    st = h.server.state
    base = h.base_url()
    if not tenant_known(st, tenant):
        raise ApiError(400, {
            "error": "invalid_tenant",
            "error_description": "AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.\r\nTimestamp: %s" % (tenant, aad_timestamp()),
            "error_codes": [90002], "timestamp": aad_timestamp(),
            "trace_id": new_guid(), "correlation_id": new_guid()})
    tid = st.tenant
    host = urllib.parse.urlsplit(base).netloc
    return 200, {
        "token_endpoint": "%s/%s/oauth2/v2.0/token" % (base, tid),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": "%s/%s/discovery/v2.0/keys" % (base, tid),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": "%s/%s/v2.0" % (base, tid),
        "request_uri_parameter_supported": False,
        "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (base, tid),
        "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (base, tid),
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (base, tid),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "ver", "oid"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": host,
        "msgraph_host": host,
    }, {}


def h_instance_discovery(h):
    base = h.base_url()
    auth = h.q.get("authorization_endpoint") or ""
    parts = urllib.parse.urlsplit(auth).path.strip("/").split("/")
    tenant = parts[0] if parts and parts[0] else "common"
    host = urllib.parse.urlsplit(base).netloc
    return 200, {
        "tenant_discovery_endpoint": "%s/%s/v2.0/.well-known/openid-configuration" % (base, tenant),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }, {}


def h_keys(h, tenant):
    return 200, {"keys": []}, {}


# ---------------------------------------------------------------- ARM

def arm_api_version(h, allowed=None):
    v = h.q.get("api-version")
    if not v:
        raise arm_error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
    if allowed and v not in allowed:
        raise arm_error(400, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions are '%s'." % (v, ",".join(allowed)))
    return v


def _skip_token(doc):
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode().rstrip("=")


def _read_skip_token(tok):
    try:
        return json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
    except (ValueError, TypeError):
        return None


def rg_rows(st, table, subs):
    if table == "resources":
        out = []
        for sid in subs:
            out.extend(st.subscriptions[sid]["resources"])
        return out
    out = []
    for sid in subs:
        s = st.subscriptions[sid]
        out.append({"id": "/subscriptions/" + sid, "name": s["display_name"],
                    "type": "microsoft.resources/subscriptions", "tenantId": st.tenant,
                    "kind": "", "location": "", "resourceGroup": "", "subscriptionId": sid,
                    "managedBy": "", "sku": None, "plan": None,
                    "properties": {"state": s["state"]}, "tags": s["tags"],
                    "identity": None, "zones": None, "extendedLocation": None})
        groups = {}
        for g in s["resource_groups"]:
            groups[g["name"].lower()] = g
        for r in s["resources"]:
            if r["resourceGroup"] and r["resourceGroup"].lower() not in groups:
                groups[r["resourceGroup"].lower()] = {"name": r["resourceGroup"], "location": r["location"]}
        for g in groups.values():
            out.append({"id": "/subscriptions/%s/resourceGroups/%s" % (sid, g["name"]),
                        "name": g["name"], "type": "microsoft.resources/subscriptions/resourcegroups",
                        "tenantId": st.tenant, "kind": "", "location": g.get("location", ""),
                        "resourceGroup": g["name"], "subscriptionId": sid, "managedBy": "",
                        "sku": None, "plan": None,
                        "properties": {"provisioningState": "Succeeded"},
                        "tags": g.get("tags") or {}, "identity": None, "zones": None,
                        "extendedLocation": None})
    return out


def _col_type(vals):
    for v in vals:
        if v is None:
            continue
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "number"
        if isinstance(v, str):
            return "string"
        return "object"
    return "string"


def h_resource_graph(h):
    arm_api_version(h, RG_API_VERSIONS)
    h.check_token("arm")
    st = h.server.state
    bad = arm_error(400, "BadRequest", "The request content was invalid and could not be deserialized.")
    req = h.json_body(bad)
    if not isinstance(req, dict) or not isinstance(req.get("query"), str):
        raise arm_error(400, "BadRequest", "The query is missing from the request.",
                        details=[{"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."}])
    opts = req.get("options") or {}
    try:
        parsed = kql.parse(req["query"])
    except kql.KqlError as e:
        raise arm_error(400, "BadRequest", "Please provide below info when asking for support: timestamp = %s, correlationId = %s." % (iso(now()), new_guid()),
                        details=[{"code": "InvalidQuery", "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying."},
                                 {"code": "ParserFailure", "message": str(e)}])
    top = opts.get("$top")
    skip = opts.get("$skip") or 0
    if top is not None and (not isinstance(top, int) or top < 1 or top > 1000):
        raise arm_error(400, "BadRequest", "The $top value must be between 1 and 1000.")
    if not isinstance(skip, int) or skip < 0:
        raise arm_error(400, "BadRequest", "The $skip value must be 0 or more.")
    fmt = opts.get("resultFormat") or "objectArray"
    with st.lock:
        wanted = req.get("subscriptions")
        if wanted:
            subs = [s.lower() for s in wanted if s.lower() in st.subscriptions]
        else:
            subs = list(st.subscriptions)
        key = hashlib.sha256(json.dumps([req["query"], subs, st.generation]).encode()).hexdigest()[:24]
        cached = st.rg_cache.get(key)
        if cached is None:
            rows, columns, limited = kql.run(parsed, rg_rows(st, parsed[0], subs))
            if len(st.rg_cache) > 64:
                st.rg_cache.clear()
            st.rg_cache[key] = cached = (rows, columns, limited)
        rows, columns, limited = cached
        size = st.page(top, 1000, 1000)
    start = skip
    tok = opts.get("$skipToken")
    if tok:
        doc = _read_skip_token(tok)
        if not isinstance(doc, dict) or doc.get("q") != key or not isinstance(doc.get("o"), int):
            raise arm_error(400, "BadRequest", "The $skipToken is invalid for this query.",
                            details=[{"code": "InvalidSkipToken", "message": "The skip token is not valid."}])
        start = doc["o"]
    page = rows[start:start + size]
    total = len(rows)
    more = start + len(page) < total
    pageable = not limited and (columns is None or "id" in columns)
    out = {"totalRecords": total, "count": len(page),
           "resultTruncated": "true" if (more and not pageable) else "false"}
    if more and pageable:
        out["$skipToken"] = _skip_token({"q": key, "o": start + len(page)})
    if fmt == "table":
        cols = columns or (list(rows[0].keys()) if rows else [])
        out["data"] = {"columns": [{"name": c, "type": _col_type([r.get(c) for r in page])} for c in cols],
                       "rows": [[r.get(c) for c in cols] for r in page]}
    elif fmt == "objectArray":
        out["data"] = page
    else:
        raise arm_error(400, "BadRequest", "Unknown resultFormat '%s'." % fmt)
    out["facets"] = []
    return 200, out, {"x-ms-user-quota-remaining": "14", "x-ms-user-quota-resets-after": "00:00:05"}


def _sub_doc(st, s):
    return {"id": "/subscriptions/" + s["id"], "authorizationSource": "RoleBased",
            "managedByTenants": [], "subscriptionId": s["id"], "tenantId": st.tenant,
            "displayName": s["display_name"], "state": s["state"], "tags": s["tags"],
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                     "quotaId": "EnterpriseAgreement_2014-09-01",
                                     "spendingLimit": "Off"}}


def _arm_list(h, items, path):
    """One page of an ARM list with nextLink ($skiptoken is an offset)."""
    st = h.server.state
    start = 0
    tok = h.q.get("$skiptoken")
    if tok:
        doc = _read_skip_token(tok)
        if not isinstance(doc, dict) or not isinstance(doc.get("o"), int):
            raise arm_error(400, "InvalidSkipToken", "The $skiptoken is invalid.")
        start = doc["o"]
    top = h.q.get("$top")
    with st.lock:
        size = st.page(int(top) if top and top.isdigit() else None, 1000, 1000)
    page = items[start:start + size]
    out = {"value": page}
    if start + len(page) < len(items):
        out["nextLink"] = "%s%s?%s" % (h.base_url(), path, urllib.parse.urlencode(
            {"api-version": h.q["api-version"], "$skiptoken": _skip_token({"o": start + len(page)})}, safe="$"))
    return out


def h_subscriptions(h):
    arm_api_version(h)
    h.check_token("arm")
    st = h.server.state
    with st.lock:
        items = [_sub_doc(st, s) for s in st.subscriptions.values()]
    out = _arm_list(h, items, "/subscriptions")
    out["count"] = {"type": "Total", "value": len(items)}
    return 200, out, {}


def h_subscription(h, sid):
    arm_api_version(h)
    h.check_token("arm")
    st = h.server.state
    with st.lock:
        s = st.subscriptions.get(sid.lower())
        if s is None:
            raise arm_error(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sid)
        return 200, _sub_doc(st, s), {}


def h_sub_resources(h, sid):
    arm_api_version(h)
    h.check_token("arm")
    st = h.server.state
    with st.lock:
        s = st.subscriptions.get(sid.lower())
        if s is None:
            raise arm_error(404, "SubscriptionNotFound", "The subscription '%s' could not be found." % sid)
        items = []
        for r in s["resources"]:
            d = {"id": r["id"], "name": r["name"], "type": r["type"], "location": r["location"]}
            for k in ("kind", "managedBy"):
                if r[k]:
                    d[k] = r[k]
            for k in ("sku", "plan", "identity", "zones", "extendedLocation"):
                if r[k] is not None:
                    d[k] = r[k]
            if r["tags"]:
                d["tags"] = r["tags"]
            items.append(d)
    return 200, _arm_list(h, items, "/subscriptions/%s/resources" % sid), {}


# ---------------------------------------------------------------- Key Vault

def kv_vault(h, prefix):
    """The vault a request is for: /kv/{name} prefix, the Host header's
    first label, or the default vault."""
    st = h.server.state
    if prefix:
        name = prefix.lower()
        base = "%s/kv/%s" % (h.base_url(), prefix)
    else:
        host = (h.headers.get("Host") or "").split(":")[0].strip("[]").lower()
        label = host.split(".")[0] if "." in host else ""
        name = label if label in st.vaults else st.default_vault
        base = h.base_url()
    v = st.vaults.get(name)
    if v is None:
        raise kv_error(404, "VaultNotFound", "The vault '%s' does not exist in this emulator." % name)
    return v, base


def kv_begin(h, prefix):
    api = h.q.get("api-version")
    h.check_token("kv")
    if not api:
        raise kv_error(400, "BadParameter", "The 'api-version' query parameter is required.")
    if api not in KV_API_VERSIONS:
        raise kv_error(400, "BadParameter", "The specified version (%s) is not recognized. Consider using the latest supported version (7.4)." % api)
    return kv_vault(h, prefix)


def kv_attrs(v):
    a = {"enabled": v["enabled"]}
    if v.get("nbf") is not None:
        a["nbf"] = int(v["nbf"])
    if v.get("exp") is not None:
        a["exp"] = int(v["exp"])
    a["created"] = v["created"]
    a["updated"] = v["updated"]
    a["recoveryLevel"] = "Recoverable+Purgeable"
    a["recoverableDays"] = RECOVERABLE_DAYS
    return a


def kv_bundle(base, s, v, value):
    out = {}
    if value:
        out["value"] = v["value"]
    out["id"] = "%s/secrets/%s/%s" % (base, s["name"], v["version"])
    if v.get("content_type") is not None:
        out["contentType"] = v["content_type"]
    out["attributes"] = kv_attrs(v)
    out["tags"] = dict(v["tags"])
    return out


def kv_item(base, s, v, with_version):
    out = {"id": "%s/secrets/%s" % (base, s["name"]) + ("/" + v["version"] if with_version else "")}
    if v.get("content_type") is not None:
        out["contentType"] = v["content_type"]
    out["attributes"] = kv_attrs(v)
    out["tags"] = dict(v["tags"])
    return out


def kv_deleted(base, s, bundle):
    bundle["recoveryId"] = "%s/deletedsecrets/%s" % (base, s["name"])
    bundle["deletedDate"] = s["deleted"]
    bundle["scheduledPurgeDate"] = s["scheduled_purge"]
    return bundle


def kv_not_found(name, version=None):
    what = name + ("/" + version if version else "")
    return kv_error(404, "SecretNotFound", "A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182" % what)


def kv_check_name(name):
    if not KV_NAME.match(name):
        raise kv_error(400, "BadParameter", "The request URI contains an invalid name: %s" % name)


def kv_page(h, base, path, items):
    """One page of a Key Vault list; items are (marker, doc) sorted by
    marker; $skiptoken carries the last marker returned."""
    st = h.server.state
    mr = h.q.get("maxresults")
    asked = None
    if mr:
        if not mr.isdigit() or not 1 <= int(mr) <= 25:
            raise kv_error(400, "BadParameter", "invalid maxresults: %s; it must be between 1 and 25." % mr)
        asked = int(mr)
    with st.lock:
        size = st.page(asked, 25, 25)
    tok = h.q.get("$skiptoken")
    if tok:
        doc = _read_skip_token(tok)
        if not isinstance(doc, dict) or not isinstance(doc.get("NextMarker"), str):
            raise kv_error(400, "BadParameter", "The $skiptoken is invalid.")
        items = [it for it in items if it[0] > doc["NextMarker"]]
    page = items[:size]
    nxt = None
    if len(items) > size:
        q = {"api-version": h.q["api-version"], "$skiptoken": _skip_token({"NextMarker": page[-1][0], "TargetLocation": 0})}
        if mr:
            q["maxresults"] = mr
        nxt = "%s%s?%s" % (base, path, urllib.parse.urlencode(q, safe="$"))
    return {"value": [d for _, d in page], "nextLink": nxt}


def kv_list(h, prefix):
    vault, base = kv_begin(h, prefix)
    with h.server.state.lock:
        items = [(k, kv_item(base, s, s["versions"][-1], False))
                 for k, s in sorted(vault["secrets"].items()) if s["versions"]]
    return 200, kv_page(h, base, "/secrets", items), {}


def kv_versions(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    with h.server.state.lock:
        s = vault["secrets"].get(name.lower())
        if s is None:
            raise kv_not_found(name)
        items = sorted(("%012d-%s" % (v["created"], v["version"]), kv_item(base, s, v, True))
                       for v in s["versions"])
    return 200, kv_page(h, base, "/secrets/%s/versions" % s["name"], items), {}


def kv_get(h, prefix, name, version=""):
    vault, base = kv_begin(h, prefix)
    with h.server.state.lock:
        s = vault["secrets"].get(name.lower())
        if s is None or not s["versions"]:
            raise kv_not_found(name)
        if version:
            v = next((x for x in s["versions"] if x["version"] == version), None)
            if v is None:
                raise kv_not_found(name, version)
        else:
            v = s["versions"][-1]
        if not v["enabled"]:
            raise kv_error(403, "Forbidden", "Operation get is not allowed on a disabled secret.", inner="SecretDisabled")
        return 200, kv_bundle(base, s, v, True), {}


def _kv_attr_input(doc, v):
    """Copies attributes/contentType/tags from a request into version v;
    raises 400 on a wrong type."""
    attrs = doc.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise kv_error(400, "BadParameter", "Invalid attributes.")
    for k in ("enabled",):
        if k in attrs and attrs[k] is not None:
            if not isinstance(attrs[k], bool):
                raise kv_error(400, "BadParameter", "Property attributes.enabled has invalid value.")
            v["enabled"] = attrs[k]
    for k in ("exp", "nbf"):
        if k in attrs:
            if attrs[k] is not None and (not isinstance(attrs[k], (int, float)) or isinstance(attrs[k], bool)):
                raise kv_error(400, "BadParameter", "Property attributes.%s has invalid value." % k)
            v[k] = int(attrs[k]) if attrs[k] is not None else None
    if "contentType" in doc:
        if doc["contentType"] is not None and not isinstance(doc["contentType"], str):
            raise kv_error(400, "BadParameter", "Property contentType has invalid value.")
        v["content_type"] = doc["contentType"]
    if "tags" in doc:
        tags = doc["tags"] or {}
        if not isinstance(tags, dict) or not all(isinstance(x, str) for x in tags.values()):
            raise kv_error(400, "BadParameter", "Property tags has invalid value.")
        if len(tags) > 15:
            raise kv_error(400, "BadParameter", "The number of tags exceeds the maximum of 15.")
        v["tags"] = dict(tags)


def kv_set(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    kv_check_name(name)
    doc = h.json_body(kv_error(400, "BadParameter", "The request body is not valid JSON."))
    if not isinstance(doc, dict) or not isinstance(doc.get("value"), str):
        raise kv_error(400, "BadParameter", "Property 'value' is required.")
    if len(doc["value"].encode("utf-8")) > 25 * 1024:
        raise kv_error(400, "BadParameter", "The secret value exceeds the maximum size of 25 KB.")
    st = h.server.state
    with st.lock:
        if name.lower() in vault["deleted"]:
            raise kv_error(409, "Conflict", "Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged." % name, inner="ObjectIsDeletedButRecoverable")
        t = int(now())
        v = {"version": uuid.uuid4().hex, "value": doc["value"], "enabled": True,
             "exp": None, "nbf": None, "created": t, "updated": t,
             "content_type": None, "tags": {}}
        _kv_attr_input(doc, v)
        s = vault["secrets"].setdefault(name.lower(), {"name": name, "versions": []})
        s["versions"].append(v)
        st.generation += 1
        return 200, kv_bundle(base, s, v, True), {}


def kv_update(h, prefix, name, version=""):
    vault, base = kv_begin(h, prefix)
    doc = h.json_body(kv_error(400, "BadParameter", "The request body is not valid JSON."))
    if not isinstance(doc, dict):
        raise kv_error(400, "BadParameter", "The request body must be an object.")
    st = h.server.state
    with st.lock:
        s = vault["secrets"].get(name.lower())
        if s is None or not s["versions"]:
            raise kv_not_found(name)
        if version:
            v = next((x for x in s["versions"] if x["version"] == version), None)
            if v is None:
                raise kv_not_found(name, version)
        else:
            v = s["versions"][-1]
        if "value" in doc:
            raise kv_error(400, "BadParameter", "The value of a secret version cannot be updated; set a new version instead.")
        trial = copy.deepcopy(v)
        _kv_attr_input(doc, trial)
        trial["updated"] = int(now())
        v.update(trial)
        st.generation += 1
        return 200, kv_bundle(base, s, v, False), {}


def kv_delete(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    st = h.server.state
    with st.lock:
        s = vault["secrets"].pop(name.lower(), None)
        if s is None:
            raise kv_not_found(name)
        t = int(now())
        s["deleted"] = t
        s["scheduled_purge"] = t + RECOVERABLE_DAYS * 86400
        vault["deleted"][name.lower()] = s
        st.generation += 1
        return 200, kv_deleted(base, s, kv_bundle(base, s, s["versions"][-1], False)), {}


def kv_deleted_list(h, prefix):
    vault, base = kv_begin(h, prefix)
    with h.server.state.lock:
        items = [(k, kv_deleted(base, s, kv_item(base, s, s["versions"][-1], False)))
                 for k, s in sorted(vault["deleted"].items())]
    return 200, kv_page(h, base, "/deletedsecrets", items), {}


def _deleted_not_found(name):
    return kv_error(404, "SecretNotFound", "Deleted Secret not found: %s" % name)


def kv_deleted_get(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    with h.server.state.lock:
        s = vault["deleted"].get(name.lower())
        if s is None:
            raise _deleted_not_found(name)
        return 200, kv_deleted(base, s, kv_bundle(base, s, s["versions"][-1], False)), {}


def kv_purge(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    st = h.server.state
    with st.lock:
        if vault["deleted"].pop(name.lower(), None) is None:
            raise _deleted_not_found(name)
        st.generation += 1
    return 204, None, {}


def kv_recover(h, prefix, name):
    vault, base = kv_begin(h, prefix)
    st = h.server.state
    with st.lock:
        s = vault["deleted"].pop(name.lower(), None)
        if s is None:
            raise _deleted_not_found(name)
        s.pop("deleted", None)
        s.pop("scheduled_purge", None)
        vault["secrets"][name.lower()] = s
        st.generation += 1
        return 200, kv_bundle(base, s, s["versions"][-1], False), {}


# ---------------------------------------------------------------- Graph

APP_DEFAULTS = {
    "id": None, "deletedDateTime": None, "appId": None, "applicationTemplateId": None,
    "createdDateTime": None, "description": None, "displayName": None,
    "identifierUris": [], "notes": None, "publisherDomain": None,
    "signInAudience": "AzureADMyOrg", "tags": [], "keyCredentials": [],
    "passwordCredentials": [],
}
SP_DEFAULTS = {
    "id": None, "deletedDateTime": None, "accountEnabled": True, "appId": None,
    "appDisplayName": None, "displayName": None, "servicePrincipalType": "Application",
    "servicePrincipalNames": [], "tags": [], "keyCredentials": [], "passwordCredentials": [],
}


def graph_cred(p):
    out = dict(p)
    out["secretText"] = None
    return out


def graph_app(app):
    out = dict(APP_DEFAULTS)
    out.update({k: v for k, v in app.items() if k != "passwordCredentials"})
    out["passwordCredentials"] = [graph_cred(p) for p in app["passwordCredentials"]]
    return out


def graph_sps(st):
    if st.sps is not None:
        return st.sps
    out = []
    for app in st.apps:
        out.append({"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "sp:" + app["id"])),
                    "appId": app.get("appId"), "appDisplayName": app.get("displayName"),
                    "displayName": app.get("displayName"),
                    "servicePrincipalNames": [app.get("appId")]})
    return out


def graph_sp(sp):
    out = dict(SP_DEFAULTS)
    out.update(sp)
    out["passwordCredentials"] = [graph_cred(p) for p in sp.get("passwordCredentials", [])]
    return out


_FILTER_EQ = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$")
_FILTER_SW = re.compile(r"^\s*startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$")


def graph_filter(expr, known):
    """A predicate for the $filter forms supported: P eq 'v' and
    startswith(P,'v'), joined by 'and' or 'or' (not mixed)."""
    if not expr:
        return lambda d: True
    joiner = " or " if " or " in expr else " and "
    preds = []
    for clause in expr.split(joiner):
        m = _FILTER_EQ.match(clause)
        sw = False
        if not m:
            m = _FILTER_SW.match(clause)
            sw = True
        if not m or m.group(1) not in known:
            raise graph_error(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property '%s' of resource 'Application'." % clause.strip())
        prop, val = m.group(1), m.group(2).replace("''", "'")
        if sw:
            preds.append(lambda d, p=prop, v=val: str(d.get(p) or "").lower().startswith(v.lower()))
        else:
            preds.append(lambda d, p=prop, v=val: str(d.get(p) or "").lower() == v.lower())
    if joiner == " or ":
        return lambda d: any(p(d) for p in preds)
    return lambda d: all(p(d) for p in preds)


def graph_list(h, version, collection, docs, defaults):
    h.check_token("graph")
    st = h.server.state
    known = set(defaults)
    for d in docs:
        known.update(d)
    sel = [s.strip() for s in (h.q.get("$select") or "").split(",") if s.strip()]
    for s in sel:
        if s not in known:
            raise graph_error(400, "Request_BadRequest", "Could not find a property named '%s' on type 'microsoft.graph.%s'." % (s, collection[:-1]))
    top = h.q.get("$top")
    if top is not None:
        if not top.isdigit() or not 1 <= int(top) <= 999:
            raise graph_error(400, "Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and 999 inclusive." % top)
    pred = graph_filter(h.q.get("$filter"), known)
    docs = [d for d in docs if pred(d)]
    start = 0
    tok = h.q.get("$skiptoken")
    if tok:
        doc = _read_skip_token(tok)
        if not isinstance(doc, dict) or not isinstance(doc.get("o"), int):
            raise graph_error(400, "Directory_ExpiredPageToken", "The specified page token value has expired and can no longer be included in your request.")
        start = doc["o"]
    with st.lock:
        size = st.page(int(top) if top else None, 100, 999)
    page = docs[start:start + size]
    if sel:
        page = [{k: d.get(k) for k in sel} for d in page]
    ctx = "%s/%s/$metadata#%s" % (h.base_url(), version, collection)
    if sel:
        ctx += "(%s)" % ",".join(sel)
    out = {"@odata.context": ctx}
    if (h.q.get("$count") or "").lower() == "true":
        out["@odata.count"] = len(docs)
    out["value"] = page
    if start + len(page) < len(docs):
        q = {k: v for k, v in h.q.items() if k != "$skiptoken"}
        q["$skiptoken"] = _skip_token({"o": start + len(page)})
        out["@odata.nextLink"] = "%s/%s/%s?%s" % (h.base_url(), version, collection,
                                                  urllib.parse.urlencode(q, safe="$,'"))
    return 200, out, {}


def g_apps(h, version):
    st = h.server.state
    with st.lock:
        docs = [graph_app(a) for a in st.apps]
    return graph_list(h, version, "applications", docs, APP_DEFAULTS)


def g_sps(h, version):
    st = h.server.state
    with st.lock:
        docs = [graph_sp(s) for s in graph_sps(st)]
    return graph_list(h, version, "servicePrincipals", docs, SP_DEFAULTS)


def find_app(st, key):
    """key is an object id, or appId='...' (alternate key)."""
    m = re.match(r"^\(appId='([^']*)'\)$", key)
    if m:
        app = next((a for a in st.apps if a.get("appId") == m.group(1)), None)
        shown = m.group(1)
    else:
        ident = key[1:] if key.startswith("/") else key
        if not GUID.match(ident):
            raise graph_error(400, "Request_BadRequest", "Invalid object identifier '%s'." % ident)
        app = next((a for a in st.apps if a["id"].lower() == ident.lower()), None)
        shown = ident
    if app is None:
        raise graph_error(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present." % shown)
    return app


def g_app(h, version, key):
    h.check_token("graph")
    st = h.server.state
    with st.lock:
        doc = graph_app(find_app(st, key))
    sel = [s.strip() for s in (h.q.get("$select") or "").split(",") if s.strip()]
    if sel:
        doc = {k: doc.get(k) for k in sel}
    doc = dict({"@odata.context": "%s/%s/$metadata#applications/$entity" % (h.base_url(), version)}, **doc)
    return 200, doc, {}


def _graph_json(h):
    return h.json_body(graph_error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))


def _new_secret():
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
    head = "".join(_secrets.choice(alphabet[:62]) for _ in range(3))
    tail = "".join(_secrets.choice(alphabet) for _ in range(34))
    return head + "8Q~" + tail


def g_add_password(h, version, key):
    h.check_token("graph")
    doc = _graph_json(h)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise graph_error(400, "BadRequest", "The request body must be an object.")
    pc = doc.get("passwordCredential") or {}
    if not isinstance(pc, dict):
        raise graph_error(400, "BadRequest", "Invalid passwordCredential.")
    t = now()
    start = t
    end = t + 2 * 365 * 86400
    for k in ("startDateTime", "endDateTime"):
        if pc.get(k) is not None:
            v = parse_iso(pc[k])
            if v is None:
                raise graph_error(400, "BadRequest", "Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'." % pc[k])
            if k == "startDateTime":
                start = v
            else:
                end = v
    if end <= start:
        raise graph_error(400, "InvalidKeyEndDate", "Key credential end date is invalid.")
    st = h.server.state
    with st.lock:
        app = find_app(st, key)
        secret = _new_secret()
        cred = {"customKeyIdentifier": None,
                "displayName": pc.get("displayName"),
                "endDateTime": iso(end, fraction=True),
                "hint": secret[:3],
                "keyId": new_guid(),
                "secretText": secret,
                "startDateTime": iso(start, fraction=True)}
        app["passwordCredentials"].append(cred)
        if st.propagation > 0:
            st.pw_ready[cred["keyId"]] = now() + st.propagation
        st.generation += 1
        out = {"@odata.context": "%s/%s/$metadata#microsoft.graph.passwordCredential" % (h.base_url(), version)}
        out.update(cred)
    return 200, out, {}


def g_remove_password(h, version, key):
    h.check_token("graph")
    doc = _graph_json(h)
    if not isinstance(doc, dict) or not isinstance(doc.get("keyId"), str):
        raise graph_error(400, "BadRequest", "The keyId parameter is required.")
    if not GUID.match(doc["keyId"]):
        raise graph_error(400, "BadRequest", "Cannot convert the literal '%s' to the expected type 'Edm.Guid'." % doc["keyId"])
    st = h.server.state
    with st.lock:
        app = find_app(st, key)
        creds = app["passwordCredentials"]
        keep = [p for p in creds if p["keyId"].lower() != doc["keyId"].lower()]
        if len(keep) == len(creds):
            raise graph_error(400, "Request_BadRequest", "No password credential found with keyId '%s'." % doc["keyId"])
        app["passwordCredentials"] = keep
        st.generation += 1
    return 204, None, {}


# ---------------------------------------------------------------- routing

def not_found(h, *args):
    path = urllib.parse.urlsplit(h.path).path
    msg = "The emulator does not serve %s %s." % (h.command, path)
    if re.match(Router.GRAPH + "/", path):
        raise graph_error(400, "BadRequest", "Resource not found for the segment in %s." % path)
    if re.match(Router.KV + r"/(keys|certificates|storage)\b", path):
        raise kv_error(404, "NotFound", msg)
    raise arm_error(404, "NotFound", msg)


class Router:
    KV = r"(?:/kv/([0-9A-Za-z-]+))?"
    GRAPH = r"/(v1\.0|beta)"

    def __init__(self):
        kv, g = self.KV, self.GRAPH
        t = r"/([^/]+)"
        self.routes = [
            ("POST", t + r"/oauth2/v2\.0/token", "token", "aad", h_token),
            ("GET", t + r"/v2\.0/\.well-known/openid-configuration", "openid", "aad", h_openid),
            ("GET", r"/common/discovery/instance", "instance_discovery", "aad", h_instance_discovery),
            ("GET", t + r"/discovery/v2\.0/keys", "keys", "aad", h_keys),
            ("POST", r"/providers/microsoft\.resourcegraph/resources", "rg.query", "rg", h_resource_graph),
            ("GET", r"/subscriptions", "arm.subscriptions", "arm", h_subscriptions),
            ("GET", r"/subscriptions/([^/]+)", "arm.subscription", "arm", h_subscription),
            ("GET", r"/subscriptions/([^/]+)/resources", "arm.resources", "arm", h_sub_resources),
            ("GET", kv + r"/secrets/?", "kv.list", "kv", kv_list),
            ("GET", kv + r"/secrets/([^/]+)/versions/?", "kv.versions", "kv", kv_versions),
            ("GET", kv + r"/secrets/([^/]+)(?:/([^/]*))?", "kv.get", "kv", kv_get),
            ("PUT", kv + r"/secrets/([^/]+)/?", "kv.set", "kv", kv_set),
            ("PATCH", kv + r"/secrets/([^/]+)(?:/([^/]*))?", "kv.update", "kv", kv_update),
            ("DELETE", kv + r"/secrets/([^/]+)/?", "kv.delete", "kv", kv_delete),
            ("GET", kv + r"/deletedsecrets/?", "kv.deleted.list", "kv", kv_deleted_list),
            ("GET", kv + r"/deletedsecrets/([^/]+)/?", "kv.deleted.get", "kv", kv_deleted_get),
            ("DELETE", kv + r"/deletedsecrets/([^/]+)/?", "kv.purge", "kv", kv_purge),
            ("POST", kv + r"/deletedsecrets/([^/]+)/recover/?", "kv.recover", "kv", kv_recover),
            ("GET", g + r"/applications/?", "graph.applications", "graph", g_apps),
            ("GET", g + r"/applications(/[^/()]+|\(appId='[^']*'\))", "graph.application", "graph", g_app),
            ("POST", g + r"/applications(/[^/()]+|\(appId='[^']*'\))/addPassword", "graph.addPassword", "graph", g_add_password),
            ("POST", g + r"/applications(/[^/()]+|\(appId='[^']*'\))/removePassword", "graph.removePassword", "graph", g_remove_password),
            ("GET", g + r"/servicePrincipals/?", "graph.servicePrincipals", "graph", g_sps),
        ]
        self.compiled = [(m, re.compile("^" + p + "$", re.I if "resourcegraph" in p else 0), r, s, f)
                         for m, p, r, s, f in self.routes]

    def match(self, method, path):
        for m, rx, route, svc, fn in self.compiled:
            if m != method:
                continue
            mt = rx.match(path)
            if mt:
                args = [a if a is not None else "" for a in mt.groups()]
                return route, svc, fn, args
        svc = "graph" if re.match(self.GRAPH + "/", path) else "arm"
        return "unknown", svc, not_found, []


# ---------------------------------------------------------------- server

class Server(socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, state, workers, tls_ctx, verbose, log_path):
        self.state = state
        self.router = Router()
        self.tls_ctx = tls_ctx
        self.scheme = "https" if tls_ctx else "http"
        self.verbose = verbose
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers,
                                                          thread_name_prefix="azemu")
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        super().__init__(addr, Handler)
        self.port = self.server_address[1]

    def log_request_line(self, method, path, status, route):
        if self.log_file is None:
            return
        line = json.dumps({"t": round(now(), 3), "method": method,
                           "path": urllib.parse.urlsplit(path).path, "route": route,
                           "status": status})
        with self.log_lock:
            self.log_file.write(line + "\n")

    def process_request(self, request, client_address):
        try:
            self.pool.submit(self._work, request, client_address)
        except RuntimeError:  # shutting down
            self.shutdown_request(request)

    def _work(self, sock, client_address):
        with self.conns_lock:
            self.conns.add(sock)
        try:
            conn = sock
            # Headers and body go out in separate writes: without this,
            # Nagle's algorithm and delayed ACKs add 40 ms to each answer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls_ctx is not None:
                sock.settimeout(10)
                conn = self.tls_ctx.wrap_socket(sock, server_side=True)
                conn.settimeout(None)
            self.finish_request(conn, client_address)
        except (ssl.SSLError, OSError, ValueError):
            pass
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            with self.conns_lock:
                self.conns.discard(sock)
            self.shutdown_request(sock)

    def stop(self):
        self.shutdown()
        self.server_close()
        with self.conns_lock:
            for c in list(self.conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.pool.shutdown(wait=True, cancel_futures=True)
        if self.log_file:
            self.log_file.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Azure emulator (Entra ID, Resource Graph, Key Vault, Graph) for cspf's tests.")
    ap.add_argument("--state", required=True, help="state file (JSON); see README.md")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--tls-cert", help="server certificate (PEM); with --tls-key serves https")
    ap.add_argument("--tls-key", help="server private key (PEM)")
    ap.add_argument("--workers", type=int, default=64, help="connections served at once")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args(argv)

    with open(args.state, encoding="utf-8") as f:
        state = State(json.load(f))
    ctx = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            ap.error("--tls-cert and --tls-key go together")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    server = Server(("127.0.0.1", args.port), state, max(1, args.workers), ctx,
                    args.verbose, args.log)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    if args.port_file:
        tmp = args.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % server.port)
        os.replace(tmp, args.port_file)
    sys.stderr.write("azure-emulator: listening on %s://127.0.0.1:%d\n" % (server.scheme, server.port))
    while not stop.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
