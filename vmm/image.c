/* SPDX-License-Identifier: MIT */
/* Job image builder: contract in image.h, format in docs/IMAGES.md. */
#define _GNU_SOURCE
#include "image.h"

#include "../images/init/manifest.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/openat2.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define MAX_LIBS 256
#define LDD_OUT_MAX 65536
#define MKFS_OUT_MAX 16384

struct build {
	const struct image_build_opts *o;
	char *err;
	size_t errlen;
	char staging[PATH_MAX];
	int root;	  /* O_PATH fd of the staging directory */
	uint64_t content; /* bytes the image must hold, per-file rounded */
	char **words;	  /* --entry split */
	size_t nwords;
	const char *exec; /* absolute program path inside the image */
	char exec_buf[PATH_MAX];
};

static int errf(char *err, size_t errlen, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

#define BERR(b, r, ...) errf((b)->err, (b)->errlen, (r), __VA_ARGS__)

uint64_t image_auto_size_mib(uint64_t content_bytes)
{
	const uint64_t mib = (uint64_t)1024 * 1024;
	uint64_t bytes = content_bytes + content_bytes / 4 + 16 * mib;

	return (bytes + mib - 1) / mib;
}

static uint64_t round_block(uint64_t n)
{
	return (n + 4095) & ~(uint64_t)4095;
}

/* ---- --entry ---------------------------------------------------------- */

int image_split_words(const char *s, char ***words, size_t *n, char *err,
		      size_t errlen)
{
	size_t len = strlen(s), maxw = len / 2 + 2, nw = 0, i = 0;
	bool in_word = false;
	char **w;
	char *o;

	*words = NULL;
	*n = 0;
	w = malloc(maxw * sizeof(*w) + len + 1);
	if (!w)
		return errf(err, errlen, -ENOMEM, "out of memory");
	o = (char *)(w + maxw);
	while (s[i]) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n') {
			if (in_word)
				*o++ = '\0';
			in_word = false;
			i++;
			continue;
		}
		if (c == '\\' && s[i + 1] == '\n') { /* line continuation */
			i += 2;
			continue;
		}
		if (!in_word) {
			w[nw++] = o;
			in_word = true;
		}
		if (c == '\'') {
			const char *close = strchr(s + i + 1, '\'');

			if (!close)
				goto unterminated;
			memcpy(o, s + i + 1, (size_t)(close - s - i - 1));
			o += close - s - i - 1;
			i = (size_t)(close - s) + 1;
		} else if (c == '"') {
			for (i++;; i++) {
				if (!s[i])
					goto unterminated;
				if (s[i] == '"')
					break;
				if (s[i] == '\\' && s[i + 1] &&
				    strchr("\"\\$`\n", s[i + 1])) {
					if (s[++i] != '\n')
						*o++ = s[i];
					continue;
				}
				*o++ = s[i];
			}
			i++;
		} else if (c == '\\') {
			if (!s[i + 1]) {
				free(w);
				return errf(err, errlen, -EINVAL,
					    "trailing backslash");
			}
			*o++ = s[i + 1];
			i += 2;
		} else {
			*o++ = c;
			i++;
		}
	}
	if (in_word)
		*o = '\0';
	if (nw == 0) {
		free(w);
		return errf(err, errlen, -EINVAL, "empty command");
	}
	w[nw] = NULL;
	*words = w;
	*n = nw;
	return 0;
unterminated:
	free(w);
	return errf(err, errlen, -EINVAL, "unterminated quote");
}

/* ---- ldd -------------------------------------------------------------- */

int image_parse_ldd(char *out, const char **paths, size_t max, size_t *n,
		    char *err, size_t errlen)
{
	char *line, *next;

	*n = 0;
	for (line = out; line && *line; line = next) {
		char *path, *arrow, *addr;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || strcmp(line, "statically linked") == 0 ||
		    strcmp(line, "not a dynamic executable") == 0)
			continue;
		arrow = strstr(line, " => ");
		path = arrow ? arrow + 4 : line;
		if (arrow && strncmp(path, "not found", 9) == 0) {
			*arrow = '\0';
			return errf(err, errlen, -ENOENT, "%s not found", line);
		}
		addr = strstr(path, " (0x");
		if (path[0] != '/') {
			/* The vDSO: "linux-vdso.so.1 (0x...)". */
			if (addr || (arrow && path[0] == '('))
				continue;
			return errf(err, errlen, -EINVAL,
				    "unexpected ldd output: %.100s", line);
		}
		if (addr)
			*addr = '\0';
		if (*n == max)
			return errf(err, errlen, -E2BIG,
				    "more than %zu libraries", max);
		paths[(*n)++] = path;
	}
	return 0;
}

