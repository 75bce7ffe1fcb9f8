/* Unit tests for vmm/fileserv.c: the file-service request reader, path
 * normalization, confined opening and replies. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/fileserv.h"

/* ---- reader ----------------------------------------------------------- */

/* Feed s[0..n) in chunks of chunk bytes; stops at the first non-MORE. */
static enum fs_line_rc feed(struct fs_reader *r, const char *s, size_t n,
			    size_t chunk, size_t *used, struct fs_request *req,
			    const char **err)
{
	enum fs_line_rc rc = FS_LINE_MORE;
	size_t off = 0, u;

	*used = 0;
	while (off < n) {
		size_t k = n - off < chunk ? n - off : chunk;

		rc = fs_reader_feed(r, s + off, k, &u, req, err);
		*used += u;
		if (rc != FS_LINE_MORE)
			return rc;
		assert_int_equal(u, k);
		off += k;
	}
	return rc;
}

static void test_reader_get(void **state)
{
	static const char line[] = "GET /data/in/a.txt\n";
	struct fs_request req;
	struct fs_reader r;
	const char *err = NULL;
	size_t used;

	fs_reader_init(&r);
	assert_int_equal(
	    fs_reader_feed(&r, line, strlen(line), &used, &req, &err),
	    FS_LINE_DONE);
	assert_int_equal(used, strlen(line));
	assert_int_equal(req.verb, FS_GET);
	assert_string_equal(req.path, "/data/in/a.txt");
	/* one request per connection */
	assert_int_equal(
	    fs_reader_feed(&r, line, strlen(line), &used, &req, &err),
	    FS_LINE_ERROR);
	assert_int_equal(used, 0);
	assert_string_equal(err, "one request per connection");
}

static void test_reader_byte_by_byte(void **state)
{
	static const char in[] = "PUT /out/my dir//x y.txt/\nPAY\nLOAD";
	size_t nl = strchr(in, '\n') - in, i, used;
	struct fs_request req;
	struct fs_reader r;
	const char *err = NULL;

	memset(&req, 0, sizeof(req));
	fs_reader_init(&r);
	for (i = 0; i < nl; i++) {
		assert_int_equal(
		    fs_reader_feed(&r, in + i, 1, &used, &req, &err),
		    FS_LINE_MORE);
		assert_int_equal(used, 1);
		assert_int_equal(req.path[0], '\0'); /* untouched until done */
	}
	/* The newline arrives with the first payload bytes. */
	assert_int_equal(
	    fs_reader_feed(&r, in + nl, sizeof(in) - 1 - nl, &used, &req, &err),
	    FS_LINE_DONE);
	assert_int_equal(used, 1);
	assert_int_equal(req.verb, FS_PUT);
	assert_string_equal(req.path, "/out/my dir/x y.txt");
}

static void test_reader_payload_unconsumed(void **state)
{
	static const char in[] = "PUT /p\nDATA\n\0\xff";
	size_t chunk, used;

	for (chunk = 1; chunk <= sizeof(in); chunk++) {
		struct fs_request req;
		struct fs_reader r;
		const char *err = NULL;

		fs_reader_init(&r);
		assert_int_equal(
		    feed(&r, in, sizeof(in) - 1, chunk, &used, &req, &err),
		    FS_LINE_DONE);
		/* "PUT /p\n" and not one byte more, whatever the chunking */
		assert_int_equal(used, 7);
		assert_string_equal(req.path, "/p");
		assert_int_equal(req.verb, FS_PUT);
	}
}

