/*
 * cspf - AWS request plumbing over cspf/http.h: Signature Version 4,
 * credentials as the AWS CLI finds them, endpoints, the query, JSON 1.1
 * and REST-XML protocols, hardened XML parsing, AWS errors, and STS.
 *
 * Credentials hold their secret access key and session token in guarded
 * memory (cspf/secret.h); no function here puts them into an error, a
 * trace or a log.
 *
 * A provider's usual path:
 *
 *	cspf_aws_credentials_resolve(&creds, client, NULL);
 *	cspf_aws_service_new(&iam, "iam", region, creds, override);
 *	cspf_aws_query_new(&req, iam, "ListUsers", NULL);
 *	cspf_http_submit(client, req, on_users, ctx);
 *	...
 *	on_users(): cspf_aws_response_check(), cspf_aws_xml_parse(),
 *	            cspf_aws_xml_path(), then for the next page
 *	            cspf_http_request_set_form_param(req, "Marker", m) and
 *	            cspf_http_submit(client, req, on_users, ctx).
 *
 * Like the HTTP client, these objects are for one thread at a time.
 */
#ifndef CSPF_AWS_H
#define CSPF_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "http.h"
#include "secret.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Credentials.
 */
typedef struct cspf_aws_credentials cspf_aws_credentials;

/*
 * Static credentials; `secret_key` and `session_token` (may be NULL) are
 * copied.  `expiration` is a Unix time, 0 for none.  `source` says where
 * they came from, for messages ("environment", "profile dev in ...").
 */
int cspf_aws_credentials_new(cspf_aws_credentials **out,
	const char *access_key_id, const cspf_secret *secret_key,
	const cspf_secret *session_token, int64_t expiration,
	const char *source);

const char *cspf_aws_credentials_access_key_id(const cspf_aws_credentials *c);
/* Lent; NULL when there is no session token. */
const cspf_secret *cspf_aws_credentials_secret_key(
	const cspf_aws_credentials *c);
const cspf_secret *cspf_aws_credentials_session_token(
	const cspf_aws_credentials *c);
int64_t cspf_aws_credentials_expiration(const cspf_aws_credentials *c);
const char *cspf_aws_credentials_source(const cspf_aws_credentials *c);

/*
 * Credentials that came from STS (assume role, web identity) know how to
 * renew themselves: this does it (blocking) when they expire within five
 * minutes.  A no-op for static credentials.  The signer calls it before
 * every attempt.
 */
int cspf_aws_credentials_refresh(cspf_aws_credentials *c);

/*
 * Another reference to the same credentials (they are reference
 * counted): each reference is released with cspf_aws_credentials_free().
 */
cspf_aws_credentials *cspf_aws_credentials_ref(cspf_aws_credentials *c);
void cspf_aws_credentials_free(cspf_aws_credentials *c);

/*
 * The credentials the AWS CLI would use, in its order:
 *
 *   1. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY [, AWS_SESSION_TOKEN]
 *      (skipped when `profile` is given explicitly, as with --profile);
 *   2. the profile (`profile`, else AWS_PROFILE, else "default") in
 *      AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and AWS_CONFIG_FILE
 *      (~/.aws/config, sections "[profile NAME]"):
 *        - role_arn with source_profile (chained, any depth) or
 *          credential_source = Environment: STS AssumeRole;
 *        - role_arn with web_identity_token_file: AssumeRoleWithWebIdentity;
 *        - aws_access_key_id / aws_secret_access_key / aws_session_token;
 *   3. AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN [and
 *      AWS_ROLE_SESSION_NAME]: AssumeRoleWithWebIdentity (unsigned).
 *
 * STS is reached at the regional endpoint of the profile's region (see
 * cspf_aws_endpoint(); AWS_ENDPOINT_URL_STS works).  `client` is lent and
 * must outlive the credentials when they come from STS.  CSPF_ENOTFOUND
 * when nothing is found; the message lists what was tried.
 */
int cspf_aws_credentials_resolve(cspf_aws_credentials **out,
	cspf_http_client *client, const char *profile);