/*
 * posix_spawnp() argv with stdin from /dev/null and stdout+stderr captured
 * into out (NUL-terminated, truncated to outlen - 1). *status is the
 * wait status. Returns 0 or -errno (the program could not be started).
 */
static int run_capture(const char *const argv[], char *out, size_t outlen,
		       int *status)
{
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int pfd[2], r;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			 environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (r) {
		close(pfd[0]);
		return -r;
	}
	for (;;) {
		char buf[4096];
		ssize_t k = read(pfd[0], buf, sizeof(buf));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (len + 1 < outlen) {
			size_t c = (size_t)k < outlen - 1 - len
				       ? (size_t)k
				       : outlen - 1 - len;
			memcpy(out + len, buf, c);
			len += c;
		}
	}
	out[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* ---- staging directory ------------------------------------------------ */

static int openat2_in_root(int root, const char *rel, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd =
	    syscall(SYS_openat2, root, *rel ? rel : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/*
 * Open the parent directory of the absolute image path `path`, creating
 * missing directories (mode 0755) on the way. *base points at the last
 * component inside path. Returns an O_PATH fd or -errno.
 */
static int stage_parent(struct build *b, const char *path, const char **base)
{
	char rel[PATH_MAX];
	size_t i = 0;
	int fd;

	while (*path == '/')
		path++;
	if (strlen(path) >= sizeof(rel))
		return -ENAMETOOLONG;
	fd = openat2_in_root(b->root, "", O_PATH | O_DIRECTORY);
	for (;;) {
		const char *slash = strchr(path + i, '/');
		size_t clen;

		if (fd < 0)
			return fd;
		if (!slash) {
			*base = path + i;
			return **base ? fd : (close(fd), -EISDIR);
		}
		clen = (size_t)(slash - path - i);
		memcpy(rel, path, (size_t)(slash - path));
		rel[slash - path] = '\0';
		if (clen && mkdirat(fd, rel + i, 0755) == 0) {
			b->content += 4096;
		} else if (clen && errno != EEXIST) {
			int r = -errno;

			close(fd);
			return r;
		}
		close(fd);
		fd = openat2_in_root(b->root, rel, O_PATH | O_DIRECTORY);
		i = (size_t)(slash - path) + 1;
	}
}

/* Create (replacing any non-directory there) the image file path. */
static int stage_create(struct build *b, const char *path, mode_t mode)
{
	const char *base = "";
	int dir = stage_parent(b, path, &base), fd;

	if (dir < 0)
		return dir;
	if (unlinkat(dir, base, 0) < 0 && errno != ENOENT) {
		fd = -errno;
		close(dir);
		return fd;
	}
	fd = openat(dir, base,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		fd = -errno;
	else if (fchmod(fd, mode) < 0) /* the umask must not apply */
		fd = (close(fd), -errno);
	close(dir);
	return fd;
}

static int stage_mkdir(struct build *b, const char *path, mode_t mode)
{
	const char *base = "";
	int dir = stage_parent(b, path, &base), r = 0;

	if (dir < 0)
		return dir;
	if (mkdirat(dir, base, mode) == 0)
		r = fchmodat(dir, base, mode, 0) < 0 ? -errno : 0;
	else if (errno != EEXIST)
		r = -errno;
	close(dir);
	b->content += 4096;
	return r;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_fd(int in, int out, uint64_t size)
{
	char buf[65536];

	while (size) {
		ssize_t k = sendfile(out, in, NULL, size);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EINVAL || errno == ENOSYS))
			break; /* fall back to read/write */
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0; /* file shrank while copying */
		size -= (uint64_t)k;
	}
	for (;;) {
		ssize_t k = read(in, buf, sizeof(buf));
		int r;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		r = write_all(out, buf, (size_t)k);
		if (r)
			return r;
	}
}

static int stage_write(struct build *b, const char *path, const void *data,
		       size_t len, mode_t mode)
{
	int fd = stage_create(b, path, mode), r;

	if (fd < 0)
		return BERR(b, fd, "image build: create %s in image: %s", path,
			    strerror(-fd));
	r = write_all(fd, data, len);
	close(fd);
	b->content += round_block(len);
	if (r)
		return BERR(b, r, "image build: write %s in image: %s", path,
			    strerror(-r));
	return 0;
}

/* The image path path becomes a symlink to target (replacing a file the
 * job's tree put there). */
static int stage_symlink(struct build *b, const char *path, const char *target)
{
	const char *base = "";
	int dir = stage_parent(b, path, &base), r = 0;

	if (dir < 0)
		return BERR(b, dir, "image build: %s in image: %s", path,
			    strerror(-dir));
	if ((unlinkat(dir, base, 0) < 0 && errno != ENOENT) ||
	    symlinkat(target, dir, base) < 0)
		r = BERR(b, -errno, "image build: symlink %s in image: %s",
			 path, strerror(errno));
	close(dir);
	b->content += 4096;
	return r;
}

/* Copy the host file src (following symlinks) to the image path dst. */
static int stage_copy_host(struct build *b, const char *what, const char *src,
			   const char *dst)
{
	struct stat st;
	int in, out, r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 && errno == ENOENT)
		return BERR(b, -ENOENT, "%s: not found", what);
	if (in < 0)
		return BERR(b, -errno, "%s: open %s: %s", what, src,
			    strerror(errno));
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return BERR(b, -EINVAL, "%s: %s is not a regular file", what,
			    src);
	}
	out = stage_create(b, dst, st.st_mode & 07777);
	if (out < 0) {
		close(in);
		return BERR(b, out, "%s: create %s in image: %s", what, dst,
			    strerror(-out));
	}
	r = copy_fd(in, out, (uint64_t)st.st_size);
	close(in);
	close(out);
	b->content += round_block((uint64_t)st.st_size);
	if (r)
		return BERR(b, r, "%s: copy %s: %s", what, src, strerror(-r));
	return 0;
}

/*
 * Copy directory `sfd` (its path for messages: spath) into `dfd`, a
 * directory we created, so nothing under dfd pre-exists and no symlink can
 * redirect a write.
 */
static int copy_tree(struct build *b, int sfd, int dfd, const char *spath)
{
	DIR *d = fdopendir(sfd);
	struct dirent *e;
	int r = 0;

	if (!d) {
		r = -errno;
		close(sfd);
		return BERR(b, r, "image build: read %s: %s", spath,
			    strerror(-r));
	}
	while (r == 0 && (errno = 0, e = readdir(d))) {
		char sub[PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", spath, e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			r = BERR(b, -errno, "image build: stat %s: %s", sub,
				 strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			int s2, d2;

			b->content += 4096;
			if (mkdirat(dfd, e->d_name, 0700) < 0)
				r = BERR(b, -errno, "image build: mkdir %s: %s",
					 sub, strerror(errno));
			else if ((s2 = openat(dirfd(d), e->d_name,
					      O_RDONLY | O_DIRECTORY |
						  O_NOFOLLOW | O_CLOEXEC)) < 0)
				r = BERR(b, -errno, "image build: open %s: %s",
					 sub, strerror(errno));
			else if ((d2 = openat(dfd, e->d_name,
					      O_RDONLY | O_DIRECTORY |
						  O_NOFOLLOW | O_CLOEXEC)) <
				 0) {
				r = BERR(b, -errno, "image build: open %s: %s",
					 sub, strerror(errno));
				close(s2);
			} else {
				r = copy_tree(b, s2, d2, sub);
				if (!r && fchmod(d2, st.st_mode & 07777) < 0)
					r = BERR(b, -errno,
						 "image build: chmod %s: %s",
						 sub, strerror(errno));
				close(d2);
			}
		} else if (S_ISREG(st.st_mode)) {
			int in = openat(dirfd(d), e->d_name,
					O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			int out = in < 0 ? -1
					 : openat(dfd, e->d_name,
						  O_WRONLY | O_CREAT | O_EXCL |
						      O_NOFOLLOW | O_CLOEXEC,
						  0600);

			if (in < 0 || out < 0)
				r = BERR(b, -errno, "image build: open %s: %s",
					 sub, strerror(errno));
			else if ((r = copy_fd(in, out, (uint64_t)st.st_size)) <
				 0)
				BERR(b, r, "image build: copy %s: %s", sub,
				     strerror(-r));
			else if (fchmod(out, st.st_mode & 07777) < 0)
				r = BERR(b, -errno, "image build: chmod %s: %s",
					 sub, strerror(errno));
			if (in >= 0)
				close(in);
			if (out >= 0)
				close(out);
			b->content += round_block((uint64_t)st.st_size);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), e->d_name, target,
					       sizeof(target) - 1);

			if (n < 0)
				r = BERR(b, -errno,
					 "image build: readlink %s: %s", sub,
					 strerror(errno));
			else if (target[n] = '\0',
				 symlinkat(target, dfd, e->d_name) < 0)
				r = BERR(b, -errno,
					 "image build: symlink %s: %s", sub,
					 strerror(errno));
			b->content += 4096;
		} else {
			r = BERR(b, -EINVAL,
				 "image build: %s: unsupported file type "
				 "(device, fifo or socket)",
				 sub);
		}
	}
	if (r == 0 && errno)
		r = BERR(b, -errno, "image build: read %s: %s", spath,
			 strerror(errno));
	closedir(d);
	return r;
}

/* Remove the directory `name` in dirfd and everything below it. */
static void rm_tree(int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	DIR *d;

	if (fd < 0)
		return;
	fchmod(fd, 0700); /* copied from a 0555 directory, say */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, e->d_name, 0) < 0 &&
		    (errno == EISDIR || errno == EPERM))
			rm_tree(fd, e->d_name);
	}
	closedir(d);
	unlinkat(dirfd, name, AT_REMOVEDIR);
}

