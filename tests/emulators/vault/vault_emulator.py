#!/usr/bin/python3
"""HashiCorp Vault emulator for cspf's tests: the KV version 2 secrets
engine, token and AppRole auth, namespaces, over HTTP/1.1 on 127.0.0.1.

  /v1/sys/health                           GET
  /v1/auth/token/lookup-self               GET
  /v1/auth/<approle mount>/login           POST {role_id, secret_id}
  /v1/<mount>/config                       GET, POST
  /v1/<mount>/data/<path>                  GET [?version=N], POST/PUT
                                           {data, options: {cas}}, PATCH
                                           (merge-patch), DELETE
  /v1/<mount>/metadata/<path>              GET, POST, PATCH, DELETE,
                                           LIST (or GET ?list=true)
  /v1/<mount>/delete|undelete|destroy/<p>  POST {versions: [...]}
  /_emulator/faults, /_emulator/stats, /_emulator/health   control

Secrets live in memory only, unless --persist names a file (the tests
that kill the emulator and start it again use one).  The request log
(--log) has one JSON line per request, without bodies, queries or headers.
Standard library only; run it with /usr/bin/python3.  See README.md.
"""

import argparse
import copy
import datetime
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
import http.server

DEFAULT_MAX_VERSIONS = 10
CM_MAX_KEYS = 64
CM_MAX_KEY_LEN = 128
CM_MAX_VALUE_LEN = 512


def now_iso(t=None):
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % d.microsecond


class VaultError(Exception):
    def __init__(self, status, errors=None, body=None):
        super().__init__(status)
        self.status = status
        self.body = body if body is not None else {"errors": errors or []}


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ---------------------------------------------------------------- state

class State:
    """Everything the server holds.  kv[(namespace, mount)] is a dict of
    path -> key: {"versions": {n: {"data", "created", "deleted",
    "destroyed"}}, "current": n, "oldest": n, "created", "updated",
    "max_versions", "cas_required", "custom_metadata",
    "delete_version_after"}."""

    def __init__(self, mounts, root_token, approles, token_ttl):
        self.lock = threading.Lock()
        self.mounts = mounts
        self.config = {}  # (ns, mount) -> {max_versions, cas_required, ...}
        self.kv = {}
        self.tokens = {}  # token -> {"policies", "expires" (0: never), ...}
        if root_token:
            self.tokens[root_token] = {"policies": ["root"], "expires": 0,
                                       "accessor": str(uuid.uuid4()),
                                       "display_name": "root"}
        self.approles = approles  # role_id -> secret_id
        self.token_ttl = token_ttl
        self.faults = {}
        self.faults_base = 0
        self.total = 0
        self.stats = {"total": 0, "status": {}, "injected": {}, "logins": 0}

    def engine(self, ns, mount):
        return self.kv.setdefault((ns, mount), {})

    def mount_config(self, ns, mount):
        return self.config.setdefault((ns, mount), {
            "max_versions": 0, "cas_required": False,
            "delete_version_after": "0s"})

    def to_doc(self):
        def key_doc(k):
            d = dict(k)
            d["versions"] = {str(n): v for n, v in k["versions"].items()}
            return d
        return {
            "kv": [{"namespace": ns, "mount": m,
                    "keys": {p: key_doc(k) for p, k in e.items()}}
                   for (ns, m), e in self.kv.items()],
            "config": [{"namespace": ns, "mount": m, "config": c}
                       for (ns, m), c in self.config.items()],
            "tokens": self.tokens,
        }

    def load_doc(self, doc):
        for e in doc.get("kv", []):
            keys = {}
            for p, k in e["keys"].items():
                k["versions"] = {int(n): v for n, v in k["versions"].items()}
                keys[p] = k
            self.kv[(e["namespace"], e["mount"])] = keys
        for c in doc.get("config", []):
            self.config[(c["namespace"], c["mount"])] = c["config"]
        self.tokens.update(doc.get("tokens", {}))

    def set_faults(self, f):
        if not isinstance(f, dict):
            raise ValueError("faults must be an object")
        known = {"latency_ms", "fail_at", "fail_status", "fail_every",
                 "throttle_at", "throttle_every", "retry_after_s",
                 "die_at", "die_after", "fail_path", "lose_answer_at"}
        bad = set(f) - known
        if bad:
            raise ValueError("unknown fault switches: %s" % ", ".join(sorted(bad)))
        f = copy.deepcopy(f)
        for k in ("fail_at", "throttle_at", "lose_answer_at"):
            f[k] = [int(x) for x in f.get(k) or []]
        for k in ("die_at", "die_after"):
            if f.get(k) is not None:
                f[k] = int(f[k])
        self.faults = f
        self.faults_base = self.total

    def next_call(self):
        """The fault for the next API call, under the lock: None,
        ("die",), ("die_after",), ("fail", status), ("lose_answer",)
        or ("throttle",)."""
        self.total += 1
        self.stats["total"] = self.total
        f = self.faults
        n = self.total - self.faults_base
        if f.get("die_at") == n:
            return ("die",)
        if f.get("die_after") == n:
            return ("die_after",)
        status = int(f.get("fail_status") or 503)
        if n in f.get("fail_at", ()):
            return ("fail", status)
        if n in f.get("lose_answer_at", ()):
            return ("lose_answer",)
        fe = int(f.get("fail_every") or 0)
        if fe > 0 and n % fe == 0:
            return ("fail", status)
        if n in f.get("throttle_at", ()):
            return ("throttle",)
        te = int(f.get("throttle_every") or 0)
        if te > 0 and n % te == 0:
            return ("throttle",)
        return None


