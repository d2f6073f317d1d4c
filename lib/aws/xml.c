/*
 * XML for AWS answers, with libxml2 held on a short leash: no network,
 * no DTD, no entity substitution (a document that declares a DOCTYPE or
 * an entity is refused before libxml2 sees it), size and depth limits,
 * no printing (errors come back as cspf errors).
 *
 * STS answers hold secret keys and session tokens, and libxml2 copies
 * what it parses into its own buffers: its allocator is set, once, to
 * one that zeroes every block it frees.
 */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <sodium.h>

#include "aws_private.h"
#include "util/error.h"
#include "util/banned.h"

struct cspf_aws_xml {
	xmlDocPtr doc;
};

static void zfree(void *p)
{
	if (p) {
		sodium_memzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *zrealloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	old = malloc_usable_size(p);
	q = malloc(n ? n : 1);
	if (!q)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	zfree(p);
	return q;
}

static char *zstrdup(const char *s)
{
	return strdup(s);
}

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void init_once(void)
{
	xmlMemSetup(zfree, malloc, zrealloc, zstrdup);
	xmlInitParser();
	xmlSetGenericErrorFunc(NULL, quiet);
}

void cspf_aws_xml_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, init_once);
}

static int depth_ok(xmlNodePtr n, int depth)
{
	for (; n; n = n->next) {
		if (depth > 100)
			return 0;
		if (n->children && !depth_ok(n->children, depth + 1))
			return 0;
	}
	return 1;
}

int cspf_aws_xml_parse(cspf_aws_xml **out, const char *data, size_t len)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	const xmlError *e;
	cspf_aws_xml *x;

	*out = NULL;
	cspf_aws_xml_init();
	if (len > CSPF_AWS_XML_MAX || len > INT_MAX)
		return cspf_error_set(CSPF_ETOOBIG, CSPF_ERRCLASS_INVALID,
			"xml: document of %zu bytes is larger than %u", len,
			CSPF_AWS_XML_MAX);
	if (memmem(data, len, "<!DOCTYPE", 9) ||
		memmem(data, len, "<!ENTITY", 8) ||
		memmem(data, len, "<!doctype", 9))
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"xml: refusing a document with a DOCTYPE or entity "
			"declarations (AWS never sends one)");
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return cspf_error_set_oom();
	doc = xmlCtxtReadMemory(ctxt, data, (int)len, NULL, NULL,
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
		XML_PARSE_NOCDATA | XML_PARSE_NODICT);
	if (!doc) {
		e = xmlCtxtGetLastError(ctxt);
		cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"xml: not well-formed%s%s", e && e->message ? ": " : "",
			e && e->message ? e->message : "");
		/* libxml2's messages end with a newline */
		xmlFreeParserCtxt(ctxt);
		return CSPF_EINVALID;
	}
	xmlFreeParserCtxt(ctxt);
	if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc) ||
		!depth_ok(xmlDocGetRootElement(doc), 0)) {
		xmlFreeDoc(doc);
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"xml: refusing a document with a DTD, no root or too "
			"deep");
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		xmlFreeDoc(doc);
		return cspf_error_set_oom();
	}
	x->doc = doc;
	*out = x;
	return 0;
}

int cspf_aws_xml_parse_response(cspf_aws_xml **out,
	const cspf_http_response *resp)
{
	const char *data;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = cspf_http_response_body_open(&data, &len, resp)) < 0)
		return rc;
	rc = cspf_aws_xml_parse(out, data, len);
	cspf_http_response_body_close(resp);
	return rc;
}

void cspf_aws_xml_free(cspf_aws_xml *x)
{
	if (!x)
		return;
	xmlFreeDoc(x->doc); /* every block zeroed by zfree() */
	free(x);
}

const cspf_aws_xml_node *cspf_aws_xml_root(const cspf_aws_xml *x)
{
	return x ? xmlDocGetRootElement(x->doc) : NULL;
}

static const cspf_aws_xml_node *match(const xmlNode *n, const char *name)
{
	for (; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && (!name ||
			!strcmp((const char *)n->name, name)))
			return n;
	return NULL;
}

const cspf_aws_xml_node *cspf_aws_xml_child(const cspf_aws_xml_node *n,
	const char *name)
{
	return n ? match(n->children, name) : NULL;
}

const cspf_aws_xml_node *cspf_aws_xml_next(const cspf_aws_xml_node *n,
	const char *name)
{
	return n ? match(n->next, name) : NULL;
}

const cspf_aws_xml_node *cspf_aws_xml_path(const cspf_aws_xml_node *n,
	const char *path)
{
	char part[128];
	const char *p = path, *slash;
	size_t len;

	while (n && p && *p) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len >= sizeof(part))
			return NULL;
		memcpy(part, p, len);
		part[len] = '\0';
		n = cspf_aws_xml_child(n, part);
		p = slash ? slash + 1 : NULL;
	}
	return n;
}

const char *cspf_aws_xml_name(const cspf_aws_xml_node *n)
{
	return n ? (const char *)n->name : NULL;
}

char *cspf_aws_xml_text(const cspf_aws_xml_node *n)
{
	xmlChar *c;
	char *s;

	if (!n)
		return NULL;
	c = xmlNodeGetContent(n);
	s = strdup(c ? (const char *)c : "");
	xmlFree(c);
	return s;
}

char *cspf_aws_xml_get(const cspf_aws_xml_node *n, const char *path)
{
	return cspf_aws_xml_text(cspf_aws_xml_path(n, path));
}

int cspf_aws_xml_text_secret(cspf_secret **out, const cspf_aws_xml_node *n)
{
	xmlChar *c;
	int rc;

	*out = NULL;
	if (!n)
		return cspf_error_set(CSPF_ENOTFOUND, CSPF_ERRCLASS_INVALID,
			"xml: element missing");
	c = xmlNodeGetContent(n);
	if (!c)
		return cspf_error_set_oom();
	rc = cspf_secret_new(out, c, strlen((const char *)c));
	xmlFree(c); /* zeroed */
	return rc;
}