/* ---- --add-binary ----------------------------------------------------- */

/*
 * Does the ELF file at path have a PT_INTERP (is it dynamically linked)?
 * Returns 1, 0, or -errno with a message.
 */
static int elf_dynamic(struct build *b, const char *what, const char *path)
{
	unsigned char h[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC), dyn = 0;
	uint64_t phoff;
	unsigned i, phnum, phentsize;

	if (fd < 0)
		return BERR(b, -errno, "%s: open %s: %s", what, path,
			    strerror(errno));
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, ELFMAG, SELFMAG) != 0 ||
	    (h[EI_CLASS] != ELFCLASS64 && h[EI_CLASS] != ELFCLASS32) ||
	    h[EI_DATA] != ELFDATA2LSB) {
		close(fd);
		return BERR(b, -ENOEXEC, "%s: not a little-endian ELF file",
			    what);
	}
	if (h[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr *e = (Elf64_Ehdr *)h;

		phoff = e->e_phoff;
		phnum = e->e_phnum;
		phentsize = e->e_phentsize;
	} else {
		Elf32_Ehdr *e = (Elf32_Ehdr *)h;

		phoff = e->e_phoff;
		phnum = e->e_phnum;
		phentsize = e->e_phentsize;
	}
	for (i = 0; i < phnum && i < 4096 && phentsize >= 4; i++) {
		uint32_t type;

		if (pread(fd, &type, 4,
			  (off_t)(phoff + (uint64_t)i * phentsize)) != 4)
			break;
		if (type == PT_INTERP) {
			dyn = 1;
			break;
		}
	}
	close(fd);
	return dyn;
}

