/* SPDX-License-Identifier: MIT */
/*
 * The hostile test guest: a freestanding 64-bit program that mvm boots with
 * `--kernel` instead of Linux (no Linux boot, so a case takes milliseconds
 * on PVM hosts instead of ~20 s). It drives mvm's virtio-mmio devices
 * directly, breaks one virtio rule on purpose per case (the case is the
 * `hostile=NAME` word on the kernel command line, `mvm run --append`), and
 * checks what a guest should see afterwards: a used entry with length 0, a
 * blk status byte, DEVICE_NEEDS_RESET, an RST on vsock, and a device that
 * still serves a good request. The verdict goes to the console
 * ("hostile: PASS NAME" / "hostile: FAIL NAME: why") and to mvm's job-status
 * port 0x511 (0 = pass, 1 = fail), or over the vsock job channel in the
 * vsock cases; mvm exits with it.
 *
 * Runs in ring 0 with interrupts off and no IDT: any exception is a triple
 * fault, which mvm reports as a crash (exit 125), i.e. a failed case. Built
 * with -mno-sse and without instructions PVM cannot emulate in ring 0.
 */
#ifndef HOSTILE_GUEST_H
#define HOSTILE_GUEST_H

#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* ---- port and MMIO access ---- */
static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

#define barrier() __asm__ volatile("" : : : "memory")

/* Explicit widths: the compiler must not merge or split these. */
static inline u8 rd8(u64 a)
{
	u8 v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}
static inline u16 rd16(u64 a)
{
	u16 v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline u32 rd32(u64 a)
{
	u32 v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline u64 rd64(u64 a)
{
	u64 v;
	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline void wr8(u64 a, u8 v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(a) : "memory");
}
static inline void wr16(u64 a, u16 v)
{
	__asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(a) : "memory");
}
static inline void wr32(u64 a, u32 v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(a) : "memory");
}
static inline void wr64(u64 a, u64 v)
{
	__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(a) : "memory");
}

/* ---- runtime (guest.c) ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void puts_(const char *s);
void put_hex(u64 v);
void put_dec(u64 v);
/* Allocate zeroed guest memory (physical = virtual); never freed. */
void *alloc(size_t n, size_t align);
extern u64 ram_size; /* bytes of guest RAM, from the e820 map */
extern const char *case_name;
extern const char *case_arg; /* hostile_arg=VALUE, or NULL */

/* Verdicts; they do not return. report_status sends the job status. */
__attribute__((noreturn)) void pass(void);
__attribute__((noreturn)) void fail_at(const char *file, int line,
				       const char *why);
#define CHECK(cond, why)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_at(__FILE__, __LINE__, why);                      \
	} while (0)
/* The verdict is sent by a case itself (vsock job channel): log only. */
void log_pass(void);

/* Iterations of a polling loop that make the case's wait deadline. */
#define SPIN_LIMIT 500000u /* ~2 s on PVM (~4 us an iteration) */

/* ---- virtio-mmio driver (virtio.c) ---- */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_VENDOR_ID 0x00c
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_INT_STATUS 0x060
#define R_INT_ACK 0x064
#define R_STATUS 0x070
#define R_QUEUE_DESC_LO 0x080
#define R_QUEUE_DESC_HI 0x084
#define R_QUEUE_DRIVER_LO 0x090
#define R_QUEUE_DRIVER_HI 0x094
#define R_QUEUE_DEVICE_LO 0x0a0
#define R_QUEUE_DEVICE_HI 0x0a4
#define R_CONFIG 0x100

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40
#define S_FAILED 0x80

#define F_VERSION_1 (1ull << 32)
#define BLK_F_RO (1ull << 5)
#define BLK_F_FLUSH (1ull << 9)

#define D_NEXT 1
#define D_WRITE 2
#define D_INDIRECT 4

struct desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
};

struct vq {
	u64 base; /* the device's MMIO window */
	u32 qi;
	u16 size;
	struct desc *desc;
	volatile u16 *avail; /* flags, idx, ring[size] */
	volatile u32 *used;  /* flags|idx, then {id, len} pairs */
	u16 next_avail;	     /* the driver's avail idx */
	u16 last_used;	     /* used entries consumed */
};

/* Device windows from the command line (disks first, then vsock). */
extern u64 dev_base[9];
extern unsigned ndevs;
u64 find_device(u32 device_id, unsigned nth);

/* Reset, ACK, DRIVER, features = offered & want (plus VERSION_1),
 * FEATURES_OK. Returns the offered features. */
