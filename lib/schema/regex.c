/*
 * ECMA-262 regular expressions on PCRE2.
 *
 * JSON Schema patterns are ECMA-262 with the "u" flag (patterns are
 * Unicode text: "\p{Letter}" works, an astral character is one
 * character).  PCRE2 differs from it in syntax (PCRE2 knows \A, \Z, \h,
 * POSIX classes, verbs, inline options; ECMA knows \cX, \u{...}, [^])
 * and in meaning (".", "\s").  So a pattern is first parsed as ECMA-262
 * and written out again as an equivalent PCRE2 pattern made only of
 * constructs whose meaning both agree on: literal code points become
 * \x{...}, "." and "\s" become explicit classes, group syntax is checked.
 * Whatever ECMA-262 rejects in Unicode mode is rejected here, with the
 * offset in the original pattern.  What remains different is listed in
 * docs/regex.md.
 *
 * Matching shares the compiled (and where possible JIT-compiled) code;
 * each thread keeps its own match data, match context and JIT stack,
 * freed by a thread-specific-data destructor when the thread ends.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "schema/regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/common.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

/* Backtracking steps before a match gives up with an error. */
#define CSPF_REGEX_MATCH_LIMIT 5000000u
/* Backtracking memory of the interpreter, in KiB. */
#define CSPF_REGEX_HEAP_LIMIT (64u * 1024u)
#define CSPF_REGEX_JIT_STACK_MAX (1024u * 1024u)

struct cspf_regex {
	pcre2_code *code;
};

/*
 * ECMA-262 WhiteSpace and LineTerminator: TAB, VT, FF, SP, NBSP, ZWNBSP,
 * the Zs category (U+1680, U+2000-U+200A, U+202F, U+205F, U+3000), LF,
 * CR, LS, PS.  PCRE2's \s (without PCRE2_UCP, which would also widen \d
 * and \w) knows only the ASCII ones.
 */
#define ECMA_SPACE_ITEMS                                                      \
	"\\x{9}-\\x{D}\\x{20}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"             \
	"\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"

/* ECMA-262 ".": anything but a LineTerminator */
#define ECMA_DOT "[^\\x{A}\\x{D}\\x{2028}\\x{2029}]"

/*
 * A class that matches nothing.  PCRE2's own "[]" will not do: 10.42
 * fails "[]*" on "", and takes "(?:[])" for variable-length inside a
 * lookbehind.
 */
#define EMPTY_CLASS "[^\\x{0}-\\x{10FFFF}]"
/* ECMA-262's "[^]", any character at all */
#define ANY_CHAR "[\\x{0}-\\x{10FFFF}]"

/* The state of one translation. */
struct xlate {
	const char *src;
	size_t len;
	size_t pos;
	cspf_buf out;
	unsigned int ngroups; /* capturing groups in the whole pattern */
	/* (offset in out, offset in src) pairs, to map PCRE2's offsets back */
	size_t (*map)[2];
	size_t nmap, amap;
	bool nomem;
	size_t err_off;
	const char *err;
};

static int fail(struct xlate *x, size_t off, const char *msg)
{
	if (!x->err) {
		x->err = msg;
		x->err_off = off;
	}
	return -1;
}

static void mark(struct xlate *x, size_t src_off)
{
	size_t (*m)[2];
	size_t n;

	if (x->nmap == x->amap) {
		n = x->amap ? x->amap * 2 : 64;
		m = realloc(x->map, n * sizeof(*m));
		if (!m) {
			x->nomem = true;
			return;
		}
		x->map = m;
		x->amap = n;
	}
	x->map[x->nmap][0] = x->out.size;
	x->map[x->nmap][1] = src_off;
	x->nmap++;
}

static size_t map_back(const struct xlate *x, size_t out_off)
{
	size_t lo = 0, hi = x->nmap, mid;

	/* the last mark at or before out_off */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (x->map[mid][0] <= out_off)
			lo = mid;
		else
			hi = mid;
	}
	if (x->nmap == 0)
		return 0;
	return x->map[lo][1];
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(uint32_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hexval(uint32_t c)
{
	if (is_digit(c))
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

static bool is_surrogate(uint32_t c)
{
	return c >= 0xD800 && c <= 0xDFFF;
}

/*
 * Decode the UTF-8 character at x->pos into *cp without consuming it;
 * returns its length, or 0 (with the error set) when the bytes are not
 * well-formed UTF-8 or the pattern has ended.
 */
static size_t peek(struct xlate *x, size_t at, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)x->src + at;
	size_t left = x->len - at, n, i;
	uint32_t c, min;

	if (at >= x->len)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		fail(x, at, "pattern is not valid UTF-8");
		return 0;
	}
	if (left < n) {
		fail(x, at, "pattern is not valid UTF-8");
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			fail(x, at, "pattern is not valid UTF-8");
			return 0;
		}
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || is_surrogate(c)) {
		fail(x, at, "pattern is not valid UTF-8");
		return 0;
	}
	*cp = c;
	return n;
}

