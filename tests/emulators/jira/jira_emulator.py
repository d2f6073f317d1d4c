#!/usr/bin/python3
"""Jira emulator for cspf's tests: the part of the Jira REST API version 2
that cspf's jira ticket sink and python3-jira use, over HTTP/1.1 on
127.0.0.1.

  /rest/api/2/serverInfo                          GET
  /rest/api/2/myself                              GET
  /rest/api/2/field                               GET
  /rest/api/2/project/<key>                       GET
  /rest/api/2/issue                               POST
  /rest/api/2/issue/<key or id>                   GET [?fields=], PUT
                                                  {fields, update}
  /rest/api/2/issue/<key>/comment                 GET, POST {body}
  /rest/api/2/issue/<key>/transitions             GET, POST {transition}
  /rest/api/2/issue/<key>/attachments             POST multipart "file"
                                                  (X-Atlassian-Token:
                                                  no-check)
  /rest/api/2/attachment/<id>                     GET, DELETE
  /secure/attachment/<id>/<name>                  GET: the content
  /rest/api/2/search                              GET ?jql=, POST {jql,
                                                  startAt, maxResults,
                                                  fields}
  /_emulator/faults, /_emulator/stats,            control
  /_emulator/issues, /_emulator/close,
  /_emulator/health

Auth: HTTP Basic (--user, the token from the environment variable named
by --token-env) or a Bearer personal access token (the same token).
JQL: the subset cspf uses (see README.md).  The request log (--log) has
one JSON line per request, without bodies, queries or header values.
Standard library only; run it with /usr/bin/python3.  See README.md.
"""

import argparse
import base64
import copy
import datetime
import email.parser
import email.policy
import hmac
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import http.server

API = "/rest/api/2/"
SUMMARY_MAX = 255
TEXT_MAX = 32767
STATUSES = {
    "1": {"id": "1", "name": "To Do",
          "statusCategory": {"id": 2, "key": "new", "name": "To Do",
                             "colorName": "blue-gray"}},
    "3": {"id": "3", "name": "In Progress",
          "statusCategory": {"id": 4, "key": "indeterminate",
                             "name": "In Progress", "colorName": "yellow"}},
    "10001": {"id": "10001", "name": "Done",
              "statusCategory": {"id": 3, "key": "done", "name": "Done",
                                 "colorName": "green"}},
}
TRANSITIONS = [("11", "To Do", "1"), ("21", "In Progress", "3"),
               ("31", "Done", "10001")]
ISSUE_TYPES = {"Task": "10002", "Bug": "10004", "Story": "10001"}
FIELDS = ["summary", "description", "labels", "status", "project",
          "issuetype", "duedate", "assignee", "reporter", "created",
          "updated", "attachment", "comment", "resolution"]


