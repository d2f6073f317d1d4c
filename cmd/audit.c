/*
 * cspf audit verify [DIR] [--public-key KEY]... [--format text|json]
 * cspf audit keygen --out FILE
 *
 * The audit log of rotations (audit/YYYY-MM.jsonl in the registry): check
 * its hash chain and signatures, and make the key that signs it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "cspf/audit.h"
#include "cspf/json.h"
#include "cmd.h"

#define MAX_KEYS 64

void cmd_audit_help(FILE *f)
{
	fputs(
"usage: cspf audit verify [DIR] [--public-key KEY]... [--format FMT]\n"
"   or: cspf audit keygen --out FILE\n"
"\n"
"verify checks the audit log of the registry DIR (default: the current\n"
"directory): every record of audit/YYYY-MM.jsonl, in month order, is\n"
"well formed, signed by a trusted key, chained by its prev hash to the\n"
"record before it, and numbered one more.  It stops at the first bad\n"
"record and names it:\n"
"    audit/2026-11.jsonl:17: error[audit-chain]: message\n"
"The trusted public keys are cspf.json's audit.public_keys and every\n"
"--public-key.\n"
"\n"
"keygen writes a new signing key to FILE (mode 0600, never over an\n"
"existing file) and prints its public key, for audit.public_keys.\n"
"\n"
"Options:\n"
"  -k, --public-key KEY  trust this public key (base64), besides cspf.json's\n"
"  -f, --format FMT      text (default) or json\n"
"  -o, --out FILE        keygen: where to write the signing key\n"
"\n"
"Exit status: 0 the log verifies; 1 a bad record; 2 usage or environment\n"
"error.\n",
		f);
}

/* cspf.json's audit.public_keys, appended to keys[]; 0 or EXIT_TROUBLE. */
static int config_keys(cspf_json_doc **doc, const char **keys, size_t *n,
	const char *dir)
{
	char path[4096];
	const cJSON *audit, *pk, *k;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/cspf.json", dir) >=
		sizeof(path)) {
		fprintf(stderr, "cspf audit: %s: path too long\n", dir);
		return EXIT_TROUBLE;
	}
	r = cspf_json_load_file(doc, path, NULL);
	if (r == CSPF_ENOTFOUND)
		return 0;
	if (r < 0) {
		cmd_print_error(NULL);
		return EXIT_TROUBLE;
	}
	audit = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(*doc),
		"audit");
	pk = cJSON_GetObjectItemCaseSensitive(audit, "public_keys");
	if (pk && !cJSON_IsArray(pk)) {
		fprintf(stderr, "cspf audit: %s: audit.public_keys is not an "
			"array of public keys (run cspf validate)\n", path);
		return EXIT_TROUBLE;
	}
	cJSON_ArrayForEach(k, pk) {
		if (!cJSON_IsString(k)) {
			fprintf(stderr, "cspf audit: %s: audit.public_keys "
				"holds something that is not a key (run cspf "
				"validate)\n", path);
			return EXIT_TROUBLE;
		}
		if (*n == MAX_KEYS) {
			fprintf(stderr, "cspf audit: more than %d trusted "
				"keys\n", MAX_KEYS);
			return EXIT_TROUBLE;
		}
		keys[(*n)++] = k->valuestring;
	}
	return 0;
}

static int print_json(const cspf_audit_result *res)
{
	cJSON *o = cJSON_CreateObject(), *e;
	char *s;
	int rc = EXIT_TROUBLE;

	if (!o)
		goto oom;
	cJSON_AddBoolToObject(o, "ok", res->ok);
	cJSON_AddNumberToObject(o, "records", (double)res->records);
	cJSON_AddNumberToObject(o, "files", (double)res->files);
	if (!res->ok) {
		e = cJSON_AddObjectToObject(o, "error");
		if (!e)
			goto oom;
		cJSON_AddStringToObject(e, "file", res->file);
		cJSON_AddNumberToObject(e, "line", res->line);
		if (res->column)
			cJSON_AddNumberToObject(e, "column", res->column);
		cJSON_AddStringToObject(e, "rule", res->rule);
		cJSON_AddStringToObject(e, "message", res->message);
	}
	s = cJSON_PrintUnformatted(o);
	if (!s)
		goto oom;
	puts(s);
	free(s);
	rc = res->ok ? EXIT_CLEAN : EXIT_FINDINGS;
oom:
	if (rc == EXIT_TROUBLE)
		fputs("cspf audit: out of memory\n", stderr);
	cJSON_Delete(o);
	return rc;
}

