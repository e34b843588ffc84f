// SPDX-License-Identifier: GPL-2.0
/*
 * Host side: create VMs and vCPUs, load the test binary into guest memory,
 * build long-mode tables, run vCPUs and decode ucalls.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_util.h"

#define PAGE_2M			(2ULL << 20)
#define PTE_P			(1ULL << 0)
#define PTE_RW			(1ULL << 1)
#define PTE_US			(1ULL << 2)
#define PTE_PS			(1ULL << 7)

#define KERNEL_STACK_SIZE	(64 * 1024)
#define RSP0_STACK_SIZE		(16 * 1024)
#define IST_STACK_SIZE		(8 * 1024)
#define USER_STACK_SIZE		(64 * 1024)

extern char hvl_idt_stubs[];
extern char hvl_guest_return[];
extern guest_handler_t hvl_handlers[256];

static int kvm_dev_fd = -1;
static pthread_once_t kvm_once = PTHREAD_ONCE_INIT;

static void kvm_open(void)
{
	kvm_dev_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

int kvm_fd(void)
{
	pthread_once(&kvm_once, kvm_open);
	TEST_ASSERT(kvm_dev_fd >= 0, "open /dev/kvm");
	return kvm_dev_fd;
}

void kvm_require(void)
{
	int ver;

	pthread_once(&kvm_once, kvm_open);
	if (kvm_dev_fd < 0)
		tap_skip_all("cannot open /dev/kvm: %s", strerror(errno));
	ver = ioctl(kvm_dev_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION)
		tap_skip_all("KVM API version %d, want %d", ver, KVM_API_VERSION);
}

int kvm_check_cap(long cap)
{
	return ioctl(kvm_fd(), KVM_CHECK_EXTENSION, cap);
}

void kvm_require_cap(long cap)
{
	if (kvm_check_cap(cap) <= 0)
		tap_skip_all("KVM lacks capability %ld", cap);
}

static struct kvm_cpuid2 *cpuid_alloc(unsigned int nent)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
	TEST_ASSERT(c, "calloc");
	c->nent = nent;
	return c;
}

static struct kvm_cpuid2 *supported_cpuid;
static pthread_mutex_t cpuid_lock = PTHREAD_MUTEX_INITIALIZER;

const struct kvm_cpuid2 *kvm_supported_cpuid(void)
{
	unsigned int nent;
	int r;

	pthread_mutex_lock(&cpuid_lock);
	/* KVM says E2BIG until the array is large enough. */
	for (nent = 64; !supported_cpuid; nent *= 2) {
		struct kvm_cpuid2 *c = cpuid_alloc(nent);

		r = ioctl(kvm_fd(), KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0) {
			supported_cpuid = c;
			break;
		}
		free(c);
		TEST_ASSERT(errno == E2BIG && nent < 4096,
			    "KVM_GET_SUPPORTED_CPUID");
	}
	pthread_mutex_unlock(&cpuid_lock);
	return supported_cpuid;
}

/* ---- guest memory ---- */

void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa, uint64_t len)
{
	TEST_ASSERT(gpa < vm->mem_size && len <= vm->mem_size - gpa,
		    "GPA range %#lx+%#lx is outside guest memory (%#lx bytes)",
		    gpa, len, vm->mem_size);
	return vm->mem + gpa;
}

uint64_t vm_alloc(struct kvm_vm *vm, uint64_t size)
{
	uint64_t gpa = vm->alloc_next;

	size = (size + HVL_PAGE_SIZE - 1) & ~(HVL_PAGE_SIZE - 1);
	TEST_ASSERT(size <= vm->mem_size - gpa,
		    "guest memory exhausted (%#lx bytes wanted at %#lx)",
		    size, gpa);
	vm->alloc_next += size;
	memset(vm->mem + gpa, 0, size);
	return gpa;
}

/* Is fd the ELF file this process runs?  Its header must match the auxv. */
static bool is_self(int fd, Elf64_Ehdr *eh)
{
	return pread(fd, eh, sizeof(*eh), 0) == sizeof(*eh) &&
	       !memcmp(eh->e_ident, ELFMAG, SELFMAG) &&
	       eh->e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh->e_entry == getauxval(AT_ENTRY) &&
	       eh->e_phnum == getauxval(AT_PHNUM);
}

/*
 * Open our own executable: /proc/self/exe, or else the name it was started
 * with (AT_EXECFN).  The fallback is for 9p roots where /proc/self/exe can
 * name a different file (seen with the nohv test kernel).  Returns -1 if
 * neither is our binary.
 */
