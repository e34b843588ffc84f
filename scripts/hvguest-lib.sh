# SPDX-License-Identifier: GPL-2.0
# Shared by the nested guest's migration scripts (hvguest-migrate: to a
# second QEMU on the same host; hvguest-xmigrate: saved on one kernel,
# restored on another). Source it after lib.sh; do not run it.
# Sets g (the nested guest's kernel and initramfs) and hvg_args (QEMU's
# arguments for the migrated guest: the same on every side, as migration
# wants); defines the helpers below and hvg_compare.
g=$HVL_CACHE/hvguest
[ -f "$g/initrd.cpio.gz" ] || hvl_die "$g is missing: run scripts/build-hvguest on the host"
# With SynIC, QEMU's VMBus too (as hvguest-run): hv_vmbus sets the SynIC up.
# HVG_CPU: the CPU model (default host). A guest that panics reports it
# through the crash MSRs (hv_crash), and QEMU would stop it there, before
# Linux flushes what its console still holds: let it go on (panic=none),
# so its console shows why, and reset (panic=-1), which ends QEMU
# (-no-reboot).
hvg_cpu=${HVG_CPU:-host},kvm=off,$HVL_HV_FLAGS_ALL
hvg_args=(-machine q35 -accel kvm -cpu "$hvg_cpu" -smp 2 -m 256M
	-nodefaults -display none -no-reboot -action panic=none -device vmbus-bridge
	-kernel "$g/vmlinuz" -initrd "$g/initrd.cpio.gz"
	-append "console=ttyS0 quiet panic=-1 hvl.stay hvl.vmbus")

# hmp_migrate MONITOR URI: migrate, wait until it ends; prints and returns
# the final status (0 only for "completed").
hmp_migrate() {
	local status='' mon=$1
	hmp "$mon" "migrate -d \"$2\"" > /dev/null
	for _ in $(seq 900); do
		status=$(hmp "$mon" "info migrate" | sed -n 's/^Migration status: //p')
		case "$status" in completed|failed|cancelled) break ;; esac
		sleep 1
	done
	echo "$status"
	[ "$status" = completed ]
}

# The guest's complete tick lines from a serial log (which ends lines with
# CR LF, and may end in the middle of a line the guest is still writing).
ticks() {
	tr -d '\r' < "$1" |
		grep -E '^tick [0-9]+: uptime [0-9.]+, clocksource [a-z_]+, backwards [0-9]+$'
}

# The guest's complete lines of MSR values (one a tick after its ticks):
# each vCPU's VP_RUNTIME (decimal), CRASH_P0-P4, CRASH_CTL,
# REENLIGHTENMENT_CONTROL, TSC_EMULATION_CONTROL, TSC_EMULATION_STATUS.
msrs() {
	tr -d '\r' < "$1" |
		grep -E '^msrs [0-9]+: runtime( [0-9]+)+, crash( 0x[0-9a-f]+){5} ctl 0x[0-9a-f]+, reenlightenment( 0x[0-9a-f]+){3}$'
}

# The guest's lines of each vCPU's VP index and SynIC MSRs, and of jiffies
# and each vCPU's clockevent device and stimer0 interrupts (hvguest-init).
synic() {
	tr -d '\r' < "$1" |
		grep -E '^synic [0-9]+:( cpu[0-9]+ vp [0-9a-fx]+( (0x[0-9a-f]+|unreadable)){4};)+$'
}
timers() {
	tr -d '\r' < "$1" |
		grep -E '^timers [0-9]+: jiffies [0-9]+(, cpu[0-9]+ [A-Za-z_-]+ [0-9]+)+$'
}

# wait_for FILE PATTERN SECONDS [PID]: until the pattern shows up in the
# file; with PID (the guest's QEMU), no longer than that process lives.
wait_for() {
	local i alive
	for i in $(seq "$3"); do
		alive=1
		[ -z "${4:-}" ] || kill -0 "$4" 2>/dev/null || alive=0
		grep -q "$2" "$1" 2>/dev/null && return 0
		[ "$alive" = 1 ] || return 1
		sleep 1
	done
	return 1
}

