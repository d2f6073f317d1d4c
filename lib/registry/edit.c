/*
 * Writing to the registry: change one string of a JSON file in place,
 * keeping every other byte (indentation, key order, comments in
 * descriptions), and commit files through libgit2 without touching what
 * the user has staged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

#include "cspf/json.h"
#include "cspf/registry.h"
#include "util/buf.h"
#include "util/error.h"

/* Byte offset of 1-based line:column (column in characters). */
static size_t offset_of(const char *text, size_t len, unsigned int line,
	unsigned int column)
{
	size_t off = 0;
	unsigned int l = 1, c = 1;

	while (off < len && l < line)
		if (text[off++] == '\n')
			l++;
	while (off < len && c < column) {
		off++;
		/* Skip UTF-8 continuation bytes: a column is a character. */
		while (off < len && ((unsigned char)text[off] & 0xc0) == 0x80)
			off++;
		c++;
	}
	return off;
}

struct edit {
	size_t start, end; /* the string token, quotes included */
	const char *value;
};

static int by_start(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int cspf_registry_edit_strings(char **out, size_t *out_len, const char *text,
	size_t len, const char *name, const char *const *pointers,
	const char *const *values, size_t n, size_t *applied)
{
	cspf_json_doc *doc = NULL;
	cspf_buf b = CSPF_BUF_INIT;
	struct edit *edits;
	size_t i, m = 0, at = 0;
	int error = 0;

	*out = NULL;
	*out_len = 0;
	if (applied)
		*applied = 0;
	if (!(edits = calloc(n ? n : 1, sizeof(*edits))))
		return cspf_error_set_oom();
	if ((error = cspf_json_parse(&doc, text, len, name, NULL)) < 0)
		goto done;
	for (i = 0; i < n; i++) {
		const cJSON *node = cspf_json_pointer_get(
			cspf_json_doc_root(doc), pointers[i]);
		unsigned int line, column;
		size_t s0, e0;

		if (!cJSON_IsString(node))
			continue; /* not there: nothing to change */
		if ((error = cspf_json_position(&line, &column, doc,
				pointers[i], CSPF_JSON_POS_VALUE)) < 0)
			goto done;
		s0 = offset_of(text, len, line, column);
		if (s0 >= len || text[s0] != '"') {
			error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
				"%s: cannot find the string at %s", name,
				pointers[i]);
			goto done;
		}
		for (e0 = s0 + 1; e0 < len && text[e0] != '"'; e0++)
			if (text[e0] == '\\')
				e0++;
		if (e0 >= len) {
			error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_INVALID,
				"%s: unterminated string at %s", name,
				pointers[i]);
			goto done;
		}
		edits[m].start = s0;
		edits[m].end = e0 + 1;
		edits[m++].value = values[i];
	}
	qsort(edits, m, sizeof(*edits), by_start);
	for (i = 0; i < m; i++) {
		if (edits[i].start < at) /* the same string twice */
			continue;
		cspf_buf_put(&b, text + at, edits[i].start - at);
		cspf_buf_putc(&b, '"');
		cspf_buf_put_json_escaped(&b, edits[i].value,
			strlen(edits[i].value));
		cspf_buf_putc(&b, '"');
		at = edits[i].end;
	}
	cspf_buf_put(&b, text + at, len - at);
	if (cspf_buf_oom(&b)) {
		error = cspf_error_set_oom();
		goto done;
	}
	if (applied)
		*applied = m;
	*out_len = b.size;
	*out = cspf_buf_detach(&b);
done:
	cspf_buf_dispose(&b);
	cspf_json_doc_free(doc);
	free(edits);
	return error;
}

int cspf_registry_edit_string(char **out, size_t *out_len, const char *text,
	size_t len, const char *name, const char *pointer, const char *value)
{
	size_t applied;
	int error = cspf_registry_edit_strings(out, out_len, text, len, name,
		&pointer, &value, 1, &applied);

	if (error == 0 && applied == 0) {
		free(*out);
		*out = NULL;
		*out_len = 0;
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"%s: no string at %s", name, pointer);
	}
	return error;
}

int cspf_registry_write_file(const char *path, const char *data, size_t len)
{
	char tmp[PATH_MAX];
	struct stat st;
	mode_t mode = 0644;
	size_t done = 0;
	int fd;

	if (stat(path, &st) == 0)
		mode = st.st_mode & 0777;
	if (snprintf(tmp, sizeof(tmp), "%s.cspf-%ld.tmp", path,
			(long)getpid()) >= (int)sizeof(tmp))
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_OS,
			"%s: path too long", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			mode)) < 0)
		return cspf_error_set_os("cannot create %s", tmp);
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			unlink(tmp);
			return cspf_error_set_os("cannot write %s", tmp);
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		unlink(tmp);
		return cspf_error_set_os("cannot write %s", tmp);
	}
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		return cspf_error_set_os("cannot replace %s", path);
	}
	return 0;
}