# ---------------------------------------------------------------- KV v2

def envelope(data=None, auth=None, warnings=None):
    return {"request_id": str(uuid.uuid4()), "lease_id": "",
            "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": None, "warnings": warnings, "auth": auth,
            "mount_type": "kv" if auth is None else ""}


def version_meta(key, n):
    v = key["versions"][n]
    return {"created_time": v["created"],
            "custom_metadata": key["custom_metadata"] or None,
            "deletion_time": v["deleted"], "destroyed": v["destroyed"],
            "version": n}


def max_versions_of(st, ns, mount, key):
    m = key.get("max_versions") or st.mount_config(ns, mount).get("max_versions") or 0
    return m if m > 0 else DEFAULT_MAX_VERSIONS


def new_key(t):
    return {"versions": {}, "current": 0, "oldest": 0, "created": t,
            "updated": t, "max_versions": 0, "cas_required": False,
            "custom_metadata": {}, "delete_version_after": "0s"}


def check_custom_metadata(cm):
    if cm is None:
        return
    if not isinstance(cm, dict):
        raise VaultError(400, ["custom_metadata must be a map of strings"])
    errs = []
    if len(cm) > CM_MAX_KEYS:
        errs.append("payload must contain at most %d keys, provided %d" % (CM_MAX_KEYS, len(cm)))
    for k, v in cm.items():
        if len(k) > CM_MAX_KEY_LEN:
            errs.append("length of key \"%s\" is %d but max is %d" % (k, len(k), CM_MAX_KEY_LEN))
        if not isinstance(v, str):
            errs.append("value for key \"%s\" is not a string" % k)
        elif len(v) > CM_MAX_VALUE_LEN:
            errs.append("length of value for key \"%s\" is %d but max is %d" % (k, len(v), CM_MAX_VALUE_LEN))
    if errs:
        raise VaultError(400, ["%d errors occurred:\n%s\n\n" % (len(errs), "".join("\t* " + e + "\n" for e in errs))])


