#!/usr/bin/env bash
# Loopback mail servers for qrca's end-to-end tests: Dovecot (IMAP with IDLE/MOVE, LMTP)
# and Postfix (SMTP submission with SASL AUTH via Dovecot, delivery to Dovecot over LMTP).
#
# Every instance lives in its own directory (default: a new mktemp -d under /tmp) with its
# own configs, pid files, queue, Maildirs, logs and free 127.0.0.1 ports chosen at start.
# Nothing under /etc/dovecot or /etc/postfix is written or used as configuration (Postfix
# reads only its read-only meta files, postfix-files and postfix-script, from /etc/postfix);
# the system's own Dovecot/Postfix services are neither needed nor touched.
#
# Usage (as root: Postfix's master and Dovecot's master need it):
#   mail-servers.sh start [OPTIONS] [DIR]  start an instance; prints KEY=value lines
#     --imap-capability "CAP ..."  advertise these capabilities after login instead of
#                                  Dovecot's own (Dovecot's imap_capability): a server
#                                  without IDLE, MOVE or UIDPLUS, as some still are
#     --separator C                the hierarchy separator of the INBOX namespace
#                                  (default /; . is what Courier and Cyrus servers use)
#     --prefix P                   the INBOX namespace's prefix (default none): with
#                                  --separator . and --prefix INBOX., every folder lives
#                                  under INBOX, as on Courier and Cyrus
#     --rawlog                     keep each IMAP session's raw dialogue in DIR/rawlog/
#                                  (what clients sent: *.in; what Dovecot answered: *.out)
#   mail-servers.sh env DIR                print the KEY=value lines again
#   mail-servers.sh status DIR             KEY=value lines plus DOVECOT_PID/POSTFIX_PID (0 = down)
#   mail-servers.sh add-user DIR ADDRESS PASSWORD   add or replace a mailbox (any time)
#   mail-servers.sh restart-dovecot DIR    stop and start Dovecot on the same ports
#   mail-servers.sh quota-spent DIR ADDRESS
#                                          from now on, submission refuses mail from
#                                          ADDRESS as Gmail does an account over its daily
#                                          limit: 550 5.4.5 Daily user sending quota exceeded
#   mail-servers.sh refuse-recipient DIR ADDRESS
#                                          from now on, submission refuses RCPT TO ADDRESS
#                                          (550 5.1.1 User unknown), the others still taken
#   mail-servers.sh recreate-inbox DIR ADDRESS [FILE]...
#                                          with Dovecot stopped meanwhile, empty ADDRESS's
#                                          INBOX and forget its UIDs, so that it gets a new
#                                          UIDVALIDITY and numbers from 1 (as after a restore
#                                          or a move to a new server); then put FILEs in it,
#                                          in that order (raw messages)
#   mail-servers.sh pids DIR               every process of the instance, one pid a line
#   mail-servers.sh stop DIR [--keep]      stop both servers, wait for them, remove DIR
#
# Output keys: DIR IMAP_PORT IMAPS_PORT LMTP_PORT SMTP_PORT SMTPS_PORT MX_PORT CA_CERT
# AUTHSERV_ID USERS_FILE MAIL_ROOT DOVECOT_CONF POSTFIX_DIR DOVECOT_LOG POSTFIX_LOG.
#   IMAP_PORT   plain IMAP (LOGIN allowed without TLS), IMAPS_PORT implicit TLS
#   SMTP_PORT   submission: AUTH PLAIN/LOGIN required, STARTTLS offered, not required
#   SMTPS_PORT  submission over implicit TLS, AUTH required
#   MX_PORT     inbound "from the internet": no AUTH, no Authentication-Results added
#   LMTP_PORT   Dovecot LMTP, to inject raw messages with any headers
# Mail to any domain is delivered locally (nothing ever leaves the machine); an
# unknown recipient is refused by LMTP and bounced to the sender.
#
# QRCA_MAIL_OWNER_PID (set by tests/support/mail_servers.rs): the pid of the test process;
# a later `start` stops the instance once that process is gone. Logs: DIR/log/.
set -euo pipefail

