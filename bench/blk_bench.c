/* SPDX-License-Identifier: MIT */
/*
 * VMM-side virtio-blk benchmark: the real device (blk_create + the
 * virtio-mmio transport) driven by a fake driver over a fake guest ring
 * (tests/unit/fake_guest.h), against a file on the host. No VM and no guest
 * kernel: this measures what the VMM's device path costs per request, next
 * to the same I/O issued directly with liburing and preadv/pwritev.
 *
 * Per "kick" the fake driver publishes qd requests (each on its own fixed
 * descriptor chain: 16-byte header, data, 1-byte status; virtio 1.2 5.2.6),
 * calls virtio_mmio_kick() as the VMM's I/O thread does on an ioeventfd,
 * then does what Linux's vm_interrupt() does (read InterruptStatus, write
 * InterruptAck) and checks every status byte and the used index. With
 * --eventfd the I/O thread's syscalls around a kick are added too (epoll_wait
 * + read of the ioeventfd, write of the irqfd).
 *
 * The raw baselines run the same offsets, sizes and iovecs (pointing into
 * the same fake guest RAM) with io_uring_submit_and_wait() of qd readv/writev
 * SQEs, or qd preadv/pwritev calls.
 *
 * Usage: blk_bench [options]; --help lists them.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "bench/bench.h"
#include "tests/unit/fake_guest.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/queue.h"

/* Fake guest RAM layout. */
#define QBASE 0x1000ull	  /* the virtqueue (~7 KiB for 256 entries) */
#define HDRS 0x10000ull	  /* 16-byte headers, one per slot */
#define STATUS 0x11000ull /* status bytes, one per slot */
#define DATA 0x100000ull  /* data buffers, one per slot */

#define MAX_QD 64 /* = BLK_BATCH: one kick is one device batch */
#define MAX_REPS 100
#define NOFS 65536 /* random offsets, cycled */

struct workload {
	const char *name;
	uint32_t bs;
	bool random;
	bool write;
	enum blk_mode mode; /* device mode; reads use opt.read_mode */
};

static const struct workload workloads[] = {
    {"randread-4k", 4096, true, false, BLK_RO},
    {"seqread-64k", 65536, false, false, BLK_RO},
    {"randwrite-4k-rw", 4096, true, true, BLK_RW},
    {"randwrite-4k-cow", 4096, true, true, BLK_COW},
};
#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

enum path { P_RAW_SYNC, P_BLK_SYNC, P_RAW_URING, P_BLK_URING, N_PATHS };

static const char *path_name(enum path p, bool write)
{
	static const char *const names[] = {"raw preadv", "blk sync",
					    "raw liburing", "blk io_uring"};

	return p == P_RAW_SYNC && write ? "raw pwritev" : names[p];
}

struct opts {
	const char *file;
	const char *dir;
	uint64_t size;
	uint32_t reqs; /* per repetition */
	int reps, warmup;
	int qds[8], nqd;
	bool want[N_WORKLOADS];
	uint32_t seg; /* data bytes per descriptor, 0 = one descriptor */
	enum blk_mode read_mode;
	bool eventfd;
	bool json;
	bool verbose;
};

struct result {
	const struct workload *w;
	enum path path;
	int qd;
	double ns[MAX_REPS]; /* ns per request, per repetition */
	int n;
	double med, min, max;
};

/* One benchmark setup: fake RAM with qd fixed chains, offsets, a file. */
struct rig {
	const struct opts *o;
	const struct workload *w;
	int qd;
	struct fake_guest g;
	struct fake_vq fq;
	uint16_t head[MAX_QD];
	int nseg;
	uint64_t *ofs; /* byte offsets, NOFS of them */
	uint64_t next; /* request counter, selects the offset */
	uint64_t cap;  /* file bytes */
	/* device */
	struct virtio_mmio *t;
	unsigned irqs;
	int ioev, irqfd, ep;
	/* raw */
	int fd;
	struct io_uring ring;
	bool ring_inited;
	struct iovec iov[MAX_QD][VQ_MAX_SIZE];
};

/* xorshift64*: the same offsets for every path. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* ---- the test file ----------------------------------------------------- */

static char made_path[512]; /* the temporary file, unlinked at exit */

static void unlink_made(void)
{
	if (made_path[0])
		unlink(made_path);
}

