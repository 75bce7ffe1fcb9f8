/* SPDX-License-Identifier: MIT */
/*
 * The file service: with the policy's leave, the guest reads or writes one
 * host file per vsock connection. The guest sends one request line
 *
 *     GET <path>\n     host answers "OK <size>\n" and exactly size bytes of
 *                      the file, or "ERR <reason>\n"; then closes
 *     PUT <path>\n     followed by the file's bytes until the guest shuts
 *                      down its send side; the host creates or truncates
 *                      the file (mode 0600), writes it and answers
 *                      "OK <bytes>\n" or "ERR <reason>\n"
 *
 * <path> is the rest of the line after exactly one space: absolute, 1 to
 * FS_PATH_MAX - 1 bytes, spaces allowed, no NUL, CR or other control
 * character, no ".." component. The verb is upper case. Anything else is a
 * protocol error.
 *
 * The guest controls every byte, so the line reader is a pure, bounded state
 * machine, and opening never follows a symlink or leaves the directory the
 * policy allowed (the "root"): fs_open_beneath() resolves the path with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_XDEV), or on kernels without openat2 (< 5.6) walks it one
 * component at a time with O_NOFOLLOW.
 *
 * Limits the operator must know (path resolution cannot see them):
 *  - A hard link inside the root to a file outside it is an ordinary file
 *    here: GET reads it and PUT overwrites it. The root must not contain
 *    hard links to files the guest may not have (e.g. a link to a secret
 *    made by someone who could read it).
 *  - The root itself is trusted operator configuration and is opened
 *    normally: symlinks in the root path are followed. Nothing beneath it
 *    is.
 *  - Missing directories are not created: PUT of /root/new/f needs
 *    /root/new to exist.
 */
#ifndef MVM_FILESERV_H
#define MVM_FILESERV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_PATH_MAX 4096 /* a path, including its NUL */
/* Longest request line: "PUT " + FS_PATH_MAX - 1 bytes of path + '\n'. */
#define FS_MAX_LINE (4 + FS_PATH_MAX)
/* Longest reply line fs_reply_ok() and fs_reply_err() of a reason from
 * this module produce, including the NUL. */
#define FS_REPLY_MAX 64

enum fs_verb { FS_GET, FS_PUT };

struct fs_request {
	enum fs_verb verb;
	char path[FS_PATH_MAX]; /* fs_normalize()d, NUL-terminated */
};

enum fs_line_rc { FS_LINE_MORE, FS_LINE_DONE, FS_LINE_ERROR };

struct fs_reader {
	int state; /* reading, done or broken */
	size_t len;
	char buf[FS_MAX_LINE]; /* the line so far, without its '\n' */
};

void fs_reader_init(struct fs_reader *r);
/*
 * Feed the next len bytes of the connection. Pure. Returns
 *  - FS_LINE_MORE: no newline yet; all len bytes consumed (*used = len).
 *  - FS_LINE_DONE: the line is complete and valid; *used = the bytes of
 *    data consumed, including the '\n'. The bytes after it (data + *used
 *    to data + len) are the start of the PUT payload and were not consumed.
 *    req holds the verb and the normalized path.
 *  - FS_LINE_ERROR: a protocol error, reported as soon as the bytes seen
 *    make the line invalid (a bad verb after 4 bytes, a control character
 *    at once, an overlong path at its FS_PATH_MAX-th byte, without waiting
 *    for a newline); *err points to a static reason fit for "ERR <reason>";
 *    *used = the bytes consumed up to and including the offending one.
 * req is written only on FS_LINE_DONE. After FS_LINE_DONE or FS_LINE_ERROR
 * every further call is FS_LINE_ERROR with *used = 0: one request per
 * connection, and no resynchronising on guest data.
 */
enum fs_line_rc fs_reader_feed(struct fs_reader *r, const void *data,
			       size_t len, size_t *used, struct fs_request *req,
			       const char **err);

/*
 * Lexical normalization of the absolute path in into out[outlen]. Pure.
 * Collapses repeated '/', drops "." components and a trailing '/' ("/" stays
 * "/"). Never resolves "..": any ".." component is rejected, as are a
 * relative path, control characters (< 0x20 and 0x7f) and a result longer
 * than outlen - 1. Bytes >= 0x80 are kept as they are. in is a C string,
 * so a NUL ends it (the reader rejects NUL bytes in the line itself). in
 * and out must not overlap. Idempotent: normalizing a result gives the
 * same result. Returns NULL, or a static reason (out is then the empty
 * string if outlen > 0).
 */
const char *fs_normalize(const char *in, char *out, size_t outlen);

/*
 * Open path for reading (O_RDONLY) or writing (O_WRONLY | O_CREAT |
 * O_TRUNC, mode 0600 less the umask), never following a symlink beneath
 * root, never crossing a mount point, never leaving root. root is an
 * fs_normalize()d absolute directory ("/data/in"; "/" is allowed and means
 * the whole host, so the policy had better not give it); path is
 * fs_normalize()d and equals root + "/" + a non-empty rest. The file must be
 * a regular file; its type is checked on an O_PATH descriptor before it is
 * opened, so a FIFO or device is never opened at all and cannot block the
 * VMM, and checked again on the opened descriptor (O_NONBLOCK until then)
 * in case it was swapped in between. The descriptor returned is
 * O_CLOEXEC, blocking, and the caller closes it.
 *
 * Returns the fd, or
 *   -EINVAL       root or path is not normalized or not absolute
 *   -EXDEV        path is not beneath root, or resolution would cross a
 *                 mount point ("escape")
 *   -EISDIR       path is root or a directory
 *   -ELOOP        a component beneath root is a symlink (including /proc
 *                 magic links), even one pointing inside root
 *   -ENOTDIR      an intermediate component is not a directory
 *   -ENXIO        the file is not a regular file (FIFO, socket, device)
 *   -ENAMETOOLONG, -ENOENT, -EACCES, -ENOSPC, ... from the kernel.
 */
int fs_open_beneath(const char *root, const char *path, bool write);
/*
 * The same, always by the component walk that fs_open_beneath() falls back
 * to when openat2() fails with ENOSYS. For tests; the integrator calls
 * fs_open_beneath(). Mount crossings are detected by st_dev only, so a bind
 * mount of the same file system inside root is not noticed here.
 */
int fs_open_beneath_walk(const char *root, const char *path, bool write);

/*
 * Format "OK <n>\n" or "ERR <reason>\n" into buf[len], NUL-terminated.
 * Pure. Control characters in reason become '?', so the reply is one line
 * whatever the caller passes. Returns the length without the NUL, or
 * -ENOBUFS if the line and its NUL do not fit (buf is then "" if len > 0).
 */
int fs_reply_ok(char *buf, size_t len, uint64_t n);
int fs_reply_err(char *buf, size_t len, const char *reason);

/*
 * A short static reason for a -errno from fs_open_beneath() or from the
 * integrator's read/write, for "ERR <reason>": "not found", "denied",
 * "symlink", "escape", "not a regular file", ... Unknown values give
 * "error". Pure.
 */
const char *fs_errno_reason(int neg_errno);

#endif