def kv_write(st, ns, mount, path, body, patch=False):
    if not isinstance(body, dict):
        raise VaultError(400, ["error parsing JSON"])
    data = body.get("data")
    if data is None:
        raise VaultError(400, ["no data provided"])
    if not isinstance(data, dict):
        raise VaultError(400, ["data must be a JSON object"])
    opts = body.get("options") or {}
    cas = opts.get("cas")
    eng = st.engine(ns, mount)
    key = eng.get(path)
    if patch and (key is None or not key["current"] or
                  key["versions"][key["current"]]["deleted"] or
                  key["versions"][key["current"]]["destroyed"]):
        raise VaultError(404, [])
    cas_required = st.mount_config(ns, mount).get("cas_required") or \
        (key is not None and key["cas_required"])
    if cas is None and cas_required:
        raise VaultError(400, ["check-and-set parameter required for this call"])
    if cas is not None:
        try:
            cas = int(cas)
        except (TypeError, ValueError):
            raise VaultError(400, ["error parsing cas"])
        current = key["current"] if key else 0
        if cas != current:
            raise VaultError(400, ["check-and-set parameter did not match the current version"])
    t = now_iso()
    if key is None:
        key = eng[path] = new_key(t)
    if patch:
        data = merge_patch(key["versions"][key["current"]]["data"], data)
    n = key["current"] + 1
    key["versions"][n] = {"data": copy.deepcopy(data), "created": t,
                          "deleted": "", "destroyed": False}
    key["current"] = n
    key["updated"] = t
    if not key["oldest"]:
        key["oldest"] = n
    mx = max_versions_of(st, ns, mount, key)
    while len(key["versions"]) > mx:
        old = min(key["versions"])
        del key["versions"][old]
        key["oldest"] = min(key["versions"])
    return 200, envelope(version_meta(key, n))


def kv_read(st, ns, mount, path, q):
    key = st.engine(ns, mount).get(path)
    if key is None or not key["current"]:
        raise VaultError(404, [])
    n = key["current"]
    if "version" in q and q["version"] not in ("", "0"):
        try:
            n = int(q["version"])
        except ValueError:
            raise VaultError(400, ["error parsing version"])
    if n not in key["versions"]:
        raise VaultError(404, [])
    v = key["versions"][n]
    if v["deleted"] or v["destroyed"]:
        # Vault answers 404 and still says which version it was.
        raise VaultError(404, body=envelope({"data": None, "metadata": version_meta(key, n)}))
    return 200, envelope({"data": copy.deepcopy(v["data"]), "metadata": version_meta(key, n)})


def kv_metadata(st, ns, mount, path):
    key = st.engine(ns, mount).get(path)
    if key is None:
        raise VaultError(404, [])
    return 200, envelope({
        "cas_required": key["cas_required"], "created_time": key["created"],
        "current_version": key["current"],
        "custom_metadata": key["custom_metadata"] or None,
        "delete_version_after": key["delete_version_after"],
        "max_versions": key["max_versions"], "oldest_version": key["oldest"],
        "updated_time": key["updated"],
        "versions": {str(n): {"created_time": v["created"],
                              "deletion_time": v["deleted"],
                              "destroyed": v["destroyed"]}
                     for n, v in sorted(key["versions"].items())}})


def kv_metadata_write(st, ns, mount, path, body, patch=False):
    if not isinstance(body, dict):
        raise VaultError(400, ["error parsing JSON"])
    eng = st.engine(ns, mount)
    key = eng.get(path)
    if patch and key is None:
        raise VaultError(404, [])
    cm = body.get("custom_metadata")
    if patch and cm is not None:
        if not isinstance(cm, dict):
            raise VaultError(400, ["custom_metadata must be a map of strings"])
        cm = merge_patch(key["custom_metadata"], cm)
    check_custom_metadata(cm)
    t = now_iso()
    if key is None:
        key = eng[path] = new_key(t)
    if "max_versions" in body:
        key["max_versions"] = int(body["max_versions"] or 0)
    if "cas_required" in body:
        key["cas_required"] = bool(body["cas_required"])
    if "delete_version_after" in body:
        key["delete_version_after"] = str(body["delete_version_after"] or "0s")
    if cm is not None:
        key["custom_metadata"] = dict(cm)
    key["updated"] = t
    return 204, None


def kv_list(st, ns, mount, path):
    prefix = path.strip("/")
    prefix = prefix + "/" if prefix else ""
    keys = set()
    for p, k in st.engine(ns, mount).items():
        if not p.startswith(prefix):
            continue
        rest = p[len(prefix):]
        if "/" in rest:
            keys.add(rest.split("/", 1)[0] + "/")
        else:
            keys.add(rest)
    if not keys:
        raise VaultError(404, [])
    return 200, envelope({"keys": sorted(keys)})


