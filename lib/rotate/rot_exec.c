/*
 * exec: the organisation's own commands set, test and retire a secret
 * (rotation.exec: set, test, retire, timeout).
 *
 * Each command is an argv array, run without a shell from the registry's
 * root in a process group of its own.  The secret is written to its
 * standard input from guarded memory, exactly its bytes and no newline,
 * and standard input is then closed (a script reads it with pw=$(cat),
 * or IFS= read -r pw || true).  It is never in argv or the environment,
 * which holds PATH, HOME and LANG (from cspf's, when set) and the public
 * facts CSPF_CREDENTIAL_ID, CSPF_ROTATION_ID and CSPF_STEP (set, test,
 * retire or undo).  Standard output goes to /dev/null; the last 4 KiB of
 * standard error are kept in guarded memory and, when the command fails,
 * its last line, with every occurrence of the secret replaced by
 * [redacted], goes into the error message.  A command still running at
 * the timeout (default PT60S) is killed with its whole process group.
 *
 *   create  a random password (rotation.policy); the vault value is the
 *           password itself, so a vault reference with "field" is
 *           refused;
 *   set     runs set with the pending secret;
 *   test    runs test with the pending secret;
 *   retire  at the end of the grace period (final), runs retire with the
 *           previous secret when it is configured; deactivating (not
 *           final) has no command of its own;
 *   undo    runs set with the current secret (CSPF_STEP=undo).
 *
 * The commands must be idempotent, as every step is: they are run again
 * after a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "cspf/time.h"
#include "rotate/rotator.h"
#include "util/error.h"

#define DEFAULT_TIMEOUT "PT60S"
#define MAX_TIMEOUT (24 * 3600)
#define MAX_ARGS 64
#define TAIL 4096  /* bytes of standard error kept */
#define CHUNK 1024 /* read at once */
#define POLL_MS 20 /* how often the child's exit is checked */
#define REDACTED "[redacted]"

/* What one command left behind. */
struct outcome {
	unsigned char *tail; /* last TAIL bytes of stderr, guarded */
	size_t len;
	bool truncated;      /* earlier bytes were dropped */
	bool timed_out;
	int status;          /* waitpid's */
};

static const cJSON *exec_config(const cspf_rotator_ctx *ctx)
{
	const cJSON *rotation;

	rotation = cJSON_GetObjectItemCaseSensitive(ctx->credential,
		"rotation");
	return cJSON_GetObjectItemCaseSensitive(rotation, "exec");
}

/* The argv of rotation.exec.<name> (NULL-terminated, lent strings). */
static int command_argv(char ***out, const cspf_rotator_ctx *ctx,
	const char *name)
{
	const cJSON *cmd, *item;
	char **argv;
	int n, i = 0;

	*out = NULL;
	cmd = cJSON_GetObjectItemCaseSensitive(exec_config(ctx), name);
	n = cJSON_GetArraySize(cmd);
	if (!cJSON_IsArray(cmd) || n < 1 || n > MAX_ARGS)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"exec: %s: rotation.exec.%s must be an array of 1 to %d strings",
			ctx->credential_id, name, MAX_ARGS);
	if (!(argv = calloc((size_t)n + 1, sizeof(*argv))))
		return cspf_error_set_oom();
	cJSON_ArrayForEach(item, cmd) {
		if (!cJSON_IsString(item) || !item->valuestring[0]) {
			free(argv);
			return cspf_error_set(CSPF_EINVALID,
				CSPF_ERRCLASS_INVALID,
				"exec: %s: rotation.exec.%s/%d must be a non-empty string",
				ctx->credential_id, name, i);
		}
		argv[i++] = item->valuestring;
	}
	*out = argv;
	return 0;
}

