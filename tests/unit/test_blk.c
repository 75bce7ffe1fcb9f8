/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk tests: the pure request parser (THREATS rows 12, 16-20) as a
 * table, then whole requests through the transport against a temporary
 * file, for both the io_uring and the synchronous backend.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "tests/unit/fake_guest.h"
#include "virtio/blk.h"

#define RAM (16u << 20)
#define QBASE 0x1000
#define DATA 0x10000 /* request buffers are bump-allocated from here */
#define SECTORS 128u
#define FILE_SIZE (SECTORS * 512u)

struct seg {
	uint32_t len;
	bool w;
};

struct fx {
	struct fake_guest g;
	struct fake_vq fq;
	uint64_t next; /* bump allocator for buffers */
	/* parser tests */
	struct vq q;
	struct vq_chain c;
	struct blk_req req;
	/* device tests */
	struct virtio_mmio *t;
	bool no_uring;
	_Atomic uint64_t *budget; /* write budget for dev_open, NULL = none */
	bool empty;		  /* dev_open makes an empty slot */
	int irqs;
	char dir[64];
	char path[128];
	uint8_t orig[FILE_SIZE];
};

/* ---- helpers ----------------------------------------------------------- */

static uint64_t alloc(struct fx *f, uint32_t len)
{
	uint64_t a = f->next;

	f->next = (f->next + len + 4095) & ~4095ull;
	assert_true(f->next <= RAM);
	return a;
}

/*
 * Lay out a request: segments get fresh buffers; the 16-byte header goes
 * into the first readable bytes (split as the segments are), writable bytes
 * are filled with 0xee. addr[i] receives each segment's guest address.
 * Returns the head.
 */
static uint16_t add_req(struct fx *f, uint32_t type, uint64_t sector,
			const struct seg *s, int n, uint64_t *addr)
{
	struct fake_buf b[16];
	uint8_t hdr[16];
	uint32_t t = htole32(type);
	uint64_t sec = htole64(sector);
	size_t hoff = 0;
	int i;

	assert_true(n <= 16);
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &t, 4);
	memcpy(hdr + 8, &sec, 8);
	for (i = 0; i < n; i++) {
		uint8_t *p;

		addr[i] = alloc(f, s[i].len);
		b[i].addr = addr[i];
		b[i].len = s[i].len;
		b[i].writable = s[i].w;
		if (!s[i].len)
			continue;
		p = fg_ptr(&f->g, addr[i]);
		if (s[i].w) {
			memset(p, 0xee, s[i].len);
		} else if (hoff < sizeof(hdr)) {
			size_t k = sizeof(hdr) - hoff;

			if (k > s[i].len)
				k = s[i].len;
			memcpy(p, hdr + hoff, k);
			hoff += k;
		}
	}
	return fq_add_chain(&f->fq, b, n);
}

static uint8_t *gp(struct fx *f, uint64_t gpa)
{
	return fg_ptr(&f->g, gpa);
}

/* ---- parser table (pure) ----------------------------------------------- */

static int setup_parse(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));

	fg_init(&f->g, RAM);
	fq_init(&f->fq, &f->g, BLK_QUEUE_SIZE, QBASE);
	vq_init(&f->q, &f->g.mem, BLK_QUEUE_SIZE, BLK_MAX_CHAIN);
	f->q.desc_gpa = f->fq.desc;
	f->q.avail_gpa = f->fq.avail;
	f->q.used_gpa = f->fq.used;
	assert_null(vq_set_ready(&f->q));
	f->next = DATA;
	*state = f;
	return 0;
}

static int teardown_parse(void **state)
{
	struct fx *f = *state;

	fg_free(&f->g);
	test_free(f);
	return 0;
}

#define FL (1ull << VIRTIO_BLK_F_FLUSH)
#define MAXD BLK_MAX_DATA
#define PCAP (1ull << 20) /* capacity for parser tests, in sectors */

