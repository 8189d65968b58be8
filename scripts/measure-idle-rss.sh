#!/usr/bin/env bash
# Measures the memory of `qrca run` watching many accounts in IMAP IDLE (issue 6: 300
# accounts, goal < 150 MB RSS), on a private loopback Dovecot/Postfix
# (scripts/mail-servers.sh). Prints the figure; writes nothing outside a temp dir.
# As Gmail is reached, over TLS (implicit, IMAPS and SMTPS, with the servers' own CA);
# TLS=0 measures plain IMAP instead.
#
# Usage (as root, like the test suite): [TLS=0] scripts/measure-idle-rss.sh [WARDS]
#   (default 100 wards × 3 accounts)
set -euo pipefail
cd "$(dirname "$0")/.."
WARDS=${1:-100}
ACCOUNTS=$((WARDS * 3))
# shellcheck source=scripts/lib/measure-world.sh
. scripts/lib/measure-world.sh
{
    printf '[service]\nstate_dir = "state"\nadmin_email = "admin@example.test"\n\n'
    if [ "${TLS:-1}" = 1 ]; then
        printf '[mail]\nimap = { host = "127.0.0.1", port = %s, tls = "implicit" }\n' "$IMAPS_PORT"
        printf 'smtp = { host = "127.0.0.1", port = %s, tls = "implicit" }\n' "$SMTPS_PORT"
        printf 'ca_file = "%s"\ntrusted_authserv_ids = []\n' "$CA_CERT"
    else
        printf '[mail]\nimap = { host = "127.0.0.1", port = %s, tls = "none" }\n' "$IMAP_PORT"
        printf 'smtp = { host = "127.0.0.1", port = %s, tls = "none" }\ntrusted_authserv_ids = []\n' "$SMTP_PORT"
    fi
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
echo "qrca run watching $ACCOUNTS accounts ($WARDS wards) in IDLE ($([ "${TLS:-1}" = 1 ] && echo TLS || echo plain IMAP)): RSS $((rss / 1024)) MB (peak $((hwm / 1024)) MB), $threads threads; all logged in within ${ready} s"
