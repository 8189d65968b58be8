#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this and nothing else).
#
# 1. Installs with apt the system packages the tests need, when they are missing
#    (CI runs as root on a clean Debian machine with no standard input).
# 2. Checks formatting and lints, then runs every test target (unit, integration,
#    property tests, and the benchmarks once each in test mode) and the doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use: poppler-utils (pdftoppm, pdftotext, pdffonts) and
# zbar-tools (zbarimg) check the permit PDFs and their QR codes as a viewer and a
# scanner would; Dovecot and Postfix are the loopback mail servers of the end-to-end
# tests (scripts/mail-servers.sh runs private instances; the system's are not used);
# systemd's systemd-analyze checks systemd/qrca.service offline (no systemd runs here).
# time (GNU time) and util-linux (prlimit) measure and cap the child processes that read
# the hostile corpus (tests/hostile_corpus.rs, tests/roster_hostile.rs).
PACKAGES=(poppler-utils zbar-tools dovecot-imapd dovecot-lmtpd postfix openssl systemd time util-linux)

install_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    # Postfix must not ask how to deliver mail, nor become an internet mail server.
    echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

if [ ${#PACKAGES[@]} -gt 0 ]; then
    install_missing "${PACKAGES[@]}"
fi

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test" >&2
cargo test --all-targets --locked
cargo test --doc --locked
echo "scripts/test.sh: all tests passed" >&2