static int add_binary(struct build *b, const char *spec)
{
	char what[PATH_MAX + 32], src[PATH_MAX];
	const char *colon = strrchr(spec, ':'), *dst;
	const char *argv[4] = {"ldd", "--", src, NULL};
	const char *paths[MAX_LIBS];
	char *out;
	size_t n, i;
	int r, status = 0;

	snprintf(what, sizeof(what), "--add-binary %s", spec);
	if (colon && colon[1] == '/') {
		snprintf(src, sizeof(src), "%.*s", (int)(colon - spec), spec);
		dst = colon + 1;
	} else {
		snprintf(src, sizeof(src), "%s", spec);
		dst = spec;
	}
	if (dst[0] != '/')
		return BERR(b, -EINVAL,
			    "%s: path must be absolute (or SRC:/DEST)", what);
	r = stage_copy_host(b, what, src, dst);
	if (r)
		return r;
	r = elf_dynamic(b, what, src);
	if (r <= 0)
		return r;

	out = malloc(LDD_OUT_MAX);
	if (!out)
		return BERR(b, -ENOMEM, "%s: out of memory", what);
	r = run_capture(argv, out, LDD_OUT_MAX, &status);
	if (r) {
		BERR(b, r, "%s: run ldd: %s", what, strerror(-r));
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *nl = strchr(out, '\n');

		if (nl)
			*nl = '\0';
		r = BERR(b, -EINVAL, "%s: ldd failed: %.200s", what, out);
		goto out;
	}
	r = image_parse_ldd(out, paths, MAX_LIBS, &n, b->err, b->errlen);
	if (r) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", b->err);
		BERR(b, r, "%s: %s", what, msg);
		goto out;
	}
	for (i = 0; i < n && !r; i++) {
		char libwhat[PATH_MAX + 64];

		snprintf(libwhat, sizeof(libwhat), "%s: library %s", what,
			 paths[i]);
		r = stage_copy_host(b, libwhat, paths[i], paths[i]);
	}
