/* SPDX-License-Identifier: MIT */
/*
 * The static guest init, embedded in the mvm binary so that `build/mvm`
 * alone can build job images (vmm/image.c writes it as /mvm/init).
 * MVM_INIT_PATH is the quoted path of build/mvm-init, from images/images.mk.
 */
	.section .rodata.mvm_init, "a"
	.balign 16
	.globl mvm_init_start
	.type mvm_init_start, @object
mvm_init_start:
	.incbin MVM_INIT_PATH
	.globl mvm_init_end
	.type mvm_init_end, @object
mvm_init_end:
	.size mvm_init_start, mvm_init_end - mvm_init_start

	.section .note.GNU-stack, "", @progbits
