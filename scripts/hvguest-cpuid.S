/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A multiboot kernel that prints the hypervisor CPUID leaves its vCPU sees
 * (0x40000000-0x4000000A and 0x40000080-0x40000082, one line each:
 * "cpuid LEAF: EAX EBX ECX EDX") on COM1, then "cpuid done" and exits
 * QEMU through -device isa-debug-exit,iobase=0xf4. QEMU loads it with
 * -kernel; it runs in milliseconds where a Linux guest boots for minutes
 * (scripts/hvguest-xmigrate compares what hv-passthrough gives on stock
 * and on nohv with hvenlight). Built by scripts/build-hvguest.
 */
	.code32
	.text
	.align 4
	.long 0x1badb002		/* multiboot magic */
	.long 0				/* flags: none (an ELF, loaded as such) */
	.long -0x1badb002		/* checksum */

	.globl _start
_start:
	cli
	mov $stack_top, %esp
	mov $0x40000000, %esi
	mov $0x4000000a, %edi
	call dump
	mov $0x40000080, %esi
	mov $0x40000082, %edi
	call dump
	mov $done, %ebx
	call puts
	xor %eax, %eax
	out %al, $0xf4			/* isa-debug-exit: QEMU exits */
1:	hlt
	jmp 1b

/* dump: leaves %esi to %edi, inclusive */
dump:
	mov $hdr, %ebx
	call puts
	mov %esi, %eax
	call hex
	mov $':', %al
	call putc
	mov %esi, %eax
	xor %ecx, %ecx
	cpuid
	push %edx
	push %ecx
	push %ebx
	push %eax
	mov $4, %ebp
2:	mov $' ', %al
	call putc
	pop %eax
	call hex
	dec %ebp
	jnz 2b
	mov $'\n', %al
	call putc
	inc %esi
	cmp %edi, %esi
	jbe dump
	ret

/* putc: %al to COM1 */
putc:
	push %edx
	mov $0x3f8, %dx
	out %al, %dx
	pop %edx
	ret

/* puts: the NUL-terminated string at %ebx */
puts:
	push %eax
3:	mov (%ebx), %al
	test %al, %al
	jz 4f
	call putc
	inc %ebx
	jmp 3b
4:	pop %eax
	ret

/* hex: %eax as 0x and 8 hex digits */
hex:
	push %ecx
	push %edx
	mov %eax, %edx
	mov $'0', %al
	call putc
	mov $'x', %al
	call putc
	mov $8, %ecx
5:	rol $4, %edx
	mov %edx, %eax
	and $0xf, %eax
	mov digits(%eax), %al
	call putc
	dec %ecx
	jnz 5b
	pop %edx
	pop %ecx
	ret

	.data
hdr:	.asciz "cpuid "
done:	.asciz "cpuid done\n"
digits:	.ascii "0123456789abcdef"

	.bss
	.align 16
	.skip 4096
stack_top:
