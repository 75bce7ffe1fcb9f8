/* SPDX-License-Identifier: MIT */
/* virtio-blk device. Contract, request layout and answers: blk.h. */
#define _GNU_SOURCE
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

/* Serial reported by GET_ID (5.2.6: up to 20 bytes, NUL-padded). */
static const char blk_serial[BLK_ID_BYTES] = "mvm-blk";

struct blk_slot {
	struct vq_chain chain;
	struct blk_req req;
	uint8_t status;
	uint32_t used_len;
};

struct blk {
	int fd;		    /* the file: O_RDONLY unless BLK_RW */
	int ovl_fd;	    /* BLK_COW overlay, else -1 */
	uint64_t *cow_bits; /* BLK_COW: bit per sector written to overlay */
	enum blk_mode mode;
	uint64_t capacity; /* sectors */
	bool use_uring;	   /* submit through ring */
	bool ring_inited;  /* ring needs io_uring_queue_exit() */
	struct io_uring ring;
	bool warned_chain, warned_uring;
	uint8_t config[sizeof(struct virtio_blk_config)];
	struct blk_slot *slots; /* BLK_BATCH */
	_Atomic uint64_t *write_budget;
};

/* Take n bytes from the shared write budget, or refuse: all or nothing. */
static bool budget_take(_Atomic uint64_t *budget, uint64_t n)
{
	uint64_t left;

	if (!budget)
		return true;
	left = atomic_load(budget);
	do {
		if (left < n)
			return false;
	} while (!atomic_compare_exchange_weak(budget, &left, left - n));
	return true;
}

/* ---- parsing (pure) ---------------------------------------------------- */

static enum blk_action answer(struct blk_req *r, uint8_t status)
{
	r->status = status;
	r->action = BLK_STATUS;
	return BLK_STATUS;
}

enum blk_action blk_parse_request(const struct vq_chain *c, uint64_t capacity,
				  bool read_only, uint64_t features,
				  struct blk_req *r)
{
	const struct vq_buf *last;
	uint8_t hdr[16];
	uint32_t le32;
	uint64_t le64, nsec;
	bool in;

	r->action = BLK_DROP;
	r->type = 0;
	r->sector = 0;
	r->data_len = 0;
	r->status = VIRTIO_BLK_S_IOERR;
	r->status_ptr = NULL;
	r->niov = 0;

	/* Row 18: the status is the last byte and must be device-writable;
	 * without one we cannot answer at all. */
	if (c->writable_len == 0)
		return BLK_DROP;
	last = &c->bufs[c->n - 1];
	r->status_ptr = last->host + last->len - 1;

	/* Copy the header out once; it may span descriptors. */
	if (vq_chain_read(c, 0, hdr, sizeof(hdr)) != sizeof(hdr))
		return answer(r, VIRTIO_BLK_S_IOERR);
	memcpy(&le32, hdr, 4);
	r->type = le32toh(le32);
	memcpy(&le64, hdr + 8, 8);
	r->sector = le64toh(le64);

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		in = r->type == VIRTIO_BLK_T_IN;
		/* Row 12: IN = header only readable; OUT = status only
		 * writable. */
		if (in ? c->readable_len != sizeof(hdr) : c->writable_len != 1)
			return answer(r, VIRTIO_BLK_S_IOERR);
		r->data_len = in ? c->writable_len - 1
				 : c->readable_len - (uint32_t)sizeof(hdr);
		/* Row 17. */
		if (r->data_len == 0 || r->data_len % BLK_SECTOR ||
		    r->data_len > BLK_MAX_DATA)
			return answer(r, VIRTIO_BLK_S_IOERR);
		/* Row 16, without computing sector + nsec. */
		nsec = r->data_len / BLK_SECTOR;
		if (r->sector > capacity || nsec > capacity - r->sector)
			return answer(r, VIRTIO_BLK_S_IOERR);
		/* Row 20. */
		if (!in && read_only)
			return answer(r, VIRTIO_BLK_S_IOERR);
		r->niov = vq_chain_iov(c, in, in ? 0 : sizeof(hdr), r->data_len,
				       r->iov, VQ_MAX_SIZE);
		if (r->niov <= 0)
			return answer(r, VIRTIO_BLK_S_IOERR);
		r->action = in ? BLK_READ : BLK_WRITE;
		return r->action;
	case VIRTIO_BLK_T_FLUSH:
		if (!(features & (1ull << VIRTIO_BLK_F_FLUSH)))
			return answer(r, VIRTIO_BLK_S_UNSUPP);
		if (c->readable_len != sizeof(hdr) || c->writable_len != 1)
			return answer(r, VIRTIO_BLK_S_IOERR);
		r->action = BLK_FLUSH;
		return r->action;
	case VIRTIO_BLK_T_GET_ID:
		/* Row 18: a buffer shorter than the id is an error. */
		if (c->readable_len != sizeof(hdr) ||
		    c->writable_len - 1 < BLK_ID_BYTES)
			return answer(r, VIRTIO_BLK_S_IOERR);
		r->action = BLK_GET_ID;
		return r->action;
	default:
		/* Row 19: DISCARD, WRITE_ZEROES etc. are not offered. */
		return answer(r, VIRTIO_BLK_S_UNSUPP);
	}
}

