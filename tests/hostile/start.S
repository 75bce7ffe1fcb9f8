/* SPDX-License-Identifier: MIT */
/*
 * Entry of the hostile test guest. mvm enters here in long mode (64-bit
 * boot protocol, vmm/boot.c) with %rsi = boot_params and a 4 KiB stack
 * below its page tables; move to our own stack and call the C code.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	cli
	lea	stack_top(%rip), %rsp
	mov	%rsi, %rdi
	call	guest_main
1:	jmp	1b

	.section .bss
	.balign 16
	.skip 65536
stack_top:

	.section .note.GNU-stack, "", @progbits