static void test_reader_errors(void **state)
{
	static const struct {
		const char *line;
		size_t len, used;
		const char *err;
	} cases[] = {
#define C(s, u, e) {s, sizeof(s) - 1, u, e}
	    C("get /a\n", 1, "bad verb"),
	    C("Get /a\n", 2, "bad verb"),
	    C("GET/a\n", 4, "bad verb"),
	    C("GETX /a\n", 4, "bad verb"),
	    C("GET\n", 4, "bad verb"),
	    C("PUT\n", 4, "bad verb"),
	    C("FOO /a\n", 1, "bad verb"),
	    C("DELETE /a\n", 1, "bad verb"),
	    C(" GET /a\n", 1, "bad verb"),
	    C("\n", 1, "bad verb"),
	    C("GET \n", 5, "empty path"),
	    C("PUT \n", 5, "empty path"),
	    C("GET  /a\n", 8, "not absolute"),
	    C("GET a\n", 6, "not absolute"),
	    C("GET ./a\n", 8, "not absolute"),
	    C("GET /a\r\n", 7, "CR in request"),
	    C("GET\r /a\n", 4, "CR in request"),
	    C("\r\n", 1, "CR in request"),
	    C("GET /a\0b\n", 7, "NUL in request"),
	    C("\0", 1, "NUL in request"),
	    C("GET /a\tb\n", 7, "control character"),
	    C("GET /a\x7f\n", 7, "control character"),
	    C("GET /\x1b[2J\n", 6, "control character"),
	    C("GET /a/../b\n", 12, "dot-dot"),
	    C("GET /..\n", 8, "dot-dot"),
	    C("PUT /a/..\n", 10, "dot-dot"),
	    /* reported at the bad byte, without waiting for a newline */
	    C("GET /a\rmore bytes", 7, "CR in request"),
	    C("PUTS", 4, "bad verb"),
#undef C
	};
	size_t i, chunk, used;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (chunk = 1; chunk <= cases[i].len; chunk++) {
			struct fs_request req;
			struct fs_reader r;
			const char *err = NULL;

			fs_reader_init(&r);
			assert_int_equal(feed(&r, cases[i].line, cases[i].len,
					      chunk, &used, &req, &err),
					 FS_LINE_ERROR);
			assert_int_equal(used, cases[i].used);
			assert_non_null(err);
			assert_string_equal(err, cases[i].err);
			/* once broken, always broken */
			assert_int_equal(fs_reader_feed(&r, "GET /a\n", 7,
							&used, &req, &err),
					 FS_LINE_ERROR);
			assert_int_equal(used, 0);
		}
	}
}

static void test_reader_long_line(void **state)
{
	static char line[10000];
	struct fs_request req;
	struct fs_reader r;
	const char *err = NULL;
	size_t used, i;

	/* The longest path, FS_PATH_MAX - 1 bytes, is accepted. */
	memcpy(line, "PUT /", 5);
	memset(line + 5, 'x', FS_PATH_MAX - 2);
	line[4 + FS_PATH_MAX - 1] = '\n';
	memcpy(line + 4 + FS_PATH_MAX, "tail", 4);
	fs_reader_init(&r);
	assert_int_equal(
	    feed(&r, line, 4 + FS_PATH_MAX + 4, 4096, &used, &req, &err),
	    FS_LINE_DONE);
	assert_int_equal(used, FS_MAX_LINE);
	assert_int_equal(strlen(req.path), FS_PATH_MAX - 1);

	/* One byte more is refused at that byte, newline or not. */
	memset(line + 5, 'x', sizeof(line) - 5);
	fs_reader_init(&r);
	assert_int_equal(
	    fs_reader_feed(&r, line, sizeof(line), &used, &req, &err),
	    FS_LINE_ERROR);
	assert_int_equal(used, 4 + FS_PATH_MAX);
	assert_string_equal(err, "path too long");
	fs_reader_init(&r);
	for (i = 0; i < 4 + FS_PATH_MAX - 1; i++)
		assert_int_equal(
		    fs_reader_feed(&r, line + i, 1, &used, &req, &err),
		    FS_LINE_MORE);
	assert_int_equal(fs_reader_feed(&r, line + i, 1, &used, &req, &err),
			 FS_LINE_ERROR);
	assert_int_equal(used, 1);
	assert_string_equal(err, "path too long");

	/* Overlong but normalizing to something short is still refused. */
	memcpy(line, "GET ", 4);
	memset(line + 4, '/', sizeof(line) - 4);
	fs_reader_init(&r);
	assert_int_equal(
	    fs_reader_feed(&r, line, sizeof(line), &used, &req, &err),
	    FS_LINE_ERROR);
	assert_int_equal(used, 4 + FS_PATH_MAX);
}

static void test_reader_odd_but_valid(void **state)
{
	static const struct {
		const char *line, *path;
	} cases[] = {
	    {"GET /a b  c\n", "/a b  c"},
	    {"GET /caf\xc3\xa9.txt\n", "/caf\xc3\xa9.txt"},
	    {"GET /\n", "/"},
	    {"GET ///\n", "/"},
	    {"GET /./a/.\n", "/a"},
	    {"GET /...\n", "/..."},
	    {"GET /..a/b..\n", "/..a/b.."},
	    {"GET /a /b\n", "/a /b"},
	};
	size_t i, used;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fs_request req;
		struct fs_reader r;
		const char *err = NULL;

		fs_reader_init(&r);
		assert_int_equal(fs_reader_feed(&r, cases[i].line,
						strlen(cases[i].line), &used,
						&req, &err),
				 FS_LINE_DONE);
		assert_string_equal(req.path, cases[i].path);
	}
}

