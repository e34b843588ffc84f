// SPDX-License-Identifier: GPL-2.0
/*
 * Self-test of the TAP harness (lib/tap.c) every other test reports
 * through: scenarios with known outcomes run in a fresh copy of this
 * binary, whose output and exit status are checked here.  Runs first.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kvm_util.h"

/*
 * Scenarios with known outcomes, run by a fresh copy of this binary
 * (--tap-demo or --tap-demo-pass) so its numbering and exit status are
 * its own; test_tap() reads what it prints.
 */
static void *demo_thread(void *arg)
{
	tap_ok(true, "from a thread %ld", (long)arg);
	return NULL;
}

static void demo_threads(void)
{
	pthread_t th[4];
	long i;

	for (i = 0; i < 4; i++)
		TEST_ASSERT(!pthread_create(&th[i], NULL, demo_thread, (void *)i),
			    "pthread_create");
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

static void demo_skip(void)
{
	tap_ok(true, "before");
	test_skip("why %d", 3);
	tap_ok(true, "never");
}

static int tap_demo(bool fail)
{
	TEST_RUN("passing", tap_ok(true, "a"); tap_ok(true, "b"));
	TEST_RUN("skipped", demo_skip());
	if (fail) {
		TEST_RUN("failing", tap_ok(false, "bad"); tap_ok(true, "good"));
		TEST_RUN("threads", demo_threads());
		TEST_RUN("empty", (void)0);
		TEST_RUN("all skipped", tap_skip("intentional"));
	}
	return tap_done();
}

/* Run this binary with arg (and HVL_TEST_ONLY=only); its output in buf. */
static int run_demo(const char *arg, const char *only, char *buf, size_t len)
{
	char cmd[256];
	size_t n = 0, r;
	FILE *f;
	int st;

	snprintf(cmd, sizeof(cmd), "HVL_TEST_ONLY='%s' /proc/%d/exe %s",
		 only, getpid(), arg);
	f = popen(cmd, "r");
	TEST_ASSERT(f, "popen %s", cmd);
	while (n < len - 1 && (r = fread(buf + n, 1, len - 1 - n, f)) > 0)
		n += r;
	buf[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Top-level "ok"/"not ok" lines: what scripts/check counts. */
static int top_lines(const char *s)
{
	int n = 0;

	for (; s; s = strchr(s, '\n'), s = s ? s + 1 : s)
		n += !strncmp(s, "ok ", 3) || !strncmp(s, "not ok ", 7);
	return n;
}

/* The demo's output as comments, line by line: none may look like a result. */
static void diag_lines(const char *s)
{
	const char *end;

	for (; *s; s = *end ? end + 1 : end) {
		end = strchrnul(s, '\n');
		tap_diag("| %.*s", (int)(end - s), s);
	}
}

static void test_tap(void)
{
	static char out[8192];
	int st;

	st = run_demo("--tap-demo", "", out, sizeof(out));
	diag_lines(out);
	tap_ok(strstr(out, "# Subtest: passing\n    ok 1 - a\n    ok 2 - b\n    1..2\nok 1 - passing\n"),
	       "a passing scenario: its checks indented and counted, one ok line");
	tap_ok(strstr(out, "# Subtest: skipped\n    ok 1 - before\n    1..1\nok 2 - skipped # SKIP why 3\n") &&
	       !strstr(out, "never"),
	       "test_skip(): one SKIP line for the scenario, nothing after it runs");
	tap_ok(strstr(out, "    not ok 1 - bad\n    ok 2 - good\n    1..2\nnot ok 3 - failing\n"),
	       "a failing check fails its scenario");
	tap_ok(strstr(out, "    1..4\nok 4 - threads\n"),
	       "checks from 4 threads are counted in their scenario");
	tap_ok(strstr(out, "not ok 5 - empty: no check ran\n") &&
	       strstr(out, "ok 6 - all skipped # SKIP intentional\n"),
	       "a scenario without checks fails; one whose checks all skipped skips");
	tap_ok(st == 1 && top_lines(out) == 6 &&
	       strstr(out, "\n1..6\n# 2 passed, 2 failed, 2 skipped\n# checks in the 6 scenarios: 8 passed, 1 failed, 1 skipped\n"),
	       "plan and summary count scenarios, exit status 1 (%d), %d top-level lines",
	       st, top_lines(out));

	st = run_demo("--tap-demo-pass", "", out, sizeof(out));
	tap_ok(st == 0 && top_lines(out) == 2 && !strstr(out, "not ok"),
	       "passed and skipped scenarios only: exit status 0 (%d)", st);
	st = run_demo("--tap-demo-pass", "pass,nothing", out, sizeof(out));
	tap_ok(st == 0 && strstr(out, "ok 1 - passing\n") &&
	       strstr(out, "ok 2 - skipped # SKIP not selected by HVL_TEST_ONLY\n"),
	       "HVL_TEST_ONLY=pass,nothing runs only the matching scenario (%d)", st);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return tap_demo(strcmp(argv[1], "--tap-demo-pass"));
	TEST_RUN("TAP scenarios", test_tap());
	return tap_done();
}