static int audit_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "public-key", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keys[MAX_KEYS], *dir = ".";
	cspf_json_doc *config = NULL;
	cspf_audit_result res;
	size_t nkeys = 0;
	int c, json = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (nkeys == MAX_KEYS)
				return cmd_usage_error("audit",
					"at most %d --public-key", MAX_KEYS);
			keys[nkeys++] = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				json = 1;
			else if (strcmp(optarg, "text") != 0)
				return cmd_usage_error("audit",
					"unknown --format '%s' (text or json)",
					optarg);
			break;
		case 'h':
			cmd_audit_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("audit", "bad option");
		}
	}
	if (optind < argc)
		dir = argv[optind++];
	if (optind < argc)
		return cmd_usage_error("audit", "one registry at a time");
	for (size_t i = 0; i < nkeys; i++) {
		char id[CSPF_AUDIT_KEY_ID_SIZE];
		if (cspf_audit_key_id(id, keys[i]) < 0)
			return cmd_usage_error("audit", "--public-key #%zu is "
				"not an Ed25519 public key (44 characters of "
				"base64, as cspf audit keygen prints)", i + 1);
	}
	if ((rc = config_keys(&config, keys, &nkeys, dir)) != 0)
		goto done;
	if (nkeys == 0) {
		rc = cmd_usage_error("audit", "no trusted public key: list "
			"them in audit.public_keys of %s/cspf.json, or pass "
			"--public-key", dir);
		goto done;
	}
	if (cspf_audit_verify(&res, dir, keys, nkeys) < 0) {
		cmd_print_error(NULL);
		rc = EXIT_TROUBLE;
		goto done;
	}
	if (json) {
		rc = print_json(&res);
	} else if (res.ok) {
		printf("audit: %zu record%s in %zu file%s, chain and "
		       "signatures verified\n", res.records,
			res.records == 1 ? "" : "s", res.files,
			res.files == 1 ? "" : "s");
		rc = EXIT_CLEAN;
	} else {
		if (res.column)
			printf("%s:%u:%u: error[%s]: %s\n", res.file,
				res.line, res.column, res.rule, res.message);
		else if (res.line)
			printf("%s:%u: error[%s]: %s\n", res.file, res.line,
				res.rule, res.message);
		else
			printf("%s: error[%s]: %s\n", res.file, res.rule,
				res.message);
		fprintf(stderr, "cspf: audit: %zu record%s verified before "
			"the bad one\n", res.records,
			res.records == 1 ? "" : "s");
		rc = EXIT_FINDINGS;
	}
	cspf_audit_result_dispose(&res);
done:
	cspf_json_doc_free(config);
	return rc;
}

static int audit_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char pub[CSPF_AUDIT_PUBLIC_KEY_SIZE], id[CSPF_AUDIT_KEY_ID_SIZE];
	const struct rlimit none = { 0, 0 };
	const char *out = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			cmd_audit_help(stdout);
			return EXIT_CLEAN;
		default:
			return cmd_usage_error("audit", "bad option");
		}
	}
	if (optind < argc)
		return cmd_usage_error("audit", "keygen takes no operand: "
			"--out FILE");
	if (!out)
		return cmd_usage_error("audit", "keygen needs --out FILE");
	/* No core dump may hold the key. */
	(void)setrlimit(RLIMIT_CORE, &none);
	if (cspf_audit_keygen(pub, id, out) < 0) {
		cmd_print_error(NULL);
		return EXIT_TROUBLE;
	}
	printf("%s\n", pub);
	fprintf(stderr, "cspf: audit: wrote the signing key %s (mode 0600), "
		"key id %s; add the public key above to audit.public_keys "
		"in cspf.json\n", out, id);
	return EXIT_CLEAN;
}

int cmd_audit(int argc, char **argv)
{
	if (argc < 2) {
		cmd_audit_help(stderr);
		return EXIT_TROUBLE;
	}
	if (!strcmp(argv[1], "verify"))
		return audit_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "keygen"))
		return audit_keygen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cmd_audit_help(stdout);
		return EXIT_CLEAN;
	}
	return cmd_usage_error("audit", "unknown subcommand '%s' (verify or "
		"keygen)", argv[1]);
}
