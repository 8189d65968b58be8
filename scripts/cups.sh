#!/bin/bash
# A private CUPS for the print tests (issue 15): its own directory, port and queues, each
# queue printing to a directory through a tiny backend, so that a test can read exactly
# the bytes every job sent. Needs root (cupsd) and Debian's cups-daemon and cups-client.
#
#   cups.sh start DIR QUEUE...   start cupsd in DIR with these queues; prints PORT=...
#   cups.sh stop DIR             stop it
#
# Each job of queue Q lands in DIR/out/Q/<job id>.pdf. `cupsdisable -h 127.0.0.1:PORT Q`
# stops a queue (jobs wait in it); `cupsenable` starts it again.
set -euo pipefail

die() { echo "cups.sh: $*" >&2; exit 1; }

start() {
    local dir=$1; shift
    [ $# -gt 0 ] || die "start: name at least one queue"
    command -v cupsd >/dev/null || die "cupsd is not installed (apt-get install cups-daemon cups-client)"
    mkdir -p "$dir"/{etc,spool,tmp,cache,state,bin/backend,log,out}
    dir=$(cd "$dir" && pwd)
    chmod 0755 "$dir" "$dir/out"
    for x in /usr/lib/cups/*; do
        [ "$(basename "$x")" = backend ] || ln -sfn "$x" "$dir/bin/$(basename "$x")"
    done
    cat >"$dir/bin/backend/qrcatest" <<'SH'
#!/bin/sh
# qrcatest:/DIR: each job's document saved whole as DIR/<job id>.pdf.
if [ $# -eq 0 ]; then echo 'direct qrcatest "Unknown" "qrca test backend"'; exit 0; fi
out=${DEVICE_URI#qrcatest:}
if [ -n "$6" ]; then cat "$6" >"$out/$1.tmp"; else cat >"$out/$1.tmp"; fi
mv "$out/$1.tmp" "$out/$1.pdf"
SH
    # Owner-only: cupsd runs it as root, so it may write the test's directory.
    chmod 0700 "$dir/bin/backend/qrcatest"
    cat >"$dir/etc/cups-files.conf" <<CONF
ServerRoot $dir/etc
RequestRoot $dir/spool
TempDir $dir/tmp
CacheDir $dir/cache
StateDir $dir/state
ServerBin $dir/bin
AccessLog $dir/log/access_log
ErrorLog $dir/log/error_log
PageLog $dir/log/page_log
SystemGroup root
CONF
    local port tries=0
    while :; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        cat >"$dir/etc/cupsd.conf" <<CONF
Listen 127.0.0.1:$port
LogLevel warn
Browsing No
WebInterface No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Location /admin>
  Order allow,deny
  Allow all
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order deny,allow
  </Limit>
</Policy>
CONF
        cupsd -f -c "$dir/etc/cupsd.conf" -s "$dir/etc/cups-files.conf" >>"$dir/log/stdout" 2>&1 &
        echo $! >"$dir/pid"
        for _ in $(seq 100); do
            lpstat -h "127.0.0.1:$port" -r >/dev/null 2>&1 && break
            kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
            sleep 0.05
        done
        lpstat -h "127.0.0.1:$port" -r >/dev/null 2>&1 && break
        kill "$(cat "$dir/pid")" 2>/dev/null || true
        tries=$((tries + 1))
        [ $tries -lt 5 ] || die "cupsd did not start: $(tail -5 "$dir/log/stdout" "$dir/log/error_log" 2>/dev/null)"
    done
    for q in "$@"; do
        mkdir -p "$dir/out/$q"
        chmod 0755 "$dir/out/$q"
        # Raw queues are deprecated in CUPS 2.4, and still the plainest way to pass a PDF through.
        lpadmin -h "127.0.0.1:$port" -p "$q" -E -v "qrcatest:$dir/out/$q" -m raw 2>/dev/null ||
            die "lpadmin could not make queue $q"
    done
    echo "PORT=$port"
    echo "DIR=$dir"
}

stop() {
    local dir=$1 pid
    [ -f "$dir/pid" ] || return 0
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) die "usage: cups.sh start DIR QUEUE... | cups.sh stop DIR" ;;
esac
