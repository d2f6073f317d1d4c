/*
 * Loading and validating a registry, from the work tree or straight from
 * a commit's tree in the object database (no checkout: it runs in a
 * pre-receive hook).  Files are read and validated in parallel; each
 * worker has its own repository handle, as libgit2 objects are not to be
 * shared between threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "cspf/json.h"
#include "cspf/registry.h"
#include "cspf/schema.h"
#include "cspf/secrets.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/map.h"

#define SCHEMA_BASE "https://schema.cspf.dev/v1/"

struct rfile {
	char *path;     /* relative to the root, '/' separators */
	git_oid oid;    /* with --rev */
	cspf_kind kind;
	const char *asset; /* the asset kind, into path */
	size_t asset_len;
	int check;      /* 2: validate fully; 1: references only; 0: skip */
	cspf_diags diags;
	char *account_id; /* an account's provider id, for duplicates */
	unsigned int aid_line, aid_col;
	char **usernames; /* a credentials file's usernames */
	size_t nusernames;
};

struct kind_schema {
	const char *name; /* "account", "service", ... */
	cspf_schema *schema;
};

struct ctx {
	const char *root;      /* work tree directory, or repository path */
	const cspf_registry_options *opts;
	struct rfile *files;
	size_t nfiles, afiles;
	struct chunk {         /* where the paths live: one malloc per 64 KiB */
		struct chunk *next;
		size_t used, size;
		char data[];
	} *chunks;
	cspf_schema_set *set;
	cspf_map schemas;      /* kind name -> cspf_schema * (NULL: none) */
	atomic_size_t next;
	int use_git;
	char *repo_path;
	int fast;                 /* --base, nothing deleted: see fast_base() */
	git_tree *lookup_tree;    /* fast --rev: where references are looked up */
	git_diff *base_diff;      /* --base on the work tree, kept from
				   * fast_base() for select_changed() */
	pthread_mutex_t lookup_lock;
	cspf_json_doc *config;    /* cspf.json, when it parses */
	cspf_secrets_allow *allow; /* its secrets.allow, lent from it */
	cspf_secrets_options secrets;
	struct extra_schema {
		char *kind;
		cspf_schema *schema;
	} *extra;                 /* cspf.json's extra_schemas, compiled */
	size_t nextra;
};

/*
 * Fields that hold identifiers: random-looking by nature, and public (an
 * access key id is not its secret).  The scanner's entropy rule is off
 * there; its detectors of known secret formats still apply.
 */
static const char *const identifier_fields[] = {
	"/accountid",
	"/root",
	"/credentials/*/username",
	"/credentials/*/identity/access_key_id",
	"/credentials/*/identity/app_id",
	"/credentials/*/identity/user",
	"/credentials/*/identity/key_id",
	"/credentials/*/vault/path",
	"/providers/*/tenant_id",
	"/providers/*/client_id",
	"/providers/*/subscription_id",
	"/ips/*/*",
};

static const char *const kind_names[] = {
	[CSPF_KIND_NONE] = NULL,
	[CSPF_KIND_ACCOUNT] = "account",
	[CSPF_KIND_CREDENTIALS] = "credentials",
	[CSPF_KIND_ASSET] = NULL,
	[CSPF_KIND_TEAM] = "team",
	[CSPF_KIND_EXCEPTION] = "exception",
	[CSPF_KIND_CONFIG] = "config",
};

/* Number of '/'-separated segments of `p`, and the first one's length. */
static size_t segments(const char *p, size_t *first_len)
{
	size_t n = 1;
	const char *s = strchr(p, '/');

	*first_len = s ? (size_t)(s - p) : strlen(p);
	for (; *p; p++)
		n += *p == '/';
	return n;
}

cspf_kind cspf_registry_kind_of(const char *path, const char **asset_kind,
	size_t *asset_len)
{
	size_t n, first, len = strlen(path);

	if (asset_kind)
		*asset_kind = NULL;
	if (len < 6 || strcmp(path + len - 5, ".json") != 0)
		return CSPF_KIND_NONE;
	if (strcmp(path, "cspf.json") == 0)
		return CSPF_KIND_CONFIG;
	n = segments(path, &first);
#define TOP(name) (first == strlen(name) && strncmp(path, name, first) == 0)
	if (n == 3 && TOP("accounts"))
		return CSPF_KIND_ACCOUNT;
	if (n == 3 && TOP("credentials"))
		return CSPF_KIND_CREDENTIALS;
	if (n == 2 && TOP("teams"))
		return CSPF_KIND_TEAM;
	if (n == 2 && TOP("exceptions"))
		return CSPF_KIND_EXCEPTION;
	if (n == 3 && TOP("assets")) {
		const char *k = path + first + 1;
		if (asset_kind) {
			*asset_kind = k;
			*asset_len = (size_t)(strchr(k, '/') - k);
		}
		return CSPF_KIND_ASSET;
	}
#undef TOP
	return CSPF_KIND_NONE;
}

/* ---- finding helpers ---- */

