/* SPDX-License-Identifier: MIT */
/* virtio-mmio v2 transport. Contract and threat coverage: mmio.h. */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>

/* Register offsets (4.2.2, table "MMIO Device Register Layout"). */
enum {
	R_MAGIC = 0x000,
	R_VERSION = 0x004,
	R_DEVICE_ID = 0x008,
	R_VENDOR_ID = 0x00c,
	R_DEVICE_FEATURES = 0x010,
	R_DEVICE_FEATURES_SEL = 0x014,
	R_DRIVER_FEATURES = 0x020,
	R_DRIVER_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = VIRTIO_MMIO_QUEUE_NOTIFY_OFF,
	R_INTERRUPT_STATUS = 0x060,
	R_INTERRUPT_ACK = 0x064,
	R_STATUS = 0x070,
	R_QUEUE_DESC_LOW = 0x080,
	R_QUEUE_DESC_HIGH = 0x084,
	R_QUEUE_DRIVER_LOW = 0x090,
	R_QUEUE_DRIVER_HIGH = 0x094,
	R_QUEUE_DEVICE_LOW = 0x0a0,
	R_QUEUE_DEVICE_HIGH = 0x0a4,
	R_SHM_SEL = 0x0ac,
	R_SHM_LEN_LOW = 0x0b0,
	R_SHM_LEN_HIGH = 0x0b4,
	R_SHM_BASE_LOW = 0x0b8,
	R_SHM_BASE_HIGH = 0x0bc,
	R_CONFIG_GENERATION = 0x0fc,
};

#define MAGIC 0x74726976u  /* "virt" */
#define VENDOR 0x204d564du /* "MVM " */

#define INT_USED 1u   /* InterruptStatus: used buffer notification */
#define INT_CONFIG 2u /* InterruptStatus: configuration change */

#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRIVER VIRTIO_CONFIG_S_DRIVER
#define S_FEATURES_OK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DRIVER_OK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NEEDS_RESET VIRTIO_CONFIG_S_NEEDS_RESET
#define S_FAILED VIRTIO_CONFIG_S_FAILED

/* Legal driver-written status transitions (3.1.1), plus "any -> |FAILED"
 * and "any -> 0" handled in write_status(). NEEDS_RESET is device-owned and
 * masked out before the lookup. */
static const struct {
	uint8_t from, to;
} status_transitions[] = {
    {0, S_ACK},
    {S_ACK, S_ACK | S_DRIVER},
    {S_ACK | S_DRIVER, S_ACK | S_DRIVER | S_FEATURES_OK},
    {S_ACK | S_DRIVER | S_FEATURES_OK,
     S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK},
};

/* Kinds of guest misbehaviour, each logged once per device. */
enum warn_kind {
	W_WIDTH,
	W_OFFSET,
	W_READ_ONLY,
	W_WRITE_ONLY,
	W_QUEUE_SEL,
	W_QUEUE_LOCKED,
	W_QUEUE_READY,
	W_STATUS,
	W_FEATURES,
	W_FEATURES_SEL,
	W_CONFIG,
	W_NOTIFY,
	W_BROKEN,
};

struct virtio_mmio {
	pthread_mutex_t lock;
	struct virtio_mmio_params p;
	uint32_t warned; /* bit per enum warn_kind */

	uint8_t status;
	uint32_t int_status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint64_t features; /* negotiated, valid once FEATURES_OK is set */
	uint32_t queue_sel;
	uint32_t config_generation;
	struct vq *queues;
};

/* Log guest misbehaviour once per kind and device: the guest controls how
 * often it happens. */
static void warn(struct virtio_mmio *t, enum warn_kind k, const char *what,
		 uint64_t off)
{
	if (t->warned & (1u << k))
		return;
	t->warned |= 1u << k;
	fprintf(stderr,
		"virtio-mmio %s: guest %s (offset 0x%llx); "
		"not logged again\n",
		t->p.name ? t->p.name : "?", what, (unsigned long long)off);
}

int virtio_mmio_new(const struct virtio_mmio_params *p,
		    struct virtio_mmio **out)
{
	struct virtio_mmio *t;
	uint32_t i;