/*
 * The region: AWS_REGION, AWS_DEFAULT_REGION, then the profile's
 * `region` (profile as above).  CSPF_ENOTFOUND when none is set.
 */
int cspf_aws_region_resolve(char **out, const char *profile);

/*
 * Endpoints.
 */

/*
 * The endpoint URL of `service` ("iam", "sts", "s3", "cloudtrail",
 * "secretsmanager", or any other service id) in `region`:
 * `override` (cspf.json's endpoint_url) first, then
 * AWS_ENDPOINT_URL_<SERVICE> (the service id upper-cased, spaces and
 * dashes as '_': IAM, STS, S3, CLOUDTRAIL, SECRETS_MANAGER), then
 * AWS_ENDPOINT_URL, then AWS's own endpoint for the region's partition
 * (aws, aws-cn, aws-us-gov), FIPS when AWS_USE_FIPS_ENDPOINT=true.
 * *out is malloc'd.
 */
int cspf_aws_endpoint(char **out, const char *service, const char *region,
	const char *override);

/*
 * The region and name a request to `service` in `region` is signed with
 * (IAM is global: us-east-1 in aws, us-gov-west-1 in aws-us-gov,
 * cn-north-1 in aws-cn).  Both malloc'd.
 */
int cspf_aws_signing_scope(char **region_out, char **name_out,
	const char *service, const char *region);

/*
 * Signature Version 4.
 */
typedef struct cspf_aws_header {
	const char *name;
	const char *value;
} cspf_aws_header;

enum {
	/* S3: the path is neither normalised nor encoded twice, and the
	 * x-amz-content-sha256 header is expected. */
	CSPF_AWS_SIGV4_S3 = 1u << 0,
};

typedef struct cspf_aws_sigv4_request {
	unsigned int version;
	const char *method;
	const char *path;  /* as on the request line (may hold %XX) */
	const char *query; /* without '?'; NULL or "" for none */
	/* Every header here is signed; host and x-amz-date are needed. */
	const cspf_aws_header *headers;
	size_t nheaders;
	const void *body;
	size_t body_len;
	const char *payload_hash; /* NULL: SHA-256 of the body */
	const char *region;
	const char *service;
	unsigned int flags;
} cspf_aws_sigv4_request;

#define CSPF_AWS_SIGV4_REQUEST_VERSION 1
#define CSPF_AWS_SIGV4_REQUEST_INIT \
	{ .version = CSPF_AWS_SIGV4_REQUEST_VERSION }

typedef struct cspf_aws_sigv4_result {
	char *canonical_request; /* only when asked for (may hold a token) */
	char *string_to_sign;
	char *signed_headers;    /* "host;x-amz-date" */
	char *authorization;     /* the Authorization header's value */
	char signature[65];
} cspf_aws_sigv4_result;

/*
 * Sign: the pure function, for tests and for callers with their own
 * transport.  The date comes from the x-amz-date header.  When
 * `want_canonical` is false the canonical request is only ever built in
 * guarded memory.  Free the result with cspf_aws_sigv4_result_dispose().
 */
int cspf_aws_sigv4_sign(cspf_aws_sigv4_result *out,
	const cspf_aws_sigv4_request *req, const char *access_key_id,
	const cspf_secret *secret_key, bool want_canonical);
void cspf_aws_sigv4_result_dispose(cspf_aws_sigv4_result *r);

/*
 * A signer for one service and region; use it as a prepare hook:
 *
 *	cspf_http_request_set_prepare(req, cspf_aws_signer_prepare, signer);
 *
 * Before each attempt it refreshes the credentials when needed, sets
 * X-Amz-Date (now), X-Amz-Security-Token (a secret header) and, for S3,
 * x-amz-content-sha256, then signs host, content-type, x-amz-* and the
 * other headers named in `extra_signed` over the method, URL and body.
 * The signer holds a reference to the credentials.
 */
typedef struct cspf_aws_signer cspf_aws_signer;

int cspf_aws_signer_new(cspf_aws_signer **out, cspf_aws_credentials *creds,
	const char *service, const char *region, unsigned int flags);
