/*
 * The "git" source: the registry's own history.  Every commit authored in
 * the period, diffed against its first parent (a root commit against the
 * empty tree), gives one event per entity file it adds, changes or
 * deletes under the registry's root: the author acted (a committer who
 * only replayed or applied it did not), on the entity whose id is the
 * file's path without ".json".
 *
 * Optional argument: the revision to walk from (default HEAD).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "digest_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/map.h"
#include "util/banned.h"

/*
 * Commits are walked newest first by commit time, which is not monotonic
 * (clocks differ, rebases keep author times): the walk stops only once a
 * commit is this far before the period's start.
 */
#define SLACK (24 * 60 * 60)

/* A value in the path map for files of no account. */
static char no_account[] = "";

struct git_src {
	const cspf_source_query *q;
	cspf_source_stats *stats;
	cspf_diags *diags;
	cspf_event_cb cb;
	void *payload;
	git_repository *repo;
	const char *prefix;   /* the registry root in the repository, "" or
			       * "dir/sub/" */
	size_t prefix_len;
	cspf_map accounts;    /* file path (relative to the root) → the
			       * account's cloud id, lent by the registry */
};

static void diag(struct git_src *s, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void diag(struct git_src *s, const char *file, const char *fmt, ...)
{
	cspf_buf m = CSPF_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cspf_buf_vprintf(&m, fmt, ap);
	va_end(ap);
	cspf_diags_add(s->diags, CSPF_SEVERITY_WARNING, "digest-source", file,
		NULL, NULL, NULL, cspf_buf_oom(&m) ? "git history" : m.ptr);
	cspf_buf_dispose(&m);
	s->stats->bad++;
}

static const char *git_msg(void)
{
	const git_error *e = git_error_last();

	return e && e->message ? e->message : "git error";
}

static const char *jstr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

/* The cloud id of the account an "account" reference names, or NULL. */
static const char *account_of_ref(const cspf_registry *reg, const char *ref)
{
	const cspf_entity *a;
	cspf_buf id = CSPF_BUF_INIT;

	if (!ref)
		return NULL;
	if (strncmp(ref, "accounts/", 9) != 0)
		cspf_buf_puts(&id, "accounts/");
	cspf_buf_puts(&id, ref);
	a = cspf_buf_oom(&id) ? NULL : cspf_registry_find(reg, id.ptr);
	cspf_buf_dispose(&id);
	return a && a->kind == CSPF_KIND_ACCOUNT ? jstr(a->json, "accountid") :
		NULL;
}

/*
 * Map every file of the registry to its account's cloud id: an account
 * file to its own, an asset to its "account"'s, a credentials file to the
 * first of its credentials that names one.  Files of no account map to
 * no_account, so that the map also says which files are entities (cspf.json
 * "kinds" may place them off the default paths).
 */
static int map_accounts(struct git_src *s)
{
	const cspf_registry *reg = s->q->registry;
	const cspf_entity *e;
	size_t i;

	if (!reg)
		return 0;
	for (i = 0; (e = cspf_registry_entity(reg, i)) != NULL; i++) {
		const char *cloud = NULL, *have;

		have = cspf_map_gets(&s->accounts, e->path);
		if (have && have != no_account)
			continue;
		if (e->kind == CSPF_KIND_ACCOUNT)
			cloud = jstr(e->json, "accountid");
		else if (e->kind != CSPF_KIND_CONFIG)
			cloud = account_of_ref(reg, jstr(e->json, "account"));
		if (have && !cloud)
			continue;
		if (cspf_map_puts(&s->accounts, e->path,
			    cloud ? (void *)cloud : no_account) < 0)
			return cspf_error_set_oom();
	}
	return 0;
}

/*
 * The registry's root inside the repository's work tree, as a path
 * prefix ("" or "registry/").  A bare repository is its own root.
 */
static int find_prefix(char **out, git_repository *repo, const char *dir)
{
	char root[PATH_MAX], wd[PATH_MAX];
	const char *sub;
	size_t n;

	*out = NULL;
	if (git_repository_is_bare(repo) || !git_repository_workdir(repo)) {
		*out = strdup("");
		return *out ? 0 : cspf_error_set_oom();
	}
	if (!realpath(git_repository_workdir(repo), wd) ||
	    !realpath(dir, root))
		return cspf_error_set_os("git source: %s", dir);
	n = strlen(wd);
	if (strncmp(root, wd, n) != 0 || (root[n] && root[n] != '/'))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"git source: %s is outside the work tree %s", root,
			wd);
	sub = root + n;
	while (*sub == '/')
		sub++;
	n = strlen(sub);
	if (!(*out = malloc(n + 2)))
		return cspf_error_set_oom();
	memcpy(*out, sub, n);
	if (n)
		(*out)[n++] = '/';
	(*out)[n] = '\0';
	return 0;
}

