#!/usr/bin/python3
"""GitHub REST API emulator for cspf's tests: the subset of the Issues API
that the github ticket sink (lib/digest/sink_github.c) and PyGithub use,
over HTTP/1.1 on 127.0.0.1.

  GET    /repos/{o}/{r}                               the repository
  GET    /repos/{o}/{r}/issues                        state, labels, sort,
                                                      direction, since,
                                                      per_page, page; Link
  POST   /repos/{o}/{r}/issues                        {title, body, labels,
                                                      assignees}
  GET    /repos/{o}/{r}/issues/{n}
  PATCH  /repos/{o}/{r}/issues/{n}                    {title, body, state,
                                                      state_reason, labels,
                                                      assignees}
  GET    /repos/{o}/{r}/issues/{n}/comments
  POST   /repos/{o}/{r}/issues/{n}/comments           {body}
  GET    /repos/{o}/{r}/issues/{n}/labels
  POST   /repos/{o}/{r}/issues/{n}/labels             {labels: [...]}
  GET    /repos/{o}/{r}/labels
  GET    /rate_limit
  /_emulator/faults, /_emulator/stats, /_emulator/issues,
  /_emulator/close, /_emulator/pulls, /_emulator/reset   control

Authentication: "Authorization: Bearer T" (or "token T") where T is the
value of the environment variable named by --token-env; 401 "Bad
credentials" otherwise.  The issues list holds pull requests too (made
through /_emulator/pulls), as GitHub's does.  State lives in memory.  The
request log (--log) has one JSON line per request: no bodies, queries or
headers.  Standard library only; run it with /usr/bin/python3.  See
README.md.
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
import sys
import threading
import time
import urllib.parse
import http.server

API_VERSIONS = ("2022-11-28",)
BODY_MAX = 65536
DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000


def now_iso(t=None):
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, status, message, errors=None, headers=None, doc=DOCS):
        super().__init__(status)
        self.status = status
        self.body = {"message": message, "documentation_url": doc}
        if errors:
            self.body["errors"] = errors
        self.status_text = ""
        self.headers = headers or {}


def validation(errors):
    return ApiError(422, "Validation Failed", errors,
                    doc="https://docs.github.com/rest/issues/issues#create-an-issue")


# ---------------------------------------------------------------- state

class State:
    """Everything the server holds, under self.lock.  repos[(o, r)] =
    {"id", "items": {number: item}, "labels": {name: label},
    "comments": {number: [comment]}, "next": n}."""

    def __init__(self, repos, user):
        self.lock = threading.Lock()
        self.known = [tuple(r.split("/", 1)) for r in repos]
        self.user = user
        self.faults = {}
        self.faults_base = 0
        self.total = 0
        self.used = 0
        self.reset()

    def reset(self):
        self.repos = {}
        self.ids = 1000
        self.stats = {"calls": 0, "routes": {}, "status": {}, "injected": {}}
        for o, r in self.known:
            self.repo(o, r, create=True)

    def new_id(self):
        self.ids += 1
        return self.ids

    def repo(self, owner, name, create=False):
        key = (owner.lower(), name.lower())
        rp = self.repos.get(key)
        if rp is None and create:
            rp = self.repos[key] = {"owner": owner, "name": name,
                                    "id": self.new_id(), "items": {},
                                    "labels": {}, "comments": {}, "next": 1}
        return rp

    def set_faults(self, f):
        if not isinstance(f, dict):
            raise ValueError("faults must be an object")
        known = {"latency_ms", "fail_at", "fail_status", "lose_answer_at",
                 "die_at", "throttle_at", "throttle_kind", "throttle_status",
                 "retry_after_s"}
        bad = set(f) - known
        if bad:
            raise ValueError("unknown fault switches: %s" % ", ".join(sorted(bad)))
        f = copy.deepcopy(f)
        for k in ("fail_at", "throttle_at", "lose_answer_at"):
            f[k] = [int(x) for x in f.get(k) or []]
        if f.get("die_at") is not None:
            f["die_at"] = int(f["die_at"])
        if f.get("throttle_kind", "primary") not in ("primary", "secondary"):
            raise ValueError("throttle_kind is primary or secondary")
        self.faults = f
        self.faults_base = self.total

    def next_call(self):
        """The fault for the next API call: None, ("die",), ("fail", s),
        ("lose_answer",) or ("throttle",)."""
        self.total += 1
        self.stats["calls"] = self.total
        f = self.faults
        n = self.total - self.faults_base
        if f.get("die_at") == n:
            return ("die",)
        if n in f.get("fail_at", ()):
            return ("fail", int(f.get("fail_status") or 503))
        if n in f.get("lose_answer_at", ()):
            return ("lose_answer",)
        if n in f.get("throttle_at", ()):
            return ("throttle",)
        return None


# ---------------------------------------------------------------- objects

def user_obj(base, login, uid=1):
    return {"login": login, "id": uid, "node_id": "U_%d" % uid,
            "type": "User", "site_admin": False,
            "url": "%s/users/%s" % (base, login),
            "html_url": "https://github.example/%s" % login}


def label_obj(base, rp, lab):
    return {"id": lab["id"], "node_id": "LA_%d" % lab["id"],
            "url": "%s/repos/%s/%s/labels/%s" % (base, rp["owner"], rp["name"],
                                                urllib.parse.quote(lab["name"])),
            "name": lab["name"], "color": lab["color"], "default": False,
            "description": None}


def repo_obj(base, rp, user):
    full = "%s/%s" % (rp["owner"], rp["name"])
    return {"id": rp["id"], "node_id": "R_%d" % rp["id"], "name": rp["name"],
            "full_name": full, "private": True,
            "owner": user_obj(base, rp["owner"], 2),
            "html_url": "https://github.example/%s" % full,
            "url": "%s/repos/%s" % (base, full), "has_issues": True,
            "open_issues_count": sum(1 for i in rp["items"].values()
                                     if i["state"] == "open"),
            "default_branch": "main", "permissions": {"admin": False,
                                                      "push": True,
                                                      "pull": True}}


def item_obj(base, rp, it, user):
    full = "%s/%s" % (rp["owner"], rp["name"])
    api = "%s/repos/%s/issues/%d" % (base, full, it["number"])
    o = {"id": it["id"], "node_id": "I_%d" % it["id"], "url": api,
         "repository_url": "%s/repos/%s" % (base, full),
         "labels_url": api + "/labels{/name}",
         "comments_url": api + "/comments", "events_url": api + "/events",
         "html_url": "https://github.example/%s/%s/%d" % (
             full, "pull" if it["pull"] else "issues", it["number"]),
         "number": it["number"], "state": it["state"],
         "state_reason": it["state_reason"], "title": it["title"],
         "body": it["body"], "user": user_obj(base, user),
         "labels": [label_obj(base, rp, rp["labels"][n]) for n in it["labels"]],
         "assignee": user_obj(base, it["assignees"][0], 3) if it["assignees"] else None,
         "assignees": [user_obj(base, a, 3) for a in it["assignees"]],
         "milestone": None, "locked": False,
         "comments": len(rp["comments"].get(it["number"], [])),
         "created_at": it["created_at"], "updated_at": it["updated_at"],
         "closed_at": it["closed_at"], "author_association": "MEMBER"}
    if it["pull"]:
        o["pull_request"] = {
            "url": "%s/repos/%s/pulls/%d" % (base, full, it["number"]),
            "html_url": o["html_url"], "diff_url": o["html_url"] + ".diff",
            "patch_url": o["html_url"] + ".patch", "merged_at": None}
    return o


# ---------------------------------------------------------------- handler

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""

    def version_string(self):
        return "GitHub.com"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("github-emulator: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def rate_headers(self, remaining=None, reset=None):
        st = self.server.state
        rem = max(RATE_LIMIT - st.used, 0) if remaining is None else remaining
        return {"X-RateLimit-Limit": str(RATE_LIMIT),
                "X-RateLimit-Remaining": str(rem),
                "X-RateLimit-Reset": str(reset or int(time.time()) + 3600),
                "X-RateLimit-Used": str(RATE_LIMIT - rem),
                "X-RateLimit-Resource": "core"}

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
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
        self.server.log_line(self.command, self.path, status, self.route_name)

    def dispatch(self, method):
        self.control_call = False
        self.route_name = ""
        try:
            raw = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        if path.startswith("/_emulator/"):
            self.control_call = True
            return self.control(method, path, raw)
        self.route_name = route_name(method, path)
        st = self.server.state
        with st.lock:
            action = st.next_call()
            r = st.stats["routes"]
            r[self.route_name] = r.get(self.route_name, 0) + 1
            latency = float(st.faults.get("latency_ms") or 0) / 1000.0
            retry_after = int(st.faults.get("retry_after_s", 1))
            kind = st.faults.get("throttle_kind") or "primary"
            tstatus = int(st.faults.get("throttle_status") or 403)
            if action is not None:
                inj = st.stats["injected"]
                inj[action[0]] = inj.get(action[0], 0) + 1
        if latency > 0:
            time.sleep(latency)
        if action is not None and action[0] == "die":
            self.server.log_line(method, self.path, 0, self.route_name)
            self.server.die()
        if action is not None and action[0] == "fail":
            return self.send(action[1], {"message": "Server Error"} if action[1] >= 500 else
                             {"message": "emulator: injected fault", "documentation_url": DOCS})
        try:
            user = self.auth()
            if action is not None and action[0] == "throttle":
                return self.throttle(kind, tstatus, retry_after)
            self.check_headers()
            with st.lock:
                st.used += 1
                status, out, hdrs = self.route(method, path, q, raw, user)
            if action is not None and action[0] == "lose_answer":
                # The call took effect; the answer is lost on the way (a
                # proxy's 502), as after a timeout.
                return self.send(502, {"message": "Server Error"})
            h = self.rate_headers()
            h.update(hdrs or {})
            self.send(status, out, h)
        except ApiError as e:
            h = self.rate_headers()
            h.update(e.headers)
            self.send(e.status, e.body, h)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the emulator: say so loudly
            sys.stderr.write("github-emulator: internal error on %s %s: %r\n" % (method, path, e))
            import traceback
            traceback.print_exc()
            self.send(500, {"message": "emulator bug: %r" % e})

    def throttle(self, kind, status, retry_after):
        """A rate limit as GitHub answers it: the primary one (remaining
        0, a reset time, no Retry-After) or a secondary one (Retry-After)."""
        if kind == "primary":
            reset = int(time.time()) + retry_after
            h = self.rate_headers(0, reset)
            raise ApiError(status, "API rate limit exceeded for user ID 1. If you reach out to "
                           "GitHub Support for help, please include the request ID.",
                           headers=h,
                           doc="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
        h = self.rate_headers()
        h["Retry-After"] = str(retry_after)
        raise ApiError(status, "You have exceeded a secondary rate limit. Please wait a few "
                       "minutes before you try again.", headers=h,
                       doc="https://docs.github.com/free-pro-team@latest/rest/overview/"
                       "rate-limits-for-the-rest-api#about-secondary-rate-limits")

    def auth(self):
        want = self.server.token
        got = self.headers.get("Authorization") or ""
        scheme, _, tok = got.partition(" ")
        if scheme.lower() not in ("bearer", "token") or not tok or \
                not secrets.compare_digest(tok.strip().encode(), want.encode()):
            raise ApiError(401, "Bad credentials")
        return self.server.state.user

    def check_headers(self):
        if not self.headers.get("User-Agent"):
            raise ApiError(403, "Request forbidden by administrative rules. Please make sure "
                           "your request has a User-Agent header "
                           "(https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                           "#user-agent-required). Check https://developer.github.com for "
                           "other possible causes.")
        v = self.headers.get("X-GitHub-Api-Version")
        if v is not None and v not in API_VERSIONS:
            raise ApiError(400, "API version %s is not supported." % v)

    def json_body(self, raw):
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON")

    # ------------------------------------------------------------ routes

    def route(self, method, path, q, raw, user):
        st = self.server.state
        base = self.server.base
        if path == "/rate_limit" and method == "GET":
            core = {"limit": RATE_LIMIT, "remaining": RATE_LIMIT - st.used,
                    "reset": int(time.time()) + 3600, "used": st.used}
            return 200, {"resources": {"core": core}, "rate": core}, None
        m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if not m:
            raise ApiError(404, "Not Found")
        owner, name = urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2))
        rest = m.group(3) or ""
        rp = st.repo(owner, name)
        if rp is None:
            raise ApiError(404, "Not Found")
        if rest in ("", "/") and method == "GET":
            return 200, repo_obj(base, rp, user), None
        if rest == "/labels" and method == "GET":
            return 200, [label_obj(base, rp, l) for l in rp["labels"].values()], None
        if rest == "/issues":
            if method == "GET":
                return self.list_issues(rp, q, user, path)
            if method == "POST":
                return self.create_issue(rp, self.json_body(raw), user)
            raise ApiError(404, "Not Found")
        m = re.match(r"^/issues/(\d+)(/comments|/labels)?$", rest)
        if not m:
            raise ApiError(404, "Not Found")
        it = rp["items"].get(int(m.group(1)))
        if it is None:
            raise ApiError(404, "Not Found")
        sub = m.group(2)
        if sub is None:
            if method == "GET":
                return 200, item_obj(base, rp, it, user), None
            if method == "PATCH":
                return self.edit_issue(rp, it, self.json_body(raw), user)
        elif sub == "/comments":
            cs = rp["comments"].setdefault(it["number"], [])
            if method == "GET":
                return 200, cs, None
            if method == "POST":
                b = self.json_body(raw)
                if not isinstance(b, dict) or not isinstance(b.get("body"), str) or not b["body"]:
                    raise validation([{"resource": "IssueComment", "code": "missing_field",
                                       "field": "body"}])
                if len(b["body"]) > BODY_MAX:
                    raise validation([{"resource": "IssueComment", "code": "custom", "field": "body",
                                       "message": "body is too long (maximum is %d characters)" % BODY_MAX}])
                cid = st.new_id()
                c = {"id": cid, "node_id": "IC_%d" % cid, "body": b["body"],
                     "user": user_obj(base, user),
                     "url": "%s/repos/%s/%s/issues/comments/%d" % (base, rp["owner"], rp["name"], cid),
                     "html_url": "%s#issuecomment-%d" % (item_obj(base, rp, it, user)["html_url"], cid),
                     "issue_url": item_obj(base, rp, it, user)["url"],
                     "created_at": now_iso(), "updated_at": now_iso(),
                     "author_association": "MEMBER"}
                cs.append(c)
                it["updated_at"] = now_iso()
                return 201, c, {"Location": c["url"]}
        elif sub == "/labels":
            if method == "GET":
                return 200, [label_obj(base, rp, rp["labels"][n]) for n in it["labels"]], None
            if method == "POST":
                b = self.json_body(raw)
                names = b.get("labels") if isinstance(b, dict) else b
                names = self.label_names(names, "labels")
                for n in names:
                    self.add_label(rp, it, n)
                it["updated_at"] = now_iso()
                return 200, [label_obj(base, rp, rp["labels"][n]) for n in it["labels"]], None
        raise ApiError(404, "Not Found")

    def label_names(self, v, field):
        if v is None:
            return []
        if not isinstance(v, list):
            raise validation([{"resource": "Issue", "code": "invalid", "field": field}])
        out = []
        for x in v:
            if isinstance(x, dict):
                x = x.get("name")
            if not isinstance(x, str) or not x.strip():
                raise validation([{"resource": "Label", "code": "invalid", "field": "name"}])
            if len(x) > 50:
                raise validation([{"resource": "Label", "code": "custom", "field": "name",
                                   "message": "name is too long (maximum is 50 characters)"}])
            out.append(x)
        return out

    def add_label(self, rp, it, name):
        """Labels that do not exist are made (as GitHub does for a user
        with push access); names match whatever their case."""
        for have in rp["labels"]:
            if have.lower() == name.lower():
                name = have
                break
        else:
            rp["labels"][name] = {"id": self.server.state.new_id(), "name": name,
                                  "color": "ededed"}
        if name not in it["labels"]:
            it["labels"].append(name)

    def check_assignees(self, v):
        if v is None:
            return []
        if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
            raise validation([{"resource": "Issue", "code": "invalid", "field": "assignees"}])
        allowed = self.server.assignable
        for a in v:
            if allowed is not None and a not in allowed:
                raise validation([{"value": a, "resource": "Issue", "field": "assignees",
                                   "code": "invalid"}])
        if len(v) > 10:
            raise validation([{"resource": "Issue", "code": "custom", "field": "assignees",
                               "message": "assignees may not exceed 10"}])
        return list(dict.fromkeys(v))

    def check_text(self, b, field, required):
        v = b.get(field)
        if v is None:
            if required:
                raise validation([{"resource": "Issue", "code": "missing_field", "field": field}])
            return None
        if not isinstance(v, str):
            raise validation([{"resource": "Issue", "code": "invalid", "field": field}])
        if field == "title" and not v.strip():
            raise validation([{"resource": "Issue", "code": "missing_field", "field": field}])
        if field == "title" and len(v) > 256:
            raise validation([{"resource": "Issue", "code": "custom", "field": "title",
                               "message": "title is too long (maximum is 256 characters)"}])
        if field == "body" and len(v) > BODY_MAX:
            raise validation([{"resource": "Issue", "code": "custom", "field": "body",
                               "message": "body is too long (maximum is %d characters)" % BODY_MAX}])
        return v

    def create_issue(self, rp, b, user):
        st = self.server.state
        if not isinstance(b, dict):
            raise ApiError(400, "Problems parsing JSON")
        title = self.check_text(b, "title", True)
        body = self.check_text(b, "body", False)
        labels = self.label_names(b.get("labels"), "labels")
        assignees = self.check_assignees(b.get("assignees"))
        return 201, self.new_item(rp, title, body, labels, assignees, user, False), None

    def new_item(self, rp, title, body, labels, assignees, user, pull):
        st = self.server.state
        t = now_iso()
        n = rp["next"]
        rp["next"] += 1
        it = {"id": st.new_id(), "number": n, "title": title, "body": body,
              "state": "open", "state_reason": None, "labels": [],
              "assignees": assignees, "created_at": t, "updated_at": t,
              "closed_at": None, "pull": pull, "seq": st.new_id()}
        for l in labels:
            self.add_label(rp, it, l)
        rp["items"][n] = it
        return item_obj(self.server.base, rp, it, user)

    def edit_issue(self, rp, it, b, user):
        if not isinstance(b, dict):
            raise ApiError(400, "Problems parsing JSON")
        title = self.check_text(b, "title", False)
        if "body" in b and b["body"] is None:
            body = None
            it["body"] = None
        else:
            body = self.check_text(b, "body", False)
        state = b.get("state")
        if state is not None and state not in ("open", "closed"):
            raise validation([{"resource": "Issue", "code": "invalid", "field": "state"}])
        if "labels" in b:
            names = self.label_names(b["labels"], "labels")
            it["labels"] = []
            for n in names:
                self.add_label(rp, it, n)
        if "assignees" in b:
            it["assignees"] = self.check_assignees(b["assignees"])
        if title is not None:
            it["title"] = title
        if body is not None:
            it["body"] = body
        if state is not None:
            close(it, state, b.get("state_reason"))
        it["updated_at"] = now_iso()
        return 200, item_obj(self.server.base, rp, it, user), None

    def list_issues(self, rp, q, user, path):
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation([{"resource": "Issue", "code": "invalid", "field": "state"}])
        want = [l.strip().lower() for l in q.get("labels", "").split(",") if l.strip()]
        try:
            per_page = int(q.get("per_page", "30"))
            page = int(q.get("page", "1"))
        except ValueError:
            raise ApiError(400, "Invalid per_page or page")
        per_page = min(max(per_page, 1), 100)
        page = max(page, 1)
        sort = q.get("sort", "created")
        if sort not in ("created", "updated", "comments"):
            raise validation([{"resource": "Issue", "code": "invalid", "field": "sort"}])
        direction = q.get("direction", "desc")
        since = q.get("since")
        items = []
        for it in rp["items"].values():
            if state != "all" and it["state"] != state:
                continue
            have = {l.lower() for l in it["labels"]}
            if any(w not in have for w in want):
                continue
            if since and it["updated_at"] < since:
                continue
            items.append(it)
        keyf = {"created": lambda i: i["seq"],
                "updated": lambda i: (i["updated_at"], i["seq"]),
                "comments": lambda i: (len(rp["comments"].get(i["number"], [])), i["seq"])}[sort]
        items.sort(key=keyf, reverse=(direction != "asc"))
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        last = max((len(items) + per_page - 1) // per_page, 1)
        links = []

        def link(p, rel):
            qq = dict(q)
            qq["page"] = str(p)
            qq["per_page"] = str(per_page)
            return '<%s%s?%s>; rel="%s"' % (self.server.base, path, urllib.parse.urlencode(qq), rel)
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
            links.append(link(page - 1, "prev"))
        hdrs = {"Link": ", ".join(links)} if links else None
        return 200, [item_obj(self.server.base, rp, it, user) for it in chunk], hdrs

    # ------------------------------------------------------------ control

    def control(self, method, path, raw):
        st = self.server.state
        try:
            b = json.loads(raw or b"{}")
        except ValueError as e:
            return self.send(400, {"message": str(e)})
        if path == "/_emulator/health" and method == "GET":
            return self.send(200, {"ok": True})
        if path == "/_emulator/faults":
            if method == "POST":
                try:
                    with st.lock:
                        st.set_faults(b)
                        return self.send(200, st.faults)
                except (ValueError, TypeError) as e:
                    return self.send(400, {"message": str(e)})
            with st.lock:
                return self.send(200, st.faults)
        if path == "/_emulator/stats" and method == "GET":
            with st.lock:
                return self.send(200, st.stats)
        if path == "/_emulator/reset" and method == "POST":
            with st.lock:
                st.reset()
                st.faults = {}
                st.faults_base = st.total
            return self.send(200, {"ok": True})
        if path == "/_emulator/issues" and method == "GET":
            with st.lock:
                out = []
                for rp in st.repos.values():
                    for it in sorted(rp["items"].values(), key=lambda i: i["number"]):
                        out.append({"repo": "%s/%s" % (rp["owner"], rp["name"]),
                                    "number": it["number"], "title": it["title"],
                                    "body": it["body"], "state": it["state"],
                                    "labels": list(it["labels"]),
                                    "assignees": list(it["assignees"]),
                                    "pull_request": it["pull"],
                                    "comments": [c["body"] for c in
                                                 rp["comments"].get(it["number"], [])]})
                return self.send(200, out)
        if path in ("/_emulator/close", "/_emulator/pulls") and method == "POST":
            repo = b.get("repo") or ""
            o, _, r = repo.partition("/")
            with st.lock:
                rp = st.repo(o, r)
                if rp is None:
                    return self.send(404, {"message": "no repository %s" % repo})
                if path == "/_emulator/pulls":
                    obj = self.new_item(rp, b.get("title") or "a pull request",
                                        b.get("body"), b.get("labels") or [], [],
                                        st.user, True)
                    return self.send(201, {"number": obj["number"]})
                it = rp["items"].get(int(b.get("number") or 0))
                if it is None:
                    return self.send(404, {"message": "no issue %s#%s" % (repo, b.get("number"))})
                close(it, b.get("state") or "closed", b.get("state_reason"))
                it["updated_at"] = now_iso()
                return self.send(200, {"number": it["number"], "state": it["state"]})
        return self.send(404, {"message": "Not Found"})


def close(it, state, reason):
    if state == "closed" and it["state"] != "closed":
        it["closed_at"] = now_iso()
        it["state_reason"] = reason or "completed"
    elif state == "open" and it["state"] != "open":
        it["closed_at"] = None
        it["state_reason"] = "reopened"
    it["state"] = state


def route_name(method, path):
    """The route, without owner, repository or numbers: for the stats."""
    p = re.sub(r"^/repos/[^/]+/[^/]+", "/repos/{o}/{r}", path)
    p = re.sub(r"/issues/\d+", "/issues/{n}", p)
    return "%s %s" % (method, p)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, state, token, assignable, verbose, log_path):
        self.state = state
        self.token = token
        self.assignable = assignable
        self.verbose = verbose
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        super().__init__(addr, Handler)
        self.port = self.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def log_line(self, method, path, status, route):
        if self.log_file is None:
            return
        line = json.dumps({"t": round(time.time(), 3), "method": method,
                           "path": urllib.parse.urlsplit(path).path,
                           "route": route, "status": status})
        with self.log_lock:
            self.log_file.write(line + "\n")

    def die(self):
        sys.stderr.write("github-emulator: dying as asked (fault switch)\n")
        sys.stderr.flush()
        if self.log_file:
            self.log_file.flush()
        os._exit(3)


def main(argv=None):
    ap = argparse.ArgumentParser(description="GitHub Issues REST API emulator for cspf's tests.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--token-env", required=True,
                    help="name of the environment variable that holds the one valid token")
    ap.add_argument("--repo", action="append", default=None,
                    help="OWNER/REPO that exists (repeatable; default: cspf-test/reviews)")
    ap.add_argument("--assignable", action="append", default=None,
                    help="a login issues may be assigned to (repeatable; default: any)")
    ap.add_argument("--user", default="cspf-bot", help="the token's login")
    ap.add_argument("--log", help="append one JSON line per request (no bodies) to this file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    token = os.environ.get(args.token_env) or ""
    if not token:
        ap.error("the environment variable %s (--token-env) is empty" % args.token_env)
    repos = args.repo or ["cspf-test/reviews"]
    for r in repos:
        if not re.match(r"^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$", r):
            ap.error("--repo OWNER/REPO, not %r" % r)
    state = State(repos, args.user)
    server = Server(("127.0.0.1", args.port), state, token,
                    set(args.assignable) if args.assignable else None,
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
    sys.stderr.write("github-emulator: listening on http://127.0.0.1:%d\n" % server.port)
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    if server.log_file:
        server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