static int open_self(Elf64_Ehdr *eh)
{
	const char *names[] = {
		"/proc/self/exe", (const char *)getauxval(AT_EXECFN),
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		int fd = names[i] ? open(names[i], O_RDONLY | O_CLOEXEC) : -1;

		if (fd >= 0 && is_self(fd, eh))
			return fd;
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

/*
 * Copy the PT_LOAD segments of our own executable to GPA == vaddr.  The
 * binary must be static and non-PIE so those addresses are fixed and no
 * dynamic relocations are needed.
 */
static void load_self(struct kvm_vm *vm)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t end = 0;
	int fd, i;

	fd = open_self(&eh);
	TEST_ASSERT(fd >= 0,
		    "cannot open this program's ELF file (/proc/self/exe or %s)",
		    (const char *)getauxval(AT_EXECFN));
	TEST_ASSERT(eh.e_type == ET_EXEC,
		    "the test must be linked -static -no-pie (ELF type %d)",
		    eh.e_type);

	for (i = 0; i < eh.e_phnum; i++) {
		TEST_ASSERT(pread(fd, &ph, sizeof(ph),
				  eh.e_phoff + i * eh.e_phentsize) == sizeof(ph),
			    "read program header %d", i);
		TEST_ASSERT(ph.p_type != PT_INTERP && ph.p_type != PT_DYNAMIC,
			    "the test must be linked -static");
		if (ph.p_type != PT_LOAD)
			continue;
		TEST_ASSERT(ph.p_vaddr + ph.p_memsz <= vm->mem_size,
			    "segment %#lx+%#lx does not fit in guest memory",
			    ph.p_vaddr, ph.p_memsz);
		TEST_ASSERT(pread(fd, vm->mem + ph.p_vaddr, ph.p_filesz,
				  ph.p_offset) == (ssize_t)ph.p_filesz,
			    "read segment %d", i);
		memset(vm->mem + ph.p_vaddr + ph.p_filesz, 0,
		       ph.p_memsz - ph.p_filesz);
		if (ph.p_vaddr + ph.p_memsz > end)
			end = ph.p_vaddr + ph.p_memsz;
	}
	close(fd);
	vm->alloc_next = (end + HVL_PAGE_SIZE - 1) & ~(HVL_PAGE_SIZE - 1);
}

/* Identity map max(4 GiB, memory) with 2 MiB pages, U/S set everywhere. */
static void setup_page_tables(struct kvm_vm *vm)
{
	uint64_t span = vm->mem_size > (4ULL << 30) ? vm->mem_size : 4ULL << 30;
	uint64_t nr_pd = (span + (1ULL << 30) - 1) >> 30;
	uint64_t *pml4, *pdpt, *pd, pdpt_gpa, pd_gpa, i;

	TEST_ASSERT(nr_pd <= 512, "guest memory too large");
	vm->pml4 = vm_alloc(vm, HVL_PAGE_SIZE);
	pdpt_gpa = vm_alloc(vm, HVL_PAGE_SIZE);
	pd_gpa = vm_alloc(vm, nr_pd * HVL_PAGE_SIZE);
	pml4 = addr_gpa2hva(vm, vm->pml4, HVL_PAGE_SIZE);
	pdpt = addr_gpa2hva(vm, pdpt_gpa, HVL_PAGE_SIZE);
	pd = addr_gpa2hva(vm, pd_gpa, nr_pd * HVL_PAGE_SIZE);

	pml4[0] = pdpt_gpa | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < nr_pd; i++)
		pdpt[i] = (pd_gpa + i * HVL_PAGE_SIZE) | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < nr_pd * 512; i++)
		pd[i] = i * PAGE_2M | PTE_P | PTE_RW | PTE_US | PTE_PS;
}

/* Flat segments with the accessed bit set so the CPU never writes the GDT. */
#define GDT_CODE64(dpl)	(0x00af9b0000000000ULL | (uint64_t)(dpl) << 45 | 0xffff)
#define GDT_CODE32(dpl)	(0x00cf9b0000000000ULL | (uint64_t)(dpl) << 45 | 0xffff)
#define GDT_DATA(dpl)	(0x00cf930000000000ULL | (uint64_t)(dpl) << 45 | 0xffff)

