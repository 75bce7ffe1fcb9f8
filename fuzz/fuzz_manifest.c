/* SPDX-License-Identifier: MIT */
/*
 * Job manifest (images/init/manifest.c): parsed by the guest init from the
 * job image, so every byte is untrusted.
 *
 * Round-trip oracle: if the input parses to m1, manifest_format(m1) must
 * succeed (unless the text would exceed a documented limit: 64 KiB, or a
 * mount line over 12 KiB) and its output must parse to m2 with the same
 * exec, workdir, uid/gid, argv, envp and mounts. Also: the error message is
 * NUL-terminated with a sane line number, argv/envp are NULL-terminated, and
 * formatting into a too-small buffer never writes past it.
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>

#include "images/init/manifest.h"

static void same_str(const char *a, const char *b)
{
	FZ_CHECK(a && b && strcmp(a, b) == 0);
}

static void same(const struct manifest *a, const struct manifest *b)
{
	size_t i;

	same_str(a->exec, b->exec);
	same_str(a->workdir, b->workdir);
	FZ_CHECK(a->uid == b->uid && a->gid == b->gid);
	FZ_CHECK(a->argc == b->argc && a->envc == b->envc &&
		 a->nmounts == b->nmounts);
	for (i = 0; i < a->argc; i++)
		same_str(a->argv[i], b->argv[i]);
	for (i = 0; i < a->envc; i++)
		same_str(a->envp[i], b->envp[i]);
	for (i = 0; i < a->nmounts; i++) {
		same_str(a->mounts[i].dev, b->mounts[i].dev);
		same_str(a->mounts[i].dir, b->mounts[i].dir);
		same_str(a->mounts[i].fstype, b->mounts[i].fstype);
		FZ_CHECK(a->mounts[i].readonly == b->mounts[i].readonly);
	}
}

static void well_formed(const struct manifest *m)
{
	FZ_CHECK(m->exec && m->exec[0] == '/');
	FZ_CHECK(m->workdir && m->workdir[0] == '/');
	FZ_CHECK(m->argc >= 1 && m->argc <= MANIFEST_MAX_ARGS);
	FZ_CHECK(m->argv[m->argc] == NULL);
	FZ_CHECK(m->envc <= MANIFEST_MAX_ENVS + 2);
	FZ_CHECK(m->envp[m->envc] == NULL);
	FZ_CHECK(m->nmounts <= MANIFEST_MAX_MOUNTS);
}

/* Would the formatted text hit a documented limit of manifest_format()? */
static bool over_limit(const struct manifest *m)
{
	size_t len = 16, i;

	if (m->envc > MANIFEST_MAX_ENVS) /* defaults on top of a full list */
		return true;
	len += 6 + strlen(m->exec) + 9 + strlen(m->workdir) + 32;
	for (i = 0; i < m->argc; i++)
		len += 5 + strlen(m->argv[i]);
	for (i = 0; i < m->envc; i++)
		len += 5 + strlen(m->envp[i]);
	for (i = 0; i < m->nmounts; i++) {
		size_t l = strlen(m->mounts[i].dev) + strlen(m->mounts[i].dir) +
			   strlen(m->mounts[i].fstype) + 6;

		if (l >= 3 * 4096)
			return true;
		len += 7 + l;
	}
	return len > MANIFEST_MAX_SIZE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m1 = malloc(sizeof(*m1)), *m2 = malloc(sizeof(*m2));
	struct manifest_error err;
	char msg[256], *text = NULL, *small;
	size_t cap = MANIFEST_MAX_SIZE + 1, smallcap;
	int rc, n;

	if (!m1 || !m2)
		abort();
	rc = manifest_parse((const char *)data, size, m1, &err);
	if (rc) {
		FZ_CHECK(rc == -EINVAL || rc == -E2BIG);
		FZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		FZ_CHECK(err.msg[0] != '\0');
		FZ_CHECK(err.line <= size + 1);
		manifest_strerror(&err, msg, sizeof(msg));
		FZ_CHECK(memchr(msg, '\0', sizeof(msg)) != NULL);
		goto out;
	}
	well_formed(m1);
	text = malloc(cap);
	if (!text)
		abort();
	n = manifest_format(m1, text, cap);
	if (n < 0) {
		FZ_CHECK(n == -EINVAL);
		FZ_CHECK(over_limit(m1));
		goto out;
	}
	FZ_CHECK((size_t)n < cap && strlen(text) == (size_t)n);
	rc = manifest_parse(text, (size_t)n, m2, &err);
	if (rc) {
		fprintf(stderr, "re-parse failed: %u:%u: %s\n", err.line,
			err.col, err.msg);
		FZ_CHECK(rc == 0);
	}
	well_formed(m2);
	same(m1, m2);

	/* Too small a buffer: same length reported, no write past it. */
	smallcap = size % ((size_t)n + 1);
	small = malloc(smallcap ? smallcap : 1);
	if (!small)
		abort();
	FZ_CHECK(manifest_format(m1, small, smallcap) == n);
	if (smallcap)
		FZ_CHECK(small[smallcap - 1] == '\0');
	free(small);
out:
	free(text);
	free(m2);
	free(m1);
	return 0;
}
