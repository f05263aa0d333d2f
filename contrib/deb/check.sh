#!/bin/sh
# Install a built .deb into a private dpkg root (nothing on this machine
# changes), check what it installed, remove it and check nothing is left:
#   contrib/deb/check.sh uplinkd_VERSION_ARCH.deb
set -eu
deb=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT INT TERM
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status"
dpkg_() {
	# iproute2 is the machine's, not in this private database.
	dpkg --instdir="$root" --admindir="$root/var/lib/dpkg" --force-script-chrootless \
		--force-depends --log=/dev/null "$@"
}
fail() { echo "deb check: $*" >&2; exit 1; }

dpkg_ -i "$deb" >/dev/null
for f in usr/sbin/uplinkd lib/systemd/system/uplinkd.service etc/uplinkd/edge.toml etc/uplinkd/hub.toml; do
	[ -e "$root/$f" ] || fail "$f not installed"
done
grep -q '^ExecStart=/usr/sbin/uplinkd run' "$root/lib/systemd/system/uplinkd.service" ||
	fail "the unit does not start /usr/sbin/uplinkd"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' uplinkd | grep -q /etc/uplinkd/edge.toml ||
	fail "the example configs are not conffiles"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/uplinkd.service" ] ||
	fail "the unit was enabled on install"
"$root/usr/sbin/uplinkd" version
# The example as installed: the only problem is the private key, which
# the admin makes (its path is absolute, so it is looked up on this machine;
# the test makes sure no key is there).
cfg="$root/etc/uplinkd/edge.toml"
sed -i "s|/etc/uplinkd/private.key|$root/etc/uplinkd/private.key|" "$cfg"
if out=$("$root/usr/sbin/uplinkd" check -c "$cfg" 2>&1); then
	fail "check of the example passed without a key: $out"
fi
echo "$out"
n=$(printf '%s\n' "$out" | grep -cE ':[0-9]+:[0-9]+: ')
[ "$n" -eq 1 ] && printf '%s\n' "$out" | grep -q 'private_key_file' ||
	fail "check of the example reports more than the missing key"

dpkg_ -r uplinkd >/dev/null
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o ! -type d -print | grep -v '^\./etc/uplinkd/' || true)
[ -z "$left" ] || fail "left after dpkg -r: $left"
dpkg_ -P uplinkd >/dev/null
[ ! -e "$root/etc/uplinkd/edge.toml" ] || fail "conffiles left after purge"
echo "deb check: installed, checked, removed and purged cleanly"
