/*
 * cspf - the audit log: a signed hash chain of every rotation step.
 *
 * The log lives in the registry, under audit/, one file per month
 * (audit/2026-11.jsonl), one record per line.  Each record is one line of
 * JSON with its members in this order, and no white space:
 *
 *   {"v":1,"seq":N,"time":"2026-11-03T09:00:00Z","actor":"...",
 *    "credential":"...","rotation":"..."|null,"step":"...",
 *    "outcome":"...","key_ids":{"old":"..."|null,"new":"..."|null},
 *    "detail":"..."|null,"prev":"<64 hex>","key":"<16 hex>",
 *    "sig":"<88 base64>"}
 *
 *   seq    1 for the first record of the log, then one more each record;
 *          the log goes on across months.
 *   prev   BLAKE2b-256 (libsodium crypto_generichash, 32 bytes, no key),
 *          in lower-case hex, of the previous record's line: every byte
 *          of it, without its newline.  The first record: 64 zeros.
 *   key    the id of the signing key: the first 16 hex digits of the
 *          BLAKE2b-256 of the 32-byte Ed25519 public key.
 *   sig    Ed25519 (crypto_sign_detached) over every byte of the line
 *          before ,"sig": — from the opening brace up to and including the
 *          closing quote of "key"'s value — in standard base64 with
 *          padding.
 *
 * A record is written in one write(2) to a file opened with O_APPEND and
 * is flushed with fsync(2) before cspf_audit_append() returns.  Appends
 * hold a mutex (threads of a process) and an exclusive flock(2) on
 * audit/.lock (processes, on the same machine), so any number of both may
 * append to one registry at once: seq never repeats or skips.
 *
 * The log records key ids, never secret values.  Values the caller puts
 * in a record (the detail above all) are the caller's to check: the log
 * only bounds their length.
 *
 * The signing key: an Ed25519 seed (32 bytes) in standard base64 with
 * padding (44 characters), alone on one line.  `cspf audit keygen`
 * writes one; the same text may be kept in a vault instead of a file.
 */
#ifndef CSPF_AUDIT_H
#define CSPF_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "secret.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* Sizes of the text forms, with their NUL. */
#define CSPF_AUDIT_PUBLIC_KEY_SIZE 45 /* base64 of 32 bytes */
#define CSPF_AUDIT_KEY_ID_SIZE 17     /* 16 hex digits */

/* Bounds of a record's strings, in bytes. */
#define CSPF_AUDIT_FIELD_MAX 256
#define CSPF_AUDIT_DETAIL_MAX 1024

/* ---- signing keys ---- */

typedef struct cspf_audit_signer cspf_audit_signer;

/*
 * A new signing key, written to `path` (which must not exist: created
 * O_EXCL|O_NOFOLLOW, mode 0600, fsync'ed) as its seed in base64 and a
 * newline.  Its public key (base64) goes into `public_key`, and its id
 * into `key_id` (may be NULL).  CSPF_EEXISTS when `path` exists.
 */
int cspf_audit_keygen(char public_key[CSPF_AUDIT_PUBLIC_KEY_SIZE],
	char key_id[CSPF_AUDIT_KEY_ID_SIZE], const char *path);

/*
 * The signing key in the file at `path` (owned by the user, mode 0600 or
 * stricter: see cspf_secret_from_file()).  CSPF_EINVALID when it holds
 * no key in the format above (the message never quotes the file).
 */
int cspf_audit_signer_from_file(cspf_audit_signer **out, const char *path);

/*
 * The signing key held by `key` (the same text as a key file: say a
 * vault's current value).  `key` is only read; the caller keeps it.
 */
int cspf_audit_signer_from_secret(cspf_audit_signer **out,
	const cspf_secret *key);

/*
 * The signing key that cspf.json's "audit" object (`config`) names in
 * signing_key: {"file": PATH} (relative to `base_dir`, NULL: the working
 * directory) or {"vault": NAME, "path": P}, read through the vault
 * `vaults` (cspf.json's "vaults" object) declares by that name: the
 * current version of P.  CSPF_ENOTFOUND when there is no signing_key.
 */
int cspf_audit_signer_from_config(cspf_audit_signer **out,
	const struct cJSON *config, const struct cJSON *vaults,
	const char *base_dir);