out:
	free(out);
	return r;
}

/* ---- manifest --------------------------------------------------------- */

static int parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	char *end;
	unsigned long long u, g;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	u = strtoull(s, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	g = strtoull(end + 1, &end, 10);
	if (*end || errno || u >= UINT32_MAX || g >= UINT32_MAX)
		return -EINVAL;
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

static const char *env_path(const struct image_build_opts *o)
{
	size_t i;

	for (i = o->nenvs; i-- > 0;)
		if (strncmp(o->envs[i], "PATH=", 5) == 0)
			return o->envs[i] + 5;
	return MANIFEST_DEFAULT_PATH + 5;
}

/* Is the image path p (absolute) an executable regular file? */
static bool stage_executable(struct build *b, const char *p)
{
	struct stat st;
	int fd = openat2_in_root(b->root, p + 1, O_PATH);
	bool ok;

	if (fd < 0)
		return false;
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
	close(fd);
	return ok;
}

/* The program --entry names, resolved inside the image like execvp(). */
static int resolve_exec(struct build *b)
{
	const char *cmd = b->words[0], *p;

	if (cmd[0] == '/') {
		if (!stage_executable(b, cmd))
			return BERR(b, -ENOENT,
				    "--entry: %s: no such executable in the "
				    "image",
				    cmd);
		b->exec = cmd;
		return 0;
	}
	if (strchr(cmd, '/'))
		return BERR(b, -EINVAL,
			    "--entry: %s: use an absolute path or a name "
			    "found in PATH",
			    cmd);
	for (p = env_path(b->o); *p;) {
		size_t dl = strcspn(p, ":");

		if (dl && p[0] == '/' &&
		    snprintf(b->exec_buf, sizeof(b->exec_buf), "%.*s/%s",
			     (int)dl, p, cmd) < (int)sizeof(b->exec_buf) &&
		    stage_executable(b, b->exec_buf)) {
			b->exec = b->exec_buf;
			return 0;
		}
		p += dl + (p[dl] == ':');
	}
	return BERR(b, -ENOENT, "--entry: %s: not found in the image's PATH",
		    cmd);
}

static int write_manifest(struct build *b)
{
	const struct image_build_opts *o = b->o;
	struct manifest *m = calloc(1, sizeof(*m));
	char *text = malloc(MANIFEST_MAX_SIZE + 1);
	int r = 0, len;
	size_t i;

	if (!m || !text) {
		r = BERR(b, -ENOMEM, "image build: out of memory");
		goto out;
	}
	m->exec = b->exec;
	m->workdir = o->workdir;
	m->argc = b->nwords;
	for (i = 0; i < b->nwords; i++)
		m->argv[i] = b->words[i];
	m->envc = o->nenvs;
	for (i = 0; i < o->nenvs; i++)
		m->envp[i] = o->envs[i];
	if (o->user)
		parse_user(o->user, &m->uid, &m->gid); /* checked earlier */
	len = manifest_format(m, text, MANIFEST_MAX_SIZE + 1);
	if (len < 0) {
		r = BERR(b, len,
			 "image build: manifest: cannot encode these "
			 "options (over %d bytes?)",
			 MANIFEST_MAX_SIZE);
		goto out;
	}
	r = stage_write(b, MANIFEST_PATH, text, (size_t)len, 0644);
out:
	free(m);
	free(text);
	return r;
}

/* ---- the build -------------------------------------------------------- */

static int check_opts(struct build *b)
{
	const struct image_build_opts *o = b->o;
	uint32_t id;
	size_t i, j;
	int r;

	if (!o->dir || !o->output || !o->entry)
		return BERR(b, -EINVAL,
			    "image build: DIR, -o IMAGE and --entry are "
			    "required");
	r = image_split_words(o->entry, &b->words, &b->nwords, b->err,
			      b->errlen);
	if (r) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s", b->err);
		return BERR(b, r, "--entry: %s", msg);
	}
	if (b->nwords > MANIFEST_MAX_ARGS)
		return BERR(b, -E2BIG, "--entry: more than %d words",
			    MANIFEST_MAX_ARGS);
	if (o->nenvs > MANIFEST_MAX_ENVS)
		return BERR(b, -E2BIG, "--env: more than %d",
			    MANIFEST_MAX_ENVS);
	for (i = 0; i < o->nenvs; i++) {
		const char *eq = strchr(o->envs[i], '=');

		if (!eq || eq == o->envs[i] || strchr(o->envs[i], '\n'))
			return BERR(b, -EINVAL,
				    "--env %s: expected NAME=VALUE on one line",
				    o->envs[i]);
		for (j = 0; j < i; j++)
			if (strncmp(o->envs[j], o->envs[i],
				    (size_t)(eq - o->envs[i]) + 1) == 0)
				return BERR(b, -EINVAL,
					    "--env %.*s: given twice",
					    (int)(eq - o->envs[i]), o->envs[i]);
	}
	if (o->workdir && (o->workdir[0] != '/' || strchr(o->workdir, '\n')))
		return BERR(b, -EINVAL,
			    "--workdir %s: must be an absolute path",
			    o->workdir);
	if (o->user && parse_user(o->user, &id, &id) < 0)
		return BERR(b, -EINVAL, "--user %s: expected numeric UID:GID",
			    o->user);
	for (i = 0; i < b->nwords; i++)
		if (strchr(b->words[i], '\n'))
			return BERR(b, -EINVAL,
				    "--entry: word %zu contains a newline",
				    i + 1);
	return 0;
}

