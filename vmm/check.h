/* SPDX-License-Identifier: MIT */
/*
 * `mvm check [--json] [job.img]`: is this host able to run mvm, and is this
 * job image well formed and free of the classic privilege traps (what
 * jailkit's jk_check did for chroot jails). docs/CHECK.md has the details.
 *
 * The image is untrusted input. It is never mounted: debugfs (e2fsprogs)
 * lists it directory by directory (`ls -p <INODE>`, by inode number, so no
 * file name ever goes through debugfs' command parser) and the parsers below
 * read its output. Every walk is bounded (entries, depth, output bytes,
 * time) and a walk that hits a bound is a failure: a check that did not see
 * the whole image cannot say it is clean.
 *
 * The check_* functions below other than check_cmd() are pure.
 */
#ifndef MVM_CHECK_H
#define MVM_CHECK_H

#include <stddef.h>
#include <stdint.h>

/*
 * argv[0] is "check". Prints a report on stdout (one finding per line,
 * "ok|warn|FAIL  <what>: <detail>", or JSON lines with --json). Returns 0
 * when all is well (warnings allowed), 1 when something FAILed, 2 on a
 * usage error.
 */
int check_cmd(int argc, char **argv);

/* Limits of the image walk. */
#define CHECK_MAX_ENTRIES 200000
#define CHECK_MAX_DEPTH 64
#define CHECK_MAX_LS_OUTPUT (96u << 20) /* bytes of debugfs output per level   \
					 */
#define CHECK_DEBUGFS_TIMEOUT_MS 60000	/* for the whole image check */

/* One record of `debugfs -R 'ls -p DIR'`. */
struct check_dirent {
	uint32_t ino;
	uint32_t mode; /* i_mode: file type and permission bits */
	uint32_t uid;
	uint32_t gid;
	uint64_t size;	  /* 0 for directories (debugfs prints none) */
	const char *name; /* into the parsed buffer, NOT NUL-terminated */
	size_t namelen;
};

/*
 * Parse the record at the start of buf[0..len). debugfs 1.47 prints
 *   /INO/MODE/UID/GID/NAME/SIZE/\n    (MODE in octal; directories: NAME//\n)
 * with NAME raw (empty for an unused slot, inode 0): it may hold any byte,
 * newlines included, so records are
 * not lines. NAME ends at the first terminator its file type allows ("//\n"
 * for a directory, "/DIGITS/\n" otherwise). A valid ext4 name never holds
 * '/', so with a valid image the split is exact; a crafted name holding '/'
 * can make extra (fake) records but can never hide a real record inside a
 * parsed name without that name containing '/', which callers must treat
 * as a finding.
 * Returns 0 and sets *e and *used (bytes consumed, newline included), or
 * -EINVAL when buf does not start with a complete, well-formed record.
 */
int check_parse_ls_line(const char *buf, size_t len, struct check_dirent *e,
			size_t *used);

/* Safety findings for one inode mode (jk_check's rules). */
#define CHECK_F_SETUID 0x01  /* regular file, S_ISUID (04000) */
#define CHECK_F_SETGID 0x02  /* regular file, S_ISGID (02000) */
#define CHECK_F_WW_DIR 0x04  /* directory, o+w (0002) without sticky (01000) */
#define CHECK_F_WW_FILE 0x08 /* regular file, o+w */
#define CHECK_F_DEVICE 0x10  /* character or block device node */
unsigned check_mode_findings(uint32_t mode);

/*
 * Escape len bytes of s for a terminal or a log: bytes 0x20..0x7e other
 * than '\\' as they are, the rest as \xNN. Writes at most outlen bytes,
 * NUL-terminated when outlen > 0; returns the full escaped length like
 * snprintf().
 */
size_t check_escape(const char *s, size_t len, char *out, size_t outlen);

/* check_elf_kind() results */
#define CHECK_ELF_STATIC 1  /* no PT_INTERP (static or static-pie) */
#define CHECK_ELF_DYNAMIC 2 /* has PT_INTERP */
/*
 * Classify an ELF64 little-endian x86-64 executable from its first len
 * bytes. Returns CHECK_ELF_STATIC or CHECK_ELF_DYNAMIC, -ENOEXEC when it is
 * not an x86-64 ELF executable, -ENODATA when the program headers lie past
 * len (or overflow).
 */
int check_elf_kind(const uint8_t *buf, size_t len);

/* 1 if buf (the image's first len bytes) holds the ext4 magic 0xEF53 at
 * byte 1080, else 0. */
int check_ext4_magic(const uint8_t *buf, size_t len);

#endif
