# images/images.mk: guest init, job image builder, example images.
# Included by the top-level Makefile, which defines BUILD, CC and CFLAGS,
# links $(IMAGE_OBJS) into $(BUILD)/mvm and runs $(IMAGE_UNIT_TESTS).

# The guest init: static, small, plain gcc + glibc (docs/IMAGES.md).
IMAGE_INIT_CC ?= gcc
IMAGE_INIT_CFLAGS ?= -std=gnu11 -Os -Wall -Wextra -static
IMAGE_INIT_SRCS := images/init/init.c images/init/manifest.c \
	images/init/vsocktool.c \
	images/init/jobargs.c images/init/frame.c
IMAGE_INIT_HDRS := images/init/manifest.h images/init/jobargs.h \
	images/init/vsocktool.h images/init/vsockports.h \
	images/init/frame.h

$(BUILD)/mvm-init: $(IMAGE_INIT_SRCS) $(IMAGE_INIT_HDRS)
	@mkdir -p $(@D)
	$(IMAGE_INIT_CC) $(IMAGE_INIT_CFLAGS) -s -o $@ $(IMAGE_INIT_SRCS)

# Same init for running on a development host (images/init/hosttest.sh).
$(BUILD)/mvm-init-hosttest: $(IMAGE_INIT_SRCS) $(IMAGE_INIT_HDRS)
	@mkdir -p $(@D)
	$(IMAGE_INIT_CC) $(IMAGE_INIT_CFLAGS) -g -DMVM_INIT_HOSTTEST -o $@ \
		$(IMAGE_INIT_SRCS)

# Host side: the builder, the embedded init and the manifest writer. Objects
# are compiled by the top-level $(BUILD)/%.o: %.c rule.
IMAGE_OBJS := $(BUILD)/vmm/image.o $(BUILD)/images/init_blob.o \
	$(BUILD)/images/init/manifest.o

$(BUILD)/images/init_blob.o: images/init_blob.S $(BUILD)/mvm-init
	@mkdir -p $(@D)
	$(CC) -c -DMVM_INIT_PATH='"$(BUILD)/mvm-init"' -o $@ $<

# Unit tests (cmocka): the guest-side modules compiled for the host.
IMAGE_GUEST_HOST_OBJS := $(BUILD)/images/init/manifest.o \
	$(BUILD)/images/init/jobargs.o $(BUILD)/images/init/frame.o

$(BUILD)/tests/unit/test_manifest: tests/unit/test_manifest.c \
		$(IMAGE_GUEST_HOST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(IMAGE_GUEST_HOST_OBJS) -lcmocka

$(BUILD)/tests/unit/test_image: tests/unit/test_image.c $(IMAGE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(IMAGE_OBJS) -lcmocka

IMAGE_UNIT_TESTS := $(BUILD)/tests/unit/test_manifest \
	$(BUILD)/tests/unit/test_image

# Example job images, built with the real CLI.
EXAMPLE_IMAGES := $(BUILD)/examples/hello-sh.img $(BUILD)/examples/hello-c.img

$(BUILD)/examples/hello-sh.img: $(BUILD)/mvm \
		$(shell find images/examples/hello-sh -type f)
	@mkdir -p $(@D)
	$(BUILD)/mvm image build images/examples/hello-sh/rootfs -o $@ \
		--add-binary /bin/busybox --entry "/bin/sh /job.sh"

# Dynamically linked on purpose: the image proves --add-binary copies libc
# and the ELF interpreter.
$(BUILD)/examples/hello-c/hello: images/examples/hello-c/hello.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

$(BUILD)/examples/hello-c.img: $(BUILD)/mvm $(BUILD)/examples/hello-c/hello \
		$(shell find images/examples/hello-c/rootfs -type f)
	@mkdir -p $(@D)
	$(BUILD)/mvm image build images/examples/hello-c/rootfs -o $@ \
		--add-binary $(BUILD)/examples/hello-c/hello:/usr/local/bin/hello \
		--env GREETING=hello --entry "hello from-the-manifest"

.PHONY: example-images init-hosttest
example-images: $(EXAMPLE_IMAGES)

# Run the init's job logic on this host, no VM (root: unshare + chroot).
init-hosttest: $(BUILD)/mvm-init-hosttest
	images/init/hosttest.sh $(BUILD)/mvm-init-hosttest