static void setup_gdt_idt(struct kvm_vm *vm)
{
	uint64_t *gdt, *idt;
	int v;

	vm->gdt = vm_alloc(vm, HVL_PAGE_SIZE);
	gdt = addr_gpa2hva(vm, vm->gdt, HVL_PAGE_SIZE);
	gdt[KERNEL_CS / 8] = GDT_CODE64(0);
	gdt[KERNEL_DS / 8] = GDT_DATA(0);
	gdt[KERNEL_CS32 / 8] = GDT_CODE32(0);
	gdt[USER_CS32 / 8] = GDT_CODE32(3);
	gdt[USER_DS / 8] = GDT_DATA(3);
	gdt[USER_CS / 8] = GDT_CODE64(3);
	/* TSS descriptors are filled in by vm_vcpu_add(). */

	vm->idt = vm_alloc(vm, HVL_PAGE_SIZE);
	idt = addr_gpa2hva(vm, vm->idt, HVL_PAGE_SIZE);
	for (v = 0; v < 256; v++) {
		uint64_t addr = (uint64_t)hvl_idt_stubs + v * 16;
		/* #BP and our return gate may be raised by int3/int at CPL3. */
		uint64_t dpl = (v == BP_VECTOR || v == USER_RET_VECTOR) ? 3 : 0;
		/* #DF gets its own stack (IST1) so a stack overflow is reported. */
		uint64_t ist = v == DF_VECTOR ? 1 : 0;

		idt[2 * v] = (addr & 0xffff) | (uint64_t)KERNEL_CS << 16 |
			     ist << 32 | (0x8eULL | dpl << 5) << 40 |
			     (addr >> 16 & 0xffff) << 48;
		idt[2 * v + 1] = addr >> 32;
	}
}

void vm_install_handler(struct kvm_vm *vm, int vector, guest_handler_t handler)
{
	guest_handler_t *h = addr_gpa2hva(vm, (uint64_t)&hvl_handlers[vector & 0xff],
					  sizeof(*h));

	*h = handler;
}

struct kvm_vm *vm_create(uint64_t mem_size, unsigned int flags)
{
	struct kvm_userspace_memory_region region;
	struct kvm_vm *vm;
	int r;

	hvl_default_timeout();

	vm = calloc(1, sizeof(*vm));
	TEST_ASSERT(vm, "calloc");
	vm->mem_size = mem_size ? mem_size : HVL_DEFAULT_MEM;
	TEST_ASSERT(!(vm->mem_size & (PAGE_2M - 1)),
		    "guest memory size must be a multiple of 2 MiB");
	vm->flags = flags;

	vm->fd = ioctl(kvm_fd(), KVM_CREATE_VM, 0);
	TEST_ASSERT(vm->fd >= 0, "KVM_CREATE_VM");

	vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(vm->mem != MAP_FAILED, "mmap %#lx bytes of guest memory",
		    vm->mem_size);
	region = (struct kvm_userspace_memory_region) {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem_size,
		.userspace_addr = (uint64_t)vm->mem,
	};
	r = ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region);
	TEST_ASSERT(r == 0, "KVM_SET_USER_MEMORY_REGION");

	if (flags & VM_IRQCHIP) {
		r = ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0);
		TEST_ASSERT(r == 0, "KVM_CREATE_IRQCHIP");
	}

	load_self(vm);
	setup_page_tables(vm);
	setup_gdt_idt(vm);
	return vm;
}

struct kvm_vm *vm_create_with_vcpus(unsigned int nr, void *guest_code,
				    struct kvm_vcpu **vcpus)
{
	struct kvm_vm *vm = vm_create(0, 0);
	unsigned int i;

	for (i = 0; i < nr; i++)
		vcpus[i] = vm_vcpu_add(vm, guest_code);
	return vm;
}

void vm_free(struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct kvm_vcpu *vcpu = vm->vcpus[i];

		munmap(vcpu->run, vcpu->run_size);
		close(vcpu->fd);
		free(vcpu->cpuid);
		free(vcpu);
	}
	close(vm->fd);
	munmap(vm->mem, vm->mem_size);
	free(vm);
}

int vm_check_cap(struct kvm_vm *vm, long cap)
{
	return ioctl(vm->fd, KVM_CHECK_EXTENSION, cap);
}

int vm_enable_cap(struct kvm_vm *vm, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };

	return ioctl(vm->fd, KVM_ENABLE_CAP, &c);
}

int vcpu_enable_cap(struct kvm_vcpu *vcpu, uint32_t cap, uint64_t arg0)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg0 } };

	return ioctl(vcpu->fd, KVM_ENABLE_CAP, &c);
}

/* ---- vCPUs ---- */

void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_REGS, regs), "KVM_GET_REGS");
}

void vcpu_regs_set(struct kvm_vcpu *vcpu, const struct kvm_regs *regs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_REGS, regs), "KVM_SET_REGS");
}

void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_GET_SREGS, sregs), "KVM_GET_SREGS");
}

static uint8_t tr_type(void);

void vcpu_sregs_set(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	struct kvm_sregs s = *sregs;

	/* KVM on SVM reports TR as busy; undo that for our own TSS. */
	if (s.tr.base == vcpu->tss && (s.tr.type & ~2) == 9)
		s.tr.type = tr_type();
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_SET_SREGS, &s), "KVM_SET_SREGS");
}

