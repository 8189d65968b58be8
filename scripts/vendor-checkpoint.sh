#!/usr/bin/env bash
# Re-fetches the checkpoint page's third-party code from npm and rebuilds it.
#
# templates/checkpoint/vendor/ holds what the page embeds: vendor.min.js (jsQR,
# @noble/ed25519, @noble/hashes' SHA-512, bundled by esbuild into one IIFE that fetches
# nothing), LICENSES.txt (their licences, as the packages ship them), and
# vendor.min.js.sha256. The inputs are package.json, package-lock.json (exact versions and
# npm's integrity hashes) and entry.js.
#
#   scripts/vendor-checkpoint.sh           rebuild in a scratch directory and check that the
#                                          result is byte for byte the committed file
#   scripts/vendor-checkpoint.sh --update  rebuild and replace the committed files (after
#                                          changing a version in package.json: run `npm
#                                          install` in that folder first to update the lock)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=templates/checkpoint/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$dir/package.json" "$dir/package-lock.json" "$dir/entry.js" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
"$work/node_modules/.bin/esbuild" "$work/entry.js" --bundle --minify --format=iife \
    --target=es2020 --legal-comments=none --log-level=warning --outfile="$work/vendor.min.js"
{
    for pkg in jsqr @noble/ed25519 @noble/hashes; do
        version=$(node -p "require('$work/node_modules/$pkg/package.json').version")
        echo "==== $pkg $version ($(node -p "require('$work/node_modules/$pkg/package.json').license"))"
        cat "$work/node_modules/$pkg/LICENSE"
        echo
    done
} >"$work/LICENSES.txt"
got=$(sha256sum "$work/vendor.min.js" | cut -d' ' -f1)
if [ "${1:-}" = "--update" ]; then
    cp "$work/vendor.min.js" "$work/LICENSES.txt" "$dir/"
    echo "$got  vendor.min.js" >"$dir/vendor.min.js.sha256"
    echo "vendor-checkpoint: wrote $dir/vendor.min.js ($(wc -c <"$dir/vendor.min.js") bytes, sha256 $got)"
    exit 0
fi
want=$(cut -d' ' -f1 "$dir/vendor.min.js.sha256")
[ "$got" = "$(sha256sum "$dir/vendor.min.js" | cut -d' ' -f1)" ] && [ "$got" = "$want" ] || {
    echo "vendor-checkpoint: the rebuilt vendor.min.js (sha256 $got) is not the committed one ($want)" >&2
    exit 1
}
echo "vendor-checkpoint: vendor.min.js rebuilt from npm is identical (sha256 $got)"
