/*
 * cspf_secrets_scan(): walk a document, hand every string to the
 * detectors (detect.c), and turn what they report into findings.
 *
 * The walk keeps a stack of the members and elements it is in, and
 * builds nothing for a string that matches nothing: the JSON pointer, the
 * position and the message of a finding are made only once there is one.
 *
 * A secret is never copied.  Its fingerprint is hashed from the document
 * in place (the hash state is wiped), the message shows at most four of
 * its characters, and when a member name is a secret the pointers of the
 * findings at and under it stop short of it.  The position of such a
 * finding comes from counting members in the source text (locate()), so
 * that no pointer spelling the secret is ever written down, not even for
 * cspf_json_position(), which would quote it in an error.
 */
#include "cspf/secrets.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "secrets/secrets_private.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* cJSON's own tests are calls into the library; these are on the hot path. */
#define IS_OBJECT(x) (((x)->type & 0xFF) == cJSON_Object)
#define IS_ARRAY(x) (((x)->type & 0xFF) == cJSON_Array)
#define IS_STRING(x) (((x)->type & 0xFF) == cJSON_String)

/* clang-format off */
static const cspf_secrets_rule rules[SECRETS_NRULES] = {
	[SECRETS_AWS_ACCESS_KEY_ID] = { "secret/aws-access-key-id",
		"AWS access key ID",
		"An AWS access key ID (AKIA..., ASIA...) outside the fields "
		"that hold identifiers." },
	[SECRETS_AWS_SECRET_ACCESS_KEY] = { "secret/aws-secret-access-key",
		"AWS secret access key",
		"40 base64 characters in a member named for a key or secret, "
		"beside an access key ID, or random." },
	[SECRETS_PRIVATE_KEY] = { "secret/private-key",
		"Private key",
		"A PEM private key (-----BEGIN ... PRIVATE KEY-----): RSA, EC, "
		"DSA, OpenSSH, PKCS #8, encrypted or not, PGP." },
	[SECRETS_GCP_SERVICE_ACCOUNT_KEY] = {
		"secret/gcp-service-account-key",
		"GCP service account key",
		"The private_key of a Google Cloud service account key file." },
	[SECRETS_GITHUB_TOKEN] = { "secret/github-token",
		"GitHub token",
		"A GitHub token: ghp_, gho_, ghu_, ghs_, ghr_, github_pat_." },
	[SECRETS_SLACK_TOKEN] = { "secret/slack-token",
		"Slack token",
		"A Slack token: xoxb-, xoxp-, xoxa-, xoxr-, xapp-." },
	[SECRETS_SLACK_WEBHOOK] = { "secret/slack-webhook",
		"Slack webhook URL",
		"A Slack incoming webhook or workflow URL "
		"(hooks.slack.com/services/...)." },
	[SECRETS_AZURE_STORAGE_KEY] = { "secret/azure-storage-key",
		"Azure storage account key",
		"AccountKey= or SharedAccessKey= in an Azure connection "
		"string." },
	[SECRETS_AZURE_SAS_TOKEN] = { "secret/azure-sas-token",
		"Azure shared access signature",
		"The sig= of an Azure shared access signature." },
	[SECRETS_AZURE_CLIENT_SECRET] = { "secret/azure-client-secret",
		"Azure client secret",
		"An Azure AD client secret: the \"Q~\" format anywhere, older "
		"ones in a member named client_secret." },
	[SECRETS_JWT] = { "secret/jwt",
		"JSON Web Token",
		"A signed JWT: three base64url parts, the header JSON with "
		"\"alg\"." },
	[SECRETS_URL_PASSWORD] = { "secret/url-password",
		"Password in a URL",
		"A URL with a password: scheme://user:password@host." },
	[SECRETS_CONNECTION_STRING_PASSWORD] = {
		"secret/connection-string-password",
		"Password in a connection string",
		"Password=, Pwd=, DB_PASSWORD= in a connection string, query "
		"string or environment file." },
	[SECRETS_OTP_SEED] = { "secret/otp-seed",
		"One-time password seed",
		"The secret= of an otpauth:// URI: the seed of a second "
		"factor." },
	[SECRETS_PASSWORD_FIELD] = { "secret/password",
		"Password",
		"A password-like value in a member named password, passwd, "
		"pwd or passphrase." },
	[SECRETS_SECRET_FIELD] = { "secret/secret-field",
		"Secret-named field",
		"A token-like value in a member named secret, token, api_key, "
		"private_key and the like." },
	[SECRETS_HIGH_ENTROPY] = { "secret/high-entropy",
		"High-entropy string",
		"A random-looking token of 20 characters or more outside the "
		"fields that hold identifiers." },
	[SECRETS_TEXT_PASSWORD] = { "secret/password-in-text",
		"Password in text",
		"A password written into prose: \"password: Tr0ub4dor&3\", "
		"\"the passphrase is ...\" - a word of 8 characters or more "
		"mixing upper case, lower case, digits and symbols." },
};
/* clang-format on */

