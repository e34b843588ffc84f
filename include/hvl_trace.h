/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints for what an operator traces on an in-tree Hyper-V host with
 * kvm:kvm_hv_* events: enable them with
 *   echo 1 > /sys/kernel/tracing/events/hvenlight/enable
 * or trace-cmd record -e hvenlight.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hvenlight

#if !defined(HVL_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define HVL_TRACE_H

#include <linux/tracepoint.h>

/* A synthetic MSR access the module answered; result: KVM's 0, 1 (#GP). */
TRACE_EVENT(hvl_msr,
	    TP_PROTO(unsigned int vcpu_id, u32 msr, u64 data, bool write,
		     bool host, int result),
	    TP_ARGS(vcpu_id, msr, data, write, host, result),
	    TP_STRUCT__entry(__field(unsigned int, vcpu_id)
			     __field(u32, msr)
			     __field(u64, data)
			     __field(bool, write)
			     __field(bool, host)
			     __field(int, result)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->msr = msr;
			   __entry->data = data;
			   __entry->write = write;
			   __entry->host = host;
			   __entry->result = result;),
	    TP_printk("vcpu %u %s msr 0x%x data 0x%llx%s%s",
		      __entry->vcpu_id, __entry->write ? "wrmsr" : "rdmsr",
		      __entry->msr, __entry->data,
		      __entry->host ? " host" : "",
		      __entry->result ? " failed" : "")
);

/*
 * An exit to the VMM the module delivered: KVM_EXIT_SYSTEM_EVENT with its
 * type, or KVM_EXIT_HYPERV with its (SYNIC, HCALL, SYNDBG).
 */
TRACE_EVENT(hvl_exit,
	    TP_PROTO(unsigned int vcpu_id, u32 reason, u32 type),
	    TP_ARGS(vcpu_id, reason, type),
	    TP_STRUCT__entry(__field(unsigned int, vcpu_id)
			     __field(u32, reason)
			     __field(u32, type)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->reason = reason;
			   __entry->type = type;),
	    TP_printk("vcpu %u exit %u type %u", __entry->vcpu_id,
		      __entry->reason, __entry->type)
);

/* A hypercall the module answered, with the HV_STATUS it returned. */
TRACE_EVENT(hvl_hypercall,
	    TP_PROTO(unsigned int vcpu_id, u16 code, bool fast, u16 var_cnt,
		     u16 rep_cnt, u16 rep_idx, u16 status),
	    TP_ARGS(vcpu_id, code, fast, var_cnt, rep_cnt, rep_idx, status),
	    TP_STRUCT__entry(__field(unsigned int, vcpu_id)
			     __field(u16, code)
			     __field(bool, fast)
			     __field(u16, var_cnt)
			     __field(u16, rep_cnt)
			     __field(u16, rep_idx)
			     __field(u16, status)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->code = code;
			   __entry->fast = fast;
			   __entry->var_cnt = var_cnt;
			   __entry->rep_cnt = rep_cnt;
			   __entry->rep_idx = rep_idx;
			   __entry->status = status;),
	    TP_printk("vcpu %u code 0x%x %s var_cnt %u rep_cnt %u rep_idx %u status 0x%x",
		      __entry->vcpu_id, __entry->code,
		      __entry->fast ? "fast" : "slow", __entry->var_cnt,
		      __entry->rep_cnt, __entry->rep_idx, __entry->status)
);

/* The reference TSC page rewritten: sequence 0 means invalid. */
TRACE_EVENT(hvl_tsc_page,
	    TP_PROTO(unsigned int vcpu_id, u64 gpa, u32 sequence, u64 scale,
		     s64 offset),
	    TP_ARGS(vcpu_id, gpa, sequence, scale, offset),
	    TP_STRUCT__entry(__field(unsigned int, vcpu_id)
			     __field(u64, gpa)
			     __field(u32, sequence)
			     __field(u64, scale)
			     __field(s64, offset)),
	    TP_fast_assign(__entry->vcpu_id = vcpu_id;
			   __entry->gpa = gpa;
			   __entry->sequence = sequence;
			   __entry->scale = scale;
			   __entry->offset = offset;),
	    TP_printk("vcpu %u gpa 0x%llx sequence %u scale 0x%llx offset %lld",
		      __entry->vcpu_id, __entry->gpa, __entry->sequence,
		      __entry->scale, __entry->offset)
);

#endif /* HVL_TRACE_H */

/* The module's headers are found through ccflags' -I (Kbuild). */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE hvl_trace
#include <trace/define_trace.h>
