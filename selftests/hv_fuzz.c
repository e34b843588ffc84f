// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized stress of the Hyper-V interface, checked as it runs against a
 * model of in-tree KVM plus the differences Documentation/hvenlight.rst
 * lists (lib/hvmodel.c). Each round makes a VM (1-3 vCPUs, irqchip or not,
 * Hyper-V CPUID or not, random ENFORCE_CPUID features) and drives it with
 * guest batches (lib/hvbatch.c: MSRs and hypercalls at CPL0 and CPL3, TSC
 * page reads), 32-bit hypercalls, and host KVM_GET/SET_MSRS, KVM_SET_CLOCK,
 * TSC writes, KVM_GET_SUPPORTED_HV_CPUID and KVM_ENABLE_CAP. Threaded
 * rounds run a thread per vCPU, a host-ioctl thread and one that steps the
 * clock and signals vCPU threads; half of them end by pulling every fd
 * away under KVM_RUN. Time must lie within KVM_GET_CLOCK's bracket when
 * no clock update overlapped. Partition-wide model state is under a
 * rwlock (a batch that writes it takes it exclusively), per-vCPU state
 * under a lock held across KVM_RUN: the model is exact whatever the
 * interleaving, and a run is deterministic for a seed apart from that.
 *
 *   hv_fuzz [-s SEED] [-n OPS] [-t SECONDS]   (or HVL_FUZZ_SEED/OPS/SECS)
 *
 * A mismatch prints "# MISMATCH seed=S round=R op=N: ..."; HVL_FUZZ_TRACE=R
 * prints every op of round R.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "hv.h"
#include "hvl_abi.h"
#include "reftime.h"
#include "hvmodel.h"
#include "hvbatch.h"

#define KVM_HC_UNKNOWN	0xabcdull
#define SLACK		10000		/* 1 ms in 100 ns units */

/* ---- state ---- */

static uint64_t seed, max_ops = 100000, max_secs = 90;
static atomic_ulong nops, nmis, clock_steps;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec t_start;

struct fz {
	struct kvm_vm *vm;
	int nr;
	struct kvm_vcpu *vcpu[HVM_MAXV], *pm32;
	bool threaded;
	uint64_t round, batch_gpa[HVM_MAXV];
	/* Partition-wide fields under pw, per-vCPU ones under vl[]. */
	struct hv_model m;
	pthread_rwlock_t pw;
	pthread_mutex_t vl[HVM_MAXV];
	pthread_t thr[HVM_MAXV + 2];
	atomic_long budget;
	atomic_bool stop, torn;
	atomic_ulong mis;
	/*
	 * A clock update in a threaded round: in-tree KVM can then keep a
	 * stale page (and TIME_REF_COUNT from it). A vCPU that computed its
	 * clock before a racing KVM_SET_CLOCK or masterclock update writes
	 * the page after that update asked for a rewrite, and marks it up
	 * to date. The module's page is checked always.
	 */
	atomic_bool stepped;
	/*
	 * 1 + a vCPU whose TSC the VMM wrote and that has not run since:
	 * until its entry does the masterclock update that write asks for,
	 * its TSC and the page's parameters disagree (in-tree KVM computes
	 * every TIME_REF_COUNT with vCPU 0's TSC, the module with the
	 * reader's), so no time is checked meanwhile.
	 */
	atomic_int tsc_pending;
	int cpuid_nent[HVM_MAXV + 1];
};

/* Milliseconds since the start. */
static uint64_t elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) * 1000 +
	       (t.tv_nsec - t_start.tv_nsec) / 1000000;
}

static void mismatch(struct fz *f, uint64_t op, const char *fmt, ...)
{
	va_list ap;

	if (atomic_load(&f->torn))
		return;
	atomic_fetch_add(&nmis, 1);
	atomic_fetch_add(&f->mis, 1);
	pthread_mutex_lock(&print_lock);
	printf("# MISMATCH seed=%lu round=%lu op=%lu: ", seed, f->round, op);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&print_lock);
}

static long trace_round = -1;

/* HVL_FUZZ_TRACE=R: every op of round R, to replay a mismatch. */
#define trace(f, ...) do {						\
	if ((long)(f)->round == trace_round) {				\
		pthread_mutex_lock(&print_lock);			\
		printf("# trace: " __VA_ARGS__);			\
		printf("\n");						\
		pthread_mutex_unlock(&print_lock);			\
	}								\
} while (0)

