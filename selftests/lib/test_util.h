/* SPDX-License-Identifier: GPL-2.0 */
/* Host-side assertions: a failed one prints why (and errno) and exits. */
#ifndef HVL_TEST_UTIL_H
#define HVL_TEST_UTIL_H

#include <errno.h>
#include <stdbool.h>

void __attribute__((noreturn, format(printf, 5, 6)))
hvl_test_fail(const char *file, int line, const char *expr, int err,
	      const char *fmt, ...);

/*
 * TEST_ASSERT(cond, fmt, ...): fail the whole test unless cond holds.
 * The report (as TAP comments, then "Bail out!") includes file, line,
 * the condition, errno and the formatted message.
 */
#define TEST_ASSERT(cond, fmt, ...)					\
do {									\
	if (!(cond))							\
		hvl_test_fail(__FILE__, __LINE__, #cond, errno,		\
			      fmt, ##__VA_ARGS__);			\
} while (0)

#define TEST_ASSERT_EQ(a, b)						\
do {									\
	unsigned long long __a = (a), __b = (b);			\
	if (__a != __b)							\
		hvl_test_fail(__FILE__, __LINE__, #a " == " #b, 0,	\
			      "%#llx != %#llx", __a, __b);		\
} while (0)

#define TEST_FAIL(fmt, ...)						\
	hvl_test_fail(__FILE__, __LINE__, NULL, 0, fmt, ##__VA_ARGS__)

/*
 * Kill the test (with a "Bail out!") if it runs longer than this many
 * seconds from now (0: never); a stuck guest would otherwise hang forever.
 * Unless a test set one, the first vm_create() arms hvl_default_timeout():
 * $HVL_TEST_TIMEOUT or 300 seconds.
 */
void hvl_set_timeout(unsigned int seconds);
void hvl_default_timeout(void);

#endif