const cspf_secrets_rule *cspf_secrets_rules(size_t *count)
{
	if (count)
		*count = SECRETS_NRULES;
	return rules;
}

/* ------------------------------------------------------------------ */
/* Fingerprints                                                       */

#define FP_BYTES (CSPF_SECRETS_FINGERPRINT_HEXLEN / 2)

static void fingerprint(char out[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1],
	const char *rule, const char *secret, size_t len)
{
	crypto_generichash_state st;
	unsigned char h[FP_BYTES];

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(
		&st, (const unsigned char *)rule, strlen(rule) + 1);
	crypto_generichash_update(&st, (const unsigned char *)secret, len);
	crypto_generichash_final(&st, h, sizeof(h));
	/* The state buffers the last block of the secret. */
	sodium_memzero(&st, sizeof(st));
	sodium_bin2hex(out, CSPF_SECRETS_FINGERPRINT_HEXLEN + 1, h, sizeof(h));
}

int cspf_secrets_fingerprint(char out[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1],
	const char *rule, const char *secret, size_t len)
{
	if (!out || !rule || (!secret && len))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_secrets_fingerprint: NULL argument");
	if (cspf_secrets_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"libsodium could not be initialised");
	fingerprint(out, rule, secret ? secret : "", len);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The walk                                                           */

struct frame {
	const cJSON *item;
	size_t index;	 /* among its siblings */
	int secret_name; /* its member name is a secret */
};

/*
 * Findings per document.  Each costs a pass over the text for its
 * position, and one is enough to refuse the document: a crafted one with
 * thousands of secrets must not hold a pre-receive hook for minutes.
 */
#define MAX_FINDINGS CSPF_SECRETS_MAX_FINDINGS

struct walk {
	const cspf_json_doc *doc;
	const cspf_secrets_options *opts;
	double threshold;
	cspf_diags found;
	int full;	      /* MAX_FINDINGS reached: the walk stops */
	struct frame *frames; /* frames[0] is the root */
	size_t depth;	      /* of the current item */
	size_t alloc;
	cspf_secrets_str str; /* the string being scanned */
	struct frame small[32];
};

/* Does the encoded pointer token tok[0, end) name this member or element? */
static bool segment_is(
	const struct walk *w, size_t k, const char *tok, const char *end)
{
	const cJSON *parent = w->frames[k - 1].item;
	const char *s;
	size_t v = 0;

	if (end - tok == 1 && *tok == '*')
		return true;
	if (IS_OBJECT(parent)) {
		s = w->frames[k].item->string;
		while (tok < end) {
			char c = *tok++;

			if (c == '~')
				c = *tok++ == '0' ? '~' : '/';
			if (*s++ != c)
				return false;
		}
		return *s == '\0';
	}
	if (tok == end || end - tok > 19 || (*tok == '0' && end - tok > 1))
		return false;
	for (; tok < end; tok++) {
		if (*tok < '0' || *tok > '9')
			return false;
		v = v * 10 + (size_t)(*tok - '0');
	}
	return v == w->frames[k].index;
}

/* Does the pattern (checked by check_options()) match the current item? */
static bool pattern_matches(const struct walk *w, const char *p)
{
	size_t k = 1;

	while (*p == '/') {
		const char *tok = ++p;

		while (*p && *p != '/')
			p++;
		if (k > w->depth || !segment_is(w, k, tok, p))
			return false;
		k++;
	}
	return k == w->depth + 1;
}

static int on_is_identifier(void *payload)
{
	const struct walk *w = payload;
	size_t i;

	for (i = 0; i < w->opts->nidentifier; i++)
		if (pattern_matches(w, w->opts->identifier_pointers[i]))
			return 1;
	return 0;
}

/* Append the pointer of frames[1, upto] to b. */
static void write_pointer(cspf_buf *b, const struct walk *w, size_t upto)
{
	size_t k;

	for (k = 1; k <= upto; k++) {
		const struct frame *f = &w->frames[k];

		if (IS_OBJECT(w->frames[k - 1].item))
			cspf_buf_put_pointer_token(
				b, f->item->string, strlen(f->item->string));
		else
			cspf_buf_printf(b, "/%zu", f->index);
	}
}

/* Skippers over the source text, which the parser has checked. */
static const char *skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *skip_string(const char *p, const char *e)
{
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return e;
}

static const char *skip_value(const char *p, const char *e)
{
	size_t depth = 0;

	if (p >= e)
		return e;
	if (*p == '"')
		return skip_string(p, e);
	if (*p != '{' && *p != '[') {
		while (p < e && *p != ',' && *p != ']' && *p != '}' &&
			*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			p++;
		return p;
	}
	while (p < e) {
		if (*p == '"') {
			p = skip_string(p, e);
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
		p++;
	}
	return e;
}

/* Past ws, the expected punctuation c, and ws again. */
static const char *skip_punct(const char *p, const char *e, char c)
{
	p = skip_ws(p, e);
	if (p < e && *p == c)
		p++;
	return skip_ws(p, e);
}

/*
 * The line and column of the current item (its member name when `key`),
 * found by counting members and elements in the source text: the path
 * is followed by position, never by name.
 */
static void locate(const struct walk *w, bool key, unsigned int *line,
	unsigned int *column)
{
	size_t len, k, j;
	const char *text = cspf_json_doc_text(w->doc, &len);
	const char *e = text + len, *p = text, *keyp = NULL;

	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
		p += 3;
	p = skip_ws(p, e);
	for (k = 1; k <= w->depth && p < e; k++) {
		bool object = *p == '{';

		p = skip_ws(p + 1, e);
		for (j = 0; j < w->frames[k].index && p < e; j++) {
			if (object)
				p = skip_punct(skip_string(p, e), e, ':');
			p = skip_punct(skip_value(p, e), e, ',');
		}
		keyp = NULL;
		if (object) {
			keyp = p;
			p = skip_punct(skip_string(p, e), e, ':');
		}
	}
	if (key && keyp)
		p = keyp;
	cspf_json_offset_position(
		line, column, text, len, (size_t)((p < e ? p : e) - text));
}

/*
 * At most the first four characters of the secret, fewer for a short
 * one (a quarter of it), printable ASCII only.
 */
static void redact(char out[5], const char *s, size_t len)
{
	size_t show = len / 4 < 4 ? len / 4 : 4, i;

	for (i = 0; i < show && s[i] > ' ' && s[i] < 0x7f; i++)
		out[i] = s[i];
	out[i] = '\0';
}

static const char *advice(int rule)
{
	if (rule == SECRETS_AWS_ACCESS_KEY_ID)
		return "outside an identifier field must not be in the "
		       "registry: record it only in the credential's identity, "
		       "and keep its secret key in a vault (CSPF 3.2)";
	return "must not be in the registry: store it in a vault and "
	       "reference it (CSPF 3.2)";
}

static int add_finding(struct walk *w, int rule, const char *kind,
	const char *secret, size_t len, const char *fp)
{
	const cspf_secrets_str *st = &w->str;
	cspf_buf ptr = CSPF_BUF_INIT, msg = CSPF_BUF_INIT;
	unsigned int line = 0, column = 0;
	char shown[5], *fpcopy;
	cspf_diag *d = NULL;
	size_t safe;

	/* The pointer as far as it goes without a secret member name. */
	for (safe = 1; safe <= w->depth && !w->frames[safe].secret_name; safe++)
		;
	write_pointer(&ptr, w, safe - 1);
	redact(shown, secret, len);
	cspf_buf_printf(&msg, "%s (%s\xE2\x80\xA6)%s %s; fingerprint %s", kind,
		shown, st->in_key ? " in a member name" : "", advice(rule), fp);
	sodium_memzero(shown, sizeof(shown));
	fpcopy = strdup(fp);
	if (!cspf_buf_oom(&ptr) && !cspf_buf_oom(&msg) && fpcopy)
		d = cspf_diags_add(&w->found, CSPF_SEVERITY_ERROR,
			rules[rule].id, cspf_json_doc_name(w->doc), ptr.ptr,
			NULL, NULL, msg.ptr);
	if (!d) {
		free(fpcopy);
		cspf_buf_dispose(&ptr);
		cspf_buf_dispose(&msg);
		return cspf_error_set_oom();
	}
	d->fingerprint = fpcopy;
	if (safe > w->depth) {
		if (cspf_json_position(&line, &column, w->doc, ptr.ptr,
			    st->in_key ? CSPF_JSON_POS_KEY
				       : CSPF_JSON_POS_VALUE) < 0)
			locate(w, st->in_key, &line, &column);
	} else {
		locate(w, st->in_key, &line, &column);
	}
	d->line = line;
	d->column = column;
	cspf_buf_dispose(&ptr);
	cspf_buf_dispose(&msg);
	return 0;
}

static int on_report(
	void *payload, int rule, const char *kind, size_t off, size_t len)
{
	struct walk *w = payload;
	const cspf_secrets_str *st = &w->str;
	char fp[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1];
	size_t i;

	if (st->in_key)
		w->frames[w->depth].secret_name = 1;
	fingerprint(fp, rules[rule].id, st->s + off, len);
	for (i = 0; i < w->opts->nallow; i++) {
		const char *a = w->opts->allow[i].fingerprint;

		if (a && !strcasecmp(a, fp))
			return 0;
	}
	if (w->found.count >= MAX_FINDINGS) {
		w->full = 1;
		return 0;
	}
	return add_finding(w, rule, kind, st->s + off, len, fp);
}

/*
 * The member name an array element belongs under: the nearest one up, or
 * none.  Rules that go by the name do not apply to it (direct is 0).
 */
static void member_above(const struct walk *w, cspf_secrets_str *st)
{
	size_t k;

	st->name = NULL;
	st->name_len = 0;
	st->object = NULL;
	st->direct = 0;
	for (k = w->depth; k > 0; k--) {
		if (IS_OBJECT(w->frames[k - 1].item)) {
			st->name = w->frames[k].item->string;
			st->name_len = strlen(st->name);
			st->object = w->frames[k - 1].item;
			return;
		}
	}
}

/* Scan the current item's member name, then its value if a string. */
static int visit(struct walk *w)
{
	const cJSON *item = w->frames[w->depth].item;
	const cJSON *parent = w->depth ? w->frames[w->depth - 1].item : NULL;
	cspf_secrets_str *st = &w->str;
	bool member = parent && IS_OBJECT(parent) && item->string;
	size_t klen = 0;
	int r;

	if (member) {
		klen = strlen(item->string);
		st->s = item->string;
		st->len = klen;
		st->in_key = 1;
		st->name = NULL;
		st->name_len = 0;
		st->direct = 0;
		st->object = parent;
		if ((r = cspf_secrets_detect(st)) < 0)
			return r;
	}
	if (!IS_STRING(item) || !item->valuestring)
		return 0;
	st->s = item->valuestring;
	st->len = cspf_json_strlen(item);
	st->in_key = 0;
	if (member) {
		st->name = item->string;
		st->name_len = klen;
		st->object = parent;
		st->direct = 1;
	} else {
		member_above(w, st);
	}
	return cspf_secrets_detect(st);
}

static int push(struct walk *w, const cJSON *item)
{
	if (w->depth + 1 == w->alloc) {
		size_t n = w->alloc * 2;
		struct frame *f;

		if (w->frames == w->small) {
			f = malloc(n * sizeof(*f));
			if (f)
				memcpy(f, w->small, sizeof(w->small));
		} else {
			f = realloc(w->frames, n * sizeof(*f));
		}
		if (!f)
			return cspf_error_set_oom();
		w->frames = f;
		w->alloc = n;
	}
	w->depth++;
	w->frames[w->depth].item = item;
	w->frames[w->depth].index = 0;
	w->frames[w->depth].secret_name = 0;
	return 0;
}

/* Depth first, in document order, without recursion. */
static int walk(struct walk *w, const cJSON *root)
{
	struct frame *f;
	int r;

	w->frames = w->small;
	w->alloc = sizeof(w->small) / sizeof(*w->small);
	w->depth = 0;
	w->frames[0].item = root;
	w->frames[0].index = 0;
	w->frames[0].secret_name = 0;
	for (;;) {
		const cJSON *item = w->frames[w->depth].item;

		if ((r = visit(w)) < 0)
			return r;
		if (w->full)
			return 0;
		if ((IS_OBJECT(item) || IS_ARRAY(item)) && item->child) {
			if ((r = push(w, item->child)) < 0)
				return r;
			continue;
		}
		while (w->depth > 0 && !w->frames[w->depth].item->next)
			w->depth--;
		if (w->depth == 0)
			return 0;
		f = &w->frames[w->depth];
		f->item = f->item->next;
		f->index++;
		f->secret_name = 0;
	}
}

/* ------------------------------------------------------------------ */

/* An identifier pattern: "" or '/'-separated tokens, '~' as in RFC 6901. */
static bool valid_pattern(const char *p)
{
	if (*p && *p != '/')
		return false;
	for (; *p; p++)
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return false;
	return true;
}

static int check_options(const cspf_secrets_options *o)
{
	size_t i;

	if (o->version != CSPF_SECRETS_OPTIONS_VERSION)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_secrets_scan: options version %u is not %u",
			o->version, CSPF_SECRETS_OPTIONS_VERSION);
	if ((o->nallow && !o->allow) ||
		(o->nidentifier && !o->identifier_pointers))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_secrets_scan: a list with a count but no items");
	if (!(o->entropy_threshold >= 0) || isinf(o->entropy_threshold))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_secrets_scan: the entropy threshold must be a "
			"number of bits, 0 or more");
	for (i = 0; i < o->nidentifier; i++) {
		const char *p = o->identifier_pointers[i];

		if (!p || !valid_pattern(p))
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"cspf_secrets_scan: identifier pointer %zu "
				"('%s') is not a JSON pointer: it must be "
				"empty or start with '/', and '~' must be "
				"followed by '0' or '1'",
				i, p ? p : "(null)");
	}
	return 0;
}

