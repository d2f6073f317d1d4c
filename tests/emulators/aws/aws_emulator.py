#!/usr/bin/python3
"""AWS emulator for cspf's tests and benchmarks.

One HTTP/1.1 server on 127.0.0.1 that speaks, on one port, the documented
wire protocols of IAM and STS (query protocol, XML), S3 (REST XML,
path-style), CloudTrail and Secrets Manager (JSON 1.1), checks every signed request's SigV4
signature against the secrets in a state file, and injects faults
(latency, throttling, server errors, dropped connections, small pages).

Standard library only; run it with /usr/bin/python3.  See README.md beside
this file for the state file, the command line and the fault switches.
"""

import argparse
import base64
import calendar
import datetime
import functools
import hashlib
import hmac
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape as _xml_escape

IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
CT_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
SM_PREFIX = "secretsmanager."
JSON_SERVICES = ("cloudtrail", "secretsmanager")
IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"
MAX_SKEW = 15 * 60
REPORT_TTL = 4 * 3600
MAX_BODY = 1 << 20
LOOKUP_RATE = 2      # LookupEvents calls per second per account and region
LOOKUP_KEEP = 10000  # arrivals kept per account and region for the stats
LOOKUP_MAX_RESULTS = 50
CT_LOOKUP_KEYS = ("EventId", "EventName", "ReadOnly", "Username",
                  "ResourceType", "ResourceName", "EventSource",
                  "AccessKeyId")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

FAULT_KEYS = {
    "latency_ms", "throttle_every", "error_every", "drop_at",
    "drop_partial_at", "page_size", "fail_action", "propagation_delay_ms",
    "report_delay_ms", "fail_at", "die_at",
}


class ApiError(Exception):
    """An error answered in the service's own format."""

    def __init__(self, code, message, status=400, sender=True, extra=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.sender = sender
        self.extra = extra or {}


class Drop(Exception):
    """Close the connection without an answer."""


# ---------------------------------------------------------------- time

class Clock:
    """The emulator's clock: real time plus an offset tests may advance
    (POST /_emulator/clock).  Only expiry decisions use the offset; the
    X-Amz-Date skew check uses real time, as the client signs with it."""
    offset = 0.0

    @classmethod
    def now(cls):
        return time.time() + cls.offset


@functools.lru_cache(maxsize=1 << 17)
def parse_time(s):
    """ISO 8601 text -> epoch seconds, or None."""
    if not s or not isinstance(s, str):
        return None
    try:
        d = datetime.datetime.fromisoformat(s.strip())
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return d.timestamp()


def iso_z(t):
    """IAM/STS style: 2020-01-01T00:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def iso_ms(t):
    """S3 style: 2020-01-01T00:00:00.000Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


def iso_offset(t):
    """Credential report style: 2020-01-01T00:00:00+00:00."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t))


@functools.lru_cache(maxsize=1 << 17)
def fmt(s, style="z"):
    """State time text -> wire text in a style; None stays None."""
    t = parse_time(s)
    if t is None:
        return None
    return {"z": iso_z, "ms": iso_ms, "off": iso_offset}[style](t)


def now_text():
    return iso_z(Clock.now())


# ---------------------------------------------------------------- ids

def derive_id(prefix, text, n=17):
    """A stable IAM-style id: prefix + n base32 characters of a hash."""
    h = hashlib.sha256(text.encode()).digest()
    out = []
    for b in h:
        out.append(B32[b & 31])
        if len(out) == n:
            break
    return prefix + "".join(out)


def random_id(prefix, n=16):
    return prefix + "".join(secrets.choice(B32) for _ in range(n))


def random_secret():
    return base64.b64encode(secrets.token_bytes(30)).decode()[:40]


# ---------------------------------------------------------------- xml

def x(s):
    return _xml_escape(str(s))


def el(name, value):
    """<name>value</name>, or '' when value is None."""
    if value is None:
        return ""
    if value is True:
        value = "true"
    elif value is False:
        value = "false"
    return "<%s>%s</%s>" % (name, x(value), name)


def members(name, items):
    return "<%s>%s</%s>" % (name, "".join(
        "<member>%s</member>" % i for i in items), name)


def policy_text(p):
    """IAM returns policy documents URL-encoded (RFC 3986)."""
    if p is None:
        return None
    if not isinstance(p, str):
        p = json.dumps(p, separators=(",", ":"))
    return quote(p, safe="-_.~")


# ---------------------------------------------------------------- state

class User:
    __slots__ = ("d", "name", "path", "id", "arn", "created", "xml")

    def __init__(self, acct, d):
        self.d = d
        self.name = d["name"]
        self.path = d.get("path") or "/"
        self.id = d.get("id") or derive_id("AIDA", acct + ":user:" + self.name)
        self.arn = "arn:aws:iam::%s:user%s%s" % (acct, self.path, self.name)
        self.created = d.get("created") or "2020-01-01T00:00:00Z"
        self.xml = {}  # user_xml() cache: no API call changes these fields
        d.setdefault("access_keys", [])
        d.setdefault("mfa_devices", [])


class Role:
    __slots__ = ("d", "name", "path", "id", "arn", "created", "max_session")

    def __init__(self, acct, d):
        self.d = d
        self.name = d["name"]
        self.path = d.get("path") or "/"
        self.id = d.get("id") or derive_id("AROA", acct + ":role:" + self.name)
        self.arn = "arn:aws:iam::%s:role%s%s" % (acct, self.path, self.name)
        self.created = d.get("created") or "2020-01-01T00:00:00Z"
        self.max_session = int(d.get("max_session_duration") or 3600)


class Account:
    def __init__(self, acct_id, d, in_state=True):
        self.id = acct_id
        self.d = d
        self.in_state = in_state
        self.alias = d.get("alias")
        root = d.setdefault("root", {})
        root.setdefault("access_keys", [])
        self.root = root
        self.created = d.get("created") or root.get("created") or \
            "2015-01-01T00:00:00Z"
        self.users = [User(acct_id, u) for u in d.setdefault("users", [])]
        self.users_by_name = {u.name: u for u in self.users}
        roles = d.setdefault("roles", [])
        names = {r["name"] for r in roles}
        for name in d.get("assumable_roles") or []:
            if name not in names:
                roles.append({"name": name})
                names.add(name)
        self.roles = [Role(acct_id, r) for r in roles]
        self.roles_by_name = {r.name: r for r in self.roles}
        self.buckets = d.setdefault("buckets", [])
        self.trails = d.setdefault("trails", [])
        ct = d.get("cloudtrail_events") or {}
        if not isinstance(ct, dict):
            raise ValueError("account %s: cloudtrail_events must map "
                             "regions to lists of records" % acct_id)
        for region, recs in ct.items():
            if not isinstance(recs, list):
                raise ValueError("account %s: cloudtrail_events.%s must be "
                                 "a list" % (acct_id, region))
            for rec in recs:
                ct_check_record(rec)
        # access key id -> (User or None for root, key dict)
        self.keys = {}
        for u in self.users:
            for k in u.d["access_keys"]:
                self.keys[k["id"]] = (u, k)
        for k in root["access_keys"]:
            self.keys[k["id"]] = (None, k)
        self.report = None  # (generated epoch, ready epoch, csv bytes)
        self.canonical_id = hashlib.sha256(
            ("canonical:" + acct_id).encode()).hexdigest()

    def trail_arn(self, t):
        return "arn:aws:cloudtrail:%s:%s:trail/%s" % (
            t.get("home_region") or "us-east-1", self.id, t["name"])


class Principal:
    """Who signed a request: a long-term key or temporary credentials."""
    __slots__ = ("akid", "secret", "account", "arn", "user_id", "user",
                 "key", "kind", "role", "session", "expires", "born",
                 "token")

    def __init__(self, **kw):
        for s in self.__slots__:
            setattr(self, s, kw.get(s))


class World:
    def __init__(self, state, master_key):
        self.state = state
        self.master = master_key
        self.lock = threading.RLock()
        self.accounts = {}
        for acct_id, d in (state.get("accounts") or {}).items():
            self.accounts[acct_id] = Account(acct_id, d)
        self.keys = {}  # access key id -> Principal
        self.buckets = {}  # bucket name -> (Account, bucket dict)
        for a in self.accounts.values():
            for b in a.buckets:
                self.buckets[b["name"]] = (a, b)
            for u in a.users:
                for k in u.d["access_keys"]:
                    self._index_user_key(a, u, k)
            for k in a.root["access_keys"]:
                if k.get("secret"):
                    self.keys[k["id"]] = Principal(
                        akid=k["id"], secret=k["secret"], account=a.id,
                        arn="arn:aws:iam::%s:root" % a.id, user_id=a.id,
                        key=k, kind="root")
        for p in state.get("principals") or []:
            self._add_principal(state, p)
        self.web_tokens = {}
        for t in state.get("web_identity_tokens") or []:
            if isinstance(t, str):
                t = {"token": t}
            self.web_tokens[t["token"]] = t

    def _add_principal(self, state, p):
        """A principal is a user (or the root) of its account like any
        other: its account and user are added to the state when missing,
        its key to the user's keys, so ListUsers lists it and
        UpdateAccessKey/DeleteAccessKey on it take effect."""
        acct_id, akid = p["account"], p["access_key_id"]
        arn = p.get("arn") or "arn:aws:iam::%s:user/%s" % (acct_id, akid)
        a = self.accounts.get(acct_id)
        if a is None:
            d = {}
            state.setdefault("accounts", {})[acct_id] = d
            a = self.accounts[acct_id] = Account(acct_id, d)
        created = p.get("created") or a.created
        if arn == "arn:aws:iam::%s:root" % acct_id:
            user, keys, uid, kind = None, a.root["access_keys"], acct_id, "root"
        else:
            m = re.match(r"arn:aws:iam::(\d{12}):user(/(?:[^/]+/)*)([^/]+)$",
                         arn)
            if not m or m.group(1) != acct_id:
                raise ValueError("principal %s: arn %s is not a user or the "
                                 "root of account %s" % (akid, arn, acct_id))
            user = a.users_by_name.get(m.group(3))
            if user is None:
                d = {"name": m.group(3), "path": m.group(2),
                     "created": created, "password": None,
                     "mfa_devices": [], "access_keys": []}
                a.d["users"].append(d)
                user = User(acct_id, d)
                a.users.append(user)
                a.users_by_name[user.name] = user
            keys, uid, kind = user.d["access_keys"], user.id, "user"
        key = next((k for k in keys if k["id"] == akid), None)
        if key is None:
            key = {"id": akid, "status": "Active", "created": created,
                   "last_used": None}
            keys.append(key)
        a.keys[akid] = (user, key)
        self.keys[akid] = Principal(
            akid=akid, secret=p["secret_access_key"], account=acct_id,
            arn=user.arn if user else arn, user_id=uid, user=user, key=key,
            kind=kind)

    def _index_user_key(self, acct, user, k, born=None):
        if k.get("secret"):
            self.keys[k["id"]] = Principal(
                akid=k["id"], secret=k["secret"], account=acct.id,
                arn=user.arn, user_id=user.id, user=user, key=k,
                kind="user", born=born)

    def account(self, acct_id):
        a = self.accounts.get(acct_id)
        if a is None:
            with self.lock:
                a = self.accounts.get(acct_id)
                if a is None:
                    a = Account(acct_id, {}, in_state=False)
                    self.accounts[acct_id] = a
        return a

    # Temporary credentials are self-describing: the session token holds
    # the session, MAC'd with a key every worker shares, so any worker
    # can check credentials another one issued.
    def issue_temp(self, acct, role, session, duration, source_arn):
        akid = random_id("ASIA")
        exp = int(Clock.now()) + duration
        payload = json.dumps({"k": akid, "a": acct.id, "r": role.name,
                              "p": role.path, "i": role.id, "s": session,
                              "e": exp, "n": secrets.token_hex(8),
                              "src": source_arn},
                             separators=(",", ":")).encode()
        mac = hmac.new(self.master, b"t" + payload, hashlib.sha256).digest()
        token = "IQoJb3JpZ2luX2Vj" + base64.b64encode(
            payload + b"\0" + mac).decode()
        return akid, self._temp_secret(payload), token, exp

    def _temp_secret(self, payload):
        return base64.b64encode(hmac.new(
            self.master, b"s" + payload, hashlib.sha256).digest()).decode()[:40]

    def temp_principal(self, akid, token):
        """Principal for temporary credentials, or None if the token is
        not one of ours or not for this key."""
        if not token or not token.startswith("IQoJb3JpZ2luX2Vj"):
            return None
        try:
            raw = base64.b64decode(token[16:], validate=True)
            payload, mac = raw[:-33], raw[-32:]
            if raw[-33:-32] != b"\0":
                return None
            want = hmac.new(self.master, b"t" + payload,
                            hashlib.sha256).digest()
            if not hmac.compare_digest(mac, want):
                return None
            p = json.loads(payload)
        except (ValueError, TypeError):
            return None
        if p.get("k") != akid:
            return None
        return Principal(
            akid=akid, secret=self._temp_secret(payload), account=p["a"],
            arn="arn:aws:sts::%s:assumed-role/%s/%s" % (p["a"], p["r"],
                                                        p["s"]),
            user_id="%s:%s" % (p["i"], p["s"]), kind="assumed-role",
            role=p["r"], session=p["s"], expires=p["e"], token=token)


# ---------------------------------------------------------------- faults

class Faults:
    """Fault switches and the call counter they count with.  Setting the
    faults (at start or by POST /_emulator/faults) restarts the count at 0,
    so 'every Nth call' and 'drop at call K' are deterministic."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.set(cfg or {})

    @staticmethod
    def validate(cfg):
        if not isinstance(cfg, dict):
            raise ValueError("faults must be a JSON object")
        bad = set(cfg) - FAULT_KEYS
        if bad:
            raise ValueError("unknown fault switch(es): %s (known: %s)" % (
                ", ".join(sorted(bad)), ", ".join(sorted(FAULT_KEYS))))
        for k in ("latency_ms", "throttle_every", "error_every", "page_size",
                  "propagation_delay_ms", "report_delay_ms"):
            v = cfg.get(k)
            if v is not None and (not isinstance(v, (int, float))
                                  or isinstance(v, bool) or v < 0):
                raise ValueError("%s must be a number >= 0" % k)
        for k in ("drop_at", "drop_partial_at", "fail_at", "die_at"):
            v = cfg.get(k, [])
            if not isinstance(v, list) or not all(
                    isinstance(i, int) for i in v):
                raise ValueError("%s must be a list of call numbers" % k)
        fa = cfg.get("fail_action", {})
        if not isinstance(fa, dict):
            raise ValueError("fail_action must be an object")
        for act, spec in fa.items():
            if isinstance(spec, dict):
                if not isinstance(spec.get("count", 1), int):
                    raise ValueError("fail_action.%s.count must be an "
                                     "integer" % act)
            elif not isinstance(spec, int) or isinstance(spec, bool):
                raise ValueError("fail_action.%s must be a count or an "
                                 "object" % act)

    def set(self, cfg):
        self.validate(cfg)
        with self.lock:
            self.cfg = dict(cfg)
            self.counter = 0
            self.injected_errors = 0
            self.fail_seen = {}
            self.drop_at = set(cfg.get("drop_at", []))
            self.drop_partial_at = set(cfg.get("drop_partial_at", []))
            self.fail_at = set(cfg.get("fail_at", []))
            self.die_at = set(cfg.get("die_at", []))

    def get(self, key, default=None):
        return self.cfg.get(key, default)

    def decide(self, service, action):
        """Counts one call; returns (call number, fault or None).  A fault
        is ('drop',), ('partial',), ('throttle',), or ('error', code,
        status, message)."""
        with self.lock:
            self.counter += 1
            n = self.counter
            if n in self.die_at:
                return n, ("die",)
            if n in self.fail_at:
                self.injected_errors += 1
                return n, ("error", None, 500, None)
            if n in self.drop_at:
                return n, ("drop",)
            if n in self.drop_partial_at:
                return n, ("partial",)
            te = self.cfg.get("throttle_every")
            if te and n % int(te) == 0:
                return n, ("throttle",)
            ee = self.cfg.get("error_every")
            if ee and n % int(ee) == 0:
                self.injected_errors += 1
                if self.injected_errors % 2:
                    return n, ("error", None, 500, None)
                return n, ("error", None, 503, None)
            fa = self.cfg.get("fail_action")
            if fa:
                spec = fa.get(action)
                if spec is None:
                    spec = fa.get("%s:%s" % (service, action))
                if spec is not None:
                    if not isinstance(spec, dict):
                        spec = {"count": spec}
                    count = spec.get("count", 1)
                    seen = self.fail_seen.get(action, 0)
                    if count < 0 or seen < count:
                        self.fail_seen[action] = seen + 1
                        return n, ("error", spec.get("code"),
                                   int(spec.get("status", 500)),
                                   spec.get("message"))
            return n, None


class LookupLimiter:
    """LookupEvents' documented limit: 2 calls per second per account and
    region.  A call is refused (ThrottlingException) when two calls were
    accepted in the second before it; refused calls do not count against
    the limit.  Every call's arrival is kept (the last LOOKUP_KEEP per
    account and region) for the stats: the highest number of calls that
    arrived within one second, refused ones included, is what a client
    that keeps to the limit must hold at 2."""

    def __init__(self, rate=2):
        self.lock = threading.Lock()
        self.rate = rate
        self.reset()

    def reset(self):
        with self.lock:
            self.accepted = {}  # "ACCT/REGION" -> [monotonic times]
            self.arrived = {}
            self.refused = {}

    def admit(self, key):
        now = time.monotonic()
        with self.lock:
            arr = self.arrived.setdefault(key, [])
            arr.append(now)
            del arr[:-LOOKUP_KEEP]
            acc = [t for t in self.accepted.get(key, []) if now - t < 1.0]
            if self.rate and len(acc) >= self.rate:
                self.accepted[key] = acc
                self.refused[key] = self.refused.get(key, 0) + 1
                return False
            acc.append(now)
            self.accepted[key] = acc
            return True

    def snapshot(self):
        out = {}
        with self.lock:
            for key, arr in self.arrived.items():
                peak, j = 0, 0
                for i, t in enumerate(arr):
                    while t - arr[j] >= 1.0:
                        j += 1
                    peak = max(peak, i - j + 1)
                out[key] = {"calls": len(arr),
                            "throttled": self.refused.get(key, 0),
                            "max_per_second": peak}
        return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.d = {"requests": 0, "by_action": {}, "by_service": {},
                      "by_status": {}, "throttled": 0, "errors_5xx": 0,
                      "injected_errors": 0, "dropped": 0,
                      "signature_failures": 0, "auth_failures": 0}

    def bump(self, key, n=1):
        with self.lock:
            self.d[key] += n

    def request(self, service, action):
        with self.lock:
            self.d["requests"] += 1
            ba = self.d["by_action"]
            ba[action] = ba.get(action, 0) + 1
            bs = self.d["by_service"]
            bs[service] = bs.get(service, 0) + 1

    def status(self, code):
        with self.lock:
            bs = self.d["by_status"]
            k = str(code)
            bs[k] = bs.get(k, 0) + 1
            if code >= 500:
                self.d["errors_5xx"] += 1

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.d))