/* ---- checks ---- */

struct bracket {
	uint64_t lo, hi, steps;
};

static void bracket_open(struct fz *f, struct bracket *b)
{
	b->steps = atomic_load(&clock_steps);
	b->lo = vm_clock_ns_try(f->vm) / 100;
}

/* False when a clock step overlapped: no time can be checked. */
static bool bracket_close(struct fz *f, struct bracket *b)
{
	b->hi = vm_clock_ns_try(f->vm) / 100;
	return b->lo && b->hi && !(b->steps & 1) &&
	       atomic_load(&clock_steps) == b->steps &&
	       !atomic_load(&f->tsc_pending) &&
	       (f->m.module || !atomic_load(&f->stepped));
}

static bool in_time(const struct bracket *b, uint64_t v)
{
	return v + SLACK >= b->lo && v <= b->hi + SLACK;
}

/* ---- guest batches ---- */

/* The next guest op; its expected vector in *evec, the value returned. */
static uint64_t gen_op(struct fz *f, int k, uint64_t *s, struct gop *o,
		       bool excl, uint64_t *evec)
{
	uint32_t r = below(s, 100), msr;
	uint64_t exp;

	memset(o, 0, sizeof(*o));
	o->rax = KVM_HC_UNKNOWN;
	*evec = 0;
	if (r < 10 && (f->m.ref_tsc & 1) &&
	    (f->m.ref_tsc & HV_HYP_PAGE_MASK) == f->m.tsc_gpa &&
	    !__atomic_load_n(&f->m.page_stale, __ATOMIC_RELAXED)) {
		o->kind = K_PAGE;
		return HVM_TIME;
	}
	if (r < 30) {
		o->kind = below(s, 4) ? K_HCALL : K_HCALL_U;
		o->val = hvm_rnd_ctl(s);
		return hvm_hcall(&f->m, k, o->kind == K_HCALL_U, o->val, evec);
	}
	msr = hvm_msrs[below(s, HVM_NR_MSRS)];
	o->msr = msr;
	if (r < 40) {
		o->kind = below(s, 2) ? K_RDMSR_U : K_WRMSR_U;
		o->val = hvm_rnd_val(&f->m, s, msr);
		*evec = GP_VECTOR;
		return 0;
	}
	if (r < 70 || (hvm_partition_wide(msr) && !excl)) {
		o->kind = K_RDMSR;
		*evec = hvm_msr(&f->m, k, false, false, msr, 0, &exp) ? GP_VECTOR : 0;
		return exp;
	}
	o->kind = K_WRMSR;
	o->val = hvm_rnd_val(&f->m, s, msr);
	*evec = hvm_msr(&f->m, k, false, true, msr, o->val, &exp) ? GP_VECTOR : 0;
	return 0;
}

/* KVM_RUN until the next ucall, through signals; false when torn down. */
static bool run_to_sync(struct fz *f, struct kvm_vcpu *vcpu, uint64_t op)
{
	struct kvm_regs regs;
	struct ucall uc = {};
	char buf[256];
	int r;

	do {
		r = ioctl(vcpu->fd, KVM_RUN, 0);
	} while (r < 0 && errno == EINTR && !atomic_load(&f->torn));
	if (atomic_load(&f->torn))
		return false;
	if (r < 0) {
		mismatch(f, op, "vCPU %u: KVM_RUN failed, errno %d", vcpu->id, errno);
		return false;
	}
	/* A GUEST_SYNC, read without asserting: the fds may go meanwhile. */
	if (vcpu->run->exit_reason == KVM_EXIT_IO &&
	    vcpu->run->io.port == UCALL_PORT) {
		if (ioctl(vcpu->fd, KVM_GET_REGS, &regs)) {
			mismatch(f, op, "KVM_GET_REGS: errno %d", errno);
			return false;
		}
		if (((struct guest_ucall *)addr_gpa2hva(f->vm, regs.rdi,
				sizeof(struct guest_ucall)))->kind == UCALL_SYNC)
			return true;
	}
	if (vcpu_get_ucall(vcpu, &uc) != UCALL_SYNC) {
		mismatch(f, op, "vCPU %u: no sync: %s %s", vcpu->id,
			 vcpu_exit_str(vcpu, buf, sizeof(buf)), uc.msg);
		return false;
	}
	return true;
}

