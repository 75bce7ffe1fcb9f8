/* SPDX-License-Identifier: MIT */
/* Job-channel frame decoder; contract in jobchan.h. */
#include "vmm/jobchan.h"

enum { ST_TYPE, ST_LEN_LO, ST_LEN_HI, ST_DATA, ST_BROKEN };

void jobchan_init(struct jobchan *c)
{
	c->state = ST_TYPE;
	c->type = 0;
	c->len = c->got = 0;
}

enum jobchan_rc jobchan_feed(struct jobchan *c, uint8_t byte)
{
	switch (c->state) {
	case ST_TYPE:
		if (byte < JOBCHAN_STDOUT || byte > JOBCHAN_FAIL)
			break;
		c->type = byte;
		c->state = ST_LEN_LO;
		return JOBCHAN_MORE;
	case ST_LEN_LO:
		c->len = byte;
		c->state = ST_LEN_HI;
		return JOBCHAN_MORE;
	case ST_LEN_HI:
		c->len |= (uint16_t)(byte << 8);
		if (c->len == 0 || c->len > JOBCHAN_MAX_PAYLOAD)
			break;
		/* A status is one byte: anything else is a broken guest. */
		if (c->type >= JOBCHAN_EXIT && c->len != 1)
			break;
		c->got = 0;
		c->state = ST_DATA;
		return JOBCHAN_MORE;
	case ST_DATA:
		c->buf[c->got++] = byte;
		if (c->got < c->len)
			return JOBCHAN_MORE;
		c->state = ST_TYPE;
		return JOBCHAN_FRAME;
	default:
		break;
	}
	c->state = ST_BROKEN;
	return JOBCHAN_ERROR;
}
