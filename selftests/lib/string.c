// SPDX-License-Identifier: GPL-2.0
/*
 * Plain string functions that replace glibc's in the test binary.
 *
 * glibc's versions are IFUNCs: their addresses are resolved by the host
 * process at startup, but guest memory holds the unrelocated image from
 * /proc/self/exe, and they may pick AVX code the guest has not enabled.
 * The compiler emits calls to these on its own (struct copies, large
 * initializers), so guest code needs versions that work everywhere.
 * A static link prefers these definitions over libc.a's.
 */
#include <stddef.h>
#include <string.h>

void *memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;

	asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
	return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
	void *ret = dst;

	if (dst <= src || (const char *)src + n <= (char *)dst)
		return memcpy(dst, src, n);
	/* Overlapping, destination above source: copy backwards. */
	dst = (char *)dst + n - 1;
	src = (const char *)src + n - 1;
	asm volatile("std; rep movsb; cld"
		     : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
	return ret;
}

void *memset(void *s, int c, size_t n)
{
	void *ret = s;

	asm volatile("rep stosb" : "+D"(s), "+c"(n) : "a"(c) : "memory");
	return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

int strcmp(const char *a, const char *b)
{
	for (; *a && *a == *b; a++, b++)
		;
	return (unsigned char)*a - (unsigned char)*b;
}
