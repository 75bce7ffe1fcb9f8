/* SPDX-License-Identifier: MIT */
/*
 * Builds one virtio-blk request chain in fake guest memory from fuzz input,
 * for fuzz_blk.c and fuzz_mmio.c. Most inputs give a well-shaped request
 * (header, data, status) whose fields and lengths the input perturbs; some
 * give an arbitrary list of buffers. Buffers never overlap each other or
 * the rings (a bump allocator over [FZ_DATA_BASE, RAM)), so the harnesses
 * can predict what the device writes.
 */
#ifndef MVM_FUZZ_BLKREQ_H
#define MVM_FUZZ_BLKREQ_H

#include <linux/virtio_blk.h>

#include "fuzz/fuzz_common.h"
#include "tests/unit/fake_guest.h"

#define FZ_DATA_BASE 0x8000u
#define FZ_MAX_BUFS 16

struct fz_req {
	struct fake_buf bufs[FZ_MAX_BUFS];
	int n;
};

struct fz_alloc {
	uint64_t next;
};

static inline uint64_t fz_alloc(struct fz_alloc *a, struct fake_guest *g,
				uint32_t len)
{
	uint64_t room = g->mem.size - FZ_DATA_BASE;
	uint64_t at;

	if (len > room)
		len = (uint32_t)room;
	if (a->next < FZ_DATA_BASE || a->next + len > g->mem.size)
		a->next = FZ_DATA_BASE;
	at = a->next;
	a->next += len;
	return at;
}

static inline void fz_add(struct fz_req *r, struct fz_alloc *a,
			  struct fake_guest *g, uint32_t len, bool w)
{
	if (r->n == FZ_MAX_BUFS)
		return;
	if (len > g->mem.size - FZ_DATA_BASE)
		len = (uint32_t)(g->mem.size - FZ_DATA_BASE);
	r->bufs[r->n].addr = fz_alloc(a, g, len);
	r->bufs[r->n].len = len;
	r->bufs[r->n].writable = w;
	r->n++;
}

/* Write src over the readable buffers from their start (the header). */
static inline void fz_fill_readable(struct fz_req *r, struct fake_guest *g,
				    const uint8_t *src, size_t len)
{
	int i;

	for (i = 0; i < r->n && len > 0; i++) {
		size_t k;

		if (r->bufs[i].writable || r->bufs[i].len == 0)
			continue;
		k = r->bufs[i].len < len ? r->bufs[i].len : len;
		memcpy(fg_ptr(g, r->bufs[i].addr), src, k);
		src += k;
		len -= k;
	}
}

static inline void fz_build_req(struct fz *f, struct fake_guest *g,
				struct fz_alloc *a, struct fz_req *r)
{
	static const uint32_t types[8] = {
	    VIRTIO_BLK_T_IN,	 VIRTIO_BLK_T_OUT,	    VIRTIO_BLK_T_FLUSH,
	    VIRTIO_BLK_T_GET_ID, 0 /* raw */,		    VIRTIO_BLK_T_DISCARD,
	    VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_IN};
	uint8_t shape = fz_u8(f), hdr[16];
	uint32_t type = types[shape & 7], le32;
	uint64_t sector, le64;
	int i;

	r->n = 0;
	if ((shape & 7) == 4)
		type = fz_u32(f);
	sector = (shape & 8) ? fz_u64(f) : fz_u8(f) % 140;
	if (shape & 0x10) {
		/* Arbitrary buffers, any direction, any length. */
		int n = 1 + fz_u8(f) % 8;

		for (i = 0; i < n; i++) {
			uint16_t v = fz_u16(f);

			fz_add(r, a, g, v % 0x3000u, v & 0x8000);
		}
	} else {
		bool in = type == VIRTIO_BLK_T_IN;
		uint8_t k = fz_u8(f);
		uint32_t data = (uint32_t)(k % 9) * 512u;
		int pieces = 1 + (k >> 4) % 3;
		uint32_t left;

		if (type == VIRTIO_BLK_T_GET_ID)
			data = (shape & 0x40) ? fz_u8(f) % 24 : 20;
		else if (type != VIRTIO_BLK_T_IN && type != VIRTIO_BLK_T_OUT)
			data = (shape & 0x40) ? 512 : 0;
		else if (shape & 0x40)
			data += fz_u16(f) % 1024; /* row 17 */
		if (shape & 0x20) {
			/* Header split across descriptors (allowed). */
			uint8_t cut = 1 + fz_u8(f) % 15;

			fz_add(r, a, g, cut, false);
			fz_add(r, a, g, 16u - cut, false);
		} else {
			fz_add(r, a, g, (shape & 0x40) ? fz_u8(f) % 20 : 16,
			       false);
		}
		/* Row 12: data in the wrong direction when k says so. */
		if (k & 0x80)
			in = !in;
		for (left = data, i = 0; left > 0 && i < pieces; i++) {
			uint32_t len = i + 1 == pieces ? left : left / 2;

			fz_add(r, a, g, len, in || type == VIRTIO_BLK_T_GET_ID);
			left -= len;
		}
		/* Status: one writable byte, or a hostile variant. */
		if (!(shape & 0x80))
			fz_add(r, a, g, 1, true);
		else if (fz_u8(f) & 1)
			fz_add(r, a, g, fz_u8(f) % 4, fz_u8(f) & 1);
	}

	le32 = htole32(type);
	memcpy(hdr, &le32, 4);
	memset(hdr + 4, 0, 4);
	le64 = htole64(sector);
	memcpy(hdr + 8, &le64, 8);
	fz_fill_readable(r, g, hdr, sizeof(hdr));
	/* Writable bytes start as 0xee so the harness sees what changed;
	 * readable data after the header is input or a pattern. */
	for (i = 0; i < r->n; i++) {
		uint8_t *p = r->bufs[i].len ? fg_ptr(g, r->bufs[i].addr)
					    : NULL;

		if (!p)
			continue;
		if (r->bufs[i].writable)
			memset(p, 0xee, r->bufs[i].len);
	}
}

#endif
