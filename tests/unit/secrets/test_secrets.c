/*
 * Unit tests for lib/secrets: for every detector a secret it must find and
 * a near miss it must leave alone; where findings point (line, column,
 * pointer), in values and in member names; the allowlist; identifier
 * fields; options; the example registry, which must come out clean; many
 * threads at once; and a canary planted everywhere that must come out
 * nowhere.
 *
 * The fixtures are fakes in the formats of real secrets (the AWS
 * documentation's example keys, random strings of the right shapes).  The
 * JSON is written with single quotes, turned into double quotes before
 * parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cspf/json.h"
#include "cspf/secrets.h"

/* ------------------------------------------------------------------ */
/* Fakes                                                              */

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define GHP "ghp_e7njtS5pFbUcguGv1dHS84ExMaIWYiHaFUX1"
#define GH_PAT                                                                 \
	"github_pat_m1s97mCfvhcHhUkCbBd6cJ_wokDtU7FkI00VtKKKfXcLsosvfpQz1sBS"  \
	"eYEa0lCkSf3diQqdJtjydmLcFa"
#define SLACK "xoxb-8855773958983-3669538295529-p9aFbg8aL2kX2uX9A7oDzfuB"
#define SLACK_HOOK_SECRET "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
#define AZ_KEY                                                                 \
	"KvBdTRXqtoD6xzUhx7GVQ3uu6F1gF9LECJv33y7iAAzhmbgyrIfEUmA4HWZRMPSn+yc6" \
	"nnEOc67nBgF21NhABA=="
#define AZ_SIG "jBEhWRW64h6AOPit3VbAoxNOli7%2BO4DMEBkv9PwE%2BgQ%3D"
#define AZ_Q "pux8Q~SxbUbc-dwnlCW8gq5JAzMlYCeP5ItB8Mpd"
#define AZ_OLD "V4rGMLEa5ttgD1FkajKqMW.U8c-YGsSSnS"
#define JWT                                                                    \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwib"   \
	"mFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fw"   \
	"pMeJf36POk6yJV_adQssw5c"
#define RANDOM24 "yMmYRVgOMbQxKLa2IKrreoN4"
/* A PEM RSA private key and a certificate, base64-encoded once more. */
#define PEM_B64_KEY                                                            \
	"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVBVlI2" \
	"R3YrbmFKRmg4SS9HT2Jhc1hXLzVwdHhvNEpIWTRxOEoySDQ4eVNIYklOVmM5ClFMd0tP" \
	"MmlQVWhYcGhIYXlGSExDTUJjSCtFWmJhTXdaeEczM2dqY1FlS3IrOUF1ellYTnIxZC94" \
	"Q3ZNejg3ZkUKLS0tLS1FTkQgUlNBIFBSSVZBVEUgS0VZLS0tLS0K"
#define PEM_B64_CERT                                                           \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUVwQUlCQUFLQ0FRRUFWUjZHdits" \
	"YUpGaDhJL0dPYmFzWFcvNXB0eG80SkhZNHE4SjJINDh5U0hiSU5WYzkKUUx3S08yaVBV" \
	"aFhwaEhheUZITENNQmNIK0VaYmFNd1p4RzMzZ2pjUWVLcis5QXV6WVhOcjFkL3hDdk16" \
	"ODdmRQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
#define CANARY "ITkzYX0fUk1JNTkliACJIyllsOjCMJ38bhZ1lU4r"

/* A PEM body, in C (real newlines) and in JSON ("\n" escapes). */
#define PEM_L1                                                                 \
	"MIIEpAIBAAKCAQEAVR6Gv+naJFh8I/GObasXW/5ptxo4JHY4q8J2H48ySHbINVc9"
#define PEM_L2                                                                 \
	"QLwKO2iPUhXphHayFHLCMBcH+EZbaMwZxG33gjcQeKr+9AuzYXNr1d/xCvMz87fE"
#define PEM_L3 "T/Epw59TdCLUfHOz10TGXNoVTAqvQurZqQ9/JhdmNffwN6ALTQxyWBMBEKv=="
#define PEM_C PEM_L1 "\n" PEM_L2 "\n" PEM_L3
#define PEM_J PEM_L1 "\\n" PEM_L2 "\\n" PEM_L3
#define PEM(label)                                                             \
	"-----BEGIN " label "-----\\n" PEM_J "\\n-----END " label "-----\\n"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */

/* The JSON with ' for ", parsed as "t.json". */
static cspf_json_doc *parse_at(const char *json, const char *file, int line)
{
	cspf_json_doc *doc = NULL;
	char *text = strdup(json), *p;
	int r;

	assert_non_null(text);
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	r = cspf_json_parse(&doc, text, strlen(text), "t.json", NULL);
	free(text);
	if (r != 0)
		fail_msg("%s:%d: fixture does not parse: %s", file, line,
			cspf_error_last()->message);
	return doc;
}

static int scan_at(cspf_diags *out, const char *json,
	const cspf_secrets_options *opts, const char *file, int line)
{
	cspf_json_doc *doc = parse_at(json, file, line);
	int n;

	cspf_diags_clear(out);
	n = cspf_secrets_scan(out, doc, opts);
	cspf_json_doc_free(doc);
	if (n < 0)
		fail_msg("%s:%d: scan failed: %s", file, line,
			cspf_error_last()->message);
	if ((size_t)n != out->count)
		fail_msg("%s:%d: returned %d, appended %zu", file, line, n,
			out->count);
	return n;
}

/*
 * Does any field of any finding hold 5 characters in a row of secret?
 * The type prefix of a token ("github_pat_") is no secret, and the rule
 * id says it too: windows start after it.
 */
static const char *leak(const cspf_diags *d, const char *secret)
{
	size_t i, k, f, len = strlen(secret);
	size_t from = strncmp(secret, "github_pat_", 11) ? 0 : 11;
	char window[6];

	for (i = 0; i < d->count; i++) {
		const cspf_diag *x = &d->items[i];
		const char *fields[] = {x->rule, x->file, x->pointer,
			x->keyword, x->schema_location, x->message,
			x->fingerprint};

		for (f = 0; f < sizeof(fields) / sizeof(*fields); f++) {
			if (!fields[f])
				continue;
			for (k = from; k + 5 <= len; k++) {
				memcpy(window, secret + k, 5);
				window[5] = '\0';
				if (strstr(fields[f], window))
					return fields[f];
			}
		}
	}
	return NULL;
}

