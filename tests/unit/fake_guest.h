/* SPDX-License-Identifier: MIT */
/*
 * Fake guest memory with real split virtqueues in it, for unit tests (like
 * Firecracker's devices/virtio/test_utils.rs). The "driver" side is written
 * here byte by byte in the virtio 1.2 layout (2.7), so the device code under
 * test reads exactly what a guest would give it.
 */
#ifndef MVM_TESTS_FAKE_GUEST_H
#define MVM_TESTS_FAKE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem.h"

struct fake_guest {
	struct guest_mem mem;
};

/* size bytes of zeroed, page-aligned "guest RAM". */
void fg_init(struct fake_guest *g, uint64_t size);
void fg_free(struct fake_guest *g);
void *fg_ptr(struct fake_guest *g, uint64_t gpa); /* asserts in range */

/* A split virtqueue laid out in guest memory by the fake driver. */
struct fake_vq {
	struct fake_guest *g;
	uint16_t size;
	uint64_t desc, avail, used; /* guest addresses */
	uint16_t avail_idx;	    /* driver's shadow of avail->idx */
	uint16_t next_desc;	    /* next free descriptor for fq_add_chain */
};

/* Lay out desc, avail and used for a queue of size entries at gpa base
 * (aligned to 4096), back to back, zeroed. */
void fq_init(struct fake_vq *q, struct fake_guest *g, uint16_t size,
	     uint64_t base);
void fq_set_desc(struct fake_vq *q, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next);
/* Put head in the next avail slot and publish avail->idx + 1. */
void fq_publish(struct fake_vq *q, uint16_t head);
/* Write avail->idx directly (to fake a driver running ahead). */
void fq_set_avail_idx(struct fake_vq *q, uint16_t idx);

struct fake_buf {
	uint64_t addr;
	uint32_t len;
	bool writable;
};

/* Chain bufs[0..n) on consecutive free descriptors (wrapping), publish
 * it, and return the head. */
uint16_t fq_add_chain(struct fake_vq *q, const struct fake_buf *bufs, int n);

uint16_t fq_used_idx(struct fake_vq *q);
/* The i-th used element (i counts from 0, modulo size). */
void fq_used_elem(struct fake_vq *q, uint16_t i, uint32_t *id, uint32_t *len);

#endif