/* ---- COW bitmap -------------------------------------------------------- */

static bool cow_test(const struct blk *b, uint64_t s)
{
	return b->cow_bits[s / 64] & (1ull << (s % 64));
}

static void cow_set(struct blk *b, uint64_t s, uint64_t n)
{
	for (; n > 0; s++, n--)
		b->cow_bits[s / 64] |= 1ull << (s % 64);
}

/* Bytes [off, off + len) of iov[0..n) as iovecs in out; returns the count. */
static int iov_slice(const struct iovec *iov, int n, size_t off, size_t len,
		     struct iovec *out)
{
	int i, k = 0;

	for (i = 0; i < n && len > 0; i++) {
		size_t take;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = take;
		k++;
		len -= take;
		off = 0;
	}
	return k;
}

/* ---- synchronous backend ----------------------------------------------- */

static bool full_io(int fd, bool write, const struct iovec *iov, int n,
		    uint64_t off, size_t len)
{
	ssize_t r;

	do {
		r = write ? pwritev(fd, iov, n, (off_t)off)
			  : preadv(fd, iov, n, (off_t)off);
	} while (r < 0 && errno == EINTR);
	/* Short transfers are errors: the range is inside the file. */
	return r >= 0 && (size_t)r == len;
}

/* COW read of a range with both written and unwritten sectors: run by run. */
static bool cow_read_runs(struct blk *b, const struct blk_req *r)
{
	struct iovec sub[VQ_MAX_SIZE];
	uint64_t nsec = r->data_len / BLK_SECTOR, i = 0;

	while (i < nsec) {
		bool ovl = cow_test(b, r->sector + i);
		uint64_t j = i + 1;
		int k;

		while (j < nsec && cow_test(b, r->sector + j) == ovl)
			j++;
		k = iov_slice(r->iov, r->niov, i * BLK_SECTOR,
			      (j - i) * BLK_SECTOR, sub);
		if (!full_io(ovl ? b->ovl_fd : b->fd, false, sub, k,
			     (r->sector + i) * BLK_SECTOR,
			     (j - i) * BLK_SECTOR))
			return false;
		i = j;
	}
	return true;
}

/* For a COW read: -1 mixed, 0 all from base, 1 all from overlay. */
static int cow_source(const struct blk *b, const struct blk_req *r)
{
	uint64_t nsec = r->data_len / BLK_SECTOR, i;
	bool first = cow_test(b, r->sector);

	for (i = 1; i < nsec; i++)
		if (cow_test(b, r->sector + i) != first)
			return -1;
	return first;
}

/* File descriptor a READ/WRITE goes to, or -1 for a mixed COW read. */
static int io_fd(const struct blk *b, const struct blk_req *r)
{
	if (b->mode != BLK_COW)
		return b->fd;
	if (r->action == BLK_WRITE)
		return b->ovl_fd;
	switch (cow_source(b, r)) {
	case 0:
		return b->fd;
	case 1:
		return b->ovl_fd;
	default:
		return -1;
	}
}

/* Record the outcome of slot s's I/O (result = bytes or -errno). */
static void io_done(struct blk *b, struct blk_slot *s, long long result)
{
	struct blk_req *r = &s->req;

	if (r->action == BLK_FLUSH) {
		s->status = result == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		return;
	}
	if (result < 0 || (uint64_t)result != r->data_len) {
		s->status = VIRTIO_BLK_S_IOERR;
		return;
	}
	s->status = VIRTIO_BLK_S_OK;
	if (r->action == BLK_READ)
		s->used_len += r->data_len;
	else if (b->mode == BLK_COW)
		cow_set(b, r->sector, r->data_len / BLK_SECTOR);
}

