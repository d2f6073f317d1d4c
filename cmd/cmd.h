/*
 * The cspf command line: one file per subcommand, each with
 * int cmd_<name>(int argc, char **argv), returning the exit code
 * (0 clean, 1 findings, 2 usage or environment error).
 */
#ifndef CSPF_CMD_H
#define CSPF_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include "cspf/report.h"

enum { EXIT_CLEAN = 0, EXIT_FINDINGS = 1, EXIT_TROUBLE = 2 };

int cmd_schema(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_drift(int argc, char **argv);
int cmd_inventory(int argc, char **argv);
int cmd_rotate(int argc, char **argv);
void cmd_rotate_help(FILE *f);
int cmd_vault(int argc, char **argv);
void cmd_vault_help(FILE *f);
int cmd_audit(int argc, char **argv);
int cmd_digest(int argc, char **argv);
void cmd_digest_help(FILE *f);
void cmd_inventory_help(FILE *f);
void cmd_validate_help(FILE *f);
void cmd_drift_help(FILE *f);
void cmd_schema_help(FILE *f);
void cmd_audit_help(FILE *f);
int cmd_schema_docs(int argc, char **argv);
int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Print "cspf: <message>" for the last library error, to stderr. */
void cmd_print_error(const char *prefix);
/* Usage error: prints to stderr, returns EXIT_TROUBLE. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether to colour output going to `f` (a TTY, NO_COLOR unset). */
bool cmd_use_color(FILE *f);

/* Number of online processors, at least 1. */
unsigned cmd_ncpus(void);

/*
 * `arg`, the value of option `opt` of command `cmd`, as a whole number
 * from `min` to `max` into *out.  0 when it is one; else prints the usage
 * error and returns EXIT_TROUBLE.
 */
int cmd_parse_count(unsigned *out, const char *cmd, const char *opt,
	const char *arg, unsigned min, unsigned max);

/*
 * --provider's value (aws, azure or all) into *out as CSPF_INVENTORY_*
 * bits.  0 when it is one; else prints the usage error and returns
 * EXIT_TROUBLE.
 */
int cmd_parse_providers(unsigned *out, const char *cmd, const char *arg);

/*
 * --format's value into *out: text, json, sarif or junit.  0 when it is
 * one; else prints the usage error and returns EXIT_TROUBLE.
 */
int cmd_parse_format(cspf_report_format *out, const char *cmd,
	const char *arg);

/*
 * Print `diags` (sorted by file) through a report made with `po`, one
 * entry per file with findings.  Returns EXIT_FINDINGS when there are
 * findings, EXIT_CLEAN when none, EXIT_TROUBLE when the report could not
 * be written (the error printed).
 */
int cmd_report(const cspf_diags *diags, const cspf_report_options *po);

#endif
