/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the libFuzzer harnesses (fuzz/fuzz_*.c): an input
 * cursor, an oracle-failure macro, a throwaway disk file and a virtio-mmio
 * "driver" for the blk harnesses. Header-only so that each harness is one
 * translation unit plus the modules it tests. No global mutable state.
 */
#ifndef MVM_FUZZ_COMMON_H
#define MVM_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "virtio/mmio.h"

/* An oracle failed: print why and abort so libFuzzer saves the input. */
#define FZ_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: oracle failed: %s\n",          \
				__FILE__, __LINE__, #cond);                    \
			abort();                                               \
		}                                                              \
	} while (0)

/* Input cursor: reads past the end give zeros, so every input is valid. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_empty(const struct fz *f)
{
	return f->n == 0;
}

static inline uint8_t fz_u8(struct fz *f)
{
	if (!f->n)
		return 0;
	f->n--;
	return *f->p++;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t lo = fz_u8(f);

	return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t lo = fz_u16(f);

	return lo | (uint32_t)fz_u16(f) << 16;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t lo = fz_u32(f);

	return lo | (uint64_t)fz_u32(f) << 32;
}

/* Copy up to n input bytes to dst, zero-fill the rest; returns bytes
 * taken from the input. */
static inline size_t fz_bytes(struct fz *f, void *dst, size_t n)
{
	size_t k = n < f->n ? n : f->n;

	memcpy(dst, f->p, k);
	memset((uint8_t *)dst + k, 0, n - k);
	f->p += k;
	f->n -= k;
	return k;
}

/* The 8 bytes at byte offset off (a multiple of 8) of a fresh fz_disk(). */
static inline uint64_t fz_disk_word(uint64_t off)
{
	return htole64(off | 0xd15c000000000000ull);
}

/*
 * A disk of size bytes (a memfd, filled with a sector-numbered pattern)
 * reachable by path, so blk_create() can open it like job.img. Returns the
 * fd (close it when done) and writes the path into path[32].
 */
static inline int fz_disk(size_t size, char path[32])
{
	int fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	uint64_t *pat = malloc(size);
	size_t i;

	if (fd < 0 || !pat) {
		perror("fuzz disk");
		abort();
	}
	for (i = 0; i < size / 8; i++)
		pat[i] = fz_disk_word(i * 8);
	if (pwrite(fd, pat, size, 0) != (ssize_t)size) {
		perror("pwrite");
		abort();
	}
	free(pat);
	snprintf(path, 32, "/proc/self/fd/%d", fd);
	return fd;
}

/* FNV-1a of the whole disk, to prove a read-only disk was not written. */
static inline uint64_t fz_disk_hash(int fd, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t buf[4096];
	size_t off = 0;

	while (off < size) {
		ssize_t r = pread(fd, buf, sizeof(buf), (off_t)off);
		ssize_t i;

		if (r <= 0)
			abort();
		for (i = 0; i < r; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
		off += (size_t)r;
	}
	return h;
}

/* virtio-mmio register offsets (virtio 1.2, 4.2.2). */
enum {
	FZ_MAGIC = 0x000,
	FZ_DEV_FEAT = 0x010,
	FZ_DEV_FEAT_SEL = 0x014,
	FZ_DRV_FEAT = 0x020,
	FZ_DRV_FEAT_SEL = 0x024,
	FZ_QSEL = 0x030,
	FZ_QNUM_MAX = 0x034,
	FZ_QNUM = 0x038,
	FZ_QREADY = 0x044,
	FZ_QNOTIFY = 0x050,
	FZ_INT_STATUS = 0x060,
	FZ_INT_ACK = 0x064,
	FZ_STATUS = 0x070,
	FZ_QDESC_LO = 0x080,
	FZ_QDESC_HI = 0x084,
	FZ_QDRV_LO = 0x090,
	FZ_QDRV_HI = 0x094,
	FZ_QDEV_LO = 0x0a0,
	FZ_QDEV_HI = 0x0a4,
	FZ_CFG = 0x100,
};

static inline uint32_t fz_rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0;

	FZ_CHECK(virtio_mmio_read(t, off, &v, 4) == 0);
	return le32toh(v);
}

static inline void fz_wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	v = htole32(v);
	FZ_CHECK(virtio_mmio_write(t, off, &v, 4) == 0);
}

/*
 * The Linux driver's bring-up (3.1.1) of queue 0 laid out at desc / avail /
 * used with size entries, accepting features. Returns the device status
 * read back at the end.
 */
static inline uint32_t fz_driver_up(struct virtio_mmio *t, uint64_t features,
				    uint16_t size, uint64_t desc,
				    uint64_t avail, uint64_t used)
{
	fz_wr(t, FZ_STATUS, 0);
	fz_wr(t, FZ_STATUS, 1);
	fz_wr(t, FZ_STATUS, 1 | 2);
	fz_wr(t, FZ_DRV_FEAT_SEL, 0);
	fz_wr(t, FZ_DRV_FEAT, (uint32_t)features);
	fz_wr(t, FZ_DRV_FEAT_SEL, 1);
	fz_wr(t, FZ_DRV_FEAT, (uint32_t)(features >> 32));
	fz_wr(t, FZ_STATUS, 1 | 2 | 8);
	fz_wr(t, FZ_QSEL, 0);
	fz_wr(t, FZ_QNUM, size);
	fz_wr(t, FZ_QDESC_LO, (uint32_t)desc);
	fz_wr(t, FZ_QDESC_HI, (uint32_t)(desc >> 32));
	fz_wr(t, FZ_QDRV_LO, (uint32_t)avail);
	fz_wr(t, FZ_QDRV_HI, (uint32_t)(avail >> 32));
	fz_wr(t, FZ_QDEV_LO, (uint32_t)used);
	fz_wr(t, FZ_QDEV_HI, (uint32_t)(used >> 32));
	fz_wr(t, FZ_QREADY, 1);
	fz_wr(t, FZ_STATUS, 1 | 2 | 8 | 4);
	return fz_rd(t, FZ_STATUS);
}

#endif