static void dump(const cspf_diags *d)
{
	size_t i;

	for (i = 0; i < d->count; i++)
		print_message("  %s at %s (%u:%u): %s\n", d->items[i].rule,
			d->items[i].pointer, d->items[i].line,
			d->items[i].column, d->items[i].message);
}

/*
 * The document holds exactly one secret, `secret` under `rule`: check
 * the finding says so (rule, severity, file, fingerprint, message with
 * the redacted prefix and the fingerprint) and leaks nothing more.
 */
static const cspf_diag *one_at(cspf_diags *d, const char *json,
	const cspf_secrets_options *opts, const char *rule, const char *secret,
	const char *file, int line)
{
	char fp[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1], shown[16];
	size_t len = strlen(secret), reveal = len / 4 < 4 ? len / 4 : 4;
	const cspf_diag *x;
	const char *where;

	if (scan_at(d, json, opts, file, line) != 1) {
		dump(d);
		fail_msg("%s:%d: expected one finding (%s), got %zu", file,
			line, rule, d->count);
	}
	x = &d->items[0];
	if (strcmp(x->rule, rule)) {
		dump(d);
		fail_msg("%s:%d: expected %s, got %s", file, line, rule,
			x->rule);
	}
	assert_int_equal(x->severity, CSPF_SEVERITY_ERROR);
	assert_string_equal(x->file, "t.json");
	assert_int_equal(cspf_secrets_fingerprint(fp, rule, secret, len), 0);
	assert_non_null(x->fingerprint);
	if (strcmp(x->fingerprint, fp))
		fail_msg("%s:%d: fingerprint is not of the expected secret",
			file, line);
	assert_non_null(strstr(x->message, fp));
	snprintf(shown, sizeof(shown), "(%.*s\xE2\x80\xA6)", (int)reveal,
		secret);
	if (!strstr(x->message, shown))
		fail_msg("%s:%d: \"%s\" not in \"%s\"", file, line, shown,
			x->message);
	assert_non_null(strstr(x->message, "CSPF 3.2"));
	assert_true(x->line > 0 && x->column > 0);
	if ((where = leak(d, secret)) != NULL)
		fail_msg("%s:%d: the secret leaks into \"%s\"", file, line,
			where);
	return x;
}
#define ONE(d, json, rule, secret)                                             \
	one_at((d), (json), NULL, (rule), (secret), __FILE__, __LINE__)

static void none_at(const char *json, const cspf_secrets_options *opts,
	const char *file, int line)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	if (scan_at(&d, json, opts, file, line) != 0) {
		dump(&d);
		fail_msg("%s:%d: expected no finding, got %zu", file, line,
			d.count);
	}
	cspf_diags_clear(&d);
}
#define NONE(json) none_at((json), NULL, __FILE__, __LINE__)
#define NONE_WITH(json, opts) none_at((json), (opts), __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* AWS                                                                */

static void test_aws_access_key_id(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'note': 'rotated " AKID " yesterday'}",
		"secret/aws-access-key-id", AKID);
	assert_non_null(strstr(d.items[0].message, "AWS access key ID"));
	ONE(&d, "{'note': 'ASIAIOSFODNN7EXAMPLE'}", "secret/aws-access-key-id",
		"ASIAIOSFODNN7EXAMPLE");
	cspf_diags_clear(&d);
	/* One character short, or inside a longer word. */
	NONE("{'note': 'AKIAIOSFODNN7EXAMPL'}");
	NONE("{'note': 'XAKIAIOSFODNN7EXAMPLE'}");
	/* Unique IDs of roles and users are not keys. */
	NONE("{'principal': 'AROAIOSFODNN7EXAMPLE'}");
}

static void test_aws_secret_access_key(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const char *ident[] = {"/access_key_id"};
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;

	/* By the member's name. */
	ONE(&d, "{'aws_secret_access_key': '" AWS_SECRET "'}",
		"secret/aws-secret-access-key", AWS_SECRET);
	assert_non_null(strstr(d.items[0].message,
		"AWS secret access key (wJal\xE2\x80\xA6) must not be in the "
		"registry: store it in a vault and reference it (CSPF 3.2)"));
	/* Beside an access key ID. */
	o.identifier_pointers = ident;
	o.nidentifier = 1;
	one_at(&d, "{'access_key_id': '" AKID "', 'value': '" AWS_SECRET "'}",
		&o, "secret/aws-secret-access-key", AWS_SECRET, __FILE__,
		__LINE__);
	/* In a credentials file: both parts. */
	assert_int_equal(scan_at(&d,
				 "{'line': 'aws_access_key_id=" AKID
				 " aws_secret_access_key=" AWS_SECRET "'}",
				 NULL, __FILE__, __LINE__),
		2);
	assert_null(leak(&d, AWS_SECRET));
	/* Random enough on its own. */
	ONE(&d, "{'note': '" CANARY "'}", "secret/aws-secret-access-key",
		CANARY);
	cspf_diags_clear(&d);
	/* A git commit in a "key" member: 40 characters, but hex. */
	NONE("{'key': 'da39a3ee5e6b4b0d3255bfef95601890afd80709'}");
	/* 40 such characters in an ARN, made of words. */
	NONE("{'policy': 'arn:aws:iam::aws:policy/"
	     "EC2InstanceProfileForImageBuilder'}");
	/* 41 characters is no AWS key, and this one is no random string. */
	NONE("{'note': 'AAAAbbbbCCCCddddEEEE1111ffffGGGGhhhh2222X'}");
}

/* ------------------------------------------------------------------ */
/* Private keys                                                       */

