/* SPDX-License-Identifier: MIT */
/*
 * The snapshot state file (docs/SNAPSHOT.md): a fixed header, then tagged
 * sections. Pure functions over byte buffers: no I/O, no globals.
 *
 *   header  magic "MVMSNAP\n", format version, the producer's identity
 *           (mvm version, host kernel release, PVM or not, CPU signature),
 *           the VM's shape, the runtime disk's identity, CRC-32 of the
 *           header and of the body
 *   body    sections { u32 type, u32 index, u32 len, u32 pad, len bytes,
 *           zero padding to 8 }
 *
 * The reader treats the file as hostile bytes: every length is checked
 * against what is left before it is used, and a wrong magic, version, size
 * or checksum is a one-line error. Integers are in host byte order (a
 * snapshot only restores on the kind of host that made it).
 */
#ifndef MVM_SNAPFILE_H
#define MVM_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "MVMSNAP\n"
#define SNAP_FORMAT_VERSION 1u
#define SNAP_MAX_STATE (16u << 20) /* bytes of a state file, at most */

struct snap_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	char mvm_version[32];
	char host_release[68]; /* uname -r of the host that took it */
	uint32_t host_pvm;
	uint32_t cpu_signature; /* CPUID.1:EAX */
	uint64_t mem_size;
	uint32_t ncpus, nslots;
	/* the runtime disk: restored VMs read it, so it must not change */
	uint64_t rt_size, rt_ino, rt_dev, rt_mtime_ns;
	uint64_t body_len;
	uint32_t body_crc;
	uint32_t header_crc; /* over the header with this field 0 */
};

enum snap_section {
	SNAP_S_RUNTIME_PATH = 1, /* NUL-terminated */
	SNAP_S_CMDLINE,		 /* NUL-terminated, for display */
	SNAP_S_DEVICE,		 /* index = device: struct virtio_mmio_state */
	SNAP_S_UART,		 /* index 0 = COM1, 1 = COM2 */
	SNAP_S_IRQCHIP,		 /* index = chip id: struct kvm_irqchip */
	SNAP_S_PIT,		 /* struct kvm_pit_state2 */
	SNAP_S_CLOCK,		 /* struct kvm_clock_data */
	SNAP_S_REGS,		 /* index = vCPU for this and below */
	SNAP_S_SREGS,
	SNAP_S_XSAVE,
	SNAP_S_XCRS,
	SNAP_S_MSRS, /* struct kvm_msrs + entries */
	SNAP_S_LAPIC,
	SNAP_S_EVENTS,
	SNAP_S_MPSTATE,
	SNAP_S_DEBUGREGS,
	SNAP_S_FPU,
};

/* A growing body. On allocation failure .oom is set and adds are ignored. */
struct snap_writer {
	uint8_t *buf;
	size_t len, cap;
	int oom;
};

void snapw_add(struct snap_writer *w, uint32_t type, uint32_t index,
	       const void *data, uint32_t len);
void snapw_free(struct snap_writer *w);

/*
 * Header (with magic, version, sizes and checksums filled in from *h and
 * w's body) followed by the body, in a new buffer *out (caller frees).
 * Returns 0, or -ENOMEM.
 */
int snap_encode(const struct snap_header *h, const struct snap_writer *w,
		uint8_t **out, size_t *outlen);

/*
 * Check buf as a state file: magic, version, header size, both checksums,
 * and that the sections tile the body exactly. On success *h is the header
 * and *body / *body_len the sections. Returns 0, or -EINVAL with a one-line
 * reason in err.
 */
int snap_parse(const uint8_t *buf, size_t len, struct snap_header *h,
	       const uint8_t **body, size_t *body_len, char *err,
	       size_t errlen);

/* Find section (type, index) in a body snap_parse() accepted. Returns its
 * length and sets *data, or -1 if it is missing. */
long snap_find(const uint8_t *body, size_t body_len, uint32_t type,
	       uint32_t index, const void **data);

/*
 * Would a snapshot with header h restore on a host described by want (its
 * mvm_version, host_release, host_pvm and cpu_signature)? Returns 0, or -1
 * with the mismatch in err ("snapshot taken by mvm 0.1 ..., this is ...").
 */
int snap_compatible(const struct snap_header *h, const struct snap_header *want,
		    char *err, size_t errlen);

#endif