static const char *action_of(git_delta_t status)
{
	switch (status) {
	case GIT_DELTA_ADDED:
		return "registry:create";
	case GIT_DELTA_DELETED:
		return "registry:delete";
	case GIT_DELTA_MODIFIED:
	case GIT_DELTA_TYPECHANGE:
		return "registry:update";
	default:
		return NULL;
	}
}

/*
 * The events of one commit: its diff against its first parent, limited to
 * the registry's root.  Returns what the callback returned when it stops
 * the source, else 0 (a commit that cannot be diffed is a diag).
 */
static int commit_events(struct git_src *s, git_commit *c)
{
	const git_signature *author = git_commit_author(c);
	git_tree *tree = NULL, *base = NULL;
	git_commit *parent = NULL;
	git_diff *diff = NULL;
	git_diff_options dopts;
	char *spec = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	size_t i, n;
	int r = 0;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(c));
	git_diff_options_init(&dopts, GIT_DIFF_OPTIONS_VERSION);
	if (s->prefix_len) {
		/* The root's folder, literally (no glob in its name). */
		if (!(spec = strdup(s->prefix)))
			return cspf_error_set_oom();
		spec[s->prefix_len - 1] = '\0';
		dopts.pathspec.strings = &spec;
		dopts.pathspec.count = 1;
		dopts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	}
	if (git_commit_tree(&tree, c) < 0 ||
	    (git_commit_parentcount(c) > 0 &&
	     (git_commit_parent(&parent, c, 0) < 0 ||
	      git_commit_tree(&base, parent) < 0)) ||
	    git_diff_tree_to_tree(&diff, s->repo, base, tree, &dopts) < 0) {
		diag(s, hex, "commit %s cannot be read (%s): its changes are "
			"left out; run `git fsck` on the registry's "
			"repository, or fetch its whole history", hex,
			git_msg());
		goto done;
	}
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n && r == 0; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *path = d->status == GIT_DELTA_DELETED ?
			d->old_file.path : d->new_file.path;
		const char *rel, *action = action_of(d->status);
		const char *account;
		cspf_buf target = CSPF_BUF_INIT;
		cspf_event ev;
		size_t len;

		if (!action || !path ||
		    strncmp(path, s->prefix, s->prefix_len) != 0)
			continue;
		rel = path + s->prefix_len;
		len = strlen(rel);
		account = cspf_map_gets(&s->accounts, rel);
		if (len <= 5 || strcmp(rel + len - 5, ".json") != 0 ||
		    (!account && cspf_registry_kind_of(rel, NULL, NULL) ==
			    CSPF_KIND_NONE))
			continue;
		cspf_buf_put(&target, rel, len - 5);
		if (cspf_buf_oom(&target)) {
			r = cspf_error_set_oom();
			break;
		}
		memset(&ev, 0, sizeof(ev));
		ev.time = (int64_t)author->when.time;
		ev.actor_kind = CSPF_ACTOR_USER;
		ev.actor = author->email && *author->email ? author->email :
			author->name;
		ev.person = author->email && *author->email ? author->email :
			NULL;
		ev.action = action;
		ev.target = target.ptr;
		ev.account = account && *account ? account : NULL;
		ev.source = "git";
		ev.id = hex;
		s->stats->events++;
		r = s->cb(&ev, s->payload);
		cspf_buf_dispose(&target);
	}
