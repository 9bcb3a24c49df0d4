/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny freestanding multiboot (v1) kernel for x86: prints one line with
 * its version on the COM1 serial port, then powers the machine off so that
 * `qemu-system-x86_64 -kernel` exits by itself. Built by build.sh. */
#include <stdint.h>

#ifndef HELLO_VERSION
#define HELLO_VERSION "dev"
#endif

#define MB1_MAGIC 0x1badb002u
#define MB1_FLAGS 0u
#define MB1_BOOTED 0x2badb002u /* what the loader leaves in %eax */

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4 /* -device isa-debug-exit,iobase=0xf4 */
#define DEBUG_EXIT_CODE 0x10 /* qemu exits with (0x10 << 1) | 1 = 33 */

/* The loader finds this in the first 8 KiB (link.ld puts it first). */
__attribute__((section(".multiboot"), aligned(4),
               used)) static const uint32_t multiboot_header[3] = {
        MB1_MAGIC, MB1_FLAGS, (uint32_t) - (MB1_MAGIC + MB1_FLAGS)};

uint8_t hello_stack[16384] __attribute__((aligned(16)));

void hello_main(uint32_t magic);

/* Entry in 32-bit protected mode, paging off, no stack: make one, pass the
 * loader's magic to C, and stop if C ever returns. */
__asm__(".section .text\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "  mov $hello_stack + 16384, %esp\n"
        "  push %eax\n"
        "  call hello_main\n"
        "1: cli\n"
        "  hlt\n"
        "  jmp 1b\n");

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB on: set the divisor */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1, DLAB off */
	outb(COM1 + 2, 0xc7); /* FIFO on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
}

static void serial_puts(const char *s)
{
	for (; *s; s++) {
		while (!(inb(COM1 + 5) & 0x20)) /* transmitter empty */
			;
		outb(COM1, (uint8_t)*s);
	}
}

static void power_off(void)
{
	/* qemu with isa-debug-exit: exit now with status 33 */
	outb(DEBUG_EXIT_PORT, DEBUG_EXIT_CODE);
	/* otherwise ACPI S5 through the PM1a control block SeaBIOS sets up
	 * (0x604 on the pc machine, 0xb004 on older qemu / q35) */
	outw(0x604, 0x2000);
	outw(0xb004, 0x2000);
}

void hello_main(uint32_t magic)
{
	serial_init();
	serial_puts("hello from ureg unikernel " HELLO_VERSION "\n");
	if (magic != MB1_BOOTED)
		serial_puts("warning: not started by a multiboot loader\n");
	serial_puts("halting\n");
	power_off();
}
