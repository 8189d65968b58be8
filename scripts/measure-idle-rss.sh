#!/usr/bin/env bash
# Measures the memory of `qrca run` watching many accounts in IMAP IDLE (issue 6: 300
# accounts, goal < 150 MB RSS), on a private loopback Dovecot/Postfix
# (scripts/mail-servers.sh). Prints the figure; writes nothing outside a temp dir.
#
# Usage (as root, like the test suite): scripts/measure-idle-rss.sh [WARDS]   (default 100 wards × 3 accounts)
set -euo pipefail
cd "$(dirname "$0")/.."
WARDS=${1:-100}
ACCOUNTS=$((WARDS * 3))
cargo build --release --quiet
QRCA=$PWD/target/release/qrca

work=$(mktemp -d /tmp/qrca-rss.XXXXXX)
servers=""
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    [ -n "$servers" ] && scripts/mail-servers.sh stop "$servers" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(scripts/mail-servers.sh start | grep -E '^(DIR|IMAP_PORT|SMTP_PORT)=')"
servers=$DIR
mkdir -p "$work/secrets" "$work/keys"
printf 'pw' >"$work/secrets/pw"
chmod 600 "$work/secrets/pw"
{
    printf '[service]\nstate_dir = "state"\nadmin_email = "admin@example.test"\n\n'
    printf '[mail]\nimap = { host = "127.0.0.1", port = %s, tls = "none" }\n' "$IMAP_PORT"
    printf 'smtp = { host = "127.0.0.1", port = %s, tls = "none" }\ntrusted_authserv_ids = []\n' "$SMTP_PORT"
} >"$work/qrca.toml"
users=()
letters=(A B C D E F G H I J K L M N O P Q R S T U V W X Y Z)
for ((w = 0; w < WARDS; w++)); do
    short="W${letters[$((w / 26 % 26))]}${letters[$((w % 26))]}"
    printf '\n[[ward]]\ncode = "quan.phuong%d"\nshort = "%s"\nname = "Phường %d"\ndistrict = "Quận Một"\nsigning_key = "keys/%d.key"\nofficers = ["canbo%d@example.test"]\npolice = ["congan%d@example.test"]\n' \
        "$w" "$short" "$w" "$w" "$w" "$w" >>"$work/qrca.toml"
    for n in 1 2 3; do
        address="qrca.quan.phuong${w}${n}@gmail.com"
        printf '[[ward.account]]\naddress = "%s"\npassword_file = "secrets/pw"\n' "$address" >>"$work/qrca.toml"
        users+=("$address" pw)
    done
done
scripts/mail-servers.sh add-user "$servers" "${users[@]}" >/dev/null
for ((w = 0; w < WARDS; w++)); do
    "$QRCA" keys generate --ward "quan.phuong$w" --config "$work/qrca.toml" >/dev/null 2>&1
done

QRCA_LOG=info "$QRCA" run --config "$work/qrca.toml" 2>"$work/qrca.log" &
daemon=$!
start=$(date +%s)
until [ "$(grep -c 'watching INBOX' "$work/qrca.log" || true)" -ge "$ACCOUNTS" ]; do
    sleep 0.5
    if [ $(($(date +%s) - start)) -gt 120 ]; then
        echo "only $(grep -c 'watching INBOX' "$work/qrca.log") of $ACCOUNTS accounts watching after 120 s" >&2
        tail -20 "$work/qrca.log" >&2
        exit 1
    fi
done
ready=$(($(date +%s) - start))
sleep 10 # settle in IDLE
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$daemon/status")
echo "qrca run watching $ACCOUNTS accounts ($WARDS wards) in IDLE: RSS $((rss / 1024)) MB (peak $((hwm / 1024)) MB), $threads threads; all logged in within ${ready} s"