/* The ASCII byte at x->pos + k, or -1 past the end. */
static int at(const struct xlate *x, size_t k)
{
	if (x->pos + k >= x->len)
		return -1;
	return (unsigned char)x->src[x->pos + k];
}

/*
 * Write one code point as a PCRE2 literal that means the same inside and
 * outside a class: ASCII letters and digits as they are, other ASCII
 * printables escaped with '\' (always literal in PCRE2), the rest as
 * \x{...}.  A lone surrogate (from "\uD800") cannot occur in UTF-8 text,
 * so it is written as a class that matches nothing, or nothing at all
 * inside a class.
 */
static void put_cp(struct xlate *x, uint32_t cp, bool in_class)
{
	if (is_surrogate(cp)) {
		if (!in_class)
			cspf_buf_puts(&x->out, EMPTY_CLASS);
	} else if (cp < 0x80 && (is_alpha(cp) || is_digit(cp))) {
		cspf_buf_putc(&x->out, (char)cp);
	} else if (cp > 0x20 && cp < 0x7F) {
		cspf_buf_putc(&x->out, '\\');
		cspf_buf_putc(&x->out, (char)cp);
	} else {
		cspf_buf_printf(&x->out, "\\x{%X}", (unsigned int)cp);
	}
}

/* A range lo-hi inside a class, without the surrogates PCRE2 refuses. */
static void put_range(struct xlate *x, uint32_t lo, uint32_t hi)
{
	if (is_surrogate(lo))
		lo = 0xE000;
	if (is_surrogate(hi))
		hi = 0xD7FF;
	if (lo > hi)
		return;
	put_cp(x, lo, true);
	cspf_buf_putc(&x->out, '-');
	put_cp(x, hi, true);
}

/* Up to `n` hex digits after x->pos (exactly n when `exact`). */
static bool hex_digits(struct xlate *x, size_t n, uint32_t *v)
{
	size_t i;
	int h;

	*v = 0;
	for (i = 0; i < n; i++) {
		h = at(x, i);
		if (h < 0 || hexval((uint32_t)h) < 0)
			return false;
		*v = *v * 16 + (uint32_t)hexval((uint32_t)h);
	}
	x->pos += n;
	return true;
}

/*
 * After "\u": RegExpUnicodeEscapeSequence[+UnicodeMode]: "{" hex "}" up
 * to 10FFFF, or four hex digits, a lead surrogate followed by "\u" and a
 * trail surrogate making one code point.
 */
static int unicode_escape(struct xlate *x, size_t start, uint32_t *cp)
{
	uint32_t v = 0, trail;
	size_t save;
	int h;
	bool any = false;

	if (at(x, 0) == '{') {
		x->pos++;
		while ((h = at(x, 0)) >= 0 && hexval((uint32_t)h) >= 0) {
			v = v * 16 + (uint32_t)hexval((uint32_t)h);
			if (v > 0x10FFFF)
				return fail(x, start,
					"\\u{...} beyond U+10FFFF");
			any = true;
			x->pos++;
		}
		if (!any || at(x, 0) != '}')
			return fail(x, start, "invalid \\u{...} escape");
		x->pos++;
		*cp = v;
		return 0;
	}
	if (!hex_digits(x, 4, &v))
		return fail(x, start, "invalid \\u escape");
	if (v >= 0xD800 && v <= 0xDBFF && at(x, 0) == '\\' && at(x, 1) == 'u') {
		save = x->pos;
		x->pos += 2;
		if (hex_digits(x, 4, &trail) && trail >= 0xDC00 &&
		    trail <= 0xDFFF) {
			v = 0x10000 + ((v - 0xD800) << 10) + (trail - 0xDC00);
		} else {
			x->pos = save;
		}
	}
	*cp = v;
	return 0;
}

/*
 * CharacterEscape[+UnicodeMode] after the backslash at `start` (x->pos is
 * at the escaped character): ControlEscape, "c" AsciiLetter, "0" not
 * followed by a digit, HexEscapeSequence, RegExpUnicodeEscapeSequence or
 * an IdentityEscape (a SyntaxCharacter or "/"; "-" too inside a class).
 */
static int char_escape(struct xlate *x, size_t start, bool in_class,
	uint32_t *cp)
{
	static const char control[] = "f\fn\nr\rt\tv\v";
	const char *ctl;
	int c = at(x, 0);

	if (c < 0)
		return fail(x, start, "\\ at end of pattern");
	x->pos++;
	ctl = c > 0 ? strchr(control, c) : NULL;
	if (ctl && (ctl - control) % 2 == 0) {
		*cp = (uint32_t)ctl[1];
		return 0;
	}
	switch (c) {
	case 'c':
		c = at(x, 0);
		if (c < 0 || !is_alpha((uint32_t)c))
			return fail(x, start, "invalid \\c escape");
		x->pos++;
		*cp = (uint32_t)c % 32;
		return 0;
	case '0':
		if ((c = at(x, 0)) >= 0 && is_digit((uint32_t)c))
			return fail(x, start, "invalid decimal escape");
		*cp = 0;
		return 0;
	case 'x':
		if (!hex_digits(x, 2, cp))
			return fail(x, start, "invalid \\x escape");
		return 0;
	case 'u':
		return unicode_escape(x, start, cp);
	case '^': case '$': case '\\': case '.': case '*': case '+':
	case '?': case '(': case ')': case '[': case ']': case '{':
	case '}': case '|': case '/':
		*cp = (uint32_t)c;
		return 0;
	case '-':
		if (in_class) {
			*cp = '-';
			return 0;
		}
		break;
	}
	return fail(x, start, "invalid escape");
}