static cspf_diag *finding(cspf_diags *d, const char *rule, const char *file,
	const char *pointer, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

static cspf_diag *finding(cspf_diags *d, const char *rule, const char *file,
	const char *pointer, unsigned line, unsigned col, const char *fmt, ...)
{
	cspf_buf msg = CSPF_BUF_INIT;
	cspf_diag *x;
	va_list ap;

	va_start(ap, fmt);
	cspf_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	x = cspf_diags_add(d, CSPF_SEVERITY_ERROR, rule, file, pointer, NULL,
		NULL, msg.ptr);
	if (x) {
		x->line = line;
		x->column = col;
	}
	cspf_buf_dispose(&msg);
	return x;
}

/* ---- enumeration ---- */

/*
 * A copy of `path` that lives as long as the run, packed with the others:
 * 100,000 paths cost their bytes, not 100,000 allocations.  NULL when out
 * of memory.
 */
static char *save_path(struct ctx *c, const char *path)
{
	size_t len = strlen(path) + 1;
	struct chunk *k = c->chunks;
	char *p;

	if (!k || k->size - k->used < len) {
		size_t size = len > 65536 ? len : 65536;
		if (!(k = malloc(sizeof(*k) + size)))
			return NULL;
		k->next = c->chunks;
		k->used = 0;
		k->size = size;
		c->chunks = k;
	}
	p = k->data + k->used;
	memcpy(p, path, len);
	k->used += len;
	return p;
}

/* An entity's id is its path less ".json". */
static size_t id_len(const struct rfile *f)
{
	size_t len = strlen(f->path);

	return len > 5 ? len - 5 : len;
}

static int cmp_id(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	return r ? r : (alen > blen) - (alen < blen);
}

static int cmp_file_id(const void *a, const void *b)
{
	const struct rfile *x = a, *y = b;

	return cmp_id(x->path, id_len(x), y->path, id_len(y));
}

/*
 * The listed file whose id is `id`, or NULL.  The files are sorted by id
 * once listed, so this is a binary search: no index beside them (a hash
 * map of 100,000 ids cost 15 MiB).
 */
static struct rfile *find_file(const struct ctx *c, const char *id,
	size_t len)
{
	size_t lo = 0, hi = c->nfiles;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct rfile *f = &c->files[mid];
		int r = cmp_id(id, len, f->path, id_len(f));
		if (r == 0)
			return (struct rfile *)f;
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int add_file(struct ctx *c, const char *path, const git_oid *oid)
{
	struct rfile *f;

	if (c->nfiles == c->afiles) {
		size_t n = c->afiles ? c->afiles * 2 : 256;
		struct rfile *p = realloc(c->files, n * sizeof(*p));
		if (!p)
			return cspf_error_set_oom();
		c->files = p;
		c->afiles = n;
	}
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof(*f));
	if (!(f->path = save_path(c, path)))
		return cspf_error_set_oom();
	if (oid)
		git_oid_cpy(&f->oid, oid);
	f->kind = cspf_registry_kind_of(f->path, &f->asset, &f->asset_len);
	f->check = 2;
	c->nfiles++;
	return 0;
}

/* A symbolic link is reported and never followed. */
static int add_symlink(struct ctx *c, const char *path)
{
	int r = add_file(c, path, NULL);

	if (r < 0)
		return r;
	c->files[c->nfiles - 1].check = 0;
	finding(&c->files[c->nfiles - 1].diags, "symlink", path, NULL, 0, 0,
		"symbolic links are not followed (it could lead out of the "
		"registry): replace the link with the file itself");
	return 0;
}

static int walk_dir(struct ctx *c, cspf_buf *rel, unsigned depth)
{
	cspf_buf full = CSPF_BUF_INIT;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	unsigned char *types = NULL;
	size_t n = 0, a = 0, i, mark = rel->size;
	int r = 0;

	cspf_buf_puts(&full, c->root);
	if (rel->size) {
		cspf_buf_putc(&full, '/');
		cspf_buf_put(&full, rel->ptr, rel->size);
	}
	if (depth > 32 || !(d = opendir(full.ptr))) {
		r = depth > 32 ? cspf_error_set(CSPF_ETOOBIG,
			CSPF_ERRCLASS_OS, "%s: directories nested too deeply",
			full.ptr) : cspf_error_set_os("cannot read '%s'",
			full.ptr);
		cspf_buf_dispose(&full);
		return r;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue; /* ., .., .git, .github, editors' files */
		if (n == a) {
			a = a ? a * 2 : 32;
			names = realloc(names, a * sizeof(*names));
			types = realloc(types, a);
			if (!names || !types) {
				r = cspf_error_set_oom();
				break;
			}
		}
		types[n] = e->d_type;
		if (!(names[n++] = strdup(e->d_name))) {
			r = cspf_error_set_oom();
			break;
		}
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		unsigned char t = types[i];
		if (r == 0) {
			cspf_buf_truncate(rel, mark);
			if (rel->size)
				cspf_buf_putc(rel, '/');
			cspf_buf_puts(rel, names[i]);
			if (t == DT_UNKNOWN) {
				struct stat st;
				cspf_buf p = CSPF_BUF_INIT;
				cspf_buf_printf(&p, "%s/%s", c->root, rel->ptr);
				t = lstat(p.ptr, &st) < 0 ? DT_UNKNOWN :
					S_ISDIR(st.st_mode) ? DT_DIR :
					S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
				cspf_buf_dispose(&p);
			}
			if (t == DT_DIR)
				r = walk_dir(c, rel, depth + 1);
			else if (t == DT_LNK)
				r = add_symlink(c, rel->ptr);
			else if (t == DT_REG && rel->size > 5 &&
				 !strcmp(rel->ptr + rel->size - 5, ".json"))
				r = add_file(c, rel->ptr, NULL);
		}
		free(names[i]);
	}
	cspf_buf_truncate(rel, mark);
	free(names);
	free(types);
	cspf_buf_dispose(&full);
	return r;
}

struct tree_walk {
	struct ctx *c;
	int error;
};

static int tree_cb(const char *root, const git_tree_entry *e, void *payload)
{
	struct tree_walk *w = payload;
	const char *name = git_tree_entry_name(e);
	git_filemode_t mode = git_tree_entry_filemode(e);
	cspf_buf p = CSPF_BUF_INIT;
	size_t len;

	if (name[0] == '.')
		return 1; /* skip it, and below it */
	if (mode == GIT_FILEMODE_TREE)
		return 0;
	cspf_buf_puts(&p, root);
	cspf_buf_puts(&p, name);
	len = p.size;
	if (mode == GIT_FILEMODE_LINK)
		w->error = add_symlink(w->c, p.ptr);
	else if ((mode == GIT_FILEMODE_BLOB ||
		  mode == GIT_FILEMODE_BLOB_EXECUTABLE) && len > 5 &&
		 !strcmp(p.ptr + len - 5, ".json"))
		w->error = add_file(w->c, p.ptr, git_tree_entry_id(e));
	cspf_buf_dispose(&p);
	return w->error < 0 ? -1 : 0;
}

/*
 * Open the repository.  Inside a git hook (pre-receive above all), the
 * objects being pushed sit in a quarantine that git names in the
 * environment: honour it, or the new commits would not be found.
 */
static int open_repo(git_repository **out, const char *path)
{
	unsigned flags = 0;

	if (getenv("GIT_QUARANTINE_PATH") || getenv("GIT_OBJECT_DIRECTORY"))
		flags |= GIT_REPOSITORY_OPEN_FROM_ENV;
	return git_repository_open_ext(out, path, flags, NULL);
}

static int git_fail(const char *what)
{
	const git_error *e = git_error_last();

	return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS, "%s: %s", what,
		e && e->message ? e->message : "git error");
}

static int tree_at(git_tree **out, git_repository *repo, const char *rev)
{
	git_object *obj = NULL;
	int r;

	if (git_revparse_single(&obj, repo, rev) < 0)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"no revision '%s' in the repository", rev);
	r = git_object_peel((git_object **)out, obj, GIT_OBJECT_TREE);
	git_object_free(obj);
	return r < 0 ? git_fail(rev) : 0;
}

/*
 * The changes between the tree at --base and the tree at --rev, or the
 * work tree (untracked files included), with renames found.
 */
static int changes(git_diff **out, git_repository *repo, git_tree *base,
	git_tree *head)
{
	git_diff_options dopts;
	git_diff_find_options fopts;
	int r;

	*out = NULL;
	git_diff_options_init(&dopts, GIT_DIFF_OPTIONS_VERSION);
	git_diff_find_options_init(&fopts, GIT_DIFF_FIND_OPTIONS_VERSION);
	if (head) {
		r = git_diff_tree_to_tree(out, repo, base, head, &dopts);
	} else {
		dopts.flags |= GIT_DIFF_INCLUDE_UNTRACKED |
			GIT_DIFF_RECURSE_UNTRACKED_DIRS;
		r = git_diff_tree_to_workdir_with_index(out, repo, base,
			&dopts);
	}
	if (r < 0 || git_diff_find_similar(*out, &fopts) < 0)
		return git_fail("diff");
	return 0;
}

/*
 * With --base: mark what to check.  Changed files are validated fully;
 * when a change deletes or renames a file, every other file is read for
 * its references (the deleted id may be what it points at); accounts are
 * always read, for duplicate account ids.
 */
static int select_changed(struct ctx *c, git_repository *repo)
{
	git_tree *base = NULL, *head = NULL;
	git_diff *diff = NULL;
	size_t i, n;
	int deletions = 0, r;

	if ((r = tree_at(&base, repo, c->opts->base)) < 0)
		return r;
	if (c->opts->rev && (r = tree_at(&head, repo, c->opts->rev)) < 0)
		goto out;
	if (c->base_diff) {
		diff = c->base_diff;
		c->base_diff = NULL;
	} else if ((r = changes(&diff, repo, base, head)) < 0) {
		goto out;
	}
	for (i = 0; i < c->nfiles; i++)
		c->files[i].check = c->files[i].diags.count ? 0 : 1;
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		struct rfile *f;
		const char *p = d->new_file.path;
		size_t len;

		if (d->status == GIT_DELTA_DELETED ||
		    d->status == GIT_DELTA_RENAMED) {
			deletions = 1;
			if (d->status == GIT_DELTA_DELETED)
				continue;
		}
		len = strlen(p);
		if (len <= 5 || strcmp(p + len - 5, ".json"))
			continue;
		f = find_file(c, p, len - 5);
		if (f && !f->diags.count)
			f->check = 2;
	}
	for (i = 0; i < c->nfiles; i++) {
		struct rfile *f = &c->files[i];
		if (f->check == 1 && !deletions && f->kind != CSPF_KIND_ACCOUNT)
			f->check = 0;
	}
	r = 0;
