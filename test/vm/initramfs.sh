#!/bin/sh
# Build the VM's initramfs, an uncompressed cpio (nothing to unpack under
# TCG):
#   test/vm/initramfs.sh KERNELDIR OUT [BINARY...]
# It holds busybox-static (the shell and the small tools), the host's ip,
# tc, wg and nft, the libraries they and the BINARYs (the test binaries)
# load: the guest has no libc of its own; the kernel modules the tests use
# with their dependencies, and test/vm/init as /init. The test binaries
# themselves come over 9p at run time.
set -eu
kdir=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
abi=$(ls "$kdir/lib/modules")
mods=$kdir/lib/modules/$abi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM

# Modules: whole directories where tests reach for many (nftables
# expressions, qdiscs), single ones otherwise; then every dependency.
roots=$(cd "$mods" && {
	find kernel/net/netfilter kernel/net/ipv4/netfilter kernel/net/ipv6/netfilter \
		kernel/net/sched kernel/net/xfrm -name '*.ko' ! -path '*/ipvs/*'
	echo kernel/drivers/net/wireguard/wireguard.ko
	echo kernel/drivers/net/veth.ko
	echo kernel/drivers/net/tun.ko
	echo kernel/drivers/virtio/virtio_pci.ko
	echo kernel/net/9p/9pnet_virtio.ko
	echo kernel/fs/9p/9p.ko
	ls kernel/crypto/crc32c_generic.ko kernel/arch/x86/crypto/crc32c-intel.ko 2>/dev/null || true
})
[ -s "$mods/modules.dep" ] || busybox depmod -b "$kdir" "$abi"
closure=$(printf '%s\n' $roots | awk -v dep="$mods/modules.dep" '
	BEGIN { while ((getline l < dep) > 0) { split(l, f, ":"); d[f[1]] = f[2] } }
	{ want[$1] = 1 }
	END {
		do {
			grew = 0
			for (m in want) {
				n = split(d[m], x, " ")
				for (i = 1; i <= n; i++) if (!(x[i] in want)) { want[x[i]] = 1; grew = 1 }
			}
		} while (grew)
		for (m in want) print m
	}')
for m in $closure; do
	mkdir -p "$stage/lib/modules/$abi/$(dirname "$m")"
	cp "$mods/$m" "$stage/lib/modules/$abi/$m"
done
cp "$mods/modules.builtin" "$mods/modules.order" "$stage/lib/modules/$abi/"
busybox depmod -b "$stage" "$abi"

# Busybox: every applet but those the host's real tools replace.
bb=$(command -v busybox)
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin"
cp "$bb" "$stage/bin/busybox"
for a in $(busybox --list); do
	case $a in ip | tc | busybox) continue ;; esac
	ln -s busybox "$stage/bin/$a"
done
ln -s ../bin/busybox "$stage/sbin/modprobe" # the kernel's module loader

# The host's network tools, and every library they or the test binaries
# load, at the paths ldd names.
tools=
for t in ip tc wg nft; do
	p=$(command -v "$t") || { echo "vmtest: no $t on this machine" >&2; exit 1; }
	cp -L "$p" "$stage/usr/sbin/$t"
	tools="$tools $p"
done
for lib in $(for b in $tools "$@"; do ldd "$b" 2>/dev/null || true; done |
	awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }' | sort -u); do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
mkdir -p "$stage/etc"
for f in /etc/iproute2 /etc/protocols /etc/services; do
	[ -e "$f" ] && cp -LR "$f" "$stage$f"
done
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$stage/etc/passwd"
printf 'root:x:0:\n' >"$stage/etc/group"

mkdir -p "$stage/proc" "$stage/sys" "$stage/dev" "$stage/run" "$stage/tmp" "$stage/root" \
	"$stage/src" "$stage/vm"
mkdir -p "$stage/var"
ln -s ../run "$stage/var/run"
cp "$here/init" "$stage/init"
chmod 0755 "$stage/init"

# newc, owned by root; padded to a 4-byte multiple so that a cpio appended
# later starts on a header boundary (the kernel reads garbage otherwise).
(cd "$stage" && find . | busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$out.tmp"
size=$(wc -c <"$out.tmp")
pad=$(((4 - size % 4) % 4))
[ "$pad" -eq 0 ] || head -c "$pad" /dev/zero >>"$out.tmp"
mv "$out.tmp" "$out"
echo "vmtest: initramfs $(du -h "$out" | cut -f1), $(echo $closure | wc -w) modules" >&2
