// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin for bench/profile: how many guest instructions each
 * translation block executed, written at exit as "vaddr insns count" lines
 * (count = instructions, insns = the block's length). With the outer VM's
 * /proc/kallsyms this attributes every instruction the test VM ran to a
 * kernel or module function. Written against QEMU 7.2's plugin API
 * (version 1); Debian ships no qemu-plugin.h, so the few calls used are
 * declared here.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb,
				    void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One counter per distinct block (address and length), kept forever. */
struct block {
	uint64_t vaddr, n, count;
	struct block *next;
};

#define BUCKETS (1u << 20)
static struct block *table[BUCKETS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *out = "tbcount.out";

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb);
	size_t n = qemu_plugin_tb_n_insns(tb);
	unsigned int h = (va ^ (va >> 20) ^ n * 7919) & (BUCKETS - 1);
	struct block *b;

	pthread_mutex_lock(&lock);
	for (b = table[h]; b; b = b->next)
		if (b->vaddr == va && b->n == n)
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			abort();
		b->vaddr = va;
		b->n = n;
		b->next = table[h];
		table[h] = b;
	}
	pthread_mutex_unlock(&lock);
	/* Counted in generated code, without a call per block. */
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, n);
}

static void done(qemu_plugin_id_t id, void *unused)
{
	FILE *f = fopen(out, "w");
	struct block *b;
	unsigned int i;

	if (!f) {
		perror(out);
		return;
	}
	for (i = 0; i < BUCKETS; i++)
		for (b = table[i]; b; b = b->next)
			if (b->count)
				fprintf(f, "%llx %llu %llu\n",
					(unsigned long long)b->vaddr,
					(unsigned long long)b->n,
					(unsigned long long)b->count);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			int argc, char **argv)
{
	if (argc > 0 && !strncmp(argv[0], "out=", 4))
		out = strdup(argv[0] + 4);
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	qemu_plugin_register_atexit_cb(id, done, NULL);
	return 0;
}
