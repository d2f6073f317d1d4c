/*
 * Fuzz schema compilation and validation.  The input is a schema and an
 * instance separated by a NUL byte (without one, the input is used as
 * both).  Whatever the bytes, compile either refuses with an error or
 * gives a schema that validates the instance, with and without collecting
 * errors, to the same verdict.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cspf/json.h"
#include "cspf/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	const char *inst_text = nul ? (const char *)nul + 1 :
		(const char *)data;
	size_t ilen = nul ? size - slen - 1 : size;
	cspf_json_options jo = CSPF_JSON_OPTIONS_INIT;
	cspf_schema_options so = CSPF_SCHEMA_OPTIONS_INIT;
	cspf_json_doc *sdoc = NULL, *idoc = NULL;
	cspf_schema_set *set = NULL;
	cspf_schema *schema = NULL;
	cspf_diags diags = CSPF_DIAGS_INIT;
	int r1, r2;

	jo.max_depth = 64;
	jo.max_size = 1 << 16;
	if (cspf_json_parse(&sdoc, (const char *)data, slen, "schema.json",
		    &jo) < 0)
		return 0;
	if (cspf_json_parse(&idoc, inst_text, ilen, "doc.json", &jo) < 0) {
		cspf_json_doc_free(sdoc);
		return 0;
	}
	if (cspf_schema_set_new(&set) < 0)
		abort();
	/* Alternate the meta-schema check, to reach the compiler with
	 * schemas the meta-schema would have refused. */
	so.check_metaschema = size & 1;
	if (cspf_schema_set_add_doc(set, sdoc, "file:///fuzz/schema.json") ==
		    0 &&
	    cspf_schema_compile(&schema, set, cspf_schema_set_last_uri(set),
		    &so, NULL) == 0) {
		r1 = cspf_schema_validate_doc(&diags, schema, idoc);
		r2 = cspf_schema_validate(NULL, schema,
			cspf_json_doc_root(idoc), NULL);
		if (r1 >= 0 && r2 >= 0 && r1 != r2)
			abort(); /* the two modes must agree */
		if (r1 == 1 && diags.count == 0)
			abort(); /* invalid, but said nothing */
		cspf_diags_clear(&diags);
		cspf_schema_free(schema);
	}
	cspf_schema_set_free(set);
	cspf_json_doc_free(idoc);
	return 0;
}
