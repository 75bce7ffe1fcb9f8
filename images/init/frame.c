/* SPDX-License-Identifier: MIT */
/* Job output frames: contract in frame.h. */
#include "frame.h"

#include <errno.h>

int frame_encode(uint8_t *out, uint8_t type, size_t len)
{
	if (type < FRAME_STDOUT || type > FRAME_FAIL || len == 0 ||
	    len > FRAME_MAX_PAYLOAD || (type >= FRAME_EXIT && len != 1))
		return -EINVAL;
	out[0] = type;
	out[1] = (uint8_t)(len & 0xff);
	out[2] = (uint8_t)(len >> 8);
	return FRAME_HEADER;
}
