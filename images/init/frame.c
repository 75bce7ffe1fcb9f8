/* SPDX-License-Identifier: MIT */
/* Job output frames: contract in frame.h. */
#include "frame.h"

#include <errno.h>

int frame_encode(uint8_t *out, uint8_t type, size_t len)
{
	if ((type != FRAME_STDOUT && type != FRAME_STDERR) || len == 0 ||
	    len > FRAME_MAX_PAYLOAD)
		return -EINVAL;
	out[0] = type;
	out[1] = (uint8_t)(len & 0xff);
	out[2] = (uint8_t)(len >> 8);
	return FRAME_HEADER;
}

void frame_decoder_init(struct frame_decoder *d)
{
	d->have = 0;
	d->type = 0;
	d->len = 0;
}

int frame_decoder_push(struct frame_decoder *d, uint8_t byte)
{
	switch (d->have) {
	case 0:
		if (byte != FRAME_STDOUT && byte != FRAME_STDERR)
			return -EPROTO;
		d->type = byte;
		d->have = 1;
		return 0;
	case 1:
		d->len = byte;
		d->have = 2;
		return 0;
	case 2:
		d->len |= (uint16_t)(byte << 8);
		if (d->len == 0 || d->len > FRAME_MAX_PAYLOAD)
			return -EPROTO;
		d->have = 3;
		return 0;
	}
	d->payload[d->have - FRAME_HEADER] = byte;
	if (++d->have - FRAME_HEADER < d->len)
		return 0;
	d->have = 0;
	return 1;
}