static void test_private_key(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'tls': '" PEM("RSA PRIVATE KEY") "'}", "secret/private-key",
		PEM_C);
	assert_non_null(strstr(d.items[0].message, "RSA private key (MIIE"));
	ONE(&d, "{'k': '" PEM("PRIVATE KEY") "'}", "secret/private-key", PEM_C);
	ONE(&d, "{'k': '" PEM("EC PRIVATE KEY") "'}", "secret/private-key",
		PEM_C);
	ONE(&d, "{'k': '" PEM("OPENSSH PRIVATE KEY") "'}", "secret/private-key",
		PEM_C);
	assert_non_null(strstr(d.items[0].message, "OpenSSH private key"));
	ONE(&d, "{'k': '" PEM("ENCRYPTED PRIVATE KEY") "'}",
		"secret/private-key", PEM_C);
	assert_non_null(strstr(d.items[0].message, "encrypted private key"));
	cspf_diags_clear(&d);
	/* Public keys and certificates are public. */
	NONE("{'k': '" PEM("PUBLIC KEY") "'}");
	NONE("{'k': '" PEM("CERTIFICATE") "'}");
	/* Encoded once more, as kubeconfig's client-key-data. */
	ONE(&d, "{'users': [{'client-key-data': '" PEM_B64_KEY "'}]}",
		"secret/private-key", PEM_B64_KEY);
	assert_non_null(strstr(d.items[0].message, "base64-encoded"));
	cspf_diags_clear(&d);
	NONE("{'clusters': [{'certificate-authority-data': '" PEM_B64_CERT
	     "'}]}");
	/* Armour without a key: documentation. */
	NONE("{'how': 'paste the -----BEGIN PRIVATE KEY----- block into "
	     "the vault, never here -----END PRIVATE KEY-----'}");
}

static void test_gcp_service_account_key(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_diag *x;

	x = ONE(&d,
		"{'type': 'service_account', 'project_id': 'example-prod',"
		" 'private_key_id': '3f1e0c8d9b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e',"
		" 'private_key': '" PEM(
			"PRIVATE KEY") "',"
				       " 'client_email': "
				       "'deployer@example-prod.iam."
				       "gserviceaccount.com', 'client_id': "
				       "'104958372615243987612',"
				       " 'client_x509_cert_url': "
				       "'https://www.googleapis.com/robot/"
				       "v1/metadata/x509/"
				       "deployer%40example-prod.iam."
				       "gserviceaccount.com'}",
		"secret/gcp-service-account-key", PEM_C);
	assert_string_equal(x->pointer, "/private_key");
	assert_non_null(strstr(x->message, "GCP service account private key"));
	cspf_diags_clear(&d);
	/* The key's ID and the account's address are no secrets. */
	NONE("{'type': 'service_account', 'project_id': 'example-prod',"
	     " 'private_key_id': '3f1e0c8d9b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e',"
	     " 'client_email': 'deployer@example-prod.iam."
	     "gserviceaccount.com', 'client_id': '104958372615243987612'}");
}

/* ------------------------------------------------------------------ */
/* Tokens                                                             */

static void test_github_token(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'ci': 'GH_TOKEN=" GHP "'}", "secret/github-token", GHP);
	assert_non_null(strstr(
		d.items[0].message, "GitHub personal access token (ghp_"));
	ONE(&d, "{'ci': '" GH_PAT "'}", "secret/github-token", GH_PAT);
	assert_non_null(strstr(d.items[0].message, "fine-grained"));
	cspf_diags_clear(&d);
	NONE("{'note': 'rotate the ghp_ tokens of the CI every 90 days'}");
	NONE("{'note': 'ghp_EXAMPLEtokenForTheDocs'}");
}

static void test_slack_token(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'bot': '" SLACK "'}", "secret/slack-token", SLACK);
	assert_non_null(strstr(d.items[0].message, "Slack bot token (xoxb"));
	cspf_diags_clear(&d);
	NONE("{'bot': 'xoxb-your-token-goes-in-the-vault'}");
}

static void test_slack_webhook(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'alerts': "
		"'https://hooks.slack.com/services/" SLACK_HOOK_SECRET "'}",
		"secret/slack-webhook", SLACK_HOOK_SECRET);
	cspf_diags_clear(&d);
	NONE("{'docs': 'https://api.slack.com/messaging/webhooks',"
	     " 'base': 'https://hooks.slack.com/services/'}");
}

/* ------------------------------------------------------------------ */
/* Azure                                                              */

static void test_azure_storage_key(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'conn': "
		"'DefaultEndpointsProtocol=https;AccountName=exampleacct;"
		"AccountKey=" AZ_KEY ";EndpointSuffix=core.windows.net'}",
		"secret/azure-storage-key", AZ_KEY);
	assert_non_null(
		strstr(d.items[0].message, "Azure storage account key (KvBd"));
	cspf_diags_clear(&d);
	NONE("{'conn': 'DefaultEndpointsProtocol=https;AccountName=exampleacct;"
	     "AccountKey=<from-the-vault>;EndpointSuffix=core.windows.net'}");
}

static void test_azure_sas_token(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'export': 'https://exampleacct.blob.core.windows.net/exports"
		"?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-31T00:00:00Z"
		"&spr=https&sig=" AZ_SIG "'}",
		"secret/azure-sas-token", AZ_SIG);
	cspf_diags_clear(&d);
	NONE("{'export': 'https://exampleacct.blob.core.windows.net/exports"
	     "?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-31T00:00:00Z'}");
}

static void test_azure_client_secret(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	/* The "Q~" format, wherever it is. */
	ONE(&d, "{'note': '" AZ_Q "'}", "secret/azure-client-secret", AZ_Q);
	/* An older one, by its member's name or its neighbours. */
	ONE(&d, "{'client_secret': '" AZ_OLD "'}", "secret/azure-client-secret",
		AZ_OLD);
	ONE(&d,
		"{'tenant_id': 'c0ffee00-1234-4abc-9def-0123456789ab',"
		" 'secret': '" AZ_OLD "'}",
		"secret/azure-client-secret", AZ_OLD);
	cspf_diags_clear(&d);
	/* The secret's ID, and a reference to the secret. */
	NONE("{'client_secret_id': '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9',"
	     " 'client_secret': 'vault://azure-data/analytics-ingest'}");
	/* The format described, not a secret in it. */
	NONE("{'note': 'new secrets look like abc8Q~ then 34 characters'}");
}

/* ------------------------------------------------------------------ */
/* JWT, URLs, connection strings, OTP                                 */