# hvg_diag LOG MONITOR PID: what a guest that stopped making progress was
# doing: its console's last lines, its vCPUs' registers and local APICs
# (QEMU's monitor), and hvenlight's state for its VM, synthetic timers
# among it.
hvg_diag() {
	local log=$1 mon=$2 pid=$3 rc
	if [ -s "$log" ]; then
		echo "guest console (last lines):"
		tail -n 15 "$log" | tr -d '\r' | sed 's/^/  /'
	fi
	if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
		# (-no-reboot: a guest that resets ends QEMU, without a word.)
		rc=none
		[ -z "$pid" ] || { wait "$pid" 2>/dev/null; rc=$?; }
		echo "QEMU has exited (status $rc): 0 is the guest resetting or powering off, 1 QEMU failing, 128+N signal N"
		return
	fi
	[ ! -S "$mon" ] ||
		hmp_dump "$mon" "info status" "info migrate" "info registers -a" "info lapic 0" "info lapic 1"
	if grep -q '^hvenlight ' /proc/modules; then
		echo "hvenlight's debugfs for the VM:"
		cat /sys/kernel/debug/kvm/"$pid"-*/hvenlight 2>&1 | sed 's/^/  /'
	fi
}

# hvenlight's view of the VM a QEMU process runs, one "key: value" a line.
module_state() {
	cat /sys/kernel/debug/kvm/"$1"-*/hvenlight 2>/dev/null |
		grep -E '^(guest_os_id|hypercall|reference_tsc|vcpu[0-9]+_vp_(index|assist)|crash_(p[0-4]|ctl)|reenlightenment_control|tsc_emulation_(control|status)):' |
		sort
}

# hvg_wait_dst DSTLOG SECONDS PID: until the guest that QEMU process PID
# runs ticks on the destination (within SECONDS) and has read its MSRs
# twice there (the first read may have been on the source).
hvg_wait_dst() {
	wait_for "$1" '^tick .*backwards' "$2" "$3" || return 1
	sleep 3
	for _ in $(seq 60); do [ "$(timers "$1" | wc -l)" -ge 2 ] && break; sleep 1; done
}

