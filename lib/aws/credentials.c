/*
 * AWS credentials: the object (reference counted, secrets guarded, able
 * to renew itself when it came from STS) and the chain that finds them
 * the way the AWS CLI does.  The shared files are read into guarded
 * memory and parsed there, so a secret key in ~/.aws/credentials is never
 * copied into the plain heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/banned.h"

int cspf_aws_credentials_new(cspf_aws_credentials **out,
	const char *access_key_id, const cspf_secret *secret_key,
	const cspf_secret *session_token, int64_t expiration,
	const char *source)
{
	cspf_aws_credentials *c;

	*out = NULL;
	if (!access_key_id || !*access_key_id || !secret_key)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: credentials need an access key id and a secret "
			"access key");
	c = calloc(1, sizeof(*c));
	if (!c)
		return cspf_error_set_oom();
	c->refs = 1;
	c->expiration = expiration;
	c->access_key_id = strdup(access_key_id);
	c->source = strdup(source ? source : "given");
	if (!c->access_key_id || !c->source ||
		cspf_secret_dup(&c->secret_key, secret_key) < 0 ||
		(session_token &&
			cspf_secret_dup(&c->session_token, session_token) < 0)) {
		cspf_aws_credentials_free(c);
		return cspf_error_set_oom();
	}
	*out = c;
	return 0;
}

const char *cspf_aws_credentials_access_key_id(const cspf_aws_credentials *c)
{
	return c->access_key_id;
}

const cspf_secret *cspf_aws_credentials_secret_key(
	const cspf_aws_credentials *c)
{
	return c->secret_key;
}

const cspf_secret *cspf_aws_credentials_session_token(
	const cspf_aws_credentials *c)
{
	return c->session_token;
}

int64_t cspf_aws_credentials_expiration(const cspf_aws_credentials *c)
{
	return c->expiration;
}

const char *cspf_aws_credentials_source(const cspf_aws_credentials *c)
{
	return c->source;
}

cspf_aws_credentials *cspf_aws_credentials_ref(cspf_aws_credentials *c)
{
	if (c)
		c->refs++;
	return c;
}

void cspf_aws_credentials_free(cspf_aws_credentials *c)
{
	if (!c || --c->refs > 0)
		return;
	free(c->access_key_id);
	cspf_secret_free(c->secret_key);
	cspf_secret_free(c->session_token);
	free(c->source);
	if (c->refresh_free)
		c->refresh_free(c->refresh_state);
	free(c);
}

void cspf_aws_credentials_replace(cspf_aws_credentials *c,
	cspf_aws_credentials *from)
{
	char *t;
	cspf_secret *s;

	t = c->access_key_id;
	c->access_key_id = from->access_key_id;
	from->access_key_id = t;
	s = c->secret_key;
	c->secret_key = from->secret_key;
	from->secret_key = s;
	s = c->session_token;
	c->session_token = from->session_token;
	from->session_token = s;
	c->expiration = from->expiration;
	cspf_aws_credentials_free(from);
}

int cspf_aws_credentials_refresh(cspf_aws_credentials *c)
{
	if (!c->refresh || !c->expiration ||
		c->expiration - (int64_t)time(NULL) > 300)
		return 0;
	return c->refresh(c, c->refresh_state);
}

int64_t cspf_aws_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
		&sec, &n) != 6)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm);
}

/* The shared files. */

struct profile {
	bool found;
	char *file_found; /* where the section was (for messages) */
	char *aws_access_key_id;
	cspf_secret *aws_secret_access_key;
	cspf_secret *aws_session_token;
	char *role_arn;
	char *source_profile;
	char *credential_source;
	char *web_identity_token_file;
	char *role_session_name;
	char *external_id;
	char *duration_seconds;
	char *region;
	char *mfa_serial;
	char *credential_process;
	char *sso_start_url;
	char *sso_session;
};