done:
	git_diff_free(diff);
	git_tree_free(base);
	git_tree_free(tree);
	git_commit_free(parent);
	free(spec);
	return r;
}

static int walk(struct git_src *s, const char *rev)
{
	git_object *any = NULL, *obj = NULL;
	git_revwalk *w = NULL;
	git_oid oid;
	int r = 0, next;

	if (git_revparse_single(&any, s->repo, rev) < 0 ||
	    git_object_peel(&obj, any, GIT_OBJECT_COMMIT) < 0) {
		git_object_free(any);
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"git source: no commit '%s' in the registry's "
			"repository (%s): name a branch, tag or commit, as "
			"in --sources git:main", rev, git_msg());
	}
	if (git_revwalk_new(&w, s->repo) < 0 ||
	    git_revwalk_sorting(w, GIT_SORT_TIME) < 0 ||
	    git_revwalk_push(w, git_object_id(obj)) < 0) {
		r = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"git source: cannot walk the history from %s: %s", rev,
			git_msg());
		goto done;
	}
	while ((next = git_revwalk_next(&oid, w)) == 0) {
		git_commit *c = NULL;
		int64_t t;

		if (git_commit_lookup(&c, s->repo, &oid) < 0) {
			diag(s, NULL, "commit %s cannot be read (%s): its "
				"changes are left out", git_oid_tostr_s(&oid),
				git_msg());
			continue;
		}
		s->stats->records++;
		if ((int64_t)git_commit_time(c) < s->q->start - SLACK) {
			git_commit_free(c);
			break;
		}
		t = (int64_t)git_commit_author(c)->when.time;
		if (t < s->q->start || t >= s->q->end) {
			s->stats->skipped++;
			git_commit_free(c);
			continue;
		}
		r = commit_events(s, c);
		git_commit_free(c);
		if (r < 0)
			goto done;
	}
	if (next < 0 && next != GIT_ITEROVER)
		diag(s, NULL, "the history from %s stops early (%s): a shallow "
			"clone? older commits are left out; fetch the whole "
			"history (git fetch --unshallow)", rev, git_msg());
done:
	git_revwalk_free(w);
	git_object_free(obj);
	git_object_free(any);
	return r;
}

static int git_read(cspf_source_stats *stats, cspf_diags *diags,
	const cspf_source_query *q, cspf_event_cb cb, void *payload)
{
	struct git_src s;
	char *prefix = NULL;
	unsigned flags = 0;
	int r;

	memset(&s, 0, sizeof(s));
	s.q = q;
	s.stats = stats;
	s.diags = diags;
	s.cb = cb;
	s.payload = payload;
	s.accounts = (cspf_map)CSPF_MAP_STRINGS_INIT;
	if (!q->registry_dir)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"git source: no registry directory");
	git_libgit2_init();
	/* Inside a git hook, the new objects sit in a quarantine. */
	if (getenv("GIT_QUARANTINE_PATH") || getenv("GIT_OBJECT_DIRECTORY"))
		flags |= GIT_REPOSITORY_OPEN_FROM_ENV;
	if (git_repository_open_ext(&s.repo, q->registry_dir, flags,
		    NULL) < 0) {
		r = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_OS,
			"git source: %s is not in a git repository: the "
			"registry's history is read from git (leave \"git\" "
			"out of --sources for a registry that is not one)",
			q->registry_dir);
		goto done;
	}
	if ((r = find_prefix(&prefix, s.repo, q->registry_dir)) < 0 ||
	    (r = map_accounts(&s)) < 0)
		goto done;
	s.prefix = prefix;
	s.prefix_len = strlen(prefix);
	r = walk(&s, q->arg && *q->arg ? q->arg : "HEAD");
done:
	cspf_map_dispose(&s.accounts);
	free(prefix);
	git_repository_free(s.repo);
	git_libgit2_shutdown();
	return r;
}

const cspf_source cspf_source_git = {
	"git",
	"the registry's git history: who created, changed or deleted each "
	"entity (arg: the revision, default HEAD)",
	false,
	git_read,
};
