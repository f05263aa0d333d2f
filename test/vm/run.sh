#!/bin/sh
# make test-kernel: boot Debian's own kernel under qemu (TCG, no KVM
# needed) and run, inside, the packages' kernel tests with the kernel's
# WireGuard (UPLINKD_TEST_WG_IMPL=kernel). Prints the guest's console, each
# package's test results and a closing "N passed, N failed"; exits non-zero
# when a test fails or the VM does not finish (panic, hang, timeout), with
# the console's last lines. Without qemu or busybox-static it says why and
# skips (in CI, CI=true, it fails instead).
#
# internal/lab runs its kernel WireGuard labs only (UPLINKD_LAB_ONLY=kernel:
# a kernel/kernel lab and a kernel edge with a userspace hub), on uplinkd
# and uplinkd-lab built here without cgo (UPLINKD_LAB_BINARY): the guest
# has no Go toolchain and no libc.
#
# Settings (environment):
#   VMTEST_PKGS     packages to run (default: wg fib ecmp nat inbound breakout/engine lab)
#   VMTEST_RUN      -test.run pattern for every package (default: all tests)
#   VMTEST_SMP      vCPUs (default 1: TCG, and the machine is shared)
#   VMTEST_MEM      guest memory (default 1536M)
#   VMTEST_TIMEOUT  seconds for the whole VM run (default 360)
#   VMTEST_CACHE    kernel, initramfs and results (default bin/vmtest)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
pkgs=${VMTEST_PKGS:-./internal/wg ./internal/fib ./internal/ecmp ./internal/nat ./internal/inbound ./internal/breakout/engine ./internal/lab}
smp=${VMTEST_SMP:-1}
mem=${VMTEST_MEM:-1536M}
tmo=${VMTEST_TIMEOUT:-360}
cache=${VMTEST_CACHE:-$top/bin/vmtest}
go=${GO:-go}

skip() {
	echo "test-kernel: SKIP: $*"
	if [ "${CI:-}" = true ]; then
		echo "test-kernel: CI=true: a skipped VM test bed is a failure here"
		exit 1
	fi
	exit 0
}
qemu=$(command -v qemu-system-x86_64) ||
	skip "no qemu-system-x86_64 (apt-get install --no-install-recommends qemu-system-x86)"
command -v busybox >/dev/null && ! ldd "$(command -v busybox)" >/dev/null 2>&1 ||
	skip "no static busybox (apt-get install --no-install-recommends busybox-static)"
command -v apt-get >/dev/null || skip "no apt-get to fetch Debian's linux-image-amd64"

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
exec 9>"$cache/lock"
flock 9 # one VM at a time

start=$(date +%s)
kdir=$("$here/kernel.sh" "$cache/kernel") ||
	skip "Debian's kernel could not be fetched (apt-get update, then apt-get download linux-image-amd64's dependency)"
run=$cache/run
rm -rf "$run"
mkdir -p "$run/bin" "$run/out"
# Built as `make test` builds them, so its compiled packages serve; the
# initramfs carries the libraries they load.
$go test -c -o "$run/bin/" $pkgs
"$here/initramfs.sh" "$kdir" "$cache/initramfs.cpio" "$run"/bin/*.test
echo "UPLINKD_TEST_WG_IMPL=kernel" >"$run/env"
# A plan line: the binary's name, the package's directory, arguments of
# its own (before VMTEST_RUN's, which wins).
for p in $pkgs; do
	d=${p#./}
	case $d in
	internal/lab)
		for cmd in uplinkd uplinkd-lab; do
			CGO_ENABLED=0 $go build -o "$run/bin/$cmd" "./cmd/$cmd"
		done
		echo "UPLINKD_LAB_BINARY=/vm/bin/uplinkd UPLINKD_LAB_ONLY=kernel" >>"$run/env"
		echo "lab $d -test.run=^TestKernel|^TestImplOptions"
		;;
	internal/fib)
		# -short: its large-table tests at a fifth of their size (TCG
		# took 80 s for them whole; make test runs them so on the host).
		echo "fib $d -test.short"
		;;
	internal/breakout/engine)
		# -short: without TestWholeTable (998 k prefixes, 44 s of TCG's
		# 69 s for the package; make test runs it on the host).
		echo "engine $d -test.short"
		;;
	*) echo "$(basename "$d") $d" ;;
	esac
done >"$run/plan"
echo "-test.timeout=$((tmo - 30))s${VMTEST_RUN:+ -test.run=$VMTEST_RUN}" >"$run/args"
built=$(date +%s)
echo "test-kernel: kernel, initramfs and test binaries ready in $((built - start)) s; booting $(basename "$kdir") (${smp} vCPU, TCG)"

# qemu exits 0 after a guest panic too (panic=-1 reboots, -no-reboot
# exits): the verdict comes from the console and the result files only.
{
	rc=0
	timeout -k 5 "$tmo" "$qemu" -nodefaults -no-user-config -machine pc,accel=tcg \
		-smp "$smp" -m "$mem" -display none -serial stdio -no-reboot \
		-kernel "$kdir/vmlinux" -initrd "$cache/initramfs.cpio" \
		-append "console=ttyS0 quiet panic=-1" \
		-virtfs "local,path=$top,mount_tag=src,security_model=none,readonly=on,id=src" \
		-virtfs "local,path=$run,mount_tag=run,security_model=none,id=run" \
		</dev/null 2>&1 || rc=$?
	echo "$rc" >"$run/qemu.rc"
} | tr -d '\r' | tee "$run/console.log"
end=$(date +%s)
rc=$(cat "$run/qemu.rc")
[ "$rc" != 124 ] || echo "test-kernel: the VM was stopped at its ${tmo} s timeout (VMTEST_TIMEOUT)"
echo "test-kernel: VM ran $((end - built)) s (qemu exit $rc); whole run $((end - start)) s"
"$here/report.sh" "$run"