static const struct pcase {
	const char *name;
	uint32_t type;
	uint64_t sector;
	struct seg s[6];
	int n;
	bool ro;
	uint64_t features;
	enum blk_action action;
	uint8_t status; /* for BLK_STATUS */
	uint32_t data_len;
} pcases[] = {
    {"in",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {4096, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_READ,
     0,
     4096},
    {"in, header split",
     VIRTIO_BLK_T_IN,
     3,
     {{5, 0}, {11, 0}, {512, 1}, {1, 1}},
     4,
     0,
     0,
     BLK_READ,
     0,
     512},
    {"in, status in data desc",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {513, 1}},
     2,
     0,
     0,
     BLK_READ,
     0,
     512},
    {"in on ro disk",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {512, 1}, {1, 1}},
     3,
     1,
     0,
     BLK_READ,
     0,
     512},
    {"out",
     VIRTIO_BLK_T_OUT,
     1,
     {{16, 0}, {1024, 0}, {1, 1}},
     3,
     0,
     0,
     BLK_WRITE,
     0,
     1024},
    {"out, header and data in one desc",
     VIRTIO_BLK_T_OUT,
     1,
     {{16 + 512, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_WRITE,
     0,
     512},
    {"last sector",
     VIRTIO_BLK_T_IN,
     PCAP - 1,
     {{16, 0}, {512, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_READ,
     0,
     512},
    {"max data",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {MAXD, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_READ,
     0,
     MAXD},
    /* row 20 */
    {"out on ro disk",
     VIRTIO_BLK_T_OUT,
     0,
     {{16, 0}, {512, 0}, {1, 1}},
     3,
     1,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* row 18 */
    {"no status byte",
     VIRTIO_BLK_T_OUT,
     0,
     {{16, 0}, {512, 0}},
     2,
     0,
     0,
     BLK_DROP,
     0,
     0},
    {"nothing at all", VIRTIO_BLK_T_IN, 0, {{0, 0}}, 1, 0, 0, BLK_DROP, 0, 0},
    {"header short",
     VIRTIO_BLK_T_IN,
     0,
     {{8, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"no header",
     VIRTIO_BLK_T_IN,
     0,
     {{513, 1}},
     1,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"get_id",
     VIRTIO_BLK_T_GET_ID,
     0,
     {{16, 0}, {20, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_GET_ID,
     0,
     0},
    {"get_id, big buffer",
     VIRTIO_BLK_T_GET_ID,
     0,
     {{16, 0}, {65, 1}},
     2,
     0,
     0,
     BLK_GET_ID,
     0,
     0},
    {"get_id, 19 bytes",
     VIRTIO_BLK_T_GET_ID,
     0,
     {{16, 0}, {19, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"get_id, status only",
     VIRTIO_BLK_T_GET_ID,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* row 17 */
    {"in, 100 bytes",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {100, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"out, 513 bytes",
     VIRTIO_BLK_T_OUT,
     0,
     {{16, 0}, {513, 0}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"in, no data",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"in, above max",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {MAXD + 512, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* row 16 */
    {"sector = capacity",
     VIRTIO_BLK_T_IN,
     PCAP,
     {{16, 0}, {512, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"last sector + 1",
     VIRTIO_BLK_T_OUT,
     PCAP - 1,
     {{16, 0}, {1024, 0}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"sector + count wraps",
     VIRTIO_BLK_T_IN,
     UINT64_MAX,
     {{16, 0}, {1024, 1}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"sector * 512 wraps",
     VIRTIO_BLK_T_OUT,
     1ull << 55,
     {{16, 0}, {512, 0}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* row 12 */
    {"in with readable data",
     VIRTIO_BLK_T_IN,
     0,
     {{16, 0}, {512, 0}, {512, 1}, {1, 1}},
     4,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    {"out with writable data",
     VIRTIO_BLK_T_OUT,
     0,
     {{16, 0}, {512, 0}, {512, 1}, {1, 1}},
     4,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* flush */
    {"flush",
     VIRTIO_BLK_T_FLUSH,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     FL,
     BLK_FLUSH,
     0,
     0},
    {"flush not negotiated",
     VIRTIO_BLK_T_FLUSH,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
    {"flush with data",
     VIRTIO_BLK_T_FLUSH,
     0,
     {{16, 0}, {512, 1}, {1, 1}},
     3,
     0,
     FL,
     BLK_STATUS,
     VIRTIO_BLK_S_IOERR,
     0},
    /* row 19 */
    {"discard",
     VIRTIO_BLK_T_DISCARD,
     0,
     {{16, 0}, {16, 0}, {1, 1}},
     3,
     0,
     FL,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
    {"write zeroes",
     VIRTIO_BLK_T_WRITE_ZEROES,
     0,
     {{16, 0}, {16, 0}, {1, 1}},
     3,
     0,
     FL,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
    {"scsi",
     2,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
    {"legacy barrier bit",
     VIRTIO_BLK_T_BARRIER | VIRTIO_BLK_T_OUT,
     0,
     {{16, 0}, {512, 0}, {1, 1}},
     3,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
    {"type 0xffffffff",
     0xffffffffu,
     0,
     {{16, 0}, {1, 1}},
     2,
     0,
     0,
     BLK_STATUS,
     VIRTIO_BLK_S_UNSUPP,
     0},
};

static void test_parse_table(void **state)
{
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *pc = &pcases[i];
		uint64_t addr[6];
		enum blk_action a;
		uint16_t head;

		print_message("parse: %s\n", pc->name);
		f->next = DATA;
		head = add_req(f, pc->type, pc->sector, pc->s, pc->n, addr);
		assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
		a = blk_parse_request(&f->c, PCAP, pc->ro, pc->features,
				      &f->req);
		assert_int_equal(a, pc->action);
		assert_int_equal(f->req.action, pc->action);
		if (a == BLK_STATUS)
			assert_int_equal(f->req.status, pc->status);
		if (a == BLK_READ || a == BLK_WRITE) {
			struct iovec *v = &f->req.iov[f->req.niov - 1];
			uint64_t sum = 0;
			int k;

			assert_int_equal(f->req.data_len, pc->data_len);
			assert_int_equal(f->req.sector, pc->sector);
			for (k = 0; k < f->req.niov; k++)
				sum += f->req.iov[k].iov_len;
			assert_int_equal(sum, pc->data_len);
			/* Data never covers the status byte. */
			assert_true((uint8_t *)v->iov_base + v->iov_len <=
				    f->req.status_ptr);
		}
		if (a == BLK_DROP) {
			assert_null(f->req.status_ptr);
		} else {
			/* The status is the last byte of the last segment. */
			assert_ptr_equal(f->req.status_ptr,
					 gp(f, addr[pc->n - 1]) +
					     pc->s[pc->n - 1].len - 1);
		}
		assert_int_equal(vq_push_used(&f->q, head, 0), 0);
	}
}

/* The header is copied once: the parse result does not depend on the
 * guest changing the header afterwards (row 13). */
static void test_parse_header_copied(void **state)
{
	struct fx *f = *state;
	struct seg s[] = {{16, 0}, {512, 1}, {1, 1}};
	uint64_t addr[3];

	add_req(f, VIRTIO_BLK_T_IN, 7, s, 3, addr);
	assert_int_equal(vq_pop(&f->q, &f->c), VQ_CHAIN);
	assert_int_equal(blk_parse_request(&f->c, SECTORS, false, 0, &f->req),
			 BLK_READ);
	memset(gp(f, addr[0]), 0xff, 16);
	assert_int_equal(f->req.sector, 7);
	assert_int_equal(f->req.type, VIRTIO_BLK_T_IN);
}

/* ---- device tests ------------------------------------------------------ */

static void irq(void *opaque)
{
	((struct fx *)opaque)->irqs++;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void read_file(const char *path, void *data, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, data, len), (ssize_t)len);
	close(fd);
}

static int setup_dev(void **state, bool no_uring)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	size_t i;

	fg_init(&f->g, RAM);
	f->next = DATA;
	f->no_uring = no_uring;
	strcpy(f->dir, "/tmp/mvm-test-blk.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
	for (i = 0; i < FILE_SIZE; i++)
		f->orig[i] = (uint8_t)(i / 512 * 7 + i);
	write_file(f->path, f->orig, FILE_SIZE);
	*state = f;
	return 0;
}

static int setup_uring(void **state)
{
	return setup_dev(state, false);
}

static int setup_sync(void **state)
{
	return setup_dev(state, true);
}

static int teardown_dev(void **state)
{
	struct fx *f = *state;
	char p[400];
	DIR *d;
	struct dirent *e;

	virtio_mmio_free(f->t);
	d = opendir(f->dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	fg_free(&f->g);
	test_free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v;

	assert_int_equal(virtio_mmio_read(f->t, off, &v, 4), 0);
	return v;
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	assert_int_equal(virtio_mmio_write(f->t, off, &v, 4), 0);
}

/* blk_create, then what Linux's virtio_mmio + virtio_blk do at probe. */
static void dev_open(struct fx *f, enum blk_mode mode)
{
	struct blk_config c = {
	    .path = f->path,
	    .mode = mode,
	    .mem = &f->g.mem,
	    .irq = irq,
	    .irq_opaque = f,
	    .no_io_uring = f->no_uring,
	    .write_budget = f->budget,
	    .empty = f->empty,
	};
	char err[256] = "";
	uint32_t lo, hi;

	assert_int_equal(blk_create(&c, &f->t, err, sizeof(err)), 0);
	assert_int_equal(rd(f, 0x008), 2); /* block device */
	wr(f, 0x070, 1);
	wr(f, 0x070, 3);
	wr(f, 0x014, 0);
	lo = rd(f, 0x010);
	wr(f, 0x014, 1);
	hi = rd(f, 0x010);
	assert_int_equal(hi & 1, 1); /* VERSION_1 */
	assert_int_equal(!!(lo & (1u << VIRTIO_BLK_F_RO)),
			 mode == BLK_RO && !f->empty);
	assert_true(lo & (1u << VIRTIO_BLK_F_FLUSH));
	wr(f, 0x024, 0);
	wr(f, 0x020, lo);
	wr(f, 0x024, 1);
	wr(f, 0x020, hi);
	wr(f, 0x070, 0xb);
	assert_int_equal(rd(f, 0x070), 0xb);
	fq_init(&f->fq, &f->g, BLK_QUEUE_SIZE, QBASE);
	wr(f, 0x030, 0);
	assert_int_equal(rd(f, 0x034), BLK_QUEUE_SIZE);
	wr(f, 0x038, BLK_QUEUE_SIZE);
	wr(f, 0x080, (uint32_t)f->fq.desc);
	wr(f, 0x084, 0);
	wr(f, 0x090, (uint32_t)f->fq.avail);
	wr(f, 0x094, 0);
	wr(f, 0x0a0, (uint32_t)f->fq.used);
	wr(f, 0x0a4, 0);
	wr(f, 0x044, 1);
	assert_int_equal(rd(f, 0x044), 1);
	wr(f, 0x070, 0xf);
	assert_int_equal(rd(f, 0x070), 0xf);
}

/* Used length reported for head; fails if the head is not on the ring. */
static uint32_t used_len(struct fx *f, uint16_t head)
{
	uint16_t n = fq_used_idx(&f->fq), i;
	uint32_t id, len;

	for (i = 0; i < n; i++) {
		fq_used_elem(&f->fq, i, &id, &len);
		if (id == head)
			return len;
	}
	fail_msg("head %u not returned", head);
	return 0;
}

static uint8_t status_of(struct fx *f, const struct seg *s, int n,
			 const uint64_t *addr)
{
	return *gp(f, addr[n - 1] + s[n - 1].len - 1);
}

static void kick(struct fx *f)
{
	virtio_mmio_kick(f->t, 0);
}

static void assert_file_unchanged(struct fx *f)
{
	uint8_t now[FILE_SIZE];
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, FILE_SIZE);
	read_file(f->path, now, FILE_SIZE);
	assert_memory_equal(now, f->orig, FILE_SIZE);
}

/* Read sectors [sector, sector + n) through the device into out. */
static uint8_t do_read(struct fx *f, uint64_t sector, uint32_t n, void *out)
{
	/* Data split in two descriptors, the second with the status. */
	struct seg s[] = {{16, 0}, {512, 1}, {n * 512 - 512 + 1, 1}};
	uint64_t addr[3];
	uint16_t head = add_req(f, VIRTIO_BLK_T_IN, sector, s, 3, addr);
	uint8_t st;

	kick(f);
	st = status_of(f, s, 3, addr);
	if (st == VIRTIO_BLK_S_OK) {
		assert_int_equal(used_len(f, head), n * 512 + 1);
		memcpy(out, gp(f, addr[1]), 512);
		memcpy((uint8_t *)out + 512, gp(f, addr[2]), n * 512 - 512);
	} else {
		assert_int_equal(used_len(f, head), 1);
	}
	return st;
}

static uint8_t do_write(struct fx *f, uint64_t sector, uint32_t n,
			const void *in)
{
	struct seg s[] = {{16, 0}, {n * 512, 0}, {1, 1}};
	uint64_t addr[3];
	uint16_t head;

	addr[1] = 0;
	head = add_req(f, VIRTIO_BLK_T_OUT, sector, s, 3, addr);
	memcpy(gp(f, addr[1]), in, n * 512);
	kick(f);
	assert_int_equal(used_len(f, head), 1);
	return status_of(f, s, 3, addr);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint64_t cap = 0;
	uint32_t seg_max = 0, blk_size = 0;

	dev_open(f, BLK_RW);
	assert_int_equal(virtio_mmio_read(f->t, 0x100, &cap, 8), 0);
	assert_int_equal(le64toh(cap), SECTORS);
	assert_int_equal(virtio_mmio_read(f->t, 0x100 + 12, &seg_max, 4), 0);
	assert_int_equal(le32toh(seg_max), BLK_SEG_MAX);
	assert_int_equal(virtio_mmio_read(f->t, 0x100 + 20, &blk_size, 4), 0);
	assert_int_equal(le32toh(blk_size), 512);
}

static void test_read(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4 * 512];

	dev_open(f, BLK_RO);
	assert_int_equal(do_read(f, 2, 4, buf), VIRTIO_BLK_S_OK);
	assert_memory_equal(buf, f->orig + 2 * 512, sizeof(buf));
	assert_int_equal(do_read(f, SECTORS - 1, 1, buf), VIRTIO_BLK_S_OK);
	assert_memory_equal(buf, f->orig + (SECTORS - 1) * 512, 512);
	assert_true(f->irqs >= 2);
	assert_int_equal(rd(f, 0x060) & 1, 1);
}

static void test_write_rw(void **state)
{
	struct fx *f = *state;
	uint8_t data[2 * 512], back[2 * 512];

	dev_open(f, BLK_RW);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(do_write(f, 5, 2, data), VIRTIO_BLK_S_OK);
	memcpy(f->orig + 5 * 512, data, sizeof(data));
	assert_file_unchanged(f); /* i.e. equal to orig with the write */
	assert_int_equal(do_read(f, 5, 2, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, data, sizeof(data));
}

static void test_flush_and_get_id(void **state)
{
	struct fx *f = *state;
	struct seg fs[] = {{16, 0}, {1, 1}};
	struct seg is[] = {{16, 0}, {32, 1}, {1, 1}};
	struct seg small[] = {{16, 0}, {19, 1}, {1, 1}};
	uint64_t fa[2], ia[3], sa[3];
	uint16_t fh, ih, sh;
	char want[32];

	dev_open(f, BLK_RW);
	fh = add_req(f, VIRTIO_BLK_T_FLUSH, 0, fs, 2, fa);
	ih = add_req(f, VIRTIO_BLK_T_GET_ID, 0, is, 3, ia);
	sh = add_req(f, VIRTIO_BLK_T_GET_ID, 0, small, 3, sa);
	kick(f);
	assert_int_equal(status_of(f, fs, 2, fa), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f, fh), 1);
	assert_int_equal(status_of(f, is, 3, ia), VIRTIO_BLK_S_OK);
	assert_int_equal(used_len(f, ih), 21);
	memset(want, 0, sizeof(want));
	strcpy(want, "mvm-blk");
	assert_memory_equal(gp(f, ia[1]), want, 20);
	assert_int_equal(*gp(f, ia[1] + 20), 0xee); /* only 20 bytes */
	/* Row 18: buffer < 20 bytes. */
	assert_int_equal(status_of(f, small, 3, sa), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len(f, sh), 1);
	assert_int_equal(*gp(f, sa[1]), 0xee);
}

/* Row 20: RO disk, write answered IOERR, file byte-identical. */
static void test_ro_write(void **state)
{
	struct fx *f = *state;
	uint8_t data[512];

	dev_open(f, BLK_RO);
	memset(data, 0xa5, sizeof(data));
	assert_int_equal(do_write(f, 0, 1, data), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_write(f, 10, 1, data), VIRTIO_BLK_S_IOERR);
	assert_file_unchanged(f);
}

/* `limit disk-write`: writes fit the shared budget or fail whole, the
 * file untouched by the one that did not fit; reads go on. */
static void test_write_budget(void **state)
{
	struct fx *f = *state;
	_Atomic uint64_t budget = 3 * 512;
	uint8_t data[2 * 512], back[2 * 512];

	f->budget = &budget;
	dev_open(f, BLK_RW);
	memset(data, 0x5a, sizeof(data));
	assert_int_equal(do_write(f, 2, 2, data), VIRTIO_BLK_S_OK);
	assert_int_equal(atomic_load(&budget), 512);
	/* two sectors do not fit in the one left: refused, nothing taken */
	assert_int_equal(do_write(f, 8, 2, data), VIRTIO_BLK_S_IOERR);
	assert_int_equal(atomic_load(&budget), 512);
	assert_int_equal(do_write(f, 8, 1, data), VIRTIO_BLK_S_OK);
	assert_int_equal(atomic_load(&budget), 0);
	assert_int_equal(do_write(f, 12, 1, data), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(f, 8, 2, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, data, 512);
	assert_memory_equal(back + 512, f->orig + 9 * 512, 512);
	f->budget = NULL;
}

/* COW: writes read back, from the overlay and mixed with the base; the
 * file stays byte-identical; the overlay leaves no file behind. */
static void test_cow(void **state)
{
	struct fx *f = *state;
	uint8_t x[2 * 512], y[512], back[8 * 512], want[8 * 512];
	DIR *d;
	struct dirent *e;
	int files = 0;

	setenv("TMPDIR", f->dir, 1);
	dev_open(f, BLK_COW);
	unsetenv("TMPDIR");
	memset(x, 'X', sizeof(x));
	memset(y, 'Y', sizeof(y));
	assert_int_equal(do_write(f, 3, 2, x), VIRTIO_BLK_S_OK);
	assert_int_equal(do_write(f, 7, 1, y), VIRTIO_BLK_S_OK);
	/* All from the overlay. */
	assert_int_equal(do_read(f, 3, 2, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, x, sizeof(x));
	/* Mixed: base 1-2, overlay 3-4, base 5-6, overlay 7, base 8. */
	memcpy(want, f->orig + 1 * 512, 8 * 512);
	memcpy(want + 2 * 512, x, sizeof(x));
	memcpy(want + 6 * 512, y, sizeof(y));
	assert_int_equal(do_read(f, 1, 8, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, want, sizeof(want));
	/* All from the base. */
	assert_int_equal(do_read(f, 20, 2, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, f->orig + 20 * 512, 2 * 512);
	/* Overwrite part of an overlay run. */
	assert_int_equal(do_write(f, 4, 1, y), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(f, 3, 2, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, x, 512);
	assert_memory_equal(back + 512, y, 512);
	assert_file_unchanged(f);
	/* The overlay in TMPDIR has no name. */
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);
}

/* Rows 15-19 end to end: one kick full of bad requests; each head comes
 * back, with the right status. */
static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	struct seg unaligned[] = {{16, 0}, {100, 1}, {1, 1}};
	struct seg nostatus[] = {{16, 0}, {512, 0}};
	struct seg range[] = {{16, 0}, {512, 1}, {1, 1}};
	struct seg unknown[] = {{16, 0}, {1, 1}};
	uint64_t a1[3], a2[2], a3[3], a4[2];
	uint16_t h1, h2, h3, h4, h5;
	int irqs;

	dev_open(f, BLK_RW);
	irqs = f->irqs;
	h1 = add_req(f, VIRTIO_BLK_T_OUT, 0, unaligned, 3, a1);
	h2 = add_req(f, VIRTIO_BLK_T_OUT, 0, nostatus, 2, a2);
	h3 = add_req(f, VIRTIO_BLK_T_IN, SECTORS, range, 3, a3);
	h4 = add_req(f, 99, 0, unknown, 2, a4);
	/* A cyclic chain. */
	h5 = 200;
	fq_set_desc(&f->fq, h5, DATA, 16, 1 /* NEXT */, h5);
	fq_publish(&f->fq, h5);
	kick(f);
	assert_int_equal(fq_used_idx(&f->fq), 5);
	assert_int_equal(status_of(f, unaligned, 3, a1), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len(f, h1), 1);
	assert_int_equal(used_len(f, h2), 0);
	assert_int_equal(status_of(f, range, 3, a3), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used_len(f, h3), 1);
	assert_int_equal(status_of(f, unknown, 2, a4), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(used_len(f, h4), 1);
	assert_int_equal(used_len(f, h5), 0);
	assert_true(f->irqs > irqs);
	assert_int_equal(rd(f, 0x070), 0xf); /* no reset needed */
	assert_file_unchanged(f);
}

/* More requests than one batch (BLK_BATCH), in one kick. 3 descriptors
 * each: 80 fit in the 256 of the queue. */
static void test_big_batch(void **state)
{
	struct fx *f = *state;
	struct seg s[] = {{16, 0}, {512, 1}, {1, 1}};
	uint64_t addr[80][3];
	uint16_t head[80];
	int i;

	dev_open(f, BLK_RO);
	for (i = 0; i < 80; i++)
		head[i] = add_req(f, VIRTIO_BLK_T_IN, (uint64_t)i % SECTORS, s,
				  3, addr[i]);
	kick(f);
	assert_int_equal(fq_used_idx(&f->fq), 80);
	for (i = 0; i < 80; i++) {
		assert_int_equal(status_of(f, s, 3, addr[i]), VIRTIO_BLK_S_OK);
		assert_int_equal(used_len(f, head[i]), 513);
		assert_memory_equal(gp(f, addr[i][1]),
				    f->orig + (i % SECTORS) * 512, 512);
	}
}

/* Short reads (the file shrank under us) are IOERR, not a crash. */
static void test_short_read(void **state)
{
	struct fx *f = *state;
	uint8_t buf[2 * 512];

	dev_open(f, BLK_RW);
	assert_int_equal(truncate(f->path, 10 * 512 + 100), 0);
	assert_int_equal(do_read(f, 10, 2, buf), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(f, 9, 1, buf), VIRTIO_BLK_S_OK);
}

/* Row 9 end to end: the queue breaks, the device asks for a reset. */
static void test_broken_queue(void **state)
{
	struct fx *f = *state;

	dev_open(f, BLK_RW);
	fq_set_avail_idx(&f->fq, BLK_QUEUE_SIZE + 1);
	kick(f);
	assert_int_equal(rd(f, 0x070), 0xf | VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(f, 0x060) & 2, 2);
	/* A reset brings it back. */
	wr(f, 0x070, 0);
	virtio_mmio_free(f->t);
	f->t = NULL;
	dev_open(f, BLK_RW);
	{
		uint8_t buf[512];

		assert_int_equal(do_read(f, 0, 1, buf), VIRTIO_BLK_S_OK);
	}
}

static void test_create_errors(void **state)
{
	struct fx *f = *state;
	struct blk_config c = {.mode = BLK_RO, .mem = &f->g.mem};
	struct virtio_mmio *t = (void *)1;
	char err[512], want[512], p[160];

	snprintf(p, sizeof(p), "%s/missing.img", f->dir);
	c.path = p;
	assert_int_equal(blk_create(&c, &t, err, sizeof(err)), -ENOENT);
	assert_null(t);
	snprintf(want, sizeof(want), "open %s: No such file or directory", p);
	assert_string_equal(err, want);

	snprintf(p, sizeof(p), "%s/odd.img", f->dir);
	write_file(p, f->orig, 1000);
	assert_int_equal(blk_create(&c, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: size 1000 is not a multiple of 512",
		 p);
	assert_string_equal(err, want);

	snprintf(p, sizeof(p), "%s/empty.img", f->dir);
	write_file(p, f->orig, 0);
	c.mode = BLK_COW;
	assert_int_equal(blk_create(&c, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "empty"));

	c.path = f->dir;
	assert_int_equal(blk_create(&c, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

/* Snapshot slots: an empty disk has capacity 0 and fails I/O until
 * blk_attach() gives it a file, announced by a config interrupt. */
static void test_empty_slot_attach(void **state)
{
	struct fx *f = *state;
	struct blk_config c = {.path = f->path, .mode = BLK_COW,
			       .mem = &f->g.mem};
	struct blk_config missing = {.path = "/nonexistent/disk.img",
				     .mode = BLK_RO,
				     .mem = &f->g.mem};
	uint8_t data[512], back[512];
	uint64_t cap = 1;
	char err[256] = "";
	int irqs;

	f->empty = true;
	dev_open(f, BLK_RO); /* an empty slot never offers RO */
	assert_int_equal(virtio_mmio_read(f->t, 0x100, &cap, 8), 0);
	assert_int_equal(cap, 0);
	assert_int_equal(do_read(f, 0, 1, back), VIRTIO_BLK_S_IOERR);
	/* A file that cannot be opened leaves the slot empty. */
	assert_int_equal(blk_attach(f->t, &missing, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/disk.img"));
	assert_int_equal(do_read(f, 0, 1, back), VIRTIO_BLK_S_IOERR);
	irqs = f->irqs;
	assert_int_equal(blk_attach(f->t, &c, err, sizeof(err)), 0);
	assert_int_equal(f->irqs, irqs + 1);
	assert_int_equal(rd(f, 0x060) & 2, 2); /* configuration change */
	assert_int_equal(virtio_mmio_read(f->t, 0x100, &cap, 8), 0);
	assert_int_equal(le64toh(cap), SECTORS);
	assert_int_equal(do_read(f, 3, 1, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, f->orig + 3 * 512, 512);
	memset(data, 0x77, sizeof(data));
	assert_int_equal(do_write(f, 3, 1, data), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(f, 3, 1, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, data, 512);
	assert_file_unchanged(f); /* attached copy-on-write */
	/* A slot holds one disk. */
	assert_int_equal(blk_attach(f->t, &c, err, sizeof(err)), -EINVAL);
}

int main(void)
{
#define P(fn) cmocka_unit_test_setup_teardown(fn, setup_parse, teardown_parse)
#define U(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown_dev)
#define S(fn) cmocka_unit_test_setup_teardown(fn, setup_sync, teardown_dev)
#define BOTH(fn) U(fn), S(fn)
	const struct CMUnitTest tests[] = {
	    P(test_parse_table),
	    P(test_parse_header_copied),
	    U(test_config_space),
	    U(test_create_errors),
	    BOTH(test_read),
	    BOTH(test_write_rw),
	    BOTH(test_flush_and_get_id),
	    BOTH(test_ro_write),
	    BOTH(test_write_budget),
	    BOTH(test_cow),
	    BOTH(test_bad_requests),
	    BOTH(test_big_batch),
	    BOTH(test_short_read),
	    BOTH(test_broken_queue),
	    BOTH(test_empty_slot_attach),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
