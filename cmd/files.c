#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(file_list *l, char *path)
{
	if (l->count == l->alloc) {
		size_t n = l->alloc ? l->alloc * 2 : 256;
		char **p = realloc(l->paths, n * sizeof(*p));
		if (!p) {
			free(path);
			return -1;
		}
		l->paths = p;
		l->alloc = n;
	}
	l->paths[l->count++] = path;
	return 0;
}

struct entry {
	char *name;
	unsigned char type;
};

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
		((const struct entry *)b)->name);
}

static int has_json_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	int slash = a && dir[a - 1] != '/';
	char *p = malloc(a + slash + b + 1);

	if (!p)
		return NULL;
	memcpy(p, dir, a);
	if (slash)
		p[a] = '/';
	memcpy(p + a + slash, name, b + 1);
	return p;
}

static int walk(file_list *l, const char *dir, unsigned depth)
{
	DIR *d;
	struct dirent *e;
	struct entry *names = NULL;
	size_t n = 0, alloc = 0, i;
	int r = 0;

	if (depth > 64) {
		fprintf(stderr, "%s: error: directories nested more than 64 "
			"deep; skipped\n", dir);
		l->errors++;
		return 0;
	}
	if (!(d = opendir(dir))) {
		fprintf(stderr, "%s: error: cannot open directory: %s\n", dir,
			strerror(errno));
		l->errors++;
		return 0;
	}
	/*
	 * The type from readdir saves an lstat per entry (100,000 of them in
	 * a large registry); only DT_UNKNOWN and links need a look.
	 */
	while ((e = readdir(d))) {
		char *p;
		if (e->d_name[0] == '.')
			continue; /* ., .., .git and hidden files */
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN &&
		    e->d_type != DT_LNK && !has_json_suffix(e->d_name))
			continue;
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 64;
			struct entry *q = realloc(names, na * sizeof(*q));
			if (!q) {
				r = -1;
				break;
			}
			names = q;
			alloc = na;
		}
		if (!(p = strdup(e->d_name))) {
			r = -1;
			break;
		}
		names[n].name = p;
		names[n++].type = e->d_type;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_entries);
	for (i = 0; i < n; i++) {
		char *path = r == 0 ? join(dir, names[i].name) : NULL;
		unsigned char type = names[i].type;
		struct stat st;

		free(names[i].name);
		if (!path) {
			r = -1;
			continue;
		}
		if (type == DT_UNKNOWN || type == DT_LNK) {
			if (lstat(path, &st) < 0) {
				fprintf(stderr, "%s: error: %s\n", path,
					strerror(errno));
				l->errors++;
				free(path);
				continue;
			}
			type = S_ISDIR(st.st_mode) ? DT_DIR :
				S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
		}
		if (type == DT_DIR) {
			r = walk(l, path, depth + 1);
			free(path);
		} else if (has_json_suffix(path)) {
			/* a link to a directory is not followed */
			if (type == DT_LNK && stat(path, &st) == 0 &&
			    S_ISDIR(st.st_mode)) {
				free(path);
				continue;
			}
			r = push(l, path);
		} else {
			free(path);
		}
	}
	free(names);
	return r;
}

int file_list_add(file_list *l, const char *operand)
{
	struct stat st;
	char *p;

	if (strcmp(operand, "-") != 0 && stat(operand, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return walk(l, operand, 0);
	/* Files, and what does not exist: reading reports the problem. */
	if (!(p = strdup(operand)))
		return -1;
	return push(l, p);
}

void file_list_free(file_list *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		free(l->paths[i]);
	free(l->paths);
	memset(l, 0, sizeof(*l));
}
