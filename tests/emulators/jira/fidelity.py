#!/usr/bin/python3
"""The Jira emulator against python3-jira (Debian's package of the jira
client library): what a user of the Jira REST API v2 does, as cspf's jira
sink does it, with the answers and errors a real server gives.

Environment: JEMU_ADDR (http://127.0.0.1:PORT), JEMU_USER, JEMU_TOKEN.
The emulator runs with --project SEC --project PAY --max-results 2.
Prints one line per failed check and, last, "N passed, N failed".
"""

import io
import json
import os
import sys
import urllib.request

from jira import JIRA, JIRAError

ADDR = os.environ["JEMU_ADDR"]
USER = os.environ["JEMU_USER"]
TOKEN = os.environ["JEMU_TOKEN"]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: %s %s" % (name, detail))


def raises(name, status, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except JIRAError as e:
        check(name, e.status_code == status, "status %s, not %s: %s" % (e.status_code, status, e.text))
        return e
    except Exception as e:  # noqa: BLE001 - any other is a failure
        check(name, False, "raised %r" % e)
        return None
    check(name, False, "did not raise")
    return None


def control(method, path, body=None):
    req = urllib.request.Request(ADDR + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def client(**kw):
    j = JIRA(server=ADDR, options={"check_update": False}, **kw)
    # The client's own backoff on 429 is up to 20 s; the check needs less.
    j._session.max_retry_delay = 1
    return j


def main():
    j = client(basic_auth=(USER, TOKEN))
    si = j.server_info()
    check("serverInfo", si.get("versionNumbers") == [9, 4, 0], si)
    check("myself", j.myself().get("name") == USER)

    # Create as cspf does: project by key, issue type by name.
    fields = {"project": {"key": "SEC"}, "issuetype": {"name": "Task"},
              "summary": "Review: resource-actions",
              "description": "# Review\n\n<!-- cspf-digest {\"key\":\"k1\"} -->\n",
              "labels": ["cspf-digest", "cspf-period-2026-11-02",
                         "cspf-resource-actions", "cspf-key-0011223344556677"],
              "duedate": "2026-11-21", "assignee": {"name": "alice@example.com"}}
    iss = j.create_issue(fields=fields)
    check("create key", iss.key == "SEC-1", iss.key)
    check("create summary", iss.fields.summary == fields["summary"])
    check("create description kept as sent", iss.fields.description == fields["description"])
    check("create labels", iss.fields.labels == fields["labels"], iss.fields.labels)
    check("create duedate", iss.fields.duedate == "2026-11-21")
    check("create assignee", iss.fields.assignee.name == "alice@example.com")
    check("create status new", iss.fields.status.statusCategory.key == "new")
    check("create issuetype", iss.fields.issuetype.name == "Task")
    check("permalink", iss.permalink() == ADDR + "/browse/SEC-1", iss.permalink())

    # Refusals, with Jira's error shapes.
    e = raises("create unknown project", 400, j.create_issue,
               fields=dict(fields, project={"key": "NOPE"}))
    check("error names the field", e is not None and
          e.response.json()["errors"].get("project") == "valid project is required")
    raises("create summary with newline", 400, j.create_issue,
           fields=dict(fields, summary="a\nb"))
    raises("create summary too long", 400, j.create_issue,
           fields=dict(fields, summary="x" * 256))
    raises("create label with a space", 400, j.create_issue,
           fields=dict(fields, labels=["a b"]))
    raises("create bad due date", 400, j.create_issue,
           fields=dict(fields, duedate="2026-13-40"))
    raises("get missing issue", 404, j.issue, "SEC-999")

    # More issues, in two projects, for searches over several pages.
    keys = [iss.key]
    for i in range(4):
        f = dict(fields, summary="t%d" % i, labels=["cspf-digest", "cspf-period-2026-11-02",
                                                     "cspf-key-%016d" % i])
        if i == 3:
            f["project"] = {"key": "PAY"}
            f["labels"] = ["cspf-digest", "cspf-period-2026-10-19"]
        keys.append(j.create_issue(fields=f).key)
    check("keys per project", keys == ["SEC-1", "SEC-2", "SEC-3", "SEC-4", "PAY-1"], keys)

    jql = 'labels = "cspf-digest" AND labels = "cspf-period-2026-11-02" ORDER BY created ASC'
    # maxResults=False: the client pages with startAt until total.
    got = j.search_issues(jql, maxResults=False, fields="summary,labels,status")
    check("search all pages", [i.key for i in got] == keys[:4], [i.key for i in got])
    page = j.search_issues(jql, startAt=1, maxResults=50, json_result=True)
    check("search page capped", page["maxResults"] == 2 and page["total"] == 4 and
          [i["key"] for i in page["issues"]] == keys[1:3], page.get("maxResults"))
    got = j.search_issues('labels = "cspf-key-0011223344556677"')
    check("search by key label", [i.key for i in got] == ["SEC-1"])
    got = j.search_issues('project = PAY')
    check("search by project", [i.key for i in got] == ["PAY-1"])
    raises("jql reserved character unquoted", 400, j.search_issues, "labels = cspf-digest")
    raises("jql unknown field", 400, j.search_issues, 'nosuchfield = "x"')

    # Attachments: multipart, the XSRF header, content.
    att = j.add_attachment(iss.key, io.BytesIO(b"time,actor\n1,a\n"), filename="resource-actions-2026-11-02.csv")
    check("attachment name", att.filename == "resource-actions-2026-11-02.csv")
    check("attachment size", att.size == 15, att.size)
    check("attachment content", att.get() == b"time,actor\n1,a\n")
    iss = j.issue(iss.key)
    check("issue lists attachment", [a.id for a in iss.fields.attachment] == [att.id])
    j.delete_attachment(att.id)
    iss = j.issue(iss.key)
    check("attachment deleted", iss.fields.attachment == [])
    raises("attachment without no-check is refused", 403, j._session.post,
           ADDR + "/rest/api/2/issue/SEC-1/attachments", files={"file": ("x.csv", b"a")},
           headers={"X-Atlassian-Token": "nocheck-missing"})

    # Edit: fields and label operations.
    iss.update(fields={"summary": "Review (updated)", "description": "new body"})
    iss = j.issue(iss.key)
    check("update summary", iss.fields.summary == "Review (updated)")
    check("update description", iss.fields.description == "new body")
    iss.update(update={"labels": [{"add": "cspf-escalated"}]})
    iss.update(update={"labels": [{"add": "cspf-escalated"}]})
    iss = j.issue(iss.key)
    check("label added once", iss.fields.labels.count("cspf-escalated") == 1, iss.fields.labels)
    iss.add_field_value("labels", "extra")
    check("add_field_value", "extra" in j.issue(iss.key).fields.labels)

    # Comments.
    c = j.add_comment(iss.key, "Overdue: escalated.")
    check("comment body", c.body == "Overdue: escalated.")
    check("comments listed", [x.body for x in j.comments(iss.key)] == ["Overdue: escalated."])

    # Transitions: Done closes.
    names = [t["name"] for t in j.transitions(iss.key)]
    check("transitions", "Done" in names, names)
    j.transition_issue(iss.key, "Done")
    iss = j.issue(iss.key)
    check("closed", iss.fields.status.statusCategory.key == "done")
    got = j.search_issues('labels = "cspf-digest" AND statusCategory = Done')
    check("search statusCategory = Done", [i.key for i in got] == ["SEC-1"])
    got = j.search_issues('labels = "cspf-digest" AND statusCategory != Done ORDER BY created DESC',
                          maxResults=False)
    check("search statusCategory != Done", [i.key for i in got] == ["PAY-1", "SEC-4", "SEC-3", "SEC-2"],
          [i.key for i in got])

    # Bearer: a personal access token.
    jb = client(token_auth=TOKEN)
    check("bearer", jb.issue("SEC-2").key == "SEC-2")

    # Refused credentials.
    bad = JIRA(server=ADDR, options={"check_update": False}, get_server_info=False,
               basic_auth=(USER, "wrong"))
    raises("basic wrong token", 401, bad.issue, "SEC-1")
    bad = JIRA(server=ADDR, options={"check_update": False}, get_server_info=False,
               token_auth="wrong")
    raises("bearer wrong token", 401, bad.issue, "SEC-1")

    # Throttling: the client waits out a 429 with Retry-After.
    control("POST", "/_emulator/faults", {"throttle_at": [1], "retry_after_s": 1})
    check("throttled then served", j.issue("SEC-3").key == "SEC-3")
    st = control("GET", "/_emulator/stats")
    check("throttle injected", st["injected"].get("throttle") == 1, st["injected"])
    control("POST", "/_emulator/faults", {})

    # A lost answer: the create took effect.
    control("POST", "/_emulator/faults", {"lose_answer_at": [1]})
    raises("lost answer is a 502", 502, j.create_issue,
           fields=dict(fields, summary="lost", labels=["cspf-lost"]))
    control("POST", "/_emulator/faults", {})
    check("lost answer took effect", len(j.search_issues('labels = "cspf-lost"')) == 1)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