/* rotation.exec.timeout in seconds. */
static int command_timeout(int64_t *out, const cspf_rotator_ctx *ctx)
{
	const cJSON *item;
	const char *s = DEFAULT_TIMEOUT;

	item = cJSON_GetObjectItemCaseSensitive(exec_config(ctx), "timeout");
	if (cJSON_IsString(item))
		s = item->valuestring;
	if (cspf_duration_add(out, 0, s) < 0 || *out < 1 ||
	    *out > MAX_TIMEOUT)
		return cspf_error_set(CSPF_EINVALID, CSPF_ERRCLASS_INVALID,
			"exec: %s: rotation.exec.timeout must be a duration from PT1S to P1D",
			ctx->credential_id);
	return 0;
}

/* The child's environment: public facts only.  Free with env_free(). */
static void env_free(char **env)
{
	size_t i;

	for (i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

static int env_add(char **env, size_t *n, const char *name,
	const char *value)
{
	size_t len;

	if (!value)
		return 0;
	len = strlen(name) + strlen(value) + 2;
	if (!(env[*n] = malloc(len)))
		return -1;
	snprintf(env[*n], len, "%s=%s", name, value);
	(*n)++;
	return 0;
}

static int env_make(char ***out, const cspf_rotator_ctx *ctx,
	const char *step)
{
	const char *path = getenv("PATH");
	char **env;
	size_t n = 0;

	if (!(env = calloc(7, sizeof(*env))))
		return cspf_error_set_oom();
	if (env_add(env, &n, "PATH", path && *path ? path :
		    "/usr/local/bin:/usr/bin:/bin") < 0 ||
	    env_add(env, &n, "HOME", getenv("HOME")) < 0 ||
	    env_add(env, &n, "LANG", getenv("LANG")) < 0 ||
	    env_add(env, &n, "CSPF_CREDENTIAL_ID", ctx->credential_id) < 0 ||
	    env_add(env, &n, "CSPF_ROTATION_ID", ctx->rotation_id) < 0 ||
	    env_add(env, &n, "CSPF_STEP", step) < 0) {
		env_free(env);
		return cspf_error_set_oom();
	}
	*out = env;
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Read what stderr has into the tail, dropping its oldest bytes past
 * TAIL.  Returns 1 at end of file or on error, 0 when more may come.
 */
static int tail_read(struct outcome *o, int fd)
{
	ssize_t r;
	size_t drop;
	int i;

	/* Bounded: a writer faster than this loop does not hold it. */
	for (i = 0; i < 64; i++) {
		if (TAIL - o->len < CHUNK) {
			drop = CHUNK - (TAIL - o->len);
			memmove(o->tail, o->tail + drop, o->len - drop);
			sodium_memzero(o->tail + o->len - drop, drop);
			o->len -= drop;
			o->truncated = true;
		}
		r = read(fd, o->tail + o->len, CHUNK);
		if (r > 0) {
			o->len += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return 1;
	}
	return 0;
}

/*
 * Spawn argv in `dir` with `env`, feed it `secret`, wait for it until
 * `timeout` seconds have passed (then kill its process group), keeping
 * the tail of its stderr in `o`.  An error only when it cannot be run.
 */
static int spawn_and_wait(struct outcome *o, char **argv, char **env,
	const char *dir, const cspf_secret *secret, int64_t timeout)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defaults, pipe_set, old, pend;
	struct pollfd pfd[2];
	const unsigned char *p;
	size_t n, off = 0;
	int in[2] = { -1, -1 }, err[2] = { -1, -1 };
	int64_t deadline;
	bool pipe_pending;
	pid_t pid = -1;
	ssize_t w;
	int rc, nfds, error = CSPF_ERROR;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		cspf_error_set_os("cannot make a pipe");
		goto close_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGQUIT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	sigaddset(&defaults, SIGCHLD);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
		POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (dir)
		posix_spawn_file_actions_addchdir_np(&fa, dir);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		error = cspf_error_set_os("cannot run %s from %s", argv[0],
			dir ? dir : ".");
		goto close_pipes;
	}
	close(in[0]);
	close(err[1]);
	in[0] = err[1] = -1;
	fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
	fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);

	/*
	 * A command that exits without reading its input makes the write
	 * fail with EPIPE: SIGPIPE is blocked on this thread meanwhile and
	 * one it raised is taken off before the old mask comes back.
	 */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pend);
	pipe_pending = sigismember(&pend, SIGPIPE);

	n = cspf_secret_len(secret);
	if (n == 0) {
		close(in[1]);
		in[1] = -1;
	}
	deadline = now_ms() + timeout * 1000;
	for (;;) {
		int64_t left = deadline - now_ms();

		rc = waitpid(pid, &o->status, WNOHANG);
		if (rc == pid) {
			if (err[0] >= 0)
				tail_read(o, err[0]);
			break;
		}
		if (rc < 0 && errno != EINTR) {
			/* Reaped elsewhere (SIGCHLD ignored): no status. */
			cspf_error_set_os("cannot learn how %s ended", argv[0]);
			goto restore;
		}
		if (left <= 0) {
			kill(-pid, SIGKILL);
			while (waitpid(pid, &o->status, 0) < 0 &&
			       errno == EINTR)
				;
			o->timed_out = true;
			break;
		}
		nfds = 0;
		if (in[1] >= 0) {
			pfd[nfds].fd = in[1];
			pfd[nfds++].events = POLLOUT;
		}
		if (err[0] >= 0) {
			pfd[nfds].fd = err[0];
			pfd[nfds++].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nfds, left < POLL_MS ? (int)left :
			     POLL_MS) < 0 && errno != EINTR) {
			cspf_error_set_os("poll");
			kill(-pid, SIGKILL);
			waitpid(pid, &o->status, 0);
			goto restore;
		}
		if (in[1] >= 0) {
			if (cspf_secret_open(&p, &n, secret) < 0) {
				cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_OS,
					"cannot open guarded memory");
				kill(-pid, SIGKILL);
				waitpid(pid, &o->status, 0);
				goto restore;
			}
			w = write(in[1], p + off, n - off);
			cspf_secret_close(secret);
			if (w > 0)
				off += (size_t)w;
			if (off == n || (w < 0 && errno != EAGAIN &&
					    errno != EWOULDBLOCK &&
					    errno != EINTR)) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (err[0] >= 0 && tail_read(o, err[0])) {
			close(err[0]);
			err[0] = -1;
		}
	}
	error = 0;
