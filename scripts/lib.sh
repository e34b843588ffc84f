# SPDX-License-Identifier: GPL-2.0
# Shared settings for the build and VM scripts. Source it; do not run it.
# One Debian 6.12 version for the source and the stock image.
HVL_KVER=${HVL_KVER:-6.12.117}
HVL_DEBVER=${HVL_DEBVER:-6.12.117-1~deb12u1}
HVL_STOCK_REL=${HVL_STOCK_REL:-6.12.117+deb12-amd64}
HVL_CACHE=${HVL_CACHE:-/var/cache/hvenlight}
HVL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The nested Linux guest's -cpu Hyper-V flags (scripts/hvguest-run,
# hvguest-migrate): the seed set, then what the stacks that create Windows
# VMs add (virt-install, Proxmox VE, nova, KubeVirt, oVirt: issue #16), then
# SynIC, synthetic timers, PV IPI, PV TLB flush, XMM input and the AVIC hint
# (#17-#19, QEMU's recommendation: the union of the stacks' sets, #20).
HVL_HV_SEED_FLAGS=hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time,hv_vpindex
HVL_HV_FLAGS_ALL=$HVL_HV_SEED_FLAGS,hv_runtime,hv_frequencies,hv_reset,hv_crash,hv_reenlightenment,hv_synic,hv_stimer,hv_stimer_direct,hv_ipi,hv_tlbflush,hv_tlbflush_ext,hv_xmm_input,hv_avic
# What each management stack passes for a Windows 10/11 or Server 2022 guest
# (issue #20), "NAME=FLAGS" a line; hvguest-run starts QEMU paused with each.
HVL_HV_STACKS="qemu-docs=hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-stimer-direct,hv-frequencies,hv-reenlightenment,hv-tlbflush,hv-tlbflush-ext,hv-ipi,hv-xmm-input,hv-avic,hv-reset,hv-crash
virt-install=hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-synic,hv-stimer,hv-stimer-direct,hv-frequencies,hv-tlbflush,hv-ipi,hv-time,hv-avic
proxmox-win11=hv_ipi,hv_relaxed,hv_reset,hv_runtime,hv_spinlocks=0x1fff,hv_stimer,hv_synic,hv_time,hv_vapic,hv_vpindex,+kvm_pv_eoi,+kvm_pv_unhalt
nova=hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-synic,hv-reset,hv-frequencies,hv-tlbflush,hv-ipi,hv-time
kubevirt-ovirt=hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-vpindex,hv-runtime,hv-time,hv-synic,hv-stimer,hv-stimer-direct,hv-reset,hv-frequencies,hv-reenlightenment,hv-tlbflush,hv-ipi
passthrough=hv-passthrough"

# Kernel arguments for a test VM that boots a nested Linux guest: a
# periodic local-APIC tick (low-resolution timers, no dynamic tick). Under
# QEMU 7.2's TCG a test-VM interrupt can be lost while a nested guest runs:
# the vector stays in the local APIC's IRR, yet the vCPU has no interrupt
# requested (its VMRUN emulation sets CPU_INTERRUPT_VIRQ in
# interrupt_request without the iothread lock, racing the I/O thread that
# raises the timer's). With a one-shot timer nothing raises it again: the
# nested guest's vCPU spinning on a lock whose holder waits for that
# test-VM CPU spins forever (about 1 nested boot in 20, stock kernel too).
# A periodic timer raises the line again at the next tick.
HVL_NESTED_KARGS="highres=off nohz=off"

# One HMP command over a monitor socket; prints QEMU's answer.
hmp() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
def answer():
    buf = b""
    while not buf.endswith(b"(qemu) "):
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").replace("\r", "")
answer()
s.sendall(sys.argv[2].encode() + b"\n")
print(answer())
PY
}

# hmp_dump MONITOR CMD...: each command, then QEMU's answer indented
# (without the monitor's echo of the command line and its prompts).
hmp_dump() {
	local mon=$1 c
	shift
	for c; do
		echo "(qemu) $c"
		hmp "$mon" "$c" | sed '1d; /^(qemu) /d; s/^/  /'
	done
}

hvl_log() { printf '[%s] %s\n' "${HVL_TAG:-hvenlight}" "$*" >&2; }
hvl_die() { hvl_log "error: $*"; exit 1; }

# Extract Debian's linux-source-6.12 into $HVL_CACHE/linux-source-6.12 unless
# that tarball is there already; print a key naming the extracted source.
hvl_source() {
	local src=$HVL_CACHE/linux-source-6.12 tarball=/usr/src/linux-source-6.12.tar.xz key
	[ -f "$tarball" ] || hvl_die "$tarball missing: run scripts/install-deps (apt-get install linux-source-6.12=$HVL_DEBVER)"
	key=$(stat -c '%s-%Y' "$tarball")
	mkdir -p "$HVL_CACHE"
	if [ "$(cat "$src/.hvl-extracted" 2>/dev/null)" != "$key" ]; then
		hvl_log "extracting $tarball"
		rm -rf "$src"
		tar -C "$HVL_CACHE" -xf "$tarball"
		echo "$key" > "$src/.hvl-extracted"
	fi
	echo "$key"
}