/* ---- normalize -------------------------------------------------------- */

static void test_normalize_ok(void **state)
{
	static const char *const cases[][2] = {
	    {"/", "/"},
	    {"/a", "/a"},
	    {"//a//b/", "/a/b"},
	    {"/./a/./b/.", "/a/b"},
	    {"/a/", "/a"},
	    {"///", "/"},
	    {"/.", "/"},
	    {"/./", "/"},
	    {"/a b/c", "/a b/c"},
	    {"/...", "/..."},
	    {"/..a/a..", "/..a/a.."},
	    {"/.hidden/.x", "/.hidden/.x"},
	    {"/data/in/a/b.txt", "/data/in/a/b.txt"},
	};
	char out[FS_PATH_MAX], again[FS_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_null(fs_normalize(cases[i][0], out, sizeof(out)));
		assert_string_equal(out, cases[i][1]);
		/* idempotent */
		assert_null(fs_normalize(out, again, sizeof(again)));
		assert_string_equal(again, out);
	}
}

static void test_normalize_reject(void **state)
{
	static const char *const cases[][2] = {
	    {"", "not absolute"},
	    {"a", "not absolute"},
	    {"a/b", "not absolute"},
	    {"./a", "not absolute"},
	    {"../a", "not absolute"},
	    {" /a", "not absolute"},
	    {"/..", "dot-dot"},
	    {"/../a", "dot-dot"},
	    {"/a/..", "dot-dot"},
	    {"/a/../", "dot-dot"},
	    {"/a/../b", "dot-dot"},
	    {"/a/b/..", "dot-dot"},
	    {"//..//", "dot-dot"},
	    {"/./..", "dot-dot"},
	    {"/a\x01", "control character"},
	    {"/\x7f", "control character"},
	    {"/a\tb", "control character"},
	    {"/a\r", "control character"},
	    {"/a\nb", "control character"},
	    {"/\x1f/b", "control character"},
	};
	char out[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_string_equal(fs_normalize(cases[i][0], out, sizeof(out)),
				    cases[i][1]);
		assert_int_equal(out[0], '\0');
	}
}

static void test_normalize_overlong(void **state)
{
	static char big[2 * FS_PATH_MAX];
	char out[FS_PATH_MAX];

	assert_string_equal(fs_normalize("/abc", out, 4), "path too long");
	assert_null(fs_normalize("/abc", out, 5));
	assert_string_equal(out, "/abc");
	/* the limit is on the result, not the input */
	assert_null(fs_normalize("//////a/./", out, 3));
	assert_string_equal(out, "/a");
	assert_string_equal(fs_normalize("/", out, 1), "path too long");
	assert_null(fs_normalize("/", out, 2));
	assert_string_equal(fs_normalize("/", out, 0), "path too long");
	assert_string_equal(fs_normalize("/a/b", out, 4), "path too long");
	assert_int_equal(out[0], '\0');

	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	assert_string_equal(fs_normalize(big, out, sizeof(out)),
			    "path too long");
	big[FS_PATH_MAX - 1] = '\0';
	assert_null(fs_normalize(big, out, sizeof(out)));
	assert_int_equal(strlen(out), FS_PATH_MAX - 1);
}

/* ---- replies ---------------------------------------------------------- */

static void test_replies(void **state)
{
	char buf[FS_REPLY_MAX];

	assert_int_equal(fs_reply_ok(buf, sizeof(buf), 0), 5);
	assert_string_equal(buf, "OK 0\n");
	assert_int_equal(fs_reply_ok(buf, sizeof(buf), UINT64_MAX), 24);
	assert_string_equal(buf, "OK 18446744073709551615\n");
	assert_int_equal(fs_reply_ok(buf, 6, 0), 5);
	assert_int_equal(fs_reply_ok(buf, 5, 0), -ENOBUFS);
	assert_string_equal(buf, "");
	assert_int_equal(fs_reply_ok(buf, 0, 0), -ENOBUFS);

	assert_int_equal(fs_reply_err(buf, sizeof(buf), "not found"), 14);
	assert_string_equal(buf, "ERR not found\n");
	assert_int_equal(fs_reply_err(buf, sizeof(buf), "a\nb\rc\x7f"), 11);
	assert_string_equal(buf, "ERR a?b?c?\n");
	assert_int_equal(fs_reply_err(buf, 8, "ab"), 7);
	assert_string_equal(buf, "ERR ab\n");
	assert_int_equal(fs_reply_err(buf, 7, "ab"), -ENOBUFS);
	assert_string_equal(buf, "");
	assert_int_equal(fs_reply_err(buf, 0, ""), -ENOBUFS);
}

