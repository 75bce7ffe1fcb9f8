/* SPDX-License-Identifier: MIT */
/* KVM state to and from snapshot sections. Contract: kvmstate.h. */
#include "vmm/kvmstate.h"

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define MAX_MSRS 1024

static int xioctl(int fd, unsigned long req, void *arg)
{
	int rc;

	do
		rc = ioctl(fd, req, arg);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : rc;
}

/* No retry on EINTR: for the KVM_RUN that must end with it. */
static int xioctl_once(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static int ioerr(char *err, size_t errlen, int rc, const char *what,
		 uint32_t idx)
{
	snprintf(err, errlen, "%s (vcpu %u): %s", what, idx, strerror(-rc));
	return rc < 0 ? rc : -EIO;
}

int kvmstate_settle(int vcpu_fd, void *run, int kick_signal)
{
	struct kvm_run *r = run;
	struct {
		struct kvm_signal_mask m;
		uint8_t set[8];
	} mask = {.m.len = 8};
	struct timespec zero = {0};
	sigset_t cur, kick;
	int rc;

	/*
	 * KVM completes a pending PIO/MMIO at the start of KVM_RUN; a signal
	 * pending for the duration of the call then ends it before the guest
	 * runs another instruction. (immediate_exit may return before the
	 * I/O is completed, and PVM does not honour it here.) The
	 * signal is blocked in this thread, so it stays pending outside
	 * KVM_RUN, and the vCPU's run-time mask unblocks it.
	 */
	sigemptyset(&kick);
	sigaddset(&kick, kick_signal);
	pthread_sigmask(SIG_BLOCK, &kick, &cur);
	sigdelset(&cur, kick_signal);
	memcpy(mask.set, &cur, sizeof(mask.set));
	rc = xioctl(vcpu_fd, KVM_SET_SIGNAL_MASK, &mask.m);
	if (rc < 0)
		return rc;
	pthread_kill(pthread_self(), kick_signal);
	r->immediate_exit = 0; /* it could return before completing the I/O */
	rc = xioctl_once(vcpu_fd, KVM_RUN, NULL);
	sigtimedwait(&kick, NULL, &zero); /* consume it if still pending */
	xioctl(vcpu_fd, KVM_SET_SIGNAL_MASK, NULL);
	return rc == -EINTR || rc == 0 ? 0 : rc;
}

/* One ioctl into a section: GET into buf, add it. */
static int save_one(int fd, unsigned long req, uint32_t type, uint32_t idx,
		    void *buf, uint32_t len, struct snap_writer *w)
{
	int rc = xioctl(fd, req, buf);

	if (rc < 0)
		return rc;
	snapw_add(w, type, idx, buf, len);
	return 0;
}

/*
 * Every MSR KVM lists, read in one KVM_GET_MSRS; KVM stops at the first it
 * cannot read, so that one is dropped and the read repeated.
 */
static int save_msrs(int kvm_fd, int vcpu_fd, uint32_t idx,
		     struct snap_writer *w, char *err, size_t errlen)
{
	struct kvm_msr_list *list;
	struct kvm_msrs *msrs;
	uint32_t i, n;
	int rc;

	list = calloc(1, sizeof(*list) + MAX_MSRS * sizeof(uint32_t));
	msrs =
	    calloc(1, sizeof(*msrs) + MAX_MSRS * sizeof(struct kvm_msr_entry));
	if (!list || !msrs) {
		free(list);
		free(msrs);
		return ioerr(err, errlen, -ENOMEM, "MSR list", idx);
	}
	list->nmsrs = MAX_MSRS;
	rc = xioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
	if (rc < 0) {
		ioerr(err, errlen, rc, "KVM_GET_MSR_INDEX_LIST", idx);
		goto out;
	}
	n = list->nmsrs;
	for (i = 0; i < n; i++)
		msrs->entries[i].index = list->indices[i];
	for (;;) {
		msrs->nmsrs = n;
		rc = xioctl(vcpu_fd, KVM_GET_MSRS, msrs);
		if (rc < 0) {
			ioerr(err, errlen, rc, "KVM_GET_MSRS", idx);
			goto out;
		}
		if ((uint32_t)rc >= n)
			break;
		/* entries[rc] cannot be read: drop it */
		memmove(&msrs->entries[rc], &msrs->entries[rc + 1],
			(n - (uint32_t)rc - 1) * sizeof(msrs->entries[0]));
		n--;
	}
	msrs->nmsrs = n;
	snapw_add(w, SNAP_S_MSRS, idx, msrs,
		  (uint32_t)(sizeof(*msrs) + n * sizeof(msrs->entries[0])));
	rc = 0;
out:
	free(list);
	free(msrs);
	return rc;
}

int kvmstate_save_vcpu(int kvm_fd, int vcpu_fd, uint32_t idx,
		       struct snap_writer *w, char *err, size_t errlen)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	int rc;

	memset(&xsave, 0, sizeof(xsave));
	memset(&xcrs, 0, sizeof(xcrs));
	if ((rc = save_one(vcpu_fd, KVM_GET_REGS, SNAP_S_REGS, idx, &regs,
			   sizeof(regs), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_REGS", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_SREGS, SNAP_S_SREGS, idx, &sregs,
			   sizeof(sregs), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_SREGS", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_FPU, SNAP_S_FPU, idx, &fpu,
			   sizeof(fpu), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_FPU", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_XSAVE, SNAP_S_XSAVE, idx, &xsave,
			   sizeof(xsave), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_XSAVE", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_XCRS, SNAP_S_XCRS, idx, &xcrs,
			   sizeof(xcrs), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_XCRS", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_LAPIC, SNAP_S_LAPIC, idx, &lapic,
			   sizeof(lapic), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_LAPIC", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_VCPU_EVENTS, SNAP_S_EVENTS, idx,
			   &events, sizeof(events), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_VCPU_EVENTS", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_MP_STATE, SNAP_S_MPSTATE, idx, &mp,
			   sizeof(mp), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_MP_STATE", idx);
	if ((rc = save_one(vcpu_fd, KVM_GET_DEBUGREGS, SNAP_S_DEBUGREGS, idx,
			   &dregs, sizeof(dregs), w)) < 0)
		return ioerr(err, errlen, rc, "KVM_GET_DEBUGREGS", idx);
	return save_msrs(kvm_fd, vcpu_fd, idx, w, err, errlen);
}

/* Section (type, idx) of exactly len bytes, or an error naming it. */
static const void *need(const uint8_t *body, size_t body_len, uint32_t type,
			uint32_t idx, size_t len, const char *what, char *err,
			size_t errlen)
{
	const void *p = NULL;
	long n = snap_find(body, body_len, type, idx, &p);

	if (n < 0 || (size_t)n != len) {
		snprintf(err, errlen, "snapshot: %s of vcpu %u %s", what, idx,
			 n < 0 ? "missing" : "has the wrong size");
		return NULL;
	}
	return p;
}

static int set_one(int fd, unsigned long req, const uint8_t *body,
		   size_t body_len, uint32_t type, uint32_t idx, size_t len,
		   const char *what, char *err, size_t errlen)
{
	const void *p = need(body, body_len, type, idx, len, what, err, errlen);
	void *copy;
	int rc;

	if (!p)
		return -EINVAL;
	copy = malloc(len); /* the body is not aligned for every struct */
	if (!copy)
		return ioerr(err, errlen, -ENOMEM, what, idx);
	memcpy(copy, p, len);
	rc = xioctl(fd, req, copy);
	free(copy);
	return rc < 0 ? ioerr(err, errlen, rc, what, idx) : 0;
}

static int restore_msrs(int vcpu_fd, uint32_t idx, const uint8_t *body,
			size_t body_len, char *err, size_t errlen)
{
	const void *p = NULL;
	long n = snap_find(body, body_len, SNAP_S_MSRS, idx, &p);
	struct kvm_msrs *msrs;
	uint32_t count;
	int rc;

	if (n < (long)sizeof(*msrs)) {
		snprintf(err, errlen, "snapshot: MSRs of vcpu %u missing", idx);
		return -EINVAL;
	}
	memcpy(&count, p, sizeof(count));
	if (count > MAX_MSRS ||
	    (size_t)n != sizeof(*msrs) + count * sizeof(struct kvm_msr_entry)) {
		snprintf(err, errlen, "snapshot: MSRs of vcpu %u malformed",
			 idx);
		return -EINVAL;
	}
	msrs = malloc((size_t)n);
	if (!msrs)
		return ioerr(err, errlen, -ENOMEM, "MSRs", idx);
	memcpy(msrs, p, (size_t)n);
	rc = xioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	if (rc >= 0 && (uint32_t)rc < count) {
		snprintf(err, errlen, "KVM_SET_MSRS (vcpu %u): MSR %#x refused",
			 idx, msrs->entries[rc].index);
		rc = -EINVAL;
	} else if (rc < 0) {
		ioerr(err, errlen, rc, "KVM_SET_MSRS", idx);
	} else {
		rc = 0;
	}
	free(msrs);
	return rc;
}

int kvmstate_restore_vcpu(int vcpu_fd, uint32_t idx, const uint8_t *body,
			  size_t body_len, char *err, size_t errlen)
{
	static const struct {
		unsigned long req;
		uint32_t type;
		size_t len;
		const char *what;
	} order[] = {
	    {KVM_SET_REGS, SNAP_S_REGS, sizeof(struct kvm_regs),
	     "KVM_SET_REGS"},
	    {KVM_SET_FPU, SNAP_S_FPU, sizeof(struct kvm_fpu), "KVM_SET_FPU"},
	    {KVM_SET_XSAVE, SNAP_S_XSAVE, sizeof(struct kvm_xsave),
	     "KVM_SET_XSAVE"},
	    {KVM_SET_XCRS, SNAP_S_XCRS, sizeof(struct kvm_xcrs),
	     "KVM_SET_XCRS"},
	    {KVM_SET_SREGS, SNAP_S_SREGS, sizeof(struct kvm_sregs),
	     "KVM_SET_SREGS"},
	    {KVM_SET_MP_STATE, SNAP_S_MPSTATE, sizeof(struct kvm_mp_state),
	     "KVM_SET_MP_STATE"},
	    {KVM_SET_LAPIC, SNAP_S_LAPIC, sizeof(struct kvm_lapic_state),
	     "KVM_SET_LAPIC"},
	    {KVM_SET_VCPU_EVENTS, SNAP_S_EVENTS, sizeof(struct kvm_vcpu_events),
	     "KVM_SET_VCPU_EVENTS"},
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		rc = set_one(vcpu_fd, order[i].req, body, body_len,
			     order[i].type, idx, order[i].len, order[i].what,
			     err, errlen);
		if (rc < 0)
			return rc;
	}
	rc = restore_msrs(vcpu_fd, idx, body, body_len, err, errlen);
	if (rc < 0)
		return rc;
	return set_one(vcpu_fd, KVM_SET_DEBUGREGS, body, body_len,
		       SNAP_S_DEBUGREGS, idx, sizeof(struct kvm_debugregs),
		       "KVM_SET_DEBUGREGS", err, errlen);
}

int kvmstate_save_vm(int vm_fd, struct snap_writer *w, char *err, size_t errlen)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	uint32_t id;
	int rc;

	for (id = 0; id < 3; id++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = id;
		rc = save_one(vm_fd, KVM_GET_IRQCHIP, SNAP_S_IRQCHIP, id, &chip,
			      sizeof(chip), w);
		if (rc < 0)
			return ioerr(err, errlen, rc, "KVM_GET_IRQCHIP", id);
	}
	rc = save_one(vm_fd, KVM_GET_PIT2, SNAP_S_PIT, 0, &pit, sizeof(pit), w);
	if (rc < 0)
		return ioerr(err, errlen, rc, "KVM_GET_PIT2", 0);
	memset(&clock, 0, sizeof(clock));
	rc = save_one(vm_fd, KVM_GET_CLOCK, SNAP_S_CLOCK, 0, &clock,
		      sizeof(clock), w);
	if (rc < 0)
		return ioerr(err, errlen, rc, "KVM_GET_CLOCK", 0);
	return 0;
}

int kvmstate_restore_vm(int vm_fd, const uint8_t *body, size_t body_len,
			char *err, size_t errlen)
{
	uint32_t id;
	int rc;

	for (id = 0; id < 3; id++) {
		rc = set_one(vm_fd, KVM_SET_IRQCHIP, body, body_len,
			     SNAP_S_IRQCHIP, id, sizeof(struct kvm_irqchip),
			     "KVM_SET_IRQCHIP", err, errlen);
		if (rc < 0)
			return rc;
	}
	return set_one(vm_fd, KVM_SET_PIT2, body, body_len, SNAP_S_PIT, 0,
		       sizeof(struct kvm_pit_state2), "KVM_SET_PIT2", err,
		       errlen);
}

int kvmstate_restore_clock(int vm_fd, const uint8_t *body, size_t body_len,
			   char *err, size_t errlen)
{
	const void *p =
	    need(body, body_len, SNAP_S_CLOCK, 0, sizeof(struct kvm_clock_data),
		 "clock", err, errlen);
	struct kvm_clock_data clock;
	int rc;

	if (!p)
		return -EINVAL;
	memcpy(&clock, p, sizeof(clock));
	/* Only the clock value: flags from KVM_GET_CLOCK (e.g. the host
	 * realtime pair) do not apply to a later time. */
	clock.flags = 0;
	rc = xioctl(vm_fd, KVM_SET_CLOCK, &clock);
	return rc < 0 ? ioerr(err, errlen, rc, "KVM_SET_CLOCK", 0) : 0;
}
