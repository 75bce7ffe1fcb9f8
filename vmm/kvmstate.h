/* SPDX-License-Identifier: MIT */
/*
 * KVM state of a paused VM to and from snapshot sections (snapfile.h):
 * per vCPU the registers, special registers, FPU, XSAVE, XCRs, every MSR in
 * KVM's index list that reads back, LAPIC, vCPU events, MP state and debug
 * registers; per VM the in-kernel irqchip (PIC master, slave, IOAPIC), the
 * PIT and the kvmclock. Only while no vCPU thread is in KVM_RUN.
 *
 * Restore order follows what KVM needs (as QEMU does): registers, XSAVE,
 * XCRs and special registers first, MP state and LAPIC before the vCPU
 * events and the MSRs (TSC deadline and PV EOI depend on the LAPIC and the
 * irqchip). Each section must have exactly the size this build writes: a
 * snapshot from a build with other struct layouts is refused, never read
 * halfway.
 */
#ifndef MVM_KVMSTATE_H
#define MVM_KVMSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/snapfile.h"

/* Complete pending PIO/MMIO of a vCPU stopped at an exit, so that its
 * state is consistent, without running the guest further. run is its
 * kvm_run; kick_signal has a handler and is blocked in this thread. */
int kvmstate_settle(int vcpu_fd, void *run, int kick_signal);

int kvmstate_save_vcpu(int kvm_fd, int vcpu_fd, uint32_t idx,
		       struct snap_writer *w, char *err, size_t errlen);
int kvmstate_restore_vcpu(int vcpu_fd, uint32_t idx, const uint8_t *body,
			  size_t body_len, char *err, size_t errlen);

int kvmstate_save_vm(int vm_fd, struct snap_writer *w, char *err,
		     size_t errlen);
/* Irqchip and PIT; the clock is separate (set it when the job starts). */
int kvmstate_restore_vm(int vm_fd, const uint8_t *body, size_t body_len,
			char *err, size_t errlen);
int kvmstate_restore_clock(int vm_fd, const uint8_t *body, size_t body_len,
			   char *err, size_t errlen);

#endif