int cspf_aws_signer_prepare(cspf_http_request *req, void *payload);
void cspf_aws_signer_free(cspf_aws_signer *s);

/*
 * Services and protocols.
 */
typedef struct cspf_aws_service cspf_aws_service;

/*
 * A service in a region: its endpoint (resolved as cspf_aws_endpoint()
 * does, with `override` first), its signing scope and a signer over
 * `creds` (referenced).  `creds` NULL: requests go unsigned.
 */
int cspf_aws_service_new(cspf_aws_service **out, const char *service,
	const char *region, cspf_aws_credentials *creds, const char *override);
const char *cspf_aws_service_endpoint(const cspf_aws_service *svc);
const char *cspf_aws_service_region(const cspf_aws_service *svc);
cspf_aws_signer *cspf_aws_service_signer(const cspf_aws_service *svc);
void cspf_aws_service_free(cspf_aws_service *svc);

/*
 * Query protocol (IAM, STS): a POST of the form Action=...&Version=...
 * with the name/value pairs of `params` (NULL-terminated, may be NULL),
 * signed, with the AWS throttling classifier.  `version` NULL: the
 * service's API version (IAM 2010-05-08, STS 2011-06-15).  Add more with
 * cspf_http_request_set_form_param().
 */
int cspf_aws_query_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *action, const char *version);

/*
 * JSON 1.1 protocol (Secrets Manager, CloudTrail): a POST to / with
 * X-Amz-Target: `target` (e.g. "secretsmanager.ListSecrets") and a JSON
 * body ("{}" when NULL).  _secret puts a body that holds a secret in
 * guarded memory and marks the request sensitive.  A call whose answer
 * holds a secret (GetSecretValue) must be marked sensitive by the caller:
 * cspf_http_request_set_sensitive(req, true).
 */
int cspf_aws_json_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *target, const char *json);
int cspf_aws_json_new_secret(cspf_http_request **out,
	const cspf_aws_service *svc, const char *target,
	const cspf_secret *json);

/*
 * REST-XML (S3, path style): `method` on /`path` (each byte outside the
 * unreserved set and '/' percent-encoded here) with `query` as given
 * (e.g. "acl", "list-type=2&prefix=a"), signed.
 */
int cspf_aws_rest_new(cspf_http_request **out, const cspf_aws_service *svc,
	const char *method, const char *path, const char *query);

/*
 * The retry classifier of AWS requests (set by the helpers above):
 * throttling error codes (Throttling, ThrottlingException,
 * RequestLimitExceeded, TooManyRequestsException, SlowDown,
 * RequestThrottled, ProvisionedThroughputExceededException, ...) and
 * transient ones (RequestTimeout, IDPCommunicationError, ...) in an XML
 * or JSON body or the x-amzn-ErrorType header are retried.
 */
cspf_http_class cspf_aws_classify(const cspf_http_response *resp,
	void *payload);

/*
 * Errors.
 */
typedef struct cspf_aws_error {
	int status;
	char code[128];       /* "AccessDenied", "NoSuchEntity", ... */
	char message[512];
	char request_id[128];
} cspf_aws_error;

/*
 * Read an AWS error from a response: XML (<ErrorResponse><Error><Code>,
 * S3's <Error><Code>) or JSON (__type, message), or x-amzn-ErrorType.
 * Returns 0 when it found a code, CSPF_ENOTFOUND otherwise (status set).
 */
int cspf_aws_error_parse(cspf_aws_error *out, const cspf_http_response *resp);

/*
 * 0 when `error` is 0 and the status is 2xx.  Otherwise raises an error
 * "WHAT: HTTP 403 AccessDenied: ... (request id ...)" and returns
 * CSPF_EAUTH (access or signature refused, expired token),
 * CSPF_ENOTFOUND (404, NoSuchEntity, ResourceNotFoundException, ...),
 * CSPF_ECONFLICT (409, EntityAlreadyExists, ...) or CSPF_ERROR; a
 * transport error (`error` < 0) is passed up unchanged.
 */
int cspf_aws_response_check(const cspf_http_response *resp, int error,
	const char *what);