# ---------------------------------------------------------------- sigv4

_key_cache = {}


def signing_key(secret, date, region, service):
    k = (secret, date, region, service)
    v = _key_cache.get(k)
    if v is None:
        v = hmac.new(("AWS4" + secret).encode(), date.encode(),
                     hashlib.sha256).digest()
        for part in (region, service, "aws4_request"):
            v = hmac.new(v, part.encode(), hashlib.sha256).digest()
        if len(_key_cache) > 50000:
            _key_cache.clear()
        _key_cache[k] = v
    return v


def remove_dot_segments(path):
    if not path:
        return "/"
    out = []
    for seg in path.split("/"):
        if seg and seg != ".":
            if seg == "..":
                if out:
                    out.pop()
            else:
                out.append(seg)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path, s3):
    """S3 encodes the path once and keeps it as it is; every other service
    normalizes it and encodes it twice (SigV4 documentation)."""
    once = quote(unquote(raw_path or "/"), safe="/~")
    if s3:
        return once or "/"
    return quote(remove_dot_segments(once), safe="/~")


def canonical_query(raw_query, drop=None):
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        k, _, v = part.partition("=")
        k = unquote(k)
        if k == drop:
            continue
        pairs.append((quote(k, safe="-_.~"), quote(unquote(v), safe="-_.~")))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def parse_authorization(value):
    """'AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..' ->
    dict, or None when malformed."""
    alg, _, rest = value.strip().partition(" ")
    if alg != "AWS4-HMAC-SHA256":
        return None
    out = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep:
            return None
        out[k] = v
    if not {"Credential", "SignedHeaders", "Signature"} <= set(out):
        return None
    return out


# ---------------------------------------------------------------- server

class Emulator:
    """Everything one worker process holds."""

    def __init__(self, state, master_key, verbose=False, log_path=None):
        self.world = World(state, master_key)
        self.faults = Faults(state.get("faults") or {})
        self.stats = Stats()
        self.lookup = LookupLimiter(LOOKUP_RATE)
        self.verbose = verbose
        self.log_lock = threading.Lock()
        self.log = open(log_path, "a", buffering=1) if log_path else None

    def log_request(self, r, status):
        """One line per call: time, service, action, signing key id,
        status (0: no answer).  Never a body, a header value or a
        secret."""
        if self.log is None:
            return
        akid = "-"
        m = re.search(r"Credential=([A-Z0-9]{16,128})/",
                      r.headers.get("Authorization") or "")
        if m:
            akid = m.group(1)
        with self.log_lock:
            self.log.write("%s %s %s %s %d\n" % (
                iso_z(time.time()), r.service, r.action, akid, status))


def service_error_body(service, err, request_id):
    """(content type, body bytes) of an error in the service's format."""
    if service in JSON_SERVICES:
        body = {"__type": err.code}
        if err.message is not None:
            # Secrets Manager spells it "Message", CloudTrail "message".
            body["Message" if service == "secretsmanager" else "message"] = \
                err.message
        body.update(err.extra)
        return "application/x-amz-json-1.1", json.dumps(body).encode()
    if service == "s3":
        extra = "".join(el(k, v) for k, v in err.extra.items())
        return "application/xml", (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>%s%s%s%s%s'
            '</Error>' % (el("Code", err.code), el("Message", err.message),
                          extra, el("RequestId", request_id),
                          el("HostId", s3_host_id(request_id)))).encode()
    ns = STS_NS if service == "sts" else IAM_NS
    return "text/xml", (
        '<ErrorResponse xmlns="%s"><Error><Type>%s</Type>%s%s</Error>%s'
        '</ErrorResponse>' % (ns, "Sender" if err.sender else "Receiver",
                              el("Code", err.code), el("Message", err.message),
                              el("RequestId", request_id))).encode()


def s3_host_id(rid):
    return base64.b64encode(hashlib.sha256(rid.encode()).digest()).decode()


def throttle_error(service):
    if service == "s3":
        return ApiError("SlowDown", "Please reduce your request rate.", 503)
    if service in JSON_SERVICES:
        return ApiError("ThrottlingException", "Rate exceeded", 400)
    return ApiError("Throttling", "Rate exceeded", 400)


def injected_error(service, code, status, message):
    if code:
        return ApiError(code, message or "Injected failure (fail_action)",
                        status, sender=status < 500)
    if service == "s3":
        if status == 503:
            return ApiError("ServiceUnavailable",
                            "Service is unable to handle request.", 503,
                            False)
        return ApiError("InternalError", "We encountered an internal error. "
                        "Please try again.", 500, False)
    if status == 503:
        return ApiError("ServiceUnavailable", "Service is unavailable.", 503,
                        False)
    if service == "secretsmanager":
        return ApiError("InternalServiceError", "An error occurred on the "
                        "server side.", 500, False)
    return ApiError("InternalFailure", "An internal error has occurred.", 500,
                    False)