AUTHSERV_ID=mx.qrca.test
LOCK_FILE=/tmp/qrca-mail-servers.lock

die() {
    echo "mail-servers.sh: $*" >&2
    exit 1
}

need_tools() {
    local missing=()
    [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
    [ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
    [ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
    [ -x /usr/sbin/postfix ] || missing+=(postfix)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then
        die "missing packages: ${missing[*]} (scripts/test.sh installs them: apt-get install ${missing[*]})"
    fi
    [ "$(id -u)" -eq 0 ] || die "must run as root (Postfix's and Dovecot's masters need it; CI runs tests as root)"
}

# Ports listening on this machine (any address), from /proc so that no tool is needed.
listening_ports() {
    local f sl local_addr st
    for f in /proc/net/tcp /proc/net/tcp6; do
        [ -r "$f" ] || continue
        while read -r sl local_addr _ st _; do
            if [ "$sl" != "sl" ] && [ "$st" = "0A" ]; then echo $((16#${local_addr##*:})); fi
        done <"$f"
    done
}

# N distinct free ports below the ephemeral range, so that outgoing connections never hold them.
pick_ports() {
    local n=$1 low high taken port picked=()
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range
    high=$((low - 1))
    [ "$high" -gt 12000 ] || high=29999
    taken=" $(listening_ports | tr '\n' ' ') "
    while [ ${#picked[@]} -lt "$n" ]; do
        port=$((10000 + (RANDOM * 32768 + RANDOM) % (high - 10000)))
        case "$taken" in *" $port "*) continue ;; esac
        taken+="$port "
        picked+=("$port")
    done
    echo "${picked[*]}"
}

load_env() {
    local dir=$1
    [ -f "$dir/env" ] || die "$dir is not a mail-servers instance (no $dir/env)"
    # shellcheck source=/dev/null
    . "$dir/env"
}

make_certs() {
    local dir=$1/tls
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=qrca test mail CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:$AUTHSERV_ID" \
        >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    chmod 644 "$dir/ca.pem" "$dir/server.pem"
    chmod 640 "$dir/server.key"
    chgrp postfix "$dir/server.key" 2>/dev/null || true
}

write_dovecot_conf() {
    local dir=$1
    local dh="" capability="" rawlog="" prefix=""
    [ -f /usr/share/dovecot/dh.pem ] && dh="ssl_dh = </usr/share/dovecot/dh.pem"
    # Only what is advertised changes: Dovecot still runs MOVE or IDLE if a client sends
    # it unasked, so a test of a fallback must check what the client sent (--rawlog).
    [ -z "$OPT_CAPABILITY" ] || capability="imap_capability = $OPT_CAPABILITY"
    [ "$OPT_RAWLOG" -eq 0 ] || rawlog="rawlog_dir = $dir/rawlog"
    [ -z "$OPT_PREFIX" ] || prefix="prefix = $OPT_PREFIX"
    cat >"$dir/dovecot/dovecot.conf" <<EOF
# Generated by scripts/mail-servers.sh for one test instance; includes nothing from /etc/dovecot.
instance_name = qrca-test-$(basename "$dir")
base_dir = $dir/dovecot/run
state_dir = $dir/dovecot/state
protocols = imap lmtp
listen = 127.0.0.1
log_path = $dir/log/dovecot.log
info_log_path = $dir/log/dovecot.log
debug_log_path = $dir/log/dovecot.log
auth_verbose = yes
mail_debug = no
shutdown_clients = yes
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try wrong passwords on purpose; the default 2 s penalty would only slow them down.
auth_failure_delay = 0
auth_username_format = %Lu
recipient_delimiter = +
# user+Folder@ is saved to Folder when it exists, else to INBOX: Postfix files its copy of
# each submitted mail as user+Sent@ (below), so Sent holds what SMTP took, as at Gmail.
lmtp_save_to_detail_mailbox = yes
lmtp_hdr_delivery_address = final
lmtp_rcpt_check_quota = no
postmaster_address = postmaster@$AUTHSERV_ID
hostname = $AUTHSERV_ID
mail_location = maildir:~/Maildir
mail_uid = mail
mail_gid = mail
imap_idle_notify_interval = 1 mins
mailbox_idle_check_interval = 1 secs
$capability
$rawlog
ssl = yes
ssl_cert = <$dir/tls/server.pem
ssl_key = <$dir/tls/server.key
$dh

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu $dir/users
}
userdb {
  driver = passwd-file
  args = username_format=%Lu $dir/users
  default_fields = uid=mail gid=mail home=$dir/mail/%Ld/%Ln
}

namespace inbox {
  inbox = yes
  separator = $OPT_SEPARATOR
  $prefix
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}

# Room for a city's worth of watchers: scripts/measure-idle-rss.sh 600 keeps 1,800 accounts
# in IDLE, over TLS. Nothing is started ahead (no process_min_avail), so an instance still
# comes up as fast as before; processes are made as clients come.
default_process_limit = 1000
default_client_limit = 10000
default_vsz_limit = 1G
# One IDLE session per account and one more per folder qrca reads now and then (Sent,
# the journal): the per-user limit stays Gmail-like, room for each user's few sessions.
mail_max_userip_connections = 20

# An imap process serves up to 16 sessions (mostly idle ones, woken by inotify), so 1,800
# watchers take ~120 processes, not 1,800 (each ~2-3 MB). service_count = 0 keeps a
# process for more than one session: with Dovecot's default (1) client_limit is moot.
service imap {
  service_count = 0
  process_limit = 1000
  client_limit = 16
}

# High-performance mode: a login process is kept (service_count = 0) and proxies many TLS
# sessions for their whole life. With the default (one process per connection) every
# IMAPS session keeps its own imap-login process, and the 1,001st is refused.
service imap-login {
  service_count = 0
  process_limit = 64
  client_limit = 2000
  vsz_limit = 1G
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service submission-login {
  inet_listener submission {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp-postfix {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
# No anvil auth penalty: every test client is 127.0.0.1, and tests fail logins on purpose.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0600
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
EOF
}

write_postfix_conf() {
    local dir=$1 pdir=$1/postfix/etc
    local secret
    secret=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    # Authentication-Results for authenticated submissions. check_sasl_access (run once, at
    # DATA) prepends a header under a per-instance secret name, and cleanup's header_checks
    # rename it to Authentication-Results after deleting every Authentication-Results a client
    # wrote under our authserv-id. A client cannot forge the secret name (it is random), so the
    # only trusted header left is the one this server vouched for.
    cat >"$pdir/sasl_access" <<EOF
/^([^@]+)@([^@]+)\$/ PREPEND X-Qrca-$secret: $AUTHSERV_ID; spf=pass smtp.mailfrom=\${1}@\${2}; dmarc=pass header.from=\${2}
EOF
    cat >"$pdir/header_checks" <<EOF
/^Authentication-Results:[[:space:]]*${AUTHSERV_ID//./\\.}([[:space:];]|\$)/ IGNORE
/^X-Qrca-$secret:[[:space:]]*(.*)\$/ REPLACE Authentication-Results: \${1}
EOF
    # The SASL login must equal the envelope sender (as Gmail requires of its users).
    echo "/^(.+)\$/ \${1}" >"$pdir/sender_login"
    # Gmail keeps every mail a user submits over SMTP in their Sent folder: the submission
    # ports' cleanup adds the sender's user+Sent@ as a blind copy, which Dovecot files in Sent.
    echo "/^([^+@]+)(\\+[^@]*)?@([^@]+)\$/ \${1}+Sent@\${3}" >"$pdir/sent_copy"
    # Senders over their daily quota (quota-spent): none at first.
    : >"$pdir/sender_quota"
    # Recipients refused at RCPT TO (refuse-recipient): none at first.
    : >"$pdir/recipient_refused"
    cat >"$pdir/main.cf" <<EOF
# Generated by scripts/mail-servers.sh for one test instance.
compatibility_level = 3.6
config_directory = $pdir
queue_directory = $dir/postfix/queue
data_directory = $dir/postfix/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = $AUTHSERV_ID
mydomain = qrca.test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost =
alias_maps =
alias_database =
local_recipient_maps =
maillog_file = $dir/log/postfix.log
maillog_file_prefixes = $dir/log
smtpd_banner = \$myhostname ESMTP qrca-test
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
message_size_limit = 52428800
delay_warning_time = 0
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 10s
# Every domain is ours and goes to Dovecot; nothing leaves the machine.
virtual_mailbox_domains = static:all
virtual_transport = lmtp:unix:$dir/dovecot/run/lmtp-postfix
lmtp_destination_recipient_limit = 1
recipient_delimiter = +
header_checks = regexp:$pdir/header_checks
smtpd_sasl_type = dovecot
smtpd_sasl_path = $dir/dovecot/run/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_sasl_authenticated_header = no
smtpd_sender_login_maps = regexp:$pdir/sender_login
smtpd_tls_cert_file = $dir/tls/server.pem
smtpd_tls_key_file = $dir/tls/server.key
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_data_restrictions =
EOF
    local sub="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_sender_restrictions=reject_sender_login_mismatch,check_sender_access,texthash:$pdir/sender_quota,permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$pdir/recipient_refused
  -o smtpd_data_restrictions=check_sasl_access,regexp:$pdir/sasl_access
  -o cleanup_service_name=sentcleanup"
    cat >"$pdir/master.cf" <<EOF
# Generated by scripts/mail-servers.sh; no chroot, so absolute socket paths work.
127.0.0.1:$MX_PORT inet n - n - - smtpd
127.0.0.1:$SMTP_PORT inet n - n - - smtpd
  -o smtpd_tls_security_level=may
  $sub
127.0.0.1:$SMTPS_PORT inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  $sub
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
sentcleanup unix n      -       n       -       0       cleanup
  -o sender_bcc_maps=regexp:$pdir/sent_copy
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    # Postfix programs wait about 2 s before reading a config file or map changed within the
    # last second or so (it may be half written): date them in the past.
    touch -d "-1 minute" "$pdir"/*
}

dovecot_pid() {
    local f=$DIR/dovecot/run/master.pid pid
    [ -f "$f" ] || { echo 0; return; }
    read -r pid <"$f" || true
    if [ -n "${pid:-}" ] && alive "$pid"; then echo "$pid"; else echo 0; fi
}

postfix_pid() {
    local f=$DIR/postfix/queue/pid/master.pid pid
    [ -f "$f" ] || { echo 0; return; }
    read -r pid <"$f" || true
    pid=${pid// /}
    if [ -n "${pid:-}" ] && alive "$pid"; then echo "$pid"; else echo 0; fi
}

# A process and all its descendants, found through /proc/*/stat.
descendants() {
    local root=$1 f line pid rest keep changed c
    [ "$root" -gt 0 ] || return 0
    local -A parent=()
    for f in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$f" || continue
        pid=${line%% *}
        rest=${line##*) }
        read -r _ rest _ <<<"$rest"
        parent[$pid]=$rest
    done
    local -A keep=([$root]=1)
    changed=1
    while [ "$changed" -eq 1 ]; do
        changed=0
        for c in "${!parent[@]}"; do
            if [ -z "${keep[$c]:-}" ] && [ -n "${keep[${parent[$c]}]:-}" ]; then
                keep[$c]=1
                changed=1
            fi
        done
    done
    printf '%s\n' "${!keep[@]}"
}

# Alive and not a zombie (an init that is slow to reap must not slow us down).
alive() {
    local line
    read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    line=${line##*) }
    [ "${line%% *}" != Z ]
}

wait_gone() {
    local what=$1
    shift
    local i pid alive
    for ((i = 0; i < 200; i++)); do
        alive=0
        for pid in "$@"; do alive "$pid" && alive=1; done
        [ "$alive" -eq 0 ] && return 0
        sleep 0.02
    done
    local names=()
    for pid in "$@"; do alive "$pid" && names+=("$pid:$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"); done
    echo "$(date '+%F %T') $what did not stop in 4 s; killing ${names[*]}" | tee -a "$DIR/log/harness.log" >&2
    kill -KILL "$@" 2>/dev/null || true
}

start_dovecot() {
    # Each proxied IMAPS session holds two descriptors in an imap-login process and one in
    # an imap process, and the master checks its limit against the services' at start:
    # the processes inherit ours, so raise it for a city's sessions (see service imap-login).
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    # The daemon must not inherit our stdout (a caller reading it would wait forever) nor
    # the start lock (fd 9).
    if ! dovecot -c "$DIR/dovecot/dovecot.conf" </dev/null >"$DIR/log/dovecot-start.log" 2>&1 9>&-; then
        cat "$DIR/log/dovecot-start.log" >&2
        return 1
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        [ -S "$DIR/dovecot/run/auth-postfix" ] && [ -S "$DIR/dovecot/run/lmtp-postfix" ] &&
            [ "$(dovecot_pid)" -gt 0 ] && return 0
        sleep 0.02
    done
    echo "mail-servers.sh: dovecot did not come up; see $DIR/log/dovecot.log" >&2
    return 1
}

stop_dovecot() {
    local pid pids
    pid=$(dovecot_pid)
    [ "$pid" -gt 0 ] || return 0
    mapfile -t pids < <(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    # The master's children leave when it tells them, except those with a client still
    # connected (auth, while a pooled Postfix smtpd session holds its socket): tell them too.
    local i
    for ((i = 0; i < 15; i++)); do
        alive "$pid" || break
        sleep 0.02
    done
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait_gone dovecot "${pids[@]}"
}

start_postfix() {
    # A new queue needs no integrity check (postfix-script's post-install create-missing,
    # check-warn and postsuper): make its directories as /etc/postfix/postfix-files says.
    local q=$DIR/postfix/queue sub
    if [ ! -d "$q/pid" ]; then
        install -d -o root -m 755 "$q" "$q/pid"
        for sub in active bounce corrupt defer deferred flush hold incoming private saved trace; do
            install -d -o postfix -m 700 "$q/$sub"
        done
        install -d -o postfix -g postdrop -m 730 "$q/maildrop"
        install -d -o postfix -g postdrop -m 710 "$q/public"
        install -d -o postfix -m 700 "$DIR/postfix/data"
    fi
    # quick-start: postfix-script skips the integrity checks (a new queue needs none) and
    # runs master -w, which returns once the master listens (or has failed).
    touch "$q/quick-start"
    if ! postfix -c "$DIR/postfix/etc" start </dev/null >"$DIR/log/postfix-start.log" 2>&1 9>&-; then
        cat "$DIR/log/postfix-start.log" >&2
        return 1
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(postfix_pid)" -gt 0 ] && return 0
        sleep 0.02
    done
    echo "mail-servers.sh: postfix did not come up; see $DIR/log/postfix.log" >&2
    return 1
}

stop_postfix() {
    local pid pids
    pid=$(postfix_pid)
    [ "$pid" -gt 0 ] || return 0
    mapfile -t pids < <(descendants "$pid")
    postfix -c "$DIR/postfix/etc" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    wait_gone postfix "${pids[@]}"
}

print_env() {
    cat "$DIR/env"
}

# Stops instances whose owner (the test process that started them) is gone, so that a
# killed test run does not leave servers behind for ever.
sweep_orphans() {
    local d owner
    for d in /tmp/qrca-mail.*; do
        if [ ! -f "$d/env" ] || [ ! -f "$d/owner" ]; then continue; fi
        read -r owner <"$d/owner" || continue
        if [ -z "$owner" ] || alive "$owner"; then continue; fi
        echo "mail-servers.sh: stopping orphaned instance $d (owner $owner is gone)" >&2
        (cmd_stop "$d") 9>&- || true
    done
}

cmd_start() {
    need_tools
    OPT_CAPABILITY=""
    OPT_SEPARATOR=/
    OPT_PREFIX=""
    OPT_RAWLOG=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --imap-capability)
                [ $# -ge 2 ] || die "--imap-capability needs a list"
                # One line of atoms: anything else would break the generated config.
                [[ "$2" =~ ^[A-Za-z0-9=+.\ -]+$ ]] || die "bad --imap-capability: $2"
                OPT_CAPABILITY=$2
                shift 2
                ;;
            --separator)
                [ $# -ge 2 ] || die "--separator needs a character"
                [[ "$2" =~ ^[./:]$ ]] || die "--separator must be one of . / : (got: $2)"
                OPT_SEPARATOR=$2
                shift 2
                ;;
            --prefix)
                [ $# -ge 2 ] || die "--prefix needs a prefix"
                [[ "$2" =~ ^[A-Za-z0-9]+[./:]$ ]] || die "--prefix must be a name and a separator, like INBOX. (got: $2)"
                OPT_PREFIX=$2
                shift 2
                ;;
            --rawlog)
                OPT_RAWLOG=1
                shift
                ;;
            --*) die "unknown option to start: $1" ;;
            *) break ;;
        esac
    done
    local created=0
    if [ $# -ge 1 ] && [ -n "$1" ]; then
        DIR=$1
        mkdir -p "$DIR"
    else
        DIR=$(mktemp -d /tmp/qrca-mail.XXXXXX)
        created=1
    fi
    DIR=$(cd "$DIR" && pwd)
    # Unix socket paths are limited to 107 bytes.
    [ ${#DIR} -le 60 ] || die "instance directory path too long for unix sockets: $DIR"
    [ ! -f "$DIR/env" ] || die "$DIR already holds an instance"
    chmod 755 "$DIR"
    mkdir -p "$DIR/log" "$DIR/mail" "$DIR/dovecot/run" "$DIR/dovecot/state" \
        "$DIR/postfix/etc" "$DIR/postfix/queue" "$DIR/postfix/data"
    chown mail:mail "$DIR/mail"
    if [ "$OPT_RAWLOG" -eq 1 ]; then
        # Dovecot writes it as the mail user, after dropping root.
        mkdir -p "$DIR/rawlog"
        chown mail:mail "$DIR/rawlog"
    fi
    touch "$DIR/users" "$DIR/log/dovecot.log" "$DIR/log/postfix.log"
    chmod 644 "$DIR/users"
    make_certs "$DIR"

    # Instances started by a test (which sets QRCA_MAIL_OWNER_PID) are swept once it is gone.
    [ -z "${QRCA_MAIL_OWNER_PID:-}" ] || echo "$QRCA_MAIL_OWNER_PID" >"$DIR/owner"

    local attempt ok=0
    exec 9>"$LOCK_FILE"
    flock 9
    sweep_orphans
    for ((attempt = 1; attempt <= 5; attempt++)); do
        read -r IMAP_PORT IMAPS_PORT LMTP_PORT SMTP_PORT SMTPS_PORT MX_PORT <<<"$(pick_ports 6)"
        write_dovecot_conf "$DIR"
        write_postfix_conf "$DIR"
        if start_dovecot; then
            if start_postfix; then
                ok=1
                break
            fi
            stop_dovecot
        fi
        echo "mail-servers.sh: start attempt $attempt failed, retrying with other ports" >&2
    done
    flock -u 9
    exec 9>&-
    if [ "$ok" -ne 1 ]; then
        [ "$created" -eq 1 ] && echo "mail-servers.sh: logs kept in $DIR/log" >&2
        die "could not start the mail servers (see $DIR/log/dovecot.log and $DIR/log/postfix.log)"
    fi
    cat >"$DIR/env" <<EOF
DIR=$DIR
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
LMTP_PORT=$LMTP_PORT
SMTP_PORT=$SMTP_PORT
SMTPS_PORT=$SMTPS_PORT
MX_PORT=$MX_PORT
CA_CERT=$DIR/tls/ca.pem
AUTHSERV_ID=$AUTHSERV_ID
USERS_FILE=$DIR/users
MAIL_ROOT=$DIR/mail
DOVECOT_CONF=$DIR/dovecot/dovecot.conf
POSTFIX_DIR=$DIR/postfix/etc
DOVECOT_LOG=$DIR/log/dovecot.log
POSTFIX_LOG=$DIR/log/postfix.log
EOF
    print_env
}

cmd_add_user() {
    if [ $# -lt 3 ] || [ $(($# % 2)) -eq 0 ]; then
        die "usage: add-user DIR ADDRESS PASSWORD [ADDRESS PASSWORD]..."
    fi
    DIR=$1
    shift
    # Before start, DIR may be any directory: start keeps its users file.
    [ -d "$DIR" ] || die "no such directory: $DIR"
    local address password b64 tmp before now last_address last_password
    exec 8>"$DIR/users.lock"
    flock 8
    touch "$DIR/users"
    tmp=$(mktemp "$DIR/users.XXXXXX")
    cp "$DIR/users" "$tmp"
    while [ $# -gt 0 ]; do
        address=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')
        password=$2
        shift 2
        [[ "$address" =~ ^[a-z0-9._-]+@[a-z0-9.-]+$ ]] || die "bad address (no '+', no spaces): $address"
        # Base64 so that any password (':' included) fits the passwd-file.
        b64=$(printf '%s' "$password" | base64 -w0)
        awk -F: -v u="$address" '$1 != u' "$tmp" >"$tmp.new"
        printf '%s:{PLAIN.b64}%s::::::\n' "$address" "$b64" >>"$tmp.new"
        mv -f "$tmp.new" "$tmp"
        last_address=$address
        last_password=$password
    done
    # Dovecot re-reads passwd-file when its mtime changes, but not to an mtime in the
    # future (nor within the second it last read the file): so that two edits in one
    # second are both seen, wait for the next second rather than fake one.
    before=$(stat -c %Y "$DIR/users")
    now=$(date +%s)
    while [ "$now" -le "$before" ]; do
        sleep 0.1
        now=$(date +%s)
    done
    touch -d "@$now" "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$DIR/users"
    # Dovecot stats the file at most once a second: wait until it has seen the change, so
    # that the caller can log in at once.
    if [ -f "$DIR/env" ] && [ "$(dovecot_pid)" -gt 0 ]; then
        local i
        for ((i = 0; i < 50; i++)); do
            doveadm -c "$DIR/dovecot/dovecot.conf" auth test "$last_address" "$last_password" \
                </dev/null >/dev/null 2>&1 &&
                doveadm -c "$DIR/dovecot/dovecot.conf" user "$last_address" </dev/null >/dev/null 2>&1 &&
                return 0
            sleep 0.1
        done
        die "dovecot did not pick up user $last_address (see $DIR/log/dovecot.log)"
    fi
}

cmd_stop() {
    [ $# -ge 1 ] || die "usage: stop DIR [--keep]"
    DIR=$1
    [ -f "$DIR/env" ] || die "$DIR is not a mail-servers instance"
    stop_postfix
    stop_dovecot
    if [ "${2:-}" != "--keep" ]; then
        rm -rf "$DIR"
    fi
}

cmd_status() {
    DIR=$1
    load_env "$DIR"
    print_env
    echo "DOVECOT_PID=$(dovecot_pid)"
    echo "POSTFIX_PID=$(postfix_pid)"
}

cmd_pids() {
    DIR=$1
    load_env "$DIR"
    { descendants "$(dovecot_pid)"; descendants "$(postfix_pid)"; } | sort -n
}

cmd_recreate_inbox() {
    [ $# -ge 2 ] || die "usage: recreate-inbox DIR ADDRESS [FILE]..."
    DIR=$1
    local address maildir domain local_part file i=0 now
    address=$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')
    shift 2
    load_env "$DIR"
    local_part=${address%%@*}
    domain=${address#*@}
    maildir=$DIR/mail/$domain/$local_part/Maildir
    [ -d "$maildir/cur" ] || die "$address has no INBOX yet (no $maildir/cur)"
    for file in "$@"; do
        [ -f "$file" ] || die "no such file: $file"
    done
    # The messages, the UID list and the index go; the folders (.Name/) and
    # dovecot-uidvalidity stay, so the next UIDVALIDITY Dovecot hands out is a new one.
    # Dovecot is down meanwhile (its clients are cut off, as in a restore or a move to
    # another server): its index changed under a running imap process makes it loop on
    # errors rather than log the client out.
    stop_dovecot
    find "$maildir/cur" "$maildir/new" "$maildir/tmp" -maxdepth 1 -type f -delete
    rm -f "$maildir/dovecot-uidlist" "$maildir"/dovecot.index "$maildir"/dovecot.index.log* \
        "$maildir"/dovecot.index.cache
    # Dovecot numbers new files by the time and sequence in their names: the order given.
    now=$(date +%s)
    for file in "$@"; do
        i=$((i + 1))
        install -o mail -g mail -m 600 "$file" "$maildir/tmp/$now.M${i}P$$.qrca-harness"
        mv "$maildir/tmp/$now.M${i}P$$.qrca-harness" "$maildir/new/"
    done
    start_dovecot || die "dovecot restart failed (see $DIR/log/dovecot.log)"
}

cmd_quota_spent() {
    DIR=${1:?DIR}
    local address=${2:?ADDRESS}
    load_env "$DIR"
    echo "$address 550 5.4.5 Daily user sending quota exceeded." >>"$DIR/postfix/etc/sender_quota"
    # texthash tables are read when smtpd starts: reload makes new ones read it.
    postfix -c "$DIR/postfix/etc" reload >/dev/null 2>&1 || die "postfix reload failed (see $DIR/log/)"
}

cmd_refuse_recipient() {
    DIR=${1:?DIR}
    local address=${2:?ADDRESS}
    load_env "$DIR"
    echo "$address 550 5.1.1 <$address>: Recipient address rejected: User unknown" >>"$DIR/postfix/etc/recipient_refused"
    postfix -c "$DIR/postfix/etc" reload >/dev/null 2>&1 || die "postfix reload failed (see $DIR/log/)"
}

cmd_restart_dovecot() {
    DIR=$1
    load_env "$DIR"
    stop_dovecot
    start_dovecot || die "dovecot restart failed (see $DIR/log/dovecot.log)"
}

[ $# -ge 1 ] || die "usage: $0 start [--imap-capability CAPS] [--separator C] [--prefix P] [--rawlog] [DIR] | env DIR | status DIR | add-user DIR ADDRESS PASSWORD | restart-dovecot DIR | quota-spent DIR ADDRESS | refuse-recipient DIR ADDRESS | recreate-inbox DIR ADDRESS [FILE]... | pids DIR | stop DIR [--keep]"
action=$1
shift
case "$action" in
    start) cmd_start "$@" ;;
    env) DIR=${1:?DIR}; load_env "$DIR"; print_env ;;
    status) cmd_status "${1:?DIR}" ;;
    add-user) cmd_add_user "$@" ;;
    restart-dovecot) cmd_restart_dovecot "${1:?DIR}" ;;
    quota-spent) cmd_quota_spent "$@" ;;
    refuse-recipient) cmd_refuse_recipient "$@" ;;
    recreate-inbox) cmd_recreate_inbox "$@" ;;
    pids) cmd_pids "${1:?DIR}" ;;
    stop) cmd_stop "$@" ;;
    *) die "unknown action: $action" ;;
esac
