/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2 section 5.2), one request queue of 256 entries.
 *
 * Features offered: VERSION_1, SEG_MAX (254 = queue size - header - status),
 * BLK_SIZE (512), FLUSH, and RO in BLK_RO mode. Not offered: indirect
 * descriptors, EVENT_IDX, DISCARD, WRITE_ZEROES, MQ, CONFIG_WCE.
 *
 * Each request is parsed completely by the pure blk_parse_request() before
 * any I/O (Firecracker's Request::parse). The layout it accepts (5.2.6):
 *
 *   readable:  16-byte header {le32 type, le32 reserved, le64 sector}, which
 *              may be split across descriptors (it is copied out once), then
 *              for OUT the data;
 *   writable:  for IN the data, for GET_ID the id buffer, then 1 status byte
 *              = the last writable byte of the chain.
 *
 * Answers (THREATS rows 16-20):
 *   - no writable byte for the status            -> head returned, used len 0
 *   - header short                               -> IOERR
 *   - unknown type, DISCARD, WRITE_ZEROES, ...   -> UNSUPP
 *   - IN/OUT data length 0, not a multiple of 512, above BLK_MAX_DATA, or in
 *     the wrong direction (e.g. IN with readable bytes after the header)
 *                                                -> IOERR
 *   - sector + length/512 beyond the capacity (checked without overflow)
 *                                                -> IOERR
 *   - OUT on a BLK_RO disk                       -> IOERR, file untouched
 *   - FLUSH with data bytes                      -> IOERR
 *   - GET_ID with a buffer < 20 bytes            -> IOERR (as Firecracker);
 *     otherwise 20 bytes of serial are written (no NUL when 20 long, 5.2.6)
 *   - short read/write or I/O error              -> IOERR
 * The used length is the bytes written to the guest: data + 1 for a
 * successful IN, 20 + 1 for GET_ID, 1 otherwise.
 *
 * Execution: on a kick, all available requests (up to BLK_BATCH at a time)
 * are popped and parsed, the I/O of the batch is submitted to io_uring as one
 * set of readv/writev/fsync SQEs, and the kick waits for all completions
 * before pushing the used entries and returning. No completion thread; the
 * transport mutex is held throughout (see mmio.h). Without io_uring (init
 * failed, or no_io_uring) the same batch runs with preadv/pwritev/fdatasync.
 * The VMM's seccomp policy must allow io_uring_enter for the I/O thread.
 *
 * BLK_COW: the file is opened O_RDONLY and never written. Writes go to an
 * unlinked overlay file of the same size (O_TMPFILE in $TMPDIR or /var/tmp,
 * else memfd) and set bits in a 1-bit-per-512-byte-sector bitmap once the
 * write succeeded. Reads are served from the base when no sector of the
 * range is written, from the overlay when all are, and otherwise run by run
 * with synchronous preadv. FLUSH is a no-op in COW and RO mode.
 */
#ifndef MVM_VIRTIO_BLK_H
#define MVM_VIRTIO_BLK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/mmio.h"
#include "virtio/queue.h"
#include "vmm/mem.h"

#define BLK_SECTOR 512u
#define BLK_QUEUE_SIZE 256
#define BLK_SEG_MAX (BLK_QUEUE_SIZE - 2)
/* Largest data transfer of one request. Linux sends at most
 * max_sectors_kb = 1280 KiB by default. */
#define BLK_MAX_DATA (4u << 20)
/* Chain bound handed to the queue: data + header + status + slack. */
#define BLK_MAX_CHAIN (BLK_MAX_DATA + 4096u)
#define BLK_BATCH 64
#define BLK_ID_BYTES 20

enum blk_mode { BLK_RO, BLK_RW, BLK_COW };

struct blk_config {
	const char *path;
	enum blk_mode mode;
	const struct guest_mem *mem;
	virtio_irq_fn irq;
	void *irq_opaque;
	bool no_io_uring; /* force the synchronous backend */
	/* Bytes the guest may still write, shared by every disk of a VM (the
	 * policy's `limit disk-write`); NULL = no limit. A write that does
	 * not fit is answered IOERR and never reaches the file. */
	_Atomic uint64_t *write_budget;
	/* An empty slot (path unused): capacity 0 until blk_attach(), so a
	 * snapshot can be taken before the job's disk is known. */
	bool empty;
};

/*
 * Returns 0 and a transport wrapping a new blk device, or -errno with a
 * one-line message in err naming the file ("open job.img: No such file or
 * directory", "job.img: size 1000 is not a multiple of 512").
 */
int blk_create(const struct blk_config *c, struct virtio_mmio **out, char *err,
	       size_t errlen);

/*
 * Give an empty slot (created with c->empty) its file, as blk_create() would
 * open it, and raise a configuration-change interrupt so the guest reads the
 * new capacity. Only while the VM is paused. Returns 0 or -errno with err
 * set; on failure the slot stays empty.
 */
int blk_attach(struct virtio_mmio *t, const struct blk_config *c, char *err,
	       size_t errlen);

/* What a parsed request asks for. */
enum blk_action {
	BLK_DROP,   /* no status byte: return the head with used length 0 */
	BLK_STATUS, /* answer req->status without I/O */
	BLK_READ,   /* preadv req->iov at req->sector */
	BLK_WRITE,  /* pwritev req->iov at req->sector */
	BLK_FLUSH,
	BLK_GET_ID,
};

struct blk_req {
	enum blk_action action;
	uint32_t type;
	uint64_t sector;
	uint32_t data_len;
	uint8_t status;	     /* VIRTIO_BLK_S_* for BLK_STATUS */
	uint8_t *status_ptr; /* host address of the status byte, or NULL */
	int niov;
	struct iovec iov[VQ_MAX_SIZE]; /* data, inside guest RAM */
};

/*
 * Pure: decide what the validated chain c asks for, touching nothing but
 * *req (and reading the chain's header bytes once). capacity in sectors;
 * features = negotiated features. Returns req->action.
 */
enum blk_action blk_parse_request(const struct vq_chain *c, uint64_t capacity,
				  bool read_only, uint64_t features,
				  struct blk_req *req);

#endif