static void test_errno_reasons(void **state)
{
	static const struct {
		int e;
		const char *why;
	} cases[] = {
	    {-ENOENT, "not found"},
	    {-EACCES, "denied"},
	    {-EPERM, "denied"},
	    {-ELOOP, "symlink"},
	    {-EXDEV, "escape"},
	    {-ENXIO, "not a regular file"},
	    {-EISDIR, "is a directory"},
	    {-ENOTDIR, "not a directory"},
	    {-EINVAL, "bad path"},
	    {-ENOSPC, "no space"},
	    {0, "error"},
	    {-99999, "error"},
	    {12345, "error"},
	};
	char buf[FS_REPLY_MAX];
	size_t i;
	int e;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(fs_errno_reason(cases[i].e), cases[i].why);
	/* every reason makes a reply that fits FS_REPLY_MAX */
	for (e = 0; e < 200; e++)
		assert_true(
		    fs_reply_err(buf, sizeof(buf), fs_errno_reason(-e)) > 0);
}

/* ---- fs_open_beneath against a real tree ------------------------------ */

struct impl {
	const char *name;
	int (*open)(const char *root, const char *path, bool write);
};

static const struct impl impl_openat2 = {"openat2", fs_open_beneath};
static const struct impl impl_walk = {"walk", fs_open_beneath_walk};

struct fx {
	const struct impl *impl;
	char base[64];	 /* mkdtemp */
	char root[128];	 /* base/root, the policy's root */
	char p[2][4096]; /* scratch paths */
	int np;
};

/* base/rel, in one of two rotating buffers */
static const char *at(struct fx *f, const char *rel)
{
	char *p = f->p[f->np++ & 1];

	snprintf(p, sizeof(f->p[0]), "%s/%s", f->base, rel);
	return p;
}

static void put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
			 (ssize_t)strlen(content));
	close(fd);
}

/* The whole file, "" if absent; must be short. */
static const char *slurp_fd(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static const char *slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	slurp_fd(fd, buf, len);
	close(fd);
	return buf;
}

/* The tree under f->base; -1 if the host cannot make it. */
static int fx_tree(struct fx *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	put_file(at(f, "secret.txt"), "secret");
	mkdir(at(f, "outdir"), 0755);
	put_file(at(f, "outdir/secret2.txt"), "secret2");
	mkdir(f->root, 0755);
	put_file(at(f, "root/a.txt"), "hello");
	mkdir(at(f, "root/sub"), 0755);
	put_file(at(f, "root/sub/b.txt"), "inner");
	mkdir(at(f, "root/sub/deeper"), 0755);
	put_file(at(f, "root/sub/deeper/c.txt"), "deep");
	mkdir(at(f, "root/dir"), 0755);
	mkdir(at(f, "root/with space"), 0755);
	put_file(at(f, "root/with space/f g.txt"), "spaced");
	if (mkfifo(at(f, "root/fifo"), 0644) < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", at(f, "root/sock"));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	close(s);
	if (symlink(at(f, "secret.txt"), at(f, "root/link_out")) ||
	    symlink("../secret.txt", at(f, "root/link_out_rel")) ||
	    symlink(at(f, "created.txt"), at(f, "root/link_dangling")) ||
	    symlink("a.txt", at(f, "root/link_in")) ||
	    symlink("sub", at(f, "root/linkdir")) ||
	    symlink("../outdir", at(f, "root/linkdir_out")) ||
	    symlink("../a.txt", at(f, "root/sub/link_up")) ||
	    symlink("/proc/self/fd", at(f, "root/magic")) ||
	    symlink("/proc/self/exe", at(f, "root/magic_exe")) ||
	    symlink("root", at(f, "rootlink")) ||
	    link(at(f, "secret.txt"), at(f, "root/hard")))
		return -1;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	return remove(path);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	int r = nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);

	free(f);
	return r;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->impl = *state;
	strcpy(f->base, "/tmp/fileserv.XXXXXX");
	if (!mkdtemp(f->base)) {
		free(f);
		return -1;
	}
	*state = f;
	if (fx_tree(f) < 0) {
		fx_teardown(state);
		return -1;
	}
	return 0;
}