restore:
	if (!pipe_pending) {
		struct timespec zero = { 0, 0 };

		sigpending(&pend);
		if (sigismember(&pend, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
close_pipes:
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (err[0] >= 0)
		close(err[0]);
	if (err[1] >= 0)
		close(err[1]);
	return error;
}

/*
 * The last non-empty line of the kept stderr into out, the secret
 * replaced by [redacted] and control characters by '?'.  Empty when
 * there is none.
 */
static void last_line(char *out, size_t size, const struct outcome *o,
	const cspf_secret *secret)
{
	const unsigned char *t = o->tail, *s = NULL;
	size_t end = o->len, start, i, k = 0, slen = 0;

	out[0] = '\0';
	while (end > 0 && (t[end - 1] == '\n' || t[end - 1] == '\r'))
		end--;
	for (start = end; start > 0 && t[start - 1] != '\n'; start--)
		;
	/* The start of a line cut off by the window could be half a secret. */
	if (start == 0 && o->truncated) {
		snprintf(out, size, "(its last line is longer than %d bytes)",
			TAIL);
		return;
	}
	if (secret && cspf_secret_open(&s, &slen, secret) < 0) {
		snprintf(out, size, "(cannot open guarded memory to redact)");
		return;
	}
	for (i = start; i < end && k + 1 < size;) {
		if (slen > 0 && end - i >= slen &&
		    sodium_memcmp(t + i, s, slen) == 0) {
			if (k + sizeof(REDACTED) > size)
				break;
			memcpy(out + k, REDACTED, sizeof(REDACTED) - 1);
			k += sizeof(REDACTED) - 1;
			i += slen;
			continue;
		}
		out[k++] = (t[i] < 0x20 || t[i] == 0x7f) ? '?' : (char)t[i];
		i++;
	}
	out[k] = '\0';
	if (secret)
		cspf_secret_close(secret);
}

/*
 * Run rotation.exec.<name> as step `step` with `secret` on its standard
 * input.  CSPF_ERROR naming the command, the credential and the exit
 * status when it does not exit 0.
 */
static int run(const cspf_rotator_ctx *ctx, const char *name,
	const char *step, const cspf_secret *secret)
{
	struct outcome o = { 0 };
	char **argv = NULL, **env = NULL;
	char line[512];
	int64_t timeout;
	int error;

	if ((error = command_argv(&argv, ctx, name)) < 0 ||
	    (error = command_timeout(&timeout, ctx)) < 0 ||
	    (error = env_make(&env, ctx, step)) < 0)
		goto done;
	if (!(o.tail = sodium_malloc(TAIL))) {
		error = cspf_error_set_oom();
		goto done;
	}
	if (ctx->log)
		ctx->log(ctx->log_payload, "exec: %s: %s: running %s",
			ctx->credential_id, step, argv[0]);
	if ((error = spawn_and_wait(&o, argv, env, ctx->registry_dir, secret,
		     timeout)) < 0)
		goto done;
	if (o.timed_out)
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"exec %s for %s did not finish within %lld s and was killed; raise rotation.exec.timeout if it needs longer",
			name, ctx->credential_id, (long long)timeout);
	else if (WIFSIGNALED(o.status))
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"exec %s for %s was killed by signal %d",
			name, ctx->credential_id, WTERMSIG(o.status));
	else if (WIFEXITED(o.status) && WEXITSTATUS(o.status) != 0) {
		last_line(line, sizeof(line), &o, secret);
		error = cspf_error_set(CSPF_ERROR, CSPF_ERRCLASS_NONE,
			"exec %s for %s exited %d%s%s", name,
			ctx->credential_id, WEXITSTATUS(o.status),
			line[0] ? ": " : "", line);
		sodium_memzero(line, sizeof(line));
	}
done:
	sodium_free(o.tail);
	env_free(env);
	free(argv);
	return error;
}