	*out = NULL;
	if (!p->mem || p->num_queues == 0 || p->queue_max == 0 ||
	    p->queue_max > VQ_MAX_SIZE || (p->queue_max & (p->queue_max - 1)) ||
	    p->config_size > VIRTIO_MMIO_WINDOW - VIRTIO_MMIO_CONFIG_OFF)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->queues = calloc(p->num_queues, sizeof(*t->queues));
	if (!t->queues) {
		free(t);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&t->lock, NULL)) {
		free(t->queues);
		free(t);
		return -ENOMEM;
	}
	t->p = *p;
	t->p.features |= 1ull << VIRTIO_F_VERSION_1;
	for (i = 0; i < p->num_queues; i++)
		vq_init(&t->queues[i], p->mem, p->queue_max, p->max_chain_len);
	*out = t;
	return 0;
}

void virtio_mmio_free(struct virtio_mmio *t)
{
	if (!t)
		return;
	/* Wait for a kick in progress; callers guarantee no new calls. */
	pthread_mutex_lock(&t->lock);
	if (t->p.ops && t->p.ops->free)
		t->p.ops->free(t->p.dev);
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_destroy(&t->lock);
	free(t->queues);
	free(t);
}

uint32_t virtio_mmio_num_queues(const struct virtio_mmio *t)
{
	return t->p.num_queues;
}

static void raise_irq(struct virtio_mmio *t, uint32_t bits)
{
	t->int_status |= bits;
	if (t->p.irq)
		t->p.irq(t->p.irq_opaque);
}

/* 2.1.2: set DEVICE_NEEDS_RESET; notify the driver if it is running. */
static void needs_reset(struct virtio_mmio *t)
{
	if (t->status & S_NEEDS_RESET)
		return;
	t->status |= S_NEEDS_RESET;
	if (t->status & S_DRIVER_OK)
		raise_irq(t, INT_CONFIG);
}

static void reset(struct virtio_mmio *t)
{
	uint32_t i;

	t->status = 0;
	t->int_status = 0;
	t->device_features_sel = t->driver_features_sel = 0;
	t->driver_features = t->features = 0;
	t->queue_sel = 0;
	for (i = 0; i < t->p.num_queues; i++)
		vq_reset(&t->queues[i]);
	if (t->p.ops && t->p.ops->reset)
		t->p.ops->reset(t->p.dev);
}

/* Selected queue, or NULL (and a warning) for a bad QueueSel. */
static struct vq *sel_queue(struct virtio_mmio *t, uint64_t off)
{
	if (t->queue_sel < t->p.num_queues)
		return &t->queues[t->queue_sel];
	warn(t, W_QUEUE_SEL, "used a QueueSel with no queue", off);
	return NULL;
}

/* The selected queue if its configuration may still change: before
 * QueueReady and before DRIVER_OK, after FEATURES_OK (3.1.1, row 10). */
static struct vq *config_queue(struct virtio_mmio *t, uint64_t off)
{
	struct vq *q = sel_queue(t, off);

	if (!q)
		return NULL;
	if (q->ready || !(t->status & S_FEATURES_OK) ||
	    (t->status & (S_DRIVER_OK | S_FAILED))) {
		warn(t, W_QUEUE_LOCKED,
		     "changed a queue while ready, before FEATURES_OK or after "
		     "DRIVER_OK",
		     off);
		return NULL;
	}
	return q;
}

static void kick_locked(struct virtio_mmio *t, uint32_t qi)
{
	struct vq *q;
	unsigned r;

	if (qi >= t->p.num_queues) {
		warn(t, W_NOTIFY, "notified a queue that does not exist",
		     R_QUEUE_NOTIFY);
		return;
	}
	q = &t->queues[qi];
	/* Notify storms (row 24) before setup or after a failure are cheap
	 * no-ops. */
	if (!(t->status & S_DRIVER_OK) || (t->status & S_NEEDS_RESET) ||
	    !q->ready || !t->p.ops || !t->p.ops->queue_notify)
		return;
	r = t->p.ops->queue_notify(t->p.dev, qi, q, t->features);
	if (r & VIRTIO_NOTIFY_NEEDS_RESET) {
		warn(t, W_BROKEN, "broke a queue (device needs reset)",
		     R_QUEUE_NOTIFY);
		needs_reset(t);
	}
	if (r & VIRTIO_NOTIFY_USED)
		raise_irq(t, INT_USED);
}