/*
 * XML.  Parsed with libxml2 without network access, DTDs or entity
 * substitution; a document with a DOCTYPE or an entity declaration, over
 * CSPF_AWS_XML_MAX bytes or nested too deep is refused (CSPF_EINVALID).
 * Elements are found by local name, namespaces ignored.
 */
typedef struct cspf_aws_xml cspf_aws_xml;
typedef struct _xmlNode cspf_aws_xml_node;

#define CSPF_AWS_XML_MAX (32u << 20)

int cspf_aws_xml_parse(cspf_aws_xml **out, const char *data, size_t len);
/* Parse the body of a response (sensitive or not). */
int cspf_aws_xml_parse_response(cspf_aws_xml **out,
	const cspf_http_response *resp);
const cspf_aws_xml_node *cspf_aws_xml_root(const cspf_aws_xml *doc);
/* The first child element named `name` (NULL: any), or NULL. */
const cspf_aws_xml_node *cspf_aws_xml_child(const cspf_aws_xml_node *n,
	const char *name);
/* The next sibling element named `name` (NULL: any), or NULL. */
const cspf_aws_xml_node *cspf_aws_xml_next(const cspf_aws_xml_node *n,
	const char *name);
/* Down a "/"-separated path of child names: "ListUsersResult/Users". */
const cspf_aws_xml_node *cspf_aws_xml_path(const cspf_aws_xml_node *n,
	const char *path);
const char *cspf_aws_xml_name(const cspf_aws_xml_node *n);
/* The text of `n` (malloc'd, "" when empty), or NULL when n is NULL. */
char *cspf_aws_xml_text(const cspf_aws_xml_node *n);
/* The text of child path `path` of `n`, malloc'd, or NULL. */
char *cspf_aws_xml_get(const cspf_aws_xml_node *n, const char *path);
/* The text as a secret; CSPF_ENOTFOUND when n is NULL. */
int cspf_aws_xml_text_secret(cspf_secret **out, const cspf_aws_xml_node *n);
/* Zeroes the document's text before releasing it. */
void cspf_aws_xml_free(cspf_aws_xml *doc);

/*
 * STS.
 */
typedef struct cspf_aws_assume_role_options {
	unsigned int version;
	const char *role_arn;
	const char *session_name; /* NULL: "cspf-<unix time>" */
	unsigned int duration_s;  /* 0: 3600 */
	const char *external_id;  /* may be NULL */
	const char *region;       /* NULL: us-east-1 (global endpoint) */
	const char *endpoint;     /* override, may be NULL */
} cspf_aws_assume_role_options;

#define CSPF_AWS_ASSUME_ROLE_OPTIONS_VERSION 1
#define CSPF_AWS_ASSUME_ROLE_OPTIONS_INIT \
	{ .version = CSPF_AWS_ASSUME_ROLE_OPTIONS_VERSION }

/*
 * sts:AssumeRole with `base`; the temporary credentials carry their
 * expiration and renew themselves (cspf_aws_credentials_refresh()).
 * `client` is lent and must outlive them.
 */
int cspf_aws_assume_role(cspf_aws_credentials **out, cspf_http_client *client,
	cspf_aws_credentials *base, const cspf_aws_assume_role_options *opts);

/*
 * sts:AssumeRoleWithWebIdentity (unsigned) with the token read from
 * `token_file` on each call (platforms rotate it).  opts->external_id is
 * ignored.
 */
int cspf_aws_assume_role_with_web_identity(cspf_aws_credentials **out,
	cspf_http_client *client, const char *token_file,
	const cspf_aws_assume_role_options *opts);

typedef struct cspf_aws_identity {
	char account[32];
	char arn[512];
	char user_id[256];
} cspf_aws_identity;

/* sts:GetCallerIdentity.  `region`, `endpoint` as for AssumeRole. */
int cspf_aws_get_caller_identity(cspf_aws_identity *out,
	cspf_http_client *client, cspf_aws_credentials *creds,
	const char *region, const char *endpoint);

#ifdef __cplusplus
}
#endif
#endif