/* open, expecting -errno e (or success if e == 0: then the fd is closed) */
static void expect(struct fx *f, const char *root, const char *path, bool write,
		   int e)
{
	int fd = f->impl->open(root, path, write);

	if (e) {
		if (fd != e)
			print_error("%s: %s %s under %s: got %d, want %d\n",
				    f->impl->name, write ? "write" : "read",
				    path, root, fd, e);
		assert_int_equal(fd, e);
	} else {
		assert_true(fd >= 0);
		close(fd);
	}
}

static void test_open_read(void **state)
{
	struct fx *f = *state;
	char buf[64];
	int fd;

	fd = f->impl->open(f->root, at(f, "root/a.txt"), false);
	assert_true(fd >= 0);
	assert_string_equal(slurp_fd(fd, buf, sizeof(buf)), "hello");
	/* blocking, close-on-exec, read-only */
	assert_int_equal(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE),
			 O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "x", 1), -1);
	close(fd);
	fd = f->impl->open(f->root, at(f, "root/sub/deeper/c.txt"), false);
	assert_true(fd >= 0);
	assert_string_equal(slurp_fd(fd, buf, sizeof(buf)), "deep");
	close(fd);
	fd = f->impl->open(f->root, at(f, "root/with space/f g.txt"), false);
	assert_true(fd >= 0);
	assert_string_equal(slurp_fd(fd, buf, sizeof(buf)), "spaced");
	close(fd);
	expect(f, f->root, at(f, "root/missing.txt"), false, -ENOENT);
	expect(f, f->root, at(f, "root/nodir/x"), false, -ENOENT);
}

static void test_open_write(void **state)
{
	struct fx *f = *state;
	mode_t old = umask(022);
	struct stat st;
	char buf[64];
	int fd;

	/* a new file: 0600, write-only, blocking, close-on-exec */
	fd = f->impl->open(f->root, at(f, "root/sub/new.txt"), true);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE),
			 O_WRONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(fd, "fresh", 5), 5);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	assert_string_equal(slurp(at(f, "root/sub/new.txt"), buf, sizeof(buf)),
			    "fresh");
	/* an existing file is truncated */
	fd = f->impl->open(f->root, at(f, "root/a.txt"), true);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hi", 2), 2);
	close(fd);
	assert_string_equal(slurp(at(f, "root/a.txt"), buf, sizeof(buf)), "hi");
	/* no directory is created */
	expect(f, f->root, at(f, "root/nodir/x"), true, -ENOENT);
	assert_int_equal(access(at(f, "root/nodir"), F_OK), -1);
	umask(old);
}

static void test_open_symlink_outside(void **state)
{
	struct fx *f = *state;
	char buf[64];

	expect(f, f->root, at(f, "root/link_out"), false, -ELOOP);
	expect(f, f->root, at(f, "root/link_out_rel"), false, -ELOOP);
	expect(f, f->root, at(f, "root/link_out"), true, -ELOOP);
	expect(f, f->root, at(f, "root/link_out_rel"), true, -ELOOP);
	assert_string_equal(slurp(at(f, "secret.txt"), buf, sizeof(buf)),
			    "secret");
	/* O_CREAT must not create a dangling link's target */
	expect(f, f->root, at(f, "root/link_dangling"), true, -ELOOP);
	expect(f, f->root, at(f, "root/link_dangling"), false, -ELOOP);
	assert_int_equal(access(at(f, "created.txt"), F_OK), -1);
}

static void test_open_symlink_inside(void **state)
{
	struct fx *f = *state;
	char buf[64];

	expect(f, f->root, at(f, "root/link_in"), false, -ELOOP);
	expect(f, f->root, at(f, "root/link_in"), true, -ELOOP);
	expect(f, f->root, at(f, "root/sub/link_up"), false, -ELOOP);
	expect(f, f->root, at(f, "root/sub/link_up"), true, -ELOOP);
	assert_string_equal(slurp(at(f, "root/a.txt"), buf, sizeof(buf)),
			    "hello");
}