static void exec_sync(struct blk *b, struct blk_slot *s)
{
	struct blk_req *r = &s->req;
	int fd;

	if (r->action == BLK_FLUSH) {
		int rc = b->mode == BLK_RW ? fdatasync(b->fd) : 0;

		io_done(b, s, rc == 0 ? 0 : -errno);
		return;
	}
	fd = io_fd(b, r);
	if (fd < 0) {
		io_done(b, s,
			cow_read_runs(b, r) ? (long long)r->data_len : -EIO);
		return;
	}
	io_done(b, s,
		full_io(fd, r->action == BLK_WRITE, r->iov, r->niov,
			r->sector * BLK_SECTOR, r->data_len)
		    ? (long long)r->data_len
		    : -EIO);
}

/* ---- io_uring backend -------------------------------------------------- */

static void uring_disable(struct blk *b, const char *why, int err)
{
	/* Any SQE the kernel did not consume stays unconsumed: we never
	 * enter the ring again. */
	b->use_uring = false;
	if (!b->warned_uring) {
		b->warned_uring = true;
		fprintf(stderr,
			"virtio-blk: %s: %s; using synchronous I/O from now "
			"on\n",
			why, strerror(-err));
	}
}

/* Run the I/O of slots[0..n) (all READ/WRITE/FLUSH) as one batch. */
static void exec_uring(struct blk *b, struct blk_slot *slots, int n)
{
	bool done[BLK_BATCH] = {false};
	int i, queued = 0, submitted, got = 0;

	for (i = 0; i < n; i++) {
		struct blk_slot *s = &slots[i];
		struct blk_req *r = &s->req;
		struct io_uring_sqe *sqe;
		int fd;

		if (r->action == BLK_FLUSH && b->mode != BLK_RW) {
			io_done(b, s, 0);
			done[i] = true;
			continue;
		}
		fd = r->action == BLK_FLUSH ? b->fd : io_fd(b, r);
		if (fd < 0) {
			exec_sync(b, s); /* mixed COW read */
			done[i] = true;
			continue;
		}
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe) { /* cannot happen: ring has BLK_BATCH entries */
			exec_sync(b, s);
			done[i] = true;
			continue;
		}
		if (r->action == BLK_FLUSH)
			io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		else if (r->action == BLK_WRITE)
			io_uring_prep_writev(sqe, fd, r->iov, r->niov,
					     r->sector * BLK_SECTOR);
		else
			io_uring_prep_readv(sqe, fd, r->iov, r->niov,
					    r->sector * BLK_SECTOR);
		io_uring_sqe_set_data64(sqe, (uint64_t)i);
		queued++;
	}
	if (queued == 0)
		return;
	submitted = io_uring_submit(&b->ring);
	if (submitted < queued)
		uring_disable(b, "io_uring_submit",
			      submitted < 0 ? submitted : -EAGAIN);
	if (submitted < 0)
		submitted = 0;
	while (got < submitted) {
		struct io_uring_cqe *cqe;
		uint64_t i64;
		int rc = io_uring_wait_cqe(&b->ring, &cqe);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			/* Leave the rest as IOERR; their buffers are guest
			 * RAM, which outlives this batch. */
			uring_disable(b, "io_uring_wait_cqe", rc);
			break;
		}
		i64 = io_uring_cqe_get_data64(cqe);
		if (i64 < (uint64_t)n && !done[i64]) {
			io_done(b, &slots[i64], cqe->res);
			done[i64] = true;
		}
		io_uring_cqe_seen(&b->ring, cqe);
		got++;
	}
	/* SQEs the kernel never took (b->use_uring is now false): run them
	 * synchronously. Those lost by a failed wait answer IOERR. */
	for (i = 0; i < n; i++)
		if (!done[i] && got == submitted)
			exec_sync(b, &slots[i]);
}

/* ---- device ops -------------------------------------------------------- */

static void blk_complete(struct vq *q, struct blk_slot *s)
{
	if (s->req.status_ptr)
		__atomic_store_n(s->req.status_ptr, s->status,
				 __ATOMIC_RELAXED);
	vq_push_used(q, s->chain.head, s->req.status_ptr ? s->used_len : 0);
}

