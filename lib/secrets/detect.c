/*
 * The detectors of lib/secrets.  Each reads the string in place (ASCII
 * only: a letter is A-Z or a-z) and reports a span of it; none allocates
 * or copies the secret.
 *
 * One pass over the string first records which classes of characters it
 * holds; a detector looks further only when every character its format
 * needs is there and the string is long enough, so that most strings of
 * a registry (names, addresses, dates, prose) cost that pass and nothing
 * else.
 *
 * Structure comes first: a detector of a known format (AWS, PEM, GitHub,
 * Slack, Azure, JWT, URLs) matches that format exactly.  Field names come
 * next (a "password" member holding a password-like value), and
 * randomness last, only when nothing more specific matched: Shannon
 * entropy over tokens, after filters that set words and identifiers aside
 * (see random_token()).
 */
#include "secrets/secrets_private.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "util/banned.h"

/* Classes of characters, one bit each. */
enum {
	K_UP = 1 << 0,
	K_LO = 1 << 1,
	K_DI = 1 << 2,
	K_PLUS = 1 << 3,
	K_SLASH = 1 << 4,
	K_EQ = 1 << 5,
	K_DASH = 1 << 6,
	K_UNDER = 1 << 7,
	K_DOT = 1 << 8,
	K_COLON = 1 << 9,
	K_AT = 1 << 10,
	K_SPACE = 1 << 11,
	K_TILDE = 1 << 12,
	K_OTHER = 1 << 13, /* anything else, bytes >= 0x80 included */
	K_HEX = 1 << 14,
	K_VOWEL = 1 << 15,
};
#define K_ALPHA (K_UP | K_LO)
#define K_ALNUM (K_UP | K_LO | K_DI)
#define K_B64 (K_ALNUM | K_PLUS | K_SLASH)
#define K_B64URL (K_ALNUM | K_DASH | K_UNDER)
#define K_TOKEN (K_B64 | K_DASH | K_UNDER)
/* What an Azure client secret is made of. */
#define K_AZURE (K_ALNUM | K_UNDER | K_TILDE | K_DOT | K_DASH)

/* c * log2(c), for the entropy of tokens up to this many characters. */
#define CLOGC_SIZE 1024

static uint16_t cls[256];
static double clogc[CLOGC_SIZE];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static int tables_rc;

static void init_runless(void);

static void init_tables(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		unsigned int k;

		if (c >= 'A' && c <= 'Z')
			k = K_UP;
		else if (c >= 'a' && c <= 'z')
			k = K_LO;
		else if (c >= '0' && c <= '9')
			k = K_DI;
		else if (c == '+')
			k = K_PLUS;
		else if (c == '/')
			k = K_SLASH;
		else if (c == '=')
			k = K_EQ;
		else if (c == '-')
			k = K_DASH;
		else if (c == '_')
			k = K_UNDER;
		else if (c == '.')
			k = K_DOT;
		else if (c == ':')
			k = K_COLON;
		else if (c == '@')
			k = K_AT;
		else if (c == '~')
			k = K_TILDE;
		else if (c == ' ' || (c >= '\t' && c <= '\r'))
			k = K_SPACE;
		else
			k = K_OTHER;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			(c >= 'A' && c <= 'F'))
			k |= K_HEX;
		if (c && strchr("aeiouAEIOU", c))
			k |= K_VOWEL;
		cls[c] = (uint16_t)k;
	}
	clogc[0] = 0;
	for (c = 1; c < CLOGC_SIZE; c++)
		clogc[c] = c * log2((double)c);
	init_runless();
	tables_rc = sodium_init() < 0 ? -1 : 0;
}

int cspf_secrets_init(void)
{
	pthread_once(&tables_once, init_tables);
	return tables_rc;
}

/* ------------------------------------------------------------------ */
/* Characters and names                                               */

static inline bool is(char c, unsigned int k)
{
	return (cls[(unsigned char)c] & k) != 0;
}

static inline int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The classes present in s[0, n): four at a time, the hot loop. */
static unsigned int mask_of(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned int m0 = 0, m1 = 0, m2 = 0, m3 = 0;
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		m0 |= cls[u[i]];
		m1 |= cls[u[i + 1]];
		m2 |= cls[u[i + 2]];
		m3 |= cls[u[i + 3]];
	}
	for (; i < n; i++)
		m0 |= cls[u[i]];
	return m0 | m1 | m2 | m3;
}

/* How many of upper case, lower case and digits are in mask m. */
static int alnum_classes(unsigned int m)
{
	return !!(m & K_UP) + !!(m & K_LO) + !!(m & K_DI);
}

/* Index past the run of class k that starts at i. */
static size_t run_end(const char *s, size_t n, size_t i, unsigned int k)
{
	while (i < n && is(s[i], k))
		i++;
	return i;
}

/* Index of the start of the run of class k that ends at i. */
static size_t run_start(const char *s, size_t i, unsigned int k)
{
	while (i > 0 && is(s[i - 1], k))
		i--;
	return i;
}

/* Is c one of `set` (never true for NUL, unlike strchr)? */
static bool one_of(char c, const char *set)
{
	return c && strchr(set, c);
}

/* Do s[0, n) and the lowercase `lit` agree, ignoring ASCII case? */
static bool eq_ci(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!lit[i] || lower((unsigned char)s[i]) != lit[i])
			return false;
	return lit[n] == '\0';
}

static bool starts_ci(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n >= l && eq_ci(s, l, lit);
}

/* Offset of the lowercase `lit` in s[0, n) ignoring case, or -1. */
static ptrdiff_t find_ci(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit), i;

	for (i = 0; l <= n && i <= n - l; i++)
		if (lower((unsigned char)s[i]) == lit[0] &&
			eq_ci(s + i, l, lit))
			return (ptrdiff_t)i;
	return -1;
}

static bool contains(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit)) != NULL;
}

/*
 * Member names are compared as words: lowercase, without the separators
 * '_', '-', '.' and ' ', so that "client_secret", "clientSecret" and
 * "Client-Secret" are all "clientsecret".  Names longer than this are not
 * names of fields but data, and match nothing.
 */
#define NAME_MAX_LEN 64

/* A string literal and its length, for name_suffix(). */
#define WORD(w) w, sizeof(w) - 1

static bool name_sep(char c)
{
	return c == '_' || c == '-' || c == '.' || c == ' ';
}

static size_t name_len(const char *name)
{
	return name ? strnlen(name, NAME_MAX_LEN + 1) : NAME_MAX_LEN + 1;
}

/* name_len() of the string's member name, known already. */
static size_t st_name_len(const cspf_secrets_str *st)
{
	return st->name ? st->name_len : NAME_MAX_LEN + 1;
}

/*
 * Does the name end with the word?  Returns the length of what comes
 * before the word, or -1.
 */
static ptrdiff_t name_suffix(
	const char *name, size_t n, const char *word, size_t w)
{
	if (n > NAME_MAX_LEN)
		return -1;
	while (w > 0) {
		while (n > 0 && name_sep(name[n - 1]))
			n--;
		if (n == 0 || lower((unsigned char)name[n - 1]) != word[w - 1])
			return -1;
		n--;
		w--;
	}
	return (ptrdiff_t)n;
}

