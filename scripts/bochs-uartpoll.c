// SPDX-License-Identifier: GPL-2.0
/*
 * bochs-uartpoll TTY: for scripts/bochs, switch a serial port to polled
 * mode (IRQ 0: the 8250 driver's timer) and make a close wait for all
 * output to be sent, however long that takes. In Bochs the port's
 * transmit interrupt was seen lost after kvm_intel runs: output stalled,
 * and the last close discarded what was left after its 30 s wait.
 * The port must not be open elsewhere (the driver restarts it).
 */
#include <fcntl.h>
#include <linux/serial.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct serial_struct ss;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: bochs-uartpoll TTY\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || ioctl(fd, TIOCGSERIAL, &ss)) {
		perror(argv[1]);
		return 1;
	}
	ss.irq = 0;
	ss.closing_wait = ASYNC_CLOSING_WAIT_INF;
	if (ioctl(fd, TIOCSSERIAL, &ss)) {
		perror("TIOCSSERIAL");
		return 1;
	}
	if (ioctl(fd, TIOCGSERIAL, &ss) || ss.irq ||
	    ss.closing_wait != ASYNC_CLOSING_WAIT_INF) {
		fprintf(stderr, "%s: still on IRQ %d, closing wait %u\n",
			argv[1], ss.irq, ss.closing_wait);
		return 1;
	}
	return close(fd);
}
