#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char cspf_buf__empty[1];

int cspf_buf_grow(cspf_buf *b, size_t extra)
{
	size_t need, nsize;
	char *p;

	if (b->oom)
		return -1;
	if (extra > SIZE_MAX - b->size - 1)
		goto fail;
	need = b->size + extra + 1;
	if (need <= b->asize)
		return 0;
	nsize = b->asize ? b->asize : 64;
	while (nsize < need)
		nsize = nsize > SIZE_MAX / 2 ? need : nsize * 2;
	p = realloc(b->asize ? b->ptr : NULL, nsize);
	if (!p)
		goto fail;
	if (!b->asize)
		p[0] = '\0';
	b->ptr = p;
	b->asize = nsize;
	return 0;
fail:
	b->oom = true;
	return -1;
}

int cspf_buf_put(cspf_buf *b, const char *data, size_t len)
{
	if (cspf_buf_grow(b, len) < 0)
		return -1;
	if (len)
		memmove(b->ptr + b->size, data, len);
	b->size += len;
	b->ptr[b->size] = '\0';
	return 0;
}

int cspf_buf_puts(cspf_buf *b, const char *s)
{
	return cspf_buf_put(b, s, strlen(s));
}

int cspf_buf_putc(cspf_buf *b, char c)
{
	return cspf_buf_put(b, &c, 1);
}

int cspf_buf_vprintf(cspf_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (b->oom)
		return -1;
	va_copy(cp, ap);
	n = vsnprintf(b->ptr + b->size, b->asize ? b->asize - b->size : 0,
		fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->oom = true;
		return -1;
	}
	if (b->asize && (size_t)n < b->asize - b->size) {
		b->size += (size_t)n;
		return 0;
	}
	if (cspf_buf_grow(b, (size_t)n) < 0)
		return -1;
	va_copy(cp, ap);
	vsnprintf(b->ptr + b->size, b->asize - b->size, fmt, cp);
	va_end(cp);
	b->size += (size_t)n;
	return 0;
}

int cspf_buf_printf(cspf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = cspf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int cspf_buf_put_json_escaped(cspf_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		const char *rep = NULL;

		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0';
				esc[3] = '0'; esc[4] = hex[c >> 4];
				esc[5] = hex[c & 15]; esc[6] = '\0';
				rep = esc;
			}
		}
		if (rep) {
			cspf_buf_put(b, s + start, i - start);
			cspf_buf_puts(b, rep);
			start = i + 1;
		}
	}
	return cspf_buf_put(b, s + start, len - start);
}

int cspf_buf_put_pointer_token(cspf_buf *b, const char *s, size_t len)
{
	size_t i, start = 0;

	cspf_buf_putc(b, '/');
	for (i = 0; i < len; i++) {
		if (s[i] == '~' || s[i] == '/') {
			cspf_buf_put(b, s + start, i - start);
			cspf_buf_puts(b, s[i] == '~' ? "~0" : "~1");
			start = i + 1;
		}
	}
	return cspf_buf_put(b, s + start, len - start);
}

void cspf_buf_truncate(cspf_buf *b, size_t len)
{
	if (len < b->size) {
		b->size = len;
		b->ptr[len] = '\0';
	}
}

char *cspf_buf_detach(cspf_buf *b)
{
	char *p;

	if (b->oom) {
		cspf_buf_dispose(b);
		return NULL;
	}
	p = b->asize ? b->ptr : strdup("");
	b->ptr = cspf_buf__empty;
	b->size = b->asize = 0;
	return p;
}

void cspf_buf_dispose(cspf_buf *b)
{
	if (b->asize)
		free(b->ptr);
	b->ptr = cspf_buf__empty;
	b->size = b->asize = 0;
	b->oom = false;
}

size_t cspf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src), k = n < size ? n : size - 1;

	memcpy(dst, src, k);
	dst[k] = '\0';
	return n;
}
