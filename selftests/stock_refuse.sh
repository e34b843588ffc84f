#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# On a kernel whose KVM has Hyper-V built in, loading fails with a one-line
# reason and changes nothing.
set -uo pipefail
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

ko=$HVL_TOP/build/stock/hvenlight.ko
dmesg -C
if insmod "$ko" 2>/dev/null; then r=1; else r=0; fi
ok $r "insmod fails on a CONFIG_KVM_HYPERV=y kernel"
if grep -q '^hvenlight ' /proc/modules; then r=1; else r=0; fi
ok $r "nothing stays loaded"
# The kernel's own lines about an unsigned out-of-tree module are not ours.
msg=$(dmesg | grep 'hvenlight: ' | grep -vE 'verification failed|taints kernel')
[ "$(printf '%s\n' "$msg" | grep -c .)" = 1 ] && grep -q 'CONFIG_KVM_HYPERV=y' <<< "$msg"
ok $? "one clear line says why: $msg"
if grep -q hvenlight /sys/kernel/debug/tracing/enabled_functions 2>/dev/null; then r=1; else r=0; fi
ok $r "no hook was registered"
echo "1..$n"