u64 dev_begin(u64 base, u64 want);
void dev_driver_ok(u64 base);
u32 dev_status(u64 base);
/* Allocate rings of size n for queue qi and make it ready; returns
 * QueueReady as read back. */
u32 vq_setup(struct vq *q, u64 base, u32 qi, u16 n);
/* Program rings at raw addresses (for the bad-ring cases); returns
 * QueueReady as read back. */
u32 vq_setup_raw(u64 base, u32 qi, u32 n, u64 desc, u64 avail, u64 used);
void set_desc(struct vq *q, u16 i, u64 addr, u32 len, u16 flags, u16 next);
/* Put head in the avail ring (no notify). */
void vq_add(struct vq *q, u16 head);
void vq_notify(struct vq *q);
/* Wait for the next used entry; 0 (used id and len filled) or -1 on timeout. */
int vq_wait(struct vq *q, u32 *id, u32 *len);
/* 1 if no used entry arrives within a short wait. */
int vq_quiet(struct vq *q);
/* Wait until the status register has NEEDS_RESET; 1 if it did. */
int wait_needs_reset(u64 base);

/* ---- virtio-blk ---- */
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define BLK_OK 0
#define BLK_IOERR 1
#define BLK_UNSUPP 2

struct blk {
	u64 base;
	u64 features; /* offered */
	u64 capacity; /* sectors */
	struct vq q;
	u8 *hdr;    /* 16 bytes */
	u8 *data;   /* 1 MiB */
	u8 *status; /* 1 byte */
};
/* Bring up disk nth (0 = job.img) with features want; queue size n. */
void blk_open(struct blk *b, unsigned nth, u64 want, u16 n);
/* One well-formed request (header, data, status at descriptors 0..2);
 * returns the status byte and sets *used_len, or -1 on timeout. */
int blk_req(struct blk *b, u32 type, u64 sector, u32 len, u32 *used_len);
/* Submit the chain at head and return its status byte (or -1 on timeout)
 * with *used_len; the caller built the descriptors. */
int blk_submit(struct blk *b, u16 head, u32 *used_len);
void blk_hdr(struct blk *b, u32 type, u64 sector);
/* A good read after a bad request: sector 0 reads with status OK. */
void blk_still_works(struct blk *b);

/* ---- virtio-vsock ---- */
#define VS_REQUEST 1
#define VS_RESPONSE 2
#define VS_RST 3
#define VS_SHUTDOWN 4
#define VS_RW 5
#define VS_CREDIT_UPDATE 6
#define HOST_CID 2
#define PORT_JOB 1024
#define PORT_STDIN 1025
#define PORT_FILES 1026

struct vs_hdr {
	u64 src_cid, dst_cid;
	u32 src_port, dst_port, len;
	u16 type, op;
	u32 flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

struct vsock {
	u64 base;
	u64 cid;
	struct vq rx, tx;
	u8 *rxbuf;   /* rx.size buffers of VS_RXBUF bytes */
	u16 tx_next; /* next free tx descriptor */
};
#define VS_RXBUF 4096

void vs_open(struct vsock *v);
/* Fill a header from the guest's CID to the host. */
void vs_hdr(const struct vsock *v, struct vs_hdr *h, u32 src_port, u32 dst_port,
	    u16 op, u32 len);
/* Queue one packet (header + optional payload) on tx without notifying;
 * the header is copied. */
void vs_queue(struct vsock *v, const struct vs_hdr *h, const void *payload,
	      u32 len, u32 desc_len);
/* Notify tx and wait until every queued packet came back. */
void vs_flush(struct vsock *v);
/* Next packet to src_port from the host; 0 and *h, -1 on timeout. Other
 * packets are dropped (counted in *others if non-NULL). */
int vs_recv(struct vsock *v, u32 port, struct vs_hdr *h, u32 *others);
/* REQUEST from src_port to dst_port; returns the op of the answer
 * (VS_RESPONSE or VS_RST) or -1. */
int vs_connect(struct vsock *v, u32 src_port, u32 dst_port);
/* Connect to the job channel and send an exit-status frame: mvm exits
 * with status if vsock still works. Does not return. */
__attribute__((noreturn)) void vs_report(struct vsock *v, u32 src_port,
					 u8 status);

/* ---- cases (cases_*.c) ---- */
struct hcase {
	const char *name;
	void (*run)(void);
};
extern const struct hcase blk_cases[], mmio_cases[], vsock_cases[],
    misc_cases[];

#endif
