/*
 * cspf vault: put a secret into one of the registry's vaults, show what a
 * vault holds for a path (never the value), make a file vault's key.
 */
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cmd.h"
#include "cspf/json.h"
#include "cspf/secret.h"
#include "cspf/time.h"
#include "cspf/vault.h"

void cmd_vault_help(FILE *f)
{
	fputs(
"usage: cspf vault put [--registry DIR] --vault NAME [--key-id ID] PATH < VALUE\n"
"       cspf vault status [--registry DIR] --vault NAME PATH\n"
"       cspf vault exec [--registry DIR] --vault NAME PATH -- COMMAND [ARG]...\n"
"       cspf vault keygen FILE\n"
"\n"
"  put     store the value read from standard input (one trailing newline\n"
"          removed) as the current version of PATH in vault NAME, declared\n"
"          under \"vaults\" in the registry's cspf.json: how a credential\n"
"          enters its vault before cspf rotates it\n"
"  status  the versions (current, pending, previous) of PATH with their\n"
"          rotation ids and key ids, and its rotation record; never a value\n"
"  exec    run COMMAND with the current value of PATH on its standard\n"
"          input (never in argv or the environment); exit with its status\n"
"  keygen  a new key for a file vault: 32 random bytes, hex, mode 0600\n"
"\n"
"  --registry DIR   the registry whose cspf.json declares the vault (.)\n", f);
}

static int open_vault(cspf_vault **out, cspf_json_doc **doc,
	const char *dir, const char *name)
{
	cspf_vault_options vo = CSPF_VAULT_OPTIONS_INIT;
	const cJSON *vaults;
	char path[4096];

	snprintf(path, sizeof(path), "%s/cspf.json", dir);
	if (cspf_json_load_file(doc, path, NULL) < 0) {
		cmd_print_error("vault: ");
		return -1;
	}
	vaults = cJSON_GetObjectItemCaseSensitive(cspf_json_doc_root(*doc),
		"vaults");
	if (!cJSON_GetObjectItemCaseSensitive(vaults, name)) {
		fprintf(stderr, "cspf vault: %s declares no vault \"%s\" under \"vaults\"\n",
			path, name);
		return -1;
	}
	vo.base_dir = dir;
	if (cspf_vault_open(out, name,
			cJSON_GetObjectItemCaseSensitive(vaults, name), &vo) < 0) {
		cmd_print_error("vault: ");
		return -1;
	}
	return 0;
}

/* Standard input into guarded memory, without one trailing newline. */
static int read_stdin_secret(cspf_secret **out)
{
	size_t cap = 4096, len = 0;
	unsigned char *buf = sodium_malloc(cap);
	int r = -1;

	if (!buf)
		return -1;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, cap - len);

		if (n < 0)
			goto done;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			unsigned char *grown;

			if (cap >= CSPF_SECRET_MAX)
				goto done;
			if (!(grown = sodium_malloc(cap * 2)))
				goto done;
			memcpy(grown, buf, len);
			sodium_free(buf);
			buf = grown;
			cap *= 2;
		}
	}
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		fprintf(stderr, "cspf vault: nothing on standard input\n");
		goto done;
	}
	r = cspf_secret_new(out, buf, len);
done:
	sodium_free(buf);
	return r;
}