static void check_op(struct fz *f, int k, uint64_t op, const struct gop *o,
		     uint64_t exp, uint64_t evec, const struct bracket *br,
		     bool timed, uint64_t *last)
{
	bool hc = o->kind == K_HCALL || o->kind == K_HCALL_U;
	uint64_t want = exp == HVM_KEEP ? KVM_HC_UNKNOWN : exp;

	if (o->vec != evec || (hc && o->out != want)) {
		mismatch(f, op, "vCPU %d %s %#x %#lx: vector %lu value %#lx, expected %lu %#lx",
			 k, hvb_kind_name[o->kind], o->msr, o->val, o->vec, o->out,
			 evec, hc ? want : 0);
		return;
	}
	if (hc || o->vec || (o->kind != K_RDMSR && o->kind != K_PAGE))
		return;
	if (exp != HVM_TIME) {
		if (o->out != exp && !hvm_tpr_synced(o->msr, o->out, exp))
			mismatch(f, op, "vCPU %d rdmsr %#x: %#lx, expected %#lx",
				 k, o->msr, o->out, exp);
		return;
	}
	if (o->kind == K_PAGE && !o->out)
		return;		/* an invalid page is never wrong */
	if (timed && (!in_time(br, o->out) || o->out + SLACK < *last))
		mismatch(f, op, "vCPU %d %s %#x: time %lu outside [%lu, %lu] or before %lu",
			 k, hvb_kind_name[o->kind], o->msr, o->out, br->lo, br->hi, *last);
	if (o->out > *last)
		*last = o->out;
}

static bool run_batch(struct fz *f, int k, uint64_t *s)
{
	struct gbatch *b = addr_gpa2hva(f->vm, f->batch_gpa[k], sizeof(*b));
	uint64_t exp[HVB_MAX], evec[HVB_MAX], base, last = 0, i, n;
	bool excl = !below(s, 8), timed, ok;
	struct bracket br;

	if (excl)
		pthread_rwlock_wrlock(&f->pw);
	else
		pthread_rwlock_rdlock(&f->pw);
	pthread_mutex_lock(&f->vl[k]);
	atomic_compare_exchange_strong(&f->tsc_pending, &(int){ k + 1 }, 0);
	/* This vCPU's entry refreshes the page (in-tree, after a VMM write). */
	if (__atomic_load_n(&f->m.page_stale, __ATOMIC_RELAXED) == k + 1)
		__atomic_store_n(&f->m.page_stale, 0, __ATOMIC_RELAXED);
	n = 1 + below(s, HVB_MAX);
	base = atomic_fetch_add(&nops, n);
	atomic_fetch_sub(&f->budget, n);
	for (i = 0; i < n; i++)
		exp[i] = gen_op(f, k, s, &b->op[i], excl, &evec[i]);
	b->n = n;
	bracket_open(f, &br);
	ok = run_to_sync(f, f->vcpu[k], base);
	timed = ok && bracket_close(f, &br);
	for (i = 0; ok && i < n; i++) {
		trace(f, "op %lu vCPU %d %s %#x %#lx -> %lu %#lx", base + i, k,
		      hvb_kind_name[b->op[i].kind], b->op[i].msr, b->op[i].val,
		      b->op[i].vec, b->op[i].out);
		check_op(f, k, base + i, &b->op[i], exp[i], evec[i], &br,
			 timed, &last);
	}
	pthread_mutex_unlock(&f->vl[k]);
	pthread_rwlock_unlock(&f->pw);
	return ok;
}

