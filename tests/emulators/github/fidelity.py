#!/usr/bin/python3
"""The GitHub emulator against PyGithub (Debian's python3-github), the
client most Python users of the GitHub REST API have: what a user of the
Issues API does, with the answers and errors GitHub gives.

Environment: GEMU_ADDR (http://127.0.0.1:PORT), GEMU_TOKEN (the valid
token), GEMU_REPO (OWNER/REPO that exists), GEMU_COUNTS (a file that gets
"PASSED FAILED").  Prints one line per failed check.
"""

import json
import os
import sys
import urllib.request

import github
from github import GithubException, BadCredentialsException, \
    UnknownObjectException, RateLimitExceededException

ADDR = os.environ["GEMU_ADDR"]
TOKEN = os.environ["GEMU_TOKEN"]
REPO = os.environ["GEMU_REPO"]
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
    check(name, False, "raised nothing")
    return None


def control(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(ADDR + path, data=data,
                                 method="POST" if data is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    # PyGithub retries nothing by itself here: every fault shows.
    g = github.Github(login_or_token=TOKEN, base_url=ADDR, per_page=2,
                      retry=None, timeout=10)
    repo = g.get_repo(REPO)
    check("get_repo: full_name", repo.full_name == REPO, repo.full_name)
    check("get_repo: has_issues", repo.has_issues is True)

    a = repo.create_issue(title="first", body="body <!-- cspf-digest {} -->",
                          labels=["cspf-digest", "cspf-period-2026-11-16"],
                          assignees=["alice-gh"])
    check("create_issue: number 1", a.number == 1, a.number)
    check("create_issue: state open", a.state == "open")
    check("create_issue: labels", sorted(l.name for l in a.labels) ==
          ["cspf-digest", "cspf-period-2026-11-16"], a.labels)
    check("create_issue: assignees", [u.login for u in a.assignees] == ["alice-gh"])
    check("create_issue: html_url", a.html_url.endswith("/%s/issues/1" % REPO), a.html_url)
    check("create_issue: body kept", a.body == "body <!-- cspf-digest {} -->")
    for i in range(4):
        repo.create_issue(title="more %d" % i, labels=["cspf-digest"])
    repo.create_issue(title="other", labels=["unrelated"])
    control("/_emulator/pulls", {"repo": REPO, "title": "a PR", "labels": ["cspf-digest"]})

    # Pagination through Link (per_page=2): every item, newest first.
    items = list(repo.get_issues(state="all", labels=["cspf-digest"]))
    nums = [i.number for i in items]
    check("get_issues: every page, newest first", nums == [7, 5, 4, 3, 2, 1], nums)
    prs = [i.number for i in items if i.pull_request is not None]
    check("get_issues: pull requests are listed, with pull_request", prs == [7], prs)
    both = list(repo.get_issues(state="all", labels=["cspf-digest", "cspf-period-2026-11-16"]))
    check("get_issues: labels must all match", [i.number for i in both] == [1],
          [i.number for i in both])
    check("get_issues: state open by default",
          len(list(repo.get_issues(labels=["cspf-digest"]))) == 6)

    # Edit, close, comment, labels.
    a.edit(title="first, edited", body="new body")
    a2 = repo.get_issue(1)
    check("edit: title and body", (a2.title, a2.body) == ("first, edited", "new body"))
    check("edit: labels untouched", len(a2.labels) == 2)
    a2.edit(state="closed")
    a3 = repo.get_issue(1)
    check("edit: closed", a3.state == "closed" and a3.closed_at is not None)
    check("closed issues leave state=open lists",
          [i.number for i in repo.get_issues(labels=["cspf-digest"])] == [7, 5, 4, 3, 2])
    c = a3.create_comment("Overdue: please look.")
    check("create_comment: body", c.body == "Overdue: please look.")
    check("get_comments", [x.body for x in a3.get_comments()] == ["Overdue: please look."])
    a3.add_to_labels("cspf-escalated")
    check("add_to_labels", sorted(l.name for l in repo.get_issue(1).labels) ==
          ["cspf-digest", "cspf-escalated", "cspf-period-2026-11-16"])
    a3.add_to_labels("cspf-escalated")
    check("add_to_labels again: a set", len(repo.get_issue(1).labels) == 3)

    # Errors as GitHub gives them.
    e = raises("unknown login in assignees: 422", GithubException,
               repo.create_issue, title="x", assignees=["nobody-here"])
    if e is not None:
        check("422: Validation Failed with errors", e.status == 422 and
              e.data.get("message") == "Validation Failed" and
              e.data["errors"][0]["field"] == "assignees", e.data)
    e = raises("no title: 422", GithubException, repo.create_issue, title="")
    check("a body over 65,536 characters: 422", isinstance(raises(
        "long body", GithubException, repo.create_issue, title="x",
        body="y" * 65537), GithubException))
    raises("unknown repository: 404", UnknownObjectException, g.get_repo, "nobody/nothing")
    raises("unknown issue: 404", UnknownObjectException, repo.get_issue, 999)
    bad = github.Github(login_or_token=TOKEN + "x", base_url=ADDR, retry=None)
    e = raises("wrong token: 401", BadCredentialsException, bad.get_repo, REPO)
    if e is not None:
        check("401: Bad credentials", e.data.get("message") == "Bad credentials", e.data)
    control("/_emulator/faults", {"throttle_at": [1]})
    e = raises("primary rate limit: RateLimitExceededException",
               RateLimitExceededException, repo.get_issue, 1)
    control("/_emulator/faults", {})
    rl = g.get_rate_limit()
    check("rate_limit: core", rl.core.limit == 5000, rl.core)
    control("/_emulator/faults", {"throttle_at": [1], "throttle_kind": "secondary"})
    e = raises("secondary rate limit: 403", GithubException, repo.get_issue, 1)
    if e is not None:
        check("secondary rate limit: message", e.status == 403 and
              "secondary rate limit" in e.data.get("message", ""), e.data)
    control("/_emulator/faults", {})
    # The state a person sees.
    st = control("/_emulator/issues")
    check("control: every item", len(st) == 7, len(st))
    check("control: one pull request", sum(1 for i in st if i["pull_request"]) == 1)
    stats = control("/_emulator/stats")
    check("stats: routes counted", stats["routes"].get("POST /repos/{o}/{r}/issues", 0) >= 6,
          stats["routes"])


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        failed += 1
        print("FAIL: fidelity stopped: %r" % e)
    counts = os.environ.get("GEMU_COUNTS")
    if counts:
        with open(counts, "w") as f:
            f.write("%d %d\n" % (passed, failed))
    print("fidelity: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
