#!/bin/sh
# Build uplinkd_VERSION_ARCH.deb with dpkg-deb from a staged tree:
#   contrib/deb/build.sh BINARY VERSION DEBARCH OUTDIR
# The binary goes to /usr/sbin, the systemd unit to /lib/systemd/system
# (not enabled, not started: a router's config must be written first), the
# example configs to /etc/uplinkd as conffiles (dpkg keeps an admin's
# edits on upgrade), and the state directory to /var/lib/uplinkd.
set -eu
bin=$1 version=$2 arch=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM

install -D -m 0755 "$bin" "$stage/usr/sbin/uplinkd"
# The unit in contrib/ is for a hand install under /usr/local.
install -d "$stage/lib/systemd/system"
sed 's|/usr/local/sbin/uplinkd|/usr/sbin/uplinkd|g' "$top/contrib/systemd/uplinkd.service" \
	> "$stage/lib/systemd/system/uplinkd.service"
chmod 0644 "$stage/lib/systemd/system/uplinkd.service"
install -d -m 0755 "$stage/etc/uplinkd"
for f in edge.toml hub.toml edge-two-hubs.toml hub-two-edges.toml; do
	install -m 0644 "$top/configs/$f" "$stage/etc/uplinkd/$f"
done
install -d -m 0700 "$stage/var/lib/uplinkd"
install -D -m 0644 "$top/README.md" "$stage/usr/share/doc/uplinkd/README.md"

install -d "$stage/DEBIAN"
( cd "$stage" && find etc -type f | sed 's|^|/|' | sort ) > "$stage/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$here/control.in" > "$stage/DEBIAN/control"
install -m 0755 "$here/postrm" "$stage/DEBIAN/postrm"

mkdir -p "$out"
deb="$out/uplinkd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