/* mkfs.ext4 the staging dir into a temp file next to o->output, rename. */
static int make_fs(struct build *b)
{
	const struct image_build_opts *o = b->o;
	static const char *const fallback[] = {"/usr/sbin/mkfs.ext4",
					       "/sbin/mkfs.ext4"};
	char tmp[PATH_MAX], size[32], *out = NULL;
	const char *slash = strrchr(o->output, '/');
	uint64_t mib =
	    o->size_mib ? o->size_mib : image_auto_size_mib(b->content);
	const char *argv[] = {o->mkfs ? o->mkfs : "mkfs.ext4",
			      "-q",
			      "-F",
			      "-d",
			      b->staging,
			      "-E",
			      "root_owner=0:0",
			      "-L",
			      "mvm-job",
			      tmp,
			      size,
			      NULL};
	int fd, r, status = 0;
	size_t i;

	if (slash)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX",
			 (int)(slash - o->output), o->output, slash + 1);
	else
		snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", o->output);
	snprintf(size, sizeof(size), "%lluM", (unsigned long long)mib);
	fd = mkstemp(tmp);
	if (fd < 0)
		return BERR(b, -errno, "image build: create %s: %s", tmp,
			    strerror(errno));
	if (fchmod(fd, 0644) < 0) {
		r = BERR(b, -errno, "image build: chmod %s: %s", tmp,
			 strerror(errno));
		goto fail;
	}
	out = malloc(MKFS_OUT_MAX);
	if (!out) {
		r = BERR(b, -ENOMEM, "image build: out of memory");
		goto fail;
	}
	out[0] = '\0';
	r = run_capture(argv, out, MKFS_OUT_MAX, &status);
	for (i = 0; r == -ENOENT && !o->mkfs && i < 2; i++) {
		argv[0] = fallback[i];
		r = run_capture(argv, out, MKFS_OUT_MAX, &status);
	}
	if (r) {
		BERR(b, r, "mkfs.ext4 failed: cannot run %s: %s",
		     o->mkfs ? o->mkfs : "mkfs.ext4", strerror(-r));
		goto fail;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* The last non-empty line says what went wrong. */
		char *line = out + strlen(out);

		while (line > out && (line[-1] == '\n' || line[-1] == ' '))
			*--line = '\0';
		while (line > out && line[-1] != '\n')
			line--;
		if (strncmp(line, "mkfs.ext4: ", 11) == 0)
			line += 11;
		if (strlen(line) > 0)
			r = BERR(b, -EIO, "mkfs.ext4 failed: %.300s", line);
		else
			r = BERR(b, -EIO, "mkfs.ext4 failed: %s %d",
				 WIFEXITED(status) ? "exit status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status)
						   : WTERMSIG(status));
		goto fail;
	}
	if (fsync(fd) < 0 || rename(tmp, o->output) < 0) {
		r = BERR(b, -errno, "image build: write %s: %s", o->output,
			 strerror(errno));
		goto fail;
	}
	close(fd);
	free(out);
	return 0;
