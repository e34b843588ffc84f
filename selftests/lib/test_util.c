// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test_util.h"

void hvl_test_fail(const char *file, int line, const char *expr, int err,
		   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	fflush(stdout);
	printf("# ==== Test assertion failure ====\n");
	printf("#   %s:%d: %s\n", file, line, expr ? expr : "TEST_FAIL");
	if (err)
		printf("#   errno=%d (%s)\n", err, strerror(err));
	printf("#   %s\n", msg);
	printf("Bail out! %s:%d: %s\n", file, line, msg);
	fflush(stdout);
	exit(1);
}

static void timeout_handler(int sig)
{
	static const char m[] = "Bail out! test timed out\n";

	(void)sig;
	/* async-signal-safe output only */
	if (write(STDOUT_FILENO, m, sizeof(m) - 1) < 0)
		_exit(1);
	_exit(1);
}

static bool timeout_set;

void hvl_set_timeout(unsigned int seconds)
{
	signal(SIGALRM, timeout_handler);
	alarm(seconds);
	timeout_set = true;
}

void hvl_default_timeout(void)
{
	const char *t = getenv("HVL_TEST_TIMEOUT");

	if (!timeout_set)
		hvl_set_timeout(t ? atoi(t) : 300);
}
