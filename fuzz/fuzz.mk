# fuzz/fuzz.mk: libFuzzer harnesses and a sanitizer build of mvm (see
# docs/SECURITY.md). Included by the top-level Makefile, which defines BUILD
# and CFLAGS; paths are relative to the repository root.
#
#   make fuzz           build every harness, fuzz each for FUZZ_SECONDS
#   make fuzz-regress   build every harness, run each once over its seed
#                       corpus and regression inputs (CI check, no fuzzing)
#   make fuzz-build     just build the harnesses into $(BUILD)/fuzz/
#   make sanitize       mvm with ASan + UBSan into $(BUILD)/san/mvm

# Included before the top-level Makefile names its first target: keep the
# rules below from becoming the default goal.
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -std=gnu11 -Wall -Wextra -I.
FUZZ_TARGETS := queue mmio blk elf jobchan manifest jobargs cmdline \
	policy fileserv vsock snapfile
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

# Each harness is one clang invocation: the harness plus the module
# sources it tests, all instrumented.
FUZZ_VIRTIO_SRCS := virtio/queue.c virtio/mmio.c virtio/blk.c \
	tests/unit/fake_guest.c
FUZZ_SRCS_queue := virtio/queue.c tests/unit/fake_guest.c
FUZZ_SRCS_mmio := $(FUZZ_VIRTIO_SRCS)
FUZZ_SRCS_blk := $(FUZZ_VIRTIO_SRCS)
FUZZ_SRCS_elf := vmm/elf.c
FUZZ_SRCS_jobchan := vmm/jobchan.c
FUZZ_SRCS_manifest := images/init/manifest.c
FUZZ_SRCS_jobargs := images/init/jobargs.c vmm/cmdline.c
FUZZ_SRCS_cmdline := vmm/cmdline.c images/init/jobargs.c
FUZZ_SRCS_policy := vmm/policy.c
FUZZ_SRCS_fileserv := vmm/fileserv.c
FUZZ_SRCS_snapfile := vmm/snapfile.c
FUZZ_LIBS_snapfile := -lz
FUZZ_SRCS_vsock := virtio/vsock.c virtio/mmio.c virtio/queue.c \
	tests/unit/fake_guest.c
FUZZ_LIBS_vsock := -lpthread
FUZZ_LIBS_mmio := -luring -lpthread
FUZZ_LIBS_blk := -luring -lpthread
FUZZ_HDRS := $(wildcard fuzz/*.h virtio/*.h vmm/*.h images/init/*.h) \
	tests/unit/fake_guest.h

define FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) $(FUZZ_HDRS)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $$@ fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)) \
		$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

.PHONY: fuzz fuzz-build fuzz-regress sanitize
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh fuzz $(FUZZ_DIR) $(FUZZ_TARGETS)

fuzz-regress: $(FUZZ_BINS)
	fuzz/run.sh regress $(FUZZ_DIR) $(FUZZ_TARGETS)

# The same sources and rules as $(BUILD)/mvm, in a separate tree. CFLAGS is
# passed on the command line so the sub-make uses exactly it (its own
# "CFLAGS +=" does not apply to command-line variables): our optimisation
# and sanitizers, then everything else the top level put in CFLAGS. The
# static guest init keeps IMAGE_INIT_CC/IMAGE_INIT_CFLAGS (plain gcc, no
# sanitizer runtime in the guest).
FUZZ_SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
sanitize:
	$(MAKE) BUILD=$(BUILD)/san CC=clang \
		CFLAGS='$(FUZZ_SAN_CFLAGS) $(filter-out -O% -g,$(CFLAGS))' \
		$(BUILD)/san/mvm

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
