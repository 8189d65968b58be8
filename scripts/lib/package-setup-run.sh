# Sourced by scripts/test-package.sh once the package is installed: the admin's path from
# the installed package to a running daemon, as the guide gives it, on loopback mail
# servers (scripts/mail-servers.sh) standing in for Gmail: `qrca setup` (as root) writes the
# ward into the packaged /etc/qrca/qrca.toml, the app passwords into /etc/qrca/secrets and
# the key into /etc/qrca/keys, tries the logins and mails the enrolment; then the unit's
# own ExecStart runs as the unit's User (systemd is not PID 1 on the test machines) and
# answers an area police officer's registration of an organisation. What setup wrote must
# be readable by the qrca user and by nobody else.

setup_and_run() {
    local env dir
    env=$(scripts/mail-servers.sh start)
    dir=$(echo "$env" | sed -n 's/^DIR=//p')
    mail_dir="$dir"
    local imaps smtps ca mail_root
    imaps=$(echo "$env" | sed -n 's/^IMAPS_PORT=//p')
    smtps=$(echo "$env" | sed -n 's/^SMTPS_PORT=//p')
    ca=$(echo "$env" | sed -n 's/^CA_CERT=//p')
    mail_root=$(echo "$env" | sed -n 's/^MAIL_ROOT=//p')

    local ward=hoankiem.tranhungdao police=cskv1.thd@hoankiem.gov.test org=nhansu@congty.test
    local accounts=(qrca.hoankiem.tranhungdao1@gmail.com qrca.hoankiem.tranhungdao2@gmail.com
        qrca.hoankiem.tranhungdao3@gmail.com)
    local passwords=("abcd efgh ijkl mnop" "qrst uvwx yzab cdef" "ghij klmn opqr stuv")
    for i in 0 1 2; do
        scripts/mail-servers.sh add-user "$dir" "${accounts[$i]}" "${passwords[$i]// /}" >/dev/null
    done
    for user in admin@hanoi.gov.test canbo.thd@hoankiem.gov.test congan.thd@hoankiem.gov.test "$police" "$org"; do
        scripts/mail-servers.sh add-user "$dir" "$user" secret >/dev/null
    done

    # The admin's one edit for a local server instead of Gmail: [mail] and its CA.
    as_root install -m 0644 "$ca" /etc/qrca/test-ca.pem
    as_root sed -i \
        -e "s|^imap = .*|imap = { host = \"127.0.0.1\", port = $imaps, tls = \"implicit\" }|" \
        -e "s|^smtp = .*|smtp = { host = \"127.0.0.1\", port = $smtps, tls = \"implicit\" }\nca_file = \"/etc/qrca/test-ca.pem\"|" \
        -e 's|^trusted_authserv_ids = .*|trusted_authserv_ids = ["mx.qrca.test"]|' /etc/qrca/qrca.toml

    echo "== qrca setup --ward $ward (the installed binary, on the packaged config)" >&2
    printf '%s\n' "${passwords[@]}" | as_root /usr/bin/qrca setup --ward "$ward" \
        --name "Phường Trần Hưng Đạo" --district "Quận Hoàn Kiếm" --short THD \
        --admin-email admin@hanoi.gov.test --officer canbo.thd@hoankiem.gov.test \
        --police congan.thd@hoankiem.gov.test --area-police "$police" \
        --passwords-stdin --no-start --yes >"$debs/setup.out" 2>&1 ||
        fail "qrca setup: $(cat "$debs/setup.out")"
    stat_is "/etc/qrca/keys/$ward.key" qrca:qrca 600
    for n in 1 2 3; do stat_is "/etc/qrca/secrets/$ward.$n" qrca:qrca 600; done
    stat_is /etc/qrca/keys root:qrca 750
    local enrolments
    enrolments=$(ls "$mail_root/hanoi.gov.test/admin/Maildir/new" | wc -l)
    [ "$enrolments" -eq 3 ] || fail "the admin got $enrolments enrolment mails, not 3"

    echo "== the unit's ExecStart as its User, then a registration" >&2
    local exec_start user
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit_dir/qrca.service")
    user=$(sed -n 's/^User=//p' "$unit_dir/qrca.service")
    # shellcheck disable=SC2086 # ExecStart is a command line of words
    as_root runuser -u "$user" -- $exec_start >"$debs/run.log" 2>&1 &
    daemon=$!
    python3 - "$smtps" "$ca" "$police" "${accounts[0]}" "$org" <<'PY' || fail "could not submit the registration"
import smtplib, ssl, sys
from email.message import EmailMessage
port, ca, police, account, org = sys.argv[1:]
m = EmailMessage()
m["From"], m["To"], m["Subject"] = police, account, "ĐĂNG KÝ TỔ CHỨC"
m.set_content(f"Tên tổ chức: Công ty May Hà Nội\nEmail: {org}\n")
with smtplib.SMTP_SSL("127.0.0.1", int(port), context=ssl.create_default_context(cafile=ca)) as s:
    s.login(police, "secret")
    s.send_message(m)
PY
    local waited=0
    until [ -n "$(ls -A "$mail_root/congty.test/nhansu/Maildir/new" 2>/dev/null)" ]; do
        kill -0 "$daemon" 2>/dev/null || fail "the daemon stopped: $(tail -20 "$debs/run.log")"
        [ "$waited" -lt 60 ] || fail "no confirmation reached $org in 60 s: $(tail -20 "$debs/run.log")"
        sleep 1
        waited=$((waited + 1))
    done
    python3 - "$mail_root/congty.test/nhansu/Maildir/new" <<'PY' || fail "the organisation's mail carries no case code THD-T-…"
import email, email.policy, pathlib, sys
for path in pathlib.Path(sys.argv[1]).iterdir():
    m = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = m.get_body(("plain", "html"))
    if "THD-T-" in str(m["Subject"]) + (body.get_content() if body else ""):
        sys.exit(0)
sys.exit(1)
PY
    echo "   the organisation's confirmation arrived after ${waited} s" >&2
    as_root pkill -TERM -u qrca -f "qrca run" || true
    wait "$daemon" 2>/dev/null || true
    daemon=

    # The daemon stopped, the admin looks at the cases: as qrca it works; as root it is
    # refused (it would leave root's files in the daemon's state directory).
    as_root runuser -u qrca -- /usr/bin/qrca cases --config /etc/qrca/qrca.toml >"$debs/cases.out" 2>&1 ||
        fail "qrca cases as qrca: $(cat "$debs/cases.out")"
    grep -q "THD-T-0001" "$debs/cases.out" || fail "qrca cases does not list THD-T-0001: $(cat "$debs/cases.out")"
    if as_root /usr/bin/qrca cases --config /etc/qrca/qrca.toml >"$debs/cases.out" 2>&1; then
        fail "qrca cases as root opened the daemon's state directory"
    fi
    grep -q "sudo -u qrca" "$debs/cases.out" || fail "qrca cases as root: $(cat "$debs/cases.out")"
    [ -z "$(find /var/lib/qrca ! -user qrca)" ] || fail "files not the daemon's in /var/lib/qrca: $(find /var/lib/qrca ! -user qrca)"
    stop_setup_run
}

# Stops what setup_and_run started (also from the EXIT trap when a check failed).
stop_setup_run() {
    if [ -n "${daemon:-}" ]; then
        as_root pkill -TERM -u qrca -f "qrca run" || true
        wait "$daemon" 2>/dev/null || true
        daemon=
    fi
    as_root rm -f /etc/qrca/test-ca.pem
    if [ -n "${mail_dir:-}" ]; then
        scripts/mail-servers.sh stop "$mail_dir" >/dev/null || true
        mail_dir=
    fi
}
