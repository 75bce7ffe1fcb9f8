/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport, version 2 only (virtio 1.2 section 4.2.2).
 *
 * The register file of one device over a plain ops table (kvmtool style).
 * Everything the guest does here is hostile input (THREATS rows 10, 11, 14,
 * 24): accesses of the wrong width or alignment, undefined offsets, writes
 * to read-only registers, reads of write-only ones, a bad QueueSel, queue
 * changes after QueueReady or DRIVER_OK, illegal status transitions and
 * QueueNotify for a queue that does not exist are ignored (reads return 0)
 * and logged once per kind per device. None of them can crash the VMM.
 *
 * Device status follows a table of legal transitions (3.1.1):
 *   0 -> ACK -> ACK|DRIVER -> ACK|DRIVER|FEATURES_OK -> ...|DRIVER_OK,
 * any state -> state|FAILED, and writing 0 resets the device. FEATURES_OK is
 * only accepted if the driver's features are a subset of the offered ones
 * and include VIRTIO_F_VERSION_1 (legacy drivers are refused, 6.1);
 * otherwise the bit stays clear, as 3.1.1 step 6 expects.
 *
 * Locking: virtio_mmio_read/write (vCPU threads) and virtio_mmio_kick (I/O
 * thread) all take the transport's mutex, and a device's queue_notify runs
 * under it, including any I/O it waits for. So a reset (status 0) or
 * virtio_mmio_free() cannot overlap a request in flight (row 24); the price
 * is that a vCPU touching this device's registers waits for that I/O.
 */
#ifndef MVM_VIRTIO_MMIO_H
#define MVM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/queue.h"
#include "vmm/mem.h"

/* Size of the MMIO window the VMM maps per device. */
#define VIRTIO_MMIO_WINDOW 0x1000
/* QueueNotify register, for the VMM's ioeventfd (datamatch = queue index). */
#define VIRTIO_MMIO_QUEUE_NOTIFY_OFF 0x050
/* Device-specific configuration starts here (4.2.2). */
#define VIRTIO_MMIO_CONFIG_OFF 0x100

/* Raise the device's interrupt line (edge); thread-safe. It is called with
 * the transport mutex held and must not call back into the transport. */
typedef void (*virtio_irq_fn)(void *opaque);

/* Bits a device's queue_notify returns. */
#define VIRTIO_NOTIFY_USED 1u	     /* used ring updated: interrupt */
#define VIRTIO_NOTIFY_NEEDS_RESET 2u /* queue broken: DEVICE_NEEDS_RESET */

/*
 * A device behind the transport. Every member may be NULL; the transport
 * checks before each call. dev is the device's private pointer.
 */
struct virtio_dev_ops {
	/* Read config bytes [off, off + len); the transport has checked that
	 * the range lies inside config_size. NULL: reads as zeros. */
	void (*config_read)(void *dev, uint32_t off, void *data, uint32_t len);
	/* Same for writes. NULL: writes are ignored. */
	void (*config_write)(void *dev, uint32_t off, const void *data,
			     uint32_t len);
	/* Process what is available on queue qi (ready, DRIVER_OK set, not
	 * broken). Returns VIRTIO_NOTIFY_* bits. Every popped head must be
	 * pushed before returning unless the queue broke. */
	unsigned (*queue_notify)(void *dev, uint32_t qi, struct vq *q,
				 uint64_t features);
	/* Device reset (status 0 written); queues are reset by the transport.
	 */
	void (*reset)(void *dev);
	/* Free the device (from virtio_mmio_free()). */
	void (*free)(void *dev);
};

struct virtio_mmio_params {
	const char *name; /* for log messages, e.g. "blk" */
	uint32_t device_id;
	uint64_t features; /* offered; VIRTIO_F_VERSION_1 is always added */
	uint32_t num_queues;
	uint16_t queue_max; /* power of two, 1..VQ_MAX_SIZE */
	uint32_t max_chain_len;
	uint32_t config_size; /* bytes, <= VIRTIO_MMIO_WINDOW - 0x100 */
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	virtio_irq_fn irq;
	void *irq_opaque;
};

struct virtio_mmio;

/* Returns 0 and a new transport, or -EINVAL (bad params) / -ENOMEM. On
 * failure the device is not freed (the caller still owns it). */
int virtio_mmio_new(const struct virtio_mmio_params *p,
		    struct virtio_mmio **out);

/*
 * off = offset within the device's window; len 1, 2, 4 or 8. Returns 0 for
 * anything the guest can cause (reads of bad registers give zeros); a
 * negative errno only for host bugs (len 0 or > 8), on which the VMM stops
 * the VM.
 */
int virtio_mmio_read(struct virtio_mmio *t, uint64_t off, void *data,
		     uint32_t len);
int virtio_mmio_write(struct virtio_mmio *t, uint64_t off, const void *data,
		      uint32_t len);

/* The driver notified queue q (ioeventfd on QueueNotify, datamatch = q, or
 * inline from virtio_mmio_write). Processes what is available. */
void virtio_mmio_kick(struct virtio_mmio *t, uint32_t q);

uint32_t virtio_mmio_num_queues(const struct virtio_mmio *t);

/*
 * Snapshot state of the transport and its queues (docs/SNAPSHOT.md): a
 * fixed-layout record, so the snapshot file stores it as bytes. Saved only
 * while the VM is paused; a device's own state is its own business.
 */
#define VIRTIO_MMIO_STATE_QUEUES 8
struct virtio_mmio_queue_state {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t inflight[VQ_MAX_SIZE / 64];
	uint16_t size, last_avail, used_idx;
	uint8_t ready, broken;
	uint8_t pad[1];
};

struct virtio_mmio_state {
	uint32_t device_id, num_queues;
	uint64_t driver_features, features;
	uint32_t int_status, device_features_sel, driver_features_sel;
	uint32_t queue_sel, config_generation;
	uint8_t status;
	uint8_t pad[3];
	struct virtio_mmio_queue_state q[VIRTIO_MMIO_STATE_QUEUES];
};

/* Fill *s (t must have at most VIRTIO_MMIO_STATE_QUEUES queues). */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s);

/*
 * Load *s into a freshly created transport of the same device. The record
 * is checked as hostile bytes: the device id and queue count must match,
 * features must be a subset of the offered ones, sizes within QueueNumMax,
 * and every ready queue passes vq_set_ready() again (rings inside RAM).
 * Returns 0, or -EINVAL with nothing changed.
 */
int virtio_mmio_restore(struct virtio_mmio *t,
			const struct virtio_mmio_state *s);

/* The device's configuration changed (e.g. a disk was attached): bump
 * ConfigGeneration and raise a configuration-change interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* The device behind t (its virtio_mmio_params.dev). */
void *virtio_mmio_device(struct virtio_mmio *t);

/* Waits for in-flight I/O (takes the mutex), frees the device and t. */
void virtio_mmio_free(struct virtio_mmio *t);

#endif