fail:
	close(fd);
	unlink(tmp);
	free(out);
	return r;
}

int image_build(const struct image_build_opts *o, char *err, size_t errlen)
{
	/* /tmp as on any system, in case its tmpfs cannot be mounted. */
	static const struct {
		const char *path;
		mode_t mode;
	} mountpoints[] = {{"/dev", 0755},  {"/proc", 0555}, {"/sys", 0555},
			   {"/tmp", 01777}, {"/run", 0755},  {"/mvm", 0755}};
	struct build b = {.o = o, .err = err, .errlen = errlen, .root = -1};
	const char *tmpdir = getenv("TMPDIR");
	const void *init = o->init ? o->init : mvm_init_start;
	size_t init_len =
	    o->init
		? o->init_len
		: (size_t)((uintptr_t)mvm_init_end - (uintptr_t)mvm_init_start);
	int src, dst, r;
	size_t i;

	if (errlen)
		err[0] = '\0';
	r = check_opts(&b);
	if (r)
		goto out;
	src = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0) {
		r = BERR(&b, -errno, "image build: open %s: %s", o->dir,
			 strerror(errno));
		goto out;
	}
	snprintf(b.staging, sizeof(b.staging), "%s/mvm-image.XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(b.staging)) {
		r = BERR(&b, -errno, "image build: mkdtemp %s: %s", b.staging,
			 strerror(errno));
		b.staging[0] = '\0';
		close(src);
		goto out;
	}
	dst = open(b.staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0) {
		r = BERR(&b, -errno, "image build: open %s: %s", b.staging,
			 strerror(errno));
		close(src);
		goto out;
	}
	b.root = dst;
	/* The image root: 0755 whatever mkdtemp() chose (mkfs -d copies). */
	if (fchmod(dst, 0755) < 0) {
		r = BERR(&b, -errno, "image build: chmod %s: %s", b.staging,
			 strerror(errno));
		close(src);
		goto out;
	}
	r = copy_tree(&b, src, dst, o->dir); /* closes src */
	for (i = 0; !r && i < sizeof(mountpoints) / sizeof(*mountpoints); i++) {
		r = stage_mkdir(&b, mountpoints[i].path, mountpoints[i].mode);
		if (r)
			BERR(&b, r, "image build: mkdir %s in image: %s",
			     mountpoints[i].path, strerror(-r));
	}
	for (i = 0; !r && i < o->nbinaries; i++)
		r = add_binary(&b, o->binaries[i]);
	if (!r)
		r = stage_write(&b, "/mvm/init", init, init_len, 0755);
	if (!r)
		r = stage_symlink(&b, "/mvm/mvm-vsock", "init");
	if (!r)
		r = resolve_exec(&b);
	if (!r)
		r = write_manifest(&b);
	if (!r)
		r = make_fs(&b);