/* Lent, valid while the signer lives. */
const char *cspf_audit_signer_public_key(const cspf_audit_signer *s);
const char *cspf_audit_signer_key_id(const cspf_audit_signer *s);

/* Zero and release; NULL is fine.  */
void cspf_audit_signer_free(cspf_audit_signer *s);

/*
 * The id of a public key given in base64 into `key_id`.  CSPF_EINVALID
 * when `public_key` is not the base64 of 32 bytes.
 */
int cspf_audit_key_id(char key_id[CSPF_AUDIT_KEY_ID_SIZE],
	const char *public_key);

/* ---- appending ---- */

/*
 * One record.  `actor`, `credential`, `step` and `outcome` are required
 * and not empty; `step` and `outcome` are words ([a-z][a-z0-9_-]*, as
 * "create", "set", "test", "finish"; "ok", "failed").  The others may be
 * NULL (null in the record).  Every string is valid UTF-8 without control
 * characters, at most CSPF_AUDIT_FIELD_MAX bytes (the detail:
 * CSPF_AUDIT_DETAIL_MAX); anything else is refused with CSPF_EINVALID.
 */
typedef struct cspf_audit_record {
	unsigned int version;
	int64_t time;           /* Unix time; 0: now */
	const char *actor;      /* who: a user, a CI job, a host */
	const char *credential; /* the credential's registry id */
	const char *rotation;   /* the rotation id */
	const char *step;
	const char *outcome;
	const char *key_old;    /* public key ids (an access key id) */
	const char *key_new;
	const char *detail;     /* for a person; never a value */
} cspf_audit_record;

#define CSPF_AUDIT_RECORD_VERSION 1
#define CSPF_AUDIT_RECORD_INIT { .version = CSPF_AUDIT_RECORD_VERSION }

typedef struct cspf_audit_log cspf_audit_log;

/*
 * The audit log of the registry at `dir` (audit/ is created on the first
 * append), signing with `signer`, which must outlive the log.  Nothing
 * is read yet.  A log may be used by many threads at once.
 */
int cspf_audit_open(cspf_audit_log **out, const char *dir,
	const cspf_audit_signer *signer);

/*
 * Append `rec` to the log: under the locks, read the last line of the
 * newest audit/YYYY-MM.jsonl, chain to it and sign.  The record goes to
 * the file of its time's month, or to the newest file when that is later
 * (a clock behind another machine's: the chain must stay in file order).
 * Its seq into *seq (may be NULL).  CSPF_EINVALID for a bad record;
 * CSPF_ECONFLICT when the last line is incomplete or not a record
 * (`cspf audit verify` tells more); other errors from the file system.
 */
int cspf_audit_append(uint64_t *seq, cspf_audit_log *log,
	const cspf_audit_record *rec);

/* Release; NULL is fine. */
void cspf_audit_free(cspf_audit_log *log);

/* ---- verifying ---- */

/*
 * What cspf_audit_verify() found.  `ok` when every record verified;
 * otherwise the first bad record: its file (relative to the registry's
 * root, "audit/2026-11.jsonl"), line, column (malformed JSON only, else
 * 0), rule and message.  `records` and `files` count what was read
 * (up to the bad record).
 */
typedef struct cspf_audit_result {
	bool ok;
	size_t records;
	size_t files;
	char *file;
	unsigned int line;
	unsigned int column;
	const char *rule; /* static: "audit-json", "audit-format",
			   * "audit-key", "audit-signature", "audit-chain",
			   * "audit-seq", "audit-file" */
	char *message;
} cspf_audit_result;

/* Release what `r` holds; it can be reused. */
void cspf_audit_result_dispose(cspf_audit_result *r);

/*
 * Check the log of the registry at `dir`: every audit/YYYY-MM.jsonl in month
 * order, each record's shape, its signature by one of the `nkeys` trusted
 * public keys (base64), its prev against the line before it and its seq.
 * Stops at the first bad record.  A registry with no audit/ (or no
 * records) verifies, with 0 records.  Returns 0 when the check ran,
 * whatever it found; CSPF_EINVALID for a key that is not a public key or
 * no key at all; CSPF_ENOTFOUND when `dir` is not a directory; other
 * errors when the files cannot be read.
 */
int cspf_audit_verify(cspf_audit_result *out, const char *dir,
	const char *const *public_keys, size_t nkeys);

#ifdef __cplusplus
}
#endif
#endif