static void test_open_symlinked_dir(void **state)
{
	struct fx *f = *state;

	expect(f, f->root, at(f, "root/linkdir/b.txt"), false, -ELOOP);
	expect(f, f->root, at(f, "root/linkdir/new.txt"), true, -ELOOP);
	assert_int_equal(access(at(f, "root/sub/new.txt"), F_OK), -1);
	expect(f, f->root, at(f, "root/linkdir_out/secret2.txt"), false,
	       -ELOOP);
	expect(f, f->root, at(f, "root/linkdir_out/new.txt"), true, -ELOOP);
	assert_int_equal(access(at(f, "outdir/new.txt"), F_OK), -1);
	expect(f, f->root, at(f, "root/linkdir"), false, -ELOOP);
}

static void test_open_not_beneath(void **state)
{
	struct fx *f = *state;
	char root_slash[160], rootx[160];

	expect(f, f->root, "/etc/passwd", false, -EXDEV);
	expect(f, f->root, at(f, "secret.txt"), false, -EXDEV);
	expect(f, f->root, at(f, "secret.txt"), true, -EXDEV);
	/* a prefix of the root's name is not the root */
	snprintf(rootx, sizeof(rootx), "%sx/a.txt", f->root);
	expect(f, f->root, rootx, false, -EXDEV);
	expect(f, f->root, f->base, false, -EXDEV);
	expect(f, f->root, f->root, false, -EISDIR);
	expect(f, f->root, f->root, true, -EISDIR);
	/* not normalized: refused before any lookup */
	expect(f, f->root, at(f, "root/../secret.txt"), false, -EINVAL);
	expect(f, f->root, at(f, "root/sub/../../secret.txt"), true, -EINVAL);
	expect(f, f->root, at(f, "root/./a.txt"), false, -EINVAL);
	expect(f, f->root, at(f, "root//a.txt"), false, -EINVAL);
	expect(f, f->root, at(f, "root/sub/"), false, -EINVAL);
	expect(f, f->root, "root/a.txt", false, -EINVAL);
	expect(f, f->root, "", false, -EINVAL);
	/* a bad root */
	snprintf(root_slash, sizeof(root_slash), "%s/", f->root);
	expect(f, root_slash, at(f, "root/a.txt"), false, -EINVAL);
	expect(f, "tmp", at(f, "root/a.txt"), false, -EINVAL);
	expect(f, "", at(f, "root/a.txt"), false, -EINVAL);
	expect(f, at(f, "root/nope"), at(f, "root/nope/a.txt"), false, -ENOENT);
	expect(f, at(f, "root/a.txt"), at(f, "root/a.txt/x"), false, -ENOTDIR);
}

static void test_open_dir(void **state)
{
	struct fx *f = *state;

	expect(f, f->root, at(f, "root/dir"), false, -EISDIR);
	expect(f, f->root, at(f, "root/dir"), true, -EISDIR);
	expect(f, f->root, at(f, "root/sub/deeper"), false, -EISDIR);
	expect(f, f->root, at(f, "root/sub/deeper"), true, -EISDIR);
	expect(f, f->root, at(f, "root/a.txt/x"), false, -ENOTDIR);
	expect(f, f->root, at(f, "root/a.txt/x"), true, -ENOTDIR);
}

static void test_open_fifo(void **state)
{
	struct fx *f = *state;
	int rd;

	/* A hang here is a failure: SIGALRM kills the test run. */
	alarm(10);
	expect(f, f->root, at(f, "root/fifo"), false, -ENXIO);
	expect(f, f->root, at(f, "root/fifo"), true, -ENXIO);
	/* Even with a reader there, so that opening would succeed. */
	rd = open(at(f, "root/fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	expect(f, f->root, at(f, "root/fifo"), true, -ENXIO);
	expect(f, f->root, at(f, "root/fifo"), false, -ENXIO);
	close(rd);
	alarm(0);
}

/* A FIFO or socket is looked at, never opened: no IN_OPEN event. */
static void test_open_special_never_opened(void **state)
{
	struct fx *f = *state;
	char ev[4096];
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, at(f, "root/fifo"), IN_OPEN) >= 0);
	assert_true(inotify_add_watch(in, "/dev/null", IN_OPEN) >= 0);
	alarm(10);
	expect(f, f->root, at(f, "root/fifo"), false, -ENXIO);
	expect(f, f->root, at(f, "root/fifo"), true, -ENXIO);
	expect(f, "/dev", "/dev/null", false, -ENXIO);
	expect(f, "/dev", "/dev/null", true, -ENXIO);
	alarm(0);
	assert_int_equal(read(in, ev, sizeof(ev)), -1);
	assert_int_equal(errno, EAGAIN);
	/* the watch does see a real open */
	close(open("/dev/null", O_RDONLY | O_CLOEXEC));
	assert_true(read(in, ev, sizeof(ev)) > 0);
	close(in);
}

