#!/bin/sh
# Fetch Debian's own kernel for the VM test bed and unpack what it needs:
#   test/vm/kernel.sh CACHEDIR
# prints the directory that holds vmlinux (the unpacked ELF image, booted
# directly through PVH: under TCG unpacking the XZ bzImage costs ~6 s a
# boot) and lib/modules/ABI. The package is found through linux-image-amd64's
# dependency, so the ABI name is never pinned; apt's lists must be current
# (apt-get update). A kernel already unpacked is reused.
set -eu
cache=$1
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	# No lists (apt-get update never ran): an earlier download still serves.
	dir=$(ls -d "$cache"/linux-image-*/ 2>/dev/null | tail -n 1)
	if [ -n "$dir" ] && [ -s "$dir/vmlinux" ]; then
		echo "vmtest: apt knows no linux-image-amd64, reusing $(basename "$dir")" >&2
		echo "${dir%/}"
		exit 0
	fi
	echo "vmtest: apt knows no linux-image-amd64: run apt-get update" >&2
	exit 1
fi
dir=$cache/$pkg
if [ -s "$dir/vmlinux" ]; then
	echo "$dir"
	exit 0
fi

work=$(mktemp -d "$cache/fetch.XXXXXX")
# apt-get download as root writes as user _apt, which needs the directory.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
trap 'rm -rf "$work"' EXIT INT TERM
echo "vmtest: downloading $pkg" >&2
(cd "$work" && apt-get download -q "$pkg" >&2)
deb=$(ls "$work"/*.deb)
mkdir -p "$work/root"
# Only the image and the modules, not the firmware-sized rest.
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards './boot/vmlinuz-*' './lib/modules/*'
abi=$(ls "$work/root/lib/modules")
"$(dirname "$0")/vmlinux.sh" "$work/root/boot/vmlinuz-$abi" "$work/vmlinux"
mkdir -p "$work/out/lib"
mv "$work/root/lib/modules" "$work/out/lib/modules"
mv "$work/vmlinux" "$work/out/vmlinux"
rm -rf "$dir"
mv "$work/out" "$dir"
echo "$dir"