/*
 * Commits.
 */
static int git_fail(const char *what)
{
	const git_error *e = git_error_last();

	return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS, "%s: %s", what,
		e && e->message ? e->message : "libgit2 error");
}

/*
 * `base` with the blobs at paths[i] (relative to the tree, '/'-separated)
 * replaced or added: only the trees on the way are rewritten.
 */
static int tree_with(git_oid *out, git_repository *repo, const git_tree *base,
	const char *const *paths, const git_oid *blobs, size_t n)
{
	git_treebuilder *tb = NULL;
	size_t i, j;
	int error;

	if ((error = git_treebuilder_new(&tb, repo, base)) < 0)
		return git_fail("cannot build a tree");
	for (i = 0; i < n; i++) {
		const char *slash = strchr(paths[i], '/');

		if (!slash) {
			if ((error = git_treebuilder_insert(NULL, tb, paths[i],
					&blobs[i], GIT_FILEMODE_BLOB)) < 0) {
				error = git_fail("cannot build a tree");
				goto done;
			}
			continue;
		}
		/* The first path under this directory handles all of them. */
		{
			size_t dlen = (size_t)(slash - paths[i]);
			char dir[256];
			const char **sub;
			git_oid *subblobs, subtree;
			const git_tree_entry *te;
			git_tree *child = NULL;
			size_t m = 0;
			bool seen = false;

			if (dlen >= sizeof(dir)) {
				error = cspf_error_set(CSPF_ETOOBIG,
					CSPF_ERRCLASS_INVALID,
					"%s: a directory name is too long",
					paths[i]);
				goto done;
			}
			memcpy(dir, paths[i], dlen);
			dir[dlen] = '\0';
			for (j = 0; j < i; j++)
				if (strncmp(paths[j], dir, dlen) == 0 &&
				    paths[j][dlen] == '/')
					seen = true;
			if (seen)
				continue;
			sub = calloc(n, sizeof(*sub));
			subblobs = calloc(n, sizeof(*subblobs));
			if (!sub || !subblobs) {
				free(sub);
				free(subblobs);
				error = cspf_error_set_oom();
				goto done;
			}
			for (j = i; j < n; j++)
				if (strncmp(paths[j], dir, dlen) == 0 &&
				    paths[j][dlen] == '/') {
					sub[m] = paths[j] + dlen + 1;
					subblobs[m++] = blobs[j];
				}
			te = base ? git_tree_entry_byname(base, dir) : NULL;
			if (te && git_tree_entry_type(te) == GIT_OBJECT_TREE &&
			    git_tree_lookup(&child, repo,
					git_tree_entry_id(te)) < 0) {
				free(sub);
				free(subblobs);
				error = git_fail("cannot read a tree");
				goto done;
			}
			error = tree_with(&subtree, repo, child, sub, subblobs,
				m);
			git_tree_free(child);
			free(sub);
			free(subblobs);
			if (error < 0)
				goto done;
			if (git_treebuilder_insert(NULL, tb, dir, &subtree,
					GIT_FILEMODE_TREE) < 0) {
				error = git_fail("cannot build a tree");
				goto done;
			}
		}
	}
	if (git_treebuilder_write(out, tb) < 0)
		error = git_fail("cannot write a tree");
done:
	git_treebuilder_free(tb);
	return error;
}

