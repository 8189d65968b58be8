#!/usr/bin/env bash
# Measures `qrca run` (release build) watching many accounts in IMAP IDLE, on a private
# loopback Dovecot/Postfix (scripts/mail-servers.sh): its RSS and threads once every
# account is in IDLE (issue 6: 300 accounts, goal < 150 MB; issue 15: 1,800 accounts, a
# city's wards hosted centrally, goal < 300 MB), the time until all are logged in, and
# the time for one mail to one of them to be answered while all are idle (an officer's
# registration sent in through Postfix, until the confirmation lies in the organisation's
# Maildir). Prints the figures; writes nothing outside a temp dir.
# As Gmail is reached, over TLS (implicit, IMAPS and SMTPS, with the servers' own CA);
# TLS=0 measures plain IMAP instead. The daemon runs under an address-space cap
# (QRCA_AS_LIMIT, default 2 GiB, prlimit --as) so that a leak fails the run, not the machine.
#
# Usage (as root, like the test suite): [TLS=0] scripts/measure-idle-rss.sh [WARDS]
#   (default 100 wards × 3 accounts; 600 for the city's 1,800)
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

ORG=org@example.test
scripts/mail-servers.sh add-user "$servers" "$ORG" pw >/dev/null
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

start=$(now)
QRCA_LOG=info prlimit --as="${QRCA_AS_LIMIT:-$((2 << 30))}" -- \
    "$QRCA" run --config "$work/qrca.toml" 2>"$work/qrca.log" &
daemon=$!
# Logins take a few ms each on loopback; allow 1 s per 10 accounts, at least 120 s.
patience=$((ACCOUNTS / 10 > 120 ? ACCOUNTS / 10 : 120))
until [ "$(grep -c 'watching INBOX' "$work/qrca.log" || true)" -ge "$ACCOUNTS" ]; do
    sleep 0.2
    if ! kill -0 "$daemon" 2>/dev/null; then
        echo "qrca run stopped" >&2
        tail -20 "$work/qrca.log" >&2
        exit 1
    fi
    if [ "$(since "$start" | cut -d. -f1)" -gt "$patience" ]; then
        echo "only $(grep -c 'watching INBOX' "$work/qrca.log") of $ACCOUNTS accounts watching after $patience s" >&2
        tail -20 "$work/qrca.log" >&2
        grep -Ei 'warning|error|fatal|reached' "$servers/log/dovecot.log" | tail -5 >&2 || true
        exit 1
    fi
done
ready=$(since "$start")
sleep 10 # settle in IDLE
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon/status")
threads=$(awk '/^Threads/ {print $2}' "/proc/$daemon/status")
fds=$(find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 | wc -l)
imap=$(pgrep -c -f "^dovecot-qrca-test-$(basename "$servers")/imap\$" || true)
login=$(pgrep -c -f "^dovecot-qrca-test-$(basename "$servers")/imap-login\$" || true)
mode=$([ "${TLS:-1}" = 1 ] && echo TLS || echo plain IMAP)
echo "qrca run watching $ACCOUNTS accounts ($WARDS wards) in IDLE ($mode): RSS $((rss / 1024)) MB (peak $((hwm / 1024)) MB), $threads threads, $fds open files; all logged in within ${ready} s (Dovecot: $imap imap, $login imap-login processes)"

# At its first start the daemon queues each ward's revocation list for the city (one
# mail a ward, SPEC §9) and sends them in one pass: idle means after it, once the log
# has been quiet for 5 s.
quiet=$(now)
size=$(stat -c %s "$work/qrca.log")
while [ "$(since "$quiet" | cut -d. -f1)" -lt 5 ]; do
    sleep 0.5
    if [ "$(stat -c %s "$work/qrca.log")" != "$size" ]; then
        size=$(stat -c %s "$work/qrca.log")
        quiet=$(now)
    fi
    if [ "$(since "$start" | cut -d. -f1)" -gt 900 ]; then
        echo "the daemon's log was never quiet for 5 s" >&2
        exit 1
    fi
done
lists=$(grep -c "revocation list for the city is queued" "$work/qrca.log" || true)
echo "start-up: $lists wards' revocation lists queued for the city and sent; quiet $(since "$start") s after the start"

# One mail to one account while all are idle: the officer of the last ward registers an
# organisation on its first account, through Postfix as mail from outside arrives.
w=$((WARDS - 1))
cat >"$work/registration.eml" <<EOF
From: <canbo$w@example.test>
To: <qrca.quan.phuong${w}1@gmail.com>
Subject: DANG KY TO CHUC
Date: $(date -R)
Message-ID: <measure-$$-$(date +%s%N)@example.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Ten to chuc: Cong ty Do Thi
Email: $ORG
EOF
inbox=$servers/mail/example.test/org/Maildir
sent=$(now)
curl -s --url "smtp://127.0.0.1:$MX_PORT" --mail-from "canbo$w@example.test" \
    --mail-rcpt "qrca.quan.phuong${w}1@gmail.com" --upload-file "$work/registration.eml"
until [ -n "$(find "$inbox/new" "$inbox/cur" -type f 2>/dev/null | head -1)" ]; do
    sleep 0.05
    if [ "$(since "$sent" | cut -d. -f1)" -gt 60 ]; then
        echo "no answer in the organisation's inbox after 60 s" >&2
        tail -20 "$work/qrca.log" >&2
        exit 1
    fi
done
answered=$(since "$sent")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$daemon/status")
echo "one registration to one of the $ACCOUNTS idle accounts answered (confirmation in the organisation's Maildir) in ${answered} s; RSS then $((rss / 1024)) MB (peak $((hwm / 1024)) MB)"
[ -z "${QRCA_MEASURE_LOG:-}" ] || cp "$work/qrca.log" "$QRCA_MEASURE_LOG"