static void test_jwt(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'auth': 'Bearer " JWT "'}", "secret/jwt", JWT);
	cspf_diags_clear(&d);
	/* Unsigned ("alg": "none", no signature). */
	NONE("{'t': 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.'}");
	/* Three parts, but the first is no JOSE header ({"typ":"x"}). */
	NONE("{'t': 'eyJ0eXAiOiJ4In0.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNh'}");
}

static void test_url_password(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'dsn': 'postgres://ledger_app:Tr0ub4dor-and-3@ledger.db."
		"example.com:5432/ledger'}",
		"secret/url-password", "Tr0ub4dor-and-3");
	assert_non_null(strstr(d.items[0].message, "password in a URL (Tr0"));
	cspf_diags_clear(&d);
	/* A user without a password, then a port. */
	NONE("{'repo': 'https://deploy@git.example.com:8443/platform/ci.git'}");
	/* A template. */
	NONE("{'dsn': 'postgres://app:${DB_PASSWORD}@db.example.com/ledger'}");
	/* ':' and '@' in the path, not in the authority. */
	NONE("{'u': 'https://example.com/people/a:b@c'}");
}

static void test_connection_string_password(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'wh': 'Server=tcp:analytics-wh.database.windows.net,1433;"
		"Database=wh;User ID=loader;Password=Qz7!vR2#pL9w;"
		"Encrypt=True;'}",
		"secret/connection-string-password", "Qz7!vR2#pL9w");
	ONE(&d, "{'env': 'DB_PASSWORD=Qz7!vR2#pL9w'}",
		"secret/connection-string-password", "Qz7!vR2#pL9w");
	cspf_diags_clear(&d);
	NONE("{'wh': 'Server=tcp:analytics-wh.database.windows.net,1433;"
	     "Database=wh;Authentication=Active Directory Default;'}");
	NONE("{'wh': 'Server=wh;User ID=loader;Password=${SQL_PASSWORD};'}");
	NONE("{'wh': 'Server=wh;User ID=loader;Password=;'}");
}

static void test_otp_seed(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d,
		"{'mfa': 'otpauth://totp/AWS:root@example.com"
		"?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=AWS'}",
		"secret/otp-seed", "JBSWY3DPEHPK3PXPJBSWY3DP");
	cspf_diags_clear(&d);
	NONE("{'mfa': 'otpauth://totp/AWS:root@example.com?issuer=AWS'}");
}

/* ------------------------------------------------------------------ */
/* Named fields                                                       */

static void test_text_password(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'description': 'login admin, password Tr0ub4dor&3xyzzy on "
		"the bastion'}", "secret/password-in-text", "Tr0ub4dor&3xyzzy");
	ONE(&d, "{'description': 'The passphrase is: \\\"Kd8#mQ2vLx\\\".'}",
		"secret/password-in-text", "Kd8#mQ2vLx");
	ONE(&d, "{'description': 'Break-glass PWD - Zq4mW8tK2xVb, ask Amir.'}",
		"secret/password-in-text", "Zq4mW8tK2xVb");
	cspf_diags_clear(&d);
	/* The words of sentences about passwords. */
	NONE("{'description': 'Password rotation every P90D; the password "
	     "expires 2027-06-01.'}");
	NONE("{'description': 'Passwords are kept in Vault: password at "
	     "kv/payments-ledger/app1 (see RUNBOOK-42).'}");
	NONE("{'description': 'The password is in Vault under "
	     "${LEDGER_PASSWORD}.'}");
	NONE("{'description': 'Reset the password: PasswordPolicy v2.'}");
}

static void test_password_field(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'db': {'adminPassword': 'Zq4!mW8#tK2xV'}}", "secret/password",
		"Zq4!mW8#tK2xV");
	/* A short one shows less of itself: a quarter. */
	assert_non_null(
		strstr(d.items[0].message, "password (Zq4\xE2\x80\xA6)"));
	cspf_diags_clear(&d);
	/* References, templates, policies, and the registry's own usage. */
	NONE("{'password': 'vault://main/ledger/payments_app#password'}");
	NONE("{'password': '${LEDGER_PASSWORD}'}");
	NONE("{'password_policy': 'min-length-14'}");
	NONE("{'vault': {'vault': 'main', 'path': 'ledger/app', "
	     "'field': 'password'}}");
	/* Under an array named so: names of fields, in a schema. */
	NONE("{'dependentRequired': {'MasterUserPassword': "
	     "['MasterUsername', 'Engine2']}}");
}

static void test_secret_field(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'pagerduty': {'api_token': 'u+9f8e7d6c5b4a3f2e1d'}}",
		"secret/secret-field", "u+9f8e7d6c5b4a3f2e1d");
	assert_non_null(strstr(d.items[0].message, "token (u+9f"));
	ONE(&d, "{'totp_seed': 'JBSWY3DPEHPK3PXP'}", "secret/secret-field",
		"JBSWY3DPEHPK3PXP");
	cspf_diags_clear(&d);
	/* A path to the secret; a name of one; an ID. */
	NONE("{'secret': 'prod/ledger/app2'}");
	NONE("{'secret_name': 'ledger-app-2024'}");
	NONE("{'secret_id': '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9'}");
	/* Names of fields in an API's pagination model. */
	NONE("{'input_token': 'ExclusiveStartTableName',"
	     " 'output_token': 'LastEvaluatedKey2'}");
}

/* ------------------------------------------------------------------ */
/* Randomness                                                         */