int cspf_registry_commit(char *commit_id, const char *registry_dir,
	const char *const *files, size_t n, const char *message,
	const char *author_name, const char *author_email)
{
	git_repository *repo = NULL;
	git_index *index = NULL;
	git_reference *head = NULL;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_signature *sig = NULL;
	git_oid tree_id, commit_oid, *blobs = NULL;
	const char **rel = NULL;
	char **owned = NULL;
	char root[PATH_MAX], wd[PATH_MAX];
	size_t i, wdlen;
	int error = 0;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, registry_dir, 0, NULL) < 0) {
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_OS,
			"%s is not in a git repository: --commit needs one (git init)",
			registry_dir);
		goto done;
	}
	if (git_repository_is_bare(repo) || !git_repository_workdir(repo) ||
	    !realpath(git_repository_workdir(repo), wd) ||
	    !realpath(registry_dir, root)) {
		error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_OS,
			"%s: --commit needs a work tree", registry_dir);
		goto done;
	}
	wdlen = strlen(wd);
	blobs = calloc(n ? n : 1, sizeof(*blobs));
	rel = calloc(n ? n : 1, sizeof(*rel));
	owned = calloc(n ? n : 1, sizeof(*owned));
	if (!blobs || !rel || !owned) {
		error = cspf_error_set_oom();
		goto done;
	}
	for (i = 0; i < n; i++) {
		cspf_buf p = CSPF_BUF_INIT;
		const char *sub = root + wdlen;

		/* The file's path from the top of the work tree. */
		if (strncmp(root, wd, wdlen) != 0) {
			error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_OS,
				"%s is outside the work tree %s", root, wd);
			goto done;
		}
		while (*sub == '/')
			sub++;
		if (*sub)
			cspf_buf_printf(&p, "%s/", sub);
		cspf_buf_puts(&p, files[i]);
		if (cspf_buf_oom(&p)) {
			error = cspf_error_set_oom();
			goto done;
		}
		owned[i] = cspf_buf_detach(&p);
		rel[i] = owned[i];
		{
			cspf_buf full = CSPF_BUF_INIT;

			cspf_buf_printf(&full, "%s/%s", wd, rel[i]);
			if (cspf_buf_oom(&full) ||
			    git_blob_create_from_disk(&blobs[i], repo,
					full.ptr) < 0) {
				cspf_buf_dispose(&full);
				error = git_fail("cannot store a file in git");
				goto done;
			}
			cspf_buf_dispose(&full);
		}
	}

	if (git_repository_head(&head, repo) == 0) {
		if (git_reference_peel((git_object **)&parent, head,
				GIT_OBJECT_COMMIT) < 0 ||
		    git_commit_tree(&base, parent) < 0) {
			error = git_fail("cannot read HEAD");
			goto done;
		}
	} else if (!git_repository_head_unborn(repo)) {
		error = git_fail("cannot read HEAD");
		goto done;
	}
	if ((error = tree_with(&tree_id, repo, base, rel, blobs, n)) < 0)
		goto done;
	if (git_tree_lookup(&tree, repo, &tree_id) < 0) {
		error = git_fail("cannot read the new tree");
		goto done;
	}
	if (author_name && author_email)
		error = git_signature_now(&sig, author_name, author_email);
	else if ((error = git_signature_default(&sig, repo)) < 0)
		error = git_signature_now(&sig, "cspf", "cspf@localhost");
	if (error < 0) {
		error = git_fail("cannot make the commit's author");
		goto done;
	}
	/* HEAD moves only if it is still where we read it. */
	if (git_commit_create(&commit_oid, repo, "HEAD", sig, sig, NULL,
			message, tree, parent ? 1 : 0,
			(const git_commit **)&parent) < 0) {
		error = git_fail("cannot commit");
		goto done;
	}
	git_oid_tostr(commit_id, GIT_OID_HEXSZ + 1, &commit_oid);

	/* The index follows, for these paths only: `git status` is clean. */
	if (git_repository_index(&index, repo) == 0) {
		for (i = 0; i < n; i++)
			git_index_add_bypath(index, rel[i]);
		git_index_write(index);
	}
done:
	if (owned)
		for (i = 0; i < n; i++)
			free(owned[i]);
	free(owned);
	free(rel);
	free(blobs);
	git_index_free(index);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	git_reference_free(head);
	git_repository_free(repo);
	return error;
}

/*
 * Push.
 */
struct push_status {
	char *rejected;
};

static int on_push_update(const char *refname, const char *status,
	void *data)
{
	struct push_status *ps = data;

	if (status && !ps->rejected)
		ps->rejected = strdup(status);
	return 0;
}

static int push_once(git_remote *remote, const char *refspec, bool *rejected)
{
	git_push_options po;
	struct push_status ps = { NULL };
	git_strarray specs = { (char **)&refspec, 1 };
	int error;

	*rejected = false;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks.push_update_reference = on_push_update;
	po.callbacks.payload = &ps;
	error = git_remote_push(remote, &specs, &po);
	if (error == GIT_ENONFASTFORWARD || ps.rejected) {
		*rejected = true;
		free(ps.rejected);
		return 0;
	}
	if (error < 0) {
		const git_error *e = git_error_last();

		/* Some transports say "non-fast-forward" in words only. */
		if (e && e->message && (strstr(e->message, "fast-forward") ||
		    strstr(e->message, "fastforward"))) {
			*rejected = true;
			return 0;
		}
		return git_fail("cannot push");
	}
	return 0;
}