/* clang-format off */
/* General_Category values and aliases (ECMA-262 table 69) -> PCRE2 name */
static const char *const gc_names[][2] = {
	{ "C", "C" }, { "Other", "C" },
	{ "Cc", "Cc" }, { "Control", "Cc" }, { "cntrl", "Cc" },
	{ "Cf", "Cf" }, { "Format", "Cf" },
	{ "Cn", "Cn" }, { "Unassigned", "Cn" },
	{ "Co", "Co" }, { "Private_Use", "Co" },
	{ "Cs", "Cs" }, { "Surrogate", "Cs" },
	{ "L", "L" }, { "Letter", "L" },
	{ "LC", "L&" }, { "Cased_Letter", "L&" },
	{ "Ll", "Ll" }, { "Lowercase_Letter", "Ll" },
	{ "Lm", "Lm" }, { "Modifier_Letter", "Lm" },
	{ "Lo", "Lo" }, { "Other_Letter", "Lo" },
	{ "Lt", "Lt" }, { "Titlecase_Letter", "Lt" },
	{ "Lu", "Lu" }, { "Uppercase_Letter", "Lu" },
	{ "M", "M" }, { "Mark", "M" }, { "Combining_Mark", "M" },
	{ "Mc", "Mc" }, { "Spacing_Mark", "Mc" },
	{ "Me", "Me" }, { "Enclosing_Mark", "Me" },
	{ "Mn", "Mn" }, { "Nonspacing_Mark", "Mn" },
	{ "N", "N" }, { "Number", "N" },
	{ "Nd", "Nd" }, { "Decimal_Number", "Nd" }, { "digit", "Nd" },
	{ "Nl", "Nl" }, { "Letter_Number", "Nl" },
	{ "No", "No" }, { "Other_Number", "No" },
	{ "P", "P" }, { "Punctuation", "P" }, { "punct", "P" },
	{ "Pc", "Pc" }, { "Connector_Punctuation", "Pc" },
	{ "Pd", "Pd" }, { "Dash_Punctuation", "Pd" },
	{ "Pe", "Pe" }, { "Close_Punctuation", "Pe" },
	{ "Pf", "Pf" }, { "Final_Punctuation", "Pf" },
	{ "Pi", "Pi" }, { "Initial_Punctuation", "Pi" },
	{ "Po", "Po" }, { "Other_Punctuation", "Po" },
	{ "Ps", "Ps" }, { "Open_Punctuation", "Ps" },
	{ "S", "S" }, { "Symbol", "S" },
	{ "Sc", "Sc" }, { "Currency_Symbol", "Sc" },
	{ "Sk", "Sk" }, { "Modifier_Symbol", "Sk" },
	{ "Sm", "Sm" }, { "Math_Symbol", "Sm" },
	{ "So", "So" }, { "Other_Symbol", "So" },
	{ "Z", "Z" }, { "Separator", "Z" },
	{ "Zl", "Zl" }, { "Line_Separator", "Zl" },
	{ "Zp", "Zp" }, { "Paragraph_Separator", "Zp" },
	{ "Zs", "Zs" }, { "Space_Separator", "Zs" },
};

/*
 * Binary properties (ECMA-262 table 68) -> PCRE2 name.  "Any", "ASCII"
 * and "Assigned" are special-cased; NULL marks what PCRE2 10.42 lacks.
 */
