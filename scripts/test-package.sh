#!/usr/bin/env bash
# The Debian package on this machine, for real (issue 18; scripts/test.sh runs it as root,
# as CI does): builds it from the test build, installs it with dpkg -i, checks the files,
# owners and modes, `qrca --version`, `man -w qrca`, `systemd-analyze verify` of the
# installed units; installs the same version again and a newer one over it (the admin's
# config, keys, secrets and state stay); `apt-get remove` (they still stay), then
# `apt-get purge` (only what the package made goes). Leaves the machine without qrca.
#
# A qrca this script did not install (no /var/lib/qrca-package-test marker) is never
# touched: the script stops instead.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
as_root() { "${sudo[@]}" "$@"; }

fail() { echo "scripts/test-package.sh: FAILED: $*" >&2; exit 1; }
stat_is() { # stat_is PATH OWNER:GROUP MODE
    local got
    got=$(as_root stat -c '%U:%G %a' "$1" 2>/dev/null) || fail "$1 is missing"
    [ "$got" = "$2 $3" ] || fail "$1 is $got, expected $2 $3"
}
absent() { as_root test ! -e "$1" || fail "$1 is still there"; }
present() { as_root test -e "$1" || fail "$1 is missing"; }
installed_state() { dpkg-query -W -f='${db:Status-Abbrev}' qrca 2>/dev/null | tr -d ' ' || true; }

marker=/var/lib/qrca-package-test
case "$(installed_state)" in
    "" | un) ;;
    *)
        as_root test -e "$marker" ||
            fail "a qrca package is installed here that this test did not install; it is left alone (apt purge qrca first, after a backup)"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq qrca </dev/null >/dev/null
        ;;
esac

version=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["packages"][0]["version"])')
newer="$version+1"
echo "== package $version (test build) and $newer" >&2
# cargo deb empties target/debian first: each package is moved aside once made.
debs=$(mktemp -d)
# shellcheck source=scripts/lib/package-setup-run.sh
. scripts/lib/package-setup-run.sh
trap 'stop_setup_run; rm -rf "$debs"' EXIT
for v in "$version" "$newer"; do
    scripts/package.sh --profile dev --no-build --fast --deb-version "$v" >/dev/null
    mv "target/debian/qrca_${v}_amd64.deb" "$debs/" || fail "scripts/package.sh made no qrca_${v}_amd64.deb"
done
deb="$debs/qrca_${version}_amd64.deb"
deb_newer="$debs/qrca_${newer}_amd64.deb"

# Slim images (Docker's) may tell dpkg to leave out man pages and docs; this test checks
# them, so it takes them in whatever dpkg.cfg.d says (a ward PC's Debian has no excludes).
dpkg_i() {
    as_root env DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold \
        --path-include='/usr/share/man/*' --path-include='/usr/share/doc/qrca/*' \
        --path-include='/usr/share/bash-completion/*' "$1" </dev/null >/dev/null
}

echo "== dpkg -i $deb" >&2
dpkg_i "$deb"
as_root touch "$marker"
[ "$(installed_state)" = ii ] || fail "qrca is not installed (dpkg says $(installed_state))"

# Files, owners, modes.
stat_is /usr/bin/qrca root:root 755
stat_is /etc/qrca/qrca.toml root:root 644
stat_is /etc/qrca/keys root:qrca 750
stat_is /etc/qrca/secrets root:qrca 750
stat_is /var/lib/qrca qrca:qrca 700
unit_dir=$(dirname "$(dpkg -L qrca | grep '/systemd/system/qrca.service$')")
stat_is "$unit_dir/qrca.service" root:root 644
stat_is "$unit_dir/qrca-standby.service" root:root 644
present /usr/share/man/man1/qrca.1.gz
present /usr/share/man/man1/qrca-setup.1.gz
present /usr/share/bash-completion/completions/qrca
for doc in copyright huong-dan.pdf docs/huong-dan.md README.md LICENSE-MIT LICENSE-APACHE examples/qrca.example.toml; do
    present "/usr/share/doc/qrca/$doc"
done
# The installed Markdown guide's images and links resolve where it is.
for target in $(grep -o '](\(img/\|\.\./\)[^)#]*' /usr/share/doc/qrca/docs/huong-dan.md | cut -c3-); do
    present "/usr/share/doc/qrca/docs/$target"