void virtio_mmio_kick(struct virtio_mmio *t, uint32_t q)
{
	pthread_mutex_lock(&t->lock);
	kick_locked(t, q);
	pthread_mutex_unlock(&t->lock);
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	uint8_t from = t->status & (uint8_t)~S_NEEDS_RESET;
	uint8_t to = (uint8_t)v & (uint8_t)~S_NEEDS_RESET;
	size_t i;
	bool ok = false;

	if (v == 0) {
		reset(t);
		return;
	}
	if (v > 0xff)
		goto illegal;
	if (to == from)
		return; /* rewriting the same value: harmless */
	if (to == (from | S_FAILED))
		ok = true;
	for (i = 0; !ok && i < sizeof(status_transitions) /
				   sizeof(status_transitions[0]);
	     i++)
		ok = status_transitions[i].from == from &&
		     status_transitions[i].to == to;
	if (!ok)
		goto illegal;
	if ((to & S_FEATURES_OK) && !(from & S_FEATURES_OK)) {
		/* 3.1.1 step 5/6, 6.1: subset of offered, modern only. */
		if ((t->driver_features & ~t->p.features) ||
		    !(t->driver_features & (1ull << VIRTIO_F_VERSION_1))) {
			warn(t, W_FEATURES,
			     "accepted features not offered or without "
			     "VERSION_1",
			     R_STATUS);
			return; /* FEATURES_OK stays clear */
		}
		t->features = t->driver_features;
	}
	t->status = to | (t->status & S_NEEDS_RESET);
	return;
illegal:
	warn(t, W_STATUS, "wrote an illegal status transition", R_STATUS);
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct vq *q;

	switch (off) {
	case R_MAGIC:
		return MAGIC;
	case R_VERSION:
		return 2;
	case R_DEVICE_ID:
		return t->p.device_id;
	case R_VENDOR_ID:
		return VENDOR;
	case R_DEVICE_FEATURES:
		if (t->device_features_sel == 0)
			return (uint32_t)t->p.features;
		if (t->device_features_sel == 1)
			return (uint32_t)(t->p.features >> 32);
		return 0;
	case R_QUEUE_NUM_MAX:
		/* 4.2.2: 0 if the queue is not available. */
		return t->queue_sel < t->p.num_queues ? t->p.queue_max : 0;
	case R_QUEUE_READY:
		q = sel_queue(t, off);
		return q ? q->ready : 0;
	case R_INTERRUPT_STATUS:
		return t->int_status;
	case R_STATUS:
		return t->status;
	case R_SHM_LEN_LOW:
	case R_SHM_LEN_HIGH:
	case R_SHM_BASE_LOW:
	case R_SHM_BASE_HIGH:
		return 0xffffffffu; /* 4.2.2: no such shared memory region */
	case R_CONFIG_GENERATION:
		return t->config_generation;
	case R_DEVICE_FEATURES_SEL:
	case R_DRIVER_FEATURES:
	case R_DRIVER_FEATURES_SEL:
	case R_QUEUE_SEL:
	case R_QUEUE_NUM:
	case R_QUEUE_NOTIFY:
	case R_INTERRUPT_ACK:
	case R_QUEUE_DESC_LOW:
	case R_QUEUE_DESC_HIGH:
	case R_QUEUE_DRIVER_LOW:
	case R_QUEUE_DRIVER_HIGH:
	case R_QUEUE_DEVICE_LOW:
	case R_QUEUE_DEVICE_HIGH:
	case R_SHM_SEL:
		warn(t, W_WRITE_ONLY, "read a write-only register", off);
		return 0;
	default:
		warn(t, W_OFFSET, "read an undefined register", off);
		return 0;
	}
}

static void set_low(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffff00000000ull) | v;
}