int vcpu_get_msr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t *val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = msr };
	int r;

	r = ioctl(vcpu->fd, KVM_GET_MSRS, &m);
	*val = m.e.data;
	return r;
}

int vcpu_set_msr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} m = { .hdr.nmsrs = 1, .e.index = msr, .e.data = val };

	return ioctl(vcpu->fd, KVM_SET_MSRS, &m);
}

uint64_t vcpu_rdmsr(struct kvm_vcpu *vcpu, uint32_t msr)
{
	uint64_t val;
	int r = vcpu_get_msr(vcpu, msr, &val);

	TEST_ASSERT(r == 1, "KVM_GET_MSRS(%#x) returned %d", msr, r);
	return val;
}

void vcpu_wrmsr(struct kvm_vcpu *vcpu, uint32_t msr, uint64_t val)
{
	int r = vcpu_set_msr(vcpu, msr, val);

	TEST_ASSERT(r == 1, "KVM_SET_MSRS(%#x, %#lx) returned %d", msr, val, r);
}

struct kvm_cpuid_entry2 *vcpu_cpuid_entry(struct kvm_vcpu *vcpu,
					  uint32_t function, uint32_t index)
{
	unsigned int i;

	for (i = 0; i < vcpu->cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &vcpu->cpuid->entries[i];

		if (e->function == function &&
		    (e->index == index ||
		     !(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX)))
			return e;
	}
	return NULL;
}

int __vcpu_set_cpuid(struct kvm_vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_SET_CPUID2, vcpu->cpuid);
}

void vcpu_set_cpuid(struct kvm_vcpu *vcpu)
{
	TEST_ASSERT(!__vcpu_set_cpuid(vcpu),
		    "KVM_SET_CPUID2 (it fails after the first KVM_RUN)");
}

void vcpu_set_cpuid_entry(struct kvm_vcpu *vcpu,
			  const struct kvm_cpuid_entry2 *entry)
{
	struct kvm_cpuid_entry2 *e = vcpu_cpuid_entry(vcpu, entry->function,
						      entry->index);

	if (!e) {
		struct kvm_cpuid2 *c = cpuid_alloc(vcpu->cpuid->nent + 1);

		memcpy(c->entries, vcpu->cpuid->entries,
		       vcpu->cpuid->nent * sizeof(c->entries[0]));
		free(vcpu->cpuid);
		vcpu->cpuid = c;
		e = &c->entries[c->nent - 1];
	}
	*e = *entry;
	vcpu_set_cpuid(vcpu);
}

void vcpu_set_cpuid_first(struct kvm_vcpu *vcpu,
			  const struct kvm_cpuid_entry2 *entries, unsigned int n)
{
	struct kvm_cpuid2 *c = cpuid_alloc(n + vcpu->cpuid->nent);
	unsigned int i, j, nent = n;

	memcpy(c->entries, entries, n * sizeof(*entries));
	for (i = 0; i < vcpu->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vcpu->cpuid->entries[i];

		for (j = 0; j < n; j++)
			if (e->function == entries[j].function &&
			    e->index == entries[j].index)
				break;
		if (j == n)
			c->entries[nent++] = *e;
	}
	c->nent = nent;
	free(vcpu->cpuid);
	vcpu->cpuid = c;
	vcpu_set_cpuid(vcpu);
}

void vcpu_set_cpuid_leaf(struct kvm_vcpu *vcpu, uint32_t function,
			 uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 e = {
		.function = function,
		.eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx,
	};

	vcpu_set_cpuid_entry(vcpu, &e);
}

void vcpu_remove_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function,
			     uint32_t index)
{
	struct kvm_cpuid_entry2 *e = vcpu_cpuid_entry(vcpu, function, index);
	struct kvm_cpuid2 *c = vcpu->cpuid;

	if (!e)
		return;
	memmove(e, e + 1, (char *)&c->entries[c->nent] - (char *)(e + 1));
	c->nent--;
	vcpu_set_cpuid(vcpu);
}

static void set_tss_desc(struct kvm_vm *vm, uint32_t id, uint64_t base)
{
	uint64_t *d = addr_gpa2hva(vm, vm->gdt + GDT_TSS_BASE + 16 * id, 16);
	uint64_t limit = HVL_TSS_LIMIT;

	/* Available 64-bit TSS (type 9), present, DPL0. */
	d[0] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ULL << 40 |
	       (limit >> 16 & 0xf) << 48 | (base >> 24 & 0xff) << 56;
	d[1] = base >> 32;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type,
		     bool l)
{
	*s = (struct kvm_segment) {
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = type, .present = 1, .dpl = sel & 3, .db = !l,
		.s = 1, .l = l, .g = 1,
	};
}