out:
	git_diff_free(diff);
	git_tree_free(base);
	git_tree_free(head);
	return r;
}

/*
 * A tree object's entries, read from its raw bytes: "<octal mode> <name>\0"
 * and a 20-byte id, in git's order.  libgit2's git_tree_lookup() parses
 * every entry into an array first: 3.4 ms for a directory of 14,000
 * files, twice per changed directory, most of a --base run.
 */
struct raw_entry {
	unsigned int mode;
	const char *name;
	size_t name_len;
	git_oid id;
};

static int add_raw_entry(struct ctx *c, git_repository *repo,
	const struct raw_entry *e, cspf_buf *prefix);

static int add_tree_files(struct ctx *c, git_repository *repo,
	const git_tree *t, cspf_buf *prefix)
{
	size_t i, n = git_tree_entrycount(t);
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		const git_tree_entry *te = git_tree_entry_byindex(t, i);
		struct raw_entry e;

		e.mode = git_tree_entry_filemode(te);
		e.name = git_tree_entry_name(te);
		e.name_len = strlen(e.name);
		git_oid_cpy(&e.id, git_tree_entry_id(te));
		r = add_raw_entry(c, repo, &e, prefix);
	}
	return r;
}

static int raw_next(struct raw_entry *e, const unsigned char **pos,
	const unsigned char *end)
{
	const unsigned char *p = *pos, *nul;

	if (p >= end)
		return 0;
	for (e->mode = 0; p < end && *p >= '0' && *p <= '7'; p++)
		e->mode = e->mode * 8 + (unsigned)(*p - '0');
	if (p >= end || *p++ != ' ' ||
	    !(nul = memchr(p, '\0', (size_t)(end - p))) ||
	    (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
		return -1;
	e->name = (const char *)p;
	e->name_len = (size_t)(nul - p);
	git_oid_fromraw(&e->id, nul + 1);
	*pos = nul + 1 + GIT_OID_RAWSZ;
	return 1;
}

/* git's order: a tree's name compares as if it ended in '/'. */
static int raw_cmp(const struct raw_entry *a, const struct raw_entry *b)
{
	size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
	int r = memcmp(a->name, b->name, n);
	unsigned char ca, cb;

	if (r)
		return r;
	ca = a->name_len > n ? (unsigned char)a->name[n] :
	     a->mode == GIT_FILEMODE_TREE ? '/' : 0;
	cb = b->name_len > n ? (unsigned char)b->name[n] :
	     b->mode == GIT_FILEMODE_TREE ? '/' : 0;
	return (ca > cb) - (ca < cb);
}

/* An added entry: a file, a link, or a whole new directory. */
static int add_raw_entry(struct ctx *c, git_repository *repo,
	const struct raw_entry *e, cspf_buf *prefix)
{
	size_t mark = prefix->size;
	int r = 0;

	if (e->name[0] == '.')
		return 0;
	cspf_buf_put(prefix, e->name, e->name_len);
	if (e->mode == GIT_FILEMODE_TREE) {
		git_tree *sub = NULL;
		cspf_buf_putc(prefix, '/');
		if (git_tree_lookup(&sub, repo, &e->id) < 0)
			r = git_fail(prefix->ptr);
		else
			r = add_tree_files(c, repo, sub, prefix);
		git_tree_free(sub);
	} else if (e->mode == GIT_FILEMODE_LINK) {
		r = add_symlink(c, prefix->ptr);
	} else if (prefix->size > 5 &&
		   !strcmp(prefix->ptr + prefix->size - 5, ".json")) {
		r = add_file(c, prefix->ptr, &e->id);
	}
	cspf_buf_truncate(prefix, mark);
	return r;
}

/*
 * The changed files between two trees, by a merge of their sorted
 * entries that skips every subtree whose id did not change: one changed
 * file costs the trees on its path, not the whole registry (libgit2's
 * tree-to-tree diff inflates every tree).  Sets *simple to 0 when
 * something was deleted or changed type (the caller then needs the full
 * listing).
 */
static int diff_trees(struct ctx *c, git_repository *repo, git_odb *odb,
	const git_oid *ida, const git_oid *idb, cspf_buf *prefix, int *simple)
{
	git_odb_object *oa = NULL, *ob = NULL;
	const unsigned char *pa, *ea, *pb, *eb;
	struct raw_entry a, b;
	int ha, hb, r = 0;

	if (git_odb_read(&oa, odb, ida) < 0 || git_odb_read(&ob, odb, idb) < 0 ||
	    git_odb_object_type(oa) != GIT_OBJECT_TREE ||
	    git_odb_object_type(ob) != GIT_OBJECT_TREE) {
		r = git_fail(prefix->size ? prefix->ptr : "tree");
		goto out;
	}
	pa = git_odb_object_data(oa);
	ea = pa + git_odb_object_size(oa);
	pb = git_odb_object_data(ob);
	eb = pb + git_odb_object_size(ob);
	ha = raw_next(&a, &pa, ea);
	hb = raw_next(&b, &pb, eb);
	while (r == 0 && *simple && (ha != 0 || hb != 0)) {
		int cmp = ha <= 0 ? 1 : hb <= 0 ? -1 : raw_cmp(&a, &b);

		if (ha < 0 || hb < 0) {
			r = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
				"a corrupt tree object under '%s'",
				prefix->size ? prefix->ptr : "/");
			break;
		}
		if (cmp < 0) { /* only in the base: deleted */
			if (a.name[0] != '.')
				*simple = 0;
		} else if (cmp > 0) { /* only in the new tree: added */
			r = add_raw_entry(c, repo, &b, prefix);
		} else if (!git_oid_equal(&a.id, &b.id) && b.name[0] != '.') {
			if ((a.mode == GIT_FILEMODE_TREE) !=
			    (b.mode == GIT_FILEMODE_TREE)) {
				*simple = 0;
			} else if (b.mode == GIT_FILEMODE_TREE) {
				size_t mark = prefix->size;
				cspf_buf_put(prefix, b.name, b.name_len);
				cspf_buf_putc(prefix, '/');
				r = diff_trees(c, repo, odb, &a.id, &b.id,
					prefix, simple);
				cspf_buf_truncate(prefix, mark);
			} else {
				r = add_raw_entry(c, repo, &b, prefix);
			}
		}
		if (cmp <= 0)
			ha = raw_next(&a, &pa, ea);
		if (cmp >= 0)
			hb = raw_next(&b, &pb, eb);
	}
out:
	git_odb_object_free(oa);
	git_odb_object_free(ob);
	return r;
}

/*
 * Does `path` ("teams/payments.json") name a blob or link under the tree
 * `root`?  Read from raw tree objects like diff_trees(), which the object
 * cache still holds: 1 if so, 0 if not, negative on failure.
 */
static int raw_exists(git_odb *odb, const git_oid *root, const char *path)
{
	git_oid id = *root;
	const char *part = path;
	int found = 0;

	for (;;) {
		const char *slash = strchr(part, '/');
		size_t len = slash ? (size_t)(slash - part) : strlen(part);
		const unsigned char *p, *end;
		git_odb_object *o = NULL;
		struct raw_entry e;
		int h;

		if (git_odb_read(&o, odb, &id) < 0)
			return git_fail(path);
		if (git_odb_object_type(o) != GIT_OBJECT_TREE) {
			git_odb_object_free(o);
			return 0;
		}
		p = git_odb_object_data(o);
		end = p + git_odb_object_size(o);
		found = 0;
		while ((h = raw_next(&e, &p, end)) > 0) {
			if (e.name_len == len && !memcmp(e.name, part, len)) {
				found = slash ? e.mode == GIT_FILEMODE_TREE :
						e.mode != GIT_FILEMODE_TREE;
				id = e.id;
				break;
			}
		}
		git_odb_object_free(o);
		if (h < 0)
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"a corrupt tree object on the way to '%s'",
				path);
		if (!found || !slash)
			return found;
		part = slash + 1;
	}
}