/* Create and fill a file of size bytes, fsync it and read it back once so
 * the page cache is warm. Returns the path (to unlink at exit). */
static char *make_file(const char *dir, uint64_t size)
{
	char *path = made_path;
	size_t chunk = 1 << 20;
	uint8_t *buf = malloc(chunk);
	uint64_t off, s = 0x9e3779b97f4a7c15ull;
	int fd;

	if (!buf)
		die("out of memory");
	snprintf(path, sizeof(made_path), "%s/mvm-blk-bench.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		int e = errno;

		made_path[0] = 0;
		die("mkstemp %s/mvm-blk-bench.XXXXXX: %s", dir, strerror(e));
	}
	atexit(unlink_made); /* also on die() */
	for (off = 0; off < size; off += chunk) {
		size_t i, n = size - off < chunk ? size - off : chunk;

		for (i = 0; i + 8 <= n; i += 8) {
			uint64_t v = rnd(&s);

			memcpy(buf + i, &v, 8);
		}
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			die("write %s: %s", path, strerror(errno));
	}
	if (fsync(fd) < 0)
		die("fsync %s: %s", path, strerror(errno));
	for (off = 0; off < size; off += chunk)
		if (pread(fd, buf, chunk, (off_t)off) < 0)
			die("read %s: %s", path, strerror(errno));
	close(fd);
	free(buf);
	return path;
}

/* ---- the rig ----------------------------------------------------------- */

static uint64_t slot_data(const struct rig *r, int i)
{
	return DATA + (uint64_t)i * r->w->bs;
}

/*
 * Lay out qd fixed chains: slot i uses descriptors [i * (nseg + 2), ...).
 * Reusing a chain once the device has returned it is what a driver does
 * with freed descriptors (2.7.13); only the header's sector changes.
 */
static void rig_chains(struct rig *r)
{
	uint32_t seg = r->o->seg ? r->o->seg : r->w->bs;
	int i, k;

	r->nseg = (int)((r->w->bs + seg - 1) / seg);
	if ((r->nseg + 2) * r->qd > BLK_QUEUE_SIZE)
		die("%s at qd %d with %d data descriptors does not fit a ring "
		    "of %d",
		    r->w->name, r->qd, r->nseg, BLK_QUEUE_SIZE);
	fq_init(&r->fq, &r->g, BLK_QUEUE_SIZE, QBASE);
	for (i = 0; i < r->qd; i++) {
		uint16_t d = (uint16_t)(i * (r->nseg + 2));
		uint16_t wr = r->w->write ? 0 : VRING_DESC_F_WRITE;
		uint32_t type =
		    htole32(r->w->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN);

		memset(fg_ptr(&r->g, HDRS + 16u * i), 0, 16);
		memcpy(fg_ptr(&r->g, HDRS + 16u * i), &type, 4);
		r->head[i] = d;
		fq_set_desc(&r->fq, d, HDRS + 16u * i, 16, VRING_DESC_F_NEXT,
			    (uint16_t)(d + 1));
		for (k = 0; k < r->nseg; k++) {
			uint32_t len = r->w->bs - (uint32_t)k * seg;
			uint64_t a = slot_data(r, i) + (uint64_t)k * seg;

			if (len > seg)
				len = seg;
			fq_set_desc(&r->fq, (uint16_t)(d + 1 + k), a, len,
				    wr | VRING_DESC_F_NEXT,
				    (uint16_t)(d + 2 + k));
			r->iov[i][k].iov_base = fg_ptr(&r->g, a);
			r->iov[i][k].iov_len = len;
		}
		fq_set_desc(&r->fq, (uint16_t)(d + 1 + r->nseg), STATUS + i, 1,
			    VRING_DESC_F_WRITE, 0);
		if (r->w->write)
			memset(fg_ptr(&r->g, slot_data(r, i)), 0x5a, r->w->bs);
	}
}

static void rig_init(struct rig *r, const struct opts *o,
		     const struct workload *w, int qd)
{
	uint64_t s = 0x2545f4914f6cdd1dull, blocks;
	int i;

	memset(r, 0, sizeof(*r));
	r->o = o;
	r->w = w;
	r->qd = qd;
	r->fd = r->ioev = r->irqfd = r->ep = -1;
	fg_init(&r->g, DATA + (uint64_t)MAX_QD * w->bs);
	rig_chains(r);
	r->cap = o->size;
	r->ofs = malloc(NOFS * sizeof(*r->ofs));
	if (!r->ofs)
		die("out of memory");
	blocks = r->cap / w->bs;
	for (i = 0; i < NOFS; i++)
		r->ofs[i] = w->random ? rnd(&s) % blocks * w->bs
				      : (uint64_t)i % blocks * w->bs;
}