static void set_high(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct vq *q;
	const char *err;

	switch (off) {
	case R_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		return;
	case R_DRIVER_FEATURES:
		/* Only while negotiating (3.1.1 step 4). */
		if ((t->status & (S_DRIVER | S_FEATURES_OK | S_FAILED)) !=
		    S_DRIVER) {
			warn(t, W_FEATURES,
			     "wrote features outside negotiation", off);
			return;
		}
		if (t->driver_features_sel == 0)
			set_low(&t->driver_features, v);
		else if (t->driver_features_sel == 1)
			set_high(&t->driver_features, v);
		else
			warn(t, W_FEATURES_SEL,
			     "wrote features with a bad DriverFeaturesSel",
			     off);
		return;
	case R_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		return;
	case R_QUEUE_SEL:
		t->queue_sel = v; /* checked on use */
		return;
	case R_QUEUE_NUM:
		q = config_queue(t, off);
		if (q)
			q->size = v > 0xffff ? 0 : (uint16_t)v; /* 0: refused
								   at ready */
		return;
	case R_QUEUE_READY:
		q = sel_queue(t, off);
		if (!q)
			return;
		if (v == 0) {
			/* The driver may disable a queue; nothing of it is in
			 * flight (we hold the lock). */
			q->ready = false;
			return;
		}
		if (!config_queue(t, off))
			return;
		err = vq_set_ready(q);
		if (err) {
			/* Rows 10, 11: refuse; QueueReady reads back 0. */
			char msg[128];

			snprintf(msg, sizeof(msg),
				 "set QueueReady on a bad queue: %s", err);
			warn(t, W_QUEUE_READY, msg, off);
			needs_reset(t);
		}
		return;
	case R_QUEUE_NOTIFY:
		kick_locked(t, v);
		return;
	case R_INTERRUPT_ACK:
		t->int_status &= ~v;
		return;
	case R_STATUS:
		write_status(t, v);
		return;
	case R_QUEUE_DESC_LOW:
	case R_QUEUE_DESC_HIGH:
	case R_QUEUE_DRIVER_LOW:
	case R_QUEUE_DRIVER_HIGH:
	case R_QUEUE_DEVICE_LOW:
	case R_QUEUE_DEVICE_HIGH: {
		uint64_t *r;

		q = config_queue(t, off);
		if (!q)
			return;
		if (off <= R_QUEUE_DESC_HIGH)
			r = &q->desc_gpa;
		else if (off <= R_QUEUE_DRIVER_HIGH)
			r = &q->avail_gpa;
		else
			r = &q->used_gpa;
		if (off & 4)
			set_high(r, v);
		else
			set_low(r, v);
		return;
	}
	case R_SHM_SEL:
		return; /* no shared memory regions: any selection reads -1 */
	case R_MAGIC:
	case R_VERSION:
	case R_DEVICE_ID:
	case R_VENDOR_ID:
	case R_DEVICE_FEATURES:
	case R_QUEUE_NUM_MAX:
	case R_INTERRUPT_STATUS:
	case R_SHM_LEN_LOW:
	case R_SHM_LEN_HIGH:
	case R_SHM_BASE_LOW:
	case R_SHM_BASE_HIGH:
	case R_CONFIG_GENERATION:
		warn(t, W_READ_ONLY, "wrote a read-only register", off);
		return;
	default:
		warn(t, W_OFFSET, "wrote an undefined register", off);
		return;
	}
}

/* Config space access [off, off + len) relative to 0x100: 1, 2, 4 or 8
 * bytes, naturally aligned (4.2.2.2), inside config_size. */
static bool config_ok(struct virtio_mmio *t, uint64_t off, uint32_t len)
{
	uint64_t c = off - VIRTIO_MMIO_CONFIG_OFF;

	if ((len != 1 && len != 2 && len != 4 && len != 8) || c % len ||
	    c >= t->p.config_size || len > t->p.config_size - c) {
		warn(t, W_CONFIG, "made a bad config space access", off);
		return false;
	}
	return true;
}

/* Registers: 32-bit wide and aligned only (4.2.2.2). */
static bool reg_ok(struct virtio_mmio *t, uint64_t off, uint32_t len)
{
	if (len != 4 || off % 4) {
		warn(t, W_WIDTH, "accessed a register with a bad width", off);
		return false;
	}
	return true;
}

