#!/usr/bin/python3
"""Write a whole registry for bench/registry-bench.sh, as a git repository.

    /usr/bin/python3 bench/gen_registry.py N [OUTDIR]

OUTDIR defaults to bench/out.  Writes OUTDIR/registry-N/, a registry of
exactly N JSON files, every one valid against cspf's schemas (schema/*.json)
with every reference resolved, shaped like registry-example/:

  teams/<team>.json                       N/200
  accounts/aws|azure/<name>.json          N/20 (3 in 4 on AWS)
  credentials/aws|azure/<name>.json       one per account, 1 to 4
                                          credentials, each naming it
  exceptions/<id>.json                    N/1000, each naming an asset
  assets/<kind>/<name>.json               the rest, over every asset kind
                                          of schema/ (service, server-role,
                                          firewall-rule, bucket, database,
                                          iam-policy, iam-role,
                                          machine-image, network-connection)
  cspf.json                               registry-example/cspf.json

Every team an account or asset names exists, and so does every account,
credentials file, credential, service, server role, machine image and IAM
policy a file names (credentials/<provider>/<account> documents the
account's credentials and names it back).

Then it makes OUTDIR/registry-N a git repository: branch main with every
file in one commit, and a branch one-change whose only change is one asset
file (still valid), made without touching the work tree (which stays at
main); then "git gc", so that every object sits in a pack, as in a real
clone.  Commits have fixed names and dates: the same N gives the same
files and the same commit ids everywhere.

For the peers, which know nothing of the registry's layout, it writes
OUTDIR/registry-N.kinds: one "PATH<TAB>KIND" line per file (PATH relative
to the registry, KIND the schema's name: schema/KIND.json).

Deterministic (seeded random.Random, no clock).  A stamp, registry-N/.git/
cspf-bench-stamp, holds a hash of this script, of N, of the asset kinds in
schema/ and of registry-example/cspf.json; when it matches, nothing is
rewritten.  Standard library only; needs git.
"""

import datetime
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCHEMA_DIR = os.path.join(ROOT, "schema")
EXAMPLE_CONFIG = os.path.join(ROOT, "registry-example", "cspf.json")

# Kinds that are not assets: their own top-level directory, or cspf.json,
# or shared definitions.
NOT_ASSETS = {"common", "config", "account", "credentials", "team",
              "exception"}

# Share of the assets of each kind (normalised; a kind of schema/ this
# script does not know is reported and left out).
ASSET_WEIGHTS = {
    "service": 14,
    "server-role": 10,
    "firewall-rule": 22,
    "bucket": 14,
    "database": 8,
    "iam-policy": 10,
    "iam-role": 10,
    "machine-image": 6,
    "network-connection": 6,
}

WORDS = (
    "payments ledger search billing identity gateway ingest analytics "
    "messaging storage backup audit security platform data mobile edge "
    "voice video email notify reporting warehouse catalog orders fraud "
    "risk compliance sandbox logging metrics tracing build release"
).split()
FIRST = (
    "alice bob carol dave erin frank grace heidi ivan judy mallory niaj "
    "olivia peggy rupert sybil trent victor walter yvonne zoe amir bea "
    "chen dara emeka farah goran hana ines jonas kemal lena"
).split()
LAST = (
    "smith jones garcia miller davis lopez wilson anderson thomas moore "
    "martin lee walker hall young king wright scott green baker adams "
    "nelson carter mitchell perez roberts turner phillips campbell parker"
).split()
AWS_REGIONS = ("eu-west-1", "us-east-1", "eu-central-1", "us-west-2")
AZURE_REGIONS = ("westeurope", "northeurope", "eastus")
ENVS = ("prod", "staging", "test", "dev", "sandbox", "shared")
SENTENCES = (
    "Hosts the production workloads of the team.",
    "Reached only through the corporate VPN and the bastion.",
    "Holds customer data; classified after the last review.",
    "Experimental; no customer data is allowed here.",
    "Logs are shipped to the central audit account.",
    "Built and deployed by the CI pipelines, never by hand.",
    "Part of the critical path of checkout.",
    "Reviewed every six months by its owner.",
)
TAG_KEYS = ("cost_centre", "data.classification", "managed_by")
CONFIG_SINKS = ("jira", "github")  # ticket_sinks of registry-example
CONFIG_VAULT = "main"              # a vault of registry-example
# The day the registry describes: reviews, backups, images and
# credentials are recent enough for the policy of cspf.json.
TODAY = datetime.date(2026, 11, 20)


