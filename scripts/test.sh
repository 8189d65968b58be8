#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this and nothing else).
#
# 1. Installs with apt the system packages the tests need, when they are missing
#    (CI runs as root on a clean Debian machine with no standard input).
# 2. Checks formatting and lints, then runs every test target (unit, integration,
#    property tests, and the benchmarks once each in test mode) and the doc tests.
# 3. Builds the Debian package from that build and installs, upgrades, removes and
#    purges it on this machine (scripts/test-package.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use: poppler-utils (pdftoppm, pdftotext, pdffonts) and
# zbar-tools (zbarimg) check the permit PDFs and their QR codes as a viewer and a
# scanner would; Dovecot and Postfix are the loopback mail servers of the end-to-end
# tests (scripts/mail-servers.sh runs private instances; the system's are not used);
# systemd's systemd-analyze checks systemd/qrca.service offline (no systemd runs here).
# time (GNU time) and util-linux (prlimit) measure and cap the child processes that read
# the hostile corpus (tests/hostile_corpus.rs, tests/roster_hostile.rs).
# chromium, ffmpeg and Node drive the checkpoint page (tests/checkpoint_page.rs): headless
# Chromium with a fake camera fed a y4m that ffmpeg makes from a permit's render.
# cups-daemon and cups-client: a private cupsd with two queues (scripts/cups.sh) for the
# print queue's tests (tests/print_queue.rs). man-db renders the generated man pages
# (tests/manual.rs, and the installed ones). dpkg-dev (dpkg-shlibdeps) gives cargo-deb the
# package's library dependencies (scripts/package.sh, scripts/test-package.sh);
# python3-markdown and fonts-dejavu-core make the guide's PDF (scripts/guide-pdf.sh,
# with Chromium).
PACKAGES=(poppler-utils zbar-tools dovecot-imapd dovecot-lmtpd postfix openssl systemd time util-linux
    chromium ffmpeg nodejs cups-daemon cups-client man-db dpkg-dev python3-markdown fonts-dejavu-core)
# Debian's nodejs comes without npm (NodeSource's includes it): add Debian's only if needed.
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

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

# puppeteer-core, exactly as tests/checkpoint/package-lock.json pins it.
if [ ! -d tests/checkpoint/node_modules/puppeteer-core ]; then
    echo "== npm ci (tests/checkpoint)" >&2
    (cd tests/checkpoint && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test" >&2
cargo test --all-targets --locked
cargo test --doc --locked
# The Debian package, installed, upgraded, removed and purged on this machine (as root).
echo "== the Debian package (scripts/test-package.sh)" >&2
scripts/test-package.sh
echo "scripts/test.sh: all tests passed" >&2