static void test_high_entropy(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;

	ONE(&d, "{'note': 'key " RANDOM24 "'}", "secret/high-entropy",
		RANDOM24);
	ONE(&d, "{'webhook': 'https://example.com/hook?token=" RANDOM24 "'}",
		"secret/high-entropy", RANDOM24);
	cspf_diags_clear(&d);
	/* Names people write, however mixed. */
	NONE("{'a': 'SecurityOperationsTeam2024Sandbox',"
	     " 'b': 'AWSReservedSSO_AdministratorAccess_1a2b3c4d5e6f7a8b',"
	     " 'c': 'Standard_D2s_v3_Linux_Ubuntu2204LTS',"
	     " 'd': 'EKS-Cluster-Prod-EU-West-1-NodeGroup2',"
	     " 'e': 'MyApplicationLoadBalancer-PROD-2024',"
	     " 'f': 'P2TeamOnCall-Weekday9to5',"
	     " 'g': 'XmlStringMaxLen256List',"
	     " 'h': 'sampledMaxInLast24Hours'}");
	/* Identifiers, hashes, paths, URLs, public keys. */
	NONE("{'a': '/subscriptions/00000000-0000-0000-0000-000000000000/"
	     "resourceGroups/rg-prod/providers/Microsoft.Compute/"
	     "virtualMachines/vm01',"
	     " 'b': 'arn:aws:iam::499701123456:role/OrganizationAccountAccess"
	     "Role',"
	     " 'c': '3f2b8c4e-9a1d-4e6f-8b2a-5c7d9e0f1a2b',"
	     " 'd': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
	     "7852b855',"
	     " 'e': 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',"
	     " 'f': 'https://docs.google.com/document/d/"
	     "1Xq8Zr4LmN2pQ7sT9vW3yB6dF0hJ5kR8cE1gA4iU7oY/edit',"
	     " 'g': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoq"
	     "KLsabgH5C9okWi0dh2l9GKJl ops@example.com',"
	     " 'h': "
	     "'https://example.pagerduty.com/escalation_policies#P1X2Y3Z',"
	     " 'i': '/change/C3HC6WDB2UANE2',"
	     " 'j': 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwAYUjnfyEyXr1p"
	     "xjhFWBpMlggUcqoi3kl'}");
	/* Random, but where the options say identifiers live. */
	{
		const char *ident[] = {"/accountid"};
		cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;

		o.identifier_pointers = ident;
		o.nidentifier = 1;
		NONE_WITH("{'accountid': '" RANDOM24 "'}", &o);
	}
	/* Random, but in a member for public data. */
	NONE("{'public_key_b64': "
	     "'MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE'}");
}

static void test_entropy_threshold(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;

	o.entropy_threshold = CSPF_SECRETS_DEFAULT_ENTROPY;
	one_at(&d, "{'note': '" RANDOM24 "'}", &o, "secret/high-entropy",
		RANDOM24, __FILE__, __LINE__);
	cspf_diags_clear(&d);
	o.entropy_threshold = 6.5;
	NONE_WITH("{'note': '" RANDOM24 "'}", &o);
}

/* ------------------------------------------------------------------ */
/* Where findings point                                               */

static void test_position_in_multiline_doc(void **state)
{
	static const char doc[] =
		"{\n"
		"  'credentials': [\n"
		"    {\n"
		"      'username': 'svc-a'\n"
		"    },\n"
		"    {\n"
		"      'username': 'svc-b',\n"
		"      'identity': {\n"
		"        'access_key_id': '" AKID "',\n"
		"        'secret_access_key': '" AWS_SECRET "'\n"
		"      }\n"
		"    }\n"
		"  ]\n"
		"}\n";
	const char *ident[] = {"/credentials/*/identity/access_key_id"};
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_diag *x;
	cspf_json_doc *jd;
	unsigned int line, column;

	o.identifier_pointers = ident;
	o.nidentifier = 1;
	x = one_at(&d, doc, &o, "secret/aws-secret-access-key", AWS_SECRET,
		__FILE__, __LINE__);
	assert_string_equal(
		x->pointer, "/credentials/1/identity/secret_access_key");
	assert_int_equal(x->line, 10);
	assert_int_equal(x->column, 30);
	assert_int_equal(x->at_key, 0);
	jd = parse_at(doc, __FILE__, __LINE__);
	assert_int_equal(cspf_json_position(&line, &column, jd, x->pointer,
				 CSPF_JSON_POS_VALUE),
		0);
	assert_int_equal(line, x->line);
	assert_int_equal(column, x->column);
	cspf_json_doc_free(jd);
	cspf_diags_clear(&d);
}

static void test_secret_in_member_name(void **state)
{
	static const char doc[] = "{\n"
				  "  'tokens': {\n"
				  "    '" GHP "': 'ci'\n"
				  "  }\n"
				  "}\n";
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_diag *x;

	x = ONE(&d, doc, "secret/github-token", GHP);
	/* The pointer stops at the object: the next token is the secret. */
	assert_string_equal(x->pointer, "/tokens");
	assert_int_equal(x->line, 3);
	assert_int_equal(x->column, 5);
	assert_non_null(strstr(x->message, "in a member name"));
	cspf_diags_clear(&d);
}

/*
 * Under a member whose name is a secret, findings point at themselves
 * (line, column) but their pointers stop at the object holding that
 * member; the positions agree with cspf_json_position() given the full
 * pointer, which the test alone writes down.
 */
static void test_findings_under_secret_name(void **state)
{
	static const char doc[] =
		"{\n"
		"  'map': {\n"
		"    'plain': [0, 1],\n"
		"    '" GHP "': {\n"
		"      'note': 'ok',\n"
		"      'db_password': 'Zq4!mW8#tK2xV',\n"
		"      'list': [1, {'a': [2, 'x']}, ['x', '" AKID "']]\n"
		"    }\n"
		"  }\n"
		"}\n";
	static const char *const full[] = {
		NULL, "/map/" GHP "/db_password", "/map/" GHP "/list/2/1"};
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_json_doc *jd = parse_at(doc, __FILE__, __LINE__);
	unsigned int line, column;
	size_t i;

	assert_int_equal(scan_at(&d, doc, NULL, __FILE__, __LINE__), 3);
	assert_string_equal(d.items[0].rule, "secret/github-token");
	assert_int_equal(d.items[0].line, 4);
	assert_int_equal(d.items[0].column, 5);
	assert_string_equal(d.items[1].rule, "secret/password");
	assert_int_equal(d.items[1].line, 6);
	assert_int_equal(d.items[1].column, 22);
	assert_string_equal(d.items[2].rule, "secret/aws-access-key-id");
	for (i = 0; i < d.count; i++) {
		assert_string_equal(d.items[i].pointer, "/map");
		if (!full[i])
			continue;
		assert_int_equal(cspf_json_position(&line, &column, jd, full[i],
					 CSPF_JSON_POS_VALUE),
			0);
		assert_int_equal(line, d.items[i].line);
		assert_int_equal(column, d.items[i].column);
	}
	assert_null(leak(&d, GHP));
	assert_null(leak(&d, "Zq4!mW8#tK2xV"));
	/* The next member, with a plain name, is pointed at in full again. */
	cspf_diags_clear(&d);
	assert_int_equal(scan_at(&d,
				 "{'" GHP "': 1, 'b': {'password': "
				 "'Zq4!mW8#tK2xV'}}",
				 NULL, __FILE__, __LINE__),
		2);
	assert_string_equal(d.items[0].pointer, "");
	assert_string_equal(d.items[1].pointer, "/b/password");
	cspf_json_doc_free(jd);
	cspf_diags_clear(&d);
}