def dump(obj):
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


class Gen:
    def __init__(self, n, kinds):
        self.rng = random.Random(20261123)
        self.n = n
        n_teams = max(2, n // 200)
        n_accounts = max(2, n // 20)
        n_exceptions = n // 1000
        n_assets = n - n_teams - 2 * n_accounts - n_exceptions - 1
        if n_assets < len(kinds):
            raise ValueError("N is too small for every asset kind")
        self.kinds = kinds
        rng = self.rng

        # --- names first, so that any file may name any other ---
        self.teams = ["%s-%03d" % (WORDS[i % len(WORDS)], i)
                      for i in range(n_teams)]
        self.accounts = []  # (provider, name, team, accountid)
        for i in range(n_accounts):
            provider = "azure" if i % 4 == 3 else "aws"
            team = self.teams[i % n_teams]
            env = ENVS[i % len(ENVS)]
            name = "%s-%s-%04d" % (team, env, i)
            if i == 0:
                name = "payments-prod"  # cspf.json's aws-payments vault
            if provider == "aws":
                aid = "%012d" % ((314159265358 + i * 1000003) % 10 ** 12)
            else:
                aid = self.uuid()
            self.accounts.append((provider, name, team, aid, env))

        # Asset counts by kind: proportional, at least one each.
        total_w = sum(ASSET_WEIGHTS[k] for k in kinds)
        counts = {k: max(1, n_assets * ASSET_WEIGHTS[k] // total_w)
                  for k in kinds}
        left = n_assets - sum(counts.values())
        i = 0
        while left != 0:
            k = kinds[i % len(kinds)]
            step = 1 if left > 0 else -1
            if counts[k] + step >= 1:
                counts[k] += step
                left -= step
            i += 1
        self.counts = counts
        suffix = {
            "service": ("api", "web", "worker", "pipeline", "scheduler"),
            "server-role": ("app", "worker", "bastion", "runner", "proxy"),
            "firewall-rule": ("https-ingress", "ssh-from-vpn",
                              "postgres-from-app", "egress-partner"),
            "bucket": ("exports", "backups", "artifacts", "receipts",
                       "logs"),
            "database": ("ledger", "warehouse", "sessions", "catalog"),
            "iam-policy": ("read", "write", "deploy", "audit"),
            "iam-role": ("runtime", "deployer", "auditor", "operator"),
            "machine-image": ("base", "role", "container"),
            "network-connection": ("peering", "vpn", "replication"),
        }
        self.names = {}
        for k in kinds:
            sfx = suffix.get(k, ("x",))
            self.names[k] = ["%s-%s-%05d" % (WORDS[(i * 7) % len(WORDS)],
                                             sfx[i % len(sfx)], i)
                             for i in range(counts[k])]
        self.n_exceptions = n_exceptions
        # The file the one-change branch rewrites: a service mid-way.
        ck = "service" if "service" in kinds else kinds[0]
        self.change_at = (ck, counts[ck] // 2)
        self.change_doc = None
        # Usernames of each account's credentials, decided up front so
        # that a database may name one.
        self.cred_users = []
        for j, (provider, name, team, aid, env) in enumerate(self.accounts):
            users = ["%s-root" % name]
            for u in range(rng.randint(0, 3)):
                users.append("svc-%s-%d" % (WORDS[(j + u) % len(WORDS)], u))
            self.cred_users.append(users)

    # --- values ---

    def uuid(self):
        r = self.rng.getrandbits
        return "%08x-%04x-4%03x-%04x-%012x" % (
            r(32), r(16), r(12), 0x8000 | r(14), r(48))

    def person(self):
        return "%s.%s@example.com" % (self.rng.choice(FIRST),
                                      self.rng.choice(LAST))

    def people(self, lo, hi):
        out = []
        want = self.rng.randint(lo, hi)
        while len(out) < want:
            p = self.person()
            if p not in out:
                out.append(p)
        return out

    def day(self, days_ago_max, days_ago_min=0):
        """A date so many days before the registry's "today"."""
        return TODAY - datetime.timedelta(days=self.rng.randint(
            days_ago_min, days_ago_max))

    def date(self, days_ago_max, days_ago_min=0):
        return self.day(days_ago_max, days_ago_min).isoformat()

    def text(self, lo=1, hi=3):
        return " ".join(self.rng.sample(SENTENCES, self.rng.randint(lo, hi)))

    def approval(self):
        return {"by": self.person(), "date": self.date(400, 30),
                "ticket": "SEC-%d" % self.rng.randint(1000, 9999)}

    def cidr(self):
        r = self.rng.randint
        return "10.%d.%d.0/24" % (r(0, 255), r(0, 255))

    def ip(self):
        r = self.rng.randint
        return "10.%d.%d.%d" % (r(0, 255), r(0, 255), r(1, 254))

    def ref(self, kind):
        return "assets/%s/%s" % (kind, self.rng.choice(self.names[kind]))

    def account(self):
        return self.rng.choice(self.accounts)

    def account_ref(self, a=None):
        a = a or self.account()
        return "accounts/%s/%s" % (a[0], a[1])

    def security(self):
        return self.rng.choice(("red", "blue", "blue", "green", "green"))

    # --- files ---

    def team(self, i):
        t = self.teams[i]
        word = t.split("-")[0]
        doc = {
            "name": "%s %d" % (word.capitalize(), i),
            "description": "The %s team. %s" % (word, self.text(1, 2)),
            "contact": "%s@example.com" % t,
            "escalation": "https://example.pagerduty.com/"
                          "escalation_policies#P%05d" % i,
            "manager": self.person(),
            "members": self.people(2, 6),
        }
        if i % 2 == 0:
            doc["chat"] = "https://chat.example.com/channels/%s" % t
        doc["tickets"] = {"sink": CONFIG_SINKS[i % 2],
                          "queue": word.upper()[:8]}
        return "teams/%s.json" % t, doc

    def account_file(self, j):
        provider, name, team, aid, env = self.accounts[j]
        doc = {
            "accountid": aid,
            "provider": provider,
            "name": name,
            "contact": "%s@example.com" % team,
            "team": team,
            "escalation": "https://example.pagerduty.com/"
                          "escalation_policies#P%05d" % self.teams.index(team),
            "description": self.text(),
            "security": self.security(),
            "environment": env,
            "root": ("aws-root+%s@example.com" % name if provider == "aws"
                     else "subscription-owner+%s@example.com" % name),
            "credentials": "credentials/%s/%s" % (provider, name),
        }
        if j % 3 == 0:
            doc["tags"] = {"cost_centre": "CC-%04d" % self.rng.randint(1000,
                                                                      9999)}
        return "accounts/%s/%s.json" % (provider, name), doc

    def credentials_file(self, j):
        provider, name, team, aid, env = self.accounts[j]
        rng = self.rng
        creds = []
        for k, user in enumerate(self.cred_users[j]):
            c = {
                "username": user,
                "scope": "root" if k == 0 else rng.choice(
                    ("prod", "test", "partial")),
                "custodians": self.people(2, 3),
                "credential_generated": None,
                "credential_expires": None,
                "description": ("Root user of %s; no access keys." % name
                                if k == 0 else self.text(1, 1)),
                "account": "accounts/%s/%s" % (provider, name),
                "vault": {"vault": CONFIG_VAULT,
                          "path": "%s/%s/%s" % (provider, name, user)},
            }
            if k == 0:
                c["vault"]["field"] = "password"
                c["rotation"] = {"max_age": "P1Y", "notice": "P30D",
                                 "rotator": "manual"}
            elif provider == "aws":
                c["identity"] = {
                    "type": "aws-iam-user", "user": user,
                    "arn": "arn:aws:iam::%s:user/%s" % (aid, user)}
                c["rotation"] = {"max_age": "P90D", "notice": "P14D",
                                 "rotator": "aws-iam-user"}
            else:
                c["identity"] = {
                    "type": "azure-app", "app_id": self.uuid(),
                    "tenant_id": "c0ffee00-1234-4abc-9def-0123456789ab",
                    "display_name": user}
                c["rotation"] = {"max_age": "P90D", "notice": "P14D",
                                 "rotator": "azure-app-secret"}
            # Made within the last 90 days, expiring at its max_age.
            made = datetime.datetime.combine(self.day(85, 1), datetime.time(
                rng.randrange(24), rng.randrange(60)))
            life = 365 if c["rotation"]["max_age"] == "P1Y" else 90
            c["credential_generated"] = made.strftime("%Y-%m-%dT%H:%M:00Z")
            c["credential_expires"] = (made + datetime.timedelta(
                days=life)).strftime("%Y-%m-%dT%H:%M:00Z")
            if k and rng.random() < 0.3:
                c["team"] = rng.choice(self.teams)
            creds.append(c)
        return ("credentials/%s/%s.json" % (provider, name),
                {"credentials": creds})

    def exception_file(self, i):
        kind = self.kinds[i % len(self.kinds)]
        doc = {
            "rule": "CSPF-%d.%d" % (self.rng.randint(1, 16),
                                    self.rng.randint(1, 9)),
            "target": self.ref(kind),
            "justification": self.text(2, 3),
            "requested_by": self.person(),
            "approver": self.person(),
            "approved": None,
            "expires": None,
            "ticket": "SEC-%d" % (3000 + i),
        }
        approved = self.day(150)
        doc["approved"] = approved.isoformat()
        doc["expires"] = (approved + datetime.timedelta(days=180)).strftime(
            "%Y-%m-%dT00:00:00Z")
        return "exceptions/2026-%04d.json" % i, doc

    def asset_common(self, name):
        team = self.rng.choice(self.teams)
        return {
            "name": name,
            "description": self.text(),
            "team": team,
            "contact": "%s@example.com" % team,
            "security": self.security(),
            "account": self.account_ref(),
        }

    def asset(self, kind, i):
        name = self.names[kind][i]
        doc = self.asset_common(name)
        getattr(self, "a_" + kind.replace("-", "_"))(doc, i)
        if i % 4 == 0:
            doc["tags"] = {"cost_centre": "CC-%04d" % self.rng.randint(
                1000, 9999), "managed_by": "terraform"}
        if (kind, i) == self.change_at:
            self.change_doc = json.loads(json.dumps(doc))
        return "assets/%s/%s.json" % (kind, name), doc

    def a_service(self, doc, i):
        rng = self.rng
        doc["repository"] = "https://git.example.com/%s/%s" % (
            doc["team"], doc["name"])
        if i % 2:
            doc["runbook"] = "https://wiki.example.com/%s/runbooks/%s" % (
                doc["team"], doc["name"])
        accs = [doc["account"]]
        if rng.random() < 0.3:
            other = self.account_ref()
            if other not in accs:
                accs.append(other)
        doc["accounts"] = accs
        if i > 0 and rng.random() < 0.5:
            deps = sorted({"assets/service/%s" % self.names["service"][
                rng.randrange(i)] for _ in range(rng.randint(1, 3))})
            doc["depends_on"] = deps

    def a_server_role(self, doc, i):
        rng = self.rng
        doc["created_by"] = rng.choice(("terraform", self.person()))
        if "service" in self.names:
            doc["service"] = self.ref("service")
        if "machine-image" in self.names:
            doc["machine_image"] = self.ref("machine-image")
        doc["deviations"] = []
        if rng.random() < 0.2:
            doc["deviations"].append({
                "description": "An agent installed on top of the image.",
                "approval": self.approval()})
        doc["ips"] = {"internal": [self.cidr()], "external": []}
        if rng.random() < 0.2:
            doc["ips"]["external"].append("198.51.100.%d" %
                                          rng.randint(1, 254))
        if doc["security"] in ("red", "blue"):
            doc["encrypted_volumes"] = True
        if doc["security"] == "red":
            doc["rbac"] = True
            doc["anomaly_detection"] = True

    def a_firewall_rule(self, doc, i):
        rng = self.rng
        direction = "ingress" if i % 3 else "egress"
        doc["direction"] = direction
        doc["protocol"] = rng.choice(("tcp", "tcp", "tcp", "udp", "icmp"))
        if doc["protocol"] in ("tcp", "udp"):
            ports = [rng.choice((22, 443, 5432, 8080, 9000))]
            if rng.random() < 0.2:
                lo = rng.randint(10000, 20000)
                ports.append({"from": lo, "to": lo + 10})
            doc["ports"] = ports
        internet = direction == "ingress" and i % 10 == 1
        ranges = ["0.0.0.0/0"] if internet else [self.cidr()]
        doc["sources" if direction == "ingress" else "destinations"] = ranges
        if "server-role" in self.names:
            doc["applies_to"] = [self.ref("server-role")]
        doc["security_group"] = "sg-%017x" % rng.getrandbits(68)
        doc["range_owner"] = ("The Internet." if internet else
                              "Private subnets of the %s team." %
                              doc["team"])
        doc["justification"] = self.text(1, 2)
        if internet:
            doc["approval"] = self.approval()
            doc["security_review"] = self.approval()

    def a_bucket(self, doc, i):
        rng = self.rng
        doc["bucket"] = "example-%s" % doc["name"]
        doc["region"] = rng.choice(AWS_REGIONS)
        strict = doc["security"] in ("red", "blue")
        doc["logging"] = strict or rng.random() < 0.5
        doc["versioning"] = strict or rng.random() < 0.5
        if strict or rng.random() < 0.5:
            doc["encryption"] = {"kms_key": "alias/%s" % doc["name"]}
        doc["vpc_endpoint"] = "vpce-%017x" % rng.getrandbits(68)

    def a_database(self, doc, i):
        rng = self.rng
        doc["engine"] = rng.choice(("postgres", "mysql", "sqlserver"))
        doc["engine_version"] = "%d.%d" % (rng.randint(8, 16),
                                           rng.randint(0, 9))
        doc["host"] = "%s.db.example.com" % doc["name"]
        doc["service"] = (self.ref("service") if "service" in self.names
                          else "assets/service/none")
        j = rng.randrange(len(self.accounts))
        provider, name = self.accounts[j][0], self.accounts[j][1]
        doc["credentials"] = sorted({"credentials/%s/%s#%s" % (
            provider, name, u) for u in self.cred_users[j][:2]})
        doc["backup_schedule"] = {
            "interval": rng.choice(("P1D", "PT6H", "PT12H")),
            "retention": rng.choice(("P7D", "P14D", "P30D")),
            "offsite": doc["security"] == "red" or rng.random() < 0.3,
            "destination": (self.ref("bucket") if "bucket" in self.names
                            else "backup vault"),
        }
        doc["last_restore_test"] = self.date(25)

    def iam(self, doc):
        team = self.rng.choice(self.teams)
        doc["owner"] = {"team": team, "contact": "%s@example.com" % team}
        doc["last_review"] = self.date(170)
        doc["justification"] = self.text(1, 2)
        doc["approvals"] = [self.approval()
                            for _ in range(self.rng.randint(0, 2))]

    def a_iam_policy(self, doc, i):
        self.iam(doc)
        doc["policy"] = "arn:aws:iam::%012d:policy/%s" % (
            self.rng.randrange(10 ** 12), doc["name"])

    def a_iam_role(self, doc, i):
        rng = self.rng
        self.iam(doc)
        doc["role"] = "arn:aws:iam::%012d:role/%s" % (
            rng.randrange(10 ** 12), doc["name"])
        if "iam-policy" in self.names:
            doc["policies"] = sorted({self.ref("iam-policy")
                                      for _ in range(rng.randint(1, 3))})
        doc["members"] = self.people(0, 4)
        if "server-role" in self.names:
            doc["assumed_by"] = [self.ref("server-role")]

    def a_machine_image(self, doc, i):
        rng = self.rng
        doc["version"] = "2026.%02d.%02d-%d" % (rng.randint(1, 11),
                                                rng.randint(1, 28), i)
        doc["image_id"] = "ami-%017x" % rng.getrandbits(68)
        doc["base_image"] = ("debian-12-amd64-20261101" if i == 0 else
                             "assets/machine-image/%s" %
                             self.names["machine-image"][rng.randrange(i)])
        doc["type"] = "base" if i == 0 else rng.choice(("role",
                                                        "container"))
        doc["os"] = "Debian 12"
        doc["release_date"] = self.date(25)
        doc["patch_delta"] = []
        if rng.random() < 0.3:
            doc["patch_delta"].append({
                "cve": "CVE-2026-%05d" % rng.randint(10000, 99999),
                "severity": rng.choice(("high", "medium", "low")),
                "package": "lib%s" % rng.choice(WORDS),
                "note": "No fixed package yet; rebuilt when it is."})
        doc["security_priority"] = rng.choice(("P1", "P2", "P3", "P4"))
        doc["approval"] = self.approval()
        doc["eol_date"] = "2028-06-30"

    def a_network_connection(self, doc, i):
        rng = self.rng
        a, b = self.account(), self.account()
        doc["from"] = {"environment": a[4], "account": self.account_ref(a),
                       "ranges": [self.cidr()]}
        doc["to"] = {"environment": b[4], "account": self.account_ref(b),
                     "ranges": [self.cidr()]}
        doc["type"] = rng.choice(("vpc-peering", "vpn", "transit-gateway",
                                  "data-replication"))
        doc["bidirectional"] = rng.random() < 0.3
        doc["ports"] = sorted({rng.choice((22, 443, 5432))
                               for _ in range(rng.randint(1, 2))})
        doc["justification"] = self.text(1, 2)
        doc["approval"] = self.approval()
        doc["last_review"] = self.date(170)

    def files(self):
        """Yield (path, text, kind) for every file but cspf.json."""
        for i in range(len(self.teams)):
            p, d = self.team(i)
            yield p, dump(d), "team"
        for j in range(len(self.accounts)):
            p, d = self.account_file(j)
            yield p, dump(d), "account"
            p, d = self.credentials_file(j)
            yield p, dump(d), "credentials"
        for kind in self.kinds:
            for i in range(self.counts[kind]):
                p, d = self.asset(kind, i)
                yield p, dump(d), kind
        for i in range(self.n_exceptions):
            p, d = self.exception_file(i)
            yield p, dump(d), "exception"

    def changed(self):
        """The one-change branch's file, after files(): (path, new text):
        the same document with another description."""
        kind, i = self.change_at
        d = self.change_doc
        d["description"] = ("Moved to the new platform; the old hosts "
                            "are decommissioned.")
        return "assets/%s/%s.json" % (kind, self.names[kind][i]), dump(d)


def asset_kinds():
    kinds = []
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if not name.endswith(".json"):
            continue
        k = name[:-5]
        if k in NOT_ASSETS:
            continue
        if k not in ASSET_WEIGHTS:
            sys.stderr.write("gen_registry: WARNING: schema/%s has no "
                             "generator here: assets/%s/ left out\n"
                             % (name, k))
            continue
        kinds.append(k)
    return kinds


def git(repo, *args, **kw):
    env = dict(os.environ)
    for v in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE",
              "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES"):
        env.pop(v, None)
    env.update({
        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "cspf bench", "GIT_AUTHOR_EMAIL":
        "bench@example.com", "GIT_COMMITTER_NAME": "cspf bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
        "GIT_AUTHOR_DATE": "2026-11-01T09:00:00Z",
        "GIT_COMMITTER_DATE": "2026-11-01T09:00:00Z",
    })
    env.update(kw.pop("env", {}))
    # --git-dir and --work-tree: never the enclosing repository.
    cmd = ["git", "--git-dir=" + os.path.join(repo, ".git"),
           "--work-tree=" + repo, "-c", "gc.auto=0",
           "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"]
    return subprocess.run(cmd + list(args), env=env, check=True,
                          stdout=subprocess.PIPE, universal_newlines=True,
                          **kw).stdout.strip()


def main(argv):
    if len(argv) not in (2, 3) or not argv[1].isdigit():
        sys.stderr.write("usage: gen_registry.py N [OUTDIR]\n")
        return 2
    n = int(argv[1])
    if n < 100:
        sys.stderr.write("gen_registry: N must be at least 100\n")
        return 2
    outdir = os.path.abspath(argv[2] if len(argv) > 2
                             else os.path.join(HERE, "out"))
    reg = os.path.join(outdir, "registry-%d" % n)
    kindsfile = reg + ".kinds"
    kinds = asset_kinds()

    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    with open(EXAMPLE_CONFIG, "rb") as f:
        config = f.read()
    h.update(config)
    h.update(("%d %s" % (n, " ".join(kinds))).encode())
    stamp = h.hexdigest() + "\n"
    stampfile = os.path.join(reg, ".git", "cspf-bench-stamp")
    try:
        with open(stampfile) as f:
            if f.read() == stamp and os.path.exists(kindsfile):
                print("gen_registry: %s is up to date" % reg)
                return 0
    except FileNotFoundError:
        pass
    if os.path.exists(reg):
        shutil.rmtree(reg)
    os.makedirs(reg)

    g = Gen(n, kinds)
    made = set()
    rows = ["cspf.json\tconfig"]
    total = 0
    with open(os.path.join(reg, "cspf.json"), "wb") as f:
        f.write(config)
    for path, text, kind in g.files():
        d = os.path.dirname(path)
        if d not in made:
            os.makedirs(os.path.join(reg, d), exist_ok=True)
            made.add(d)
        data = text.encode("utf-8")
        total += len(data)
        with open(os.path.join(reg, path), "wb") as f:
            f.write(data)
        rows.append("%s\t%s" % (path, kind))
    if len(rows) != n:
        raise AssertionError("wrote %d files, not %d" % (len(rows), n))
    changed_path, changed_text = g.changed()

    git(reg, "init", "-q", "-b", "main")
    git(reg, "add", "-A")
    git(reg, "commit", "-q", "-m", "registry of %d files" % n)
    # one-change: a commit on main that rewrites one file, through a
    # scratch index (the work tree and its index stay at main).
    blob = git(reg, "hash-object", "-w", "--stdin", input=changed_text)
    idx = os.path.join(reg, ".git", "one-change.index")
    genv = {"env": {"GIT_INDEX_FILE": idx}}
    git(reg, "read-tree", "main", **genv)
    git(reg, "update-index", "--cacheinfo", "100644,%s,%s" % (blob,
        changed_path), **genv)
    tree = git(reg, "write-tree", **genv)
    os.unlink(idx)
    commit = git(reg, "commit-tree", tree, "-p", "main", "-m",
                 "%s: new description" % changed_path)
    git(reg, "branch", "one-change", commit)
    git(reg, "gc", "--quiet", "--prune=now")
    loose = git(reg, "count-objects", "-v")

    with open(kindsfile, "w") as f:
        f.write("".join(r + "\n" for r in sorted(rows)))
    with open(stampfile, "w") as f:
        f.write(stamp)
    counts = {}
    for r in rows:
        k = r.split("\t")[1]
        counts[k] = counts.get(k, 0) + 1
    print("gen_registry: wrote %d files (%.0f bytes on average, %.1f MiB) "
          "to %s: %s" % (n, total / n, total / 1048576.0, reg,
                         ", ".join("%s %d" % kv for kv in sorted(
                             counts.items()))))
    print("gen_registry: git: main and one-change (%s changed); %s" % (
        changed_path, ", ".join(l for l in loose.splitlines()
                                if l.startswith(("count:", "in-pack:",
                                                 "packs:")))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