/*
 * --base, the common case: a change that deletes or renames nothing, and
 * touches no account (whose id could now collide with another).  Then
 * nothing outside the changed files can break, and they are all that is
 * listed; references are looked up in the tree (or the work tree) one by
 * one instead of through an index of every file.  Returns 1 when it
 * applies (files listed), 0 when the full listing is needed, negative on
 * failure.
 */
static int fast_base(struct ctx *c, git_repository *repo)
{
	git_tree *base = NULL, *head = NULL;
	git_diff *diff = NULL;
	size_t i, n;
	int r, has_config = 0;

	if ((r = tree_at(&base, repo, c->opts->base)) < 0)
		return r;
	if (c->opts->rev) {
		cspf_buf prefix = CSPF_BUF_INIT;
		int simple = 1;
		if ((r = tree_at(&head, repo, c->opts->rev)) < 0)
			goto out;
		git_odb *odb = NULL;
		if ((r = git_repository_odb(&odb, repo)) < 0) {
			r = git_fail("object database");
			goto out;
		}
		r = diff_trees(c, repo, odb, git_tree_id(base),
			git_tree_id(head), &prefix, &simple);
		git_odb_free(odb);
		cspf_buf_dispose(&prefix);
		for (i = 0; r == 0 && simple && i < c->nfiles; i++)
			if (c->files[i].kind == CSPF_KIND_ACCOUNT)
				simple = 0;
		for (i = 0; r == 0 && i < c->nfiles; i++)
			has_config |= !strcmp(c->files[i].path, "cspf.json");
		if (r < 0)
			goto out;
		if (!simple) {
			/* back to the full listing */
			for (i = 0; i < c->nfiles; i++) {
				cspf_diags_clear(&c->files[i].diags);
			}
			c->nfiles = 0;
			r = 0;
			goto out;
		}
		goto listed;
	}
	if ((r = changes(&diff, repo, base, NULL)) < 0)
		goto out;
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *p = d->new_file.path;
		if (d->status == GIT_DELTA_DELETED ||
		    d->status == GIT_DELTA_RENAMED ||
		    cspf_registry_kind_of(p, NULL, NULL) == CSPF_KIND_ACCOUNT) {
			/* the full listing it is; select_changed() reuses
			 * the diff */
			c->base_diff = diff;
			diff = NULL;
			r = 0;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *p = d->new_file.path;
		size_t len = strlen(p);

		if (p[0] == '.' || strstr(p, "/."))
			continue;
		if (d->new_file.mode == GIT_FILEMODE_LINK)
			r = add_symlink(c, p);
		else if (len > 5 && !strcmp(p + len - 5, ".json"))
			r = add_file(c, p, &d->new_file.id);
		if (r < 0)
			goto out;
		has_config |= !strcmp(p, "cspf.json");
	}
listed:
	if (!has_config) {
		/* Not checked, but its allowlist is needed. */
		git_tree_entry *e = NULL;
		struct stat st;
		cspf_buf p = CSPF_BUF_INIT;
		cspf_buf_printf(&p, "%s/cspf.json", c->root);
		if (head ? git_tree_entry_bypath(&e, head, "cspf.json") == 0 :
			   lstat(p.ptr, &st) == 0) {
			r = add_file(c, "cspf.json", e ? git_tree_entry_id(e) :
				NULL);
			if (r == 0)
				c->files[c->nfiles - 1].check = 0;
		}
		git_tree_entry_free(e);
		cspf_buf_dispose(&p);
		if (r < 0)
			goto out;
	}
	c->fast = 1;
	c->lookup_tree = head;
	head = NULL;
	r = 1;
out:
	git_diff_free(diff);
	git_tree_free(base);
	git_tree_free(head);
	return r;
}

/* ---- per file ---- */

/* The kind's name ("account", "service", ...) into `name`. */
static void kind_name(char *name, size_t size, const struct rfile *f)
{
	if (f->kind == CSPF_KIND_ASSET)
		snprintf(name, size, "%.*s", (int)f->asset_len, f->asset);
	else
		snprintf(name, size, "%s", kind_names[f->kind] ?
			kind_names[f->kind] : "");
}

static const cspf_schema *schema_for(struct ctx *c, const struct rfile *f)
{
	char name[128];

	kind_name(name, sizeof(name), f);
	return cspf_map_gets(&c->schemas, name);
}

static int ref_exists(struct ctx *c, const char *id)
{
	cspf_buf p = CSPF_BUF_INIT;
	struct stat st;
	int found;

	if (!c->fast)
		return find_file(c, id, strlen(id)) != NULL;
	/* Only the changed files were listed: ask the tree itself. */
	if (c->lookup_tree) {
		git_odb *odb = NULL;
		cspf_buf_printf(&p, "%s.json", id);
		pthread_mutex_lock(&c->lookup_lock);
		found = git_repository_odb(&odb, git_tree_owner(
				c->lookup_tree)) == 0 &&
			raw_exists(odb, git_tree_id(c->lookup_tree), p.ptr) > 0;
		pthread_mutex_unlock(&c->lookup_lock);
		git_odb_free(odb);
		cspf_error_clear();
	} else {
		cspf_buf_printf(&p, "%s/%s.json", c->root, id);
		found = lstat(p.ptr, &st) == 0 && S_ISREG(st.st_mode);
	}
	cspf_buf_dispose(&p);
	return found;
}

/* Check that member `key` of `obj` (a string) names an existing entity. */
static void check_ref(struct ctx *c, struct rfile *f,
	const cspf_json_doc *doc, const cJSON *obj, const char *key,
	const char *prefix, const char *ptr_prefix, const char *what)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	cspf_buf id = CSPF_BUF_INIT, ptr = CSPF_BUF_INIT;
	unsigned line = 0, col = 0;

	if (!cJSON_IsString(v) || !*v->valuestring)
		return;
	if (prefix && strncmp(v->valuestring, prefix, strlen(prefix)) != 0)
		cspf_buf_puts(&id, prefix);
	cspf_buf_puts(&id, v->valuestring);
	if (!ref_exists(c, id.ptr)) {
		cspf_buf_puts(&ptr, ptr_prefix);
		cspf_buf_put_pointer_token(&ptr, key, strlen(key));
		cspf_json_position(&line, &col, doc, ptr.ptr,
			CSPF_JSON_POS_VALUE);
		finding(&f->diags, "dangling-reference", f->path, ptr.ptr,
			line, col, "%s \"%s\" does not exist: there is no "
			"%s.json in the registry", what, v->valuestring,
			id.ptr);
	}
	cspf_buf_dispose(&id);
	cspf_buf_dispose(&ptr);
}