class Request:
    __slots__ = ("method", "raw_path", "raw_query", "headers", "body",
                 "service", "action", "params", "region", "principal",
                 "account", "request_id", "signed", "bucket", "key")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cspf-aws-emulator"
    sys_version = ""
    emu = None  # set on the class before serving

    def log_message(self, fmt, *args):
        if self.emu.verbose:
            sys.stderr.write("aws-emulator: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY,
                                       1)
        except OSError:
            pass

    def do_GET(self):
        self.serve("GET")

    def do_POST(self):
        self.serve("POST")

    def do_HEAD(self):
        self.serve("HEAD")

    def do_PUT(self):
        self.serve("PUT")

    def do_DELETE(self):
        self.serve("DELETE")

    # -- plumbing

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise Drop()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise Drop()
        return self.rfile.read(n) if n else b""

    def write(self, status, ctype, body, headers=(), head=False):
        reason = http.server.BaseHTTPRequestHandler.responses.get(
            status, ("Unknown",))[0]
        lines = ["HTTP/1.1 %d %s" % (status, reason),
                 "Date: " + self.date_time_string(),
                 "Content-Type: " + ctype,
                 "Content-Length: %d" % len(body)]
        lines.extend("%s: %s" % h for h in headers)
        if self.close_connection:
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if not head:
            data += body
        self.wfile.write(data)
        self.emu.stats.status(status)

    def write_partial(self, status, ctype, body, headers=()):
        """Headers and half the body, then the connection dies."""
        lines = ["HTTP/1.1 %d OK" % status, "Content-Type: " + ctype,
                 "Content-Length: %d" % len(body)]
        lines.extend("%s: %s" % h for h in headers)
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + \
            body[:max(1, len(body) // 2)]
        self.wfile.write(data)
        self.close_connection = True

    def write_json(self, status, obj):
        self.write(status, "application/json",
                   (json.dumps(obj, indent=1) + "\n").encode())

    # -- the request

    def serve(self, method):
        try:
            self._serve(method)
        except Drop:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _serve(self, method):
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/_emulator/"):
            return self.control(method, raw_path, raw_query)
        emu = self.emu
        r = Request()
        r.method = method
        r.raw_path = raw_path
        r.raw_query = raw_query
        r.headers = self.headers
        r.body = self.read_body()
        r.request_id = str(uuid.uuid4())
        r.principal = r.account = r.region = None
        r.params = {}
        self.route(r)
        n, fault = emu.faults.decide(r.service, r.action)
        emu.stats.request(r.service, r.action)
        if fault and fault[0] == "die":
            emu.log_request(r, 0)
            sys.stderr.write("aws-emulator: die_at call %d: exiting\n" % n)
            sys.stderr.flush()
            os._exit(3)
        if fault and fault[0] == "drop":
            emu.stats.bump("dropped")
            emu.log_request(r, 0)
            raise Drop()
        lat = emu.faults.get("latency_ms")
        if lat:
            time.sleep(lat / 1000.0)
        try:
            if fault:
                if fault[0] == "throttle":
                    emu.stats.bump("throttled")
                    raise throttle_error(r.service)
                if fault[0] == "error":
                    emu.stats.bump("injected_errors")
                    raise injected_error(r.service, *fault[1:])
            if r.service == "unknown":
                raise ApiError("InvalidAction", "This emulator speaks iam, "
                               "sts, s3, cloudtrail and secretsmanager "
                               "only.", 400)
            self.authenticate(r)
            ctype, body, extra = DISPATCH[r.service](self, r)
            status = 200
        except ApiError as e:
            if e.code in ("SignatureDoesNotMatch", "InvalidSignatureException"):
                emu.stats.bump("signature_failures")
            ctype, body = service_error_body(r.service, e, r.request_id)
            status = e.status
            extra = ()
        hdrs = list(extra) + self.id_headers(r)
        emu.log_request(r, status)
        if fault and fault[0] == "partial":
            emu.stats.bump("dropped")
            return self.write_partial(status, ctype, body, hdrs)
        self.write(status, ctype, body, hdrs, head=(method == "HEAD"))

    def id_headers(self, r):
        if r.service == "s3":
            return [("x-amz-request-id", r.request_id[:16].upper()
                     .replace("-", "0")),
                    ("x-amz-id-2", s3_host_id(r.request_id)),
                    ("Server", "AmazonS3")]
        return [("x-amzn-RequestId", r.request_id)]

    # -- routing: which service, which action (before authentication, so
    # faults can count by action)

    def route(self, r):
        h = r.headers
        auth = h.get("Authorization")
        service = None
        r.signed = None
        if auth:
            m = re.search(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/",
                          auth)
            if m:
                service = m.group(4)
                r.region = m.group(3)
        elif "X-Amz-Credential=" in r.raw_query:
            q = dict(parse_qsl(r.raw_query, keep_blank_values=True))
            parts = q.get("X-Amz-Credential", "").split("/")
            if len(parts) == 5:
                service = parts[3]
                r.region = parts[2]
        target = h.get("X-Amz-Target")
        ctype = (h.get("Content-Type") or "").lower()
        if service is None:
            if target:
                service = "cloudtrail" if target.startswith(CT_PREFIX) \
                    else "secretsmanager" if target.startswith(SM_PREFIX) \
                    else "unknown"
            elif r.method == "POST" and "x-www-form-urlencoded" in ctype:
                q = dict(parse_qsl(r.body.decode("utf-8", "replace"),
                                   keep_blank_values=True))
                service = "sts" if q.get("Version") == STS_VERSION or \
                    q.get("Action", "").startswith("AssumeRoleWith") \
                    else "iam"
            else:
                service = "s3"
        if service not in ("iam", "sts", "s3", "cloudtrail",
                           "secretsmanager"):
            r.service, r.action = "unknown", "Unknown"
            return
        r.service = service
        if service in ("iam", "sts"):
            params = dict(parse_qsl(r.raw_query, keep_blank_values=True))
            if r.body:
                params.update(parse_qsl(r.body.decode("utf-8", "replace"),
                                        keep_blank_values=True))
            r.params = params
            r.action = params.get("Action") or "MissingAction"
        elif service == "cloudtrail":
            r.action = target[len(CT_PREFIX):] if target and \
                target.startswith(CT_PREFIX) else "UnknownOperation"
        elif service == "secretsmanager":
            r.action = target[len(SM_PREFIX):] if target and \
                target.startswith(SM_PREFIX) else "UnknownOperation"
        else:
            r.action = s3_action(r)

    # -- authentication

    def authenticate(self, r):
        """Checks the SigV4 signature; sets r.principal and r.account, or
        raises the service's own error."""
        h = r.headers
        svc = r.service
        s3 = svc == "s3"
        if svc == "sts" and r.action in ("AssumeRoleWithWebIdentity",
                                         "AssumeRoleWithSAML") and \
                not h.get("Authorization"):
            return
        q = None
        auth = h.get("Authorization")
        if auth:
            a = parse_authorization(auth)
            if a is None:
                raise auth_error(svc, "incomplete", auth)
            cred = a["Credential"].split("/")
            signed = a["SignedHeaders"].split(";")
            sig = a["Signature"]
            amz_date = h.get("X-Amz-Date")
            if amz_date is None and "date" in signed and h.get("Date"):
                try:
                    t = time.strptime(h["Date"], "%a, %d %b %Y %H:%M:%S GMT")
                    amz_date = time.strftime("%Y%m%dT%H%M%SZ", t)
                except ValueError:
                    amz_date = None
            token = h.get("X-Amz-Security-Token")
        elif "X-Amz-Signature=" in r.raw_query:
            q = dict(parse_qsl(r.raw_query, keep_blank_values=True))
            if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
                raise auth_error(svc, "incomplete", "X-Amz-Algorithm")
            cred = q.get("X-Amz-Credential", "").split("/")
            signed = q.get("X-Amz-SignedHeaders", "").split(";")
            sig = q.get("X-Amz-Signature", "")
            amz_date = q.get("X-Amz-Date")
            token = q.get("X-Amz-Security-Token")
        else:
            raise auth_error(svc, "missing", "")
        if len(cred) != 5 or cred[4] != "aws4_request" or not amz_date:
            raise auth_error(svc, "incomplete", auth or "")
        akid, cdate, region, cservice = cred[0], cred[1], cred[2], cred[3]
        if "host" not in signed:
            raise auth_error(svc, "incomplete",
                             "'Host' or ':authority' must be a 'SignedHeader'"
                             " in the AWS Authorization.")
        # Who signed?
        world = self.emu.world
        p = world.keys.get(akid)
        if p is None:
            p = world.temp_principal(akid, token) if akid.startswith(
                "ASIA") else None
            if p is None:
                self.emu.stats.bump("auth_failures")
                raise auth_error(svc, "unknown_key", akid)
        else:
            if p.key is not None and (p.key.get("status") or "Active") \
                    != "Active":
                self.emu.stats.bump("auth_failures")
                raise auth_error(svc, "unknown_key", akid)
            if p.born is not None:
                delay = self.emu.faults.get("propagation_delay_ms") or 0
                if (time.monotonic() - p.born) * 1000.0 < delay:
                    self.emu.stats.bump("auth_failures")
                    raise auth_error(svc, "unknown_key", akid)
        if p.expires is not None and Clock.now() >= p.expires:
            self.emu.stats.bump("auth_failures")
            raise auth_error(svc, "expired", akid)
        # Request time.
        try:
            t_req = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise auth_error(svc, "incomplete", "X-Amz-Date")
        if cdate != amz_date[:8]:
            raise auth_error(svc, "mismatch_date", amz_date)
        now = time.time()
        if q is not None:
            expires = int(q.get("X-Amz-Expires") or 0)
            if now > t_req + expires:
                raise ApiError("AccessDenied", "Request has expired", 403,
                               extra={"X-Amz-Expires": str(expires),
                                      "Expires": iso_z(t_req + expires),
                                      "ServerTime": iso_z(now)})
        elif abs(now - t_req) > MAX_SKEW:
            raise auth_error(svc, "skew", amz_date, now=now, t_req=t_req)
        # Payload hash.
        sha_hdr = h.get("X-Amz-Content-SHA256")
        if q is not None:
            payload_hash = "UNSIGNED-PAYLOAD" if s3 else (
                sha_hdr or hashlib.sha256(r.body).hexdigest())
        elif s3:
            if not sha_hdr:
                raise ApiError("InvalidRequest", "Missing required header "
                               "for this request: x-amz-content-sha256", 400)
            payload_hash = sha_hdr
        else:
            payload_hash = sha_hdr or (hashlib.sha256(r.body).hexdigest()
                                       if r.body else EMPTY_SHA256)
        if sha_hdr and re.fullmatch(r"[0-9a-f]{64}", sha_hdr):
            actual = hashlib.sha256(r.body).hexdigest() if r.body \
                else EMPTY_SHA256
            if actual != sha_hdr:
                raise ApiError("XAmzContentSHA256Mismatch", "The provided "
                               "'x-amz-content-sha256' header does not match "
                               "what was computed.", 400,
                               extra={"ClientComputedContentSHA256": sha_hdr,
                                      "S3ComputedContentSHA256": actual})
        elif sha_hdr and sha_hdr.startswith("STREAMING-"):
            raise ApiError("NotImplemented", "Streaming (aws-chunked) "
                           "payloads are not emulated.", 501)
        # Canonical request.
        hdr_lines = []
        for name in signed:
            vals = h.get_all(name) or []
            if not vals and name != "host":
                raise auth_error(svc, "incomplete",
                                 "signed header %s is missing" % name)
            hdr_lines.append("%s:%s" % (name, ",".join(
                " ".join(v.split()) for v in vals)))
        if s3:
            unsigned = [k.lower() for k in h.keys()
                        if k.lower().startswith("x-amz-")
                        and k.lower() not in signed]
            if unsigned and q is None:
                raise ApiError("AccessDenied", "There were headers present "
                               "in the request which were not signed", 403,
                               extra={"HeadersNotSigned":
                                      ", ".join(sorted(unsigned))})
        creq = "\n".join([
            r.method, canonical_uri(r.raw_path, s3),
            canonical_query(r.raw_query,
                            drop="X-Amz-Signature" if q is not None else None),
            "\n".join(hdr_lines) + "\n", ";".join(signed), payload_hash])
        scope = "%s/%s/%s/aws4_request" % (cdate, region, cservice)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        want = hmac.new(signing_key(p.secret, cdate, region, cservice),
                        sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            raise auth_error(svc, "signature", akid, creq=creq, sts=sts,
                             sig=sig)
        # Temporary credentials need their session token, and only theirs.
        if p.kind == "assumed-role":
            if token != p.token:
                raise auth_error(svc, "unknown_key", akid)
        elif token:
            raise auth_error(svc, "bad_token", akid)
        r.principal = p
        r.region = region
        r.account = world.account(p.account)
        if p.key is not None:
            mark_used(p.key, cservice, region)


def mark_used(key, service, region):
    """Records a key's last use, at most once in 15 minutes (as IAM)."""
    now = Clock.now()
    lu = key.get("last_used") or {}
    last = parse_time(lu.get("date")) or 0
    if now - last >= 900:
        key["last_used"] = {"date": iso_z(now), "service": service,
                            "region": region}


def auth_error(svc, kind, detail, **kw):
    """The error each service answers for a failed authentication."""
    if svc == "s3":
        if kind == "unknown_key":
            return ApiError("InvalidAccessKeyId", "The AWS Access Key Id you "
                            "provided does not exist in our records.", 403,
                            extra={"AWSAccessKeyId": detail})
        if kind == "bad_token":
            return ApiError("InvalidToken", "The provided token is malformed "
                            "or otherwise invalid.", 400)
        if kind == "expired":
            return ApiError("ExpiredToken", "The provided token has expired.",
                            400)
        if kind == "signature":
            return ApiError(
                "SignatureDoesNotMatch", "The request signature we calculated "
                "does not match the signature you provided. Check your key "
                "and signing method.", 403,
                extra={"AWSAccessKeyId": detail, "StringToSign": kw["sts"],
                       "SignatureProvided": kw["sig"],
                       "CanonicalRequest": kw["creq"]})
        if kind == "skew":
            return ApiError("RequestTimeTooSkewed", "The difference between "
                            "the request time and the current time is too "
                            "large.", 403,
                            extra={"RequestTime": detail,
                                   "ServerTime": iso_z(kw["now"]),
                                   "MaxAllowedSkewMilliseconds": "900000"})
        if kind == "missing":
            return ApiError("AccessDenied", "Access Denied", 403)
        return ApiError("AuthorizationHeaderMalformed", "The authorization "
                        "header is malformed; %s" % detail, 400)
    json_svc = svc in JSON_SERVICES
    if kind == "unknown_key" or kind == "bad_token":
        return ApiError("UnrecognizedClientException" if json_svc
                        else "InvalidClientTokenId",
                        "The security token included in the request is "
                        "invalid.", 400 if json_svc else 403)
    if kind == "expired":
        return ApiError("ExpiredTokenException" if json_svc else
                        "ExpiredToken", "The security token included in the "
                        "request is expired", 400 if json_svc else 403)
    if kind == "signature":
        msg = ("The request signature we calculated does not match the "
               "signature you provided. Check your AWS Secret Access Key and "
               "signing method. Consult the service documentation for "
               "details.\n\nThe Canonical String for this request should have "
               "been\n'%s'\n\nThe String-to-Sign should have been\n'%s'\n"
               % (kw["creq"], kw["sts"]))
        return ApiError("InvalidSignatureException" if json_svc else
                        "SignatureDoesNotMatch", msg, 400 if json_svc else 403)
    if kind == "skew":
        now, t = kw["now"], kw["t_req"]
        stamp = lambda v: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(v))
        if t < now:
            msg = "Signature expired: %s is now earlier than %s (%s - 15 " \
                  "min.)" % (detail, stamp(now - MAX_SKEW), stamp(now))
        else:
            msg = "Signature not yet current: %s is still later than %s " \
                  "(%s + 15 min.)" % (detail, stamp(now + MAX_SKEW),
                                      stamp(now))
        return ApiError("InvalidSignatureException" if json_svc else
                        "SignatureDoesNotMatch", msg, 400 if json_svc else 403)
    if kind == "mismatch_date":
        return ApiError("InvalidSignatureException" if json_svc else
                        "SignatureDoesNotMatch", "Date in Credential scope "
                        "does not match YYYYMMDD from ISO-8601 version of date "
                        "from HTTP: '%s'" % detail, 400 if json_svc else 403)
    if kind == "missing":
        if json_svc:
            return ApiError("MissingAuthenticationTokenException",
                            "Missing Authentication Token", 400)
        return ApiError("MissingAuthenticationToken", "Request is missing "
                        "Authentication Token", 403)
    return ApiError("IncompleteSignatureException" if json_svc else
                    "IncompleteSignature", "Authorization header requires "
                    "'Credential', 'Signature' and 'SignedHeaders' "
                    "parameters and a valid date. (%s)" % detail[:200], 400)


# ---------------------------------------------------------------- query

def query_response(service, action, result_xml, request_id):
    ns = STS_NS if service == "sts" else IAM_NS
    if result_xml is None:
        inner = ""
    else:
        inner = "<%sResult>%s</%sResult>" % (action, result_xml, action)
    return ('<%sResponse xmlns="%s">%s<ResponseMetadata><RequestId>%s'
            '</RequestId></ResponseMetadata></%sResponse>' % (
                action, ns, inner, request_id, action)).encode()


def need(params, name):
    v = params.get(name)
    if v is None or v == "":
        raise ApiError("ValidationError", "1 validation error detected: Value "
                       "null at '%s%s' failed to satisfy constraint: Member "
                       "must not be null" % (name[0].lower(), name[1:]), 400)
    return v


def encode_marker(n):
    return base64.b64encode(("cspf-emu:%d" % n).encode()).decode()


def paginate(emu, params, items):
    """(page, marker or None) honouring MaxItems, Marker and the page_size
    fault."""
    mi = params.get("MaxItems")
    if mi is not None:
        try:
            mi = int(mi)
        except ValueError:
            mi = 0
        if not 1 <= mi <= 1000:
            raise ApiError("ValidationError", "1 validation error detected: "
                           "Value '%s' at 'maxItems' failed to satisfy "
                           "constraint: Member must have value between 1 and "
                           "1000" % params.get("MaxItems"), 400)
    else:
        mi = 100
    ps = emu.faults.get("page_size")
    if ps:
        mi = min(mi, int(ps))
    start = 0
    marker = params.get("Marker")
    if marker:
        try:
            tag, _, num = base64.b64decode(marker, validate=True).decode() \
                .partition(":")
            if tag != "cspf-emu":
                raise ValueError
            start = int(num)
        except (ValueError, UnicodeDecodeError):
            raise ApiError("ValidationError", "Invalid Marker.", 400)
    page = items[start:start + mi]
    more = start + mi < len(items)
    return page, (encode_marker(start + mi) if more else None)


def page_tail(marker):
    if marker:
        return "<IsTruncated>true</IsTruncated>" + el("Marker", marker)
    return "<IsTruncated>false</IsTruncated>"


# ---------------------------------------------------------------- IAM

def user_xml(u, with_pw=True):
    out = u.xml.get(with_pw)
    if out is None:
        out = u.xml[with_pw] = _user_xml(u, with_pw)
    return out


def _user_xml(u, with_pw):
    pw = u.d.get("password") or {}
    return (el("Path", u.path) + el("UserName", u.name) + el("UserId", u.id)
            + el("Arn", u.arn) + el("CreateDate", fmt(u.created))
            + (el("PasswordLastUsed", fmt(pw.get("last_used")))
               if with_pw else ""))


def role_xml(r, with_last_used):
    d = r.d
    out = (el("Path", r.path) + el("RoleName", r.name) + el("RoleId", r.id)
           + el("Arn", r.arn) + el("CreateDate", fmt(r.created))
           + el("AssumeRolePolicyDocument",
                policy_text(d.get("assume_role_policy")))
           + el("Description", d.get("description"))
           + el("MaxSessionDuration", r.max_session))
    if with_last_used:
        lu = d.get("last_used") or {}
        out += "<RoleLastUsed>%s%s</RoleLastUsed>" % (
            el("LastUsedDate", fmt(lu.get("date"))),
            el("Region", lu.get("region")))
    return out


def caller_user(r, params, required=False):
    """The user named by UserName, else the calling user."""
    name = params.get("UserName")
    acct = r.account
    if name:
        u = acct.users_by_name.get(name)
        if u is None:
            raise ApiError("NoSuchEntity", "The user with name %s cannot be "
                           "found." % name, 404)
        return u
    p = r.principal
    if p.kind == "user":
        if p.user is not None:
            return p.user
        raise ApiError("NoSuchEntity", "The user with name %s cannot be "
                       "found." % p.arn.rsplit("/", 1)[-1], 404)
    if p.kind == "root" and not required:
        return None
    raise ApiError("ValidationError", "Must specify userName when calling "
                   "with non-User credentials", 400)


def iam_get_account_summary(emu, r, params):
    a = r.account
    users = a.users
    mfa = sum(len(u.d["mfa_devices"]) for u in users)
    root_mfa = 1 if a.root.get("mfa_enabled") else 0
    summary = [
        ("Users", len(users)), ("UsersQuota", 5000),
        ("Groups", 0), ("GroupsQuota", 300),
        ("ServerCertificates", 0), ("ServerCertificatesQuota", 20),
        ("UserPolicySizeQuota", 2048), ("GroupPolicySizeQuota", 5120),
        ("GroupsPerUserQuota", 10), ("SigningCertificatesPerUserQuota", 2),
        ("AccessKeysPerUserQuota", 2),
        ("MFADevices", mfa + root_mfa), ("MFADevicesInUse", mfa + root_mfa),
        ("AccountMFAEnabled", root_mfa),
        ("AccountAccessKeysPresent", 1 if a.root["access_keys"] else 0),
        ("AccountSigningCertificatesPresent", 0),
        ("AttachedPoliciesPerGroupQuota", 10),
        ("AttachedPoliciesPerRoleQuota", 10),
        ("AttachedPoliciesPerUserQuota", 10),
        ("Policies", 0), ("PoliciesQuota", 1500), ("PolicySizeQuota", 6144),
        ("PolicyVersionsInUse", 0), ("PolicyVersionsInUseQuota", 10000),
        ("VersionsPerPolicyQuota", 5),
        ("Roles", len(a.roles)), ("RolesQuota", 1000),
        ("RolePolicySizeQuota", 10240),
        ("InstanceProfiles", 0), ("InstanceProfilesQuota", 1000),
        ("Providers", 0), ("GlobalEndpointTokenVersion", 1),
        ("AssumeRolePolicySizeQuota", 2048),
    ]
    return "<SummaryMap>%s</SummaryMap>" % "".join(
        "<entry><key>%s</key><value>%d</value></entry>" % kv
        for kv in summary)


def iam_list_users(emu, r, params):
    users = r.account.users
    prefix = params.get("PathPrefix")
    if prefix:
        users = [u for u in users if u.path.startswith(prefix)]
    page, marker = paginate(emu, params, users)
    return members("Users", (user_xml(u) for u in page)) + page_tail(marker)


def iam_get_user(emu, r, params):
    u = caller_user(r, params)
    if u is None:  # the root user
        a = r.account
        return "<User>%s%s%s%s</User>" % (
            el("UserId", a.id), el("Arn", "arn:aws:iam::%s:root" % a.id),
            el("CreateDate", fmt(a.created)),
            el("PasswordLastUsed", fmt(a.root.get("password_last_used"))))
    return "<User>%s</User>" % user_xml(u)


def key_meta_xml(user_name, k):
    return (el("UserName", user_name) + el("AccessKeyId", k["id"])
            + el("Status", k.get("status") or "Active")
            + el("CreateDate", fmt(k.get("created"))))


def iam_list_access_keys(emu, r, params):
    u = caller_user(r, params)
    with emu.world.lock:
        keys = list(u.d["access_keys"] if u else r.account.root["access_keys"])
    page, marker = paginate(emu, params, keys)
    name = u.name if u else None
    return members("AccessKeyMetadata", (key_meta_xml(name, k)
                                         for k in page)) + page_tail(marker)


def iam_get_access_key_last_used(emu, r, params):
    kid = need(params, "AccessKeyId")
    hit = r.account.keys.get(kid)
    if hit is None:
        raise ApiError("NoSuchEntity", "The Access Key with id %s cannot be "
                       "found." % kid, 404)
    u, k = hit
    lu = k.get("last_used")
    if lu and lu.get("date"):
        inner = (el("LastUsedDate", fmt(lu.get("date")))
                 + el("ServiceName", lu.get("service") or "N/A")
                 + el("Region", lu.get("region") or "N/A"))
    else:
        inner = el("ServiceName", "N/A") + el("Region", "N/A")
    return el("UserName", u.name if u else None) + \
        "<AccessKeyLastUsed>%s</AccessKeyLastUsed>" % inner


def iam_list_mfa_devices(emu, r, params):
    u = caller_user(r, params)
    if u is None:
        devs, name = [], None
    else:
        devs, name = u.d["mfa_devices"], u.name
    page, marker = paginate(emu, params, devs)
    return members("MFADevices", (
        el("UserName", name) + el("SerialNumber", d["serial"])
        + el("EnableDate", fmt(d.get("enabled"))) for d in page)) + \
        page_tail(marker)


def iam_get_login_profile(emu, r, params):
    name = need(params, "UserName")
    u = r.account.users_by_name.get(name)
    if u is None:
        raise ApiError("NoSuchEntity", "The user with name %s cannot be "
                       "found." % name, 404)
    pw = u.d.get("password")
    if not pw:
        raise ApiError("NoSuchEntity", "Login Profile for User %s cannot be "
                       "found." % name, 404)
    return "<LoginProfile>%s%s%s</LoginProfile>" % (
        el("UserName", name), el("CreateDate", fmt(pw.get("created")
                                                   or u.created)),
        el("PasswordResetRequired", bool(pw.get("reset_required"))))


def iam_list_roles(emu, r, params):
    roles = r.account.roles
    prefix = params.get("PathPrefix")
    if prefix:
        roles = [x for x in roles if x.path.startswith(prefix)]
    page, marker = paginate(emu, params, roles)
    # ListRoles does not return RoleLastUsed (nor tags nor boundaries).
    return members("Roles", (role_xml(x, False) for x in page)) + \
        page_tail(marker)


def iam_get_role(emu, r, params):
    name = need(params, "RoleName")
    role = r.account.roles_by_name.get(name)
    if role is None:
        raise ApiError("NoSuchEntity", "The role with name %s cannot be "
                       "found." % name, 404)
    return "<Role>%s</Role>" % role_xml(role, True)


REPORT_COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,"
    "password_last_changed,password_next_rotation,mfa_active,"
    "access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,"
    "access_key_1_last_used_service,access_key_2_active,"
    "access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,"
    "cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated")


def report_key_cells(keys):
    cells = []
    keys = sorted(keys, key=lambda k: parse_time(k.get("created")) or 0)
    for i in range(2):
        if i < len(keys):
            k = keys[i]
            lu = k.get("last_used") or {}
            used = fmt(lu.get("date"), "off")
            cells += ["true" if (k.get("status") or "Active") == "Active"
                      else "false",
                      fmt(k.get("created"), "off") or "N/A",
                      used or "N/A",
                      (lu.get("region") or "N/A") if used else "N/A",
                      (lu.get("service") or "N/A") if used else "N/A"]
        else:
            cells += ["false", "N/A", "N/A", "N/A", "N/A"]
    return cells


def build_report(a):
    rows = [REPORT_COLUMNS]
    root = a.root
    rows.append(",".join(
        ["<root_account>", "arn:aws:iam::%s:root" % a.id,
         fmt(a.created, "off"), "not_supported",
         fmt(root.get("password_last_used"), "off") or "no_information",
         "not_supported", "not_supported",
         "true" if root.get("mfa_enabled") else "false"]
        + report_key_cells(root["access_keys"])
        + ["false", "N/A", "false", "N/A"]))
    for u in a.users:
        pw = u.d.get("password")
        if pw:
            pw_cells = ["true",
                        fmt(pw.get("last_used"), "off") or "no_information",
                        fmt(pw.get("last_changed") or pw.get("created")
                            or u.created, "off"), "N/A"]
        else:
            pw_cells = ["false", "N/A", "N/A", "N/A"]
        rows.append(",".join(
            [u.name, u.arn, fmt(u.created, "off")] + pw_cells
            + ["true" if u.d["mfa_devices"] else "false"]
            + report_key_cells(u.d["access_keys"])
            + ["false", "N/A", "false", "N/A"]))
    return ("\n".join(rows)).encode()


def iam_generate_credential_report(emu, r, params):
    a = r.account
    now = Clock.now()
    if a.report is None:
        shared_report(emu, a)   # another worker made it
    with emu.world.lock:
        rep = a.report
        if rep is not None and now - rep[0] < REPORT_TTL:
            if now < rep[1]:
                return el("State", "INPROGRESS") + el(
                    "Description", "Report generation in progress")
            return el("State", "COMPLETE")
        delay = (emu.faults.get("report_delay_ms") or 0) / 1000.0
        a.report = (now, now + delay, build_report(a))
        share_report(emu, a)
    return el("State", "STARTED") + el(
        "Description", "No report exists. Starting a new report generation "
        "task")


# With --workers, each process has its own state: a report generated in
# one must be there for a GetCredentialReport another one answers (the
# states are the same, so each can build it).  The processes share the
# generation times through files in one directory made before the fork.
SHARED_DIR = None


def share_report(emu, a):
    if SHARED_DIR:
        tmp = os.path.join(SHARED_DIR, ".%s.%d" % (a.id, os.getpid()))
        with open(tmp, "w") as f:
            f.write("%r %r" % (a.report[0], a.report[1]))
        os.replace(tmp, os.path.join(SHARED_DIR, a.id))


def shared_report(emu, a):
    if not SHARED_DIR:
        return None
    try:
        with open(os.path.join(SHARED_DIR, a.id)) as f:
            t0, t1 = (float(x) for x in f.read().split())
    except (OSError, ValueError):
        return None
    with emu.world.lock:
        a.report = (t0, t1, build_report(a))
    return a.report


def iam_get_credential_report(emu, r, params):
    rep = r.account.report or shared_report(emu, r.account)
    now = Clock.now()
    if rep is None:
        raise ApiError("ReportNotPresent", "Unknown", 410)
    if now < rep[1]:
        raise ApiError("ReportInProgress", "Report generation in progress",
                       404)
    if now - rep[0] >= REPORT_TTL:
        raise ApiError("ReportExpired", "The credential report has expired. "
                       "To generate a new report, use "
                       "GenerateCredentialReport.", 410)
    return (el("Content", base64.b64encode(rep[2]).decode())
            + el("ReportFormat", "text/csv")
            + el("GeneratedTime", iso_z(rep[0])))


def iam_get_account_authorization_details(emu, r, params):
    filters = [v for k, v in sorted(params.items(), key=lambda kv: kv[0])
               if k.startswith("Filter.member.")]
    allowed = {"User", "Role", "Group", "LocalManagedPolicy",
               "AWSManagedPolicy"}
    for f in filters:
        if f not in allowed:
            raise ApiError("ValidationError", "1 validation error detected: "
                           "Value '[%s]' at 'filter' failed to satisfy "
                           "constraint: Member must satisfy constraint: "
                           "[Member must satisfy enum value set: [User, "
                           "Role, Group, LocalManagedPolicy, "
                           "AWSManagedPolicy]]" % f, 400)
    want = set(filters) or allowed
    a = r.account
    items = []
    if "User" in want:
        items += [("u", u) for u in a.users]
    if "Role" in want:
        items += [("r", x) for x in a.roles]
    page, marker = paginate(emu, params, items)
    users = [u for t, u in page if t == "u"]
    roles = [x for t, x in page if t == "r"]
    out = members("UserDetailList", (
        user_xml(u, False) + "<UserPolicyList/><GroupList/>"
        "<AttachedManagedPolicies/>" for u in users))
    out += "<GroupDetailList/>"
    out += members("RoleDetailList", (
        role_xml(x, False) + "<InstanceProfileList/><RolePolicyList/>"
        "<AttachedManagedPolicies/><Tags/>"
        + "<RoleLastUsed>%s%s</RoleLastUsed>" % (
            el("LastUsedDate", fmt((x.d.get("last_used") or {}).get("date"))),
            el("Region", (x.d.get("last_used") or {}).get("region")))
        for x in roles))
    out += "<Policies/>"
    return out + page_tail(marker)


def iam_list_account_aliases(emu, r, params):
    a = r.account
    aliases = [a.alias] if a.alias else []
    page, marker = paginate(emu, params, aliases)
    return members("AccountAliases", (x(v) for v in page)) + page_tail(marker)


def iam_create_access_key(emu, r, params):
    u = caller_user(r, params, required=True)
    world = emu.world
    with world.lock:
        keys = u.d["access_keys"]
        if len(keys) >= 2:
            raise ApiError("LimitExceeded", "Cannot exceed quota for "
                           "AccessKeysPerUser: 2", 409)
        k = {"id": random_id("AKIA"), "secret": random_secret(),
             "status": "Active", "created": now_text(), "last_used": None}
        keys.append(k)
        r.account.keys[k["id"]] = (u, k)
        world._index_user_key(r.account, u, k, born=time.monotonic())
    return "<AccessKey>%s%s%s%s%s</AccessKey>" % (
        el("UserName", u.name), el("AccessKeyId", k["id"]),
        el("Status", "Active"), el("SecretAccessKey", k["secret"]),
        el("CreateDate", fmt(k["created"])))


def find_user_key(r, params, kid):
    u = caller_user(r, params)
    keys = u.d["access_keys"] if u else r.account.root["access_keys"]
    for k in keys:
        if k["id"] == kid:
            return u, keys, k
    raise ApiError("NoSuchEntity", "The Access Key with id %s cannot be "
                   "found." % kid, 404)


def iam_update_access_key(emu, r, params):
    kid = need(params, "AccessKeyId")
    status = need(params, "Status")
    if status not in ("Active", "Inactive"):
        raise ApiError("ValidationError", "1 validation error detected: Value "
                       "'%s' at 'status' failed to satisfy constraint: Member "
                       "must satisfy enum value set: [Active, Inactive]"
                       % status, 400)
    with emu.world.lock:
        _, _, k = find_user_key(r, params, kid)
        k["status"] = status
    return None


def iam_delete_access_key(emu, r, params):
    kid = need(params, "AccessKeyId")
    world = emu.world
    with world.lock:
        _, keys, k = find_user_key(r, params, kid)
        keys.remove(k)
        r.account.keys.pop(kid, None)
        world.keys.pop(kid, None)
    return None


IAM_ACTIONS = {
    "GetAccountSummary": iam_get_account_summary,
    "ListUsers": iam_list_users,
    "GetUser": iam_get_user,
    "ListAccessKeys": iam_list_access_keys,
    "GetAccessKeyLastUsed": iam_get_access_key_last_used,
    "ListMFADevices": iam_list_mfa_devices,
    "GetLoginProfile": iam_get_login_profile,
    "ListRoles": iam_list_roles,
    "GetRole": iam_get_role,
    "GenerateCredentialReport": iam_generate_credential_report,
    "GetCredentialReport": iam_get_credential_report,
    "GetAccountAuthorizationDetails": iam_get_account_authorization_details,
    "ListAccountAliases": iam_list_account_aliases,
    "CreateAccessKey": iam_create_access_key,
    "UpdateAccessKey": iam_update_access_key,
    "DeleteAccessKey": iam_delete_access_key,
}


def serve_query(handler, r, actions, version):
    params = r.params
    action = params.get("Action")
    if not action:
        raise ApiError("MissingAction", "Missing Action", 400)
    fn = actions.get(action)
    if fn is None or params.get("Version") not in (None, version):
        raise ApiError("InvalidAction", "Could not find operation %s for "
                       "version %s" % (action, params.get("Version")), 400)
    result = fn(handler.emu, r, params)
    return "text/xml", query_response(r.service, action, result,
                                      r.request_id), ()


def serve_iam(handler, r):
    return serve_query(handler, r, IAM_ACTIONS, IAM_VERSION)


# ---------------------------------------------------------------- STS

ROLE_ARN = re.compile(r"^arn:aws:iam::(\d{12}):role(/(?:[^/]+/)*)([^/]+)$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def _as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def trust_allows(role, caller, action):
    """Minimal trust-policy check: Allow/Deny statements whose Action
    matches and whose Principal names the caller (AWS principals: '*', an
    account id, an account's root ARN, or the caller's user/role ARN;
    Federated principals for web identity).  Conditions are ignored.  A
    role without a policy trusts everyone."""
    pol = role.d.get("assume_role_policy")
    if pol is None:
        return True
    if isinstance(pol, str):
        try:
            pol = json.loads(unquote(pol))
        except ValueError:
            return False
    ids = set()
    if caller is not None:
        ids = {"*", caller.account, "arn:aws:iam::%s:root" % caller.account,
               caller.arn}
        if caller.kind == "assumed-role":
            ids.add("arn:aws:iam::%s:role/%s" % (caller.account, caller.role))
    allowed = False
    for st in _as_list(pol.get("Statement")):
        acts = _as_list(st.get("Action"))
        if not any(a in (action, "sts:*", "*") for a in acts):
            continue
        pr = st.get("Principal")
        if pr == "*":
            match = True
        elif isinstance(pr, dict):
            if caller is None:
                match = bool(pr.get("Federated")) or "*" in _as_list(
                    pr.get("AWS"))
            else:
                match = bool(ids & set(_as_list(pr.get("AWS"))))
        else:
            match = False
        if not match:
            continue
        if st.get("Effect") == "Deny":
            return False
        if st.get("Effect") == "Allow":
            allowed = True
    return allowed


def assume(emu, r, params, caller, action):
    world = emu.world
    arn = need(params, "RoleArn")
    session = need(params, "RoleSessionName")
    if not SESSION_NAME.match(session):
        raise ApiError("ValidationError", "1 validation error detected: Value "
                       "'%s' at 'roleSessionName' failed to satisfy "
                       "constraint: Member must satisfy regular expression "
                       "pattern: [\\w+=,.@-]*" % session, 400)
    try:
        duration = int(params.get("DurationSeconds") or 3600)
    except ValueError:
        duration = 0
    if duration < 900:
        raise ApiError("ValidationError", "1 validation error detected: Value "
                       "'%s' at 'durationSeconds' failed to satisfy "
                       "constraint: Member must have value greater than or "
                       "equal to 900" % params.get("DurationSeconds"), 400)
    who = caller.arn if caller else "anonymous"
    denied = ApiError("AccessDenied", "User: %s is not authorized to perform: "
                      "%s on resource: %s" % (who, action, arn), 403)
    m = ROLE_ARN.match(arn)
    if not m:
        raise ApiError("ValidationError", "%s is invalid" % arn, 400)
    acct = world.accounts.get(m.group(1))
    if acct is None or not acct.in_state:
        raise denied
    role = acct.roles_by_name.get(m.group(3))
    if role is None or not trust_allows(role, caller, action):
        raise denied
    if caller is not None and caller.kind == "assumed-role" and \
            duration > 3600:
        raise ApiError("ValidationError", "The requested DurationSeconds "
                       "exceeds the 1 hour session limit for roles assumed by "
                       "role chaining.", 400)
    if duration > role.max_session:
        raise ApiError("ValidationError", "The requested DurationSeconds "
                       "exceeds the MaxSessionDuration set for this role.",
                       400)
    akid, secret, token, exp = world.issue_temp(
        acct, role, session, duration, who)
    role.d["last_used"] = {"date": now_text(), "region": r.region
                           or "us-east-1"}
    return ("<Credentials>%s%s%s%s</Credentials>" % (
        el("AccessKeyId", akid), el("SecretAccessKey", secret),
        el("SessionToken", token), el("Expiration", iso_z(exp)))
        + "<AssumedRoleUser>%s%s</AssumedRoleUser>" % (
            el("AssumedRoleId", "%s:%s" % (role.id, session)),
            el("Arn", "arn:aws:sts::%s:assumed-role/%s/%s" % (
                acct.id, role.name, session))))


def sts_get_caller_identity(emu, r, params):
    p = r.principal
    return el("Arn", p.arn) + el("UserId", p.user_id) + \
        el("Account", p.account)


def sts_assume_role(emu, r, params):
    return assume(emu, r, params, r.principal, "sts:AssumeRole") + \
        el("PackedPolicySize", 0 if params.get("Policy") else None)


def sts_assume_role_with_web_identity(emu, r, params):
    token = need(params, "WebIdentityToken")
    t = emu.world.web_tokens.get(token)
    if t is None:
        raise ApiError("InvalidIdentityToken", "The web identity token that "
                       "was passed could not be validated by AWS. Get a new "
                       "identity token from the identity provider and then "
                       "retry the request.", 400)
    exp = parse_time(t.get("expires")) if t.get("expires") else None
    if t.get("expired") or (exp is not None and Clock.now() >= exp):
        raise ApiError("ExpiredTokenException", "Token expired: current "
                       "date/time %s must be before the expiration date/time"
                       "." % iso_z(Clock.now()), 400)
    out = assume(emu, r, params, r.principal,
                 "sts:AssumeRoleWithWebIdentity")
    return (el("SubjectFromWebIdentityToken", t.get("subject")
               or derive_id("sub-", token, 12))
            + el("Audience", t.get("audience") or "sts.amazonaws.com")
            + out + el("Provider", t.get("provider")
                       or "oidc.emulator.invalid"))


STS_ACTIONS = {
    "GetCallerIdentity": sts_get_caller_identity,
    "AssumeRole": sts_assume_role,
    "AssumeRoleWithWebIdentity": sts_assume_role_with_web_identity,
}


def serve_sts(handler, r):
    return serve_query(handler, r, STS_ACTIONS, STS_VERSION)


# ---------------------------------------------------------------- S3

def s3_action(r):
    path = unquote(r.raw_path)
    bucket, _, key = path.lstrip("/").partition("/")
    r.bucket = bucket or None
    r.key = key or None
    sub = {p.partition("=")[0] for p in r.raw_query.split("&") if p}
    m = r.method
    if not bucket:
        return "ListBuckets" if m == "GET" else "MethodNotAllowed"
    if key:
        return {"GET": "GetObject", "HEAD": "HeadObject"}.get(m,
                                                              "NotImplemented")
    if m == "HEAD":
        return "HeadBucket"
    if m == "GET":
        for s, a in (("versioning", "GetBucketVersioning"),
                     ("logging", "GetBucketLogging"),
                     ("location", "GetBucketLocation")):
            if s in sub:
                return a
        if not sub - {"list-type", "prefix", "max-keys", "delimiter",
                      "continuation-token", "start-after", "marker",
                      "encoding-type", "fetch-owner"}:
            return "ListObjectsV2" if "list-type" in sub else "ListObjects"
    return "NotImplemented"


def s3_xml(root, inner, ns=S3_NS):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%s xmlns="%s">%s</%s>'
            % (root, ns, inner, root)).encode()


def s3_bucket(world, r):
    """(Account, bucket dict) the caller may read, or the S3 error."""
    hit = world.buckets.get(r.bucket)
    if hit is None:
        raise ApiError("NoSuchBucket", "The specified bucket does not exist",
                       404, extra={"BucketName": r.bucket})
    acct, b = hit
    if acct.id != r.account.id:
        raise ApiError("AccessDenied", "Access Denied", 403)
    exp = r.headers.get("x-amz-expected-bucket-owner")
    if exp and exp != acct.id:
        raise ApiError("AccessDenied", "Access Denied", 403)
    return acct, b


def serve_s3(handler, r):
    a = r.action
    hdr = []
    if a == "ListBuckets":
        acct = r.account
        body = s3_xml("ListAllMyBucketsResult", "<Owner>%s%s</Owner>"
                      "<Buckets>%s</Buckets>" % (
                          el("ID", acct.canonical_id),
                          el("DisplayName", acct.alias or acct.id),
                          "".join("<Bucket>%s%s</Bucket>" % (
                              el("Name", b["name"]),
                              el("CreationDate", fmt(b.get("created")
                                                     or acct.created, "ms")))
                              for b in acct.buckets)))
        return "application/xml", body, hdr
    if a in ("MethodNotAllowed", "NotImplemented"):
        raise ApiError("NotImplemented", "A header you provided implies "
                       "functionality that is not implemented", 501)
    acct, b = s3_bucket(handler.emu.world, r)
    region = b.get("region") or "us-east-1"
    hdr.append(("x-amz-bucket-region", region))
    if a == "HeadBucket":
        return "application/xml", b"", hdr
    if a == "GetBucketVersioning":
        v = b.get("versioning")
        inner = el("Status", v) if v else ""
        if v and b.get("mfa_delete"):
            inner += el("MfaDelete", b["mfa_delete"])
        return "application/xml", s3_xml("VersioningConfiguration",
                                         inner), hdr
    if a == "GetBucketLogging":
        lg = b.get("logging")
        inner = ""
        if lg:
            inner = "<LoggingEnabled>%s%s</LoggingEnabled>" % (
                el("TargetBucket", lg.get("target_bucket")),
                el("TargetPrefix", lg.get("prefix") or ""))
        return "application/xml", s3_xml("BucketLoggingStatus", inner), hdr
    if a == "GetBucketLocation":
        loc = "" if region == "us-east-1" else x(region)
        return "application/xml", s3_xml("LocationConstraint", loc), hdr
    if a in ("ListObjects", "ListObjectsV2"):
        inner = el("Name", b["name"]) + "<Prefix></Prefix>" + \
            ("<KeyCount>0</KeyCount>" if a == "ListObjectsV2"
             else "<Marker></Marker>") + \
            "<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
        return "application/xml", s3_xml("ListBucketResult", inner), hdr
    if a in ("GetObject", "HeadObject"):
        raise ApiError("NoSuchKey", "The specified key does not exist.", 404,
                       extra={"Key": r.key})
    raise ApiError("NotImplemented", "A header you provided implies "
                   "functionality that is not implemented", 501)


# ---------------------------------------------------------------- CloudTrail

def trail_json(acct, t):
    out = {
        "Name": t["name"],
        "S3BucketName": t.get("s3_bucket"),
        "IncludeGlobalServiceEvents": t.get("include_global_events", True),
        "IsMultiRegionTrail": bool(t.get("multi_region")),
        "HomeRegion": t.get("home_region") or "us-east-1",
        "TrailARN": acct.trail_arn(t),
        "LogFileValidationEnabled": bool(t.get("log_file_validation")),
        "HasCustomEventSelectors": False,
        "HasInsightSelectors": False,
        "IsOrganizationTrail": bool(t.get("organization")),
    }
    if t.get("s3_key_prefix"):
        out["S3KeyPrefix"] = t["s3_key_prefix"]
    if t.get("kms_key_id"):
        out["KmsKeyId"] = t["kms_key_id"]
    return {k: v for k, v in out.items() if v is not None}


def ct_visible(acct, region, shadow):
    """Trails a region shows: its own, and other regions' multi-region
    trails (shadow trails) unless includeShadowTrails is false."""
    for t in acct.trails:
        home = t.get("home_region") or "us-east-1"
        if home == region or (shadow and t.get("multi_region")):
            yield t


def ct_find(acct, region, name):
    for t in acct.trails:
        home = t.get("home_region") or "us-east-1"
        if name.startswith("arn:"):
            if acct.trail_arn(t) == name and (home == region
                                              or t.get("multi_region")):
                return t
        elif t["name"] == name and home == region:
            return t
    if name.startswith("arn:"):
        raise ApiError("TrailNotFoundException", "Unknown trail: %s for the "
                       "user: %s" % (name, acct.id), 400)
    raise ApiError("TrailNotFoundException", "Unknown trail: %s for the user: "
                   "%s" % (acct.trail_arn({"name": name, "home_region":
                                           region}), acct.id), 400)


def ct_describe_trails(emu, r, body):
    names = body.get("trailNameList") or []
    shadow = body.get("includeShadowTrails", True)
    acct = r.account
    trails = list(ct_visible(acct, r.region, shadow))
    if names:
        trails = [t for t in trails
                  if t["name"] in names or acct.trail_arn(t) in names]
    return {"trailList": [trail_json(acct, t) for t in trails]}


def ct_get_trail_status(emu, r, body):
    name = body.get("Name")
    if not name:
        raise ApiError("ValidationException", "1 validation error detected: "
                       "Value null at 'name' failed to satisfy constraint: "
                       "Member must not be null", 400)
    t = ct_find(r.account, r.region, name)
    out = {"IsLogging": bool(t.get("is_logging"))}
    started = parse_time(t.get("logging_started") or t.get("created"))
    if out["IsLogging"] and started is not None:
        out["StartLoggingTime"] = started
        out["TimeLoggingStarted"] = iso_z(started)
    return out


def ct_list_trails(emu, r, body):
    acct = r.account
    return {"Trails": [{"TrailARN": acct.trail_arn(t), "Name": t["name"],
                        "HomeRegion": t.get("home_region") or "us-east-1"}
                       for t in acct.trails]}


# LookupEvents serves the records of the state's
# accounts.ACCT.cloudtrail_events.REGION (full CloudTrail records, as in
# the trail's files), newest first, as AWS documents the call: StartTime
# and EndTime inclusive (epoch seconds, or ISO text), one LookupAttribute,
# MaxResults 1..50 (default 50), a NextToken bound to the parameters it
# came with.

def ct_events(acct, region):
    return ((acct.d.get("cloudtrail_events") or {}).get(region)) or []


def ct_check_record(rec):
    if not isinstance(rec, dict):
        raise ValueError("a CloudTrail event must be a JSON object")
    if parse_time(rec.get("eventTime")) is None:
        raise ValueError("event %s: eventTime is not an ISO time"
                         % rec.get("eventID"))


def ct_load_events(emu, req):
    """POST /_emulator/cloudtrail/events {"account", "region", "events":
    [records], "replace": false}: adds (or replaces) an account's events
    in a region.  Returns how many the region holds."""
    acct_id, region = req["account"], req["region"]
    events = req["events"]
    if not isinstance(events, list):
        raise ValueError("events must be a list of CloudTrail records")
    for rec in events:
        ct_check_record(rec)
    with emu.world.lock:
        acct = emu.world.account(acct_id)
        if not acct.in_state:
            emu.world.state.setdefault("accounts", {})[acct_id] = acct.d
            acct.in_state = True
        by_region = acct.d.setdefault("cloudtrail_events", {})
        have = [] if req.get("replace") else by_region.get(region) or []
        by_region[region] = have + events
        return len(by_region[region])


def ct_lookup_username(ui):
    """The Username LookupEvents shows: the user, the session name of an
    assumed role, "root"."""
    kind = ui.get("type")
    if ui.get("userName"):
        return ui["userName"]
    if kind == "Root":
        return "root"
    if kind in ("AssumedRole", "FederatedUser") and ui.get("arn"):
        return ui["arn"].rsplit("/", 1)[-1]
    return ui.get("invokedBy") or ui.get("principalId")


def ct_lookup_event(rec):
    ui = rec.get("userIdentity") or {}
    out = {
        "EventId": rec.get("eventID"),
        "EventName": rec.get("eventName"),
        "ReadOnly": "true" if rec.get("readOnly") else "false",
        "AccessKeyId": ui.get("accessKeyId"),
        "EventTime": parse_time(rec.get("eventTime")),
        "EventSource": rec.get("eventSource"),
        "Username": ct_lookup_username(ui),
        "Resources": [{"ResourceType": r.get("type"),
                       "ResourceName": r.get("ARN")}
                      for r in rec.get("resources") or []
                      if isinstance(r, dict)],
        "CloudTrailEvent": json.dumps(rec, separators=(",", ":")),
    }
    return {k: v for k, v in out.items() if v is not None}


def ct_lookup_matches(rec, key, value):
    if key is None:
        return True
    ui = rec.get("userIdentity") or {}
    if key == "EventId":
        return rec.get("eventID") == value
    if key == "EventName":
        return rec.get("eventName") == value
    if key == "ReadOnly":
        return ("true" if rec.get("readOnly") else "false") == value
    if key == "Username":
        return ct_lookup_username(ui) == value
    if key == "EventSource":
        return rec.get("eventSource") == value
    if key == "AccessKeyId":
        return ui.get("accessKeyId") == value
    res = [r for r in rec.get("resources") or [] if isinstance(r, dict)]
    if key == "ResourceType":
        return any(r.get("type") == value for r in res)
    return any(r.get("ARN") == value for r in res)  # ResourceName


def ct_time_param(body, name):
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    t = parse_time(v) if isinstance(v, str) else None
    if t is None:
        raise ApiError("SerializationException", "%s is not a timestamp"
                       % name, 400)
    return t


def ct_lookup_events(emu, r, body):
    key = "%s/%s" % (r.account.id, r.region)
    if not emu.lookup.admit(key):
        emu.stats.bump("throttled")
        raise throttle_error("cloudtrail")
    if r.account.d.get("cloudtrail_denied"):
        raise ApiError("AccessDeniedException", "User: %s is not authorized "
                       "to perform: cloudtrail:LookupEvents because no "
                       "identity-based policy allows the "
                       "cloudtrail:LookupEvents action" % r.principal.arn,
                       400)
    attrs = body.get("LookupAttributes") or []
    if not isinstance(attrs, list) or len(attrs) > 1:
        raise ApiError("InvalidLookupAttributesException", "You cannot "
                       "specify more than one lookup attribute.", 400)
    akey = avalue = None
    if attrs:
        a = attrs[0] if isinstance(attrs[0], dict) else {}
        akey, avalue = a.get("AttributeKey"), a.get("AttributeValue")
        if akey not in CT_LOOKUP_KEYS or not isinstance(avalue, str) or \
                not avalue:
            raise ApiError("InvalidLookupAttributesException", "Lookup "
                           "attribute key %s is not valid, or its value "
                           "is empty." % akey, 400)
    n = body.get("MaxResults", LOOKUP_MAX_RESULTS)
    if not isinstance(n, int) or isinstance(n, bool) or \
            not 1 <= n <= LOOKUP_MAX_RESULTS:
        raise ApiError("InvalidMaxResultsException", "MaxResults must be "
                       "between 1 and 50.", 400)
    start = ct_time_param(body, "StartTime")
    end = ct_time_param(body, "EndTime")
    now = Clock.now()
    if start is None:
        start = now - 90 * 86400
    if end is None:
        end = now
    if start > end:
        raise ApiError("InvalidTimeRangeException", "Start time must be "
                       "before end time.", 400)
    if body.get("EventCategory") not in (None, "insight"):
        raise ApiError("InvalidEventCategoryException", "EventCategory "
                       "must be insight.", 400)
    # A token is bound to the query it continues, as AWS's are.
    bound = hashlib.sha256(json.dumps(
        [key, start, end, akey, avalue, body.get("EventCategory")]
    ).encode()).hexdigest()[:16]
    offset = 0
    token = body.get("NextToken")
    if token is not None:
        try:
            d = json.loads(base64.b64decode(token, validate=True))
            offset, ok = int(d["o"]), d["q"] == bound
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok or offset < 0:
            raise ApiError("InvalidNextTokenException", "Invalid "
                           "NextToken.", 400)
    if body.get("EventCategory") == "insight":
        events = []
    else:
        events = [e for e in ct_events(r.account, r.region)
                  if start <= parse_time(e.get("eventTime")) <= end
                  and ct_lookup_matches(e, akey, avalue)]
    events.sort(key=lambda e: parse_time(e.get("eventTime")), reverse=True)
    page = events[offset:offset + n]
    out = {"Events": [ct_lookup_event(e) for e in page]}
    if offset + n < len(events):
        out["NextToken"] = base64.b64encode(json.dumps(
            {"o": offset + n, "q": bound}).encode()).decode()
    return out


CT_ACTIONS = {
    "LookupEvents": ct_lookup_events,
    "DescribeTrails": ct_describe_trails,
    "GetTrailStatus": ct_get_trail_status,
    "ListTrails": ct_list_trails,
}


def serve_cloudtrail(handler, r):
    fn = CT_ACTIONS.get(r.action)
    if fn is None:
        raise ApiError("UnknownOperationException", None, 400)
    try:
        body = json.loads(r.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        raise ApiError("SerializationException", None, 400)
    out = fn(handler.emu, r, body)
    return "application/x-amz-json-1.1", json.dumps(
        out, separators=(",", ":")).encode(), ()


# ---------------------------------------------------------------- Secrets Manager
#
# The JSON 1.1 protocol (X-Amz-Target: secretsmanager.<Op>), with AWS's
# version semantics: a ClientRequestToken is the id of the version it
# creates (the same token with the same value again is a no-op, with
# another value ResourceExistsException); staging labels are each on one
# version at most; moving AWSCURRENT moves AWSPREVIOUS to the version it
# left; the first version of a secret is AWSCURRENT whatever VersionStages
# say; moving a label that is on another version needs RemoveFromVersionId
# naming that version (InvalidParameterException otherwise).  Secrets live
# per account and region, in the state under "secretsmanager".

SM_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
SM_ARN = re.compile(r"^arn:aws:secretsmanager:([a-z0-9-]+):(\d{12}):secret:"
                    r"(.+)-[A-Za-z0-9]{6}$")
SM_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$", re.UNICODE)
SM_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{0,256}$", re.UNICODE)
SM_MAX_VERSIONS = 100


def sm_error(code, message):
    return ApiError(code, message, 400)


def sm_not_found():
    return sm_error("ResourceNotFoundException",
                    "Secrets Manager can't find the specified secret.")


def sm_secrets(emu, r):
    """The secrets of the caller's account in the signing region."""
    store = emu.world.state.setdefault("secretsmanager", {})
    return store.setdefault("%s/%s" % (r.account.id, r.region), {})


def sm_validation(field, message):
    return ApiError("ValidationException", "1 validation error detected: "
                    "Value at '%s' failed to satisfy constraint: %s"
                    % (field, message), 400)


def sm_find(emu, r, body, allow_deleted=False):
    sid = body.get("SecretId")
    if not isinstance(sid, str) or not sid:
        raise sm_validation("secretId", "Member must not be null")
    secrets_ = sm_secrets(emu, r)
    sec = secrets_.get(sid)
    if sec is None:
        m = SM_ARN.match(sid)
        if m:
            sec = secrets_.get(m.group(3))
            if sec is not None and sec["arn"] != sid:
                sec = None
        elif sid.startswith("arn:"):
            sec = next((s for s in secrets_.values()
                        if s["arn"].startswith(sid + "-")), None)
    if sec is None:
        raise sm_not_found()
    if sec.get("deleted") and not allow_deleted:
        raise sm_error("InvalidRequestException", "You can't perform this "
                       "operation on the secret because it was marked for "
                       "deletion.")
    return sec


def sm_token(body, required=False):
    tok = body.get("ClientRequestToken")
    if tok is None:
        if required:
            raise sm_validation("clientRequestToken",
                                "Member must not be null")
        return None
    if not isinstance(tok, str) or not 32 <= len(tok) <= 64:
        raise sm_validation("clientRequestToken", "Member must have length "
                            "greater than or equal to 32 and less than or "
                            "equal to 64")
    return tok


def sm_value(body):
    """('string', text) or ('binary', base64 text) or None."""
    if body.get("SecretString") is not None and \
            body.get("SecretBinary") is not None:
        raise sm_error("InvalidParameterException", "You can't specify "
                       "both a binary secret value and a string secret value "
                       "in the same secret.")
    if body.get("SecretString") is not None:
        v = body["SecretString"]
        if not isinstance(v, str) or len(v.encode()) > 65536:
            raise sm_validation("secretString", "Member must have length "
                                "less than or equal to 65536")
        return ("string", v)
    if body.get("SecretBinary") is not None:
        return ("binary", body["SecretBinary"])
    return None


def sm_stages(sec, vid):
    return sec["versions"][vid]["stages"]


def sm_holder(sec, label):
    for vid in sec["order"]:
        if label in sec["versions"][vid]["stages"]:
            return vid
    return None


def sm_move(sec, label, to_vid):
    """Put `label` on version `to_vid`, off any other; AWSCURRENT drags
    AWSPREVIOUS to the version it left."""
    old = sm_holder(sec, label)
    if old == to_vid:
        return
    if old is not None:
        sm_stages(sec, old).remove(label)
    if to_vid is not None:
        sm_stages(sec, to_vid).append(label)
    if label == "AWSCURRENT" and old is not None and to_vid is not None:
        prev = sm_holder(sec, "AWSPREVIOUS")
        if prev is not None:
            sm_stages(sec, prev).remove("AWSPREVIOUS")
        sm_stages(sec, old).append("AWSPREVIOUS")


def sm_add_version(sec, vid, value, stages):
    first = not any(v["stages"] for v in sec["versions"].values())
    sec["versions"][vid] = {"kind": value[0], "value": value[1],
                            "created": Clock.now(), "stages": []}
    sec["order"].append(vid)
    if stages is None:
        stages = ["AWSCURRENT"]
    if first and "AWSCURRENT" not in stages:
        stages = list(stages) + ["AWSCURRENT"]
    for label in stages:
        sm_move(sec, label, vid)
    sec["changed"] = Clock.now()
    # Past the quota, the oldest deprecated (unlabelled) versions go.
    while len(sec["order"]) > SM_MAX_VERSIONS:
        old = next((v for v in sec["order"]
                    if not sec["versions"][v]["stages"]), None)
        if old is None:
            break
        sec["order"].remove(old)
        del sec["versions"][old]


def sm_same_value(ver, value):
    return ver["kind"] == value[0] and hmac.compare_digest(
        str(ver["value"]).encode(), str(value[1]).encode())


def sm_check_stages(body):
    st = body.get("VersionStages")
    if st is None:
        return None
    if not isinstance(st, list) or not 1 <= len(st) <= 20 or not all(
            isinstance(x, str) and 1 <= len(x) <= 256 for x in st):
        raise sm_validation("versionStages", "Member must have length less "
                            "than or equal to 20")
    return st


def sm_tags(body):
    tags = body.get("Tags") or []
    if not isinstance(tags, list):
        raise sm_validation("tags", "Member must be a list")
    for t in tags:
        if not isinstance(t, dict) or not isinstance(t.get("Key"), str) or \
                not SM_TAG_KEY.match(t["Key"]) or \
                not SM_TAG_VALUE.match(str(t.get("Value", ""))):
            raise sm_error("InvalidParameterException", "Invalid tag: keys "
                           "are 1-128 and values 0-256 letters, digits, "
                           "spaces and _ . : / = + - @.")
        if t["Key"].lower().startswith("aws:"):
            raise sm_error("InvalidParameterException", "Tag keys starting "
                           "with aws: are reserved.")
    return tags


def sm_merge_tags(sec, tags):
    cur = {t["Key"]: t["Value"] for t in sec["tags"]}
    for t in tags:
        cur[t["Key"]] = str(t.get("Value", ""))
    if len(cur) > 50:
        raise sm_error("InvalidParameterException", "Number of tags "
                       "exceeds the limit of 50 tags per secret.")
    sec["tags"] = [{"Key": k, "Value": v} for k, v in cur.items()]


def sm_ident(sec):
    return {"ARN": sec["arn"], "Name": sec["name"]}


def sm_create_secret(emu, r, body):
    name = body.get("Name")
    if not isinstance(name, str) or not SM_NAME.match(name):
        raise sm_validation("name", "Member must satisfy regular expression "
                            "pattern: [A-Za-z0-9/_+=.@-]{1,512}")
    tok = sm_token(body)
    value = sm_value(body)
    tags = sm_tags(body)
    secrets_ = sm_secrets(emu, r)
    sec = secrets_.get(name)
    if sec is not None:
        if sec.get("deleted"):
            raise sm_error("InvalidRequestException", "You can't create this "
                           "secret because a secret with this name is "
                           "already scheduled for deletion.")
        ver = sec["versions"].get(tok) if tok else None
        if ver is not None and value is not None and \
                sm_same_value(ver, value):
            out = sm_ident(sec)
            out["VersionId"] = tok
            return out
        raise sm_error("ResourceExistsException", "The operation failed "
                       "because the secret %s already exists." % name)
    sec = {"name": name, "region": r.region,
           "arn": "arn:aws:secretsmanager:%s:%s:secret:%s-%s" % (
               r.region, r.account.id, name, "".join(
                   secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
                                  "opqrstuvwxyz0123456789")
                   for _ in range(6))),
           "created": Clock.now(), "changed": Clock.now(),
           "description": body.get("Description"),
           "kms_key": body.get("KmsKeyId"), "tags": [],
           "versions": {}, "order": [], "deleted": None}
    sm_merge_tags(sec, tags)
    out = sm_ident(sec)
    if value is not None:
        vid = tok or str(uuid.uuid4())
        sm_add_version(sec, vid, value, ["AWSCURRENT"])
        out["VersionId"] = vid
    secrets_[name] = sec
    return out


def sm_put_secret_value(emu, r, body):
    sec = sm_find(emu, r, body)
    tok = sm_token(body) or str(uuid.uuid4())
    value = sm_value(body)
    if value is None:
        raise sm_error("InvalidRequestException", "You must provide either "
                       "SecretString or SecretBinary.")
    stages = sm_check_stages(body)
    ver = sec["versions"].get(tok)
    if ver is not None:
        if not sm_same_value(ver, value):
            raise sm_error("ResourceExistsException", "You can't modify an "
                           "existing version, you can only create a new "
                           "version.")
    else:
        sm_add_version(sec, tok, value, stages)
    out = sm_ident(sec)
    out["VersionId"] = tok
    out["VersionStages"] = list(sm_stages(sec, tok))
    return out


def sm_get_secret_value(emu, r, body):
    sec = sm_find(emu, r, body)
    vid, stage = body.get("VersionId"), body.get("VersionStage")
    if vid is not None:
        if vid not in sec["versions"] or (
                stage is not None and stage not in sm_stages(sec, vid)):
            raise sm_error("ResourceNotFoundException", "Secrets Manager "
                           "can't find the specified secret value for "
                           "VersionId: %s" % vid)
    else:
        stage = stage or "AWSCURRENT"
        vid = sm_holder(sec, stage)
        if vid is None:
            raise sm_error("ResourceNotFoundException", "Secrets Manager "
                           "can't find the specified secret value for "
                           "staging label: %s" % stage)
    ver = sec["versions"][vid]
    ver["accessed"] = Clock.now()
    out = sm_ident(sec)
    out["VersionId"] = vid
    if ver["kind"] == "string":
        out["SecretString"] = ver["value"]
    else:
        out["SecretBinary"] = ver["value"]
    out["VersionStages"] = list(ver["stages"])
    out["CreatedDate"] = round(ver["created"], 3)
    return out


def sm_describe_secret(emu, r, body):
    sec = sm_find(emu, r, body, allow_deleted=True)
    out = sm_ident(sec)
    if sec.get("description"):
        out["Description"] = sec["description"]
    if sec.get("kms_key"):
        out["KmsKeyId"] = sec["kms_key"]
    out["RotationEnabled"] = False
    out["LastChangedDate"] = round(sec["changed"], 3)
    if sec.get("deleted"):
        out["DeletedDate"] = round(sec["deleted"], 3)
    if sec["tags"]:
        out["Tags"] = list(sec["tags"])
    v2s = {vid: list(sec["versions"][vid]["stages"]) for vid in sec["order"]
           if sec["versions"][vid]["stages"]}
    if v2s:
        out["VersionIdsToStages"] = v2s
    out["CreatedDate"] = round(sec["created"], 3)
    return out


def sm_page(emu, body, items):
    mr = body.get("MaxResults")
    if mr is not None and (not isinstance(mr, int) or not 1 <= mr <= 100):
        raise sm_validation("maxResults", "Member must have value less than "
                            "or equal to 100")
    mr = mr or 100
    ps = emu.faults.get("page_size")
    if ps:
        mr = min(mr, int(ps))
    start = 0
    nt = body.get("NextToken")
    if nt:
        try:
            tag, _, num = base64.b64decode(nt, validate=True).decode() \
                .partition(":")
            if tag != "cspf-emu":
                raise ValueError
            start = int(num)
        except (ValueError, UnicodeDecodeError):
            raise sm_error("InvalidNextTokenException", "The NextToken "
                           "value is invalid.")
    page = items[start:start + mr]
    more = start + mr < len(items)
    return page, (encode_marker(start + mr) if more else None)


def sm_list_secret_version_ids(emu, r, body):
    sec = sm_find(emu, r, body)
    deprecated = bool(body.get("IncludeDeprecated"))
    vids = [v for v in sec["order"]
            if deprecated or sec["versions"][v]["stages"]]
    vids.reverse()  # newest first
    page, nxt = sm_page(emu, body, vids)
    out = {"Versions": []}
    for vid in page:
        ver = sec["versions"][vid]
        item = {"VersionId": vid, "CreatedDate": round(ver["created"], 3)}
        if ver["stages"]:
            item["VersionStages"] = list(ver["stages"])
        if ver.get("accessed"):
            item["LastAccessedDate"] = float(int(ver["accessed"]) // 86400
                                             * 86400)
        out["Versions"].append(item)
    if nxt:
        out["NextToken"] = nxt
    out.update(sm_ident(sec))
    return out


def sm_update_secret_version_stage(emu, r, body):
    sec = sm_find(emu, r, body)
    label = body.get("VersionStage")
    if not isinstance(label, str) or not 1 <= len(label) <= 256:
        raise sm_validation("versionStage", "Member must not be null")
    move_to = body.get("MoveToVersionId")
    remove_from = body.get("RemoveFromVersionId")
    for field, vid in (("MoveToVersionId", move_to),
                       ("RemoveFromVersionId", remove_from)):
        if vid is not None and vid not in sec["versions"]:
            raise sm_error("InvalidParameterException", "The %s %s doesn't "
                           "exist." % (field, vid))
    holder = sm_holder(sec, label)
    if move_to is None and remove_from is None:
        raise sm_error("InvalidParameterException", "You must specify "
                       "MoveToVersionId or RemoveFromVersionId.")
    if move_to is not None:
        if holder is not None and holder != move_to:
            if remove_from is None:
                raise sm_error("InvalidParameterException", "The parameter "
                               "RemoveFromVersionId can't be empty. Staging "
                               "label %s is currently attached to version "
                               "%s, so you must explicitly reference that "
                               "version in RemoveFromVersionId."
                               % (label, holder))
            if remove_from != holder:
                raise sm_error("InvalidParameterException", "When you move "
                               "staging label %s, if you specify "
                               "RemoveFromVersionId, it must be set to the "
                               "version that currently has the staging label "
                               "%s." % (label, label))
        sm_move(sec, label, move_to)
    else:
        if holder != remove_from:
            raise sm_error("InvalidParameterException", "The staging label "
                           "%s is not attached to version %s."
                           % (label, remove_from))
        sm_stages(sec, remove_from).remove(label)
    sec["changed"] = Clock.now()
    return sm_ident(sec)


def sm_tag_resource(emu, r, body):
    sec = sm_find(emu, r, body)
    sm_merge_tags(sec, sm_tags(body))
    return {}


def sm_untag_resource(emu, r, body):
    sec = sm_find(emu, r, body)
    keys = body.get("TagKeys")
    if not isinstance(keys, list):
        raise sm_validation("tagKeys", "Member must not be null")
    sec["tags"] = [t for t in sec["tags"] if t["Key"] not in keys]
    return {}


def sm_delete_secret(emu, r, body):
    sec = sm_find(emu, r, body, allow_deleted=True)
    force = bool(body.get("ForceDeleteWithoutRecovery"))
    window = body.get("RecoveryWindowInDays")
    if force and window is not None:
        raise sm_error("InvalidParameterException", "You can't use "
                       "ForceDeleteWithoutRecovery in conjunction with "
                       "RecoveryWindowInDays.")
    if window is None:
        window = 30
    if not isinstance(window, int) or not 7 <= window <= 30:
        raise sm_error("InvalidParameterException", "The "
                       "RecoveryWindowInDays value must be between 7 and 30 "
                       "days (inclusive).")
    now = Clock.now()
    out = sm_ident(sec)
    if force:
        del sm_secrets(emu, r)[sec["name"]]
        out["DeletionDate"] = round(now, 3)
        return out
    if not sec.get("deleted"):
        sec["deleted"] = now
        sec["deletion_date"] = now + window * 86400
    out["DeletionDate"] = round(sec["deletion_date"], 3)
    return out


def sm_restore_secret(emu, r, body):
    sec = sm_find(emu, r, body, allow_deleted=True)
    sec["deleted"] = None
    sec.pop("deletion_date", None)
    return sm_ident(sec)


def sm_list_secrets(emu, r, body):
    secs = sorted(sm_secrets(emu, r).values(), key=lambda s: s["created"])
    if not body.get("IncludePlannedDeletion"):
        secs = [s for s in secs if not s.get("deleted")]
    page, nxt = sm_page(emu, body, secs)
    out = {"SecretList": []}
    for sec in page:
        d = sm_describe_secret(emu, r, {"SecretId": sec["arn"]})
        v2s = d.pop("VersionIdsToStages", None)
        if v2s:
            d["SecretVersionsToStages"] = v2s
        out["SecretList"].append(d)
    if nxt:
        out["NextToken"] = nxt
    return out


SM_ACTIONS = {
    "CreateSecret": sm_create_secret,
    "PutSecretValue": sm_put_secret_value,
    "GetSecretValue": sm_get_secret_value,
    "DescribeSecret": sm_describe_secret,
    "ListSecretVersionIds": sm_list_secret_version_ids,
    "UpdateSecretVersionStage": sm_update_secret_version_stage,
    "TagResource": sm_tag_resource,
    "UntagResource": sm_untag_resource,
    "DeleteSecret": sm_delete_secret,
    "RestoreSecret": sm_restore_secret,
    "ListSecrets": sm_list_secrets,
}


def serve_secretsmanager(handler, r):
    fn = SM_ACTIONS.get(r.action)
    if fn is None:
        raise ApiError("UnknownOperationException", None, 400)
    try:
        body = json.loads(r.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        raise ApiError("SerializationException", None, 400)
    with handler.emu.world.lock:
        out = fn(handler.emu, r, body)
    return "application/x-amz-json-1.1", json.dumps(
        out, separators=(",", ":")).encode(), ()


DISPATCH = {"iam": serve_iam, "sts": serve_sts, "s3": serve_s3,
            "cloudtrail": serve_cloudtrail,
            "secretsmanager": serve_secretsmanager}


# ---------------------------------------------------------------- control

def _control(self, method, raw_path, raw_query):
    emu = self.emu
    body = self.read_body()
    path = raw_path[len("/_emulator/"):].rstrip("/")
    try:
        req = json.loads(body) if body else {}
    except ValueError as e:
        return self.write_json(400, {"error": "bad JSON: %s" % e})
    if path == "health":
        return self.write_json(200, {"ok": True, "pid": os.getpid()})
    if path == "stats":
        if method == "GET":
            d = emu.stats.snapshot()
            d["lookup_events"] = emu.lookup.snapshot()
            d["call_counter"] = emu.faults.counter
            d["pid"] = os.getpid()
            return self.write_json(200, d)
        if method in ("POST", "DELETE"):
            emu.stats.reset()
            emu.lookup.reset()
            return self.write_json(200, {"ok": True})
    if path == "stats/reset" and method == "POST":
        emu.stats.reset()
        emu.lookup.reset()
        return self.write_json(200, {"ok": True})
    if path == "cloudtrail/events" and method == "POST":
        try:
            n = ct_load_events(emu, req)
        except (KeyError, TypeError, ValueError) as e:
            return self.write_json(400, {"error": str(e)})
        return self.write_json(200, {"ok": True, "events": n})
    if path == "faults":
        if method == "GET":
            return self.write_json(200, emu.faults.cfg)
        if method == "POST":
            try:
                emu.faults.set(req)
            except ValueError as e:
                return self.write_json(400, {"error": str(e)})
            return self.write_json(200, emu.faults.cfg)
    if path == "clock" and method == "POST":
        Clock.offset += float(req.get("advance_seconds", 0))
        return self.write_json(200, {"offset_seconds": Clock.offset,
                                     "now": iso_z(Clock.now())})
    if path == "state" and method == "GET":
        with emu.world.lock:
            text = json.dumps(emu.world.state, indent=1, sort_keys=True)
        return self.write(200, "application/json", text.encode())
    return self.write_json(404, {"error": "no such control endpoint: %s %s"
                                 % (method, raw_path)})


Handler.control = _control


# ---------------------------------------------------------------- main

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    block_on_close = False

    def handle_error(self, request, client_address):
        if Handler.emu and Handler.emu.verbose:
            super().handle_error(request, client_address)


class Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise Stop()


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def save_state(emu, path):
    with emu.world.lock:
        state = emu.world.state
        state["faults"] = emu.faults.cfg
        text = json.dumps(state, indent=1, sort_keys=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.rename(tmp, path)


def serve_on(sock, emu, save_path=None):
    """Serves on an already listening socket until SIGTERM/SIGINT."""
    Handler.emu = emu
    srv = Server(sock.getsockname(), Handler, bind_and_activate=False)
    srv.socket.close()
    srv.socket = sock
    srv.server_address = sock.getsockname()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        srv.serve_forever(poll_interval=0.5)
    except Stop:
        pass
    finally:
        if save_path:
            save_state(emu, save_path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="AWS emulator (IAM, STS, S3, CloudTrail) for cspf tests")
    ap.add_argument("--state", required=True, help="state file (JSON)")
    ap.add_argument("--port", type=int, default=0,
                    help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--workers", type=int, default=1,
                    help="pre-forked processes sharing the socket")
    ap.add_argument("--save-state", metavar="F",
                    help="write the state, with mutations, to F on exit "
                    "(one worker only)")
    ap.add_argument("--verbose", action="store_true",
                    help="log every request to stderr")
    ap.add_argument("--log", metavar="F",
                    help="append one line per call to F (time, service, "
                    "action, key id, status; no bodies)")
    args = ap.parse_args(argv)
    if args.workers < 1:
        ap.error("--workers must be >= 1")
    if args.save_state and args.workers > 1:
        ap.error("--save-state needs --workers 1: each worker has its own "
                 "copy of the state")
    with open(args.state) as f:
        state = json.load(f)
    master = secrets.token_bytes(32)
    try:
        emu = Emulator(state, master, args.verbose, args.log)
    except (KeyError, TypeError, ValueError) as e:
        sys.stderr.write("aws-emulator: bad state file %s: %s: %s\n" % (
            args.state, type(e).__name__, e))
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    port = sock.getsockname()[1]
    if args.workers == 1:
        if args.port_file:
            write_port_file(args.port_file, port)
        serve_on(sock, emu, args.save_state)
        return 0
    # Several workers accept on the one socket; a worker that loses the
    # race for a connection must not block in accept().
    sock.setblocking(False)
    global SHARED_DIR
    SHARED_DIR = tempfile.mkdtemp(prefix="cspf-aws-emulator.")
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve_on(sock, emu)
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    sock.close()
    if args.port_file:
        write_port_file(args.port_file, port)
    state_box = {"stopping": False}

    def stop(signum, frame):
        state_box["stopping"] = True
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    rc = 0
    live = set(children)
    while live:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        live.discard(pid)
        if not state_box["stopping"] and live:
            sys.stderr.write("aws-emulator: worker %d died; stopping\n" % pid)
            rc = 1
            stop(signal.SIGTERM, None)
    import shutil
    shutil.rmtree(SHARED_DIR, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