/* A 32-bit hypercall from the protected-mode vCPU (its model: vCPU 0's). */
static void run_pm32(struct fz *f, uint64_t *s)
{
	uint64_t ctl = hvm_rnd_ctl(s), vec, exp, got, op;
	struct hv_vmodel saved;
	struct kvm_regs regs;
	bool owned;

	pthread_rwlock_rdlock(&f->pw);
	op = atomic_fetch_add(&nops, 1);
	atomic_fetch_sub(&f->budget, 1);
	owned = f->m.hv && f->m.os_id;
	/* The protected-mode vCPU is vCPU 0 without enforcement. */
	saved = f->m.v[0];
	f->m.v[0].enforce = false;
	exp = hvm_hcall(&f->m, 0, false, ctl, &vec);
	f->m.v[0] = saved;
	vcpu_regs_get(f->pm32, &regs);
	regs.rip = (uint64_t)(hvb_amd ? hvb32_vmmcall : hvb32_vmcall);
	regs.rax = owned ? (uint32_t)ctl : KVM_HC_UNKNOWN;
	regs.rdx = ctl >> 32;
	vcpu_regs_set(f->pm32, &regs);
	if (vcpu_run_raw(f->pm32) != KVM_EXIT_IO) {
		mismatch(f, op, "32-bit hypercall %#lx: no I/O exit", ctl);
		goto out;
	}
	vcpu_regs_get(f->pm32, &regs);
	got = regs.rdx << 32 | (uint32_t)regs.rax;
	if (!owned)	/* KVM's: EAX = -KVM_ENOSYS, EDX untouched */
		exp = (ctl >> 32) << 32 | (uint32_t)-1000;
	if (got != exp)
		mismatch(f, op, "32-bit hypercall %#lx: EDX:EAX %#lx, expected %#lx",
			 ctl, got, exp);
out:
	pthread_rwlock_unlock(&f->pw);
}

/* ---- host ops ---- */

static void host_msr(struct fz *f, uint64_t *s)
{
	int k = below(s, f->nr), r;
	uint32_t msr = hvm_msrs[below(s, HVM_NR_VALID)];
	bool wr = below(s, 3) == 0, pw = wr && hvm_partition_wide(msr);
	uint64_t v = hvm_rnd_val(&f->m, s, msr), exp, got = 0, op;
	struct bracket br;
	bool refused, timed;

	if (pw)
		pthread_rwlock_wrlock(&f->pw);
	else
		pthread_rwlock_rdlock(&f->pw);
	pthread_mutex_lock(&f->vl[k]);
	op = atomic_fetch_add(&nops, 1);
	atomic_fetch_sub(&f->budget, 1);
	refused = hvm_msr(&f->m, k, true, wr, msr, v, &exp);
	bracket_open(f, &br);
	r = wr ? vcpu_set_msr(f->vcpu[k], msr, v) : vcpu_get_msr(f->vcpu[k], msr, &got);
	timed = bracket_close(f, &br);
	trace(f, "op %lu vCPU %d host %s %#x %#lx -> %d %#lx", op, k,
	      wr ? "set" : "get", msr, v, r, got);
	if (r < 0 && atomic_load(&f->torn))
		goto out;
	if (r != !refused)
		mismatch(f, op, "vCPU %d host %s %#x %#lx: %d, expected %d",
			 k, wr ? "KVM_SET_MSRS" : "KVM_GET_MSRS", msr, v, r, !refused);
	else if (!wr && r == 1 && exp == HVM_TIME && timed && !in_time(&br, got))
		mismatch(f, op, "vCPU %d host KVM_GET_MSRS %#x: time %lu outside [%lu, %lu]",
			 k, msr, got, br.lo, br.hi);
	else if (!wr && r == 1 && exp != HVM_TIME && got != exp &&
		 !hvm_tpr_synced(msr, got, exp))
		mismatch(f, op, "vCPU %d host KVM_GET_MSRS %#x: %#lx, expected %#lx",
			 k, msr, got, exp);
out:
	pthread_mutex_unlock(&f->vl[k]);
	pthread_rwlock_unlock(&f->pw);
}

/* A clock step or a guest TSC write: no time is checked across it. */
static void host_clock(struct fz *f, uint64_t *s)
{
	int k = below(s, f->nr);
	uint64_t op = atomic_fetch_add(&nops, 1), tsc;

	atomic_fetch_sub(&f->budget, 1);
	atomic_fetch_add(&clock_steps, 1);
	atomic_store(&f->stepped, f->threaded);
	if (below(s, 3)) {
		/* Keep KVM's clock positive: at least 20 s, at most an hour. */
		uint64_t now = vm_clock_ns_try(f->vm);
		int64_t d = (int64_t)below(s, 6000000000ull) - 3000000000ll;

		if (now + d < 20000000000ull || now + d > 3600000000000ull)
			d = 20000000000ll + below(s, 1000000000) - now;
		trace(f, "op %lu KVM_SET_CLOCK %+ld", op, d);
		/* In-tree KVM: every vCPU's next entry refreshes the page. */
		__atomic_store_n(&f->m.page_stale, 0, __ATOMIC_RELAXED);
		if (vm_set_clock_abs(f->vm, now + d) && !atomic_load(&f->torn))
			mismatch(f, op, "KVM_SET_CLOCK %lu: errno %d", now + d, errno);
	} else {
		pthread_mutex_lock(&f->vl[k]);
		trace(f, "op %lu vCPU %d TSC write", op, k);
		if (vcpu_get_msr(f->vcpu[k], 0x10, &tsc) == 1)
			vcpu_set_msr(f->vcpu[k], 0x10, tsc);
		atomic_store(&f->tsc_pending, k + 1);
		pthread_mutex_unlock(&f->vl[k]);
	}
	atomic_fetch_add(&clock_steps, 1);
}