static int exec_create(const cspf_rotator_ctx *ctx,
	const cspf_secret *current, cspf_secret **value, char **key_id)
{
	const cJSON *vault;

	*key_id = NULL;
	*value = NULL;
	vault = cJSON_GetObjectItemCaseSensitive(ctx->credential, "vault");
	if (cJSON_GetObjectItemCaseSensitive(vault, "field"))
		return cspf_error_set(CSPF_EUNSUPPORTED, CSPF_ERRCLASS_INVALID,
			"exec: %s: the exec rotator keeps a single value in the vault; remove vault.field",
			ctx->credential_id);
	return cspf_rotator_random_password(value, ctx->credential);
}

static int exec_set(const cspf_rotator_ctx *ctx, const cspf_secret *pending,
	const cspf_secret *current)
{
	return run(ctx, "set", "set", pending);
}

static int exec_test(const cspf_rotator_ctx *ctx, const cspf_secret *pending)
{
	return run(ctx, "test", "test", pending);
}

static int exec_retire(const cspf_rotator_ctx *ctx,
	const cspf_secret *previous, const char *previous_key_id, bool final)
{
	if (!final || !previous ||
	    !cJSON_GetObjectItemCaseSensitive(exec_config(ctx), "retire"))
		return 0;
	return run(ctx, "retire", "retire", previous);
}

static int exec_undo(const cspf_rotator_ctx *ctx, const cspf_secret *current,
	const cspf_secret *pending, const char *pending_key_id)
{
	if (!current)
		return 0;
	return run(ctx, "set", "undo", current);
}

const cspf_rotator cspf_rotator_exec = {
	.version = CSPF_ROTATOR_VERSION,
	.name = "exec",
	.provider_creates = false,
	.create = exec_create,
	.set = exec_set,
	.test = exec_test,
	.retire = exec_retire,
	.undo = exec_undo,
};