/*
 * The TSS type to load into TR.  Intel's VM entry demands "busy" (11).
 * AMD's VMRUN takes either, but QEMU's TCG honours the I/O permission
 * bitmap (our CPL3 ucall port) only with "available" (9), so use that
 * everywhere but on Intel.
 */
static uint8_t tr_type(void)
{
	const struct kvm_cpuid2 *c = kvm_supported_cpuid();
	unsigned int i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0)
			return c->entries[i].ebx == 0x756e6547 &&	/* "Genu" */
			       c->entries[i].ecx == 0x6c65746e ? 11 : 9;	/* "ntel" */
	return 11;
}

/* 64-bit long mode at CPL0 with this vCPU's TSS and per-vCPU GS base. */
static void vcpu_setup_long_mode(struct kvm_vcpu *vcpu)
{
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_sregs s;

	vcpu_sregs_get(vcpu, &s);
	s.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
	s.cr3 = vm->pml4;
	s.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s.efer = EFER_LME | EFER_LMA | EFER_SCE;
	seg_flat(&s.cs, KERNEL_CS, 11, true);
	seg_flat(&s.ss, KERNEL_DS, 3, false);
	/*
	 * DS/ES/FS/GS hold the DPL3 data selector (as Linux does): iretq to
	 * CPL3 would otherwise null them, and GS must keep its base.
	 */
	seg_flat(&s.ds, USER_DS, 3, false);
	seg_flat(&s.es, USER_DS, 3, false);
	seg_flat(&s.fs, USER_DS, 3, false);
	seg_flat(&s.gs, USER_DS, 3, false);
	s.gs.base = vcpu->percpu;
	s.tr = (struct kvm_segment) {
		.base = vcpu->tss, .limit = HVL_TSS_LIMIT,
		.selector = GDT_TSS_BASE + 16 * vcpu->id,
		.type = tr_type(), .present = 1,	/* 64-bit TSS */
	};
	s.ldt = (struct kvm_segment) { .type = 2, .present = 1, .unusable = 1 };
	s.gdt.base = vm->gdt;
	s.gdt.limit = GDT_TSS_BASE + 16 * HVL_MAX_VCPUS - 1;
	s.idt.base = vm->idt;
	s.idt.limit = 256 * 16 - 1;
	vcpu_sregs_set(vcpu, &s);
}

struct kvm_vcpu *vm_vcpu_add(struct kvm_vm *vm, void *guest_code)
{
	struct kvm_vcpu *vcpu;
	struct hvl_percpu *pc;
	struct hvl_tss *tss;
	struct kvm_cpuid_entry2 *e;
	struct kvm_regs regs;
	uint64_t *ret, stack;
	int mmap_size;

	TEST_ASSERT(vm->nr_vcpus < HVL_MAX_VCPUS, "too many vCPUs");
	vcpu = calloc(1, sizeof(*vcpu));
	TEST_ASSERT(vcpu, "calloc");
	vcpu->vm = vm;
	vcpu->id = vm->nr_vcpus;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, vcpu->id);
	TEST_ASSERT(vcpu->fd >= 0, "KVM_CREATE_VCPU %u", vcpu->id);
	mmap_size = ioctl(kvm_fd(), KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(mmap_size >= (int)sizeof(struct kvm_run),
		    "KVM_GET_VCPU_MMAP_SIZE");
	vcpu->run_size = mmap_size;
	vcpu->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	TEST_ASSERT(vcpu->run != MAP_FAILED, "mmap kvm_run");
	vm->vcpus[vm->nr_vcpus++] = vcpu;

	/* Stacks, TSS (RSP0 for CPL3 -> CPL0, IST1 for #DF, I/O bitmap). */
	vcpu->stack_top = vm_alloc(vm, KERNEL_STACK_SIZE) + KERNEL_STACK_SIZE;
	vcpu->user_stack_top = vm_alloc(vm, USER_STACK_SIZE) + USER_STACK_SIZE;
	vcpu->tss = vm_alloc(vm, HVL_TSS_LIMIT + 1);
	tss = addr_gpa2hva(vm, vcpu->tss, HVL_TSS_LIMIT + 1);
	tss->rsp[0] = vm_alloc(vm, RSP0_STACK_SIZE) + RSP0_STACK_SIZE;
	tss->ist[0] = vm_alloc(vm, IST_STACK_SIZE) + IST_STACK_SIZE;
	tss->iomap_base = sizeof(*tss);
	/* Deny every port (and the trailing byte) but the ucall port. */
	memset(tss + 1, 0xff, HVL_IOMAP_BYTES);
	((uint8_t *)(tss + 1))[UCALL_PORT / 8] &= ~(1 << (UCALL_PORT % 8));
	set_tss_desc(vm, vcpu->id, vcpu->tss);

	vcpu->percpu = vm_alloc(vm, sizeof(*pc));
	pc = addr_gpa2hva(vm, vcpu->percpu, sizeof(*pc));
	pc->self = vcpu->percpu;
	pc->id = vcpu->id;
	pc->user_rsp = vcpu->user_stack_top;

	/* KVM leaves APIC ids to userspace: make them the vCPU id. */
	vcpu->cpuid = cpuid_alloc(kvm_supported_cpuid()->nent);
	memcpy(vcpu->cpuid->entries, kvm_supported_cpuid()->entries,
	       vcpu->cpuid->nent * sizeof(vcpu->cpuid->entries[0]));
	e = vcpu_cpuid_entry(vcpu, 1, 0);
	if (e)
		e->ebx = (e->ebx & 0x00ffffff) | vcpu->id << 24;
	for (unsigned int i = 0; i < vcpu->cpuid->nent; i++) {
		e = &vcpu->cpuid->entries[i];
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = vcpu->id;
	}
	vcpu_set_cpuid(vcpu);

	vcpu_setup_long_mode(vcpu);

	/* guest_code(id) with a return address that reports DONE. */
	stack = vcpu->stack_top - 8;
	ret = addr_gpa2hva(vm, stack, 8);
	*ret = (uint64_t)hvl_guest_return;
	memset(&regs, 0, sizeof(regs));
	regs.rip = (uint64_t)guest_code;
	regs.rsp = stack;
	regs.rdi = vcpu->id;
	regs.rflags = X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);
	return vcpu;
}