static void rig_free(struct rig *r)
{
	if (r->t)
		virtio_mmio_free(r->t);
	if (r->ring_inited)
		io_uring_queue_exit(&r->ring);
	if (r->fd >= 0)
		close(r->fd);
	if (r->ioev >= 0)
		close(r->ioev);
	if (r->irqfd >= 0)
		close(r->irqfd);
	if (r->ep >= 0)
		close(r->ep);
	free(r->ofs);
	fg_free(&r->g);
}

static uint64_t next_ofs(struct rig *r)
{
	return r->ofs[r->next++ % NOFS];
}

/* ---- device ------------------------------------------------------------ */

static void on_irq(void *opaque)
{
	struct rig *r = opaque;
	uint64_t one = 1;

	r->irqs++;
	/* What vdev_irq() in vmm/vm.c does with an irqfd. */
	if (r->irqfd >= 0 && write(r->irqfd, &one, sizeof(one)) < 0)
		die("write irqfd: %s", strerror(errno));
}

static uint32_t rd(struct rig *r, uint64_t off)
{
	uint32_t v = 0;

	if (virtio_mmio_read(r->t, off, &v, 4) < 0)
		die("mmio read 0x%llx", (unsigned long long)off);
	return le32toh(v);
}

static void wr(struct rig *r, uint64_t off, uint32_t v)
{
	v = htole32(v);
	if (virtio_mmio_write(r->t, off, &v, 4) < 0)
		die("mmio write 0x%llx", (unsigned long long)off);
}

/* blk_create, then the register sequence of Linux's virtio_mmio probe and
 * virtio_blk's queue setup (virtio 1.2 3.1.1, 4.2.3). */