static void profile_dispose(struct profile *p)
{
	free(p->file_found);
	free(p->aws_access_key_id);
	cspf_secret_free(p->aws_secret_access_key);
	cspf_secret_free(p->aws_session_token);
	free(p->role_arn);
	free(p->source_profile);
	free(p->credential_source);
	free(p->web_identity_token_file);
	free(p->role_session_name);
	free(p->external_id);
	free(p->duration_seconds);
	free(p->region);
	free(p->mfa_serial);
	free(p->credential_process);
	free(p->sso_start_url);
	free(p->sso_session);
	memset(p, 0, sizeof(*p));
}

static char *home_path(const char *rel)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char buf[4096];
	cspf_buf b = CSPF_BUF_INIT;

	if ((!home || !*home) &&
		getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
		home = pw.pw_dir;
	if (!home)
		home = "";
	cspf_buf_printf(&b, "%s/%s", home, rel);
	return cspf_buf_detach(&b);
}

/* ~/ expanded, malloc'd. */
static char *expand(const char *path)
{
	if (path[0] == '~' && path[1] == '/')
		return home_path(path + 2);
	return strdup(path);
}

static char *file_path(const char *env, const char *rel)
{
	const char *v = getenv(env);

	if (v && *v)
		return expand(v);
	return home_path(rel);
}

/* Read a file into guarded memory; CSPF_ENOTFOUND when absent. */
static int read_guarded(cspf_sbuf *b, const char *path)
{
	char tmp[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? CSPF_ENOTFOUND :
			cspf_error_set_os("aws: cannot read %s", path);
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			sodium_memzero(tmp, sizeof(tmp));
			return cspf_error_set_os("aws: cannot read %s", path);
		}
		cspf_sbuf_put(b, tmp, (size_t)n);
		if (b->size > CSPF_SECRET_MAX) {
			close(fd);
			sodium_memzero(tmp, sizeof(tmp));
			return cspf_error_set(CSPF_ETOOBIG,
				CSPF_ERRCLASS_INVALID, "aws: %s is too large",
				path);
		}
	}
	close(fd);
	sodium_memzero(tmp, sizeof(tmp));
	return b->oom ? cspf_error_set_oom() : 0;
}

static void set_str(char **dst, const char *v, size_t n)
{
	char *s = strndup(v, n);

	if (s) {
		free(*dst);
		*dst = s;
	}
}

static void set_secret(cspf_secret **dst, const char *v, size_t n)
{
	cspf_secret *s;

	if (cspf_secret_new(&s, v, n) == 0) {
		cspf_secret_free(*dst);
		*dst = s;
	}
}

