# VMM-side device benchmarks (no VM, no guest kernel). Included by the
# top-level Makefile, which defines BUILD, CC, CFLAGS and the pattern rule
# $(BUILD)/%.o: %.c; paths are relative to the repository root.
#
#   make bench-blk    build build/bench/blk_bench and print its table
#                     (bench/blk.sh; BENCH_BLK_ARGS="--json" etc. pass on)
#   make bench-vsock  build build/bench/vsock_bench and print its table
#                     (BENCH_VSOCK_ARGS="--json" etc. pass on)
#   build/bench/pool_bench  jobs from a warm pool of restored VMs (built by
#                     `make`; used by tests/e2e/snapshot.sh, bench/snapshot.sh)

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

.PHONY: bench-blk
bench-blk: $(BENCH_BLK)
	BLK_BENCH=$(BENCH_BLK) bench/blk.sh $(BENCH_BLK_ARGS)

.PHONY: bench-vsock
bench-vsock: $(BENCH_VSOCK)
	@echo "# $$(date -u +%Y-%m-%dT%H:%MZ)  nproc $$(nproc)  $$(uname -r)  load $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(BENCH_VSOCK) $(BENCH_VSOCK_ARGS)

.DEFAULT_GOAL := $(BENCH_SAVED_GOAL)