/* Deeper than the walker's frames on the stack: they grow. */
static void test_deep_document(void **state)
{
	char json[1024], ptr[512];
	size_t depth = 100, i, n = 0, p = 0;
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_diag *x;

	for (i = 0; i < depth; i++) {
		n += (size_t)snprintf(json + n, sizeof(json) - n, "{'k': ");
		p += (size_t)snprintf(ptr + p, sizeof(ptr) - p, "/k");
	}
	n += (size_t)snprintf(json + n, sizeof(json) - n, "['x', '%s']", GHP);
	for (i = 0; i < depth; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "}");
	assert_true(n < sizeof(json) - 1);
	snprintf(ptr + p, sizeof(ptr) - p, "/1");
	x = ONE(&d, json, "secret/github-token", GHP);
	assert_string_equal(x->pointer, ptr);
	assert_int_equal(x->line, 1);
	assert_int_equal(x->column, 6 * depth + 7);
	cspf_diags_clear(&d);
}

static void test_root_and_nul(void **state)
{
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_diag *x;

	x = ONE(&d, "'" GHP "'", "secret/github-token", GHP);
	assert_string_equal(x->pointer, "");
	assert_int_equal(x->line, 1);
	assert_int_equal(x->column, 1);
	/* A string with U+0000 is scanned whole. */
	ONE(&d, "{'n': 'a\\u0000" AKID "'}", "secret/aws-access-key-id", AKID);
	cspf_diags_clear(&d);
	NONE("{}");
	NONE("[1, true, null, 2.5, {'a': []}]");
}

/* ------------------------------------------------------------------ */
/* Allowlist, identifiers, options                                    */

static void test_allowlist(void **state)
{
	static const char doc[] =
		"{'a': {'aws_secret_access_key': '" AWS_SECRET "'},"
		" 'b': {'ci': '" GHP "'},"
		" 'c': {'aws_secret_access_key': '" CANARY "'}}";
	char fp[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1];
	char upper[CSPF_SECRETS_FINGERPRINT_HEXLEN + 1];
	cspf_secrets_allow allow[2];
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;
	cspf_diags d = CSPF_DIAGS_INIT;
	size_t i;

	assert_int_equal(scan_at(&d, doc, NULL, __FILE__, __LINE__), 3);
	assert_int_equal(
		cspf_secrets_fingerprint(fp, "secret/aws-secret-access-key",
			AWS_SECRET, strlen(AWS_SECRET)),
		0);
	assert_string_equal(d.items[0].fingerprint, fp);
	/* The fingerprint of the same text under another rule differs. */
	assert_int_equal(cspf_secrets_fingerprint(upper, "secret/high-entropy",
				 AWS_SECRET, strlen(AWS_SECRET)),
		0);
	assert_string_not_equal(upper, fp);

	allow[0].fingerprint = upper; /* wrong rule: silences nothing */
	allow[0].reason = "not this one";
	allow[1].fingerprint = fp;
	allow[1].reason = "the AWS documentation's example key";
	o.allow = allow;
	o.nallow = 2;
	assert_int_equal(scan_at(&d, doc, &o, __FILE__, __LINE__), 2);
	assert_string_equal(d.items[0].rule, "secret/github-token");
	assert_string_equal(d.items[0].pointer, "/b/ci");
	assert_string_equal(d.items[1].pointer, "/c/aws_secret_access_key");

	/* Either case of hex. */
	for (i = 0; fp[i]; i++)
		upper[i] = (char)(fp[i] >= 'a' && fp[i] <= 'f' ? fp[i] - 32
							       : fp[i]);
	upper[i] = '\0';
	allow[0].fingerprint = upper;
	o.nallow = 1;
	assert_int_equal(scan_at(&d, doc, &o, __FILE__, __LINE__), 2);
	assert_string_equal(d.items[0].pointer, "/b/ci");
	cspf_diags_clear(&d);
}

static void test_identifier_fields(void **state)
{
	static const char doc[] =
		"{'accountid': '" RANDOM24 "',"
		" 'credentials': ["
		"  {'identity': {'access_key_id': 'AKIAEXAMPLESCANNER22'}},"
		"  {'identity': {'access_key_id': 'AKIAEXAMPLEPAYMENTS2',"
		"                'secret_access_key': '" AWS_SECRET "'}}]}";
	const char *ident[] = {
		"/accountid", "/credentials/*/identity/access_key_id"};
	const char *only_first[] = {
		"/accountid", "/credentials/0/identity/access_key_id"};
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;
	cspf_diags d = CSPF_DIAGS_INIT;

	/* Without the options, every ID is suspect. */
	assert_int_equal(scan_at(&d, doc, NULL, __FILE__, __LINE__), 4);
	assert_string_equal(d.items[0].rule, "secret/high-entropy");
	assert_string_equal(d.items[1].rule, "secret/aws-access-key-id");
	assert_string_equal(
		d.items[1].pointer, "/credentials/0/identity/access_key_id");
	assert_string_equal(d.items[2].rule, "secret/aws-access-key-id");

	/* With them only the secret key remains. */
	o.identifier_pointers = ident;
	o.nidentifier = 2;
	assert_int_equal(scan_at(&d, doc, &o, __FILE__, __LINE__), 1);
	assert_string_equal(d.items[0].rule, "secret/aws-secret-access-key");
	assert_string_equal(d.items[0].pointer,
		"/credentials/1/identity/secret_access_key");

	/* An index matches that element only. */
	o.identifier_pointers = only_first;
	assert_int_equal(scan_at(&d, doc, &o, __FILE__, __LINE__), 2);
	assert_string_equal(
		d.items[0].pointer, "/credentials/1/identity/access_key_id");
	cspf_diags_clear(&d);
}

