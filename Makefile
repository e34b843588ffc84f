# SPDX-License-Identifier: GPL-2.0
#
#   make                     build hvenlight.ko against KDIR (the running kernel)
#   make install             install it into /lib/modules and run depmod
#   make deb                 the DKMS package build/deb/hvenlight-dkms_*_all.deb
#   make module KERNEL=K     build it for a test kernel: nohv, inhv,
#                            nohv-perf, inhv-perf, nohv-intel, stock
#   make unit                host-side unit tests of the pure logic
#   make selftests           build the guest/host selftests
#   make check               unit tests + module + selftests in the test VM
#   make run                 boot the test VM and run a Hyper-V guest (QEMU)
#   make lint                checkpatch --strict, W=1 and sparse on the sources
#   make fuzz SEED=S OPS=N   a long hv_fuzz run in the test VM (KERNEL=nohv)
#   make upstream-diag       every stage of the kernel's hyperv_features test
#                            on nohv, failing ones reported (KERNEL=stock too)
KDIR ?= /lib/modules/$(shell uname -r)/build
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
SRCS := Kbuild $(wildcard $(TOP)/*.c) $(wildcard $(TOP)/include/*.h)
KERNEL ?= nohv

all:
	$(MAKE) -C $(KDIR) M=$(TOP) modules

install: all
	$(MAKE) -C $(KDIR) M=$(TOP) modules_install
	depmod -a

# Each test kernel gets its own build directory of links to the sources,
# so builds for different kernels never share objects.
module:
	@$(TOP)/scripts/build-module $(KERNEL)

# The Debian package, built from HEAD (see scripts/build-deb).
deb:
	@$(TOP)/scripts/build-deb

unit:
	@$(MAKE) -s -C $(TOP)/unit

selftests:
	@$(MAKE) -s -C $(TOP)/selftests

check:
	@$(TOP)/scripts/check

run:
	@$(TOP)/scripts/run

bench:
	@$(TOP)/bench/run

fuzz:
	@SEED=$(SEED) OPS=$(OPS) KERNEL=$(KERNEL) $(TOP)/scripts/fuzz

lint:
	@$(TOP)/scripts/lint

upstream-diag:
	@$(TOP)/scripts/upstream-diag --kernel $(KERNEL)

clean:
	$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null || true
	rm -rf $(TOP)/build
	$(MAKE) -s -C $(TOP)/unit clean
	$(MAKE) -s -C $(TOP)/selftests clean 2>/dev/null || true

.PHONY: all install deb module unit selftests check run bench lint upstream-diag clean fuzz