static void test_open_socket_and_device(void **state)
{
	struct fx *f = *state;

	expect(f, f->root, at(f, "root/sock"), false, -ENXIO);
	expect(f, f->root, at(f, "root/sock"), true, -ENXIO);
	expect(f, "/dev", "/dev/null", false, -ENXIO);
	expect(f, "/dev", "/dev/null", true, -ENXIO);
}

static void test_open_hardlink(void **state)
{
	struct fx *f = *state;
	char buf[64];
	int fd;

	/*
	 * Not detectable by path resolution: a hard link is the file. The
	 * operator must keep hard links to secrets out of the root.
	 */
	fd = f->impl->open(f->root, at(f, "root/hard"), false);
	assert_true(fd >= 0);
	assert_string_equal(slurp_fd(fd, buf, sizeof(buf)), "secret");
	close(fd);
}

static void test_open_proc_magic(void **state)
{
	struct fx *f = *state;

	expect(f, "/proc/self", "/proc/self/exe", false, -ELOOP);
	expect(f, "/proc/self", "/proc/self/cwd/x", false, -ELOOP);
	expect(f, "/proc/self", "/proc/self/root/etc/passwd", false, -ELOOP);
	expect(f, "/proc/self", "/proc/self/fd/0", false, -ELOOP);
	expect(f, "/proc/self", "/proc/self/fd/0", true, -ELOOP);
	expect(f, f->root, at(f, "root/magic/0"), false, -ELOOP);
	expect(f, f->root, at(f, "root/magic_exe"), false, -ELOOP);
}

static void test_open_symlinked_root(void **state)
{
	struct fx *f = *state;
	char root[160], path[200], buf[64];
	int fd;

	/* The root is operator configuration: its own symlinks are
	 * followed. */
	snprintf(root, sizeof(root), "%s/rootlink", f->base);
	snprintf(path, sizeof(path), "%s/a.txt", root);
	fd = f->impl->open(root, path, false);
	assert_true(fd >= 0);
	assert_string_equal(slurp_fd(fd, buf, sizeof(buf)), "hello");
	close(fd);
	snprintf(path, sizeof(path), "%s/link_in", root);
	expect(f, root, path, false, -ELOOP);
}

static void test_open_mount_crossing(void **state)
{
	struct fx *f = *state;
	char mnt[160];

	snprintf(mnt, sizeof(mnt), "%s/mnt", f->root);
	/* A private mount namespace, so nothing leaks to the host. */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		skip();
		return;
	}
	assert_int_equal(mkdir(mnt, 0755), 0);
	assert_int_equal(mount("mvmtest", mnt, "tmpfs", 0, NULL), 0);
	put_file(at(f, "root/mnt/x"), "other fs");
	expect(f, f->root, at(f, "root/mnt/x"), false, -EXDEV);
	expect(f, f->root, at(f, "root/mnt/x"), true, -EXDEV);
	expect(f, f->root, at(f, "root/mnt/new"), true, -EXDEV);
	/* refused before creating anything on the other side */
	assert_int_equal(access(at(f, "root/mnt/new"), F_OK), -1);
	assert_int_equal(umount2(mnt, MNT_DETACH), 0);
}

/* ---- the ENOSYS fallback, for real ------------------------------------ */

/* In a child: openat2 fails with ENOSYS, as on a kernel < 5.6. */
static int no_openat2(void)
{
	struct sock_filter prog[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		     offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = {sizeof(prog) / sizeof(prog[0]), prog};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
}

static int enosys_child(struct fx *f)
{
	char buf[64];
	int fd;

#ifndef __x86_64__
	return 77; /* the filter below is for x86-64 */
#endif
	if (no_openat2() < 0)
		return 77;
	if (syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0) != -1 ||
	    errno != ENOSYS)
		return 78;
	fd = fs_open_beneath(f->root, at(f, "root/sub/b.txt"), false);
	if (fd < 0 || strcmp(slurp_fd(fd, buf, sizeof(buf)), "inner") != 0)
		return 1;
	close(fd);
	if (fs_open_beneath(f->root, at(f, "root/link_in"), false) != -ELOOP)
		return 2;
	if (fs_open_beneath(f->root, at(f, "root/linkdir/b.txt"), true) !=
	    -ELOOP)
		return 3;
	if (fs_open_beneath(f->root, at(f, "root/fifo"), false) != -ENXIO)
		return 4;
	fd = fs_open_beneath(f->root, at(f, "root/made.txt"), true);
	if (fd < 0)
		return 5;
	close(fd);
	return 0;
}

