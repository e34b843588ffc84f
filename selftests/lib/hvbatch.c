// SPDX-License-Identifier: GPL-2.0
#include "hvbatch.h"
#include "reftime.h"

const char *const hvb_kind_name[] = { "rdmsr", "wrmsr", "hypercall", "page",
				      "rdmsr@CPL3", "wrmsr@CPL3",
				      "hypercall@CPL3" };

bool hvb_amd;

bool hvb_is_amd(void)
{
	uint32_t a, b, c, d;

	cpuid_count(0, 0, &a, &b, &c, &d);
	return b == 0x68747541 /* "Auth" */ || b == 0x6f677948 /* "Hygo" */;
}

static uint8_t hcall(uint64_t ctl, uint64_t *rax)
{
	return hvb_amd ? vmmcall_safe(ctl, 0, 0, rax) :
			 vmcall_safe(ctl, 0, 0, rax);
}

static uint64_t user_op(uint64_t arg)
{
	struct gop *o = (void *)arg;

	if (o->kind == K_RDMSR_U) {
		o->vec = rdmsr_safe(o->msr, &o->out);
	} else if (o->kind == K_WRMSR_U) {
		o->vec = wrmsr_safe(o->msr, o->val);
	} else {
		o->out = o->rax;
		o->vec = hcall(o->val, &o->out);
	}
	return 0;
}

void hvb_guest(uint64_t batch_gpa, uint64_t tsc_gpa)
{
	struct gbatch *b = (void *)batch_gpa;
	struct gop *o;
	uint32_t seq;
	uint64_t i;

	for (;;) {
		GUEST_SYNC(0);
		for (i = 0; i < b->n; i++) {
			o = &b->op[i];
			switch (o->kind) {
			case K_RDMSR:
				o->vec = rdmsr_safe(o->msr, &o->out);
				break;
			case K_WRMSR:
				o->vec = wrmsr_safe(o->msr, o->val);
				break;
			case K_HCALL:
				o->out = o->rax;
				o->vec = hcall(o->val, &o->out);
				break;
			case K_PAGE:
				o->vec = 0;
				if (!ref_page_read((void *)tsc_gpa, &o->out, NULL, &seq))
					o->out = 0;
				break;
			default:
				guest_run_user(user_op, (uint64_t)o);
			}
		}
	}
}

asm(".pushsection .text.hvb32, \"ax\"\n"
    ".code32\n"
    ".globl hvb32_vmmcall\n"
    "hvb32_vmmcall:\n vmmcall\n outl %eax, $0xe0\n jmp hvb32_vmmcall\n"
    ".globl hvb32_vmcall\n"
    "hvb32_vmcall:\n vmcall\n outl %eax, $0xe0\n jmp hvb32_vmcall\n"
    ".code64\n"
    ".popsection\n");