/* References and identities of one parsed document. */
static void extract(struct ctx *c, struct rfile *f, const cspf_json_doc *doc)
{
	const cJSON *root = cspf_json_doc_root(doc), *v, *cred;
	size_t i = 0;

	if (!cJSON_IsObject(root))
		return;
	switch (f->kind) {
	case CSPF_KIND_ACCOUNT:
		check_ref(c, f, doc, root, "team", "teams/", "", "team");
		check_ref(c, f, doc, root, "credentials", NULL, "",
			"credential file");
		v = cJSON_GetObjectItemCaseSensitive(root, "accountid");
		if (cJSON_IsString(v) && (f->account_id = strdup(
			    v->valuestring)))
			cspf_json_position(&f->aid_line, &f->aid_col, doc,
				"/accountid", CSPF_JSON_POS_VALUE);
		break;
	case CSPF_KIND_ASSET:
		check_ref(c, f, doc, root, "team", "teams/", "", "team");
		check_ref(c, f, doc, root, "account", "accounts/", "",
			"account");
		break;
	case CSPF_KIND_EXCEPTION:
		v = cJSON_GetObjectItemCaseSensitive(root, "target");
		if (cJSON_IsString(v)) {
			char *t = strdup(v->valuestring), *hash;
			if (t && (hash = strchr(t, '#')))
				*hash = '\0';
			if (t && !ref_exists(c, t)) {
				unsigned line = 0, col = 0;
				cspf_json_position(&line, &col, doc, "/target",
					CSPF_JSON_POS_VALUE);
				finding(&f->diags, "dangling-reference",
					f->path, "/target", line, col,
					"the exception's target \"%s\" does not "
					"exist in the registry",
					v->valuestring);
			}
			free(t);
		}
		break;
	case CSPF_KIND_CREDENTIALS:
		v = cJSON_GetObjectItemCaseSensitive(root, "credentials");
		f->nusernames = 0;
		cJSON_ArrayForEach(cred, v) {
			char ptr[64];
			const cJSON *u = cJSON_GetObjectItemCaseSensitive(cred,
				"username");
			snprintf(ptr, sizeof(ptr), "/credentials/%zu", i++);
			check_ref(c, f, doc, cred, "account", "accounts/", ptr,
				"account");
			if (!cJSON_IsString(u))
				continue;
			for (size_t k = 0; k < f->nusernames; k++) {
				if (strcmp(f->usernames[k], u->valuestring))
					continue;
				unsigned line = 0, col = 0;
				char up[80];
				snprintf(up, sizeof(up), "%s/username", ptr);
				cspf_json_position(&line, &col, doc, up,
					CSPF_JSON_POS_VALUE);
				finding(&f->diags, "duplicate-id", f->path, up,
					line, col, "the credential \"%s#%s\" is "
					"listed twice in this file",
					f->path, u->valuestring);
			}
			char **nu = realloc(f->usernames,
				(f->nusernames + 1) * sizeof(*nu));
			if (!nu)
				continue;
			f->usernames = nu;
			if ((nu[f->nusernames] = strdup(u->valuestring)))
				f->nusernames++;
		}
		break;
	default:
		break;
	}
}

/*
 * A blob's bytes in a malloc'd buffer with room for a NUL, or NULL with
 * the error raised (missing object, over the size limit, no memory).
 */
static char *read_blob(git_repository *repo, const git_oid *oid,
	const char *path, size_t *len)
{
	git_blob *blob = NULL;
	char *buf = NULL;

	if (git_blob_lookup(&blob, repo, oid) < 0) {
		git_fail(path);
		return NULL;
	}
	*len = (size_t)git_blob_rawsize(blob);
	if (*len > CSPF_JSON_DEFAULT_MAX_SIZE)
		cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_JSON,
			"the file is %zu bytes, over the limit of %zu", *len,
			CSPF_JSON_DEFAULT_MAX_SIZE);
	else if ((buf = malloc(*len + 1)))
		memcpy(buf, git_blob_rawcontent(blob), *len);
	else
		cspf_error_set_oom();
	git_blob_free(blob);
	return buf;
}

static char *read_worktree(struct ctx *c, const char *rel, size_t *len);

/* A listed file's bytes, from the commit's tree or the work tree. */
static char *read_listed(struct ctx *c, git_repository *repo,
	const struct rfile *f, size_t *len)
{
	return repo ? read_blob(repo, &f->oid, f->path, len) :
		read_worktree(c, f->path, len);
}

static char *read_worktree(struct ctx *c, const char *rel, size_t *len)
{
	cspf_buf p = CSPF_BUF_INIT;
	struct stat st;
	char *buf = NULL;
	int fd;
	ssize_t got;
	size_t have = 0;

	cspf_buf_printf(&p, "%s/%s", c->root, rel);
	fd = open(p.ptr, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0) {
		cspf_error_set_os("cannot read '%s'", rel);
		goto out;
	}
	if ((size_t)st.st_size > CSPF_JSON_DEFAULT_MAX_SIZE) {
		cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_JSON,
			"the file is %jd bytes, over the limit of %zu",
			(intmax_t)st.st_size, CSPF_JSON_DEFAULT_MAX_SIZE);
		goto out;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		cspf_error_set_oom();
		goto out;
	}
	while (have < (size_t)st.st_size &&
	       (got = read(fd, buf + have, (size_t)st.st_size - have)) > 0)
		have += (size_t)got;
	*len = have;
out:
	if (fd >= 0)
		close(fd);
	cspf_buf_dispose(&p);
	return buf;
}

static void check_file(struct ctx *c, git_repository *repo, struct rfile *f)
{
	cspf_json_doc *doc = NULL;
	char *buf = NULL;
	size_t len = 0;
	const cspf_schema *schema;
	int r;

	if (!f->check)
		return;
	if (f->kind == CSPF_KIND_NONE) {
		finding(&f->diags, "unknown-kind", f->path, NULL, 0, 0,
			"this file belongs to no kind: registry files live in "
			"accounts/<provider>/, credentials/<provider>/, "
			"assets/<kind>/, teams/ or exceptions/, or are "
			"cspf.json: move it to where it belongs");
		return;
	}
	buf = read_listed(c, repo, f, &len);
	if (!buf) {
		const cspf_error *e = cspf_error_last();
		finding(&f->diags, "unreadable", f->path, NULL, 0, 0, "%s",
			e ? e->message : "cannot read");
		return;
	}
	buf[len] = '\0';
	r = cspf_json_parse_owned(&doc, buf, len, f->path, NULL);
	if (r < 0) {
		const cspf_error *e = cspf_error_last();
		finding(&f->diags, "json", f->path, NULL, e->line, e->column,
			"%s", e->message);
		return;
	}
	if (f->check == 2) {
		schema = schema_for(c, f);
		if (!schema && f->kind == CSPF_KIND_ASSET)
			finding(&f->diags, "unknown-kind", f->path, NULL, 1, 1,
				"assets/%.*s/ is not an asset kind cspf knows "
				"(see docs/registry-format.md)",
				(int)f->asset_len, f->asset);
		else if (schema)
			cspf_schema_validate_doc(&f->diags, schema, doc);
		if (c->nextra) {
			/* The organisation's own rules for this kind. */
			char name[128];
			size_t k;
			kind_name(name, sizeof(name), f);
			for (k = 0; k < c->nextra; k++)
				if (!strcmp(c->extra[k].kind, name))
					cspf_schema_validate_doc(&f->diags,
						c->extra[k].schema, doc);
		}
		/* CSPF 3.2: no secret material in the registry. */
		if (cspf_secrets_scan(&f->diags, doc, &c->secrets) < 0)
			finding(&f->diags, "unreadable", f->path, NULL, 0, 0,
				"the secret scan could not run: %s",
				cspf_error_last() ? cspf_error_last()->message :
				"out of memory");
	}
	extract(c, f, doc);
	if (f->check == 1) /* references only */
		cspf_diags_keep_rule(&f->diags, "dangling-reference");
	cspf_json_doc_free(doc);
}

static void *worker(void *arg)
{
	struct ctx *c = arg;
	git_repository *repo = NULL;
	size_t i;

	if (c->use_git && open_repo(&repo, c->repo_path) < 0)
		repo = NULL;
	while ((i = atomic_fetch_add(&c->next, 1)) < c->nfiles)
		check_file(c, c->use_git ? repo : NULL, &c->files[i]);
	git_repository_free(repo);
	return NULL;
}

/*
 * Read cspf.json for what the run needs from it now: the secret
 * scanner's allowlist.  A cspf.json that does not parse is reported by
 * its own check; here it is simply not used.
 */
