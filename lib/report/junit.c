/*
 * The JUnit XML report, for CI systems that show test results:
 *
 *   <testsuites name="cspf" tests="N" failures="M" errors="0">
 *     <testsuite name="cspf" tests="N" failures="M" errors="0" skipped="0">
 *       <testcase classname="cspf.validate" name="path"/>
 *       <testcase classname="cspf.validate" name="path">
 *         <failure message="2 findings" type="cspf">text lines</failure>
 *       </testcase>
 *
 * The counts come first, so the cases are kept until the report is
 * finished.  libxml2's writer does the escaping; what it cannot escape
 * (control characters are not allowed in XML 1.0 at all) was made into
 * visible escapes by the text formatter beforehand.
 */
#include "report/report_private.h"

#include <stdlib.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "util/error.h"
#include "util/banned.h"

struct junit_case {
	char *name; /* the path, made printable */
	size_t findings;
	char *body; /* the text lines of its findings, or NULL */
};

struct junit_state {
	struct junit_case *cases;
	size_t count, alloc;
	size_t failures;
};

static int junit_begin(cspf_report *r)
{
	r->state = calloc(1, sizeof(struct junit_state));
	return r->state ? 0 : cspf_error_set_oom();
}

static int junit_file(cspf_report *r, const char *path,
	const cspf_diags *diags)
{
	struct junit_state *st = r->state;
	struct junit_case *c;
	cspf_buf name = CSPF_BUF_INIT, body = CSPF_BUF_INIT;
	size_t i, n;

	if (st->count == st->alloc) {
		n = st->alloc ? st->alloc * 2 : 16;
		c = realloc(st->cases, n * sizeof(*c));
		if (!c)
			return cspf_error_set_oom();
		st->cases = c;
		st->alloc = n;
	}
	cspf_report__put_text(&name, path);
	for (i = 0; diags && i < diags->count; i++)
		cspf_report__text_line(&body, path, &diags->items[i], 0);
	c = &st->cases[st->count];
	c->findings = diags ? diags->count : 0;
	c->name = cspf_buf_detach(&name);
	c->body = c->findings ? cspf_buf_detach(&body) : NULL;
	cspf_buf_dispose(&body);
	if (!c->name || (c->findings && !c->body)) {
		free(c->name);
		free(c->body);
		return cspf_error_set_oom();
	}
	st->count++;
	if (c->findings)
		st->failures++;
	return 0;
}

#define X(s) ((const xmlChar *)(s))

/* The <testsuites> or <testsuite> start tag with its counts. */
static int start_suite(xmlTextWriterPtr w, const char *tag,
	const struct junit_state *st, int skipped)
{
	int bad = 0;

	bad |= xmlTextWriterStartElement(w, X(tag)) < 0;
	bad |= xmlTextWriterWriteAttribute(w, X("name"), X("cspf")) < 0;
	bad |= xmlTextWriterWriteFormatAttribute(w, X("tests"), "%zu",
		st->count) < 0;
	bad |= xmlTextWriterWriteFormatAttribute(w, X("failures"), "%zu",
		st->failures) < 0;
	bad |= xmlTextWriterWriteAttribute(w, X("errors"), X("0")) < 0;
	if (skipped)
		bad |= xmlTextWriterWriteAttribute(w, X("skipped"),
			X("0")) < 0;
	return bad ? -1 : 0;
}

static int write_case(xmlTextWriterPtr w, const struct junit_case *c)
{
	int bad = 0;

	bad |= xmlTextWriterStartElement(w, X("testcase")) < 0;
	bad |= xmlTextWriterWriteAttribute(w, X("classname"),
		X("cspf.validate")) < 0;
	bad |= xmlTextWriterWriteAttribute(w, X("name"), X(c->name)) < 0;
	if (c->findings) {
		bad |= xmlTextWriterStartElement(w, X("failure")) < 0;
		bad |= xmlTextWriterWriteFormatAttribute(w, X("message"),
			"%zu finding%s", c->findings,
			c->findings == 1 ? "" : "s") < 0;
		bad |= xmlTextWriterWriteAttribute(w, X("type"),
			X("cspf")) < 0;
		bad |= xmlTextWriterWriteString(w, X(c->body)) < 0;
		bad |= xmlTextWriterEndElement(w) < 0;
	}
	bad |= xmlTextWriterEndElement(w) < 0;
	return bad ? -1 : 0;
}

static int junit_finish(cspf_report *r)
{
	struct junit_state *st = r->state;
	xmlBufferPtr buf = xmlBufferCreate();
	xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
	size_t i;
	int bad = !w, error = 0;

	if (!bad) {
		bad |= xmlTextWriterSetIndent(w, 1) < 0;
		bad |= xmlTextWriterSetIndentString(w, X("  ")) < 0;
		bad |= xmlTextWriterStartDocument(w, NULL, "UTF-8",
			NULL) < 0;
		bad |= start_suite(w, "testsuites", st, 0) < 0;
		bad |= start_suite(w, "testsuite", st, 1) < 0;
		for (i = 0; !bad && i < st->count; i++)
			bad |= write_case(w, &st->cases[i]) < 0;
		bad |= xmlTextWriterEndDocument(w) < 0;
	}
	xmlFreeTextWriter(w); /* flushes into buf */
	if (bad)
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NOMEMORY,
			"report: cannot build the JUnit XML");
	else if (fwrite(xmlBufferContent(buf), 1, (size_t)xmlBufferLength(buf),
		r->f) != (size_t)xmlBufferLength(buf))
		error = cspf_report__write_error();
	if (buf)
		xmlBufferFree(buf);
	return error;
}

static void junit_dispose(cspf_report *r)
{
	struct junit_state *st = r->state;
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->count; i++) {
		free(st->cases[i].name);
		free(st->cases[i].body);
	}
	free(st->cases);
	free(st);
	r->state = NULL;
}

const struct cspf_report_ops cspf_report__junit_ops = {
	junit_begin, junit_file, junit_finish, junit_dispose,
};