def kv_versions_op(st, ns, mount, path, body, op):
    if not isinstance(body, dict) or not isinstance(body.get("versions"), list) or not body["versions"]:
        raise VaultError(400, ["no version number provided"])
    key = st.engine(ns, mount).get(path)
    if key is None:
        return 204, None
    t = now_iso()
    for n in body["versions"]:
        v = key["versions"].get(int(n))
        if v is None:
            continue
        if op == "delete" and not v["deleted"]:
            v["deleted"] = t
        elif op == "undelete" and not v["destroyed"]:
            v["deleted"] = ""
        elif op == "destroy":
            v["destroyed"] = True
            v["data"] = None
    key["updated"] = t
    return 204, None


# ---------------------------------------------------------------- HTTP

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cspf-vault-emulator/1"
    timeout = 120

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("vault-emulator: " + (fmt % args) + "\n")

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

    def do_LIST(self):
        self.dispatch("LIST")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-store")
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        if self.control_call:
            return
        st = self.server.state
        with st.lock:
            k = str(status)
            st.stats["status"][k] = st.stats["status"].get(k, 0) + 1
        self.server.log_line(self.command, self.path, status, self.ns)

    def dispatch(self, method):
        self.control_call = False
        self.ns = ""
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if path.startswith("/_emulator/"):
            self.control_call = True
            return self.control(method, path, raw)
        self.ns = (self.headers.get("X-Vault-Namespace") or "").strip("/")
        st = self.server.state
        with st.lock:
            action = st.next_call()
            latency = float(st.faults.get("latency_ms") or 0) / 1000.0
            retry_after = str(st.faults.get("retry_after_s", 1))
            if action is not None:
                inj = st.stats["injected"]
                inj[action[0]] = inj.get(action[0], 0) + 1
        if latency > 0:
            time.sleep(latency)
        if action is not None and action[0] == "die":
            self.server.log_line(method, self.path, 0, self.ns)
            self.server.die()
        if action is not None and action[0] == "fail":
            return self.send(action[1], {"errors": ["emulator: injected fault"]})
        if action is not None and action[0] == "throttle":
            return self.send(429, {"errors": ["request path \"%s\": rate limit quota exceeded" % path.lstrip("/")]},
                             {"Retry-After": retry_after})
        try:
            with st.lock:
                status, out = self.route(method, path, q, raw)
            if action is not None and action[0] == "die_after":
                # The call took effect; its answer is never sent.
                self.server.log_line(method, self.path, 0, self.ns)
                self.server.die()
            if method != "GET":
                self.server.save()
            if action is not None and action[0] == "lose_answer":
                # The call took effect, but its answer is an error (as
                # from a storage commit that outlived the request).
                return self.send(500, {"errors": ["context deadline exceeded"]})
            self.send(status, out)
        except VaultError as e:
            self.send(e.status, e.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the emulator: say so loudly
            sys.stderr.write("vault-emulator: internal error on %s %s: %r\n" % (method, path, e))
            import traceback
            traceback.print_exc()
            self.send(500, {"errors": ["emulator bug: %r" % e]})

    def json_body(self, raw):
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise VaultError(400, ["error parsing JSON"])

    def auth(self):
        st = self.server.state
        tok = self.headers.get("X-Vault-Token") or ""
        if not tok:
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                tok = auth[7:]
        t = st.tokens.get(tok)
        if t is None or (t["expires"] and t["expires"] < time.time()):
            raise VaultError(403, ["permission denied"])
        return tok, t

    def route(self, method, path, q, raw):
        st = self.server.state
        if not path.startswith("/v1/"):
            raise VaultError(404, [])
        rest = path[4:]
        if rest == "sys/health" and method in ("GET", "HEAD"):
            return 200, {"initialized": True, "sealed": False, "standby": False,
                         "performance_standby": False, "replication_performance_mode": "disabled",
                         "replication_dr_mode": "disabled", "server_time_utc": int(time.time()),
                         "version": "1.15.0+emulator", "cluster_name": "cspf-emulator",
                         "cluster_id": "00000000-0000-4000-8000-000000000000"}
        m = re.match(r"^auth/([^/]+)/login$", rest)
        if m and method in ("POST", "PUT"):
            return self.approle_login(m.group(1), self.json_body(raw))
        tok, t = self.auth()
        if rest == "auth/token/lookup-self" and method == "GET":
            return 200, envelope({"accessor": t["accessor"], "policies": t["policies"],
                                  "display_name": t["display_name"], "id": tok,
                                  "ttl": int(t["expires"] - time.time()) if t["expires"] else 0,
                                  "renewable": False, "type": "service",
                                  "namespace_path": (self.ns + "/") if self.ns else ""})
        for mount in sorted(st.mounts, key=len, reverse=True):
            if rest == mount or rest.startswith(mount + "/"):
                return self.kv(method, mount, rest[len(mount) + 1:], q, raw)
        raise VaultError(404, ["no handler for route \"%s\". route entry not found." % rest])

    def kv(self, method, mount, rest, q, raw):
        st, ns = self.server.state, self.ns
        if rest == "config":
            if method == "GET":
                c = st.mount_config(ns, mount)
                return 200, envelope(dict(c))
            if method in ("POST", "PUT"):
                b = self.json_body(raw)
                c = st.mount_config(ns, mount)
                for k in ("max_versions", "cas_required", "delete_version_after"):
                    if k in b:
                        c[k] = b[k]
                return 204, None
            raise VaultError(405, ["1 error occurred:\n\t* unsupported operation\n\n"])
        op, _, path = rest.partition("/")
        listing = method == "LIST" or (method == "GET" and q.get("list") in ("true", "1"))
        if op == "metadata" and listing:
            return kv_list(st, ns, mount, path)
        path = path.strip("/")
        if not path:
            raise VaultError(405, ["1 error occurred:\n\t* unsupported operation\n\n"])
        if op == "data":
            if method == "GET":
                return kv_read(st, ns, mount, path, q)
            if method in ("POST", "PUT"):
                return kv_write(st, ns, mount, path, self.json_body(raw))
            if method == "PATCH":
                if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/merge-patch+json":
                    raise VaultError(415, ["PATCH requires Content-Type application/merge-patch+json"])
                return kv_write(st, ns, mount, path, self.json_body(raw), patch=True)
            if method == "DELETE":
                key = st.engine(ns, mount).get(path)
                if key and key["current"]:
                    return kv_versions_op(st, ns, mount, path, {"versions": [key["current"]]}, "delete")
                return 204, None
        elif op == "metadata":
            if method == "GET":
                return kv_metadata(st, ns, mount, path)
            if method in ("POST", "PUT"):
                return kv_metadata_write(st, ns, mount, path, self.json_body(raw))
            if method == "PATCH":
                if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/merge-patch+json":
                    raise VaultError(415, ["PATCH requires Content-Type application/merge-patch+json"])
                return kv_metadata_write(st, ns, mount, path, self.json_body(raw), patch=True)
            if method == "DELETE":
                st.engine(ns, mount).pop(path, None)
                return 204, None
        elif op in ("delete", "undelete", "destroy") and method in ("POST", "PUT"):
            return kv_versions_op(st, ns, mount, path, self.json_body(raw), op)
        else:
            raise VaultError(404, ["no handler for route \"%s/%s\". route entry not found." % (mount, rest)])
        raise VaultError(405, ["1 error occurred:\n\t* unsupported operation\n\n"])

    def approle_login(self, auth_mount, b):
        st = self.server.state
        if auth_mount not in self.server.approle_mounts:
            raise VaultError(400, ["no handler for route \"auth/%s/login\". route entry not found." % auth_mount])
        role_id, secret_id = b.get("role_id"), b.get("secret_id")
        if not role_id:
            raise VaultError(400, ["missing role_id"])
        if role_id not in st.approles:
            raise VaultError(400, ["invalid role or secret ID"])
        want = st.approles[role_id]
        if not isinstance(secret_id, str) or not secrets.compare_digest(secret_id.encode(), want.encode()):
            raise VaultError(400, ["invalid role or secret ID"])
        tok = "hvs." + secrets.token_urlsafe(24)
        st.tokens[tok] = {"policies": ["default", "cspf"], "expires": time.time() + st.token_ttl,
                          "accessor": str(uuid.uuid4()), "display_name": "approle"}
        st.stats["logins"] += 1
        return 200, envelope(None, auth={
            "client_token": tok, "accessor": st.tokens[tok]["accessor"],
            "policies": ["default", "cspf"], "token_policies": ["default", "cspf"],
            "metadata": {"role_name": "cspf"}, "lease_duration": st.token_ttl,
            "renewable": True, "entity_id": str(uuid.uuid4()),
            "token_type": "service", "orphan": True})

    def control(self, method, path, raw):
        st = self.server.state
        if path == "/_emulator/health" and method == "GET":
            return self.send(200, {"ok": True})
        if path == "/_emulator/faults":
            if method == "POST":
                try:
                    f = json.loads(raw or b"{}")
                    with st.lock:
                        st.set_faults(f)
                        return self.send(200, st.faults)
                except ValueError as e:
                    return self.send(400, {"errors": [str(e)]})
            with st.lock:
                return self.send(200, st.faults)
        if path == "/_emulator/stats" and method == "GET":
            with st.lock:
                return self.send(200, st.stats)
        return self.send(404, {"errors": []})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, state, tls_ctx, verbose, log_path, persist, approle_mounts):
        self.state = state
        self.tls_ctx = tls_ctx
        self.verbose = verbose
        self.persist = persist
        self.approle_mounts = approle_mounts
        self.log_lock = threading.Lock()
        self.save_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        super().__init__(addr, Handler)
        self.port = self.server_address[1]

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls_ctx is not None:
            sock = self.tls_ctx.wrap_socket(sock, server_side=True)
        return sock, addr

    def log_line(self, method, path, status, ns):
        if self.log_file is None:
            return
        line = json.dumps({"t": round(time.time(), 3), "method": method,
                           "path": urllib.parse.urlsplit(path).path,
                           "namespace": ns, "status": status})
        with self.log_lock:
            self.log_file.write(line + "\n")

    def save(self):
        """With --persist: the state to its file (0600, atomically)."""
        if not self.persist:
            return
        # One save at a time, in order: a later state never loses to an
        # earlier one written after it.
        with self.save_lock:
            # Serialised under the state's lock: to_doc() shares the
            # state's dicts, which other requests change meanwhile.
            with self.state.lock:
                text = json.dumps(self.state.to_doc())
            tmp = "%s.tmp.%d" % (self.persist, os.getpid())
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, self.persist)

    def die(self):
        self.save()
        sys.stderr.write("vault-emulator: dying as asked (fault switch)\n")
        sys.stderr.flush()
        if self.log_file:
            self.log_file.flush()
        os._exit(3)