static void load_config(struct ctx *c, git_repository *repo)
{
	struct rfile *f = find_file(c, "cspf", 4);
	const cJSON *allow, *a;
	char *buf = NULL;
	size_t len = 0, n = 0;

	c->secrets = (cspf_secrets_options)CSPF_SECRETS_OPTIONS_INIT;
	c->secrets.identifier_pointers = identifier_fields;
	c->secrets.nidentifier = sizeof(identifier_fields) /
		sizeof(identifier_fields[0]);
	if (!f || f->kind != CSPF_KIND_CONFIG)
		return;
	if (!(buf = read_listed(c, repo, f, &len))) {
		cspf_error_clear(); /* reported by cspf.json's own check */
		return;
	}
	buf[len] = '\0';
	if (cspf_json_parse_owned(&c->config, buf, len, f->path, NULL) < 0) {
		cspf_error_clear();
		return;
	}
	allow = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cspf_json_doc_root(c->config), "secrets"), "allow");
	if (!cJSON_IsArray(allow) || !cJSON_GetArraySize(allow))
		return;
	c->allow = calloc((size_t)cJSON_GetArraySize(allow), sizeof(*c->allow));
	if (!c->allow)
		return;
	cJSON_ArrayForEach(a, allow) {
		const cJSON *fp = cJSON_GetObjectItemCaseSensitive(a,
			"fingerprint");
		const cJSON *why = cJSON_GetObjectItemCaseSensitive(a, "reason");
		if (!cJSON_IsString(fp))
			continue;
		c->allow[n].fingerprint = fp->valuestring;
		c->allow[n++].reason = cJSON_IsString(why) ?
			why->valuestring : NULL;
	}
	c->secrets.allow = c->allow;
	c->secrets.nallow = n;
}

/*
 * Globs of cspf.json's "kinds": '*' stands for any characters within a
 * path segment, '**' for any number of whole segments.
 */
static int glob_match(const char *g, const char *p)
{
	const char *q;

	if (g[0] == '*' && g[1] == '*') {
		g += 2;
		if (*g == '/')
			g++;
		for (q = p;; q++) {
			if (glob_match(g, q))
				return 1;
			if (!(q = strchr(q, '/')))
				return 0;
		}
	}
	if (*g == '*') {
		for (q = p;; q++) {
			if (glob_match(g + 1, q))
				return 1;
			if (*q == '\0' || *q == '/')
				return 0;
		}
	}
	if (*g == '\0')
		return *p == '\0';
	return *g == *p && glob_match(g + 1, p + 1);
}

/* Apply cspf.json's "kinds": its globs win over the defaults. */
static void apply_kinds(struct ctx *c)
{
	const cJSON *kinds, *k, *extra, *list, *item;
	size_t i;

	if (!c->config)
		return;
	kinds = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(c->config),
		"kinds");
	extra = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(c->config),
		"extra_schemas");
	for (i = 0; i < c->nfiles; i++) {
		struct rfile *f = &c->files[i];
		if (f->kind == CSPF_KIND_CONFIG || !f->path)
			continue;
		/* The organisation's schemas are not registry entities. */
		cJSON_ArrayForEach(list, extra) {
			cJSON_ArrayForEach(item, list) {
				if (cJSON_IsString(item) &&
				    !strcmp(item->valuestring, f->path)) {
					f->kind = CSPF_KIND_NONE;
					f->check = 0;
				}
			}
		}
		cJSON_ArrayForEach(k, kinds) {
			const char *kind = cJSON_IsString(k) ? k->valuestring :
				NULL;
			size_t n;
			if (!kind || !glob_match(k->string, f->path))
				continue;
			if (!strcmp(kind, "ignore")) {
				f->kind = CSPF_KIND_NONE;
				f->check = 0;
				cspf_diags_clear(&f->diags);
				break;
			}
			f->asset = NULL;
			for (n = 1; n < sizeof(kind_names) /
				     sizeof(kind_names[0]); n++)
				if (kind_names[n] && !strcmp(kind_names[n], kind))
					break;
			if (n < sizeof(kind_names) / sizeof(kind_names[0])) {
				f->kind = (cspf_kind)n;
			} else {
				f->kind = CSPF_KIND_ASSET;
				f->asset = kind;
				f->asset_len = strlen(kind);
			}
			break;
		}
	}
}

/* A file of the registry as it is in the tree being checked. */
static char *read_registry_file(struct ctx *c, git_repository *repo,
	const char *path, size_t *len)
{
	git_tree_entry *e = NULL;
	char *buf = NULL;
	size_t i;

	if (!repo)
		return read_worktree(c, path, len);
	if (c->lookup_tree) {
		if (git_tree_entry_bypath(&e, c->lookup_tree, path) == 0)
			buf = read_blob(repo, git_tree_entry_id(e), path, len);
		else
			cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
				"no file '%s' in the registry", path);
		git_tree_entry_free(e);
		return buf;
	}
	for (i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i].path, path))
			return read_listed(c, repo, &c->files[i], len);
	cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
		"no file '%s' in the registry", path);
	return NULL;
}

/*
 * cspf.json's "extra_schemas": the organisation's schemas, compiled
 * beside ours.  One that cannot be used is a finding on cspf.json.
 */
static int load_extra_schemas(struct ctx *c, git_repository *repo)
{
	const cJSON *extra, *list, *item;
	struct rfile *conf = find_file(c, "cspf", 4);
	cspf_schema_options so = CSPF_SCHEMA_OPTIONS_INIT;

	if (!c->config)
		return 0;
	so.format_assert = c->opts->format_assert;
	extra = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(c->config),
		"extra_schemas");
	cJSON_ArrayForEach(list, extra) {
		cJSON_ArrayForEach(item, list) {
			cspf_json_doc *doc = NULL;
			cspf_schema *schema = NULL;
			cspf_buf uri = CSPF_BUF_INIT;
			size_t len = 0;
			char *buf;
			struct extra_schema *x;

			if (!cJSON_IsString(item))
				continue;
			buf = read_registry_file(c, repo, item->valuestring,
				&len);
			if (buf) {
				buf[len] = '\0';
				cspf_buf_printf(&uri, "file:///%s",
					item->valuestring);
			}
			if (!buf || cspf_json_parse_owned(&doc, buf, len,
					item->valuestring, NULL) < 0 ||
			    cspf_schema_set_add_doc(c->set, doc, uri.ptr) < 0 ||
			    cspf_schema_compile(&schema, c->set,
				    cspf_schema_set_last_uri(c->set), &so,
				    NULL) < 0) {
				if (conf)
					finding(&conf->diags, "extra-schema",
						"cspf.json", NULL, 0, 0,
						"the extra schema \"%s\" for "
						"%s cannot be used: %s",
						item->valuestring, list->string,
						cspf_error_last()->message);
				cspf_buf_dispose(&uri);
				continue;
			}
			cspf_buf_dispose(&uri);
			x = realloc(c->extra, (c->nextra + 1) * sizeof(*x));
			if (!x || !(x[c->nextra].kind = strdup(list->string))) {
				c->extra = x ? x : c->extra;
				cspf_schema_free(schema);
				return cspf_error_set_oom();
			}
			c->extra = x;
			x[c->nextra++].schema = schema;
		}
	}
	return 0;
}

/* ---- schemas ---- */

static int load_schemas(struct ctx *c)
{
	cspf_schema_options so = CSPF_SCHEMA_OPTIONS_INIT;
	size_t i;
	int r;

	so.format_assert = c->opts->format_assert;
	so.check_metaschema = 0; /* ours are checked by the tests */
	if ((r = cspf_schema_set_new(&c->set)) < 0)
		return r;
	for (i = 0; i < c->nfiles; i++) {
		struct rfile *f = &c->files[i];
		char name[128], uri[200];
		cspf_schema *s = NULL;

		if (f->kind == CSPF_KIND_NONE)
			continue;
		if (f->kind == CSPF_KIND_ASSET)
			snprintf(name, sizeof(name), "%.*s",
				(int)f->asset_len, f->asset);
		else
			snprintf(name, sizeof(name), "%s",
				kind_names[f->kind]);
		if (cspf_map_get(&c->schemas, name, strlen(name)) ||
		    cspf_map_gets(&c->schemas, name) != NULL)
			continue;
		snprintf(uri, sizeof(uri), SCHEMA_BASE "%s.json", name);
		r = cspf_schema_compile(&s, c->set, uri, &so, NULL);
		if (r < 0 && r != CSPF_ENOTFOUND)
			return r;
		/* an unknown asset kind maps to NULL: reported per file */
		if (cspf_map_puts(&c->schemas, name, s) < 0) {
			cspf_schema_free(s);
			return cspf_error_set_oom();
		}
		cspf_error_clear();
	}
	return 0;
}