def jira_time(t):
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (d.microsecond // 1000)


class JiraError(Exception):
    def __init__(self, status, messages=None, errors=None, headers=None):
        super().__init__(status)
        self.status = status
        self.body = {"errorMessages": messages or [], "errors": errors or {}}
        self.headers = headers or {}


# ---------------------------------------------------------------- JQL

class JqlError(JiraError):
    def __init__(self, msg):
        super().__init__(400, ["Error in the JQL Query: " + msg])


TOKEN = re.compile(r"""\s*(?:(?P<op>!=|=)|(?P<lp>\()|(?P<rp>\))|(?P<comma>,)
                   |"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'
                   |(?P<word>[^\s=!(),"']+))""", re.X)
BARE = re.compile(r"^[A-Za-z0-9_.@]+$")


def jql_tokens(s):
    out, i = [], 0
    s = s.rstrip()
    while i < len(s):
        m = TOKEN.match(s, i)
        if not m or m.end() == i:
            raise JqlError("the character '%s' at position %d is not "
                           "expected." % (s[i], i))
        i = m.end()
        if m.group("op"):
            out.append(("op", m.group("op")))
        elif m.group("lp") or m.group("rp") or m.group("comma"):
            out.append(("punct", m.group(0).strip()))
        elif m.group("dq") is not None or m.group("sq") is not None:
            v = m.group("dq") if m.group("dq") is not None else m.group("sq")
            out.append(("str", re.sub(r"\\(.)", r"\1", v)))
        else:
            w = m.group("word")
            if not BARE.match(w):
                bad = next(c for c in w if not re.match(r"[A-Za-z0-9_.@]", c))
                raise JqlError("The character '%s' is a reserved JQL "
                               "character. You must enclose it in a string "
                               "or use the escape '\\u%04x' instead."
                               % (bad, ord(bad)))
            out.append(("word", w))
    return out


def jql_parse(s):
    """[(field, op, value)], [(field, asc)]: clauses joined by AND."""
    toks = jql_tokens(s)
    clauses, order, i = [], [], 0

    def kw(j, word):
        return j < len(toks) and toks[j][0] == "word" and toks[j][1].upper() == word

    while i < len(toks) and not kw(i, "ORDER"):
        if clauses:
            if not kw(i, "AND"):
                raise JqlError("Expecting either 'AND' or 'ORDER BY' but got "
                               "'%s'." % toks[i][1])
            i += 1
        if i + 2 >= len(toks):
            raise JqlError("Expecting a clause 'field operator value' at "
                           "the end of the query.")
        f, op, v = toks[i], toks[i + 1], toks[i + 2]
        if f[0] != "word" or op[0] != "op" or v[0] not in ("word", "str"):
            raise JqlError("Expecting 'field operator value' at '%s'." % f[1])
        field = f[1].lower()
        if field not in ("labels", "project", "statuscategory", "status",
                         "key", "issuekey"):
            raise JqlError("Field '%s' does not exist or you do not have "
                           "permission to view it." % f[1])
        clauses.append((field, op[1], v[1]))
        i += 3
    if i < len(toks):
        if not kw(i + 1, "BY"):
            raise JqlError("Expecting 'BY' after 'ORDER'.")
        i += 2
        while i < len(toks):
            if toks[i][0] != "word":
                raise JqlError("Expecting a field name in ORDER BY.")
            field, asc = toks[i][1].lower(), True
            i += 1
            if kw(i, "ASC") or kw(i, "DESC"):
                asc = toks[i][1].upper() == "ASC"
                i += 1
            if field not in ("created", "key", "updated"):
                raise JqlError("Not able to sort using field '%s'." % field)
            order.append((field, asc))
            if i < len(toks):
                if toks[i] != ("punct", ","):
                    raise JqlError("Expecting ',' or the end of the query.")
                i += 1
    return clauses, order


def jql_match(issue, clauses, projects):
    for field, op, v in clauses:
        if field == "labels":
            hit = v in issue["labels"]
            # As in Jira: != matches only issues that have labels.
            ok = hit if op == "=" else (not hit and bool(issue["labels"]))
        elif field == "project":
            if v.upper() not in projects and v not in [p["id"] for p in projects.values()]:
                raise JqlError("The value '%s' does not exist for the field "
                               "'project'." % v)
            hit = issue["project"] == v.upper() or projects[issue["project"]]["id"] == v
            ok = hit if op == "=" else not hit
        elif field == "statuscategory":
            cat = STATUSES[issue["status"]]["statusCategory"]
            hit = v.lower() in (cat["key"], cat["name"].lower(), str(cat["id"]))
            ok = hit if op == "=" else not hit
        elif field == "status":
            hit = v.lower() == STATUSES[issue["status"]]["name"].lower()
            ok = hit if op == "=" else not hit
        else:
            hit = v.upper() == issue["key"]
            ok = hit if op == "=" else not hit
        if not ok:
            return False
    return True


# ---------------------------------------------------------------- state

class State:
    def __init__(self, projects, assignable, max_results):
        self.lock = threading.Lock()
        self.projects = {k: {"id": str(10000 + i), "key": k, "name": k}
                         for i, k in enumerate(projects)}
        self.assignable = set(assignable)
        self.max_results = max_results
        self.issues = {}       # key -> issue
        self.by_id = {}        # id -> key
        self.counters = {k: 0 for k in projects}
        self.next_id = 10000
        self.next_att = 20000
        self.next_comment = 30000
        self.attachments = {}  # id -> attachment (with "data", "issue")
        self.faults = {}
        self.faults_base = 0
        self.total = 0
        self.route_total = 0
        self.stats = {"total": 0, "status": {}, "routes": {}, "injected": {}}

    def set_faults(self, f):
        if not isinstance(f, dict):
            raise ValueError("faults must be an object")
        known = {"latency_ms", "fail_at", "fail_status", "fail_every",
                 "throttle_at", "retry_after_s", "die_at",
                 "lose_answer_at", "route"}
        bad = set(f) - known
        if bad:
            raise ValueError("unknown fault switches: %s" % ", ".join(sorted(bad)))
        f = copy.deepcopy(f)
        for k in ("fail_at", "throttle_at", "lose_answer_at"):
            f[k] = [int(x) for x in f.get(k) or []]
        if f.get("die_at") is not None:
            f["die_at"] = int(f["die_at"])
        if f.get("route"):
            f["route_re"] = re.compile(f["route"])
        self.faults = f
        self.faults_base = self.total
        self.route_total = 0

    def next_call(self, route):
        """The fault for the next API call, under the lock."""
        self.total += 1
        self.stats["total"] = self.total
        r = self.stats["routes"]
        r[route] = r.get(route, 0) + 1
        f = self.faults
        if f.get("route_re") is not None:
            if not f["route_re"].fullmatch(route):
                return None
            self.route_total += 1
            n = self.route_total
        else:
            n = self.total - self.faults_base
        if f.get("die_at") == n:
            return ("die",)
        if n in f.get("fail_at", ()):
            return ("fail", int(f.get("fail_status") or 503))
        if n in f.get("lose_answer_at", ()):
            return ("lose_answer",)
        fe = int(f.get("fail_every") or 0)
        if fe > 0 and n % fe == 0:
            return ("fail", int(f.get("fail_status") or 503))
        if n in f.get("throttle_at", ()):
            return ("throttle",)
        return None


def route_name(method, path):
    """"POST /rest/api/2/issue/{key}/comment": the route, for stats."""
    p = re.sub(r"^/rest/api/2/issue/[^/]+", "/rest/api/2/issue/{key}", path)
    p = re.sub(r"^/rest/api/2/attachment/[^/]+", "/rest/api/2/attachment/{id}", p)
    p = re.sub(r"^/rest/api/2/project/[^/]+", "/rest/api/2/project/{key}", p)
    p = re.sub(r"^/secure/attachment/.*", "/secure/attachment/{id}/{name}", p)
    return "%s %s" % (method, p)


# ---------------------------------------------------------------- handler

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cspf-jira-emulator/1"
    timeout = 120

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("jira-emulator: " + (fmt % args) + "\n")

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 * 1024 * 1024:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, body=None, headers=None, raw=None, ctype=None):
        if raw is not None:
            data = raw
        else:
            data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Cache-Control", "no-cache, no-store, no-transform")
        if raw is not None or body is not None:
            self.send_header("Content-Type", ctype or "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        if self.control_call:
            return
        st = self.server.state
        with st.lock:
            k = str(status)
            st.stats["status"][k] = st.stats["status"].get(k, 0) + 1
        self.server.log_line(self.command, self.path, status, self.auth_kind)

    def base_url(self):
        return "http://%s" % (self.headers.get("Host") or "127.0.0.1:%d" % self.server.port)

    def dispatch(self, method):
        self.control_call = False
        self.auth_kind = "none"
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
        st = self.server.state
        route = route_name(method, path)
        with st.lock:
            action = st.next_call(route)
            latency = float(st.faults.get("latency_ms") or 0) / 1000.0
            retry_after = str(st.faults.get("retry_after_s", 1))
            if action is not None:
                inj = st.stats["injected"]
                inj[action[0]] = inj.get(action[0], 0) + 1
        if latency > 0:
            time.sleep(latency)
        if action is not None and action[0] == "die":
            self.server.log_line(method, self.path, 0, self.auth_kind)
            self.server.die()
        if action is not None and action[0] == "fail":
            return self.send(action[1], {"errorMessages": ["emulator: injected fault"], "errors": {}})
        if action is not None and action[0] == "throttle":
            # The headers of Jira Data Center's rate limiting.
            return self.send(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                             {"Retry-After": retry_after, "X-RateLimit-Limit": "20",
                              "X-RateLimit-Remaining": "0", "X-RateLimit-FillRate": "10",
                              "X-RateLimit-Interval-Seconds": "1"})
        try:
            user = self.authenticate()
            with st.lock:
                status, out = self.route(method, path, q, raw, user)
            if action is not None and action[0] == "lose_answer":
                # The call took effect; its answer is a gateway's error.
                return self.send(502, raw=b"<html><body>502 Bad Gateway</body></html>",
                                 ctype="text/html")
            if isinstance(out, bytes):
                self.send(status, raw=out, ctype="application/octet-stream")
            else:
                self.send(status, out)
        except JiraError as e:
            self.send(e.status, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug in the emulator: say so loudly
            sys.stderr.write("jira-emulator: internal error on %s %s: %r\n" % (method, path, e))
            import traceback
            traceback.print_exc()
            self.send(500, {"errorMessages": ["emulator bug: %r" % e], "errors": {}})

    def authenticate(self):
        """The user name of a valid Authorization, else a 401."""
        auth = self.headers.get("Authorization") or ""
        want = self.server.token.encode()
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "basic":
            self.auth_kind = "basic"
            try:
                dec = base64.b64decode(cred.strip(), validate=True)
            except ValueError:
                dec = b""
            user, sep, tok = dec.partition(b":")
            if (sep and self.server.user is not None
                    and hmac.compare_digest(user, self.server.user.encode())
                    and hmac.compare_digest(tok, want)):
                return self.server.user
        elif scheme.lower() == "bearer":
            self.auth_kind = "bearer"
            if hmac.compare_digest(cred.strip().encode(), want):
                return "pat-user"
        raise JiraError(401, ["You are not authenticated. Authentication "
                              "required to perform this operation."],
                        headers={"WWW-Authenticate": 'Basic realm="protected-area"'})

    def json_body(self, raw):
        if not raw:
            raise JiraError(400, ["No content to map due to end-of-input"])
        try:
            b = json.loads(raw)
        except ValueError:
            raise JiraError(400, ["Unexpected character: the body is not JSON"])
        if not isinstance(b, dict):
            raise JiraError(400, ["Can not deserialize: expected an object"])
        return b

    # ------------------------------------------------------------ routes

    def route(self, method, path, q, raw, user):
        st = self.server.state
        if not path.startswith(API) and not path.startswith("/secure/attachment/"):
            raise JiraError(404, ["Not found"])
        m = re.match(r"^/secure/attachment/(\d+)/", path)
        if m and method == "GET":
            a = st.attachments.get(m.group(1))
            if a is None:
                raise JiraError(404, ["The attachment does not exist."])
            return 200, a["data"]
        rest = path[len(API):].rstrip("/")
        if rest == "serverInfo" and method == "GET":
            return 200, {"baseUrl": self.base_url(), "version": "9.4.0",
                         "versionNumbers": [9, 4, 0], "deploymentType": "Server",
                         "buildNumber": 940000, "serverTitle": "cspf Jira emulator",
                         "serverTime": jira_time(time.time())}
        if rest == "myself" and method == "GET":
            return 200, self.user_doc(user)
        if rest == "field" and method == "GET":
            return 200, [{"id": f, "key": f, "name": f.capitalize(), "custom": False,
                          "navigable": True, "searchable": True,
                          "clauseNames": [f]} for f in FIELDS]
        m = re.match(r"^project/([^/]+)$", rest)
        if m and method == "GET":
            p = self.project(m.group(1))
            return 200, dict(p, self="%s%sproject/%s" % (self.base_url(), API, p["id"]),
                             issueTypes=[{"id": i, "name": n, "subtask": False}
                                         for n, i in ISSUE_TYPES.items()])
        if rest == "issue" and method == "POST":
            return self.create(self.json_body(raw), user)
        if rest == "search" and method in ("GET", "POST"):
            if method == "POST":
                b = self.json_body(raw)
            else:
                b = dict(q)
                if "fields" in b:
                    b["fields"] = b["fields"].split(",")
            return self.search(b)
        m = re.match(r"^attachment/(\d+)$", rest)
        if m:
            a = st.attachments.get(m.group(1))
            if a is None:
                raise JiraError(404, ["The attachment with id '%s' does not exist" % m.group(1)])
            if method == "GET":
                return 200, self.attachment_doc(a)
            if method == "DELETE":
                iss = st.issues[a["issue"]]
                iss["attachments"] = [x for x in iss["attachments"] if x != a["id"]]
                del st.attachments[a["id"]]
                return 204, None
            raise JiraError(405, ["Method not allowed"])
        m = re.match(r"^issue/([^/]+)(?:/(comment|transitions|attachments))?$", rest)
        if not m:
            raise JiraError(404, ["Not found"])
        iss = self.issue(m.group(1))
        sub = m.group(2)
        if sub is None:
            if method == "GET":
                fields = q.get("fields")
                return 200, self.issue_doc(iss, fields.split(",") if fields else None)
            if method == "PUT":
                return self.edit(iss, self.json_body(raw), user)
        elif sub == "comment":
            if method == "GET":
                cs = [self.comment_doc(iss, c) for c in iss["comments"]]
                return 200, {"startAt": 0, "maxResults": len(cs), "total": len(cs),
                             "comments": cs}
            if method == "POST":
                b = self.json_body(raw)
                return 201, self.comment_doc(iss, self.add_comment(iss, b.get("body"), user))
        elif sub == "transitions":
            if method == "GET":
                return 200, {"expand": "transitions",
                             "transitions": [{"id": i, "name": n, "hasScreen": False,
                                              "to": self.status_doc(s)}
                                             for i, n, s in TRANSITIONS]}
            if method == "POST":
                b = self.json_body(raw)
                tr = b.get("transition") or {}
                for i, n, s in TRANSITIONS:
                    if str(tr.get("id")) == i or tr.get("name") == n:
                        iss["status"] = s
                        iss["updated"] = time.time()
                        return 204, None
                raise JiraError(400, ["Transition id '%s' is not valid for this issue."
                                      % tr.get("id")])
        elif sub == "attachments" and method == "POST":
            return self.attach(iss, raw, user)
        raise JiraError(405, ["Method not allowed"])

    def project(self, k):
        st = self.server.state
        p = st.projects.get(k.upper())
        if p is None:
            for x in st.projects.values():
                if x["id"] == k:
                    return x
            raise JiraError(404, ["No project could be found with key '%s'." % k])
        return p

    def issue(self, k):
        st = self.server.state
        key = st.by_id.get(k, k.upper())
        iss = st.issues.get(key)
        if iss is None:
            raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])
        return iss

    # ------------------------------------------------------------ documents

    def user_doc(self, name):
        if name is None:
            return None
        return {"self": "%s%suser?username=%s" % (self.base_url(), API, urllib.parse.quote(name)),
                "name": name, "key": name, "emailAddress": name if "@" in name else "",
                "displayName": name, "active": True, "timeZone": "UTC"}

    def status_doc(self, sid):
        s = copy.deepcopy(STATUSES[sid])
        s["self"] = "%s%sstatus/%s" % (self.base_url(), API, sid)
        return s

    def attachment_doc(self, a):
        return {"self": "%s%sattachment/%s" % (self.base_url(), API, a["id"]),
                "id": a["id"], "filename": a["filename"],
                "author": self.user_doc(a["author"]), "created": jira_time(a["created"]),
                "size": len(a["data"]), "mimeType": a["mimeType"],
                "content": "%s/secure/attachment/%s/%s" % (
                    self.base_url(), a["id"], urllib.parse.quote(a["filename"]))}

    def comment_doc(self, iss, c):
        return {"self": "%s%sissue/%s/comment/%s" % (self.base_url(), API, iss["id"], c["id"]),
                "id": c["id"], "author": self.user_doc(c["author"]), "body": c["body"],
                "updateAuthor": self.user_doc(c["author"]),
                "created": jira_time(c["created"]), "updated": jira_time(c["created"])}

    def issue_doc(self, iss, fields=None):
        st = self.server.state
        p = st.projects[iss["project"]]
        all_fields = {
            "summary": iss["summary"],
            "description": iss["description"],
            "labels": list(iss["labels"]),
            "status": self.status_doc(iss["status"]),
            "resolution": {"name": "Done"} if iss["status"] == "10001" else None,
            "project": {"self": "%s%sproject/%s" % (self.base_url(), API, p["id"]),
                        "id": p["id"], "key": p["key"], "name": p["name"]},
            "issuetype": {"id": ISSUE_TYPES[iss["issuetype"]], "name": iss["issuetype"],
                          "subtask": False},
            "duedate": iss["duedate"],
            "assignee": self.user_doc(iss["assignee"]),
            "reporter": self.user_doc(iss["reporter"]),
            "created": jira_time(iss["created"]),
            "updated": jira_time(iss["updated"]),
            "attachment": [self.attachment_doc(st.attachments[a]) for a in iss["attachments"]],
            "comment": {"startAt": 0, "maxResults": len(iss["comments"]),
                        "total": len(iss["comments"]),
                        "comments": [self.comment_doc(iss, c) for c in iss["comments"]]},
        }
        if fields is None or "*all" in fields or "*navigable" in fields:
            out = all_fields
        else:
            out = {f: all_fields[f] for f in fields if f in all_fields}
        return {"expand": "renderedFields,names,schema,transitions,editmeta,changelog",
                "id": iss["id"], "self": "%s%sissue/%s" % (self.base_url(), API, iss["id"]),
                "key": iss["key"], "fields": out}

    # ------------------------------------------------------------ operations

    def check_fields(self, f, errors, creating):
        if "summary" in f or creating:
            s = f.get("summary")
            if not isinstance(s, str) or not s.strip():
                errors["summary"] = "You must specify a summary of the issue."
            elif len(s) > SUMMARY_MAX:
                errors["summary"] = "Summary must be less than 255 characters."
            elif "\n" in s or "\r" in s:
                errors["summary"] = "The summary is invalid because it contains newline characters."
        if "description" in f:
            d = f["description"]
            if d is not None and not isinstance(d, str):
                errors["description"] = "Operation value must be a string"
            elif d is not None and len(d) > TEXT_MAX:
                errors["description"] = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
        if "labels" in f:
            ls = f["labels"]
            if not isinstance(ls, list) or not all(isinstance(x, str) for x in ls):
                errors["labels"] = "Operation value must be an array of strings"
            elif any(not x or re.search(r"\s", x) or len(x) > 255 for x in ls):
                errors["labels"] = "The label can't contain spaces."
        if "duedate" in f and f["duedate"] is not None:
            d = f["duedate"]
            if not isinstance(d, str) or not re.fullmatch(r"\d{4}-\d\d-\d\d", d):
                errors["duedate"] = "Error parsing date string: %s" % d
            else:
                try:
                    datetime.date.fromisoformat(d)
                except ValueError:
                    errors["duedate"] = "Error parsing date string: %s" % d
        if "assignee" in f and f["assignee"] is not None:
            a = f["assignee"]
            name = a.get("name") if isinstance(a, dict) else None
            st = self.server.state
            if not isinstance(name, str) or (st.assignable and name not in st.assignable):
                errors["assignee"] = "User '%s' does not exist." % name

    def create(self, b, user):
        st = self.server.state
        f = b.get("fields")
        if not isinstance(f, dict):
            raise JiraError(400, ["'fields' is required"])
        errors = {}
        pref = f.get("project")
        proj = None
        if isinstance(pref, dict):
            k = pref.get("key") or pref.get("id")
            if isinstance(k, str):
                proj = st.projects.get(k.upper()) or next(
                    (p for p in st.projects.values() if p["id"] == k), None)
        if proj is None:
            errors["project"] = "valid project is required"
        it = f.get("issuetype")
        itname = None
        if isinstance(it, dict):
            itname = it.get("name")
            if itname is None and it.get("id") is not None:
                itname = next((n for n, i in ISSUE_TYPES.items() if i == str(it["id"])), None)
        if itname not in ISSUE_TYPES:
            errors["issuetype"] = "valid issue type is required"
        self.check_fields(f, errors, True)
        unknown = set(f) - set(FIELDS)
        for u in sorted(unknown):
            errors[u] = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown." % u
        if errors:
            raise JiraError(400, [], errors)
        st.counters[proj["key"]] += 1
        key = "%s-%d" % (proj["key"], st.counters[proj["key"]])
        st.next_id += 1
        now = time.time()
        iss = {"id": str(st.next_id), "key": key, "project": proj["key"],
               "issuetype": itname, "summary": f["summary"],
               "description": f.get("description"),
               "labels": list(dict.fromkeys(f.get("labels") or [])),
               "duedate": f.get("duedate"),
               "assignee": (f.get("assignee") or {}).get("name"),
               "reporter": user, "status": "1", "created": now, "updated": now,
               "attachments": [], "comments": []}
        st.issues[key] = iss
        st.by_id[iss["id"]] = key
        return 201, {"id": iss["id"], "key": key,
                     "self": "%s%sissue/%s" % (self.base_url(), API, iss["id"])}

    def edit(self, iss, b, user):
        f = b.get("fields") or {}
        u = b.get("update") or {}
        if not isinstance(f, dict) or not isinstance(u, dict):
            raise JiraError(400, ["'fields' and 'update' must be objects"])
        errors = {}
        for k in set(f) & set(u):
            errors[k] = "Field '%s' cannot be set in both 'fields' and 'update'." % k
        for k in set(f) | set(u):
            if k not in FIELDS or k in ("status", "project", "created", "updated",
                                        "attachment", "reporter", "resolution"):
                errors[k] = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown." % k
        self.check_fields(f, errors, False)
        labels = list(iss["labels"])
        comments = []
        for k, ops in u.items():
            if not isinstance(ops, list):
                errors[k] = "Operations must be an array"
                continue
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    errors[k] = "Each operation is an object with one verb"
                    continue
                verb, val = next(iter(op.items()))
                if k == "labels":
                    if verb == "add" and isinstance(val, str) and val and not re.search(r"\s", val):
                        if val not in labels:
                            labels.append(val)
                    elif verb == "remove" and isinstance(val, str):
                        labels = [x for x in labels if x != val]
                    elif verb == "set" and isinstance(val, list):
                        labels = list(dict.fromkeys(val))
                    else:
                        errors[k] = "Invalid operation '%s' on labels" % verb
                elif k == "comment" and verb == "add" and isinstance(val, dict):
                    comments.append(val.get("body"))
                elif k in ("summary", "description", "duedate") and verb == "set":
                    self.check_fields({k: val}, errors, False)
                    f = dict(f, **{k: val})
                else:
                    errors[k] = "Operation '%s' is not supported for '%s'" % (verb, k)
        if errors:
            raise JiraError(400, [], errors)
        for k in ("summary", "description", "duedate"):
            if k in f:
                iss[k] = f[k]
        if "labels" in f:
            labels = list(dict.fromkeys(f["labels"]))
        if "assignee" in f:
            iss["assignee"] = (f["assignee"] or {}).get("name")
        iss["labels"] = labels
        for c in comments:
            self.add_comment(iss, c, user)
        iss["updated"] = time.time()
        return 204, None

    def add_comment(self, iss, body, user):
        st = self.server.state
        if not isinstance(body, str) or not body.strip():
            raise JiraError(400, [], {"comment": "Comment body can not be empty!"})
        if len(body) > TEXT_MAX:
            raise JiraError(400, [], {"comment": "The entered text is too long."})
        st.next_comment += 1
        c = {"id": str(st.next_comment), "body": body, "author": user,
             "created": time.time()}
        iss["comments"].append(c)
        iss["updated"] = c["created"]
        return c

    def attach(self, iss, raw, user):
        st = self.server.state
        if (self.headers.get("X-Atlassian-Token") or "").lower() != "no-check":
            raise JiraError(403, ["XSRF check failed"])
        ctype = self.headers.get("Content-Type") or ""
        if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
            raise JiraError(415, ["Unsupported Media Type: multipart/form-data with a boundary required"])
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw)
        if not msg.is_multipart():
            raise JiraError(400, ["The request is not multipart"])
        out = []
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") != "file":
                continue
            name = part.get_filename()
            if not name:
                raise JiraError(400, ["The 'file' part has no filename"])
            data = part.get_payload(decode=True) or b""
            st.next_att += 1
            a = {"id": str(st.next_att), "filename": name, "data": data,
                 "mimeType": part.get_content_type(), "author": user,
                 "created": time.time(), "issue": iss["key"]}
            st.attachments[a["id"]] = a
            iss["attachments"].append(a["id"])
            out.append(self.attachment_doc(a))
        if not out:
            raise JiraError(400, ["No 'file' part in the multipart body"])
        iss["updated"] = time.time()
        return 200, out

    def search(self, b):
        st = self.server.state
        jql = b.get("jql") or ""
        try:
            start = int(b.get("startAt") or 0)
            mr = b.get("maxResults")
            mr = 50 if mr is None or mr == "" else int(mr)
        except (TypeError, ValueError):
            raise JiraError(400, ["startAt and maxResults must be integers"])
        if start < 0 or mr < 0:
            raise JiraError(400, ["startAt and maxResults must not be negative"])
        mr = min(mr, st.max_results)
        clauses, order = jql_parse(jql)
        hits = [i for i in st.issues.values() if jql_match(i, clauses, st.projects)]
        if order:
            for field, asc in reversed(order):
                kf = (lambda i: (i["project"], int(i["key"].split("-")[1]))) \
                    if field == "key" else (lambda i, f=field: (i[f], int(i["id"])))
                hits.sort(key=kf, reverse=not asc)
        else:
            hits.sort(key=lambda i: int(i["id"]), reverse=True)
        fields = b.get("fields")
        if isinstance(fields, str):
            fields = fields.split(",")
        if fields is not None and not isinstance(fields, list):
            raise JiraError(400, ["fields must be an array of field names"])
        page = hits[start:start + mr]
        return 200, {"expand": "schema,names", "startAt": start, "maxResults": mr,
                     "total": len(hits),
                     "issues": [self.issue_doc(i, fields) for i in page]}

    # ------------------------------------------------------------ control

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
                        shown = {k: v for k, v in st.faults.items() if k != "route_re"}
                        return self.send(200, shown)
                except (ValueError, re.error) as e:
                    return self.send(400, {"errorMessages": [str(e)]})
            with st.lock:
                return self.send(200, {k: v for k, v in st.faults.items() if k != "route_re"})
        if path == "/_emulator/stats" and method == "GET":
            with st.lock:
                return self.send(200, st.stats)
        if path == "/_emulator/issues" and method == "GET":
            with st.lock:
                out = []
                for i in sorted(st.issues.values(), key=lambda i: int(i["id"])):
                    out.append({
                        "key": i["key"], "id": i["id"], "project": i["project"],
                        "issuetype": i["issuetype"], "summary": i["summary"],
                        "description": i["description"], "labels": i["labels"],
                        "duedate": i["duedate"], "assignee": i["assignee"],
                        "reporter": i["reporter"],
                        "status": STATUSES[i["status"]]["name"],
                        "statusCategory": STATUSES[i["status"]]["statusCategory"]["key"],
                        "comments": [c["body"] for c in i["comments"]],
                        "attachments": [{"id": a, "filename": st.attachments[a]["filename"],
                                         "size": len(st.attachments[a]["data"]),
                                         "data": st.attachments[a]["data"].decode("utf-8", "replace")}
                                        for a in i["attachments"]]})
                return self.send(200, {"issues": out})
        if path == "/_emulator/close" and method == "POST":
            try:
                key = json.loads(raw or b"{}").get("key")
            except (ValueError, AttributeError):
                key = None
            with st.lock:
                iss = st.issues.get(key or "")
                if iss is None:
                    return self.send(404, {"errorMessages": ["no issue %r" % key]})
                iss["status"] = "10001"
                iss["updated"] = time.time()
                return self.send(200, {"key": iss["key"], "status": "Done"})
        return self.send(404, {"errorMessages": ["no control endpoint %s %s" % (method, path)]})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr, state, verbose, log_path, user, token):
        self.state = state
        self.verbose = verbose
        self.user = user
        self.token = token
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None
        super().__init__(addr, Handler)
        self.port = self.server_address[1]

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def log_line(self, method, path, status, auth):
        if self.log_file is None:
            return
        line = json.dumps({"t": round(time.time(), 3), "method": method,
                           "path": urllib.parse.urlsplit(path).path,
                           "auth": auth, "status": status})
        with self.log_lock:
            self.log_file.write(line + "\n")

    def die(self):
        sys.stderr.write("jira-emulator: dying as asked (fault switch)\n")
        sys.stderr.flush()
        if self.log_file:
            self.log_file.flush()
        os._exit(3)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Jira REST API v2 emulator for cspf's tests.")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--token-env", required=True,
                    help="the environment variable that holds the API token")
    ap.add_argument("--user", help="the account of Basic auth (without it, only Bearer)")
    ap.add_argument("--project", action="append", default=None,
                    help="a project key (repeatable; default: SEC)")
    ap.add_argument("--assignable", action="append", default=[],
                    help="a user issues may be assigned to (repeatable; "
                         "default: anyone)")
    ap.add_argument("--max-results", type=int, default=100,
                    help="the most issues one search page returns (default 100)")
    ap.add_argument("--log", help="append one JSON line per request (no bodies) to this file")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    token = os.environ.get(args.token_env) or ""
    if not token:
        ap.error("environment variable %s (--token-env) is not set" % args.token_env)
    projects = [p.upper() for p in (args.project or ["SEC"])]
    if any(not re.fullmatch(r"[A-Z][A-Z0-9_]{0,9}", p) for p in projects):
        ap.error("a project key is a capital letter and up to 9 capitals, digits or _")
    if args.max_results < 1:
        ap.error("--max-results must be at least 1")
    state = State(projects, args.assignable, args.max_results)
    server = Server(("127.0.0.1", args.port), state, args.verbose, args.log,
                    args.user, token)

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
    sys.stderr.write("jira-emulator: listening on http://127.0.0.1:%d\n" % server.port)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if server.log_file:
        server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
