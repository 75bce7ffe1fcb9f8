# VMM-side device benchmarks (no VM, no guest kernel). Included by the
# top-level Makefile, which defines BUILD, CC, CFLAGS and the pattern rule
# $(BUILD)/%.o: %.c; paths are relative to the repository root.
#
#   make bench-blk    build build/bench/blk_bench and print its table
#                     (bench/blk.sh; BENCH_BLK_ARGS="--json" etc. pass on)
#   make bench-vsock  build build/bench/vsock_bench and print its table
#                     (BENCH_VSOCK_ARGS="--json" etc. pass on)
#   make bench        the VMM-side device benchmarks, then the cold-boot,
#                     side-by-side-with-QEMU and snapshot benchmarks on
#                     $(BENCH_IMAGE) (tens of minutes on a PVM host; density
#                     and guest I/O are run by hand: docs/BENCHMARKS.md)
#   build/bench/pool_bench  jobs from a warm pool of restored VMs (built by
#                     `make`; used by tests/e2e/snapshot.sh, bench/snapshot.sh)
#   build/bench/kvm_probe.so  LD_PRELOAD shim that times any KVM VMM per
#                     phase (bench/vs-qemu.sh)

# Included before the top-level Makefile names its first target: keep the
# rules below from becoming the default goal.
BENCH_SAVED_GOAL := $(.DEFAULT_GOAL)

BENCH_BLK := $(BUILD)/bench/blk_bench

$(BUILD)/bench/blk_bench.o $(BUILD)/tests/unit/fake_guest.o: \
	virtio/queue.h virtio/mmio.h virtio/blk.h vmm/mem.h \
	tests/unit/fake_guest.h

$(BENCH_BLK): $(BUILD)/bench/blk_bench.o $(BUILD)/tests/unit/fake_guest.o \
		$(BUILD)/libmvm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -luring -lpthread

BENCH_VSOCK := $(BUILD)/bench/vsock_bench

$(BUILD)/bench/vsock_bench.o $(BUILD)/bench/blk_bench.o: bench/bench.h
$(BUILD)/bench/vsock_bench.o: virtio/vsock.h virtio/mmio.h vmm/mem.h \
	tests/unit/fake_guest.h

$(BENCH_VSOCK): $(BUILD)/bench/vsock_bench.o $(BUILD)/tests/unit/fake_guest.o \
		$(BUILD)/libmvm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lpthread

POOL_BENCH := $(BUILD)/bench/pool_bench

$(POOL_BENCH): $(BUILD)/bench/pool_bench.o $(BUILD)/libmvm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

KVM_PROBE := $(BUILD)/bench/kvm_probe.so

$(KVM_PROBE): bench/kvm_probe.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

.PHONY: bench-blk
bench-blk: $(BENCH_BLK)
	BLK_BENCH=$(BENCH_BLK) bench/blk.sh $(BENCH_BLK_ARGS)

.PHONY: bench-vsock
bench-vsock: $(BENCH_VSOCK)
	@echo "# $$(date -u +%Y-%m-%dT%H:%MZ)  nproc $$(nproc)  $$(uname -r)  load $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(BENCH_VSOCK) $(BENCH_VSOCK_ARGS)

.PHONY: bench
BENCH_IMAGE ?= $(BUILD)/examples/hello-sh.img
bench: all $(BENCH_BLK) $(BENCH_VSOCK) $(KVM_PROBE)
	BLK_BENCH=$(BENCH_BLK) bench/blk.sh
	$(BENCH_VSOCK)
	bench/boot.sh -n 5 $(BENCH_IMAGE)
	bench/vs-qemu.sh -n 5 $(BENCH_IMAGE)
	bench/snapshot.sh -n 5

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)