static bool name_is(const char *name, const char *word)
{
	ptrdiff_t rest = name_suffix(name, name_len(name), word, strlen(word));

	while (rest > 0 && name_sep(name[rest - 1]))
		rest--;
	return rest == 0;
}

static bool name_has(const char *name, const char *word)
{
	size_t n = name_len(name), i;

	if (n > NAME_MAX_LEN)
		return false;
	for (i = 0; i < n; i++) {
		size_t j = i;
		const char *w = word;

		if (name_sep(name[i]))
			continue;
		while (*w && j < n) {
			if (name_sep(name[j])) {
				j++;
				continue;
			}
			if (lower((unsigned char)name[j]) != *w)
				break;
			j++;
			w++;
		}
		if (!*w)
			return true;
	}
	return false;
}

/* Does the object have a member with this name (as a word)? */
static bool has_member_named(const cJSON *object, const char *word)
{
	const cJSON *c;

	for (c = object ? object->child : NULL; c; c = c->next)
		if (c->string && name_is(c->string, word))
			return true;
	return false;
}

/*
 * Is the value a stand-in rather than a secret: empty, masked ("****"),
 * a template ("${DB_PASSWORD}", "<password>"), a reference to where the
 * secret lives ("vault://...", "arn:...") or a word such as "redacted"?
 */
