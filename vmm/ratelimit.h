/* SPDX-License-Identifier: MIT */
/*
 * A token bucket for the policy's `limit vsock-rate RATE/s burst B`:
 * tokens are bytes, refilled at `rate` per second up to `burst`. Pure, all
 * in this header; time is passed in (nanoseconds, any monotonic origin), so
 * tests need no clock. rate == 0 means unlimited. Arithmetic is done in
 * 128 bits: no rate, burst or time gap can overflow it.
 */
#ifndef MVM_RATELIMIT_H
#define MVM_RATELIMIT_H

#include <stdint.h>

struct tbucket {
	uint64_t rate;	 /* bytes per second, 0 = unlimited */
	uint64_t burst;	 /* bucket size in bytes, >= 1 when rate > 0 */
	uint64_t tokens; /* bytes that may pass now */
	uint64_t last_ns;
};

/* A full bucket at now_ns. burst 0 means one second's worth. */
static inline void tb_init(struct tbucket *b, uint64_t rate, uint64_t burst,
			   uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst ? burst : (rate ? rate : 1);
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

static inline void tb_refill(struct tbucket *b, uint64_t now_ns)
{
	unsigned __int128 add;

	if (now_ns <= b->last_ns)
		return; /* time never runs backwards here */
	add = (unsigned __int128)(now_ns - b->last_ns) * b->rate / 1000000000u;
	if (add == 0)
		return; /* keep last_ns: slow rates still accumulate */
	b->last_ns = now_ns;
	if (add >= b->burst - b->tokens)
		b->tokens = b->burst;
	else
		b->tokens += (uint64_t)add;
}

/* Take up to want bytes; returns how many may pass now (0..want). */
static inline uint64_t tb_take(struct tbucket *b, uint64_t now_ns,
			       uint64_t want)
{
	uint64_t got;

	if (b->rate == 0)
		return want;
	tb_refill(b, now_ns);
	got = want < b->tokens ? want : b->tokens;
	b->tokens -= got;
	return got;
}

/* Nanoseconds from now_ns until need bytes (capped at burst) are in the
 * bucket; 0 if they already are. */
static inline uint64_t tb_wait_ns(struct tbucket *b, uint64_t now_ns,
				  uint64_t need)
{
	unsigned __int128 ns;

	if (b->rate == 0)
		return 0;
	tb_refill(b, now_ns);
	if (need > b->burst)
		need = b->burst;
	if (b->tokens >= need)
		return 0;
	ns = ((unsigned __int128)(need - b->tokens) * 1000000000u + b->rate -
	      1) /
	     b->rate;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

#endif
