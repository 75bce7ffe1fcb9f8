/* SPDX-License-Identifier: MIT */
/* File service: request parsing and confined opening; contract in
 * fileserv.h. */
#define _GNU_SOURCE /* O_PATH */
#include "vmm/fileserv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { RD_LINE, RD_DONE, RD_BROKEN };

#define FS_VERB_LEN 4 /* "GET " or "PUT " */

/* ---- request line ----------------------------------------------------- */

void fs_reader_init(struct fs_reader *r)
{
	r->state = RD_LINE;
	r->len = 0;
	r->buf[0] = '\0';
}

static bool fs_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* The first bytes of the line must be a prefix of "GET " or "PUT ". */
static bool fs_verb_prefix(const char *buf, size_t n)
{
	return !memcmp(buf, "GET ", n) || !memcmp(buf, "PUT ", n);
}

static const char *fs_line_end(struct fs_reader *r, struct fs_request *req)
{
	struct fs_request tmp;
	const char *why;

	if (r->len < FS_VERB_LEN)
		return "bad verb";
	if (r->len == FS_VERB_LEN)
		return "empty path";
	r->buf[r->len] = '\0';
	/* The path is at most FS_PATH_MAX - 1 bytes: the result fits. */
	why = fs_normalize(r->buf + FS_VERB_LEN, tmp.path, sizeof(tmp.path));
	if (why)
		return why;
	tmp.verb = r->buf[0] == 'G' ? FS_GET : FS_PUT;
	memcpy(req, &tmp, sizeof(*req));
	return NULL;
}

enum fs_line_rc fs_reader_feed(struct fs_reader *r, const void *data,
			       size_t len, size_t *used, struct fs_request *req,
			       const char **err)
{
	const unsigned char *p = data;
	const char *why = NULL;
	size_t i;

	*used = 0;
	if (r->state != RD_LINE) {
		*err = r->state == RD_DONE ? "one request per connection"
					   : "bad request";
		return FS_LINE_ERROR;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c == '\n') {
			why = fs_line_end(r, req);
			if (why)
				break;
			*used = i + 1;
			r->state = RD_DONE;
			return FS_LINE_DONE;
		}
		if (c == '\0') {
			why = "NUL in request";
			break;
		}
		if (c == '\r') {
			why = "CR in request";
			break;
		}
		if (fs_ctl(c)) {
			why = "control character";
			break;
		}
		/* Room for the NUL: a longer path can never be valid. */
		if (r->len == sizeof(r->buf) - 1) {
			why = "path too long";
			break;
		}
		r->buf[r->len++] = (char)c;
		if (r->len <= FS_VERB_LEN && !fs_verb_prefix(r->buf, r->len)) {
			why = "bad verb";
			break;
		}
	}
	if (why) {
		*used = i + 1;
		*err = why;
		r->state = RD_BROKEN;
		return FS_LINE_ERROR;
	}
	*used = len;
	return FS_LINE_MORE;
}

/* ---- normalization ---------------------------------------------------- */

const char *fs_normalize(const char *in, char *out, size_t outlen)
{
	const char *p = in, *why = NULL;
	size_t o = 0;

	if (!outlen)
		return "path too long";
	if (*p != '/') {
		why = "not absolute";
		goto fail;
	}
	while (*p) {
		const char *c;
		size_t n;

		while (*p == '/')
			p++;
		for (c = p; *p && *p != '/'; p++) {
			if (fs_ctl((unsigned char)*p)) {
				why = "control character";
				goto fail;
			}
		}
		n = (size_t)(p - c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			why = "dot-dot";
			goto fail;
		}
		if (n + 1 > outlen - 1 - o) {
			why = "path too long";
			goto fail;
		}
		out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (!o) {
		if (outlen < 2) {
			why = "path too long";
			goto fail;
		}
		out[o++] = '/';
	}
	out[o] = '\0';
	return NULL;
fail:
	out[0] = '\0';
	return why;
}

/* ---- confined open ---------------------------------------------------- */

/*
 * The lexical half, shared by both resolvers: root and path normalized,
 * path = root + "/" + rest, rest non-empty. Sets *rest.
 */
static int fs_split(const char *root, const char *path, const char **rest)
{
	char norm[FS_PATH_MAX];
	size_t rlen;

	if (fs_normalize(root, norm, sizeof(norm)) || strcmp(norm, root) != 0)
		return -EINVAL;
	if (fs_normalize(path, norm, sizeof(norm)) || strcmp(norm, path) != 0)
		return -EINVAL;
	if (!strcmp(path, root))
		return -EISDIR;
	/* Root "/" is the one normalized path ending in '/'. */
	rlen = strcmp(root, "/") != 0 ? strlen(root) : 0;
	/* "/data/inx" is not beneath "/data/in": compare whole components. */
	if (strncmp(path, root, rlen) != 0 || path[rlen] != '/')
		return -EXDEV;
	*rest = path + rlen + 1;
	return 0;
}

/* The type check, on the O_PATH and again on the opened descriptor. */
static int fs_check_type(const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 0;
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (S_ISLNK(st->st_mode))
		return -ELOOP;
	return -ENXIO;
}

static int fs_fd_type(int fd, dev_t dev, bool check_dev)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (check_dev && st.st_dev != dev)
		return -EXDEV;
	return fs_check_type(&st);
}