/* ---- the whole run ---- */

static void duplicates(struct ctx *c)
{
	cspf_map seen = CSPF_MAP_STRINGS_INIT;
	size_t i;

	for (i = 0; i < c->nfiles; i++) {
		struct rfile *f = &c->files[i], *first;
		if (!f->account_id)
			continue;
		first = cspf_map_gets(&seen, f->account_id);
		if (!first) {
			cspf_map_puts(&seen, f->account_id, f);
			continue;
		}
		if (f->check == 2 || first->check == 2)
			finding(&f->diags, "duplicate-id", f->path,
				"/accountid", f->aid_line, f->aid_col,
				"the account id \"%s\" is claimed by %s too: "
				"one account, one file", f->account_id,
				first->path);
	}
	cspf_map_dispose(&seen);
}

/* libgit2, set up for reading a registry. */
static void git_setup(int base)
{
	git_libgit2_init();
	/*
	 * libgit2 maps pack files in windows, by default up to 8 GiB of
	 * them; the pages it touches count in our RSS.  Small windows and a
	 * low ceiling: measured on a 100,000-file registry (38 MiB pack),
	 * --rev peaks at 58 MiB with 1 MiB windows under 8 MiB, 66 MiB with
	 * 4 MiB under 16 MiB, at the same speed.
	 */
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_SIZE, (size_t)1 << 20);
	git_libgit2_opts(GIT_OPT_SET_MWINDOW_MAPPED_LIMIT, (size_t)8 << 20);
	/*
	 * A registry directory of 10,000 files is a 600 KiB tree; libgit2
	 * caches no tree over 4 KiB, so every reference looked up by path
	 * in it would inflate and parse it again.  Only --base looks
	 * references up in trees; a full run would just hold them.
	 */
	git_libgit2_opts(GIT_OPT_SET_CACHE_OBJECT_LIMIT, GIT_OBJECT_TREE,
		base ? (size_t)8 << 20 : (size_t)4096);
	/*
	 * Objects are not re-hashed on every read: git verified them when
	 * they entered the repository (index-pack, also in the quarantine a
	 * pre-receive hook sees), and `git fsck` is the tool for a
	 * repository that rotted since.  Hashing every blob cost 7% of a
	 * --rev run.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
}

/*
 * List the registry's files into c->files, sorted by id: the changed ones
 * fast_base() listed, or every file of the tree at --rev, or of the work
 * tree.
 */
static int list_files(struct ctx *c, git_repository *repo)
{
	int r = 0;

	if (c->fast) {
		c->use_git = c->opts->rev != NULL;
	} else if (c->opts->rev) {
		git_tree *tree = NULL;
		struct tree_walk w = { c, 0 };
		if ((r = tree_at(&tree, repo, c->opts->rev)) < 0)
			return r;
		r = git_tree_walk(tree, GIT_TREEWALK_PRE, tree_cb, &w);
		git_tree_free(tree);
		if (w.error < 0 || r < 0)
			return w.error < 0 ? w.error : git_fail("tree walk");
		c->use_git = 1;
	} else {
		cspf_buf rel = CSPF_BUF_INIT;
		r = walk_dir(c, &rel, 0);
		cspf_buf_dispose(&rel);
		if (r < 0)
			return r;
	}
	qsort(c->files, c->nfiles, sizeof(*c->files), cmp_file_id);
	return 0;
}

/* Free what the run held; not the context itself. */
static void ctx_dispose(struct ctx *c)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++) {
		struct rfile *f = &c->files[i];
		cspf_diags_clear(&f->diags);
		free(f->account_id);
		for (size_t k = 0; k < f->nusernames; k++)
			free(f->usernames[k]);
		free(f->usernames);
	}
	free(c->files);
	{
		cspf_map_entry *e;
		cspf_map_foreach(&c->schemas, e)
			cspf_schema_free(e->value);
	}
	cspf_map_dispose(&c->schemas);
	git_diff_free(c->base_diff);
	while (c->chunks) {
		struct chunk *k = c->chunks;
		c->chunks = k->next;
		free(k);
	}
	for (i = 0; i < c->nextra; i++) {
		free(c->extra[i].kind);
		cspf_schema_free(c->extra[i].schema);
	}
	free(c->extra);
	cspf_schema_set_free(c->set);
	git_tree_free(c->lookup_tree);
	pthread_mutex_destroy(&c->lookup_lock);
	free(c->allow);
	cspf_json_doc_free(c->config);
	free(c->repo_path);
}

int cspf_registry_validate(cspf_diags *out, cspf_registry_stats *stats,
	const char *path, const cspf_registry_options *opts)
{
	cspf_registry_options defaults = CSPF_REGISTRY_OPTIONS_INIT;
	struct ctx c;
	git_repository *repo = NULL;
	pthread_t *th = NULL;
	unsigned nth, t;
	size_t i;
	int r = 0;
	struct stat st;

	memset(&c, 0, sizeof(c));
	c.opts = opts ? opts : &defaults;
	c.root = path;
	c.schemas.strings = 1;
	pthread_mutex_init(&c.lookup_lock, NULL);
	if (stats)
		memset(stats, 0, sizeof(*stats));
	git_setup(c.opts->base != NULL);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = cspf_error_set_os("'%s' is not a registry directory", path);
		goto out;
	}
	if (c.opts->rev || c.opts->base) {
		if (open_repo(&repo, path) < 0) {
			r = git_fail(path);
			goto out;
		}
		c.repo_path = strdup(git_repository_path(repo));
	}
	if (c.opts->base && (r = fast_base(&c, repo)) < 0)
		goto out;
	if ((r = list_files(&c, repo)) < 0)
		goto out;
	if (c.opts->base && !c.fast && (r = select_changed(&c, repo)) < 0)
		goto out;
	load_config(&c, c.use_git ? repo : NULL);
	apply_kinds(&c);
	if ((r = load_schemas(&c)) < 0)
		goto out;
	if ((r = load_extra_schemas(&c, c.use_git ? repo : NULL)) < 0)
		goto out;
	nth = c.opts->jobs ? c.opts->jobs : (unsigned)sysconf(
		_SC_NPROCESSORS_ONLN);
	if (nth < 1)
		nth = 1;
	if (nth > c.nfiles)
		nth = c.nfiles ? (unsigned)c.nfiles : 1;
	atomic_init(&c.next, 0);
	th = calloc(nth, sizeof(*th));
	for (t = 0; th && t + 1 < nth; t++) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, (size_t)32 << 20);
		if (pthread_create(&th[t], &attr, worker, &c) != 0) {
			pthread_attr_destroy(&attr);
			break;
		}
		pthread_attr_destroy(&attr);
	}
	worker(&c);
	while (th && t-- > 0)
		pthread_join(th[t], NULL);
	duplicates(&c);
	for (i = 0; i < c.nfiles; i++) {
		struct rfile *f = &c.files[i];
		if (stats && f->check == 2)
			stats->checked++;
		if (stats && f->kind != CSPF_KIND_NONE &&
		    f->kind != CSPF_KIND_CONFIG)
			stats->entities += f->kind == CSPF_KIND_CREDENTIALS ?
				f->nusernames : 1;
		if (cspf_diags_move(out, &f->diags) < 0)
			r = cspf_error_set_oom();
	}
	if (stats)
		stats->files = c.nfiles;
	cspf_diags_sort(out);
out:
	free(th);
	ctx_dispose(&c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return r;
}

/* ---- the registry in memory ---- */