static void test_options(void **state)
{
	cspf_json_doc *doc = parse_at("{'a': '" GHP "'}", __FILE__, __LINE__);
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;
	cspf_diags d = CSPF_DIAGS_INIT;
	const char *bad[] = {"accountid"};
	const char *tilde[] = {"/a~2"};
	const char *null_ptr[] = {NULL};

	o.version = 2;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	o.version = CSPF_SECRETS_OPTIONS_VERSION;
	o.identifier_pointers = bad;
	o.nidentifier = 1;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	assert_non_null(strstr(cspf_error_last()->message, "'accountid'"));
	o.identifier_pointers = tilde;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	o.identifier_pointers = null_ptr;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	o.nidentifier = 0;
	o.entropy_threshold = -1;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	o.entropy_threshold = 0;
	o.nallow = 1;
	assert_int_equal(cspf_secrets_scan(&d, doc, &o), CSPF_EINVALID);
	assert_int_equal(cspf_secrets_scan(NULL, doc, NULL), CSPF_EINVALID);
	assert_int_equal(cspf_secrets_scan(&d, NULL, NULL), CSPF_EINVALID);
	/* Nothing was appended by the failures. */
	assert_int_equal(d.count, 0);
	/* Findings are appended after what the list holds. */
	assert_int_equal(cspf_secrets_scan(&d, doc, NULL), 1);
	assert_int_equal(cspf_secrets_scan(&d, doc, NULL), 1);
	assert_int_equal(d.count, 2);
	assert_int_equal(
		cspf_secrets_fingerprint(NULL, "r", "s", 1), CSPF_EINVALID);
	cspf_diags_clear(&d);
	cspf_json_doc_free(doc);
}

static void test_rules(void **state)
{
	size_t n, i, j;
	const cspf_secrets_rule *r = cspf_secrets_rules(&n);

	assert_int_equal(n, 18);
	for (i = 0; i < n; i++) {
		assert_non_null(r[i].id);
		assert_non_null(r[i].name);
		assert_non_null(r[i].description);
		assert_memory_equal(r[i].id, "secret/", 7);
		for (j = 0; j < i; j++)
			assert_string_not_equal(r[i].id, r[j].id);
	}
}

/* ------------------------------------------------------------------ */
/* The canary                                                         */

/*
 * A secret planted in every kind of place (value, member name, URL,
 * connection string, under a secret member name) must be reported each
 * time and appear in no field of any finding, nor in the last error:
 * at most its first four characters do.
 */
static void test_canary(void **state)
{
	static const char doc[] =
		"{\n"
		" 'aws_secret_access_key': '" CANARY "',\n"
		" '" CANARY "': 'as a member name',\n"
		" 'dsn': 'postgres://app:" CANARY "@db.example.com/ledger',\n"
		" 'conn': 'Server=db;User ID=app;Password=" CANARY ";',\n"
		" 'nested': {'" CANARY "': {'password': '" CANARY "'}},\n"
		" 'list': ['" CANARY "', {'token': 'Bearer " CANARY "'}]\n"
		"}\n";
	cspf_diags d = CSPF_DIAGS_INIT;
	const cspf_error *e;
	const char *where;
	size_t i;

	assert_int_equal(scan_at(&d, doc, NULL, __FILE__, __LINE__), 8);
	if ((where = leak(&d, CANARY)) != NULL)
		fail_msg("the canary leaks into \"%s\"", where);
	for (i = 0; i < d.count; i++) {
		assert_non_null(strstr(d.items[i].message, "(ITkz"));
		assert_null(strstr(d.items[i].pointer, "ITkz"));
	}
	e = cspf_error_last();
	if (e && e->message)
		assert_null(strstr(e->message, "ITkzY"));
	cspf_diags_clear(&d);
}

/* ------------------------------------------------------------------ */
/* Hostile documents                                                  */

static double seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * Scan {"x": "<unit repeated to about 1 MB><tail>"}: returns the number
 * of findings, and fails if the scan takes seconds, which only work
 * growing with the square of the size would.  (Not a benchmark: a linear
 * scan takes milliseconds, under a sanitizer too.)
 */
static int hostile(const char *unit, const char *tail)
{
	size_t ul = strlen(unit), reps = 1000000 / ul, cap, n, i;
	cspf_diags d = CSPF_DIAGS_INIT;
	cspf_json_doc *doc = NULL;
	char *buf;
	double t;
	int r;

	cap = ul * reps + strlen(tail) + 16;
	buf = malloc(cap);
	assert_non_null(buf);
	n = (size_t)snprintf(buf, cap, "{\"x\": \"");
	for (i = 0; i < reps; i++, n += ul)
		memcpy(buf + n, unit, ul);
	n += (size_t)snprintf(buf + n, cap - n, "%s\"}", tail);
	assert_int_equal(cspf_json_parse(&doc, buf, n, "h.json", NULL), 0);
	free(buf);
	t = seconds();
	r = cspf_secrets_scan(&d, doc, NULL);
	t = seconds() - t;
	if (t > 2)
		fail_msg("\"%s\" x %zu took %.1f s", unit, reps, t);
	cspf_diags_clear(&d);
	cspf_json_doc_free(doc);
	return r;
}

/*
 * A document crafted to make each detector start over and over (prefix
 * after prefix, '=' after '='), or to carry thousands of secrets, costs
 * time in proportion to its size; findings stop at the cap.
 */