void __vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n,
		     unsigned int nvals, const uint64_t *args)
{
	struct kvm_regs regs;
	__u64 *argregs[] = {
		&regs.rdi, &regs.rsi, &regs.rdx, &regs.rcx, &regs.r8, &regs.r9
	};
	unsigned int i;

	TEST_ASSERT(n == nvals, "vcpu_args_set: n is %u but %u values given",
		    n, nvals);
	TEST_ASSERT(n <= ARRAY_SIZE(argregs), "at most 6 guest arguments");
	vcpu_regs_get(vcpu, &regs);
	for (i = 0; i < n; i++)
		*argregs[i] = args[i];
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_set_cpl3(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs s;
	struct kvm_regs regs;
	uint64_t stack = vcpu->user_stack_top - 8;

	vcpu_sregs_get(vcpu, &s);
	seg_flat(&s.cs, USER_CS, 11, true);
	seg_flat(&s.ss, USER_DS, 3, false);
	vcpu_sregs_set(vcpu, &s);

	vcpu_regs_get(vcpu, &regs);
	*(uint64_t *)addr_gpa2hva(vcpu->vm, stack, 8) = (uint64_t)hvl_guest_return;
	regs.rsp = stack;
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_set_pm32(struct kvm_vcpu *vcpu, uint64_t code_gpa)
{
	struct kvm_sregs s;
	struct kvm_regs regs;

	TEST_ASSERT(code_gpa < vcpu->vm->mem_size && code_gpa < (1ULL << 32),
		    "32-bit code at %#lx is not in low guest memory", code_gpa);
	vcpu_sregs_get(vcpu, &s);
	s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	seg_flat(&s.cs, KERNEL_CS32, 11, false);
	seg_flat(&s.ss, KERNEL_DS, 3, false);
	seg_flat(&s.ds, KERNEL_DS, 3, false);
	seg_flat(&s.es, KERNEL_DS, 3, false);
	seg_flat(&s.fs, KERNEL_DS, 3, false);
	seg_flat(&s.gs, KERNEL_DS, 3, false);
	s.idt.base = 0;
	s.idt.limit = 0;
	vcpu_sregs_set(vcpu, &s);

	vcpu_regs_get(vcpu, &regs);
	regs.rip = code_gpa;
	regs.rsp = vcpu->stack_top;
	regs.rflags = X86_EFLAGS_FIXED;
	vcpu_regs_set(vcpu, &regs);
}

/* ---- running and ucalls ---- */

uint32_t vcpu_run_raw(struct kvm_vcpu *vcpu)
{
	int r;

	do {
		r = ioctl(vcpu->fd, KVM_RUN, 0);
	} while (r < 0 && errno == EINTR);
	TEST_ASSERT(r == 0, "KVM_RUN on vCPU %u", vcpu->id);
	return vcpu->run->exit_reason;
}

const char *exit_reason_str(uint32_t reason)
{
	static const char * const names[] = {
#define N(x) [KVM_EXIT_##x] = #x
		N(UNKNOWN), N(EXCEPTION), N(IO), N(HYPERCALL), N(DEBUG),
		N(HLT), N(MMIO), N(IRQ_WINDOW_OPEN), N(SHUTDOWN),
		N(FAIL_ENTRY), N(INTR), N(SET_TPR), N(TPR_ACCESS), N(NMI),
		N(INTERNAL_ERROR), N(OSI), N(SYSTEM_EVENT), N(IOAPIC_EOI),
		N(HYPERV), N(X86_RDMSR), N(X86_WRMSR), N(DIRTY_RING_FULL),
		N(AP_RESET_HOLD), N(X86_BUS_LOCK), N(NOTIFY),
#undef N
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

const char *vcpu_exit_str(struct kvm_vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	int n;

	n = snprintf(buf, len, "KVM_EXIT_%s (%u)",
		     exit_reason_str(run->exit_reason), run->exit_reason);
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		n += snprintf(buf + n, len - n,
			      ": triple fault (an exception could not be delivered)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		n += snprintf(buf + n, len - n,
			      ": hardware entry failure reason %#llx on cpu %u",
			      run->fail_entry.hardware_entry_failure_reason,
			      run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		static const char * const sub[] = {
			[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
			[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering one",
			[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exit during event delivery",
			[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected exit reason",
		};
		uint32_t se = run->internal.suberror;

		n += snprintf(buf + n, len - n, ": suberror %u (%s), data", se,
			      se < ARRAY_SIZE(sub) && sub[se] ? sub[se] : "?");
		for (unsigned int i = 0; i < run->internal.ndata && i < 16; i++)
			n += snprintf(buf + n, len - n, " %#llx",
				      run->internal.data[i]);
		break;
	}
	case KVM_EXIT_IO:
		n += snprintf(buf + n, len - n, ": %s port %#x size %u",
			      run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			      run->io.port, run->io.size);
		break;
	case KVM_EXIT_MMIO:
		n += snprintf(buf + n, len - n,
			      ": %s of %u bytes at GPA %#llx (outside guest memory)",
			      run->mmio.is_write ? "write" : "read",
			      run->mmio.len, run->mmio.phys_addr);
		break;
	case KVM_EXIT_HLT:
		n += snprintf(buf + n, len - n,
			      ": guest executed HLT (no in-kernel irqchip)");
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		n += snprintf(buf + n, len - n, ": MSR %#x", run->msr.index);
		break;
	}
	/* After a shutdown, SVM has reset the registers: RIP means nothing. */
	if (run->exit_reason != KVM_EXIT_SHUTDOWN &&
	    !ioctl(vcpu->fd, KVM_GET_REGS, &regs) && n < (int)len)
		snprintf(buf + n, len - n, ", RIP %#llx", regs.rip);
	return buf;
}

/* Copy a NUL-terminated guest string, bounded by guest memory and len. */
static void guest_str(struct kvm_vm *vm, uint64_t gva, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && gva + i < vm->mem_size; i++) {
		buf[i] = vm->mem[gva + i];
		if (!buf[i])
			return;
	}
	buf[i] = 0;
}

/* Name the function around addr from the binary's symbol table. */
static void symbolize(uint64_t addr, char *buf, size_t len)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strsh;
	Elf64_Sym sym;
	uint64_t best = 0, i, j;
	uint32_t best_name = 0;
	int fd;

	snprintf(buf, len, "?");
	fd = open_self(&eh);
	if (fd < 0)
		return;
	for (i = 0; i < eh.e_shnum; i++) {
		if (pread(fd, &sh, sizeof(sh), eh.e_shoff + i * eh.e_shentsize) !=
		    sizeof(sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		if (pread(fd, &strsh, sizeof(strsh),
			  eh.e_shoff + sh.sh_link * eh.e_shentsize) != sizeof(strsh))
			goto out;
		for (j = 0; j < sh.sh_size / sizeof(sym); j++) {
			if (pread(fd, &sym, sizeof(sym),
				  sh.sh_offset + j * sizeof(sym)) != sizeof(sym))
				goto out;
			if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_value > addr || sym.st_value <= best ||
			    addr >= sym.st_value + sym.st_size)
				continue;
			best = sym.st_value;
			best_name = sym.st_name;
		}
		if (best) {
			char name[128];

			if (pread(fd, name, sizeof(name) - 1,
				  strsh.sh_offset + best_name) <= 0)
				goto out;
			name[sizeof(name) - 1] = 0;
			snprintf(buf, len, "%s+%#lx", name, addr - best);
		}
		break;
	}
out:
	close(fd);
}

static const char *vector_name(uint64_t v)
{
	static const char * const names[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF",
		"?", "#TS", "#NP", "#SS", "#GP", "#PF", "?", "#MF", "#AC",
		"#MC", "#XM", "#VE", "#CP", "?", "?", "?", "?", "?", "?",
		"#HV", "#VC", "#SX", "?",
	};

	return v < 32 ? names[v] : "interrupt";
}

uint64_t vcpu_get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_run *run = vcpu->run;
	struct guest_ucall g;
	struct kvm_regs regs;
	struct ucall *u = &vcpu->uc;
	char file[256], expr[256], sym[160];
	int n;

	memset(u, 0, sizeof(*u));
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != UCALL_PORT ||
	    run->io.direction != KVM_EXIT_IO_OUT)
		goto out;

	vcpu_regs_get(vcpu, &regs);
	memcpy(&g, addr_gpa2hva(vm, regs.rdi, sizeof(g)), sizeof(g));
	u->kind = g.kind;
	u->nargs = g.nargs < UCALL_MAX_ARGS ? g.nargs : UCALL_MAX_ARGS;
	memcpy(u->args, g.args, sizeof(u->args));

	switch (g.kind) {
	case UCALL_ABORT:
		guest_str(vm, g.file, file, sizeof(file));
		guest_str(vm, g.expr, expr, sizeof(expr));
		n = snprintf(u->msg, sizeof(u->msg), "%s:%lu: %s failed",
			     file, g.line, expr);
		if (g.nvals == 2)
			snprintf(u->msg + n, sizeof(u->msg) - n,
				 ": %#lx (%ld) vs %#lx (%ld)",
				 g.vals[0], g.vals[0], g.vals[1], g.vals[1]);
		break;
	case UCALL_EXCEPTION:
		symbolize(g.args[2], sym, sizeof(sym));
		snprintf(u->msg, sizeof(u->msg),
			 "unexpected %s (vector %lu), error code %#lx, at RIP %#lx <%s>, CS %#lx, CR2 %#lx, RSP %#lx",
			 vector_name(g.args[0]), g.args[0], g.args[1],
			 g.args[2], sym, g.args[3], g.args[4], g.args[5]);
		break;
	case UCALL_SYNC:
	case UCALL_DONE:
		break;
	default:
		TEST_FAIL("vCPU %u: bad ucall kind %lu", vcpu->id, g.kind);
	}
out:
	if (uc)
		*uc = *u;
	return u->kind;
}

uint64_t __vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc, bool noabort,
		    const char *file, int line)
{
	uint64_t kind;
	char buf[512];

	vcpu_run_raw(vcpu);
	kind = vcpu_get_ucall(vcpu, uc);
	if (kind == UCALL_NONE)
		hvl_test_fail(file, line, "vcpu_run", 0,
			      "vCPU %u: unexpected exit %s", vcpu->id,
			      vcpu_exit_str(vcpu, buf, sizeof(buf)));
	if (!noabort && (kind == UCALL_ABORT || kind == UCALL_EXCEPTION))
		hvl_test_fail(file, line, "vcpu_run", 0, "vCPU %u: guest %s: %s",
			      vcpu->id,
			      kind == UCALL_ABORT ? "assertion" : "exception",
			      vcpu->uc.msg);
	return kind;
}

bool vm_debugfs_read(struct kvm_vm *vm, const char *file, const char *key,
		     uint64_t *val)
{
	char path[128], line[128];
	size_t klen = key ? strlen(key) : 0;
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s",
		 getpid(), vm->fd, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (!key) {
			*val = strtoull(line, NULL, 0);
			found = true;
		} else if (!strncmp(line, key, klen) && line[klen] == ':') {
			*val = strtoull(line + klen + 1, NULL, 0);
			found = true;
		}
	}
	fclose(f);
	return found;
}

uint64_t vcpu_stat(struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	uint64_t val = (uint64_t)-1;
	uint32_t i;
	char *descs;
	int fd;

	fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return val;
	TEST_ASSERT(pread(fd, &h, sizeof(h), 0) == sizeof(h), "stats header");
	dsz = sizeof(*d) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	TEST_ASSERT(descs, "calloc");
	TEST_ASSERT(pread(fd, descs, h.num_desc * dsz, h.desc_offset) ==
		    (ssize_t)(h.num_desc * dsz), "stats descriptors");
	for (i = 0; i < h.num_desc; i++) {
		d = (void *)(descs + i * dsz);
		if (strcmp(d->name, name))
			continue;
		TEST_ASSERT(pread(fd, &val, sizeof(val), h.data_offset + d->offset) ==
			    sizeof(val), "stats data");
		break;
	}
	free(descs);
	close(fd);
	return val;
}