static const char *const binary_names[][2] = {
	{ "ASCII_Hex_Digit", "ASCII_Hex_Digit" }, { "AHex", "ASCII_Hex_Digit" },
	{ "Alphabetic", "Alphabetic" }, { "Alpha", "Alphabetic" },
	{ "Bidi_Control", "Bidi_Control" }, { "Bidi_C", "Bidi_Control" },
	{ "Bidi_Mirrored", "Bidi_Mirrored" }, { "Bidi_M", "Bidi_Mirrored" },
	{ "Case_Ignorable", "Case_Ignorable" }, { "CI", "Case_Ignorable" },
	{ "Cased", "Cased" },
	{ "Changes_When_Casefolded", "Changes_When_Casefolded" },
	{ "CWCF", "Changes_When_Casefolded" },
	{ "Changes_When_Casemapped", "Changes_When_Casemapped" },
	{ "CWCM", "Changes_When_Casemapped" },
	{ "Changes_When_Lowercased", "Changes_When_Lowercased" },
	{ "CWL", "Changes_When_Lowercased" },
	{ "Changes_When_NFKC_Casefolded", NULL }, { "CWKCF", NULL },
	{ "Changes_When_Titlecased", "Changes_When_Titlecased" },
	{ "CWT", "Changes_When_Titlecased" },
	{ "Changes_When_Uppercased", "Changes_When_Uppercased" },
	{ "CWU", "Changes_When_Uppercased" },
	{ "Dash", "Dash" },
	{ "Default_Ignorable_Code_Point", "Default_Ignorable_Code_Point" },
	{ "DI", "Default_Ignorable_Code_Point" },
	{ "Deprecated", "Deprecated" }, { "Dep", "Deprecated" },
	{ "Diacritic", "Diacritic" }, { "Dia", "Diacritic" },
	{ "Emoji", "Emoji" },
	{ "Emoji_Component", "Emoji_Component" },
	{ "EComp", "Emoji_Component" },
	{ "Emoji_Modifier", "Emoji_Modifier" }, { "EMod", "Emoji_Modifier" },
	{ "Emoji_Modifier_Base", "Emoji_Modifier_Base" },
	{ "EBase", "Emoji_Modifier_Base" },
	{ "Emoji_Presentation", "Emoji_Presentation" },
	{ "EPres", "Emoji_Presentation" },
	{ "Extended_Pictographic", "Extended_Pictographic" },
	{ "ExtPict", "Extended_Pictographic" },
	{ "Extender", "Extender" }, { "Ext", "Extender" },
	{ "Grapheme_Base", "Grapheme_Base" }, { "Gr_Base", "Grapheme_Base" },
	{ "Grapheme_Extend", "Grapheme_Extend" },
	{ "Gr_Ext", "Grapheme_Extend" },
	{ "Hex_Digit", "Hex_Digit" }, { "Hex", "Hex_Digit" },
	{ "IDS_Binary_Operator", "IDS_Binary_Operator" },
	{ "IDSB", "IDS_Binary_Operator" },
	{ "IDS_Trinary_Operator", "IDS_Trinary_Operator" },
	{ "IDST", "IDS_Trinary_Operator" },
	{ "ID_Continue", "ID_Continue" }, { "IDC", "ID_Continue" },
	{ "ID_Start", "ID_Start" }, { "IDS", "ID_Start" },
	{ "Ideographic", "Ideographic" }, { "Ideo", "Ideographic" },
	{ "Join_Control", "Join_Control" }, { "Join_C", "Join_Control" },
	{ "Logical_Order_Exception", "Logical_Order_Exception" },
	{ "LOE", "Logical_Order_Exception" },
	{ "Lowercase", "Lowercase" }, { "Lower", "Lowercase" },
	{ "Math", "Math" },
	{ "Noncharacter_Code_Point", "Noncharacter_Code_Point" },
	{ "NChar", "Noncharacter_Code_Point" },
	{ "Pattern_Syntax", "Pattern_Syntax" }, { "Pat_Syn", "Pattern_Syntax" },
	{ "Pattern_White_Space", "Pattern_White_Space" },
	{ "Pat_WS", "Pattern_White_Space" },
	{ "Quotation_Mark", "Quotation_Mark" }, { "QMark", "Quotation_Mark" },
	{ "Radical", "Radical" },
	{ "Regional_Indicator", "Regional_Indicator" },
	{ "RI", "Regional_Indicator" },
	{ "Sentence_Terminal", "Sentence_Terminal" },
	{ "STerm", "Sentence_Terminal" },
	{ "Soft_Dotted", "Soft_Dotted" }, { "SD", "Soft_Dotted" },
	{ "Terminal_Punctuation", "Terminal_Punctuation" },
	{ "Term", "Terminal_Punctuation" },
	{ "Unified_Ideograph", "Unified_Ideograph" },
	{ "UIdeo", "Unified_Ideograph" },
	{ "Uppercase", "Uppercase" }, { "Upper", "Uppercase" },
	{ "Variation_Selector", "Variation_Selector" },
	{ "VS", "Variation_Selector" },
	{ "White_Space", "White_Space" }, { "space", "White_Space" },
	{ "XID_Continue", "XID_Continue" }, { "XIDC", "XID_Continue" },
	{ "XID_Start", "XID_Start" }, { "XIDS", "XID_Start" },
};
/* clang-format on */

static bool span_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(s, name, n);
}

static const char *table_find(const char *const (*t)[2], size_t count,
	const char *s, size_t n, bool *found)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (span_is(s, n, t[i][0])) {
			*found = true;
			return t[i][1];
		}
	}
	*found = false;
	return NULL;
}

/*
 * After "\p" or "\P": "{" UnicodePropertyValueExpression "}", that is
 * General_Category or Script(_Extensions) "=" value, or a lone
 * General_Category value or binary property.  ECMA-262 matches names
 * exactly (case-sensitively), so this does too before handing PCRE2 its
 * own spelling.  Script names are checked by PCRE2, which is lenient
 * about case.
 */
