# Shared by the measuring scripts (scripts/measure-*.sh), sourced, not run: builds the
# release binary, makes a temp dir that is removed on exit, starts a private loopback
# Dovecot/Postfix (scripts/mail-servers.sh) and writes the one app password every
# account uses. Afterwards: $QRCA, $work, $servers, and the servers' KEY=value lines
# (IMAP_PORT, IMAPS_PORT, SMTP_PORT, SMTPS_PORT, LMTP_PORT, MX_PORT, CA_CERT) as variables; set
# $daemon to the daemon's pid for the cleanup to stop it.
cargo build --release --quiet
QRCA=${CARGO_TARGET_DIR:-$PWD/target}/release/qrca

work=$(mktemp -d /tmp/qrca-measure.XXXXXX)
servers=""
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    [ -n "$servers" ] && scripts/mail-servers.sh stop "$servers" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

eval "$(scripts/mail-servers.sh start | grep -E '^(DIR|IMAP_PORT|IMAPS_PORT|SMTP_PORT|SMTPS_PORT|LMTP_PORT|MX_PORT|CA_CERT)=')"
servers=$DIR
mkdir -p "$work/secrets" "$work/keys"
printf 'pw' >"$work/secrets/pw"
chmod 600 "$work/secrets/pw"