static unsigned blk_queue_notify(void *dev, uint32_t qi, struct vq *q,
				 uint64_t features)
{
	struct blk *b = dev;
	unsigned ret = 0;
	bool more = true;
	int i;

	(void)qi;
	while (more) {
		int n = 0;

		while (n < BLK_BATCH) {
			struct blk_slot *s = &b->slots[n];
			int r = vq_pop(q, &s->chain);

			if (r == VQ_EMPTY || r == VQ_BROKEN) {
				if (r == VQ_BROKEN)
					ret |= VIRTIO_NOTIFY_NEEDS_RESET;
				more = false;
				break;
			}
			if (r == VQ_BAD_CHAIN) {
				if (!b->warned_chain) {
					b->warned_chain = true;
					fprintf(stderr,
						"virtio-blk: guest sent a bad "
						"descriptor chain: %s\n",
						s->chain.err);
				}
				ret |= VIRTIO_NOTIFY_USED;
				continue;
			}
			s->used_len = 1;
			s->status = VIRTIO_BLK_S_IOERR;
			switch (blk_parse_request(&s->chain, b->capacity,
						  b->mode == BLK_RO, features,
						  &s->req)) {
			case BLK_WRITE:
				if (!budget_take(b->write_budget,
						 s->req.data_len))
					break; /* over `limit disk-write`: IOERR
						*/
				n++;
				continue;
			case BLK_READ:
			case BLK_FLUSH:
				n++; /* I/O below */
				continue;
			case BLK_GET_ID:
				vq_chain_write(&s->chain, 0, blk_serial,
					       BLK_ID_BYTES);
				s->status = VIRTIO_BLK_S_OK;
				s->used_len = BLK_ID_BYTES + 1;
				break;
			case BLK_STATUS:
				s->status = s->req.status;
				break;
			case BLK_DROP:
				break;
			}
			blk_complete(q, s);
			ret |= VIRTIO_NOTIFY_USED;
		}
		if (n == 0)
			break;
		if (b->use_uring) {
			exec_uring(b, b->slots, n);
		} else {
			for (i = 0; i < n; i++)
				exec_sync(b, &b->slots[i]);
		}
		for (i = 0; i < n; i++)
			blk_complete(q, &b->slots[i]);
		ret |= VIRTIO_NOTIFY_USED;
	}
	return ret;
}

static void blk_config_read(void *dev, uint32_t off, void *data, uint32_t len)
{
	struct blk *b = dev;

	/* The transport checked off + len <= sizeof(config). */
	memcpy(data, b->config + off, len);
}

static void blk_free(void *dev)
{
	struct blk *b = dev;

	if (!b)
		return;
	if (b->ring_inited)
		io_uring_queue_exit(&b->ring);
	if (b->fd >= 0)
		close(b->fd);
	if (b->ovl_fd >= 0)
		close(b->ovl_fd);
	free(b->cow_bits);
	free(b->slots);
	free(b);
}

static const struct virtio_dev_ops blk_ops = {
    .config_read = blk_config_read,
    .config_write = NULL, /* nothing writable: CONFIG_WCE not offered */
    .queue_notify = blk_queue_notify,
    .reset = NULL, /* no per-driver state; the overlay survives */
    .free = blk_free,
};

/* ---- creation ---------------------------------------------------------- */

/* An unlinked overlay of size bytes: gone with the process, even on
 * SIGKILL. */