int virtio_mmio_read(struct virtio_mmio *t, uint64_t off, void *data,
		     uint32_t len)
{
	if (len == 0 || len > 8)
		return -EINVAL;
	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG_OFF) {
		if (config_ok(t, off, len) && t->p.ops && t->p.ops->config_read)
			t->p.ops->config_read(
			    t->p.dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG_OFF),
			    data, len);
	} else if (reg_ok(t, off, len)) {
		uint32_t v = htole32(read_reg(t, off));

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int virtio_mmio_write(struct virtio_mmio *t, uint64_t off, const void *data,
		      uint32_t len)
{
	if (len == 0 || len > 8)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (off >= VIRTIO_MMIO_CONFIG_OFF) {
		if (config_ok(t, off, len) && t->p.ops &&
		    t->p.ops->config_write)
			t->p.ops->config_write(
			    t->p.dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG_OFF),
			    data, len);
	} else if (reg_ok(t, off, len)) {
		uint32_t v;

		memcpy(&v, data, 4);
		write_reg(t, off, le32toh(v));
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* ---- snapshots --------------------------------------------------------- */

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *s)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&t->lock);
	s->device_id = t->p.device_id;
	s->num_queues = t->p.num_queues;
	s->driver_features = t->driver_features;
	s->features = t->features;
	s->int_status = t->int_status;
	s->device_features_sel = t->device_features_sel;
	s->driver_features_sel = t->driver_features_sel;
	s->queue_sel = t->queue_sel;
	s->config_generation = t->config_generation;
	s->status = t->status;
	for (i = 0; i < t->p.num_queues && i < VIRTIO_MMIO_STATE_QUEUES; i++) {
		const struct vq *q = &t->queues[i];
		struct virtio_mmio_queue_state *qs = &s->q[i];

		qs->desc_gpa = q->desc_gpa;
		qs->avail_gpa = q->avail_gpa;
		qs->used_gpa = q->used_gpa;
		memcpy(qs->inflight, q->inflight, sizeof(qs->inflight));
		qs->size = q->size;
		qs->last_avail = q->last_avail;
		qs->used_idx = q->used_idx;
		qs->ready = q->ready;
		qs->broken = q->broken;
	}
	pthread_mutex_unlock(&t->lock);
}

static int restore_queue(struct vq *q, const struct virtio_mmio_queue_state *qs)
{
	if (qs->size > q->max_size || qs->ready > 1 || qs->broken > 1)
		return -EINVAL;
	q->size = qs->size;
	q->desc_gpa = qs->desc_gpa;
	q->avail_gpa = qs->avail_gpa;
	q->used_gpa = qs->used_gpa;
	if (!qs->ready)
		return 0;
	if (vq_set_ready(q)) /* recomputes the host pointers, checked */
		return -EINVAL;
	q->last_avail = qs->last_avail;
	q->used_idx = qs->used_idx;
	q->broken = qs->broken;
	memcpy(q->inflight, qs->inflight, sizeof(q->inflight));
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *t,
			const struct virtio_mmio_state *s)
{
	uint32_t i;
	int rc = 0;

	if (s->device_id != t->p.device_id ||
	    s->num_queues != t->p.num_queues ||
	    s->num_queues > VIRTIO_MMIO_STATE_QUEUES ||
	    (s->features & ~t->p.features) ||
	    (s->driver_features & ~t->p.features) ||
	    s->queue_sel >= t->p.num_queues)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	for (i = 0; rc == 0 && i < s->num_queues; i++)
		rc = restore_queue(&t->queues[i], &s->q[i]);
	if (rc == 0) {
		t->driver_features = s->driver_features;
		t->features = s->features;
		t->int_status = s->int_status & (INT_USED | INT_CONFIG);
		t->device_features_sel = s->device_features_sel;
		t->driver_features_sel = s->driver_features_sel;
		t->queue_sel = s->queue_sel;
		t->config_generation = s->config_generation;
		t->status = s->status;
	} else {
		for (i = 0; i < t->p.num_queues; i++)
			vq_reset(&t->queues[i]);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	if (t->status & S_DRIVER_OK)
		raise_irq(t, INT_CONFIG);
	pthread_mutex_unlock(&t->lock);
}

void *virtio_mmio_device(struct virtio_mmio *t)
{
	return t->p.dev;
}
