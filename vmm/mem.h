/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory as the host sees it.
 *
 * Guest RAM is one contiguous region starting at guest physical address 0
 * (mvm caps RAM below the 32-bit MMIO hole, see vm.c). Every guest-supplied
 * address and length goes through gm_ptr(), which checks the start, the end
 * and overflow of start + length in one place, like Solo5's
 * HVT_CHECKED_GPA_P(). Nothing else in mvm turns a guest address into a host
 * pointer.
 */
#ifndef MVM_MEM_H
#define MVM_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct guest_mem {
	uint8_t *host; /* mapping of guest physical address 0 */
	uint64_t size; /* bytes of guest RAM */
};

/*
 * Host pointer for guest range [gpa, gpa + len), or NULL when any byte of it
 * lies outside guest RAM or gpa + len wraps. len == 0 is accepted only for a
 * gpa inside RAM (or exactly at its end).
 */
static inline void *gm_ptr(const struct guest_mem *m, uint64_t gpa,
			   uint64_t len)
{
	if (gpa > m->size || len > m->size - gpa)
		return NULL;
	return m->host + gpa;
}

/* Copy len bytes out of guest memory; -1 if the range is not all RAM. */
static inline int gm_read(const struct guest_mem *m, uint64_t gpa, void *dst,
			  uint64_t len)
{
	const void *p = gm_ptr(m, gpa, len);

	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

/* Copy len bytes into guest memory; -1 if the range is not all RAM. */
static inline int gm_write(const struct guest_mem *m, uint64_t gpa,
			   const void *src, uint64_t len)
{
	void *p = gm_ptr(m, gpa, len);

	if (!p)
		return -1;
	memcpy(p, src, len);
	return 0;
}

#endif
