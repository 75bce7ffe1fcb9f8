/* SPDX-License-Identifier: MIT */
/*
 * Job image builder: `mvm image build` (docs/IMAGES.md).
 *
 * Builds an ext4 job image from a directory without root, loop devices or
 * mounts: copy DIR into a fresh staging directory under $TMPDIR, add the
 * embedded guest init as /mvm/init, the manifest as /mvm/manifest, the
 * mount points /dev /proc /sys /tmp /run and any --add-binary programs with
 * their shared libraries, then run mkfs.ext4 -d on it into a temporary file
 * next to the output and rename() that into place. The staging directory is
 * removed on every path, and a failure never leaves a partial output file.
 *
 * Everything written into the staging directory is resolved with
 * openat2(RESOLVE_IN_ROOT), so symlinks copied from DIR (say lib -> /usr/lib)
 * resolve inside the image as the guest will see them and can never make the
 * builder write outside the staging directory.
 */
#ifndef MVM_IMAGE_H
#define MVM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* The static guest init, linked in from images/init_blob.S. */
extern const unsigned char mvm_init_start[];
extern const unsigned char mvm_init_end[];

struct image_build_opts {
	const char *dir;    /* required: tree copied to the image root */
	const char *output; /* required: image path */
	const char *entry;  /* required: "CMD ARGS", see image_split_words() */
	/*
	 * Host programs copied with their ELF interpreter and every shared
	 * library ldd lists: "PATH" (absolute; same path in the image) or
	 * "SRC:DEST" (DEST absolute). Only for trusted programs: ldd may run
	 * the program's own loader.
	 */
	const char *const *binaries;
	size_t nbinaries;
	const char *const *envs; /* "NAME=VALUE", into the manifest */
	size_t nenvs;
	const char *workdir; /* NULL: "/" */
	const char *user;    /* "UID:GID", NULL: 0:0 */
	uint64_t size_mib;   /* 0: image_auto_size_mib(content) */
	const void *init;    /* NULL: the embedded mvm_init_start blob */
	size_t init_len;
	const char *mkfs; /* NULL: mkfs.ext4 from PATH, /usr/sbin, /sbin */
};

/*
 * Build the image described by o. Returns 0, or -errno with one line in err
 * naming the problem, e.g. "image build: open DIR: No such file or
 * directory", "--entry: unterminated quote", "--add-binary /x: not found",
 * "mkfs.ext4 failed: ...". Prints nothing.
 */
int image_build(const struct image_build_opts *o, char *err, size_t errlen);

/*
 * `mvm image build DIR -o IMG --entry "CMD ARGS" [--add-binary PATH]...
 * [--env NAME=VALUE]... [--workdir DIR] [--user UID:GID] [--size MIB]`.
 * argv[0] is the word "build" (call it as image_cmd_build(argc - 2, argv + 2)
 * for `mvm image build ...`). Prints --help to stdout and errors as
 * "mvm: MESSAGE" to stderr. Returns the exit code: 0 ok, 1 failure, 2 usage.
 */
int image_cmd_build(int argc, char **argv);

/*
 * Split s into words with simple shell rules: blanks separate words, '...'
 * is literal, "..." is literal except for \" \\ \$ \` and backslash-newline,
 * an unquoted backslash escapes the next byte (backslash-newline joins
 * lines). No expansion of any kind. On success returns 0 and *words is a
 * NULL-terminated array (one malloc() block: free(*words)) of *n >= 1 words.
 * Returns -EINVAL with a message in err ("unterminated quote", "trailing
 * backslash", "empty command") or -ENOMEM. Pure apart from malloc().
 */
int image_split_words(const char *s, char ***words, size_t *n, char *err,
		      size_t errlen);

/*
 * Parse ldd output in place: store the absolute paths of the libraries and
 * the interpreter it lists in paths[0..*n) (pointing into out). Skips the
 * vDSO and "statically linked" / "not a dynamic executable". Returns
 * -ENOENT with "LIB not found" in err for a library ldd could not find,
 * -EINVAL with the line for anything it does not understand, -E2BIG if
 * more than max paths. Pure.
 */
int image_parse_ldd(char *out, const char **paths, size_t max, size_t *n,
		    char *err, size_t errlen);

/* content * 1.25 + 16 MiB, rounded up to whole MiB. */
uint64_t image_auto_size_mib(uint64_t content_bytes);

#endif