/* COMMAND with `value` on its standard input; its exit status. */
static int run_with_secret(char **argv, const cspf_secret *value)
{
	const unsigned char *p;
	size_t n, done = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0) {
		perror("cspf vault: pipe");
		return EXIT_TROUBLE;
	}
	if ((pid = fork()) < 0) {
		perror("cspf vault: fork");
		return EXIT_TROUBLE;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "cspf vault: cannot run %s\n", argv[0]);
		_exit(127);
	}
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	if (cspf_secret_open(&p, &n, value) == 0) {
		while (done < n) {
			ssize_t w = write(fds[1], p + done, n - done);

			if (w <= 0)
				break;
			done += (size_t)w;
		}
		cspf_secret_close(value);
	}
	close(fds[1]);
	if (waitpid(pid, &status, 0) < 0)
		return EXIT_TROUBLE;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int cmd_vault(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "registry", required_argument, NULL, 'r' },
		{ "vault", required_argument, NULL, 'V' },
		{ "key-id", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = ".", *name = NULL, *key_id = NULL, *sub, *path;
	cspf_json_doc *doc = NULL;
	cspf_vault *v = NULL;
	int c, rc = EXIT_TROUBLE;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cmd_vault_help(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_TROUBLE : EXIT_CLEAN;
	}
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': dir = optarg; break;
		case 'V': name = optarg; break;
		case 'k': key_id = optarg; break;
		case 'h': cmd_vault_help(stdout); return EXIT_CLEAN;
		default: return cmd_usage_error("vault", "see cspf vault --help");
		}
	}
	if (strcmp(sub, "exec") == 0) {
		cspf_secret *value = NULL;

		if (optind + 1 >= argc)
			return cmd_usage_error("vault", "exec wants PATH -- COMMAND");
		if (!name)
			return cmd_usage_error("vault", "exec needs --vault NAME");
		if (open_vault(&v, &doc, dir, name) < 0)
			goto done;
		if (cspf_vault_get(&value, NULL, v, argv[optind],
				CSPF_VAULT_CURRENT) < 0) {
			cmd_print_error("vault: ");
			goto done;
		}
		rc = run_with_secret(argv + optind + 1, value);
		cspf_secret_free(value);
		goto done;
	}
	if (optind + 1 != argc)
		return cmd_usage_error("vault", "%s wants one %s", sub,
			strcmp(sub, "keygen") ? "PATH" : "FILE");
	path = argv[optind];

	if (strcmp(sub, "keygen") == 0) {
		if (cspf_vault_file_keygen(path) < 0) {
			cmd_print_error("vault: ");
			return EXIT_TROUBLE;
		}
		printf("wrote a new file vault key to %s (mode 0600)\n", path);
		return EXIT_CLEAN;
	}
	if (strcmp(sub, "put") && strcmp(sub, "status"))
		return cmd_usage_error("vault", "unknown subcommand %s (put, status, exec, keygen)",
			sub);
	if (!name)
		return cmd_usage_error("vault", "%s needs --vault NAME", sub);
	if (open_vault(&v, &doc, dir, name) < 0)
		goto done;

	if (strcmp(sub, "put") == 0) {
		cspf_secret *value = NULL;

		if (isatty(STDIN_FILENO))
			fprintf(stderr, "cspf vault: reading the value from standard input (end with Ctrl-D)\n");
		if (read_stdin_secret(&value) < 0)
			goto done;
		if (cspf_vault_put(v, path, value, key_id) < 0) {
			cspf_secret_free(value);
			cmd_print_error("vault: ");
			goto done;
		}
		cspf_secret_free(value);
		printf("stored %s in vault %s as its current version\n", path,
			name);
		rc = EXIT_CLEAN;
	} else {
		static const cspf_vault_label labels[] = {
			CSPF_VAULT_CURRENT, CSPF_VAULT_PENDING,
			CSPF_VAULT_PREVIOUS,
		};
		char *record = NULL, *tag = NULL, t[CSPF_TIME_BUFSIZE];
		size_t i;
		int found = 0, e;

		for (i = 0; i < 3; i++) {
			cspf_vault_version info;

			e = cspf_vault_get(NULL, &info, v, path, labels[i]);
			if (e == CSPF_ENOTFOUND)
				continue;
			if (e < 0) {
				cmd_print_error("vault: ");
				goto done;
			}
			found++;
			if (info.created)
				cspf_time_format(t, info.created);
			printf("%-9s version %s%s%s%s%s%s%s\n",
				cspf_vault_label_name(labels[i]),
				info.version ? info.version : "?",
				info.rotation_id ? ", rotation " : "",
				info.rotation_id ? info.rotation_id : "",
				info.key_id ? ", key " : "",
				info.key_id ? info.key_id : "",
				info.created ? ", created " : "",
				info.created ? t : "");
			cspf_vault_version_dispose(&info);
		}
		e = cspf_vault_record_get(&record, &tag, v, path);
		if (e == 0) {
			printf("record    %s\n", record);
			found++;
		} else if (e != CSPF_ENOTFOUND) {
			cmd_print_error("vault: ");
			goto done;
		}
		free(record);
		free(tag);
		if (!found) {
			fprintf(stderr, "cspf vault: vault %s has nothing at %s\n",
				name, path);
			rc = EXIT_FINDINGS;
			goto done;
		}
		rc = EXIT_CLEAN;
	}
done:
	cspf_vault_free(v);
	cspf_json_doc_free(doc);
	return rc;
}
