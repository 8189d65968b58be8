#!/usr/bin/env bash
# Builds the Debian package of the ward PC: target/debian/qrca_<version>_amd64.deb
# (issue 18; what it holds: Cargo.toml, [package.metadata.deb]), its binary stripped, and
# beside it qrca-dbgsym_<version>_amd64.ddeb with its line tables, for debuggers.
#
#   scripts/package.sh                          release build, then the package
#   scripts/package.sh --profile dev --no-build the test build cargo test left (scripts/test.sh)
#   scripts/package.sh --deb-version 0.1.1      another version number (the upgrade test)
#   scripts/package.sh --fast                   quicker, bigger compression (the tests' packages)
#
# 1. cargo-deb (crates.io), installed with cargo when missing, at the version below.
# 2. The binary (unless --no-build).
# 3. What the package carries that the binary makes: the man pages and the bash
#    completions (`qrca manual`), and the guide's PDF (scripts/guide-pdf.sh), all under
#    target/qrca-deb/ (the paths the metadata names).
# 4. cargo deb --no-build.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
profile=release
build=1
deb_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --deb-version) deb_args+=(--deb-version "$2"); shift 2 ;;
        --fast) deb_args+=(--fast); shift ;;
        *) echo "scripts/package.sh: unknown argument $1 (see the first lines of this script)" >&2; exit 2 ;;
    esac
done

if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "== cargo install cargo-deb $CARGO_DEB_VERSION" >&2
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi

if [ "$build" -eq 1 ]; then
    echo "== cargo build --profile $profile" >&2
    cargo build --locked --profile "$profile" --bin qrca
fi
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
case "$profile" in
    dev) bin="$target_dir/debug/qrca" ;;
    *) bin="$target_dir/$profile/qrca" ;;
esac
if [ ! -x "$bin" ]; then
    echo "scripts/package.sh: $bin is not built (leave out --no-build, or build it first)" >&2
    exit 1
fi

gen=target/qrca-deb
rm -rf "$gen"
mkdir -p "$gen"
"$bin" manual --out-dir "$gen" >&2
scripts/guide-pdf.sh "$gen/huong-dan.pdf"

# A release binary goes stripped (31 MB instead of 78 MB installed); its debug half, in
# Debian's way, as a -dbgsym package. The tests' dev build is packaged as it is.
if [ "$profile" != dev ]; then
    deb_args+=(--dbgsym)
fi
mkdir -p target/debian
cargo deb --no-build --locked --profile "$profile" --output target/debian/ "${deb_args[@]}"