static void host_ioctl(struct fz *f, uint64_t *s)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[64];
	} cp;
	int k = below(s, f->nr), r, fd, idx;
	uint64_t op = atomic_fetch_add(&nops, 1);
	bool small = !below(s, 4);

	atomic_fetch_sub(&f->budget, 1);
	if (below(s, 2)) {
		/* KVM_ENABLE_CAP(ENFORCE_CPUID): takes effect on the next access. */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_HYPERV_ENFORCE_CPUID,
					      .args[0] = below(s, 2) };
		bool bad = !below(s, 8);

		cap.flags = bad;
		pthread_mutex_lock(&f->vl[k]);
		r = ioctl(f->vcpu[k]->fd, KVM_ENABLE_CAP, &cap);
		if (!atomic_load(&f->torn) && (bad ? !(r == -1 && errno == EINVAL) : r))
			mismatch(f, op, "vCPU %d ENFORCE_CPUID(%llu, flags %d): %d errno %d",
				 k, cap.args[0], bad, r, errno);
		if (!bad && !r)
			f->m.v[k].enforce = cap.args[0];
		pthread_mutex_unlock(&f->vl[k]);
		return;
	}
	idx = below(s, 2) ? k + 1 : 0;
	fd = idx ? f->vcpu[k]->fd : kvm_fd();
	memset(&cp, 0, sizeof(cp));
	cp.c.nent = small ? 1 : 64;
	r = ioctl(fd, KVM_GET_SUPPORTED_HV_CPUID, &cp);
	if (atomic_load(&f->torn))
		return;
	if (small ? !(r == -1 && errno == E2BIG) : r)
		mismatch(f, op, "KVM_GET_SUPPORTED_HV_CPUID on %s, nent %u: %d errno %d",
			 idx ? "a vCPU" : "/dev/kvm", small ? 1 : 64, r, errno);
	else if (!small && f->cpuid_nent[idx] && (int)cp.c.nent != f->cpuid_nent[idx])
		mismatch(f, op, "KVM_GET_SUPPORTED_HV_CPUID: %u entries, first %d",
			 cp.c.nent, f->cpuid_nent[idx]);
	else if (!small)
		f->cpuid_nent[idx] = cp.c.nent;
}

static void host_op(struct fz *f, uint64_t *s)
{
	uint32_t r = below(s, 100);

	if (r < 60)
		host_msr(f, s);
	else if (r < 75)
		host_clock(f, s);
	else
		host_ioctl(f, s);
}

/* ---- rounds ---- */

struct targ {
	struct fz *f;
	int k;		/* vCPU index, or HVM_MAXV (host ops), HVM_MAXV + 1 (chaos) */
	uint64_t s;
};

static void sigusr1(int sig)
{
	(void)sig;
}

static void *worker(void *p)
{
	struct targ *t = p;
	struct fz *f = t->f;

	while (!atomic_load(&f->stop) && atomic_load(&f->budget) > 0) {
		if (t->k < f->nr) {
			if (!run_batch(f, t->k, &t->s))
				break;
		} else if (t->k == HVM_MAXV) {
			/* At about the pace of guest batches under TCG. */
			usleep(50 + below(&t->s, 500));
			host_op(f, &t->s);
		} else {
			/* Chaos: kick a vCPU thread out of KVM_RUN, or step the clock. */
			usleep(200 + below(&t->s, 2000));
			if (below(&t->s, 8)) {
				atomic_fetch_add(&nops, 1);
				pthread_kill(f->thr[below(&t->s, f->nr)], SIGUSR1);
			} else {
				host_clock(f, &t->s);
			}
		}
	}
	atomic_store(&f->stop, true);
	return NULL;
}

