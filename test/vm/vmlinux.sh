#!/bin/sh
# Unpack the ELF vmlinux from a bzImage, as the kernel's
# scripts/extract-vmlinux does: find the payload's compression magic, feed
# the rest of the file to the decompressor, keep the first result that is
# an ELF image (decompressors stop at the end of their stream and complain
# about the trailing bytes, hence the ignored exit status).
#   test/vm/vmlinux.sh BZIMAGE OUT
set -eu
in=$1 out=$2

# try MAGIC(printf escapes) DECOMPRESSOR...
try() {
	magic=$1
	shift
	for off in $(LC_ALL=C grep -aboF "$(printf "$magic")" "$in" | cut -d: -f1); do
		tail -c +$((off + 1)) "$in" | "$@" >"$out" 2>/dev/null || true
		if [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ]; then
			return 0
		fi
	done
	return 1
}

try '\3757zXZ' xz -dc && exit 0
try '\050\265\057\375' zstd -dc && exit 0
try '\037\213\010' gzip -dc && exit 0
rm -f "$out"
echo "vmtest: no xz, zstd or gzip payload with an ELF image in $in" >&2
exit 1