/* Replay the commits from `upstream`..HEAD onto `onto`; HEAD follows. */
static int replay(git_repository *repo, const git_oid *onto,
	const char *branch_ref)
{
	git_revwalk *walk = NULL;
	git_oid oid, tip = *onto, *list = NULL;
	size_t n = 0, cap = 0, i;
	git_reference *ref = NULL;
	int error = 0;

	if (git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_push_head(walk) < 0 ||
	    git_revwalk_hide(walk, onto) < 0)
		return git_fail("cannot list the commits to push");
	git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	while (git_revwalk_next(&oid, walk) == 0) {
		if (n == cap) {
			git_oid *grown = realloc(list, (cap = cap ? cap * 2 : 8) *
				sizeof(*grown));

			if (!grown) {
				error = cspf_error_set_oom();
				goto done;
			}
			list = grown;
		}
		list[n++] = oid;
	}
	for (i = 0; i < n; i++) {
		git_commit *c = NULL, *base = NULL;
		git_index *idx = NULL;
		git_tree *tree = NULL;
		git_oid tree_id;

		if (git_commit_lookup(&c, repo, &list[i]) < 0 ||
		    git_commit_lookup(&base, repo, &tip) < 0 ||
		    git_cherrypick_commit(&idx, repo, c, base, 0, NULL) < 0) {
			error = git_fail("cannot replay a commit on the remote's tip");
		} else if (git_index_has_conflicts(idx)) {
			error = cspf_error_set(CSPF_ECONFLICT,
				CSPF_ERRCLASS_OS,
				"the remote changed the same lines of the registry: pull, then run cspf rotate again (nothing is lost: the vault has every rotation)");
		} else if (git_index_write_tree_to(&tree_id, idx, repo) < 0 ||
			   git_tree_lookup(&tree, repo, &tree_id) < 0 ||
			   git_commit_create(&tip, repo, NULL,
				git_commit_author(c), git_commit_committer(c),
				NULL, git_commit_message(c), tree, 1,
				(const git_commit **)&base) < 0) {
			error = git_fail("cannot replay a commit on the remote's tip");
		}
		git_tree_free(tree);
		git_index_free(idx);
		git_commit_free(base);
		git_commit_free(c);
		if (error < 0)
			goto done;
	}
	/* The branch moves to the replayed tip; the work tree follows. */
	{
		git_object *obj = NULL;
		git_checkout_options co;

		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy = GIT_CHECKOUT_SAFE;
		if (git_object_lookup(&obj, repo, &tip, GIT_OBJECT_COMMIT) < 0 ||
		    git_checkout_tree(repo, obj, &co) < 0 ||
		    git_reference_create(&ref, repo, branch_ref, &tip, 1,
			"cspf rotate: replayed on the remote's tip") < 0)
			error = git_fail("cannot move the branch to the replayed commits");
		git_object_free(obj);
	}
done:
	git_reference_free(ref);
	free(list);
	git_revwalk_free(walk);
	return error;
}

int cspf_registry_push(const char *registry_dir, const char *remote_name)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_reference *head = NULL, *tracking = NULL;
	char refspec[1024], fetchspec[1024], remote_ref[1024];
	const char *branch;
	int attempt, error = 0;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, registry_dir, 0, NULL) < 0)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_OS,
			"%s is not in a git repository", registry_dir);
	if (git_repository_head(&head, repo) < 0 ||
	    !git_reference_is_branch(head)) {
		error = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_OS,
			"--push needs a branch checked out (HEAD is detached)");
		goto done;
	}
	branch = git_reference_shorthand(head);
	if (git_remote_lookup(&remote, repo, remote_name) < 0) {
		error = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_OS,
			"no remote called %s (git remote -v lists them)",
			remote_name);
		goto done;
	}
	snprintf(refspec, sizeof(refspec), "refs/heads/%s:refs/heads/%s",
		branch, branch);
	snprintf(fetchspec, sizeof(fetchspec),
		"refs/heads/%s:refs/remotes/%s/%s", branch, remote_name, branch);
	snprintf(remote_ref, sizeof(remote_ref), "refs/remotes/%s/%s",
		remote_name, branch);
	for (attempt = 0; attempt < 5; attempt++) {
		const char *fs = fetchspec;
		git_strarray specs = { (char **)&fs, 1 };
		bool rejected;

		if ((error = push_once(remote, refspec, &rejected)) < 0 ||
		    !rejected)
			goto done;
		/* The remote moved: fetch it and replay ours on top. */
		if (git_remote_fetch(remote, &specs, NULL, NULL) < 0) {
			error = git_fail("cannot fetch the remote after it refused the push");
			goto done;
		}
		git_reference_free(tracking);
		tracking = NULL;
		if (git_reference_lookup(&tracking, repo, remote_ref) < 0) {
			error = git_fail("cannot read the fetched branch");
			goto done;
		}
		if ((error = replay(repo, git_reference_target(tracking),
				git_reference_name(head))) < 0)
			goto done;
	}
	error = cspf_error_set(CSPF_ECONFLICT, CSPF_ERRCLASS_OS,
		"the remote kept moving: pushed nothing after 5 tries; run cspf rotate again");
done:
	git_reference_free(tracking);
	git_reference_free(head);
	git_remote_free(remote);
	git_repository_free(repo);
	return error;
}
