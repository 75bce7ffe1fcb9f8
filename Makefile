# mvm — see README.md. `make deps` once on a fresh Debian 12, then `make`,
# then `make test`.
BUILD    ?= build
CC       ?= gcc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -fstack-protector-strong -D_FORTIFY_SOURCE=2 -I. -MMD -MP
LDFLAGS  ?=
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer

VMM_OBJS := $(BUILD)/vmm/vm.o $(BUILD)/vmm/boot.o $(BUILD)/vmm/elf.o \
            $(BUILD)/vmm/uart.o $(BUILD)/vmm/jobchan.o $(BUILD)/vmm/cmdline.o \
            $(BUILD)/vmm/check.o $(BUILD)/vmm/policy.o $(BUILD)/vmm/fileserv.o \
            $(BUILD)/vmm/audit.o $(BUILD)/vmm/monitor.o $(BUILD)/vmm/sandbox.o \
            $(BUILD)/vmm/snapfile.o $(BUILD)/vmm/kvmstate.o $(BUILD)/vmm/pool.o

# The fragments below define rules; keep `all` the default goal.
.DEFAULT_GOAL := all

include virtio/virtio.mk
include images/images.mk
include fuzz/fuzz.mk
include bench/bench.mk
include tests/hostile/hostile.mk

LIB_OBJS := $(VMM_OBJS) $(VIRTIO_OBJS) $(IMAGE_OBJS)
LIBS     := $(VIRTIO_LIBS) -ljansson -lseccomp -lz -lpthread

VMM_UNIT_TESTS := $(BUILD)/tests/unit/test_boot $(BUILD)/tests/unit/test_elf \
                  $(BUILD)/tests/unit/test_uart $(BUILD)/tests/unit/test_jobchan \
                  $(BUILD)/tests/unit/test_cmdline $(BUILD)/tests/unit/test_check \
                  $(BUILD)/tests/unit/test_policy $(BUILD)/tests/unit/test_fileserv \
                  $(BUILD)/tests/unit/test_audit $(BUILD)/tests/unit/test_ratelimit \
                  $(BUILD)/tests/unit/test_snapfile $(BUILD)/tests/unit/test_sandbox
UNIT_TESTS := $(VMM_UNIT_TESTS) $(VIRTIO_UNIT_TESTS) $(IMAGE_UNIT_TESTS)

.PHONY: all mvm kernel images deps test unit e2e format lint clean
all: mvm kernel images $(POOL_BENCH)

mvm: $(BUILD)/mvm
$(BUILD)/mvm: $(BUILD)/vmm/main.o $(BUILD)/libmvm.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/libmvm.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Guest kernel: built once per set of inputs, cached outside the checkout.
kernel:
	@mkdir -p $(BUILD)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL scripts/build-kernel.sh -o $(BUILD)/vmlinux

images: $(EXAMPLE_IMAGES)

deps:
	scripts/deps.sh

# Unit tests link the module under test directly.
$(BUILD)/tests/unit/test_%: tests/unit/test_%.c $(BUILD)/libmvm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmvm.a -lcmocka $(LIBS)

unit: $(UNIT_TESTS)
	tests/run-unit.sh $(UNIT_TESTS)

e2e: all
	tests/e2e/run.sh

# A guest job program of tests/e2e/snapshot.sh: static, no libc (it runs
# inside the guest), so no host CFLAGS.
XSTATE_CHECK := $(BUILD)/tests/xstate_check
$(XSTATE_CHECK): tests/e2e/xstate_check.c
	@mkdir -p $(@D)
	gcc -std=gnu11 -O1 -Wall -Wextra -static -nostdlib -no-pie -fno-pic \
		-fno-stack-protector -o $@ $<

# The README's test command: unit tests, then end-to-end tests on /dev/kvm,
# then the malicious-guest suite.
test: all $(UNIT_TESTS) $(HOSTILE_GUEST) $(XSTATE_CHECK)
	tests/run-all.sh $(UNIT_TESTS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --inline-suppr -I. --suppress=missingIncludeSystem vmm virtio images/init
	clang-tidy --quiet $$(git ls-files 'vmm/*.c' 'virtio/*.c') -- $(CFLAGS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