def main(argv=None):
    ap = argparse.ArgumentParser(description="HashiCorp Vault emulator (KV v2) for cspf's tests.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--tls-cert", help="server certificate (PEM); with --tls-key serves https")
    ap.add_argument("--tls-key", help="server private key (PEM)")
    ap.add_argument("--mount", action="append", default=None,
                    help="a KV v2 mount path (repeatable; default: secret)")
    ap.add_argument("--approle-mount", action="append", default=None,
                    help="an AppRole auth mount (repeatable; default: approle)")
    ap.add_argument("--approle", action="append", default=[],
                    help="ROLE_ID=ENV: a role whose secret id is in environment variable ENV")
    ap.add_argument("--token-ttl", type=int, default=3600, help="lifetime of AppRole tokens (s)")
    ap.add_argument("--persist", help="keep the state in this file (mode 0600) across restarts")
    ap.add_argument("--log", help="append one JSON line per request (no bodies) to this file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    # Like `vault server -dev`: the root token comes from the environment.
    root = os.environ.get("VAULT_DEV_ROOT_TOKEN_ID") or ""
    if not root:
        ap.error("set VAULT_DEV_ROOT_TOKEN_ID to the root token")
    approles = {}
    for spec in args.approle:
        role_id, _, env = spec.partition("=")
        if not role_id or not env or not os.environ.get(env):
            ap.error("--approle ROLE_ID=ENV, with ENV set to the secret id")
        approles[role_id] = os.environ[env]
    state = State(args.mount or ["secret"], root, approles, args.token_ttl)
    if args.persist and os.path.exists(args.persist):
        with open(args.persist, encoding="utf-8") as f:
            state.load_doc(json.load(f))
    ctx = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            ap.error("--tls-cert and --tls-key go together")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    server = Server(("127.0.0.1", args.port), state, ctx, args.verbose, args.log,
                    args.persist, args.approle_mount or ["approle"])

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
    sys.stderr.write("vault-emulator: listening on %s://127.0.0.1:%d\n"
                     % ("https" if ctx else "http", server.port))
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if server.log_file:
        server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