static void assign(struct profile *p, const char *k, size_t kn,
	const char *v, size_t vn)
{
#define KEY(name) (kn == sizeof(#name) - 1 && !memcmp(k, #name, kn))
#define STR(name) else if (KEY(name)) set_str(&p->name, v, vn)
	if (KEY(aws_secret_access_key))
		set_secret(&p->aws_secret_access_key, v, vn);
	else if (KEY(aws_session_token))
		set_secret(&p->aws_session_token, v, vn);
	STR(aws_access_key_id);
	STR(role_arn);
	STR(source_profile);
	STR(credential_source);
	STR(web_identity_token_file);
	STR(role_session_name);
	STR(external_id);
	STR(duration_seconds);
	STR(region);
	STR(mfa_serial);
	STR(credential_process);
	STR(sso_start_url);
	STR(sso_session);
#undef STR
#undef KEY
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Read section `section` (and, for the config file, "profile NAME")
 * of an INI file in `data` into `p`.  Indented lines (nested settings
 * such as "s3 =") are skipped.
 */
static bool ini_section(struct profile *p, const char *data, size_t len,
	const char *name, bool config)
{
	size_t i = 0, nl = strlen(name);
	bool in = false, found = false;

	while (i < len) {
		const char *line = data + i, *eol = memchr(line, '\n', len - i);
		size_t n = eol ? (size_t)(eol - line) : len - i, a, b, eq;

		i += n + 1;
		if (!n || line[0] == '#' || line[0] == ';')
			continue;
		if (is_ws(line[0]))
			continue; /* nested or blank */
		while (n && is_ws(line[n - 1]))
			n--;
		if (line[0] == '[') {
			const char *s = line + 1;
			size_t sn;

			if (!n || line[n - 1] != ']') {
				in = false;
				continue;
			}
			sn = n - 2;
			while (sn && is_ws(*s)) {
				s++;
				sn--;
			}
			while (sn && is_ws(s[sn - 1]))
				sn--;
			in = false;
			if (config && sn > 8 && !memcmp(s, "profile", 7) &&
				is_ws(s[7])) {
				s += 8;
				sn -= 8;
				while (sn && is_ws(*s)) {
					s++;
					sn--;
				}
				in = sn == nl && !memcmp(s, name, nl);
			} else if (!config || !strcmp(name, "default")) {
				in = sn == nl && !memcmp(s, name, nl);
			}
			found |= in;
			continue;
		}
		if (!in)
			continue;
		for (eq = 0; eq < n && line[eq] != '=' && line[eq] != ':'; eq++)
			;
		if (eq == n)
			continue;
		a = eq;
		while (a && is_ws(line[a - 1]))
			a--;
		b = eq + 1;
		while (b < n && is_ws(line[b]))
			b++;
		assign(p, line, a, line + b, n - b);
	}
	return found;
}

struct files {
	char *creds_path, *config_path;
	cspf_sbuf creds, config;
	bool have_creds, have_config;
};

static int files_load(struct files *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->creds_path = file_path("AWS_SHARED_CREDENTIALS_FILE",
		".aws/credentials");
	f->config_path = file_path("AWS_CONFIG_FILE", ".aws/config");
	if (!f->creds_path || !f->config_path)
		return cspf_error_set_oom();
	rc = read_guarded(&f->creds, f->creds_path);
	if (rc < 0 && rc != CSPF_ENOTFOUND)
		return rc;
	f->have_creds = rc == 0;
	rc = read_guarded(&f->config, f->config_path);
	if (rc < 0 && rc != CSPF_ENOTFOUND)
		return rc;
	f->have_config = rc == 0;
	return 0;
}

static void files_dispose(struct files *f)
{
	free(f->creds_path);
	free(f->config_path);
	cspf_sbuf_dispose(&f->creds);
	cspf_sbuf_dispose(&f->config);
}

static void profile_load(struct profile *p, const struct files *f,
	const char *name)
{
	memset(p, 0, sizeof(*p));
	/* config first, then credentials: the credentials file wins */
	if (f->have_config && ini_section(p, (const char *)f->config.ptr,
		f->config.size, name, true)) {
		p->found = true;
		p->file_found = strdup(f->config_path);
	}
	if (f->have_creds && ini_section(p, (const char *)f->creds.ptr,
		f->creds.size, name, false)) {
		p->found = true;
		free(p->file_found);
		p->file_found = strdup(f->creds_path);
	}
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int from_env(cspf_aws_credentials **out)
{
	const char *id = env("AWS_ACCESS_KEY_ID");
	cspf_secret *key = NULL, *token = NULL;
	int rc;

	*out = NULL;
	if (!id && !env("AWS_SECRET_ACCESS_KEY"))
		return CSPF_ENOTFOUND;
	if (!id || cspf_secret_from_env(&key, "AWS_SECRET_ACCESS_KEY") < 0)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: %s is set but %s is not",
			id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
			id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (env("AWS_SESSION_TOKEN"))
		cspf_secret_from_env(&token, "AWS_SESSION_TOKEN");
	rc = cspf_aws_credentials_new(out, id, key, token, 0, "environment");
	cspf_secret_free(key);
	cspf_secret_free(token);
	return rc;
}

static char *session_name(const char *given)
{
	cspf_buf b = CSPF_BUF_INIT;

	if (given)
		return strdup(given);
	cspf_buf_printf(&b, "cspf-%lld", (long long)time(NULL));
	return cspf_buf_detach(&b);
}

static char *region_of(const struct profile *p)
{
	const char *r = env("AWS_REGION");

	if (!r)
		r = env("AWS_DEFAULT_REGION");
	if (!r && p)
		r = p->region;
	return r ? strdup(r) : NULL;
}

static int web_identity(cspf_aws_credentials **out, cspf_http_client *client,
	const char *token_file, const char *role_arn, const char *name,
	const char *region)
{
	cspf_aws_assume_role_options o = CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT;
	char *path = expand(token_file), *sn = session_name(name);
	int rc;

	if (!path || !sn) {
		free(path);
		free(sn);
		return cspf_error_set_oom();
	}
	o.role_arn = role_arn;
	o.session_name = sn;
	o.region = region;
	rc = cspf_aws_assume_role_with_web_identity(out, client, path, &o);
	free(path);
	free(sn);
	return rc;
}

static int resolve_profile(cspf_aws_credentials **out,
	cspf_http_client *client, const struct files *f, const char *name,
	const char *region, int depth);

static int assume_from_profile(cspf_aws_credentials **out,
	cspf_http_client *client, const struct files *f, const char *name,
	const struct profile *p, const char *region, int depth)
{
	cspf_aws_assume_role_options o = CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT;
	cspf_aws_credentials *base = NULL;
	char *sn = NULL;
	int rc;

	if (p->mfa_serial)
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"aws: profile %s needs an MFA code (mfa_serial), which "
			"cspf cannot ask for: use a profile without it", name);
	if (p->source_profile) {
		if (!strcmp(p->source_profile, name)) {
			if (!p->aws_access_key_id || !p->aws_secret_access_key)
				return cspf_error_set(CSPF_EINVALID,
					CSPF_ERRCLASS_INVALID,
					"aws: profile %s is its own "
					"source_profile but has no keys", name);
			rc = cspf_aws_credentials_new(&base,
				p->aws_access_key_id, p->aws_secret_access_key,
				p->aws_session_token, 0, name);
		} else {
			rc = resolve_profile(&base, client, f,
				p->source_profile, region, depth + 1);
		}
	} else if (p->credential_source) {
		if (strcmp(p->credential_source, "Environment"))
			return cspf_error_set(CSPF_EUNSUPPORTED,
				CSPF_ERRCLASS_INVALID,
				"aws: profile %s: credential_source %s is not "
				"supported (only Environment)", name,
				p->credential_source);
		rc = from_env(&base);
		if (rc == CSPF_ENOTFOUND)
			rc = cspf_error_set(CSPF_ENOTFOUND,
				CSPF_ERRCLASS_INVALID,
				"aws: profile %s takes its credentials from the "
				"environment, and AWS_ACCESS_KEY_ID is not set",
				name);
	} else {
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: profile %s has role_arn but neither "
			"source_profile nor credential_source", name);
	}
	if (rc < 0)
		return rc;
	sn = session_name(p->role_session_name);
	o.role_arn = p->role_arn;
	o.session_name = sn;
	o.external_id = p->external_id;
	o.duration_s = p->duration_seconds ?
		(unsigned int)strtoul(p->duration_seconds, NULL, 10) : 0;
	o.region = region;
	rc = cspf_aws_assume_role(out, client, base, &o);
	cspf_aws_credentials_free(base);
	free(sn);
	return rc;
}

