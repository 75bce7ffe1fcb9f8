# tests/hostile/hostile.mk: the malicious-guest suite (docs/SECURITY.md).
# Included by the top-level Makefile, which defines BUILD; paths are
# relative to the repository root.
#
#   make hostile         build the test guest and run every case against
#                        $(BUILD)/mvm (tests/hostile/run.sh)
#   make hostile-guest   just build $(BUILD)/tests/hostile/guest.elf
#
# The guest is a freestanding 64-bit ELF that mvm boots with --kernel: no
# Linux boot, so the suite takes seconds even on PVM hosts. Plain gcc, no
# sanitizer (it runs inside the VM); no SSE, no red zone, no PIC.

# Included before the top-level Makefile names its first target: keep the
# rules below from becoming the default goal.
HOSTILE_SAVED_GOAL := $(.DEFAULT_GOAL)

HOSTILE_CC ?= gcc
HOSTILE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-ffreestanding -fno-builtin -fno-tree-loop-distribute-patterns \
	-nostdlib -static -no-pie -fno-pic -mno-sse -mno-mmx -mno-80387 \
	-mno-red-zone -fno-stack-protector \
	-fno-asynchronous-unwind-tables -mgeneral-regs-only
HOSTILE_SRCS := tests/hostile/start.S tests/hostile/guest.c \
	tests/hostile/virtio.c tests/hostile/cases_blk.c \
	tests/hostile/cases_mmio.c tests/hostile/cases_vsock.c \
	tests/hostile/cases_misc.c
HOSTILE_GUEST := $(BUILD)/tests/hostile/guest.elf

$(HOSTILE_GUEST): $(HOSTILE_SRCS) tests/hostile/guest.h tests/hostile/guest.ld
	@mkdir -p $(@D)
	$(HOSTILE_CC) $(HOSTILE_CFLAGS) -T tests/hostile/guest.ld \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,max-page-size=4096 -o $@ \
		$(HOSTILE_SRCS)

.PHONY: hostile hostile-guest
hostile-guest: $(HOSTILE_GUEST)

hostile: $(HOSTILE_GUEST) $(BUILD)/mvm
	MVM=$(BUILD)/mvm HOSTILE_GUEST=$(HOSTILE_GUEST) tests/hostile/run.sh

.DEFAULT_GOAL := $(HOSTILE_SAVED_GOAL)