int cspf_secrets_scan(cspf_diags *out, const cspf_json_doc *doc,
	const cspf_secrets_options *opts)
{
	static const cspf_secrets_options defaults = CSPF_SECRETS_OPTIONS_INIT;
	const cJSON *root;
	struct walk w;
	size_t n;
	int r;

	if (!out || !doc)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"cspf_secrets_scan: NULL %s", out ? "document" : "out");
	if (!opts)
		opts = &defaults;
	if ((r = check_options(opts)) < 0)
		return r;
	if (cspf_secrets_init() < 0)
		return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
			"libsodium could not be initialised");
	root = cspf_json_doc_root(doc);
	if (!root)
		return 0;
	memset(&w, 0, sizeof(w));
	w.doc = doc;
	w.opts = opts;
	w.threshold = opts->entropy_threshold > 0
			      ? opts->entropy_threshold
			      : CSPF_SECRETS_DEFAULT_ENTROPY;
	w.str.threshold = w.threshold;
	w.str.is_identifier = on_is_identifier;
	w.str.report = on_report;
	w.str.payload = &w;
	r = walk(&w, root);
	if (w.frames != w.small)
		free(w.frames);
	n = w.found.count;
	if (r >= 0 && n && cspf_diags_move(out, &w.found) < 0)
		r = cspf_error_set_oom();
	cspf_diags_clear(&w.found);
	return r < 0 ? r : (int)n;
}
