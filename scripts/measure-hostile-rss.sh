#!/usr/bin/env bash
# Measures the memory of `qrca run` (release build) while it takes in N hostile mails in
# a row (issue 11: goal flat), on a private loopback Dovecot/Postfix
# (scripts/mail-servers.sh). The mails are the hostile corpus
# (tests/fixtures/hostile/mail/*.eml) cycled, each copy with its own Message-ID,
# injected over LMTP with their forged headers as they are. Prints the daemon's RSS
# after every STEP mails and its peak; writes nothing outside a temp dir.
#
# Usage (as root, like the test suite): scripts/measure-hostile-rss.sh [N [STEP]]
#   (default 1000 mails, a sample every 100)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
STEP=${2:-100}
CORPUS=${CORPUS:-$PWD/tests/fixtures/hostile/mail} # or any folder of .eml files
# shellcheck source=scripts/lib/measure-world.sh
. scripts/lib/measure-world.sh
# The ward and addresses the corpus was written for (scripts/make-hostile-mails.py);
# its forged and genuine Authentication-Results all name mx.google.com.
cat >"$work/qrca.toml" <<EOF
[service]
state_dir = "state"
admin_email = "admin@example.test"

[mail]
imap = { host = "127.0.0.1", port = $IMAP_PORT, tls = "none" }
smtp = { host = "127.0.0.1", port = $SMTP_PORT, tls = "none" }
trusted_authserv_ids = ["mx.google.com"]

[[ward]]
code = "hoankiem.tranhungdao"
short = "THD"
name = "Phường Trần Hưng Đạo"
district = "Quận Hoàn Kiếm"
signing_key = "keys/thd.key"
officers = ["canbo.an@hoankiem.hanoi.gov.vn"]
police = ["congan.thd@hoankiem.hanoi.gov.vn"]
area_police = ["cskv.thd@hoankiem.hanoi.gov.vn"]
EOF
users=()
for n in 1 2 3; do
    address="qrca.hoankiem.tranhungdao$n@gmail.com"
    printf '[[ward.account]]\naddress = "%s"\npassword_file = "secrets/pw"\n' "$address" >>"$work/qrca.toml"
    users+=("$address" pw)
done
scripts/mail-servers.sh add-user "$servers" "${users[@]}" >/dev/null
"$QRCA" keys generate --ward hoankiem.tranhungdao --config "$work/qrca.toml" >/dev/null 2>&1

QRCA_LOG=warn "$QRCA" run --config "$work/qrca.toml" 2>"$work/qrca.log" &
daemon=$!
sleep 3
kill -0 "$daemon" || { cat "$work/qrca.log" >&2; exit 1; }

# Injects the corpus, cycled, STEP mails at a time; after each step waits until the
# daemon has emptied the INBOX, then prints its RSS.
python3 - "$CORPUS" "$N" "$STEP" "$LMTP_PORT" "$IMAP_PORT" "$daemon" <<'PY'
import glob, imaplib, os, re, smtplib, sys, time

corpus, total, step, lmtp_port, imap_port, pid = sys.argv[1:]
total, step = int(total), int(step)
account = "qrca.hoankiem.tranhungdao1@gmail.com"
files = sorted(glob.glob(os.path.join(corpus, "*.eml")))
mails = [open(f, "rb").read() for f in files]


def status(key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise SystemExit(f"the daemon (pid {pid}) is gone")


def inbox_count():
    imap = imaplib.IMAP4("127.0.0.1", int(imap_port))
    imap.login(account, "pw")
    typ, data = imap.select("INBOX", readonly=True)
    imap.logout()
    return int(data[0])


def unique(raw, n):
    # Each copy is a new mail: its own Message-ID (or, for the one without, its own
    # bytes), so the daemon reads it rather than skipping it as already seen.
    copy, k = re.subn(rb"(?im)^(Message-ID:\s*<)", rb"\g<1>soak%d." % n, raw, count=1)
    return copy if k else b"X-Soak: %d\r\n" % n + raw


print(f"{'mails':>6} {'RSS MB':>7} {'peak MB':>8} {'s':>6}")
print(f"{0:>6} {status('VmRSS'):>7} {status('VmHWM'):>8} {0:>6.1f}")
started = time.time()
sent = 0
while sent < total:
    with smtplib.LMTP("127.0.0.1", int(lmtp_port)) as lmtp:
        for _ in range(min(step, total - sent)):
            lmtp.sendmail("soak@evil.example", [account], unique(mails[sent % len(mails)], sent))
            sent += 1
    deadline = time.time() + 600
    while inbox_count() > 0:
        if time.time() > deadline:
            raise SystemExit(f"the INBOX still holds mail 600 s after mail {sent}")
        time.sleep(0.5)
    print(f"{sent:>6} {status('VmRSS'):>7} {status('VmHWM'):>8} {time.time() - started:>6.1f}", flush=True)
PY
quarantined=$(grep -c 'quarantin' "$work/qrca.log" || true)
echo "qrca run took in $N hostile mails; log lines naming quarantine: $quarantined"