out:
	if (b.root >= 0)
		close(b.root);
	if (b.staging[0])
		rm_tree(AT_FDCWD, b.staging);
	free(b.words);
	return r;
}

/* ---- mvm image build -------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: mvm image build DIR -o IMAGE --entry \"CMD ARGS\" "
	      "[options]\n"
	      "\n"
	      "Build an ext4 job image from DIR (no root or loop device "
	      "needed).\n"
	      "\n"
	      "  -o, --output IMAGE        image to write (replaced "
	      "atomically)\n"
	      "  -e, --entry \"CMD ARGS\"    program and arguments, split "
	      "like sh\n"
	      "                            (quotes, backslash); CMD is "
	      "absolute or\n"
	      "                            looked up in the image's PATH\n"
	      "  -b, --add-binary PATH     copy a host program to the same "
	      "path with its\n"
	      "                            ELF interpreter and libraries; "
	      "SRC:/DEST to\n"
	      "                            put it elsewhere (repeatable)\n"
	      "  -E, --env NAME=VALUE      job environment (repeatable; "
	      "default PATH, HOME=/)\n"
	      "  -w, --workdir DIR         job working directory (default "
	      "/)\n"
	      "  -u, --user UID:GID        numeric ids to run the job as "
	      "(default 0:0)\n"
	      "  -s, --size MIB            image size (default: content * "
	      "1.25 + 16 MiB)\n"
	      "  -h, --help                this text\n"
	      "\n"
	      "Extra arguments from `mvm run IMAGE -- ARGS` are appended to "
	      "the entry's.\n",
	      f);
}

int image_cmd_build(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"entry", required_argument, NULL, 'e'},
	    {"add-binary", required_argument, NULL, 'b'},
	    {"env", required_argument, NULL, 'E'},
	    {"workdir", required_argument, NULL, 'w'},
	    {"user", required_argument, NULL, 'u'},
	    {"size", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char try_help[] = "mvm: try 'mvm image build --help'\n";
	struct image_build_opts o = {0};
	const char **bins = calloc((size_t)argc + 1, sizeof(char *));
	const char **envs = calloc((size_t)argc + 1, sizeof(char *));
	char err[512];
	int c, ret = 2;

	if (!bins || !envs) {
		fputs("mvm: out of memory\n", stderr);
		ret = 1;
		goto out;
	}
	o.binaries = bins;
	o.envs = envs;
	optind = 0; /* glibc and musl: restart, main may have used getopt */
	opterr = 0; /* our own one-line messages below */
	while ((c = getopt_long(argc, argv, ":o:e:b:E:w:u:s:h", longopts,
				NULL)) != -1) {
		char *end;

		switch (c) {
		case 'o':
			o.output = optarg;
			break;
		case 'e':
			o.entry = optarg;
			break;
		case 'b':
			bins[o.nbinaries++] = optarg;
			break;
		case 'E':
			envs[o.nenvs++] = optarg;
			break;
		case 'w':
			o.workdir = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 's':
			errno = 0;
			o.size_mib = strtoull(optarg, &end, 10);
			if (errno || *end || optarg[0] < '1' ||
			    optarg[0] > '9' || o.size_mib > (1u << 20)) {
				fprintf(stderr,
					"mvm: --size %s: expected MiB, 1 to "
					"1048576\n",
					optarg);
				fputs(try_help, stderr);
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		case ':':
			fprintf(stderr,
				"mvm: image build: %s needs a value\n%s",
				argv[optind - 1], try_help);
			goto out;
		default:
			fprintf(stderr,
				"mvm: image build: unknown option %s\n%s",
				argv[optind - 1], try_help);
			goto out;
		}
	}
	if (optind != argc - 1 || !o.output || !o.entry) {
		fprintf(stderr, "mvm: image build: %s\n%s",
			optind < argc - 1 ? "only one DIR"
					  : "DIR, -o IMAGE and --entry are "
					    "required",
			try_help);
		goto out;
	}
	o.dir = argv[optind];
	if (image_build(&o, err, sizeof(err)) < 0) {
		fprintf(stderr, "mvm: %s\n", err);
		ret = 1;
	} else {
		ret = 0;
	}
out:
	free(bins);
	free(envs);
	return ret;
}