static void test_enosys_fallback(void **state)
{
	struct fx *f = *state;
	unsigned char rc = 0xff;
	int status, pfd[2];
	pid_t pid;

	/* The verdict goes through a pipe: under valgrind the child's exit
	 * status is valgrind's. */
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		rc = (unsigned char)enosys_child(f);
		_exit(write(pfd[1], &rc, 1) == 1 ? 0 : 1);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &rc, 1), 1);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (rc == 77) {
		skip(); /* no seccomp here (or valgrind) */
		return;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(access(at(f, "root/made.txt"), F_OK), 0);
}

/* ---- no descriptor leaks ---------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_open_no_fd_leak(void **state)
{
	static const char *const rels[] = {
	    "root/a.txt",	  "root/sub/deeper/c.txt",
	    "root/missing",	  "root/nodir/x",
	    "root/link_in",	  "root/link_out",
	    "root/linkdir/b.txt", "root/sub/link_up",
	    "root/dir",		  "root/fifo",
	    "root/sock",	  "root/a.txt/x",
	    "root/magic/0",	  "root",
	    "secret.txt",	  "root/../secret.txt",
	    "root/new.txt",
	};
	struct fx *f = *state;
	int before = count_fds(), w, fd;
	size_t i;

	for (w = 0; w < 2; w++) {
		for (i = 0; i < sizeof(rels) / sizeof(rels[0]); i++) {
			fd = f->impl->open(f->root, at(f, rels[i]), w);
			if (fd >= 0)
				close(fd);
		}
		fd = f->impl->open("/proc/self", "/proc/self/fd/0", w);
		assert_true(fd < 0);
		fd = f->impl->open("/dev", "/dev/null", w);
		assert_true(fd < 0);
		fd = f->impl->open(at(f, "nope"), at(f, "nope/x"), w);
		assert_true(fd < 0);
	}
	assert_int_equal(count_fds(), before);
}

/* Every open test runs against both resolvers. */
#define OPEN_TESTS(t)                                                          \
	{#t "/openat2", t, fx_setup, fx_teardown, (void *)&impl_openat2},      \
	{                                                                      \
#t "/walk", t, fx_setup, fx_teardown, (void *)&impl_walk       \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reader_get),
	    cmocka_unit_test(test_reader_byte_by_byte),
	    cmocka_unit_test(test_reader_payload_unconsumed),
	    cmocka_unit_test(test_reader_errors),
	    cmocka_unit_test(test_reader_long_line),
	    cmocka_unit_test(test_reader_odd_but_valid),
	    cmocka_unit_test(test_normalize_ok),
	    cmocka_unit_test(test_normalize_reject),
	    cmocka_unit_test(test_normalize_overlong),
	    cmocka_unit_test(test_replies),
	    cmocka_unit_test(test_errno_reasons),
	    OPEN_TESTS(test_open_read),
	    OPEN_TESTS(test_open_write),
	    OPEN_TESTS(test_open_symlink_outside),
	    OPEN_TESTS(test_open_symlink_inside),
	    OPEN_TESTS(test_open_symlinked_dir),
	    OPEN_TESTS(test_open_not_beneath),
	    OPEN_TESTS(test_open_dir),
	    OPEN_TESTS(test_open_fifo),
	    OPEN_TESTS(test_open_special_never_opened),
	    OPEN_TESTS(test_open_socket_and_device),
	    OPEN_TESTS(test_open_hardlink),
	    OPEN_TESTS(test_open_proc_magic),
	    OPEN_TESTS(test_open_symlinked_root),
	    OPEN_TESTS(test_open_mount_crossing),
	    OPEN_TESTS(test_open_no_fd_leak),
	    cmocka_unit_test_prestate_setup_teardown(test_enosys_fallback,
						     fx_setup, fx_teardown,
						     (void *)&impl_openat2),
	};
	return cmocka_run_group_tests_name("fileserv", tests, NULL, NULL);
}