struct cspf_registry {
	cspf_entity *entities;
	size_t count, alloc;
	cspf_json_doc **docs;
	size_t ndocs;
	cspf_json_doc *config;
	size_t skipped;
	struct chunk *chunks; /* ids, paths and pointers */
};

static int cmp_entity(const void *a, const void *b)
{
	return strcmp(((const cspf_entity *)a)->id,
		((const cspf_entity *)b)->id);
}

static int add_entity(cspf_registry *reg, struct ctx *c,
	const struct rfile *f, cspf_json_doc *doc, const cJSON *json,
	const char *id, const char *pointer)
{
	cspf_entity *e;

	if (reg->count == reg->alloc) {
		size_t n = reg->alloc ? reg->alloc * 2 : 64;
		cspf_entity *p = realloc(reg->entities, n * sizeof(*p));
		if (!p)
			return cspf_error_set_oom();
		reg->entities = p;
		reg->alloc = n;
	}
	e = &reg->entities[reg->count];
	memset(e, 0, sizeof(*e));
	e->path = f->path;
	e->kind = f->kind;
	e->json = json;
	e->doc = doc;
	if (f->kind == CSPF_KIND_ASSET) {
		char kind[128];
		snprintf(kind, sizeof(kind), "%.*s", (int)f->asset_len,
			f->asset);
		e->asset_kind = save_path(c, kind);
	}
	if (f->kind == CSPF_KIND_ACCOUNT) {
		const cJSON *prov = cJSON_GetObjectItemCaseSensitive(json,
			"provider");
		char folder[64] = "";
		sscanf(f->path, "accounts/%63[^/]/", folder);
		e->provider = save_path(c, cJSON_IsString(prov) ?
			prov->valuestring : folder);
		if (!e->provider)
			return cspf_error_set_oom();
	}
	e->id = save_path(c, id);
	e->pointer = save_path(c, pointer);
	if (!e->id || !e->pointer ||
	    (f->kind == CSPF_KIND_ASSET && !e->asset_kind))
		return cspf_error_set_oom();
	reg->count++;
	return 0;
}

/* The entities of one parsed file: itself, or each of its credentials. */
static int add_entities(cspf_registry *reg, struct ctx *c,
	const struct rfile *f, cspf_json_doc *doc)
{
	const cJSON *root = cspf_json_doc_root(doc), *item;
	cspf_buf id = CSPF_BUF_INIT, ptr = CSPF_BUF_INIT;
	size_t base = id_len(f);
	int r = 0, i = 0;

	if (!cJSON_IsObject(root))
		return 0;
	if (f->kind != CSPF_KIND_CREDENTIALS) {
		cspf_buf_put(&id, f->path, base);
		r = cspf_buf_oom(&id) ? cspf_error_set_oom() :
			add_entity(reg, c, f, doc, root, id.ptr, "");
		cspf_buf_dispose(&id);
		return r;
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root,
				"credentials")) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(item,
			"username");
		if (cJSON_IsObject(item) && cJSON_IsString(user)) {
			cspf_buf_clear(&id);
			cspf_buf_clear(&ptr);
			cspf_buf_put(&id, f->path, base);
			cspf_buf_printf(&id, "#%s", user->valuestring);
			cspf_buf_printf(&ptr, "/credentials/%d", i);
			if (cspf_buf_oom(&id) || cspf_buf_oom(&ptr))
				r = cspf_error_set_oom();
			else
				r = add_entity(reg, c, f, doc, item, id.ptr,
					ptr.ptr);
			if (r < 0)
				break;
		}
		i++;
	}
	cspf_buf_dispose(&id);
	cspf_buf_dispose(&ptr);
	return r;
}

int cspf_registry_load(cspf_registry **out, const char *path,
	const cspf_registry_options *opts)
{
	cspf_registry_options defaults = CSPF_REGISTRY_OPTIONS_INIT, o;
	cspf_registry *reg = NULL;
	git_repository *repo = NULL;
	struct ctx c;
	struct stat st;
	size_t i;
	int r = 0;

	*out = NULL;
	o = opts ? *opts : defaults;
	o.base = NULL;
	memset(&c, 0, sizeof(c));
	c.opts = &o;
	c.root = path;
	c.schemas.strings = 1;
	pthread_mutex_init(&c.lookup_lock, NULL);
	git_setup(0);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = cspf_error_set_os("'%s' is not a registry directory", path);
		goto out;
	}
	if (!(reg = calloc(1, sizeof(*reg)))) {
		r = cspf_error_set_oom();
		goto out;
	}
	if (o.rev && open_repo(&repo, path) < 0) {
		r = git_fail(path);
		goto out;
	}
	if ((r = list_files(&c, repo)) < 0)
		goto out;
	load_config(&c, c.use_git ? repo : NULL);
	apply_kinds(&c);
	reg->docs = calloc(c.nfiles ? c.nfiles : 1, sizeof(*reg->docs));
	if (!reg->docs) {
		r = cspf_error_set_oom();
		goto out;
	}
	for (i = 0; i < c.nfiles; i++) {
		struct rfile *f = &c.files[i];
		cspf_json_doc *doc = NULL;
		size_t len = 0;
		char *buf;

		if (f->kind == CSPF_KIND_NONE || f->kind == CSPF_KIND_CONFIG ||
		    !f->check)
			continue;
		if (!(buf = read_listed(&c, c.use_git ? repo : NULL, f,
			      &len))) {
			reg->skipped++;
			cspf_error_clear();
			continue;
		}
		buf[len] = '\0';
		if (cspf_json_parse_owned(&doc, buf, len, f->path, NULL) < 0) {
			reg->skipped++;
			cspf_error_clear();
			continue;
		}
		reg->docs[reg->ndocs++] = doc;
		if ((r = add_entities(reg, &c, f, doc)) < 0)
			goto out;
	}
	qsort(reg->entities, reg->count, sizeof(*reg->entities), cmp_entity);
	/* What the entities point into now belongs to the registry. */
	reg->config = c.config;
	c.config = NULL;
	reg->chunks = c.chunks;
	c.chunks = NULL;
	*out = reg;
	reg = NULL;
out:
	cspf_registry_free(reg);
	ctx_dispose(&c);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return r;
}

size_t cspf_registry_count(const cspf_registry *reg)
{
	return reg ? reg->count : 0;
}

const cspf_entity *cspf_registry_entity(const cspf_registry *reg, size_t i)
{
	return reg && i < reg->count ? &reg->entities[i] : NULL;
}

const cspf_entity *cspf_registry_find(const cspf_registry *reg,
	const char *id)
{
	size_t lo = 0, hi = reg ? reg->count : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(id, reg->entities[mid].id);
		if (c == 0)
			return &reg->entities[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const cspf_entity *cspf_registry_find_account(const cspf_registry *reg,
	const char *cloud_id)
{
	size_t i;

	for (i = 0; cloud_id && reg && i < reg->count; i++) {
		const cspf_entity *e = &reg->entities[i];
		const cJSON *aid;
		if (e->kind != CSPF_KIND_ACCOUNT)
			continue;
		aid = cJSON_GetObjectItemCaseSensitive(e->json, "accountid");
		if (cJSON_IsString(aid) &&
		    !strcasecmp(aid->valuestring, cloud_id))
			return e;
	}
	return NULL;
}

const cJSON *cspf_registry_config(const cspf_registry *reg)
{
	return reg && reg->config ? cspf_json_doc_root(reg->config) : NULL;
}

size_t cspf_registry_skipped(const cspf_registry *reg)
{
	return reg ? reg->skipped : 0;
}

void cspf_registry_free(cspf_registry *reg)
{
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->ndocs; i++)
		cspf_json_doc_free(reg->docs[i]);
	free(reg->docs);
	free(reg->entities);
	cspf_json_doc_free(reg->config);
	while (reg->chunks) {
		struct chunk *k = reg->chunks;
		reg->chunks = k->next;
		free(k);
	}
	free(reg);
}