static void dev_open(struct rig *r, const char *path, enum blk_mode mode,
		     bool no_io_uring)
{
	struct blk_config c = {
	    .path = path,
	    .mode = mode,
	    .mem = &r->g.mem,
	    .irq = on_irq,
	    .irq_opaque = r,
	    .no_io_uring = no_io_uring,
	};
	char err[256] = "";
	uint32_t lo, hi;
	int rc = blk_create(&c, &r->t, err, sizeof(err));

	if (rc < 0)
		die("%s", err);
	if (rd(r, 0x000) != 0x74726976 || rd(r, 0x004) != 2 ||
	    rd(r, 0x008) != 2)
		die("not a virtio-mmio v2 block device");
	wr(r, 0x070, 0);
	wr(r, 0x070, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	wr(r, 0x070, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(r, 0x014, 0);
	lo = rd(r, 0x010);
	wr(r, 0x014, 1);
	hi = rd(r, 0x010);
	wr(r, 0x024, 0);
	wr(r, 0x020, lo);
	wr(r, 0x024, 1);
	wr(r, 0x020, hi);
	wr(r, 0x070, 0xb);
	if (rd(r, 0x070) != 0xb)
		die("FEATURES_OK refused");
	if ((uint64_t)rd(r, 0x100) * BLK_SECTOR != r->cap)
		die("capacity does not match the file");
	wr(r, 0x030, 0);
	if (rd(r, 0x044) != 0 || rd(r, 0x034) < BLK_QUEUE_SIZE)
		die("queue 0 not available");
	wr(r, 0x038, BLK_QUEUE_SIZE);
	wr(r, 0x080, (uint32_t)r->fq.desc);
	wr(r, 0x084, (uint32_t)(r->fq.desc >> 32));
	wr(r, 0x090, (uint32_t)r->fq.avail);
	wr(r, 0x094, (uint32_t)(r->fq.avail >> 32));
	wr(r, 0x0a0, (uint32_t)r->fq.used);
	wr(r, 0x0a4, (uint32_t)(r->fq.used >> 32));
	wr(r, 0x044, 1);
	wr(r, 0x070, 0xf);
	if (rd(r, 0x070) != 0xf || rd(r, 0x044) != 1)
		die("device did not reach DRIVER_OK");
	if (r->o->eventfd) {
		struct epoll_event ev = {.events = EPOLLIN};

		r->ioev = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r->ep = epoll_create1(EPOLL_CLOEXEC);
		if (r->ioev < 0 || r->irqfd < 0 || r->ep < 0 ||
		    epoll_ctl(r->ep, EPOLL_CTL_ADD, r->ioev, &ev) < 0)
			die("eventfd/epoll: %s", strerror(errno));
	}
}

/* One kick of qd requests through the device. */
static void dev_kick(struct rig *r)
{
	uint16_t want = (uint16_t)(fq_used_idx(&r->fq) + r->qd);
	uint64_t v = 1;
	int i;

	for (i = 0; i < r->qd; i++) {
		uint64_t sec = htole64(next_ofs(r) / BLK_SECTOR);

		memcpy(fg_ptr(&r->g, HDRS + 16u * i + 8), &sec, 8);
		*(uint8_t *)fg_ptr(&r->g, STATUS + i) = 0xff;
		fq_publish(&r->fq, r->head[i]);
	}
	if (r->ioev >= 0) {
		struct epoll_event ev;

		/* KVM signals the ioeventfd; the I/O thread wakes up. */
		if (write(r->ioev, &v, sizeof(v)) < 0 ||
		    epoll_wait(r->ep, &ev, 1, -1) != 1 ||
		    read(r->ioev, &v, sizeof(v)) != sizeof(v))
			die("ioeventfd: %s", strerror(errno));
	}
	virtio_mmio_kick(r->t, 0);
	if (r->irqfd >= 0 && read(r->irqfd, &v, sizeof(v)) != sizeof(v))
		die("irqfd: %s", strerror(errno));
	/* The guest's interrupt handler. */
	wr(r, 0x064, rd(r, 0x060));
	if (fq_used_idx(&r->fq) != want)
		die("%s: used idx %u, want %u", r->w->name, fq_used_idx(&r->fq),
		    want);
	for (i = 0; i < r->qd; i++)
		if (*(uint8_t *)fg_ptr(&r->g, STATUS + i) != VIRTIO_BLK_S_OK)
			die("%s: request failed with status %u", r->w->name,
			    *(uint8_t *)fg_ptr(&r->g, STATUS + i));
}

/* ---- raw baselines ----------------------------------------------------- */

static void raw_sync_kick(struct rig *r)
{
	int i;

	for (i = 0; i < r->qd; i++) {
		off_t off = (off_t)next_ofs(r);
		ssize_t n = r->w->write
				? pwritev(r->fd, r->iov[i], r->nseg, off)
				: preadv(r->fd, r->iov[i], r->nseg, off);

		if (n != (ssize_t)r->w->bs)
			die("%s: %s returned %zd", r->w->name,
			    r->w->write ? "pwritev" : "preadv", n);
	}
}

static void raw_uring_kick(struct rig *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int i, rc;

	for (i = 0; i < r->qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		uint64_t off = next_ofs(r);

		if (r->w->write)
			io_uring_prep_writev(sqe, r->fd, r->iov[i], r->nseg,
					     off);
		else
			io_uring_prep_readv(sqe, r->fd, r->iov[i], r->nseg,
					    off);
	}
	do
		rc = io_uring_submit_and_wait(&r->ring, (unsigned)r->qd);
	while (rc == -EINTR);
	if (rc != r->qd)
		die("io_uring_submit_and_wait: %d", rc);
	io_uring_for_each_cqe(&r->ring, head, cqe)
	{
		if (cqe->res != (int)r->w->bs)
			die("%s: io_uring cqe res %d", r->w->name, cqe->res);
		seen++;
	}
	io_uring_cq_advance(&r->ring, seen);
	if (seen != (unsigned)r->qd)
		die("io_uring: %u completions, want %d", seen, r->qd);
}

/* ---- running ----------------------------------------------------------- */

static void stats(struct result *res)
{
	bench_summary(res->ns, res->n, &res->med, &res->min, &res->max);
}

/*
 * A file descriptor for the raw baseline of w. Writes in COW mode go to a
 * fresh sparse O_TMPFILE next to the file, like the device's overlay, so
 * both pay for block allocation alike.
 */
static int raw_fd(const struct opts *o, const struct workload *w,
		  const char *path)
{
	int fd;

	if (w->mode == BLK_COW) {
		const char *d = getenv("TMPDIR");

		fd = open(d && d[0] ? d : "/var/tmp",
			  O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0 && ftruncate(fd, (off_t)o->size) < 0)
			die("ftruncate overlay: %s", strerror(errno));
	} else {
		fd = open(path, (w->write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	}
	if (fd < 0)
		die("open %s: %s", path, strerror(errno));
	return fd;
}

/* Open the rig of path p: the device or the raw file and ring. */
static void path_open(struct rig *r, const struct opts *o, const char *path,
		      const struct workload *w, int qd, enum path p)
{
	rig_init(r, o, w, qd);
	switch (p) {
	case P_BLK_SYNC:
	case P_BLK_URING:
		dev_open(r, path, w->write ? w->mode : o->read_mode,
			 p == P_BLK_SYNC);
		break;
	case P_RAW_URING:
		if (io_uring_queue_init(MAX_QD, &r->ring, 0) < 0)
			die("io_uring_queue_init failed");
		r->ring_inited = true;
		/* fall through */
	case P_RAW_SYNC:
	case N_PATHS:
		r->fd = raw_fd(o, w, path);
		break;
	}
}

/* Time one repetition of path p on its rig: ns per request. */
static double path_rep(struct rig *r, const struct opts *o, enum path p)
{
	uint32_t kicks = (o->reqs + (uint32_t)r->qd - 1) / (uint32_t)r->qd, k;
	double t0 = now_ns();

	for (k = 0; k < kicks; k++) {
		switch (p) {
		case P_BLK_SYNC:
		case P_BLK_URING:
			dev_kick(r);
			break;
		case P_RAW_URING:
			raw_uring_kick(r);
			break;
		case P_RAW_SYNC:
		case N_PATHS:
			raw_sync_kick(r);
			break;
		}
	}
	return (now_ns() - t0) / ((double)kicks * r->qd);
}

/*
 * All four paths of one workload and depth. Repetitions are interleaved
 * (raw sync, blk sync, raw io_uring, blk io_uring, then again) so that
 * drift on a shared machine, and the page cache and writeback state that
 * earlier writes leave behind, hit every path alike.
 */
static void run(const struct opts *o, const char *path,
		const struct workload *w, int qd, struct result *res)
{
	static struct rig rigs[N_PATHS];
	enum path p;
	int rep;

	for (p = 0; p < N_PATHS; p++) {
		path_open(&rigs[p], o, path, w, qd, p);
		res[p].w = w;
		res[p].path = p;
		res[p].qd = qd;
		res[p].n = 0;
	}
	for (rep = -o->warmup; rep < o->reps; rep++)
		for (p = 0; p < N_PATHS; p++) {
			double ns = path_rep(&rigs[p], o, p);

			if (rep >= 0)
				res[p].ns[res[p].n++] = ns;
		}
	for (p = 0; p < N_PATHS; p++) {
		stats(&res[p]);
		rig_free(&rigs[p]);
	}
}

/* ---- fixed costs of the device path, without I/O ---------------------- */

struct fixed {
	double mutex_ns;	/* uncontended lock + unlock */
	double syscall_ns;	/* getppid(): the price of any syscall */
	double reg_read_ns;	/* virtio_mmio_read of InterruptStatus */
	double empty_kick_ns;	/* kick with nothing available */
	double pop_parse_ns[2]; /* vq_pop + blk_parse_request + vq_push_used,
				   per request, at qd 1 and 32 */
	int pop_qd[2];
};

static double med_of(double *v, int n)
{
	double med, min, max;

	bench_summary(v, n, &med, &min, &max);
	return med;
}

/* Pop, parse and push qd 4 KiB reads on a queue of our own (no transport,
 * no I/O): the device logic per request. */
static double pop_parse(const struct opts *o, int qd)
{
	static struct vq_chain c;
	static struct blk_req req;
	const int iters = 20000;
	double v[MAX_REPS] = {0};
	struct rig r;
	struct vq q;
	int rep, it, i;

	rig_init(&r, o, &workloads[0], qd);
	vq_init(&q, &r.g.mem, BLK_QUEUE_SIZE, BLK_MAX_CHAIN);
	q.desc_gpa = r.fq.desc;
	q.avail_gpa = r.fq.avail;
	q.used_gpa = r.fq.used;
	if (vq_set_ready(&q))
		die("vq_set_ready failed");
	for (rep = -o->warmup; rep < o->reps; rep++) {
		double t0 = now_ns();

		for (it = 0; it < iters / qd; it++) {
			for (i = 0; i < qd; i++)
				fq_publish(&r.fq, r.head[i]);
			for (i = 0; i < qd; i++) {
				if (vq_pop(&q, &c) != VQ_CHAIN ||
				    blk_parse_request(&c, r.cap / BLK_SECTOR,
						      true, 0,
						      &req) != BLK_READ)
					die("pop/parse failed");
				vq_push_used(&q, c.head, 4097);
			}
		}
		if (rep >= 0)
			v[rep] = (now_ns() - t0) / ((double)(iters / qd) * qd);
	}
	rig_free(&r);
	return med_of(v, o->reps);
}

static void fixed_costs(const struct opts *o, const char *path, struct fixed *f)
{
	const int iters = 200000;
	double v[MAX_REPS] = {0};
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct rig r;
	int rep, i;

	for (rep = 0; rep < o->reps; rep++) {
		double t0 = now_ns();

		for (i = 0; i < iters; i++) {
			pthread_mutex_lock(&m);
			__asm__ volatile("" ::: "memory");
			pthread_mutex_unlock(&m);
		}
		v[rep] = (now_ns() - t0) / iters;
	}
	f->mutex_ns = med_of(v, o->reps);
	for (rep = 0; rep < o->reps; rep++) {
		double t0 = now_ns();

		for (i = 0; i < iters / 10; i++)
			syscall(SYS_getppid);
		v[rep] = (now_ns() - t0) / (iters / 10);
	}
	f->syscall_ns = med_of(v, o->reps);

	rig_init(&r, o, &workloads[0], 1);
	dev_open(&r, path, BLK_RO, false);
	for (rep = 0; rep < o->reps; rep++) {
		double t0 = now_ns();

		for (i = 0; i < iters; i++)
			virtio_mmio_kick(r.t, 0);
		v[rep] = (now_ns() - t0) / iters;
	}
	f->empty_kick_ns = med_of(v, o->reps);
	for (rep = 0; rep < o->reps; rep++) {
		double t0 = now_ns();

		for (i = 0; i < iters; i++)
			rd(&r, 0x060);
		v[rep] = (now_ns() - t0) / iters;
	}
	f->reg_read_ns = med_of(v, o->reps);
	rig_free(&r);

	f->pop_qd[0] = 1;
	f->pop_qd[1] = 32;
	for (i = 0; i < 2; i++)
		f->pop_parse_ns[i] = pop_parse(o, f->pop_qd[i]);
}

/* ---- output ------------------------------------------------------------ */

/* The raw baseline a device row is compared with. */
static const struct result *baseline(const struct result *all, int n,
				     const struct result *x)
{
	enum path want = x->path == P_BLK_SYNC ? P_RAW_SYNC : P_RAW_URING;
	int i;

	if (x->path != P_BLK_SYNC && x->path != P_BLK_URING)
		return NULL;
	for (i = 0; i < n; i++)
		if (all[i].w == x->w && all[i].qd == x->qd &&
		    all[i].path == want)
			return &all[i];
	return NULL;
}

static const char *mode_name(enum blk_mode m)
{
	return m == BLK_RO ? "ro" : m == BLK_RW ? "rw" : "cow";
}

static void print_table(const struct opts *o, const struct result *all, int n)
{
	int i;

	printf("%-17s %3s %-13s %10s %9s %9s %9s %9s %7s %8s\n", "workload",
	       "qd", "path", "req/s", "ns/req", "min", "max", "MB/s", "x raw",
	       "+ns/req");
	for (i = 0; i < n; i++) {
		const struct result *x = &all[i];
		const struct result *b = baseline(all, n, x);

		printf("%-17s %3d %-13s %10.0f %9.0f %9.0f %9.0f %9.1f",
		       x->w->name, x->qd, path_name(x->path, x->w->write),
		       1e9 / x->med, x->med, x->min, x->max,
		       x->w->bs * 1e3 / x->med);
		if (b)
			printf(" %7.2f %+8.0f", x->med / b->med,
			       x->med - b->med);
		putchar('\n');
		if (i + 1 < n &&
		    (all[i + 1].qd != x->qd || all[i + 1].w != x->w))
			putchar('\n');
	}
	printf("\nmedian of %d repetitions of %u requests (after %d warm-up); "
	       "MB = 10^6 bytes; reads in %s mode\n",
	       o->reps, o->reqs, o->warmup, mode_name(o->read_mode));
}

static void print_fixed(const struct fixed *f)
{
	printf("\ndevice path without I/O (medians):\n");
	printf("  pthread mutex lock+unlock, uncontended  %7.1f ns\n",
	       f->mutex_ns);
	printf("  syscall round trip (getppid)            %7.1f ns\n",
	       f->syscall_ns);
	printf("  virtio_mmio_read (InterruptStatus)      %7.1f ns\n",
	       f->reg_read_ns);
	printf("  virtio_mmio_kick, nothing available     %7.1f ns\n",
	       f->empty_kick_ns);
	printf("  vq_pop + blk_parse_request + vq_push_used, 4 KiB read:\n");
	printf("    qd %-2d                                 %7.1f ns/req\n",
	       f->pop_qd[0], f->pop_parse_ns[0]);
	printf("    qd %-2d                                 %7.1f "
	       "ns/req\n",
	       f->pop_qd[1], f->pop_parse_ns[1]);
}

static void print_json(const struct opts *o, const struct result *all, int n,
		       const struct fixed *f)
{
	int i;

	printf("{\"reps\": %d, \"reqs\": %u, \"size\": %llu, "
	       "\"read_mode\": \"%s\", \"eventfd\": %s, \"rows\": [\n",
	       o->reps, o->reqs, (unsigned long long)o->size,
	       mode_name(o->read_mode), o->eventfd ? "true" : "false");
	for (i = 0; i < n; i++) {
		const struct result *x = &all[i];
		const struct result *b = baseline(all, n, x);
		char ratio[16] = "null";

		if (b)
			snprintf(ratio, sizeof(ratio), "%.3f", x->med / b->med);
		printf("  {\"workload\": \"%s\", \"bs\": %u, \"qd\": %d, "
		       "\"path\": \"%s\", \"req_s\": %.0f, \"ns_req\": %.1f, "
		       "\"ns_min\": %.1f, \"ns_max\": %.1f, \"mb_s\": %.1f, "
		       "\"x_raw\": %s}%s\n",
		       x->w->name, x->w->bs, x->qd,
		       path_name(x->path, x->w->write), 1e9 / x->med, x->med,
		       x->min, x->max, x->w->bs * 1e3 / x->med, ratio,
		       i + 1 < n ? "," : "");
	}
	printf("], \"fixed\": {\"mutex_ns\": %.1f, \"syscall_ns\": %.1f, "
	       "\"reg_read_ns\": %.1f, "
	       "\"empty_kick_ns\": %.1f, \"pop_parse_ns_qd%d\": %.1f, "
	       "\"pop_parse_ns_qd%d\": %.1f}}\n",
	       f->mutex_ns, f->syscall_ns, f->reg_read_ns, f->empty_kick_ns,
	       f->pop_qd[0], f->pop_parse_ns[0], f->pop_qd[1],
	       f->pop_parse_ns[1]);
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: blk_bench [options]\n"
		"  --file PATH      use this file (its size; not written "
		"unless a\n"
		"                   randwrite-4k-rw run is selected)\n"
		"  --dir DIR        make a temporary file here (default "
		"$TMPDIR or /var/tmp)\n"
		"  --size MIB       size of the temporary file (256)\n"
		"  --reqs N         requests per repetition (16384)\n"
		"  --reps N         timed repetitions (5, max %d)\n"
		"  --warmup N       untimed repetitions first (1)\n"
		"  --qd LIST        queue depths, requests per kick (1,32; "
		"max %d)\n"
		"  --workload LIST  of randread-4k, seqread-64k, "
		"randwrite-4k-rw,\n"
		"                   randwrite-4k-cow (all)\n"
		"  --seg BYTES      data bytes per descriptor (0 = one "
		"descriptor)\n"
		"  --read-mode M    ro, rw or cow for the read workloads "
		"(ro)\n"
		"  --eventfd        add the I/O thread's ioeventfd/epoll/irqfd "
		"syscalls\n"
		"  --json           JSON instead of the table\n"
		"  --verbose        progress on stderr\n",
		MAX_REPS, MAX_QD);
}

static void parse_list(char *s, struct opts *o, bool qd)
{
	char *tok, *save = NULL;

	if (qd)
		o->nqd = 0;
	else
		memset(o->want, 0, sizeof(o->want));
	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		if (qd) {
			int v = atoi(tok);

			if (v < 1 || v > MAX_QD || o->nqd == 8)
				die("bad queue depth %s", tok);
			o->qds[o->nqd++] = v;
			continue;
		}
		for (i = 0; i < N_WORKLOADS; i++)
			if (!strcmp(tok, workloads[i].name))
				break;
		if (i == N_WORKLOADS)
			die("unknown workload %s", tok);
		o->want[i] = true;
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"file", 1, NULL, 'f'},    {"dir", 1, NULL, 'd'},
	    {"size", 1, NULL, 's'},    {"reqs", 1, NULL, 'n'},
	    {"reps", 1, NULL, 'r'},    {"warmup", 1, NULL, 'w'},
	    {"qd", 1, NULL, 'q'},      {"workload", 1, NULL, 'W'},
	    {"seg", 1, NULL, 'S'},     {"read-mode", 1, NULL, 'm'},
	    {"eventfd", 0, NULL, 'e'}, {"json", 0, NULL, 'j'},
	    {"verbose", 0, NULL, 'v'}, {"help", 0, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {
	    .size = 256ull << 20,
	    .reqs = 16384,
	    .reps = 5,
	    .warmup = 1,
	    .qds = {1, 32},
	    .nqd = 2,
	    .read_mode = BLK_RO,
	};
	static struct result all[64];
	struct fixed fx;

	const char *path;
	int c, n = 0, qi;
	size_t wi;

	for (wi = 0; wi < N_WORKLOADS; wi++)
		o.want[wi] = true;
	o.dir = getenv("TMPDIR") && getenv("TMPDIR")[0] ? getenv("TMPDIR")
							: "/var/tmp";
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.file = optarg;
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 's':
			o.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'n':
			o.reqs = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			o.reps = atoi(optarg);
			break;
		case 'w':
			o.warmup = atoi(optarg);
			break;
		case 'q':
			parse_list(optarg, &o, true);
			break;
		case 'W':
			parse_list(optarg, &o, false);
			break;
		case 'S':
			o.seg = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			if (!strcmp(optarg, "ro"))
				o.read_mode = BLK_RO;
			else if (!strcmp(optarg, "rw"))
				o.read_mode = BLK_RW;
			else if (!strcmp(optarg, "cow"))
				o.read_mode = BLK_COW;
			else
				die("bad read mode %s", optarg);
			break;
		case 'e':
			o.eventfd = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (o.reps < 1 || o.reps > MAX_REPS || o.warmup < 0 || o.reqs < 1 ||
	    (o.seg && o.seg % BLK_SECTOR))
		die("bad --reps, --warmup, --reqs or --seg");
	if (o.file) {
		struct stat st;

		if (stat(o.file, &st) < 0)
			die("stat %s: %s", o.file, strerror(errno));
		o.size = (uint64_t)st.st_size;
		path = o.file;
	} else {
		path = make_file(o.dir, o.size);
	}
	if (o.size < (1u << 20) || o.size % BLK_SECTOR)
		die("%s: size must be at least 1 MiB and a multiple of 512",
		    path);

	for (wi = 0; wi < N_WORKLOADS; wi++) {
		if (!o.want[wi])
			continue;
		for (qi = 0; qi < o.nqd; qi++) {
			enum path p;

			if (n + N_PATHS > (int)(sizeof(all) / sizeof(all[0])))
				die("too many rows");
			run(&o, path, &workloads[wi], o.qds[qi], &all[n]);
			for (p = 0; o.verbose && p < N_PATHS; p++)
				fprintf(stderr,
					"blk_bench: %s qd %d %s: %.0f ns/req\n",
					workloads[wi].name, o.qds[qi],
					path_name(p, workloads[wi].write),
					all[n + p].med);
			n += N_PATHS;
		}
	}
	fixed_costs(&o, path, &fx);
	if (o.json) {
		print_json(&o, all, n, &fx);
	} else {
		print_table(&o, all, n);
		print_fixed(&fx);
	}
	return 0;
}
