/* SPDX-License-Identifier: MIT */
/*
 * The job manifest: /mvm/manifest inside a job image (docs/IMAGES.md).
 *
 * Text, one directive per line, "NAME VALUE" where VALUE is the rest of the
 * line after exactly one space, so any byte but NUL and newline can appear in
 * a value (no quoting). Lines starting with '#' and lines made only of spaces
 * and tabs are ignored. The first other line must be "mvm-manifest 1".
 *
 *   exec PATH                  required, once, absolute
 *   arg VALUE                  repeatable: argv[0], argv[1], ...
 *   env NAME=VALUE             repeatable, NAME non-empty and unique
 *   workdir PATH               once, absolute, default "/"
 *   user UID:GID               once, decimal, default 0:0
 *   mount DEV DIR FSTYPE ro|rw repeatable, DIR absolute, no spaces in
 *                              fields (DEV may be "tmpfs" and the like)
 *
 * CRLF: '\r' is an ordinary value byte (an argument may end in one), but a
 * header line of "mvm-manifest 1\r" is rejected with a message saying CRLF
 * line endings are not supported, so a DOS-edited manifest fails at 1:15
 * instead of running "/bin/sh\r".
 *
 * The parser and the writer are pure functions over memory: no I/O, no
 * globals, no allocation. The same file is compiled into the static guest
 * init (images/init/init.c) and into the host (image builder, unit tests).
 */
#ifndef MVM_MANIFEST_H
#define MVM_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_PATH "/mvm/manifest"
#define MANIFEST_HEADER "mvm-manifest 1"
#define MANIFEST_MAX_SIZE 65536
#define MANIFEST_MAX_ARGS 1024
#define MANIFEST_MAX_ENVS 1024
#define MANIFEST_MAX_MOUNTS 64
/* Added by manifest_parse() when the manifest does not set them. */
#define MANIFEST_DEFAULT_PATH                                                  \
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MANIFEST_DEFAULT_HOME "HOME=/"

struct manifest_mount {
	const char *dev;
	const char *dir;
	const char *fstype;
	bool readonly;
};

struct manifest {
	const char *exec;
	const char *workdir;
	uint32_t uid;
	uint32_t gid;
	size_t argc;
	const char *argv[MANIFEST_MAX_ARGS + 1]; /* NULL-terminated */
	size_t envc;
	const char *envp[MANIFEST_MAX_ENVS + 4]; /* + defaults, inherited, NULL */
	size_t nmounts;
	struct manifest_mount mounts[MANIFEST_MAX_MOUNTS];
	/* Private to manifest_parse(): the strings above point in here. */
	char text[MANIFEST_MAX_SIZE + 1];
};

struct manifest_error {
	unsigned line; /* 1-based; 0 when the error is about the whole file */
	unsigned col;  /* 1-based byte column */
	char msg[160];
};

/*
 * Parse len bytes at buf into *m (about 90 KiB: keep it off small stacks).
 * On success returns 0 and *m is complete: argc >= 1 (argv[0] defaults to
 * exec), workdir set, PATH and HOME in envp unless the manifest set them,
 * argv/envp NULL-terminated and ready for execve(). Strings point into
 * m->text, so they live as long as *m (do not copy *m by value).
 * On error returns -EINVAL (-E2BIG for a manifest over MANIFEST_MAX_SIZE)
 * and fills *err; *m is then unspecified.
 */
int manifest_parse(const char *buf, size_t len, struct manifest *m,
		   struct manifest_error *err);

/*
 * "LINE:COL: message" (or just the message when err->line is 0) into out,
 * always NUL-terminated when outlen > 0. Returns out.
 */
char *manifest_strerror(const struct manifest_error *err, char *out,
			size_t outlen);

/*
 * Write m as manifest text into out (at most outlen bytes, NUL-terminated
 * when there is room). Uses exec, workdir (NULL = omit), uid/gid (written
 * only when not 0:0), argv[0..argc), envp[0..envc), mounts[0..nmounts);
 * m->text is not used, so a caller may fill a struct manifest by hand.
 * Returns the text length (excluding the NUL) like snprintf(), even when it
 * did not fit, or -EINVAL if m could not be parsed back (relative paths, a
 * newline or NUL-free violation, env without '=', field with a space in a
 * mount, more than MANIFEST_MAX_ARGS args or MANIFEST_MAX_ENVS envs, defaults
 * included). The result always parses back to the same
 * manifest.
 */
int manifest_format(const struct manifest *m, char *out, size_t outlen);

/*
 * Give the job the environment entry env ("NAME=value", from the init's own
 * environment) unless the manifest sets NAME itself; call after
 * manifest_parse(). envp has room for one such entry beyond the manifest's
 * MANIFEST_MAX_ENVS and the defaults. Returns 0 when env was added or NAME
 * was already set, -EINVAL when env has no '=' (or no name), -E2BIG when
 * there is no room. env must outlive *m.
 */
int manifest_inherit_env(struct manifest *m, const char *env);

#endif