static int resolve_profile(cspf_aws_credentials **out,
	cspf_http_client *client, const struct files *f, const char *name,
	const char *region, int depth)
{
	struct profile p;
	cspf_buf src = CSPF_BUF_INIT;
	int rc;

	*out = NULL;
	if (depth > 8)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: source_profile chain through %s is too long or "
			"loops", name);
	profile_load(&p, f, name);
	if (!p.found) {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"aws: profile %s is in neither %s nor %s", name,
			f->creds_path, f->config_path);
		goto out;
	}
	if (p.role_arn && p.web_identity_token_file) {
		rc = web_identity(out, client, p.web_identity_token_file,
			p.role_arn, p.role_session_name, region);
	} else if (p.role_arn) {
		rc = assume_from_profile(out, client, f, name, &p, region,
			depth);
	} else if (p.aws_access_key_id && p.aws_secret_access_key) {
		cspf_buf_printf(&src, "profile %s in %s", name, p.file_found);
		rc = cspf_aws_credentials_new(out, p.aws_access_key_id,
			p.aws_secret_access_key, p.aws_session_token, 0,
			src.ptr);
	} else if (p.aws_access_key_id || p.aws_secret_access_key) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"aws: profile %s in %s has %s but not %s", name,
			p.file_found, p.aws_access_key_id ?
			"aws_access_key_id" : "aws_secret_access_key",
			p.aws_access_key_id ? "aws_secret_access_key" :
			"aws_access_key_id");
	} else if (p.credential_process || p.sso_start_url || p.sso_session) {
		rc = cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"aws: profile %s uses %s, which cspf does not support: "
			"give it keys or a role", name, p.credential_process ?
			"credential_process" : "IAM Identity Center (SSO)");
	} else {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"aws: profile %s in %s has no credentials", name,
			p.file_found);
	}
