/* SPDX-License-Identifier: MIT */
/*
 * Job-channel frame decoder (vmm/jobchan.c): every byte comes from the guest
 * init, i.e. from the untrusted guest.
 *
 * Oracles: a frame has type 1 or 2 and 1 <= len <= JOBCHAN_MAX_PAYLOAD, and
 * its payload is exactly the bytes fed since the 3-byte header (checked
 * against a model decoder); once JOBCHAN_ERROR is returned every later byte
 * is an error too; the decoder never reads or writes outside struct jobchan
 * (ASan).
 */
#include "fuzz/fuzz_common.h"

#include "vmm/jobchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jobchan *c = malloc(sizeof(*c));
	size_t i, start = 0;
	bool broken = false;

	if (!c)
		abort();
	jobchan_init(c);
	for (i = 0; i < size; i++) {
		enum jobchan_rc rc = jobchan_feed(c, data[i]);

		if (broken) {
			FZ_CHECK(rc == JOBCHAN_ERROR);
			continue;
		}
		switch (rc) {
		case JOBCHAN_MORE:
			break;
		case JOBCHAN_FRAME:
			FZ_CHECK(c->type >= JOBCHAN_STDOUT &&
				 c->type <= JOBCHAN_FAIL);
			FZ_CHECK(c->len >= 1 && c->len <= JOBCHAN_MAX_PAYLOAD);
			/* status frames carry exactly the status byte */
			FZ_CHECK(c->type < JOBCHAN_EXIT || c->len == 1);
			/* Model: header at start, payload right after it. */
			FZ_CHECK(data[start] == c->type);
			FZ_CHECK((size_t)(data[start + 1] |
					  data[start + 2] << 8) == c->len);
			FZ_CHECK(i + 1 - start == 3u + c->len);
			FZ_CHECK(memcmp(c->buf, data + start + 3, c->len) == 0);
			start = i + 1;
			break;
		case JOBCHAN_ERROR:
			/* Only a bad type or a bad length is an error. */
			FZ_CHECK(i == start || i == start + 2);
			if (i == start)
				FZ_CHECK(data[i] < JOBCHAN_STDOUT ||
					 data[i] > JOBCHAN_FAIL);
			else
				FZ_CHECK(
				    data[i - 1] == 0 && data[i] == 0
					? true
					: (data[i - 1] | data[i] << 8) >
						  JOBCHAN_MAX_PAYLOAD ||
					      (data[start] >= JOBCHAN_EXIT &&
					       (data[i - 1] | data[i] << 8) !=
						   1));
			broken = true;
			break;
		default:
			FZ_CHECK(!"unknown jobchan_rc");
		}
	}
	free(c);
	return 0;
}
