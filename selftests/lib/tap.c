// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "tap.h"

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static int planned = -1, count, passed, failed, skipped;
static bool header_done;

/* Called with tap_lock held. */
static void header(void)
{
	if (!header_done) {
		printf("TAP version 13\n");
		header_done = true;
	}
}

void tap_plan(int n)
{
	pthread_mutex_lock(&tap_lock);
	header();
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

static void result(const char *status, const char *directive,
		   const char *fmt, va_list ap)
{
	pthread_mutex_lock(&tap_lock);
	header();
	printf("%s %d %s", status, ++count, directive);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(cond ? "ok" : "not ok", "- ", fmt, ap);
	va_end(ap);
	__atomic_add_fetch(cond ? &passed : &failed, 1, __ATOMIC_RELAXED);
	return cond;
}

void tap_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result("ok", "# SKIP ", fmt, ap);
	va_end(ap);
	__atomic_add_fetch(&skipped, 1, __ATOMIC_RELAXED);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&tap_lock);
	header();
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(KSFT_SKIP);
}

int tap_done(void)
{
	int ret;

	pthread_mutex_lock(&tap_lock);
	header();
	if (planned < 0)
		printf("1..%d\n", count);
	else if (planned != count)
		printf("# planned %d tests but ran %d\n", planned, count);
	printf("# %d passed, %d failed, %d skipped\n", passed, failed, skipped);
	/* A test that checked nothing has not passed. */
	if (!count)
		printf("# no test ran\n");
	fflush(stdout);
	ret = failed || !count || (planned >= 0 && planned != count);
	pthread_mutex_unlock(&tap_lock);
	return ret;
}