/* With the in-kernel LAPIC, APs would wait for INIT/SIPI. */
static void make_runnable(struct fz *f, struct kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

	if (f->m.irqchip && vcpu->id)
		TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp), "MP state");
}

static struct fz *round_create(uint64_t *s, uint64_t round, bool threaded)
{
	struct kvm_cpuid_entry2 leaf[HVL_CPUID_NR_LEAVES];
	struct fz *f = calloc(1, sizeof(*f));
	int k;

	TEST_ASSERT(f, "calloc");
	f->round = round;
	f->threaded = threaded;
	f->nr = 1 + below(s, HVM_MAXV);
	f->m.module = hv_env == HV_MODULE;
	f->m.irqchip = below(s, 3);
	f->m.hv = below(s, 8);
	f->vm = vm_create(0, f->m.irqchip ? VM_IRQCHIP : 0);
	f->m.mem_size = f->vm->mem_size;
	f->m.hc_gpa = vm_alloc(f->vm, HVL_PAGE_SIZE);
	f->m.tsc_gpa = vm_alloc(f->vm, HVL_PAGE_SIZE);
	f->m.assist_gpa = vm_alloc(f->vm, HVM_MAXV * HVL_PAGE_SIZE);
	pthread_rwlock_init(&f->pw, NULL);
	hv_leaves(leaf);
	for (k = 0; k < f->nr; k++) {
		struct hv_vmodel *m = &f->m.v[k];

		pthread_mutex_init(&f->vl[k], NULL);
		f->batch_gpa[k] = vm_alloc(f->vm, sizeof(struct gbatch));
		f->vcpu[k] = vm_vcpu_add(f->vm, hvb_guest);
		vcpu_args_set(f->vcpu[k], 2, f->batch_gpa[k], f->m.tsc_gpa);
		m->vp_index = k;
		m->feat = below(s, 2) ? HVM_FEATURES : rnd(s) & HVM_FEATURES;
		m->retries = below(s, 3) ? 0xfff : below(s, 2) ? 0 : ~0u;
		if (f->m.hv) {
			leaf[3].eax = m->feat;
			leaf[4].ebx = m->retries;
			vcpu_set_hv_leaves(f->vcpu[k], leaf);
			m->enforce = !below(s, 3);
			if (m->enforce)
				TEST_ASSERT(!vcpu_enable_cap(f->vcpu[k], KVM_CAP_HYPERV_ENFORCE_CPUID, 1),
					    "ENFORCE_CPUID");
		}
		make_runnable(f, f->vcpu[k]);
		TEST_ASSERT_EQ(vcpu_run(f->vcpu[k], NULL), UCALL_SYNC);
	}
	if (!threaded && f->m.hv) {
		f->pm32 = vm_vcpu_add(f->vm, NULL);
		hv_leaves(leaf);
		vcpu_set_hv_leaves(f->pm32, leaf);
		vcpu_set_pm32(f->pm32, (uint64_t)hvb32_vmcall);
		make_runnable(f, f->pm32);
	}
	if (f->m.hv && below(s, 4)) {
		f->m.os_id = HVM_OS_ID;
		vcpu_wrmsr(f->vcpu[0], HV_X64_MSR_GUEST_OS_ID, HVM_OS_ID);
	}
	if (f->m.hv && below(s, 2)) {
		f->m.ref_tsc = f->m.tsc_gpa | 1;
		vcpu_wrmsr(f->vcpu[0], HV_X64_MSR_REFERENCE_TSC, f->m.ref_tsc);
	}
	atomic_store(&f->budget, 200 + below(s, 3000));
	return f;
}

static void round_free(struct fz *f)
{
	int k;

	vm_free(f->vm);
	for (k = 0; k < f->nr; k++)
		pthread_mutex_destroy(&f->vl[k]);
	pthread_rwlock_destroy(&f->pw);
	free(f);
}

/* Everything from one thread, in an order the seed decides. */
static void round_serial(struct fz *f, uint64_t *s)
{
	while (atomic_load(&f->budget) > 0) {
		uint32_t r = below(s, 100);

		if (r < 70) {
			if (!run_batch(f, below(s, f->nr), s))
				break;
		} else if (r < 80 && f->pm32) {
			run_pm32(f, s);
		} else {
			host_op(f, s);
		}
	}
}