static int open_overlay(uint64_t size)
{
	const char *dirs[] = {getenv("TMPDIR"), "/var/tmp"};
	int fd = -1;
	size_t i;

	for (i = 0; fd < 0 && i < 2; i++)
		if (dirs[i] && dirs[i][0])
			fd =
			    open(dirs[i], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = memfd_create("mvm-cow", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Open c->path as the disk's backing file: size checks, the overlay for
 * BLK_COW, capacity and the config space. */
static int open_backing(struct blk *b, const struct blk_config *c, char *err,
			size_t errlen)
{
	struct stat st;
	uint64_t cap;
	int rc;

	b->mode = c->mode;
	b->fd =
	    open(c->path, (c->mode == BLK_RW ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (b->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "open %s: %s", c->path, strerror(-rc));
		return rc;
	}
	if (fstat(b->fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "stat %s: %s", c->path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", c->path);
		return -EINVAL;
	}
	if (st.st_size == 0 || st.st_size % BLK_SECTOR) {
		snprintf(err, errlen, "%s: size %lld is %s", c->path,
			 (long long)st.st_size,
			 st.st_size ? "not a multiple of 512" : "empty");
		return -EINVAL;
	}
	cap = (uint64_t)st.st_size / BLK_SECTOR;
	if (c->mode == BLK_COW) {
		b->ovl_fd = open_overlay((uint64_t)st.st_size);
		if (b->ovl_fd < 0) {
			snprintf(err, errlen, "%s: copy-on-write overlay: %s",
				 c->path, strerror(-b->ovl_fd));
			return b->ovl_fd;
		}
		b->cow_bits = calloc((cap + 63) / 64, sizeof(uint64_t));
		if (!b->cow_bits) {
			snprintf(err, errlen, "%s: %s", c->path,
				 strerror(ENOMEM));
			return -ENOMEM;
		}
	}
	b->capacity = cap;
	/* 5.2.4: capacity */
	memcpy(b->config + offsetof(struct virtio_blk_config, capacity),
	       &(uint64_t){htole64(cap)}, 8);
	return 0;
}

int blk_create(const struct blk_config *c, struct virtio_mmio **out, char *err,
	       size_t errlen)
{
	struct virtio_mmio_params p = {0};
	struct blk *b;
	uint64_t features;
	int rc;

	*out = NULL;
	if ((!c->path && !c->empty) || !c->mem) {
		snprintf(err, errlen, "blk: no file or no guest memory");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto nomem;
	b->fd = b->ovl_fd = -1;
	b->mode = c->mode;
	b->write_budget = c->write_budget;
	if (!c->empty) {
		rc = open_backing(b, c, err, errlen);
		if (rc < 0)
			goto fail;
	}
	b->slots = calloc(BLK_BATCH, sizeof(*b->slots));
	if (!b->slots)
		goto nomem;
	/* Falls back to preadv/pwritev where io_uring is unavailable. */
	b->ring_inited =
	    !c->no_io_uring && io_uring_queue_init(BLK_BATCH, &b->ring, 0) == 0;
	/* SUBMIT_STABLE (5.5+): the kernel has copied the iovec arrays once
	 * io_uring_submit() returns, so slots can be reused even if a wait
	 * for completions fails. */
	b->use_uring =
	    b->ring_inited && (b->ring.features & IORING_FEAT_SUBMIT_STABLE);

	/* 5.2.4: seg_max, blk_size (capacity above); the rest stays 0. */
	put_le32(b->config + offsetof(struct virtio_blk_config, seg_max),
		 BLK_SEG_MAX);
	put_le32(b->config + offsetof(struct virtio_blk_config, blk_size),
		 BLK_SECTOR);
	features = 1ull << VIRTIO_BLK_F_SEG_MAX |
		   1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
	/* An empty slot may later hold a writable disk: not RO. */
	if (c->mode == BLK_RO && !c->empty)
		features |= 1ull << VIRTIO_BLK_F_RO;

	p.name = "blk";
	p.device_id = VIRTIO_ID_BLOCK;
	p.features = features;
	p.num_queues = 1;
	p.queue_max = BLK_QUEUE_SIZE;
	p.max_chain_len = BLK_MAX_CHAIN;
	p.config_size = sizeof(b->config);
	p.ops = &blk_ops;
	p.dev = b;
	p.mem = c->mem;
	p.irq = c->irq;
	p.irq_opaque = c->irq_opaque;
	rc = virtio_mmio_new(&p, out);
	if (rc < 0) {
		snprintf(err, errlen, "%s: virtio-mmio transport: %s",
			 c->path ? c->path : "empty slot", strerror(-rc));
		goto fail;
	}
	return 0;
nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "blk: %s", strerror(ENOMEM));
fail:
	blk_free(b);
	return rc;
}

int blk_attach(struct virtio_mmio *t, const struct blk_config *c, char *err,
	       size_t errlen)
{
	struct blk *b = virtio_mmio_device(t);
	int rc;

	if (!c->path || b->fd >= 0) {
		snprintf(err, errlen, "blk: attach needs a file and an empty "
				      "slot");
		return -EINVAL;
	}
	b->write_budget = c->write_budget;
	rc = open_backing(b, c, err, errlen);
	if (rc < 0) {
		if (b->fd >= 0)
			close(b->fd);
		if (b->ovl_fd >= 0)
			close(b->ovl_fd);
		free(b->cow_bits);
		b->fd = b->ovl_fd = -1;
		b->cow_bits = NULL;
		b->capacity = 0;
		b->mode = BLK_RO;
		return rc;
	}
	virtio_mmio_config_changed(t);
	return 0;
}