static int property(struct xlate *x, size_t start, bool neg, bool in_class)
{
	const char *s, *eq, *pcre;
	size_t n, i, nlen;
	bool found;
	char p = neg ? 'P' : 'p';

	if (at(x, 0) != '{')
		return fail(x, start, "invalid property escape");
	x->pos++;
	s = x->src + x->pos;
	for (n = 0; x->pos + n < x->len && s[n] != '}'; n++) {
		if (!is_alpha((unsigned char)s[n]) &&
		    !is_digit((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '=')
			return fail(x, start, "invalid property escape");
	}
	if (x->pos + n >= x->len || n == 0)
		return fail(x, start, "invalid property escape");
	x->pos += n + 1;

	eq = memchr(s, '=', n);
	if (eq) {
		nlen = (size_t)(eq - s);
		i = nlen + 1;
		if (i == n || memchr(eq + 1, '=', n - i))
			return fail(x, start, "invalid property escape");
		if (span_is(s, nlen, "General_Category") ||
		    span_is(s, nlen, "gc")) {
			pcre = table_find(gc_names, sizeof(gc_names) /
				sizeof(gc_names[0]), s + i, n - i, &found);
			if (!found)
				return fail(x, start, "unknown property value");
			cspf_buf_printf(&x->out, "\\%c{%s}", p, pcre);
			return 0;
		}
		if (span_is(s, nlen, "Script") || span_is(s, nlen, "sc")) {
			cspf_buf_printf(&x->out, "\\%c{sc:%.*s}", p,
				(int)(n - i), s + i);
			return 0;
		}
		if (span_is(s, nlen, "Script_Extensions") ||
		    span_is(s, nlen, "scx")) {
			cspf_buf_printf(&x->out, "\\%c{scx:%.*s}", p,
				(int)(n - i), s + i);
			return 0;
		}
		return fail(x, start, "unknown property name");
	}

	pcre = table_find(gc_names, sizeof(gc_names) / sizeof(gc_names[0]),
		s, n, &found);
	if (found) {
		cspf_buf_printf(&x->out, "\\%c{%s}", p, pcre);
		return 0;
	}
	if (span_is(s, n, "Any")) {
		cspf_buf_printf(&x->out, "\\%c{Any}", p);
		return 0;
	}
	if (span_is(s, n, "Assigned")) {
		cspf_buf_printf(&x->out, "\\%c{Cn}", neg ? 'p' : 'P');
		return 0;
	}
	if (span_is(s, n, "ASCII")) {
		/* POSIX classes are ASCII-only without PCRE2_UCP */
		if (in_class)
			cspf_buf_puts(&x->out,
				neg ? "[:^ascii:]" : "[:ascii:]");
		else
			cspf_buf_puts(&x->out,
				neg ? "[[:^ascii:]]" : "[[:ascii:]]");
		return 0;
	}
	pcre = table_find(binary_names, sizeof(binary_names) /
		sizeof(binary_names[0]), s, n, &found);
	if (!found)
		return fail(x, start, "unknown property name");
	if (!pcre)
		return fail(x, start, "property not supported by PCRE2");
	cspf_buf_printf(&x->out, "\\%c{%s}", p, pcre);
	return 0;
}

/* One item of a character class: a code point, or a set (written out). */
enum { ITEM_CP, ITEM_SET, ITEM_NOT_SPACE };

static int class_atom(struct xlate *x, uint32_t *cp)
{
	size_t start = x->pos, n;
	int c;

	if (at(x, 0) != '\\') {
		n = peek(x, x->pos, cp);
		if (n == 0)
			return -1;
		x->pos += n;
		return ITEM_CP;
	}
	x->pos++;
	c = at(x, 0);
	switch (c) {
	case 'b':
		x->pos++;
		*cp = 0x08;
		return ITEM_CP;
	case 'd': case 'D': case 'w': case 'W':
		/* ASCII sets in PCRE2 without PCRE2_UCP, as in ECMA-262 */
		x->pos++;
		cspf_buf_putc(&x->out, '\\');
		cspf_buf_putc(&x->out, (char)c);
		return ITEM_SET;
	case 's':
		x->pos++;
		cspf_buf_puts(&x->out, ECMA_SPACE_ITEMS);
		return ITEM_SET;
	case 'S':
		x->pos++;
		return ITEM_NOT_SPACE;
	case 'p': case 'P':
		x->pos++;
		if (property(x, start, c == 'P', true) < 0)
			return -1;
		return ITEM_SET;
	}
	if (char_escape(x, start, true, cp) < 0)
		return -1;
	return ITEM_CP;
}

/*
 * A CharacterClass, x->pos just after "[".  PCRE2 cannot say "anything
 * but whitespace" inside a class with ECMA's whitespace, so a class
 * holding "\S" becomes an alternation:
 *   [X\S]   -> (?:[X]|[^WS])
 *   [^X\S]  -> (?:(?![X])[WS])
 */
static int char_class(struct xlate *x)
{
	size_t start = x->pos - 1, items, k, a_start;
	bool neg = false, not_space = false;
	uint32_t a, b;
	int ka, kb;
	cspf_buf body = CSPF_BUF_INIT;

	if (at(x, 0) == '^') {
		neg = true;
		x->pos++;
	}
	items = x->out.size;
	for (;;) {
		if (at(x, 0) < 0)
			return fail(x, start, "unterminated character class");
		if (at(x, 0) == ']') {
			x->pos++;
			break;
		}
		a_start = x->out.size;
		if ((ka = class_atom(x, &a)) < 0)
			return -1;
		if (ka == ITEM_NOT_SPACE)
			not_space = true;
		if (at(x, 0) == '-' && at(x, 1) >= 0 && at(x, 1) != ']') {
			x->pos++;
			if ((kb = class_atom(x, &b)) < 0)
				return -1;
			if (ka != ITEM_CP || kb != ITEM_CP)
				return fail(x, start,
					"invalid character class range");
			if (a > b)
				return fail(x, start,
					"character class range out of order");
			cspf_buf_truncate(&x->out, a_start);
			put_range(x, a, b);
		} else if (ka == ITEM_CP) {
			put_cp(x, a, true);
		}
	}

	/* wrap the items written at out[items..] */
	k = x->out.size - items;
	cspf_buf_put(&body, x->out.ptr + items, k);
	cspf_buf_truncate(&x->out, items);
	if (!not_space && body.size == 0) {
		cspf_buf_puts(&x->out, neg ? ANY_CHAR : EMPTY_CLASS);
	} else if (!not_space) {
		cspf_buf_puts(&x->out, neg ? "[^" : "[");
		cspf_buf_put(&x->out, body.ptr, body.size);
		cspf_buf_putc(&x->out, ']');
	} else if (!neg) {
		if (body.size) {
			cspf_buf_puts(&x->out, "(?:[");
			cspf_buf_put(&x->out, body.ptr, body.size);
			cspf_buf_puts(&x->out, "]|[^" ECMA_SPACE_ITEMS "])");
		} else {
			cspf_buf_puts(&x->out, "[^" ECMA_SPACE_ITEMS "]");
		}
	} else {
		if (body.size) {
			cspf_buf_puts(&x->out, "(?:(?![");
			cspf_buf_put(&x->out, body.ptr, body.size);
			cspf_buf_puts(&x->out, "])[" ECMA_SPACE_ITEMS "])");
		} else {
			cspf_buf_puts(&x->out, "[" ECMA_SPACE_ITEMS "]");
		}
	}
	if (cspf_buf_oom(&body))
		x->nomem = true;
	cspf_buf_dispose(&body);
	return 0;
}

/* ECMA group names, limited to what PCRE2 10.42 accepts: ASCII words. */
static int group_name(struct xlate *x, size_t start, const char **name,
	size_t *n)
{
	size_t i = 0;
	int c;

	*name = x->src + x->pos;
	while ((c = at(x, i)) >= 0 && c != '>') {
		if (!is_alpha((uint32_t)c) && c != '_' &&
		    !(i > 0 && is_digit((uint32_t)c)))
			return fail(x, start,
				"invalid or unsupported group name (cspf "
				"takes ASCII letters, digits and '_')");
		i++;
	}
	if (c < 0 || i == 0)
		return fail(x, start, "invalid group name");
	*n = i;
	x->pos += i + 1;
	return 0;
}

/*
 * Count capturing groups ahead of the translation, so that "\2" can be
 * checked against the total (ECMA-262 allows forward references).
 */
static unsigned int count_groups(const char *s, size_t len)
{
	unsigned int n = 0;
	bool in_class = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (in_class) {
			if (s[i] == ']')
				in_class = false;
		} else if (s[i] == '[') {
			in_class = true;
		} else if (s[i] == '(') {
			if (i + 1 >= len || s[i + 1] != '?')
				n++;
			else if (i + 3 < len && s[i + 2] == '<' &&
				 s[i + 3] != '=' && s[i + 3] != '!')
				n++;
		}
	}
	return n;
}

/* A quantifier "{n}", "{n,}" or "{n,m}" at x->pos; false if none. */
static bool braces(struct xlate *x, size_t *end)
{
	size_t i = 1, d;
	uint64_t lo = 0, hi = 0;
	bool has_hi = false;
	int c;

	d = i;
	while ((c = at(x, i)) >= 0 && is_digit((uint32_t)c)) {
		if (lo < UINT32_MAX)
			lo = lo * 10 + (uint64_t)(c - '0');
		i++;
	}
	if (i == d)
		return false;
	if (at(x, i) == ',') {
		i++;
		d = i;
		while ((c = at(x, i)) >= 0 && is_digit((uint32_t)c)) {
			if (hi < UINT32_MAX)
				hi = hi * 10 + (uint64_t)(c - '0');
			i++;
		}
		has_hi = i > d;
	}
	if (at(x, i) != '}')
		return false;
	if (has_hi && lo > hi) {
		fail(x, x->pos, "numbers out of order in {} quantifier");
		return false;
	}
	*end = i + 1;
	return true;
}

/* Group kinds on the stack of open parentheses. */
enum { GROUP_PLAIN = 'g', GROUP_ASSERT = 'a' };

/*
 * Translate the whole pattern into x->out.  The parse is a loop with a
 * stack of open groups rather than a recursion, so that deep nesting in a
 * hostile pattern cannot exhaust the C stack.
 */
static int translate(struct xlate *x)
{
	cspf_buf stack = CSPF_BUF_INIT;
	bool can_quantify = false;
	size_t start, n, end = 0;
	const char *name;
	uint32_t cp, v;
	int c, rc = -1;

	x->ngroups = count_groups(x->src, x->len);
	while (x->pos < x->len) {
		start = x->pos;
		mark(x, start);
		c = at(x, 0);
		switch (c) {
		case '|':
			x->pos++;
			cspf_buf_putc(&x->out, '|');
			can_quantify = false;
			break;
		case '(':
			x->pos++;
			if (at(x, 0) != '?') {
				cspf_buf_putc(&stack, GROUP_PLAIN);
				cspf_buf_putc(&x->out, '(');
			} else if (at(x, 1) == ':') {
				x->pos += 2;
				cspf_buf_putc(&stack, GROUP_PLAIN);
				cspf_buf_puts(&x->out, "(?:");
			} else if (at(x, 1) == '=' || at(x, 1) == '!') {
				cspf_buf_putc(&stack, GROUP_ASSERT);
				cspf_buf_puts(&x->out, at(x, 1) == '=' ?
					"(?=" : "(?!");
				x->pos += 2;
			} else if (at(x, 1) == '<' &&
				   (at(x, 2) == '=' || at(x, 2) == '!')) {
				cspf_buf_putc(&stack, GROUP_ASSERT);
				cspf_buf_puts(&x->out, at(x, 2) == '=' ?
					"(?<=" : "(?<!");
				x->pos += 3;
			} else if (at(x, 1) == '<') {
				x->pos += 2;
				if (group_name(x, start, &name, &n) < 0)
					goto out;
				cspf_buf_putc(&stack, GROUP_PLAIN);
				cspf_buf_puts(&x->out, "(?<");
				cspf_buf_put(&x->out, name, n);
				cspf_buf_putc(&x->out, '>');
			} else {
				fail(x, start, "invalid group");
				goto out;
			}
			can_quantify = false;
			break;
		case ')':
			if (stack.size == 0) {
				fail(x, start, "unmatched ')'");
				goto out;
			}
			x->pos++;
			can_quantify = stack.ptr[stack.size - 1] == GROUP_PLAIN;
			cspf_buf_truncate(&stack, stack.size - 1);
			cspf_buf_putc(&x->out, ')');
			break;
		case '*': case '+': case '?': case '{':
			if (c == '{' && !braces(x, &end)) {
				fail(x, start, "lone quantifier bracket");
				goto out;
			}
			if (!can_quantify) {
				fail(x, start, "nothing to repeat");
				goto out;
			}
			if (c == '{') {
				cspf_buf_put(&x->out, x->src + x->pos, end);
				x->pos += end;
			} else {
				cspf_buf_putc(&x->out, (char)c);
				x->pos++;
			}
			if (at(x, 0) == '?') {
				cspf_buf_putc(&x->out, '?');
				x->pos++;
			}
			can_quantify = false;
			break;
		case '}': case ']':
			fail(x, start, "lone quantifier bracket");
			goto out;
		case '^':
			x->pos++;
			cspf_buf_putc(&x->out, '^');
			can_quantify = false;
			break;
		case '$':
			x->pos++;
			cspf_buf_putc(&x->out, '$');
			can_quantify = false;
			break;
		case '.':
			x->pos++;
			cspf_buf_puts(&x->out, ECMA_DOT);
			can_quantify = true;
			break;
		case '[':
			x->pos++;
			if (char_class(x) < 0)
				goto out;
			can_quantify = true;
			break;
		case '\\':
			x->pos++;
			c = at(x, 0);
			can_quantify = true;
			if (c == 'b' || c == 'B') {
				x->pos++;
				cspf_buf_putc(&x->out, '\\');
				cspf_buf_putc(&x->out, (char)c);
				can_quantify = false;
			} else if (c == 'd' || c == 'D' || c == 'w' ||
				   c == 'W') {
				x->pos++;
				cspf_buf_putc(&x->out, '\\');
				cspf_buf_putc(&x->out, (char)c);
			} else if (c == 's' || c == 'S') {
				x->pos++;
				cspf_buf_puts(&x->out, c == 's' ? "[" : "[^");
				cspf_buf_puts(&x->out, ECMA_SPACE_ITEMS "]");
			} else if (c == 'p' || c == 'P') {
				x->pos++;
				if (property(x, start, c == 'P', false) < 0)
					goto out;
			} else if (c >= '1' && c <= '9') {
				v = 0;
				while ((c = at(x, 0)) >= 0 &&
				       is_digit((uint32_t)c)) {
					if (v <= x->ngroups)
						v = v * 10 +
							(uint32_t)(c - '0');
					x->pos++;
				}
				if (v > x->ngroups) {
					fail(x, start, "invalid backreference");
					goto out;
				}
				/*
				 * In a group: the JIT of PCRE2 10.42 fails
				 * a repeated reference to an unset group
				 * ("\\1{2}(b)?" on ""), a group is fine.
				 */
				cspf_buf_printf(&x->out, "(?:\\g{%u})", v);
			} else if (c == 'k') {
				x->pos++;
				if (at(x, 0) != '<') {
					fail(x, start,
						"invalid named reference");
					goto out;
				}
				x->pos++;
				if (group_name(x, start, &name, &n) < 0)
					goto out;
				cspf_buf_puts(&x->out, "(?:\\k<");
				cspf_buf_put(&x->out, name, n);
				cspf_buf_puts(&x->out, ">)");
			} else {
				if (char_escape(x, start, false, &cp) < 0)
					goto out;
				put_cp(x, cp, false);
			}
			break;
		default:
			n = peek(x, x->pos, &cp);
			if (n == 0)
				goto out;
			x->pos += n;
			put_cp(x, cp, false);
			can_quantify = true;
			break;
		}
	}
	if (stack.size > 0) {
		fail(x, x->len, "missing ')'");
		goto out;
	}
	mark(x, x->len);
	rc = 0;
out:
	if (cspf_buf_oom(&stack))
		x->nomem = true;
	cspf_buf_dispose(&stack);
	return rc;
}

int cspf_regex_compile(cspf_regex **out, const char *pattern, size_t len)
{
	struct xlate x;
	cspf_regex *re;
	pcre2_code *code;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE erroff;
	int errcode, rc;

	*out = NULL;
	memset(&x, 0, sizeof(x));
	x.src = pattern ? pattern : "";
	x.len = len;
	x.out = (cspf_buf)CSPF_BUF_INIT;

	rc = translate(&x);
	if (x.nomem || cspf_buf_oom(&x.out)) {
		rc = cspf_error_set_oom();
		goto done;
	}
	if (rc < 0) {
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_REGEX,
			"invalid regular expression at offset %zu: %s",
			x.err_off, x.err);
		goto done;
	}

	code = pcre2_compile((PCRE2_SPTR)x.out.ptr, x.out.size,
		PCRE2_UTF | PCRE2_NO_UTF_CHECK |
		PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_UNSET_BACKREF |
		PCRE2_NEVER_BACKSLASH_C, &errcode, &erroff, NULL);
	if (!code) {
		if (errcode == PCRE2_ERROR_HEAP_FAILED) {
			rc = cspf_error_set_oom();
			goto done;
		}
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		rc = cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_REGEX,
			"invalid regular expression at offset %zu: %s",
			map_back(&x, erroff), (const char *)msg);
		goto done;
	}
	/* without JIT (unsupported CPU, no exec memory) the interpreter runs */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);

	re = malloc(sizeof(*re));
	if (!re) {
		pcre2_code_free(code);
		rc = cspf_error_set_oom();
		goto done;
	}
	re->code = code;
	*out = re;
	rc = 0;
