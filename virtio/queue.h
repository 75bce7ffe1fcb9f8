/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2 section 2.7), device side.
 *
 * The guest owns the rings and may rewrite them at any moment from another
 * vCPU. This module is the only code that reads them. It turns one avail
 * entry into a struct vq_chain that has been validated once, up front, like
 * crosvm's DescriptorChain:
 *
 *   - the head and every `next` index are < queue size        (THREATS row 2)
 *   - at most `size` descriptors are followed, so a cycle is an error, never
 *     a hang                                                  (rows 1, 3)
 *   - every buffer lies inside guest RAM, checked by gm_ptr() (rows 4, 5)
 *   - the total length is bounded by the queue's max_chain_len, summed
 *     without overflow                                        (rows 5, 6)
 *   - zero-length descriptors are skipped: they carry no bytes, are not
 *     looked up in RAM and never appear in the chain          (row 7)
 *   - VRING_DESC_F_INDIRECT is an error: mvm never offers
 *     VIRTIO_F_INDIRECT_DESC                                  (row 8)
 *   - all device-readable descriptors come before all device-writable ones
 *                                                             (row 12)
 *   - every descriptor is read exactly once from guest memory into host
 *     memory; only the copy is checked and used               (row 13)
 *
 * Devices only ever see the validated chain: an array of host pointers into
 * guest RAM, readable part first.
 *
 * Ring-level errors that make the queue unusable (avail running ahead of
 * completions by more than `size` (row 9), an avail head >= size, or a head
 * already in flight (row 2)) mark the queue broken: vq_pop() returns
 * VQ_BROKEN from then on and the transport sets DEVICE_NEEDS_RESET.
 *
 * Chain-level errors (a bad descriptor) complete the head at once with used
 * length 0 inside vq_pop(), so no error path can leak a head (row 15).
 *
 * In-flight heads are tracked in a bitmap: a device may pop several chains,
 * run their I/O as a batch and push them afterwards. Popping a head that is
 * still in flight breaks the queue.
 *
 * Not thread-safe: the transport serializes all calls with its mutex.
 * Notification suppression (VRING_AVAIL_F_NO_INTERRUPT, EVENT_IDX) is not
 * implemented: mvm does not offer EVENT_IDX and always interrupts, which the
 * spec allows (2.7.7).
 */
#ifndef MVM_VIRTIO_QUEUE_H
#define MVM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/mem.h"

/* Largest queue any mvm device offers; bounds the chain array below. */
#define VQ_MAX_SIZE 256

struct vq_buf {
	uint8_t *host; /* inside guest RAM, checked by gm_ptr() */
	uint32_t len;  /* > 0 */
	bool writable; /* device-writable (VRING_DESC_F_WRITE) */
};

/* A validated descriptor chain. bufs[0 .. n_readable) are device-readable,
 * bufs[n_readable .. n) device-writable. */
struct vq_chain {
	uint16_t head;
	uint16_t n;
	uint16_t n_readable;
	uint32_t readable_len; /* sum of readable lengths */
	uint32_t writable_len; /* sum of writable lengths */
	const char *err;       /* why vq_pop() returned VQ_BAD_CHAIN */
	struct vq_buf bufs[VQ_MAX_SIZE];
};

struct vq {
	/* Fixed at vq_init(). */
	const struct guest_mem *mem;
	uint16_t max_size;	/* QueueNumMax, power of two <= VQ_MAX_SIZE */
	uint32_t max_chain_len; /* bound on the bytes of one chain (row 6) */

	/* Written by the transport while the queue is not ready. */
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;

	/* Set by vq_set_ready(). */
	bool ready;
	bool broken;
	uint8_t *desc; /* host view of the three areas, inside RAM */
	uint8_t *avail;
	uint8_t *used;
	uint16_t last_avail; /* next avail slot the device will read */
	uint16_t used_idx;   /* device's copy; never read back from guest */
	uint64_t inflight[VQ_MAX_SIZE / 64];
};

enum vq_pop_result {
	VQ_BROKEN = -1,	  /* queue unusable until device reset */
	VQ_EMPTY = 0,	  /* nothing available */
	VQ_CHAIN = 1,	  /* *c is a validated chain; push it when done */
	VQ_BAD_CHAIN = 2, /* c->head was already completed with used length 0,
			     c->err says why; the caller should interrupt */
};

/* max_size must be a power of two in 1..VQ_MAX_SIZE. */
void vq_init(struct vq *q, const struct guest_mem *mem, uint16_t max_size,
	     uint32_t max_chain_len);

/* Back to the post-reset state: not ready, size = max_size, addresses 0. */
void vq_reset(struct vq *q);

/*
 * The driver wrote QueueReady = 1 (4.2.2). Checks size (power of two,
 * 1..max_size, row 10) and the three ring areas: inside RAM, aligned (desc 16,
 * avail 2, used 4; 2.7) and not overlapping each other (row 11). Returns NULL
 * and marks the queue ready, or returns a static string saying what is wrong
 * (the queue stays not ready).
 */
const char *vq_set_ready(struct vq *q);

/* Pop and validate the next available chain into *c. See enum above. */
int vq_pop(struct vq *q, struct vq_chain *c);

/*
 * Return a popped head to the used ring with len = bytes the device wrote
 * into the chain (2.7.8). Returns 0, or -1 if the head is not in flight (a
 * device bug; nothing is written).
 */
int vq_push_used(struct vq *q, uint16_t head, uint32_t len);

/* Copy up to len bytes from the readable part at offset off into dst.
 * Returns the number of bytes copied (less than len at the end). */
size_t vq_chain_read(const struct vq_chain *c, size_t off, void *dst,
		     size_t len);

/* Copy up to len bytes into the writable part at offset off. Returns the
 * number of bytes copied. */
size_t vq_chain_write(const struct vq_chain *c, size_t off, const void *src,
		      size_t len);

/*
 * Describe bytes [off, off + len) of the readable (writable == false) or
 * writable part as iovecs pointing into guest RAM. Returns the number of
 * iovecs, or -1 if the range is not entirely inside that part or needs more
 * than max_iov entries.
 */
int vq_chain_iov(const struct vq_chain *c, bool writable, size_t off,
		 size_t len, struct iovec *iov, int max_iov);

#endif
