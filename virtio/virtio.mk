# virtio devices (split virtqueues, virtio-mmio v2, virtio-blk) and their
# unit tests. Included by the top-level Makefile, which defines BUILD, CC,
# CFLAGS and the pattern rule $(BUILD)/%.o: %.c; paths are relative to the
# repository root.

# Included before the top-level Makefile names its first target: keep the
# rules below from becoming the default goal.
VIRTIO_SAVED_GOAL := $(.DEFAULT_GOAL)

VIRTIO_OBJS := $(BUILD)/virtio/queue.o $(BUILD)/virtio/mmio.o \
	$(BUILD)/virtio/blk.o $(BUILD)/virtio/vsock.o
VIRTIO_LIBS := -luring -lpthread

VIRTIO_HDRS := virtio/queue.h virtio/mmio.h virtio/blk.h virtio/vsock.h \
	vmm/mem.h
VIRTIO_TEST_HDRS := $(VIRTIO_HDRS) tests/unit/fake_guest.h

VIRTIO_UNIT_TESTS := $(BUILD)/tests/unit/test_queue \
	$(BUILD)/tests/unit/test_mmio $(BUILD)/tests/unit/test_blk \
	$(BUILD)/tests/unit/test_vsock

# The pattern rule does not know about headers.
$(VIRTIO_OBJS): $(VIRTIO_HDRS)
$(BUILD)/tests/unit/test_queue.o $(BUILD)/tests/unit/test_mmio.o \
$(BUILD)/tests/unit/test_blk.o $(BUILD)/tests/unit/test_vsock.o \
$(BUILD)/tests/unit/fake_guest.o: \
	$(VIRTIO_TEST_HDRS)

$(BUILD)/tests/unit/test_queue: $(BUILD)/tests/unit/test_queue.o \
		$(BUILD)/tests/unit/fake_guest.o $(BUILD)/virtio/queue.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka

$(BUILD)/tests/unit/test_mmio: $(BUILD)/tests/unit/test_mmio.o \
		$(BUILD)/tests/unit/fake_guest.o $(BUILD)/virtio/queue.o \
		$(BUILD)/virtio/mmio.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka -lpthread

$(BUILD)/tests/unit/test_blk: $(BUILD)/tests/unit/test_blk.o \
		$(BUILD)/tests/unit/fake_guest.o $(VIRTIO_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(VIRTIO_LIBS)

$(BUILD)/tests/unit/test_vsock: $(BUILD)/tests/unit/test_vsock.o \
		$(BUILD)/tests/unit/fake_guest.o $(BUILD)/virtio/queue.o \
		$(BUILD)/virtio/mmio.o $(BUILD)/virtio/vsock.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka -lpthread

# Build and run just these tests: make virtio-check
.PHONY: virtio-check
virtio-check: $(VIRTIO_UNIT_TESTS)
	@set -e; for t in $(VIRTIO_UNIT_TESTS); do $$t; done

.DEFAULT_GOAL := $(VIRTIO_SAVED_GOAL)