done:
	free(x.map);
	cspf_buf_dispose(&x.out);
	return rc;
}

/* What each thread keeps for matching. */
struct match_cache {
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *js;
};

static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t cache_key;
static bool cache_key_ok;
static _Thread_local struct match_cache *cache;

static void cache_free(void *p)
{
	struct match_cache *c = p;

	if (!c)
		return;
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mc);
	pcre2_jit_stack_free(c->js);
	free(c);
	cache = NULL;
}

static void cache_key_make(void)
{
	cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

static struct match_cache *cache_get(void)
{
	struct match_cache *c;

	if (cache)
		return cache;
	pthread_once(&cache_once, cache_key_make);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->md = pcre2_match_data_create(1, NULL);
	c->mc = pcre2_match_context_create(NULL);
	if (!c->md || !c->mc) {
		cache_free(c);
		return NULL;
	}
	pcre2_set_match_limit(c->mc, CSPF_REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(c->mc, CSPF_REGEX_HEAP_LIMIT);
	/* NULL when JIT is unavailable; then the default stack is used */
	c->js = pcre2_jit_stack_create(32 * 1024, CSPF_REGEX_JIT_STACK_MAX,
		NULL);
	if (c->js)
		pcre2_jit_stack_assign(c->mc, NULL, c->js);
	if (cache_key_ok && pthread_setspecific(cache_key, c) != 0) {
		cache_free(c);
		return NULL;
	}
	cache = c;
	return c;
}

int cspf_regex_test(const cspf_regex *re, const char *s, size_t len)
{
	struct match_cache *c = cache_get();
	PCRE2_UCHAR msg[256];
	int rc;

	if (!c)
		return cspf_error_set_oom();
	rc = pcre2_match(re->code, (PCRE2_SPTR)(s ? s : ""), len, 0, 0, c->md,
		c->mc);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	pcre2_get_error_message(rc, msg, sizeof(msg));
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
	    rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_REGEX,
			"regular expression too costly on this string: %s",
			(const char *)msg);
	if (rc == PCRE2_ERROR_NOMEMORY)
		return cspf_error_set_oom();
	if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_REGEX,
			"string is not valid UTF-8: %s", (const char *)msg);
	return cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_REGEX,
		"regular expression match failed: %s", (const char *)msg);
}

void cspf_regex_free(cspf_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	free(re);
}