static int fs_open_root(const char *root, struct stat *st)
{
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (st && fstat(fd, st) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int fs_open_flags(bool write)
{
	return (write ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY) | O_CLOEXEC |
	       O_NOCTTY | O_NONBLOCK;
}

/*
 * The file opened with O_NONBLOCK (so that a FIFO swapped in after the
 * O_PATH check cannot block the open) is checked once more and made
 * blocking again for the integrator's read/write loop.
 */
static int fs_finish(int fd, dev_t dev, bool check_dev)
{
	int r = fs_fd_type(fd, dev, check_dev), fl;

	if (!r) {
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			r = -errno;
	}
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

static int fs_openat2(int dirfd, const char *rel, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)flags,
	    .mode = (flags & O_CREAT) ? 0600 : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		       RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

int fs_open_beneath(const char *root, const char *path, bool write)
{
	const char *rest = NULL;
	int rootfd, fd, r;

	r = fs_split(root, path, &rest);
	if (r)
		return r;
	rootfd = fs_open_root(root, NULL);
	if (rootfd < 0)
		return rootfd;
	/* Look before opening: a FIFO or device is never opened at all. */
	fd = fs_openat2(rootfd, rest, O_PATH | O_CLOEXEC);
	if (fd == -ENOSYS) {
		close(rootfd);
		return fs_open_beneath_walk(root, path, write);
	}
	if (fd >= 0) {
		r = fs_fd_type(fd, 0, false);
		close(fd);
	} else {
		/* A PUT may create the file. */
		r = fd == -ENOENT && write ? 0 : fd;
	}
	if (!r) {
		fd = fs_openat2(rootfd, rest, fs_open_flags(write));
		r = fd < 0 ? fd : fs_finish(fd, 0, false);
	}
	close(rootfd);
	return r;
}

/*
 * openat(O_PATH | O_NOFOLLOW) of one component below dir: a symlink is
 * opened as itself, so fstat() tells it apart without a race. Returns an
 * O_PATH fd of a directory (want_dir) or of anything else, or -errno.
 */
static int fs_walk_step(int dir, const char *name, dev_t dev, bool want_dir)
{
	struct stat st;
	int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (st.st_dev != dev)
		r = -EXDEV;
	else if (S_ISLNK(st.st_mode))
		r = -ELOOP;
	else if (want_dir && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	else if (!want_dir)
		r = fs_check_type(&st);
	if (r) {
		close(fd);
		return r;
	}
	return fd;
}

int fs_open_beneath_walk(const char *root, const char *path, bool write)
{
	char name[FS_PATH_MAX];
	const char *rest = NULL, *slash;
	struct stat rst = {0};
	int dir, fd, r;

	r = fs_split(root, path, &rest);
	if (r)
		return r;
	dir = fs_open_root(root, &rst);
	if (dir < 0)
		return dir;
	/* rest is normalized: no empty, "." or ".." component. */
	while ((slash = strchr(rest, '/'))) {
		size_t n = (size_t)(slash - rest);

		memcpy(name, rest, n);
		name[n] = '\0';
		fd = fs_walk_step(dir, name, rst.st_dev, true);
		close(dir);
		if (fd < 0)
			return fd;
		dir = fd;
		rest = slash + 1;
	}
	fd = fs_walk_step(dir, rest, rst.st_dev, false);
	if (fd >= 0) {
		close(fd);
		r = 0;
	} else {
		r = fd == -ENOENT && write ? 0 : fd;
	}
	if (!r) {
		fd = openat(dir, rest, fs_open_flags(write) | O_NOFOLLOW, 0600);
		r = fd < 0 ? -errno : fs_finish(fd, rst.st_dev, true);
	}
	close(dir);
	return r;
}

/* ---- replies ---------------------------------------------------------- */

int fs_reply_ok(char *buf, size_t len, uint64_t n)
{
	int k = snprintf(buf, len, "OK %" PRIu64 "\n", n);

	if (k < 0 || (size_t)k >= len) {
		if (len)
			buf[0] = '\0';
		return -ENOBUFS;
	}
	return k;
}

int fs_reply_err(char *buf, size_t len, const char *reason)
{
	size_t n = strlen(reason), i;

	if (n > INT_MAX - sizeof("ERR \n") || len < n + sizeof("ERR \n")) {
		if (len)
			buf[0] = '\0';
		return -ENOBUFS;
	}
	memcpy(buf, "ERR ", 4);
	for (i = 0; i < n; i++)
		buf[4 + i] = fs_ctl((unsigned char)reason[i]) ? '?' : reason[i];
	buf[4 + n] = '\n';
	buf[5 + n] = '\0';
	return (int)(5 + n);
}

const char *fs_errno_reason(int neg_errno)
{
	switch (neg_errno) {
	case -ENOENT:
		return "not found";
	case -EACCES:
	case -EPERM:
		return "denied";
	case -ELOOP:
		return "symlink";
	case -EXDEV:
		return "escape";
	case -ENXIO:
		return "not a regular file";
	case -EISDIR:
		return "is a directory";
	case -ENOTDIR:
		return "not a directory";
	case -EINVAL:
		return "bad path";
	case -ENAMETOOLONG:
		return "name too long";
	case -ENOSPC:
	case -EDQUOT:
		return "no space";
	case -EFBIG:
		return "file too large";
	case -EROFS:
		return "read-only";
	case -ETXTBSY:
	case -EBUSY:
		return "busy";
	case -EIO:
		return "I/O error";
	default:
		return "error";
	}
}