# hvg_compare SRCLOG DSTLOG: what the guest saw before (its serial log on
# the source, up to the migration) and after (on the destination): the
# TSC page clocksource, a clock that never went back, VP_RUNTIME going on,
# its crash and reenlightenment MSR values, each vCPU's VP index and SynIC
# MSRs as they were, jiffies and the Hyper-V clockevent's stimer0
# interrupts going on. Prints what it compared; returns 0 if all held.
hvg_compare() {
	local src=$1 dst=$2 ok=1 m_src m_dst r r_src r_dst i s_src s_dst tm_src tm_dst a b n
	local last_src t_src t_dst want
	last_src=$(ticks "$src" | tail -n 1)
	echo "last tick on the source: ${last_src:-none}"
	echo "on the destination:"
	ticks "$dst" | head -n 4 | sed 's/^/  /'
	m_src=$(msrs "$src" | tail -n 1)
	m_dst=$(msrs "$dst" | tail -n 1)
	echo "MSRs the guest read, last on the source, then on the destination:"
	printf '  %s\n' "${m_src:-none}" "${m_dst:-none}"
	if [ -z "$m_src" ] || [ "$(msrs "$dst" | wc -l)" -lt 2 ]; then
		echo "migration check failed: the guest read its MSRs too few times (want one on the source, two on the destination); its last such lines:"
		tr -d '\r' < "$src" | grep -E '^(msrs|wrmsr) ' | tail -n 2 | sed 's/^/  src: /'
		tr -d '\r' < "$dst" | grep -E '^(msrs|wrmsr) ' | tail -n 2 | sed 's/^/  dst: /'
		ok=0
	else
		# What the guest wrote (hvguest-init) reads back on the source...
		want='crash 0x1600c0ffee000000 0x1600c0ffee000001 0x1600c0ffee000002 0x1600c0ffee000003 0x1600c0ffee000004 ctl 0x[0-9a-f]+, reenlightenment 0x1000000f5 0x1 0x[0-9a-f]+$'
		grep -qE ", $want" <<< "$m_src" ||
			{ echo "migration check failed: the guest's crash and reenlightenment MSR values did not stick on the source"; ok=0; }
		# ...and every crash and reenlightenment MSR reads the same afterwards.
		[ "${m_src#*, crash }" = "${m_dst#*, crash }" ] ||
			{ echo "migration check failed: crash or reenlightenment MSRs differ after the migration"; ok=0; }
		# VP_RUNTIME goes on from the source's value: a destination that did
		# not get it counts from its own vCPU threads' run time, seconds only.
		r=${m_src#*: runtime } && read -ra r_src <<< "${r%%,*}"
		r=${m_dst#*: runtime } && read -ra r_dst <<< "${r%%,*}"
		[ ${#r_src[@]} = 2 ] && [ ${#r_dst[@]} = 2 ] ||
			{ echo "migration check failed: VP_RUNTIME of ${#r_src[@]} and ${#r_dst[@]} vCPUs, not 2"; ok=0; }
		for i in "${!r_src[@]}"; do
			[ "${r_src[i]}" -gt 0 ] && [ "${r_dst[i]:-0}" -ge "${r_src[i]}" ] ||
				{ echo "migration check failed: vCPU $i's VP_RUNTIME ${r_src[i]} on the source, ${r_dst[i]:-none} after"; ok=0; }
		done
	fi
	# SynIC and VP indices as they were; the Hyper-V clockevent still ticks.
	s_src=$(synic "$src" | tail -n 1) s_dst=$(synic "$dst" | tail -n 1)
	tm_src=$(timers "$src" | tail -n 1) tm_dst=$(timers "$dst" | tail -n 1)
	echo "VP indices and SynIC (SCONTROL SIEFP SIMP SINT2), then timers, last on the source, then on the destination:"
	printf '  %s\n' "${s_src:-none}" "${s_dst:-none}" "${tm_src:-none}" "${tm_dst:-none}"
	if [ -z "$s_src" ] || [ "$(synic "$dst" | wc -l)" -lt 2 ] ||
		[ -z "$tm_src" ] || [ "$(timers "$dst" | wc -l)" -lt 2 ]; then
		echo "migration check failed: the guest read its SynIC and timers too few times (want one on the source, two on the destination)"
		ok=0
	else
		[ "${s_src#*:}" = "${s_dst#*:}" ] ||
			{ echo "migration check failed: VP indices or SynIC MSRs differ after the migration"; ok=0; }
		grep -qE '^synic [0-9]+: cpu0 vp 0x0 0x1 0x[0-9a-f]+1 0x[0-9a-f]+1 0x[0-9a-f]+; cpu1 vp 0x1 0x1 0x[0-9a-f]+1 0x[0-9a-f]+1 0x[0-9a-f]+;$' <<< "$s_dst" ||
			{ echo "migration check failed: want VP indices 0 and 1 and SynIC, its message and event pages enabled on both vCPUs"; ok=0; }
		read -ra a <<< "$(tr -d ',' <<< "${tm_src#*: }")"
		read -ra b <<< "$(tr -d ',' <<< "${tm_dst#*: }")"
		# jiffies N cpu0 DEVICE COUNT cpu1 DEVICE COUNT
		[ ${#a[@]} = 8 ] && [ ${#b[@]} = 8 ] && [ "${b[1]}" -gt "${a[1]}" ] ||
			{ echo "migration check failed: jiffies did not advance after the migration"; ok=0; }
		for i in 4 7; do
			[ "${b[i-1]:-}" = Hyper-V_clockevent ] && [ "${b[i]:-0}" -gt "${a[i]:-0}" ] ||
				{ echo "migration check failed: ${b[i-2]:-a vCPU}'s clockevent ${b[i-1]:-none} with ${b[i]:-no} stimer0 interrupts after ${a[i]:-none}"; ok=0; }
		done
	fi
	n=$(ticks "$dst" | wc -l)
	[ "$n" -ge 2 ] || { echo "migration check failed: only $n ticks on the destination"; ok=0; }
	ticks "$dst" | grep -qv 'clocksource hyperv_clocksource_tsc_page,' &&
		{ echo "migration check failed: the guest left the TSC page clocksource"; ok=0; }
	ticks "$dst" | grep -qv 'backwards 0$' &&
		{ echo "migration check failed: the guest saw its clock go backwards"; ok=0; }
	t_src=$(sed -n 's/^tick [0-9]*: uptime \([0-9.]*\),.*/\1/p' <<< "$last_src")
	t_dst=$(ticks "$dst" | head -n 1 | sed -n 's/^tick [0-9]*: uptime \([0-9.]*\),.*/\1/p')
	awk -v a="$t_dst" -v b="$t_src" 'BEGIN { exit !(a + 0 >= b + 0) }' ||
		{ echo "migration check failed: uptime $t_dst after the migration is before $t_src"; ok=0; }
	echo "guest uptime: $t_src on the source, then $t_dst on the destination"
	[ "$ok" = 1 ]
}