static bool is_placeholder(const char *s, size_t n)
{
	static const char *const words[] = {"password", "passwd", "secret",
		"token", "redacted", "removed", "hidden", "masked", "none",
		"null", "nil", "empty", "todo", "tbd", "n/a", "na", "example",
		"placeholder", "changeme"};
	static const char *const prefixes[] = {"${", "{{", "$(", "%(", "#{",
		"<", "[", "your-", "your_",
		"arn:", "vault:", "secret:", "secrets:", "ref:", "ref+",
		"env:", "file:", "keyvault:", "op:", "sm:", "projects/",
		"@microsoft.keyvault("};
	size_t i;

	while (n > 0 && is(s[n - 1], K_SPACE))
		n--;
	while (n > 0 && is(s[0], K_SPACE)) {
		s++;
		n--;
	}
	if (n == 0)
		return true;
	for (i = 1; i < n && s[i] == s[0]; i++)
		;
	if (i == n)
		return true;
	if (s[0] == '$' && n > 1 && is(s[1], K_ALPHA | K_UNDER))
		return true;
	if (contains(s, n, "://"))
		return true;
	for (i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (eq_ci(s, n, words[i]))
			return true;
	for (i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (starts_ci(s, n, prefixes[i]))
			return true;
	return false;
}

/* 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return false;
	for (i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is(s[i], K_HEX))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Entropy                                                            */

/*
 * Shannon entropy of s[0, n) in bits per character.  The histogram says
 * something of the secret, so it is wiped.
 */
static double entropy(const char *s, size_t n)
{
	uint32_t count[256];
	double sum = 0;
	size_t i;

	if (n < 2)
		return 0;
	memset(count, 0, sizeof(count));
	for (i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	for (i = 0; i < 256; i++) {
		uint32_t c = count[i];

		if (c > 1)
			sum += c < CLOGC_SIZE ? clogc[c] : c * log2((double)c);
	}
	sodium_memzero(count, sizeof(count));
	return log2((double)n) - sum / (double)n;
}

/*
 * The entropy a random string of n characters must reach.  A string of
 * n characters has at most log2(n) bits per character, and a random one
 * falls short of that by more as n grows; the threshold is for 64 and
 * more, and shorter strings get 0.7 bit less per halving, which keeps
 * random base62 and base64 strings of 20 characters and more above the
 * bar 99 times in 100 (measured).
 */
static double threshold_for(double threshold, size_t n)
{
	double l = log2((double)n);

	return l >= 6 ? threshold : threshold - 0.7 * (6 - l);
}

/*
 * Are most letters of the token in words, written CamelCase or not: runs
 * of two lowercase letters or more, capitalised or not, with a vowel?
 * "XmlStringMaxLen256List" is; a random string rarely has 60% of its
 * letters so (3 in 100 at 40 characters, measured).
 */
static bool camel_words(const char *t, size_t n, size_t letters)
{
	size_t i = 0, a, b, e, k, words = 0;
	bool vowel;

	while (i < n) {
		a = b = i;
		if (is(t[b], K_UP))
			b++;
		e = run_end(t, n, b, K_LO);
		if (e - b < 2) {
			i = a + 1;
			continue;
		}
		for (vowel = false, k = a; k < e; k++)
			vowel = vowel || is(t[k], K_VOWEL) ||
				lower(t[k]) == 'y';
		if (vowel)
			words += e - a;
		i = e;
	}
	return words * 10 >= letters * 6;
}

/*
 * Is the token (20 characters or more) random, rather than an identifier
 * someone wrote?  Entropy alone cannot tell "SecurityOperationsTeam2024"
 * from a key of that length, so first:
 *   - it must hold upper case, lower case and digits, and not only hex
 *     digits and '-' (hashes, UUIDs: not secrets);
 *   - separators ('-', '_', '/') are at most 1 in 10 characters;
 *   - the class (upper, lower, digit) changes at 35% or more of the
 *     steps from one letter or digit to the next;
 *   - runs of five or more letters of one case cover less than 40% of it,
 *     vowels are less than 35% of its letters, and words (camel_words())
 *     hold less than 60% of them.
 * Random base62 and base64 tokens pass all of these 84 times in 100 at
 * 20 characters, 96 at 40 and 99 at 64 (measured); then their entropy
 * must reach threshold_for() their length.
 */
static bool random_token(const char *t, size_t n, double threshold)
{
	static const char *const hashes[] = {
		"sha1-", "sha256-", "sha384-", "sha512-"};
	size_t i, seps = 0, letters = 0, vowels = 0, alnum = 0, changes = 0;
	size_t wordy = 0, run = 0, nonhex = 0;
	unsigned int m = 0, prev = 0, prev_alnum = 0, k, c;

	for (i = 0; i < sizeof(hashes) / sizeof(*hashes); i++)
		if (starts_ci(t, n, hashes[i]))
			return false;
	for (i = 0; i < n; i++) {
		k = cls[(unsigned char)t[i]];
		c = k & K_ALNUM;
		m |= k;
		nonhex += !(k & (K_HEX | K_DASH));
		seps += !!(k & (K_DASH | K_UNDER | K_SLASH));
		if (k & K_ALPHA) {
			letters++;
			vowels += !!(k & K_VOWEL);
		}
		if (c) {
			changes += alnum && c != prev_alnum;
			prev_alnum = c;
			alnum++;
		}
		if ((c & K_ALPHA) && c == prev) {
			run++;
		} else {
			wordy += run >= 5 ? run : 0;
			run = (c & K_ALPHA) ? 1 : 0;
		}
		prev = c;
	}
	wordy += run >= 5 ? run : 0;
	if ((m & K_ALNUM) != K_ALNUM || !nonhex)
		return false;
	if (seps * 10 > n || changes * 100 < (alnum - 1) * 35 ||
		wordy * 10 >= n * 4 || vowels * 100 >= letters * 35 ||
		camel_words(t, n, letters))
		return false;
	return entropy(t, n) >= threshold_for(threshold, n);
}

/* ------------------------------------------------------------------ */
/* The scan of one string                                             */

#define MAX_SPANS 8

struct scan {
	const cspf_secrets_str *st;
	const char *s;
	size_t n;
	unsigned int mask;
	size_t longest; /* longest_run(), if 20 characters or more */
	int hits;
	int identifier; /* -1 until asked */
	int akid_near;	/* an access key ID beside the string: -1 until asked */
	size_t nspans;
	size_t off[MAX_SPANS], len[MAX_SPANS];
};

/*
 * The shortest run of base64 and base64url characters that any format of
 * token the detectors know can be found in.
 */
#define MIN_RUN 16

/*
 * The longest run of base64 and base64url characters in s[0, n) when it
 * is MIN_RUN or more, and some smaller number when there is none so long.
 * Every token format needs such a run, and prose has none: the detectors
 * that need one are not called for a description.
 *
 * A run of MIN_RUN or more covers one of every MIN_RUN positions, so
 * only those are looked at, and a run is measured where one lands in
 * it: prose costs a fraction of a read per character.
 */
static size_t longest_run(const char *s, size_t n)
{
	size_t p = MIN_RUN - 1, a, e, best = 0;

	while (p < n) {
		if (!is(s[p], K_TOKEN)) {
			p += MIN_RUN;
			continue;
		}
		a = run_start(s, p, K_TOKEN);
		e = run_end(s, n, p, K_TOKEN);
		if (e - a > best)
			best = e - a;
		p = e + MIN_RUN;
	}
	return best;
}

static bool identifier(struct scan *sc)
{
	if (sc->identifier < 0)
		sc->identifier =
			sc->st->is_identifier
				? sc->st->is_identifier(sc->st->payload) > 0
				: 0;
	return sc->identifier > 0;
}

/*
 * Report s[off, off + len), unless a span reported already overlaps it
 * (a JWT signature is not also a random string).  Returns 0, or the
 * negative code of the report callback.
 */
static int emit(
	struct scan *sc, int rule, const char *kind, size_t off, size_t len)
{
	size_t i;
	int r;

	for (i = 0; i < sc->nspans; i++)
		if (off < sc->off[i] + sc->len[i] && sc->off[i] < off + len)
			return 0;
	if (sc->nspans < MAX_SPANS) {
		sc->off[sc->nspans] = off;
		sc->len[sc->nspans] = len;
		sc->nspans++;
	}
	r = sc->st->report(sc->st->payload, rule, kind, off, len);
	if (r < 0)
		return r;
	sc->hits++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* AWS                                                                */

/* An access key ID at s[i]: AKIA or ASIA and 16 more, a word apart. */
static bool akid_at(const char *s, size_t n, size_t i)
{
	size_t k;

	if (n - i < 20 || s[i] != 'A' || (s[i + 1] != 'K' && s[i + 1] != 'S') ||
		s[i + 2] != 'I' || s[i + 3] != 'A')
		return false;
	if (i > 0 && is(s[i - 1], K_ALNUM))
		return false;
	for (k = 4; k < 20; k++)
		if (!is(s[i + k], K_UP | K_DI))
			return false;
	return i + 20 == n || !is(s[i + 20], K_ALNUM);
}

static bool has_akid(const char *s, size_t n)
{
	const char *p;
	size_t i = 0;

	while (n >= 20 && i <= n - 20 &&
		(p = memchr(s + i, 'A', n - 19 - i)) != NULL) {
		if (akid_at(s, n, (size_t)(p - s)))
			return true;
		i = (size_t)(p - s) + 1;
	}
	return false;
}

/*
 * AWS access key IDs name a key without being secret: the registry keeps
 * them in identity fields.  Anywhere else one is reported, since it
 * usually comes with its secret key.
 */
static int detect_aws_akid(struct scan *sc)
{
	const char *s = sc->s, *p;
	size_t n = sc->n, i = 0;
	int r;

	if (!(sc->mask & K_UP) || n < 20)
		return 0;
	while (i <= n - 20 && (p = memchr(s + i, 'A', n - 19 - i)) != NULL) {
		i = (size_t)(p - s);
		if (!akid_at(s, n, i)) {
			i++;
			continue;
		}
		if (identifier(sc))
			return 0;
		r = emit(sc, SECRETS_AWS_ACCESS_KEY_ID,
			s[i + 1] == 'S' ? "AWS temporary access key ID"
					: "AWS access key ID",
			i, 20);
		if (r < 0)
			return r;
		i += 20;
	}
	return 0;
}

static bool sibling_has_akid(const cJSON *object)
{
	const cJSON *c;

	for (c = object ? object->child : NULL; c; c = c->next)
		if (cJSON_IsString(c) && c->valuestring &&
			has_akid(c->valuestring, cspf_json_strlen(c)))
			return true;
	return false;
}

/*
 * A 40-character base64 token is an AWS secret access key when its
 * member's name says key, secret or password, when an access key ID is
 * beside it (same string, the member's name, a sibling member), or when
 * random_token() calls it random ("policy/EC2InstanceProfileForImage
 * Builder" in an ARN is 40 such characters too).
 */
static bool aws_secret_context(struct scan *sc, size_t off)
{
	static const char *const words[] = {
		"secret", "key", "pass", "pwd", "token", "credential", "auth"};
	const cspf_secrets_str *st = sc->st;
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(*words); i++)
		if (name_has(st->name, words[i]))
			return true;
	if (sc->akid_near < 0)
		sc->akid_near =
			has_akid(sc->s, sc->n) ||
			(st->name && has_akid(st->name, st->name_len)) ||
			sibling_has_akid(st->object);
	if (sc->akid_near)
		return true;
	if (identifier(sc))
		return false;
	return random_token(sc->s + off, 40, st->threshold);
}

static int detect_aws_secret(struct scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n, i = 0, e;
	int r;

	if ((sc->mask & K_ALNUM) != K_ALNUM || n < 40)
		return 0;
	while (i < n) {
		if (!is(s[i], K_B64)) {
			i++;
			continue;
		}
		e = run_end(s, n, i, K_B64);
		if (e - i == 40 &&
			(i == 0 || !is(s[i - 1], K_DASH | K_UNDER)) &&
			(e == n || !is(s[e], K_EQ | K_DASH | K_UNDER)) &&
			(mask_of(s + i, 40) & K_ALNUM) == K_ALNUM &&
			aws_secret_context(sc, i)) {
			r = emit(sc, SECRETS_AWS_SECRET_ACCESS_KEY,
				"AWS secret access key", i, 40);
			if (r < 0)
				return r;
		}
		i = e;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Private keys                                                       */

static const char *pem_kind(const char *label, size_t n)
{
	static const struct {
		const char *label, *kind;
	} kinds[] = {
		{"RSA ", "RSA private key"},
		{"EC ", "EC private key"},
		{"DSA ", "DSA private key"},
		{"OPENSSH ", "OpenSSH private key"},
		{"ENCRYPTED ", "encrypted private key"},
		{"PGP ", "PGP private key"},
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (n == strlen(kinds[i].label) &&
			!memcmp(label, kinds[i].label, n))
			return kinds[i].kind;
	return "private key";
}

/* Is the object a GCP service account key file? */
static bool gcp_service_account(const cJSON *object)
{
	const cJSON *type;

	if (!object)
		return false;
	if (cJSON_GetObjectItemCaseSensitive(object, "client_email") ||
		cJSON_GetObjectItemCaseSensitive(object, "private_key_id"))
		return true;
	type = cJSON_GetObjectItemCaseSensitive(object, "type");
	return cJSON_IsString(type) && type->valuestring &&
	       !strcmp(type->valuestring, "service_account");
}

/*
 * "-----BEGIN <label>-----" where the label says PRIVATE KEY, followed by
 * key material: a run of 40 base64 characters at least, before
 * "-----END" or the end of the string.  The span reported is the body.
 */
static int detect_pem(struct scan *sc)
{
	const char *s = sc->s, *p, *q;
	size_t n = sc->n, i = 0, lab, le, body, end, k, longest, cur;
	int rule, r;

	if (!(sc->mask & K_DASH) || n < 40)
		return 0;
	while (i < n && (p = memmem(s + i, n - i, "-----BEGIN ", 11)) != NULL) {
		lab = (size_t)(p - s) + 11;
		le = lab;
		while (le < n && le - lab < 48 &&
			(is(s[le], K_UP | K_DI) || s[le] == ' '))
			le++;
		i = le;
		if (n - le < 5 || memcmp(s + le, "-----", 5) ||
			!(q = memmem(s + lab, le - lab, "PRIVATE KEY", 11)))
			continue;
		body = le + 5;
		p = memmem(s + body, n - body, "-----END", 8);
		end = p ? (size_t)(p - s) : n;
		longest = cur = 0;
		for (k = body; k < end; k++) {
			cur = is(s[k], K_B64 | K_EQ) ? cur + 1 : 0;
			if (cur > longest)
				longest = cur;
		}
		i = end;
		if (longest < 40)
			continue;
		while (body < end && is(s[body], K_SPACE))
			body++;
		while (end > body && is(s[end - 1], K_SPACE))
			end--;
		rule = SECRETS_PRIVATE_KEY;
		if (name_is(sc->st->name, "privatekey") &&
			gcp_service_account(sc->st->object))
			rule = SECRETS_GCP_SERVICE_ACCOUNT_KEY;
		r = emit(sc, rule,
			rule == SECRETS_PRIVATE_KEY
				? pem_kind(s + lab, (size_t)(q - (s + lab)))
				: "GCP service account private key",
			body, end - body);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A PEM private key, base64-encoded once more (kubeconfig's
 * client-key-data, Kubernetes secrets): "LS0tLS1CRUdJTi" is
 * "-----BEGIN " so encoded.  The first line is decoded, into a buffer
 * wiped afterwards, to tell a private key from a certificate.
 */
static int detect_pem_base64(struct scan *sc)
{
	const char *s = sc->s, *p;
	size_t n = sc->n, i = 0, a, e, len;
	unsigned char line[72];
	bool private_key;
	int r;

	if ((sc->mask & K_ALNUM) != K_ALNUM || n < 100)
		return 0;
	while (i < n && (p = memmem(s + i, n - i, "LS0tLS1CRUdJTi", 14))) {
		a = (size_t)(p - s);
		e = run_end(s, n, a, K_B64 | K_EQ);
		i = e;
		if ((a > 0 && is(s[a - 1], K_B64)) || e - a < 100)
			continue;
		len = 0;
		private_key =
			!sodium_base642bin(line, sizeof(line), s + a, 96, NULL,
				&len, NULL,
				sodium_base64_VARIANT_ORIGINAL_NO_PADDING) &&
			memmem(line, len, "PRIVATE KEY", 11);
		sodium_memzero(line, sizeof(line));
		if (!private_key)
			continue;
		r = emit(sc, SECRETS_PRIVATE_KEY, "base64-encoded private key",
			a, e - a);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Tokens with a known prefix                                         */

static const char *github_kind(char c)
{
	switch (c) {
	case 'p':
		return "GitHub personal access token";
	case 'o':
		return "GitHub OAuth access token";
	case 'u':
		return "GitHub user-to-server token";
	case 's':
		return "GitHub server-to-server token";
	case 'r':
		return "GitHub refresh token";
	}
	return NULL;
}

/*
 * ghp_, gho_, ghu_, ghs_, ghr_ and 36 or more letters and digits;
 * github_pat_ and 40 or more of letters, digits and '_'.
 */
static int detect_github(struct scan *sc)
{
	const char *s = sc->s, *p, *kind;
	size_t n = sc->n, i = 0, u, a, e;
	int r;

	if (!(sc->mask & K_UNDER) || n < 40)
		return 0;
	while (i < n && (p = memchr(s + i, '_', n - i)) != NULL) {
		u = (size_t)(p - s);
		i = u + 1;
		if (u >= 3 && s[u - 3] == 'g' && s[u - 2] == 'h' &&
			(kind = github_kind(s[u - 1])) != NULL) {
			a = u - 3;
			e = run_end(s, n, u + 1, K_ALNUM);
			if (e - u - 1 < 36 || e - u - 1 > 251) {
				i = e;
				continue;
			}
		} else if (u >= 6 && !memcmp(s + u - 6, "github", 6) &&
			   n - u > 5 && !memcmp(s + u, "_pat_", 5)) {
			a = u - 6;
			kind = "GitHub fine-grained personal access token";
			e = run_end(s, n, u + 5, K_ALNUM | K_UNDER);
			if (e - u - 5 < 40) {
				i = e;
				continue;
			}
		} else {
			continue;
		}
		/* Any prefix further in this run is not a word apart. */
		i = e;
		if ((a > 0 && is(s[a - 1], K_ALNUM | K_UNDER)) ||
			(e < n && is(s[e], K_ALNUM | K_UNDER)) ||
			alnum_classes(mask_of(s + a, e - a)) < 2)
			continue;
		r = emit(sc, SECRETS_GITHUB_TOKEN, kind, a, e - a);
		if (r < 0)
			return r;
	}
	return 0;
}

static const char *slack_kind(const char *s)
{
	if (!memcmp(s, "xoxb-", 5))
		return "Slack bot token";
	if (!memcmp(s, "xoxp-", 5))
		return "Slack user token";
	if (!memcmp(s, "xoxa-", 5))
		return "Slack workspace access token";
	if (!memcmp(s, "xoxr-", 5))
		return "Slack refresh token";
	if (!memcmp(s, "xapp-", 5))
		return "Slack app-level token";
	return NULL;
}

/*
 * xoxb-, xoxp-, xoxa-, xoxr-, xapp- and 20 or more of letters, digits
 * and '-', in two parts at least, with digits (the team and user IDs):
 * "xoxb-your-token-here" is not one.
 */
static int detect_slack(struct scan *sc)
{
	const char *s = sc->s, *p, *kind;
	size_t n = sc->n, i = 0, x, e, k, dashes, digits;
	int r;

	if (!(sc->mask & K_DASH) || n < 25)
		return 0;
	while (i + 5 <= n && (p = memchr(s + i, 'x', n - i - 4)) != NULL) {
		x = (size_t)(p - s);
		i = x + 1;
		if ((x > 0 && is(s[x - 1], K_ALNUM)) ||
			!(kind = slack_kind(s + x)))
			continue;
		e = run_end(s, n, x + 5, K_ALNUM | K_DASH);
		/* A later prefix in this run has less of it: skip the run. */
		i = e;
		dashes = digits = 0;
		for (k = x + 5; k < e; k++) {
			dashes += s[k] == '-';
			digits += is(s[k], K_DI);
		}
		if (e - x - 5 < 20 || !dashes || digits < 4)
			continue;
		r = emit(sc, SECRETS_SLACK_TOKEN, kind, x, e - x);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * https://hooks.slack.com/services/T.../B.../<secret> (and workflows/,
 * triggers/): the path after the kind is the secret.
 */
static int detect_slack_webhook(struct scan *sc)
{
	static const char *const kinds[] = {
		"services/", "workflows/", "triggers/"};
	const char *s = sc->s, *p;
	size_t n = sc->n, i = 0, q, e, k, last, slashes;
	int r;

	if ((sc->mask & (K_DOT | K_SLASH)) != (K_DOT | K_SLASH) || n < 40)
		return 0;
	while (i < n &&
		(p = memmem(s + i, n - i, "hooks.slack.com/", 16)) != NULL) {
		q = (size_t)(p - s) + 16;
		i = q;
		for (k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
			if (n - q >= strlen(kinds[k]) &&
				!memcmp(s + q, kinds[k], strlen(kinds[k])))
				break;
		if (k == sizeof(kinds) / sizeof(*kinds))
			continue;
		q += strlen(kinds[k]);
		e = run_end(s, n, q, K_ALNUM | K_SLASH);
		while (e > q && s[e - 1] == '/')
			e--;
		for (slashes = 0, last = q, k = q; k < e; k++)
			if (s[k] == '/') {
				slashes++;
				last = k + 1;
			}
		if (slashes < 2 || e - last < 16)
			continue;
		r = emit(sc, SECRETS_SLACK_WEBHOOK, "Slack webhook URL", q,
			e - q);
		if (r < 0)
			return r;
		i = e;
	}
	return 0;
}

/*
 * Azure AD client secrets since 2021: three characters, a digit, "Q~",
 * and 31 to 34 more.
 */
static int detect_azure_client_secret(struct scan *sc)
{
	const char *s = sc->s, *p;
	size_t n = sc->n, i = 0, t, a, e;
	int r;

	if (!(sc->mask & K_TILDE) || n < 37)
		return 0;
	while (i < n && (p = memchr(s + i, '~', n - i)) != NULL) {
		t = (size_t)(p - s);
		i = t + 1;
		if (t < 5 || s[t - 1] != 'Q' || !is(s[t - 2], K_DI))
			continue;
		a = t - 5;
		if (!is(s[a], K_AZURE) || !is(s[a + 1], K_AZURE) ||
			!is(s[a + 2], K_AZURE) ||
			(a > 0 && is(s[a - 1], K_AZURE)))
			continue;
		e = run_end(s, n, t + 1, K_AZURE);
		if (e - t - 1 < 31 || e - t - 1 > 34)
			continue;
		r = emit(sc, SECRETS_AZURE_CLIENT_SECRET, "Azure client secret",
			a, e - a);
		if (r < 0)
			return r;
		i = e;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Assignments: connection strings, query strings, environment files  */

static bool password_word(const char *name, size_t n)
{
	return name_suffix(name, n, WORD("password")) >= 0 ||
	       name_suffix(name, n, WORD("passwd")) >= 0 ||
	       eq_ci(name, n, "pwd");
}

/* Characters of a base64 value, URL-encoded or not. */
static size_t b64_value_end(const char *s, size_t n, size_t i)
{
	while (i < n && (is(s[i], K_B64 | K_EQ) || s[i] == '%'))
		i++;
	return i;
}

/*
 * name=value pairs, found from their '=': "AccountKey=" and
 * "SharedAccessKey=" (Azure storage and Service Bus connection strings),
 * "sig=" in a shared access signature, and "Password=", "Pwd=",
 * "DB_PASSWORD=" in connection strings, query strings and environment
 * files.
 */
static int detect_assignments(struct scan *sc)
{
	const char *s = sc->s, *p, *name;
	size_t n = sc->n, i = 0, eq, ns, vs, ve, nlen;
	int r = 0, sas = -1;
	bool query;

	if (!(sc->mask & K_EQ) || n < 5)
		return 0;
	while (i < n && (p = memchr(s + i, '=', n - i)) != NULL) {
		eq = (size_t)(p - s);
		i = eq + 1;
		ns = run_start(s, eq, K_ALNUM | K_UNDER);
		if (ns == eq ||
			(ns > 0 && !one_of(s[ns - 1], ";&? \t\r\n\"'(,")))
			continue;
		name = s + ns;
		nlen = eq - ns;
		query = ns > 0 && one_of(s[ns - 1], "&?");
		vs = eq + 1;
		if (eq_ci(name, nlen, "accountkey") ||
			eq_ci(name, nlen, "sharedaccesskey")) {
			ve = run_end(s, n, vs, K_B64 | K_EQ);
			i = ve > i ? ve : i;
			if (ve - vs >= 20 &&
				alnum_classes(mask_of(s + vs, ve - vs)) >= 2)
				r = emit(sc, SECRETS_AZURE_STORAGE_KEY,
					nlen == 10 ? "Azure storage account key"
						   : "Azure shared access key",
					vs, ve - vs);
		} else if (eq_ci(name, nlen, "sig")) {
			ve = b64_value_end(s, n, vs);
			i = ve > i ? ve : i;
			/* Is this a shared access signature?  Asked once. */
			if (ve - vs >= 20 && sas < 0)
				sas = find_ci(s, n, "sv=") >= 0 ||
				      find_ci(s, n, "sr=") >= 0 ||
				      find_ci(s, n, "sharedaccesssignature") >=
					      0;
			if (ve - vs >= 20 && sas > 0)
				r = emit(sc, SECRETS_AZURE_SAS_TOKEN,
					"Azure shared access signature", vs,
					ve - vs);
		} else if (password_word(name, nlen)) {
			if (vs < n && (s[vs] == '"' || s[vs] == '\'')) {
				p = memchr(s + vs + 1, s[vs], n - vs - 1);
				ve = p ? (size_t)(p - s) : n;
				vs++;
			} else {
				ve = vs;
				while (ve < n && !one_of(s[ve], ";\r\n") &&
					!(query && one_of(s[ve], "&#")))
					ve++;
			}
			/* The value is read: go on after it. */
			i = ve > i ? ve : i;
			while (ve > vs && is(s[ve - 1], K_SPACE))
				ve--;
			if (!is_placeholder(s + vs, ve - vs))
				r = emit(sc, SECRETS_CONNECTION_STRING_PASSWORD,
					query ? "password in a query string"
					      : "password in a connection "
						"string",
					vs, ve - vs);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * A password written into prose: "login admin, password Tr0ub4dor&3",
 * "the passphrase is: x7#Kd...".  After the word password, passwd,
 * passphrase or pwd (a whole word), an optional "is"/"was" and ':', '=' or
 * '-', the next word is taken when it is 8 to 128 characters that mix
 * three of upper case, lower case, digits and symbols - which the words
 * of a sentence ("password rotation", "password expires 2027-06-01") do
 * not - and it is no placeholder or path.
 */
static bool password_keyword(const char *s, size_t n, size_t i, size_t *end)
{
	static const char *const words[] = {
		"passphrase", "password", "passwd", "pwd"};
	size_t k, len;

	if (i > 0 && is(s[i - 1], K_ALNUM | K_UNDER))
		return false;
	for (k = 0; k < sizeof(words) / sizeof(*words); k++) {
		len = strlen(words[k]);
		if (n - i >= len && starts_ci(s + i, n - i, words[k]) &&
			(i + len == n || !is(s[i + len], K_ALNUM | K_UNDER))) {
			*end = i + len;
			return true;
		}
	}
	return false;
}

static size_t skip_spaces(const char *s, size_t n, size_t i)
{
	while (i < n && is(s[i], K_SPACE))
		i++;
	return i;
}

static int detect_text_password(struct scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n, i, e, ve, k;
	unsigned int m, classes;
	bool pathlike;

	for (i = 0; i < n; i++) {
		if (lower(s[i]) != 'p' || !password_keyword(s, n, i, &e))
			continue;
		i = e - 1;
		e = skip_spaces(s, n, e);
		if (n - e >= 3 && starts_ci(s + e, n - e, "is") &&
			(is(s[e + 2], K_SPACE) || s[e + 2] == ':'))
			e = skip_spaces(s, n, e + 2);
		else if (n - e >= 4 && starts_ci(s + e, n - e, "was") &&
			(is(s[e + 3], K_SPACE) || s[e + 3] == ':'))
			e = skip_spaces(s, n, e + 3);
		if (e < n && one_of(s[e], ":=-"))
			e = skip_spaces(s, n, e + 1);
		if (e < n && one_of(s[e], "\"'`"))
			e++;
		for (ve = e; ve < n && !is(s[ve], K_SPACE) &&
			!one_of(s[ve], "\"'`"); ve++)
			;
		while (ve > e && one_of(s[ve - 1], ".,;:)!?"))
			ve--;
		/* "Tr0ub4dor&3!" keeps its '!' when the rest has none */
		if (ve < n && s[ve] == '!' && ve + 1 - e >= 8)
			ve++;
		if (ve - e < 8 || ve - e > 128 || is_placeholder(s + e, ve - e))
			continue;
		m = mask_of(s + e, ve - e);
		classes = !!(m & K_UP) + !!(m & K_LO) + !!(m & K_DI) +
			  !!(m & ~(K_ALNUM | K_HEX | K_VOWEL));
		if (classes < 3)
			continue;
		for (pathlike = true, k = e; k < ve && pathlike; k++)
			pathlike = is(s[k], K_LO | K_DI | K_SLASH | K_DASH |
					K_UNDER | K_DOT);
		if (pathlike)
			continue;
		return emit(sc, SECRETS_TEXT_PASSWORD, "password in text", e,
			ve - e);
	}
	return 0;
}

/*
 * otpauth://totp/...?secret=<base32>: the seed of someone's second
 * factor.
 */
static int detect_otp_seed(struct scan *sc)
{
	const char *s = sc->s;
	size_t n = sc->n, at, q, vs, ve;
	ptrdiff_t k;

	if ((sc->mask & (K_EQ | K_COLON)) != (K_EQ | K_COLON) || n < 30 ||
		(k = find_ci(s, n, "otpauth://")) < 0)
		return 0;
	for (at = (size_t)k; at < n; at = ve) {
		if ((k = find_ci(s + at, n - at, "secret=")) < 0)
			return 0;
		q = at + (size_t)k;
		vs = q + 7;
		ve = run_end(s, n, vs, K_ALPHA | K_DI | K_EQ);
		if (q > 0 && one_of(s[q - 1], "?&") && ve - vs >= 16)
			return emit(sc, SECRETS_OTP_SEED,
				"one-time password seed", vs, ve - vs);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* JSON Web Tokens                                                    */

/* Does the base64url text decode to a JSON object with "alg"? */
static bool jwt_header(const char *h, size_t n)
{
	unsigned char buf[384];
	size_t len = 0, i = 0;
	bool ok;

	if (n > 512 || sodium_base642bin(buf, sizeof(buf), h, n, NULL, &len,
			       NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return false;
	while (i < len && is((char)buf[i], K_SPACE))
		i++;
	ok = i < len && buf[i] == '{' && memmem(buf, len, "\"alg\"", 5);
	sodium_memzero(buf, sizeof(buf));
	return ok;
}

/* header.payload.signature, the header decoding to JSON with "alg". */
static int detect_jwt(struct scan *sc)
{
	const char *s = sc->s, *p;
	size_t n = sc->n, i = 0, a, h, pe, se;
	int r;

	if (!(sc->mask & K_DOT) || n < 40)
		return 0;
	while (i < n && (p = memmem(s + i, n - i, "eyJ", 3)) != NULL) {
		a = (size_t)(p - s);
		i = a + 3;
		if (a > 0 && is(s[a - 1], K_B64URL))
			continue;
		h = run_end(s, n, a, K_B64URL);
		if (h - a < 10 || h >= n || s[h] != '.')
			continue;
		pe = run_end(s, n, h + 1, K_B64URL);
		if (pe - h - 1 < 10 || pe >= n || s[pe] != '.')
			continue;
		se = run_end(s, n, pe + 1, K_B64URL);
		if (se - pe - 1 < 16 || !jwt_header(s + a, h - a))
			continue;
		r = emit(sc, SECRETS_JWT, "JSON Web Token", a, se - a);
		if (r < 0)
			return r;
		i = se;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* URLs                                                               */

/* scheme://user:password@host: the password. */
static int detect_url_password(struct scan *sc)
{
	const char *s = sc->s, *p, *at, *c;
	size_t n = sc->n, i = 0, k, ss, a, ae, pw;
	int r;

	if ((sc->mask & (K_COLON | K_AT | K_SLASH)) !=
			(K_COLON | K_AT | K_SLASH) ||
		n < 10)
		return 0;
	while (i < n && (p = memmem(s + i, n - i, "://", 3)) != NULL) {
		k = (size_t)(p - s);
		i = k + 3;
		ss = run_start(s, k, K_ALNUM | K_PLUS | K_DOT | K_DASH);
		while (ss < k && !is(s[ss], K_ALPHA))
			ss++;
		if (k - ss < 2)
			continue;
		a = ae = k + 3;
		while (ae < n && s[ae] && !one_of(s[ae], "/?#\"'<>") &&
			!is(s[ae], K_SPACE))
			ae++;
		at = memrchr(s + a, '@', ae - a);
		if (!at || at + 1 == s + ae)
			continue;
		c = memchr(s + a, ':', (size_t)(at - (s + a)));
		if (!c)
			continue;
		pw = (size_t)(c + 1 - s);
		if (is_placeholder(s + pw, (size_t)(at - s) - pw))
			continue;
		r = emit(sc, SECRETS_URL_PASSWORD, "password in a URL", pw,
			(size_t)(at - s) - pw);
		if (r < 0)
			return r;
		i = ae;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Secrets found by the name of their field                           */

/* What a member's name says of its value. */
enum {
	NAME_PASSWORD = 1 << 0,	     /* ...password, passwd, passphrase, pwd */
	NAME_SECRET = 1 << 1,	     /* ...secret */
	NAME_CLIENT_SECRET = 1 << 2, /* ...client_secret */
	NAME_SECRETISH = 1 << 3,     /* a secret-field name: kind says which */
};

/* Grouped by last letter, for name_class(); first match wins. */
/* clang-format off */
static const struct name_word {
	const char *word;
	size_t len;
	unsigned int class;
	const char *kind;
} name_words[] = {
	/* d */
	{ WORD("password"),     NAME_PASSWORD,  NULL },
	{ WORD("passwd"),       NAME_PASSWORD,  NULL },
	{ WORD("pwd"),          NAME_PASSWORD,  NULL },
	{ WORD("seed"),         NAME_SECRETISH, "seed" },
	/* e */
	{ WORD("passphrase"),   NAME_PASSWORD,  NULL },
	/* n */
	{ WORD("token"),        NAME_SECRETISH, "token" },
	/* t */
	{ WORD("clientsecret"), NAME_SECRET | NAME_CLIENT_SECRET |
				NAME_SECRETISH, "secret" },
	{ WORD("secret"),       NAME_SECRET | NAME_SECRETISH, "secret" },
	/* y */
	{ WORD("apikey"),       NAME_SECRETISH, "API key" },
	{ WORD("accesskey"),    NAME_SECRETISH, "access key" },
	{ WORD("secretkey"),    NAME_SECRETISH, "secret key" },
	{ WORD("privatekey"),   NAME_SECRETISH, "private key" },
	{ WORD("authkey"),      NAME_SECRETISH, "authentication key" },
	{ WORD("signingkey"),   NAME_SECRETISH, "signing key" },
	{ WORD("masterkey"),    NAME_SECRETISH, "master key" },
	{ WORD("sharedkey"),    NAME_SECRETISH, "shared key" },
};
/* clang-format on */

/*
 * Classify a member's name by how it ends, once per string: the first
 * word of name_words[] it ends with, among those ending in the name's
 * last letter.  *kind names a NAME_SECRETISH value.
 */
static unsigned int name_class(const char *name, size_t n, const char **kind)
{
	size_t i, end;
	const struct name_word *w;

	*kind = NULL;
	if (n > NAME_MAX_LEN)
		return 0;
	while (n > 0 && name_sep(name[n - 1]))
		n--;
	if (n == 0)
		return 0;
	switch (lower((unsigned char)name[n - 1])) {
	case 'd':
		i = 0, end = 4;
		break;
	case 'e':
		i = 4, end = 5;
		break;
	case 'n':
		i = 5, end = 6;
		break;
	case 't':
		i = 6, end = 8;
		break;
	case 'y':
		i = 8, end = 16;
		if (name_suffix(name, n, WORD("key")) < 0)
			return 0;
		break;
	default:
		return 0;
	}
	for (; i < end; i++) {
		w = &name_words[i];
		if (name_suffix(name, n, w->word, w->len) >= 0) {
			*kind = w->kind;
			return w->class;
		}
	}
	return 0;
}

/*
 * A client secret of an Azure app registered before "Q~" secrets: a
 * member named client_secret, or a member named secret beside a tenant or
 * client ID, holding 24 to 64 characters of what such secrets are made
 * of, in more than one class.
 */
static int detect_azure_named(struct scan *sc, unsigned int name)
{
	const cspf_secrets_str *st = sc->st;
	unsigned int m = sc->mask;

	if (!(name & NAME_SECRET) || sc->n < 24 || sc->n > 64 ||
		(m & ~(K_AZURE | K_PLUS | K_SLASH | K_EQ | K_HEX | K_VOWEL)) ||
		alnum_classes(m) < 2)
		return 0;
	if (!(name & NAME_CLIENT_SECRET) &&
		!has_member_named(st->object, "tenantid") &&
		!has_member_named(st->object, "clientid") &&
		!has_member_named(st->object, "appid") &&
		!has_member_named(st->object, "applicationid"))
		return 0;
	if (is_uuid(sc->s, sc->n) || is_placeholder(sc->s, sc->n))
		return 0;
	return emit(sc, SECRETS_AZURE_CLIENT_SECRET, "Azure client secret", 0,
		sc->n);
}

/*
 * A member named password (db_password, adminPassword, passwd, pwd,
 * passphrase) holding a value of six characters or more, in more than
 * one class, without spaces (prose, not a password), that is no
 * placeholder or reference.
 */
static int detect_password_field(struct scan *sc, unsigned int name)
{
	unsigned int m = sc->mask;

	if (!(name & NAME_PASSWORD) || sc->n < 6 || (m & K_SPACE) ||
		alnum_classes(m) + !!(m & ~(K_ALNUM | K_HEX | K_VOWEL)) < 2 ||
		is_placeholder(sc->s, sc->n))
		return 0;
	return emit(sc, SECRETS_PASSWORD_FIELD, "password", 0, sc->n);
}

/*
 * A member named like a secret (api_key, authToken, client_secret,
 * signing-key, ...) holding what looks generated: twelve characters or
 * more, letters and digits (all three classes when it has a '/', which
 * paths rarely do), at most one separator in eight characters, no spaces,
 * not mostly words ("LastEvaluatedKey2" names a field, "ledger-app-2024"
 * a secret elsewhere), no placeholder or reference.
 */
static int detect_secret_field(
	struct scan *sc, unsigned int name, const char *kind)
{
	unsigned int m = sc->mask;
	size_t seps = 0, letters = 0, k;

	if (!(name & NAME_SECRETISH) || sc->n < 12 || (m & K_SPACE) ||
		!(m & K_DI) || !(m & K_ALPHA) ||
		((m & K_SLASH) && alnum_classes(m) < 3))
		return 0;
	for (k = 0; k < sc->n; k++) {
		seps += is(
			sc->s[k], K_DASH | K_UNDER | K_DOT | K_SLASH | K_COLON);
		letters += is(sc->s[k], K_ALPHA);
	}
	if (seps * 8 > sc->n || camel_words(sc->s, sc->n, letters) ||
		is_placeholder(sc->s, sc->n))
		return 0;
	return emit(sc, SECRETS_SECRET_FIELD, kind, 0, sc->n);
}

/* ------------------------------------------------------------------ */
/* Randomness                                                         */

/*
 * Base64 DER of public things, without PEM armour: an X.509 certificate
 * ("MII?xxCC": two nested SEQUENCEs), or a SubjectPublicKeyInfo of RSA,
 * EC P-256, P-384 or Ed25519.  (A private key's DER differs: an INTEGER
 * version follows the first SEQUENCE.)
 */
static bool public_der(const char *t, size_t n)
{
	static const char *const spki[] = {"MFkwEwYHKoZIzj0CAQY",
		"MHYwEAYHKoZIzj0CAQY", "MCowBQYDK2VwAyEA"};
	size_t i;

	if (n >= 8 && !memcmp(t, "MII", 3) && !memcmp(t + 6, "CC", 2))
		return true;
	if (memmem(t, n, "BgkqhkiG9w0BAQEFAAOC", 20))
		return true;
	for (i = 0; i < sizeof(spki) / sizeof(*spki); i++)
		if (n >= strlen(spki[i]) &&
			!memcmp(t, spki[i], strlen(spki[i])))
			return true;
	return false;
}

/*
 * Past the leading path segments of the token s[i, e), such as "/change/"
 * or "policy/": lowercase, digits, '-' and '_', 16 at most.  They name
 * things, and would make a random-looking ID look mixed.
 */
static size_t skip_path(const char *s, size_t i, size_t e)
{
	const char *q;

	while ((q = memchr(s + i, '/', e - i)) != NULL) {
		size_t seg = (size_t)(q - (s + i)), k;

		if (seg > 16)
			break;
		for (k = i; k < i + seg; k++)
			if (!is(s[k], K_LO | K_DI | K_DASH | K_UNDER))
				break;
		if (k < i + seg)
			break;
		i += seg + 1;
	}
	return i;
}

/*
 * Tokens of base64 and base64url characters, 20 or more, that
 * random_token() calls random; not in identifier fields, not in members
 * named for public or hashed data, not in public keys or certificates
 * (armoured, base64 DER, base64 PEM, OpenSSH), and in a URL only in its
 * query string (a document ID in a path is not a secret).
 */
static int detect_generic(struct scan *sc)
{
	static const char *const public_names[] = {"public", "pubkey", "cert",
		"fingerprint", "thumbprint", "checksum", "digest", "hash",
		"integrity", "etag", "sha1", "sha256", "sha512"};
	static const char *const public_data[] = {"-----BEGIN", "ssh-rsa ",
		"ssh-ed25519 ", "ssh-dss ", "ecdsa-sha2-", "sk-ssh-",
		"sk-ecdsa-", ";base64,", "LS0tLS1CRUdJTi"};
	const char *s = sc->s, *q;
	size_t n = sc->n, i = 0, k, e, pe;
	bool checked = false;
	int r;

	if ((sc->mask & K_ALNUM) != K_ALNUM || n < 20)
		return 0;
	if (contains(s, n, "://")) {
		if (!(q = memchr(s, '?', n)))
			return 0;
		i = (size_t)(q - s) + 1;
	}
	while (i < n) {
		if (!is(s[i], K_TOKEN)) {
			i++;
			continue;
		}
		e = run_end(s, n, i, K_TOKEN);
		for (pe = e; pe < n && pe - e < 2 && s[pe] == '='; pe++)
			;
		i = skip_path(s, i, e);
		if (e - i < 20 ||
			!random_token(s + i, e - i, sc->st->threshold)) {
			i = pe;
			continue;
		}
		if (public_der(s + i, e - i)) {
			i = pe;
			continue;
		}
		/* The rest costs more, and is for the few random tokens. */
		if (!checked) {
			for (k = 0; k < sizeof(public_names) /
						sizeof(*public_names);
				k++)
				if (name_has(sc->st->name, public_names[k]))
					return 0;
			for (k = 0;
				k < sizeof(public_data) / sizeof(*public_data);
				k++)
				if (contains(s, n, public_data[k]))
					return 0;
			if (identifier(sc))
				return 0;
			checked = true;
		}
		r = emit(sc, SECRETS_HIGH_ENTROPY, "high-entropy string", i,
			pe - i);
		if (r < 0)
			return r;
		i = pe;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * The detectors of known formats, most specific first (a span reported
 * is not reported again), each with the classes of characters it needs
 * all of and the shortest string it can match, checked here so that a
 * string calls only the detectors it can feed.
 */
static const struct detector {
	int (*fn)(struct scan *);
	unsigned int need; /* classes, all of them */
	size_t min;	   /* length of the string */
	size_t run;	   /* longest_token() */
} structural[] = {
	{detect_pem, K_DASH | K_UP, 40, 40},
	{detect_pem_base64, K_ALNUM, 100, 100},
	{detect_jwt, K_DOT | K_UP | K_LO, 40, 16},
	{detect_github, K_UNDER | K_LO, 40, 40},
	{detect_slack, K_DASH | K_LO | K_DI, 25, 25},
	{detect_slack_webhook, K_DOT | K_SLASH | K_LO, 40, 16},
	{detect_azure_client_secret, K_TILDE | K_UP | K_DI, 37, 0},
	{detect_otp_seed, K_EQ | K_COLON | K_SLASH, 30, 16},
	{detect_aws_akid, K_UP, 20, 20},
	{detect_assignments, K_EQ, 5, 0},
	{detect_url_password, K_COLON | K_AT | K_SLASH, 10, 0},
	{detect_aws_secret, K_ALNUM, 40, 40},
};
#define NSTRUCTURAL (sizeof(structural) / sizeof(*structural))

/*
 * The entries of structural[] that need no run, in order: all that a
 * string without one (a short string, prose) can feed.
 */
static const struct detector *runless[NSTRUCTURAL + 1];
/* Characters at least one of which each of them needs ('=', '@', ...). */
static unsigned int runless_any;
#define RARE (K_EQ | K_AT | K_TILDE | K_SLASH | K_COLON | K_PLUS | K_UNDER)

static void init_runless(void)
{
	size_t i, k = 0;

	for (i = 0; i < NSTRUCTURAL; i++) {
		if (structural[i].run)
			continue;
		runless[k++] = &structural[i];
		runless_any |= structural[i].need & RARE;
	}
	runless[k] = NULL;
}

/* Call the detectors the string can feed, in order of structural[]. */
static int run_structural(struct scan *sc)
{
	const struct detector *d, *const *p;
	int r;

	if (sc->longest < MIN_RUN) {
		if (!(sc->mask & runless_any))
			return 0;
		for (p = runless; (d = *p) != NULL; p++)
			if (sc->n >= d->min &&
				(sc->mask & d->need) == d->need &&
				(r = d->fn(sc)) < 0)
				return r;
		return 0;
	}
	for (d = structural; d < structural + NSTRUCTURAL; d++)
		if (sc->n >= d->min && (sc->mask & d->need) == d->need &&
			sc->longest >= d->run && (r = d->fn(sc)) < 0)
			return r;
	return 0;
}

int cspf_secrets_detect(const cspf_secrets_str *st)
{
	unsigned int name;
	struct scan sc;
	const char *kind;
	int r;

	/* Nothing shorter than "pwd=x" is reported. */
	if (st->len < 5)
		return 0;
	sc.st = st;
	sc.s = st->s;
	sc.n = st->len;
	sc.mask = mask_of(sc.s, sc.n);
	sc.longest = sc.n >= 20 ? longest_run(sc.s, sc.n) : 0;
	sc.hits = 0;
	sc.identifier = -1;
	sc.akid_near = -1;
	sc.nspans = 0;
	if ((r = run_structural(&sc)) < 0)
		return r;
	/* Then what the member's name says, for its own value only. */
	if (!sc.hits && st->name && st->direct && sc.n >= 6 &&
		!(sc.mask & K_SPACE) &&
		(name = name_class(st->name, st_name_len(st), &kind)) != 0) {
		if ((r = detect_azure_named(&sc, name)) < 0)
			return r;
		if (!sc.hits && (r = detect_password_field(&sc, name)) < 0)
			return r;
		if (!sc.hits && (r = detect_secret_field(&sc, name, kind)) < 0)
			return r;
	}
	/* Prose: a password written after the word. */
	if (!sc.hits && (sc.mask & K_SPACE) && sc.n >= 12 && !st->in_key &&
		(r = detect_text_password(&sc)) < 0)
		return r;
	if (!sc.hits && (sc.mask & K_ALNUM) == K_ALNUM && sc.n >= 20 &&
		sc.longest >= 20 && (r = detect_generic(&sc)) < 0)
		return r;
	return sc.hits;
}