done
grep -q "^/etc/qrca/qrca.toml$" /var/lib/dpkg/info/qrca.conffiles || fail "/etc/qrca/qrca.toml is not a conffile"
# The user: a system account that cannot log in.
entry=$(getent passwd qrca) || fail "no user qrca"
uid=$(echo "$entry" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "qrca is uid $uid, not a system user"
[ "$(echo "$entry" | cut -d: -f7)" = /usr/sbin/nologin ] || fail "qrca can log in: $entry"
# Enabled, not started (no ward yet); the standby unit not enabled.
present /etc/systemd/system/multi-user.target.wants/qrca.service
absent /etc/systemd/system/multi-user.target.wants/qrca-standby.service

# What it runs.
/usr/bin/qrca --version | grep -q "^qrca $version" || fail "qrca --version: $(/usr/bin/qrca --version)"
[ "$(man -w qrca)" = /usr/share/man/man1/qrca.1.gz ] || fail "man -w qrca: $(man -w qrca 2>&1)"
man qrca-setup 2>/dev/null | grep -q "setup" || fail "man qrca-setup does not render"
for unit in qrca.service qrca-standby.service; do
    out=$(systemd-analyze verify --man=no "$unit_dir/$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
done
# The packaged config is what qrca setup starts from: it reads, and says the ward is missing.
out=$(/usr/bin/qrca check --config /etc/qrca/qrca.toml 2>&1) && fail "qrca check passed a config without a ward"
echo "$out" | grep -q "ward" || fail "qrca check on the packaged config: $out"

# The admin's way from here to a running daemon (scripts/lib/package-setup-run.sh).
setup_and_run

# More of the admin's files, and an edit of the config: kept by what follows.
as_root sh -c 'echo "# edited by the admin" >> /etc/qrca/qrca.toml'
as_root install -o qrca -g qrca -m 0600 /dev/null /etc/qrca/keys/test.key
as_root sh -c 'echo secret > /etc/qrca/secrets/test.1 && chown qrca:qrca /etc/qrca/secrets/test.1 && chmod 600 /etc/qrca/secrets/test.1'
as_root install -o qrca -g qrca -m 0600 /dev/null /var/lib/qrca/state-marker
kept() {
    grep -q "^# edited by the admin$" /etc/qrca/qrca.toml || fail "$1: the admin's config edit is gone"
    stat_is /etc/qrca/keys/test.key qrca:qrca 600
    stat_is /etc/qrca/secrets/test.1 qrca:qrca 600
    stat_is /var/lib/qrca/state-marker qrca:qrca 600
    stat_is /etc/qrca/keys root:qrca 750
    stat_is /etc/qrca/keys/hoankiem.tranhungdao.key qrca:qrca 600
    grep -q '^code = "hoankiem.tranhungdao"' /etc/qrca/qrca.toml || fail "$1: the ward's section is gone"
}

echo "== dpkg -i the same version again, then $newer over it" >&2
dpkg_i "$deb"
kept "the same version again"
dpkg_i "$deb_newer"
kept "the upgrade to $newer"
[ "$(dpkg-query -W -f='${Version}' qrca)" = "$newer" ] || fail "the upgrade did not take"
[ "$(getent passwd qrca | cut -d: -f3)" = "$uid" ] || fail "the upgrade changed the qrca user"

echo "== apt-get remove qrca" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq qrca </dev/null >/dev/null
[ "$(installed_state)" = rc ] || fail "after remove dpkg says $(installed_state), expected rc"
absent /usr/bin/qrca
absent "$unit_dir/qrca.service"
kept "apt-get remove"
getent passwd qrca >/dev/null || fail "apt-get remove deleted the user qrca"

echo "== apt-get purge qrca" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq qrca </dev/null >/dev/null 2>&1
[ -z "$(installed_state)" ] || [ "$(installed_state)" = un ] || fail "after purge dpkg says $(installed_state)"
for path in /etc/qrca /var/lib/qrca /etc/systemd/system/multi-user.target.wants/qrca.service; do
    absent "$path"
done
getent passwd qrca >/dev/null && fail "apt-get purge left the user qrca"
getent group qrca >/dev/null && fail "apt-get purge left the group qrca"

# Purge deletes only what the package made: the admin's own file under /etc/qrca stays.
echo "== an admin's own file in /etc/qrca survives a purge" >&2
dpkg_i "$deb"
as_root touch "$marker"
as_root mkdir -p /etc/qrca/templates
as_root sh -c 'echo mine > /etc/qrca/templates/note.txt'
as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq qrca </dev/null >/dev/null 2>&1
present /etc/qrca/templates/note.txt
absent /etc/qrca/keys
absent /etc/qrca/qrca.toml
as_root rm -rf /etc/qrca "$marker"

echo "scripts/test-package.sh: the package installs, upgrades, removes and purges as it should" >&2
