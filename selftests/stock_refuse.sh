#!/usr/bin/env bash
# On a kernel whose KVM has Hyper-V built in, loading fails with a one-line
# reason and changes nothing.
set -uo pipefail
n=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

ko=$HVL_TOP/build/stock/hvenlight.ko
dmesg -C
insmod "$ko" 2>/dev/null
ok $(( $? != 0 )) "insmod fails on a CONFIG_KVM_HYPERV=y kernel"
grep -q '^hvenlight ' /proc/modules
ok $(( $? == 0 )) "nothing stays loaded"
msg=$(dmesg | grep 'hvenlight: ' | grep -v 'verification failed')
[ "$(printf '%s\n' "$msg" | grep -c .)" = 1 ] && grep -q 'CONFIG_KVM_HYPERV=y' <<< "$msg"
ok $? "one clear line says why: $msg"
grep -q hvenlight /sys/kernel/debug/tracing/enabled_functions 2>/dev/null
ok $(( $? == 0 )) "no hook was registered"
echo "1..$n"