/*
 * A thread per vCPU, one for host ioctls, one for chaos. Half the time,
 * pull every fd away while they run: KVM then destroys the VM when the
 * last KVM_RUN returns.
 */
static void round_threaded(struct fz *f, uint64_t *s, bool teardown)
{
	struct targ t[HVM_MAXV + 2];
	int i, n = 0, devnull;

	for (i = 0; i < HVM_MAXV + 2; i++) {
		if (i >= f->nr && i < HVM_MAXV)
			continue;
		t[n] = (struct targ){ .f = f, .k = i, .s = rnd(s) | 1 };
		TEST_ASSERT(!pthread_create(&f->thr[i], NULL, worker, &t[n]), "pthread_create");
		n++;
	}
	if (teardown) {
		while (atomic_load(&f->budget) > 100 && !atomic_load(&f->stop))
			usleep(1000);
		atomic_store(&f->torn, true);
		devnull = open("/dev/null", O_RDWR);
		for (i = 0; i < f->nr; i++)
			dup2(devnull, f->vcpu[i]->fd);
		dup2(devnull, f->vm->fd);
		close(devnull);
	}
	for (i = 0; i < HVM_MAXV + 2; i++) {
		if (i >= f->nr && i < HVM_MAXV)
			continue;
		if (teardown && i < f->nr)	/* out of KVM_RUN */
			pthread_kill(f->thr[i], SIGUSR1);
		pthread_join(f->thr[i], NULL);
	}
}

static uint64_t arg_u64(int argc, char **argv, const char *opt,
			const char *env, uint64_t def)
{
	const char *v = getenv(env);
	int i;

	for (i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], opt))
			v = argv[i + 1];
	return v ? strtoull(v, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = sigusr1 };
	uint64_t s, round = 0, rounds[2] = {}, ops[2] = {}, mis[2] = {};
	unsigned long before, ms;
	bool threaded;
	struct fz *f;

	seed = arg_u64(argc, argv, "-s", "HVL_FUZZ_SEED", 1);
	max_ops = arg_u64(argc, argv, "-n", "HVL_FUZZ_OPS", max_ops);
	max_secs = arg_u64(argc, argv, "-t", "HVL_FUZZ_SECS", max_secs);
	trace_round = getenv("HVL_FUZZ_TRACE") ? atol(getenv("HVL_FUZZ_TRACE")) : -1;
	kvm_require();
	hv_env_init();
	hvl_set_timeout(max_secs + 300);
	hold_kvm_open();
	if (hv_env == HV_PLAIN)
		tap_skip_all(NO_MODULE);
	tap_diag("seed %lu, up to %lu ops or %lu s", seed, max_ops, max_secs);
	sigaction(SIGUSR1, &sa, NULL);
	hvb_amd = hvb_is_amd();
	s = seed * 2654435761u + 1;
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	while (atomic_load(&nops) < max_ops && elapsed() < max_secs * 1000) {
		threaded = round & 1;
		f = round_create(&s, round, threaded);
		sync_global_to_guest(f->vm, hvb_amd);
		before = atomic_load(&nops);
		if (getenv("HVL_FUZZ_VERBOSE"))
			tap_diag("round %lu: %s, %d vCPUs, irqchip %d, hv %d",
				 round, threaded ? "threaded" : "serial", f->nr,
				 f->m.irqchip, f->m.hv);
		if (threaded)
			round_threaded(f, &s, below(&s, 2));
		else
			round_serial(f, &s);
		ops[threaded] += atomic_load(&nops) - before;
		mis[threaded] += atomic_load(&f->mis);
		rounds[threaded]++;
		round_free(f);
		round++;
	}
	tap_ok(ops[0] && !mis[0], "serial rounds: %lu rounds, %lu ops, %lu mismatches",
	       rounds[0], ops[0], mis[0]);
	tap_ok(ops[1] && !mis[1], "threaded rounds: %lu rounds, %lu ops, %lu mismatches",
	       rounds[1], ops[1], mis[1]);
	ms = elapsed() ?: 1;
	tap_ok(!nmis, "%lu ops in %lu.%03lu s (%lu ops/s), %lu mismatches, seed %lu",
	       atomic_load(&nops), ms / 1000, ms % 1000,
	       atomic_load(&nops) * 1000 / ms, atomic_load(&nmis), seed);
	return tap_done();
}