out:
	cspf_buf_dispose(&src);
	profile_dispose(&p);
	return rc;
}

int cspf_aws_credentials_resolve(cspf_aws_credentials **out,
	cspf_http_client *client, const char *profile)
{
	struct files f;
	struct profile p;
	const char *name = profile ? profile : env("AWS_PROFILE");
	bool named = name != NULL;
	cspf_buf tried = CSPF_BUF_INIT;
	char *region = NULL;
	int rc;

	*out = NULL;
	if (!name)
		name = "default";
	/* 1. the environment, unless a profile was asked for by name */
	if (!profile) {
		rc = from_env(out);
		if (rc != CSPF_ENOTFOUND)
			return rc;
		cspf_buf_puts(&tried, "the environment (AWS_ACCESS_KEY_ID "
			"unset)");
	}
	if ((rc = files_load(&f)) < 0) {
		files_dispose(&f);
		cspf_buf_dispose(&tried);
		return rc;
	}
	profile_load(&p, &f, name);
	region = region_of(&p);
	/* 2. a profile with a role to assume from another profile */
	if (p.found && p.role_arn && !p.web_identity_token_file) {
		rc = resolve_profile(out, client, &f, name, region, 0);
		goto out;
	}
	/* 3. web identity: the environment, then the profile */
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE") && env("AWS_ROLE_ARN")) {
		rc = web_identity(out, client,
			env("AWS_WEB_IDENTITY_TOKEN_FILE"), env("AWS_ROLE_ARN"),
			env("AWS_ROLE_SESSION_NAME"), region);
		goto out;
	}
	cspf_buf_printf(&tried, "%sweb identity (AWS_WEB_IDENTITY_TOKEN_FILE "
		"and AWS_ROLE_ARN unset)", tried.size ? ", " : "");
	/* 4. the profile's own keys (or its web identity) */
	if (p.found) {
		rc = resolve_profile(out, client, &f, name, region, 0);
		goto out;
	}
	if (named) {
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"aws: profile %s is in neither %s nor %s", name,
			f.creds_path, f.config_path);
		goto out;
	}
	rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
		"aws: no credentials found: tried %s, and profile %s in %s "
		"and %s (not there)", tried.ptr, name, f.creds_path,
		f.config_path);
out:
	free(region);
	profile_dispose(&p);
	files_dispose(&f);
	cspf_buf_dispose(&tried);
	return rc;
}

int cspf_aws_region_resolve(char **out, const char *profile)
{
	struct files f;
	struct profile p;
	const char *name = profile ? profile : env("AWS_PROFILE");
	int rc;

	*out = NULL;
	if ((*out = region_of(NULL)))
		return 0;
	if ((rc = files_load(&f)) < 0) {
		files_dispose(&f);
		return rc;
	}
	profile_load(&p, &f, name ? name : "default");
	if (p.region)
		*out = strdup(p.region);
	else
		rc = cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"aws: no region: set AWS_REGION or a region in profile "
			"%s of %s", name ? name : "default", f.config_path);
	profile_dispose(&p);
	files_dispose(&f);
	return rc;
}