static void test_hostile_documents(void **state)
{
	cspf_json_doc *doc;
	cspf_diags d = CSPF_DIAGS_INIT;
	char *buf;
	size_t n, i;

	assert_int_equal(hostile("xoxb-", ""), 0);
	assert_int_equal(hostile("github_pat_", ""), 0);
	assert_int_equal(hostile("ghp_", ""), 0);
	assert_int_equal(hostile("pwd=", ""), 1);
	assert_int_equal(hostile("sig=AAAAAAAAAAAAAAAAAAAAAA;", "sv="),
		CSPF_SECRETS_MAX_FINDINGS);
	assert_int_equal(hostile("AccountKey=", ""), 1);
	assert_int_equal(hostile("ab://u:p", "@h"), 0);
	assert_int_equal(hostile("abc1Q~", ""), 0);
	assert_int_equal(hostile("-----BEGIN PRIVATE KEY-----", ""), 0);
	assert_int_equal(hostile("LS0tLS1CRUdJTi", ""), 0);
	assert_int_equal(hostile("hooks.slack.com/services/", ""), 0);
	assert_int_equal(hostile("otpauth://secret=", ""), 0);
	assert_int_equal(hostile("eyJ", ""), 0);
	assert_int_equal(hostile(AKID " ", ""), CSPF_SECRETS_MAX_FINDINGS);
	assert_int_equal(hostile(RANDOM24 " ", ""), CSPF_SECRETS_MAX_FINDINGS);

	/* 50,000 members with a secret each: the walk stops at the cap. */
	buf = malloc(50000 * 64);
	assert_non_null(buf);
	n = (size_t)snprintf(buf, 16, "[");
	for (i = 0; i < 50000; i++)
		n += (size_t)snprintf(
			buf + n, 64, "%s{\"k\": \"%s\"}", i ? "," : "", GHP);
	buf[n++] = ']';
	doc = NULL;
	assert_int_equal(cspf_json_parse(&doc, buf, n, "h.json", NULL), 0);
	free(buf);
	assert_int_equal(
		cspf_secrets_scan(&d, doc, NULL), CSPF_SECRETS_MAX_FINDINGS);
	assert_string_equal(d.items[99].pointer, "/99/k");
	cspf_diags_clear(&d);
	cspf_json_doc_free(doc);
}

/* ------------------------------------------------------------------ */
/* The example registry, and threads                                  */

/* Scan every .json under dir; returns the number of files. */
static size_t scan_tree(
	const char *dir, const cspf_secrets_options *o, cspf_diags *d)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	size_t files = 0;

	if (!dh)
		return 0;
	while ((de = readdir(dh)) != NULL) {
		char path[4096];
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			files += scan_tree(path, o, d);
		} else if (len > 5 && !strcmp(de->d_name + len - 5, ".json")) {
			cspf_json_doc *doc = NULL;

			if (cspf_json_load_file(&doc, path, NULL) != 0)
				fail_msg("%s: %s", path,
					cspf_error_last()->message);
			assert_true(cspf_secrets_scan(d, doc, o) >= 0);
			cspf_json_doc_free(doc);
			files++;
		}
	}
	closedir(dh);
	return files;
}

/* The registry example, beside tests/ in the source tree. */
static void registry_example(char *out, size_t size)
{
	const char *f = __FILE__, *t = strstr(f, "tests/unit/secrets/");

	snprintf(out, size, "%.*sregistry-example", t ? (int)(t - f) : 0, f);
}

static void test_registry_example_is_clean(void **state)
{
	const char *ident[] = {"/credentials/*/identity/access_key_id"};
	cspf_secrets_options o = CSPF_SECRETS_OPTIONS_INIT;
	cspf_diags d = CSPF_DIAGS_INIT;
	char dir[4096];
	size_t files;

	registry_example(dir, sizeof(dir));
	o.identifier_pointers = ident;
	o.nidentifier = 1;
	files = scan_tree(dir, &o, &d);
	if (!files)
		skip();
	if (d.count) {
		dump(&d);
		fail_msg("%zu findings in the example registry", d.count);
	}
	cspf_diags_clear(&d);
}

struct job {
	cspf_json_doc *doc;
	size_t count;
	char fp[8][CSPF_SECRETS_FINGERPRINT_HEXLEN + 1];
	int failed;
};

static void *scan_many(void *arg)
{
	struct job *j = arg;
	int round;

	for (round = 0; round < 200 && !j->failed; round++) {
		cspf_diags d = CSPF_DIAGS_INIT;
		size_t i;

		if (cspf_secrets_scan(&d, j->doc, NULL) != (int)j->count)
			j->failed = 1;
		for (i = 0; !j->failed && i < d.count; i++)
			if (strcmp(d.items[i].fingerprint, j->fp[i]))
				j->failed = 1;
		cspf_diags_clear(&d);
	}
	return NULL;
}

static void test_threads(void **state)
{
	cspf_json_doc *doc = parse_at("{'a': '" AKID "', 'b': '" JWT "', "
				      "'c': {'" GHP "': '" RANDOM24 "'}}",
		__FILE__, __LINE__);
	cspf_diags d = CSPF_DIAGS_INIT;
	struct job jobs[4];
	pthread_t th[4];
	size_t i, k;

	assert_int_equal(cspf_secrets_scan(&d, doc, NULL), 4);
	for (i = 0; i < 4; i++) {
		jobs[i].doc = doc;
		jobs[i].count = d.count;
		jobs[i].failed = 0;
		for (k = 0; k < d.count; k++)
			snprintf(jobs[i].fp[k], sizeof(jobs[i].fp[k]), "%s",
				d.items[k].fingerprint);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, scan_many, &jobs[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_false(jobs[i].failed);
	}
	cspf_diags_clear(&d);
	cspf_json_doc_free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aws_access_key_id),
		cmocka_unit_test(test_aws_secret_access_key),
		cmocka_unit_test(test_private_key),
		cmocka_unit_test(test_gcp_service_account_key),
		cmocka_unit_test(test_github_token),
		cmocka_unit_test(test_slack_token),
		cmocka_unit_test(test_slack_webhook),
		cmocka_unit_test(test_azure_storage_key),
		cmocka_unit_test(test_azure_sas_token),
		cmocka_unit_test(test_azure_client_secret),
		cmocka_unit_test(test_jwt),
		cmocka_unit_test(test_url_password),
		cmocka_unit_test(test_connection_string_password),
		cmocka_unit_test(test_otp_seed),
		cmocka_unit_test(test_text_password),
		cmocka_unit_test(test_password_field),
		cmocka_unit_test(test_secret_field),
		cmocka_unit_test(test_high_entropy),
		cmocka_unit_test(test_entropy_threshold),
		cmocka_unit_test(test_position_in_multiline_doc),
		cmocka_unit_test(test_secret_in_member_name),
		cmocka_unit_test(test_findings_under_secret_name),
		cmocka_unit_test(test_deep_document),
		cmocka_unit_test(test_root_and_nul),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_identifier_fields),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_hostile_documents),
		cmocka_unit_test(test_registry_example_is_clean),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
