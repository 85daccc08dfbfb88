#!/usr/bin/env bash
# bench/imap/run.sh - compare moatd's IMAP server with Dovecot on this machine
# (loopback only).
#
# Run as root from anywhere:   sudo bench/imap/run.sh
#
# Generates one test mailbox (BENCH_MESSAGES messages), copies it into a
# private Dovecot instance and a private moatd, both under one temp directory
# and listening on 127.0.0.1 only, times mailbox operations from one client,
# measures memory with idle logged-in connections and prints a table.  See
# bench/README.md for the knobs and the method.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# ---- knobs ---------------------------------------------------------------
N=${BENCH_MESSAGES:-10000}           # messages in the test mailbox
REPEAT=${BENCH_REPEAT:-5}            # timed rounds per operation (median)
BODIES=${BENCH_BODIES:-1000}         # full bodies fetched by the "bodies" step
IDLE=${BENCH_IDLE:-1000}             # idle logged-in connections (0: skip)
IDLE_MAX=${BENCH_IDLE_MAX:-10000}    # second, larger idle test (0: skip)
PER_USER=${BENCH_PER_USER:-20}       # idle connections per account
PER_IP=${BENCH_PER_IP:-40}           # idle connections per 127.0.x.y source address
WAIT=${BENCH_TIMEOUT:-900}           # upper bound in seconds for each client run
SERVERS=${BENCH_SERVERS:-"dovecot moat"}
WORD=${BENCH_WORD:-quokkaberry}      # the word SEARCH TEXT looks for
SEED=${BENCH_SEED:-42}
KEEP=${BENCH_KEEP:-0}                # 1: keep the temp dir
MOATD=${MOATD:-$ROOT/build/moatd}
MOATCTL=${MOATCTL:-$ROOT/build/moatctl}
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
PY=${PYTHON:-/usr/bin/python3}
DC_USER=${BENCH_DOVECOT_USER:-dovebench}   # owns Dovecot's mailboxes
DC_PORT=${BENCH_DC_PORT:-2143}
MOAT_PORT=${BENCH_MOAT_PORT:-3143}
PASS=secret
USER_ADDR=demo@example.test

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 1000000 ]] || die "bad BENCH_MESSAGES"
[[ $REPEAT =~ ^[0-9]+$ && $REPEAT -ge 1 && $REPEAT -le 100 ]] || die "bad BENCH_REPEAT"
[[ $BODIES =~ ^[0-9]+$ && $BODIES -ge 1 && $BODIES -le 100000 ]] || die "bad BENCH_BODIES"
[[ $IDLE =~ ^[0-9]+$ && $IDLE -le 100000 ]] || die "bad BENCH_IDLE"
[[ $IDLE_MAX =~ ^[0-9]+$ && $IDLE_MAX -le 100000 ]] || die "bad BENCH_IDLE_MAX"
[[ $PER_USER =~ ^[0-9]+$ && $PER_USER -ge 1 && $PER_USER -le 20 ]] || die "bad BENCH_PER_USER (1-20: moat allows 20 per account and worker)"
[[ $PER_IP =~ ^[0-9]+$ && $PER_IP -ge 1 && $PER_IP -le 50 ]] || die "bad BENCH_PER_IP (1-50: moat allows 50 per address and worker)"
[[ $WAIT =~ ^[0-9]+$ && $WAIT -ge 1 ]] || die "bad BENCH_TIMEOUT"
[[ $WORD =~ ^[a-z]+$ ]] || die "bad BENCH_WORD (lower-case letters)"
[[ -x $PY ]] || die "$PY missing"
command -v ss >/dev/null || die "ss (iproute2) missing"
CLK_TCK=$(getconf CLK_TCK)
MAX_IDLE=$((IDLE > IDLE_MAX ? IDLE : IDLE_MAX))
NACCT=$(((MAX_IDLE + PER_USER - 1) / PER_USER))

# ---- temp dir and cleanup -------------------------------------------------
TMP=$(mktemp -d /tmp/moat-imap-bench.XXXXXX)
chmod 755 "$TMP"
TEMPLATE=$TMP/template
MANIFEST=$TEMPLATE/manifest.tsv
DC_DIR=$TMP/dovecot
DC_CONF=$DC_DIR/dovecot.conf
DC_LOG=$DC_DIR/dovecot.log
DC_HOME=$DC_DIR/home
MOAT_DIR=$TMP/moat
MOAT_CONF=$MOAT_DIR/moatd.conf
MOAT_DATA=$MOAT_DIR/data
MOAT_LOG=$MOAT_DIR/moatd.log
RESULTS=$TMP/results.txt
: >"$RESULTS"

DC_PID=
MOAT_PID=
IDLE_PID=
IDLE_FD_OPEN=0

stop_pid() { # pid name: TERM, wait up to 20 s, then KILL
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "$name (pid $pid) did not stop, sending KILL"
	kill -KILL "$pid" 2>/dev/null || true
}

stop_dovecot() {
	[[ -n $DC_PID ]] || return 0
	# The master stops its children on TERM; wait for the whole tree.
	local kids
	kids=$(tree_pids "$DC_PID")
	stop_pid "$DC_PID" "dovecot master"
	wait "$DC_PID" 2>/dev/null || true
	local p
	for p in $kids; do stop_pid "$p" "dovecot child"; done
	DC_PID=
}

stop_moat() {
	[[ -n $MOAT_PID ]] || return 0
	stop_pid "$MOAT_PID" moatd
	wait "$MOAT_PID" 2>/dev/null || true
	MOAT_PID=
}

close_idle() {
	if [[ $IDLE_FD_OPEN -eq 1 ]]; then exec 7>&-; IDLE_FD_OPEN=0; fi
	if [[ -n $IDLE_PID ]]; then
		local i
		for ((i = 0; i < 300; i++)); do
			kill -0 "$IDLE_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$IDLE_PID" "idle client"
		wait "$IDLE_PID" 2>/dev/null || true
		IDLE_PID=
	fi
}

cleanup() {
	local rc=$?
	set +e
	close_idle
	stop_dovecot
	stop_moat
	if [[ $KEEP == 1 || $rc -ne 0 ]]; then
		log "temp dir kept: $TMP"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------
port_free() { [[ -z $(ss -Hltn "sport = :$1") ]]; }

wait_port() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -n $(ss -Hltn "src 127.0.0.1 and sport = :$1") ]] && return 0
		sleep 0.1
	done
	return 1
}

# All descendants of a pid (including itself), from /proc/*/stat.
tree_pids() {
	local root=$1 f line rest pid ppid
	declare -A kids=()
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		pid=${line%% *}
		rest=${line##*) }
		set -- $rest
		ppid=$2
		kids[$ppid]+="$pid "
	done
	local queue=("$root") out=() p
	local guard=0
	while ((${#queue[@]} > 0 && guard < 200000)); do
		guard=$((guard + 1))
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -e /proc/$p/stat ]] || continue
		out+=("$p")
		for c in ${kids[$p]:-}; do queue+=("$c"); done
	done
	echo "${out[@]}"
}

# "RSS PSS NPROC" in KB of a process tree: VmRSS counts shared pages once per
# process; Pss divides them among the processes that share them.
tree_mem_kb() {
	local pids
	pids=$(tree_pids "$1")
	# One awk over all files: fast enough for 10,000 processes.
	(
		cd /proc || exit 0
		for p in $pids; do
			[[ -r $p/status ]] && echo "$p/status"
			[[ -r $p/smaps_rollup ]] && echo "$p/smaps_rollup"
		done
	) | (cd /proc && xargs -r awk '
		/^VmRSS:/ { rss += $2 }
		/^Pss:/ { pss += $2 }
		END { printf "%d %d\n", rss, pss }' 2>/dev/null) |
		# xargs may run awk several times: add up its lines.
		awk -v n="$(wc -w <<<"$pids")" '{ r += $1; s += $2 } END { printf "%d %d %d\n", r, s, n }'
}

mem_avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }

# ---- the test mailbox --------------------------------------------------------
make_template() {
	log "generating $N messages into $TEMPLATE (word '$WORD' in about 1 %)"
	"$PY" "$HERE/gen_mailbox.py" "$TEMPLATE" "$N" "$WORD" "$SEED" >&2 \
		|| die "gen_mailbox.py failed"
	[[ $(find "$TEMPLATE/cur" -type f | wc -l) -eq $N ]] || die "template is incomplete"
	TEMPLATE_MB=$(du -sm "$TEMPLATE/cur" | cut -f1)
}

# copy_maildir DEST OWNER: DEST/{cur,new,tmp} with the template's files,
# names and mtimes (cp -p), owned by OWNER.
copy_maildir() {
	local dest=$1 owner=$2
	mkdir -p "$dest/cur" "$dest/new" "$dest/tmp"
	cp -p -r "$TEMPLATE/cur/." "$dest/cur/"
	chown -R "$owner:$owner" "$dest"
	chmod 700 "$dest"
	[[ $(find "$dest/cur" -type f | wc -l) -eq $N ]] || die "copy into $dest incomplete"
}

# ---- Dovecot -----------------------------------------------------------------
setup_dovecot() {
	[[ -x $DOVECOT ]] || { log "dovecot: $DOVECOT missing (apt-get install dovecot-imapd)"; return 1; }
	port_free "$DC_PORT" || die "port $DC_PORT busy"
	if ! id "$DC_USER" >/dev/null 2>&1; then
		log "creating system user $DC_USER (owner of Dovecot's benchmark mailboxes)"
		useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$DC_USER" \
			|| die "useradd $DC_USER failed"
	fi
	local uid gid i
	uid=$(id -u "$DC_USER")
	gid=$(id -g "$DC_USER")
	log "setting up private Dovecot in $DC_DIR (port $DC_PORT, uid $uid)"
	mkdir -p "$DC_DIR/run" "$DC_DIR/state" "$DC_HOME/example.test"
	chmod 755 "$DC_DIR" "$DC_DIR/run" "$DC_DIR/state" "$DC_HOME" "$DC_HOME/example.test"
	{
		echo "demo@example.test:{PLAIN}$PASS::::::"
		for ((i = 0; i < NACCT; i++)); do
			printf 'idle%04d@example.test:{PLAIN}%s::::::\n' "$i" "$PASS"
		done
	} >"$DC_DIR/passwd"
	chmod 644 "$DC_DIR/passwd"
	copy_maildir "$DC_HOME/example.test/demo/Maildir" "$DC_USER"
	chown "$DC_USER:$DC_USER" "$DC_HOME/example.test/demo"
	for ((i = 0; i < NACCT; i++)); do
		mkdir -p "$DC_HOME/example.test/idle$(printf %04d "$i")"
	done
	chown -R "$DC_USER:$DC_USER" "$DC_HOME/example.test"
	local plimit=$((MAX_IDLE + 200))
	cat >"$DC_CONF" <<EOF
# Private benchmark instance (generated by bench/imap/run.sh).
base_dir = $DC_DIR/run
state_dir = $DC_DIR/state
instance_name = moat-bench-dovecot
log_path = $DC_LOG
info_log_path = $DC_LOG
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC_DIR/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$DC_HOME/%d/%n
}
first_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
protocol imap {
  mail_max_userip_connections = 1000
}
# Limits raised for the idle-connection test; one imap process per
# session (Dovecot's default), login processes in Dovecot's default
# high-security mode (one per connection, gone after LOGIN).
default_client_limit = $((plimit + 500))
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = $plimit
}
service anvil {
  client_limit = $((plimit + 500))
}
EOF
	"$(dirname "$DOVECOT")/../bin/doveconf" -c "$DC_CONF" -n >"$DC_DIR/doveconf.out" 2>&1 \
		|| { cat "$DC_DIR/doveconf.out" >&2; log "doveconf rejects the config"; return 1; }
	start_dovecot
}

start_dovecot() {
	"$DOVECOT" -F -c "$DC_CONF" >>"$DC_DIR/stdout.log" 2>&1 </dev/null &
	DC_PID=$!
	log "dovecot $("$DOVECOT" --version | cut -d' ' -f1) master pid $DC_PID, log $DC_LOG"
	if ! wait_port "$DC_PORT" 20; then
		log "Dovecot not listening on $DC_PORT; log tail:"
		tail -n 20 "$DC_LOG" "$DC_DIR/stdout.log" >&2 || true
		return 1
	fi
	return 0
}

# ---- moatd -------------------------------------------------------------------
setup_moat() {
	[[ -x $MOATD && -x $MOATCTL ]] || { log "moat: $MOATD or $MOATCTL missing (run make)"; return 1; }
	port_free "$MOAT_PORT" || die "port $MOAT_PORT busy"
	if ! id moat >/dev/null 2>&1; then
		log "creating system user moat"
		useradd --system --home-dir /var/lib/moat --shell /usr/sbin/nologin moat \
			|| die "useradd moat failed"
	fi
	log "setting up moatd in $MOAT_DIR (port $MOAT_PORT)"
	mkdir -p "$MOAT_DIR/bin"
	chmod 755 "$MOAT_DIR" "$MOAT_DIR/bin"
	# Private copies: a rebuild of build/ during the run cannot disturb it.
	cp "$MOATD" "$MOAT_DIR/bin/moatd" && cp "$MOATCTL" "$MOAT_DIR/bin/moatctl" \
		|| { log "moat: cannot copy the binaries"; return 1; }
	MOATD=$MOAT_DIR/bin/moatd
	MOATCTL=$MOAT_DIR/bin/moatctl
	cat >"$MOAT_CONF" <<EOF
[server]
hostname = bench.example.test
data_dir = $MOAT_DATA
workers = 2
${BENCH_MOAT_LOG_LEVEL:+log_level = $BENCH_MOAT_LOG_LEVEL}

[listen]
imap = 127.0.0.1:$MOAT_PORT

[tls]

[auth]
cleartext_loopback = yes

[limits]
sessions = $((MAX_IDLE + 1000))
EOF
	local i
	"$MOATCTL" -c "$MOAT_CONF" domain add example.test >"$MOAT_DIR/moatctl.log" 2>&1 \
		|| { cat "$MOAT_DIR/moatctl.log" >&2; log "moatctl domain add failed"; return 1; }
	echo "$PASS" | "$MOATCTL" -c "$MOAT_CONF" account add "$USER_ADDR" >>"$MOAT_DIR/moatctl.log" 2>&1 \
		|| { cat "$MOAT_DIR/moatctl.log" >&2; log "moatctl account add failed"; return 1; }
	log "moat: creating $NACCT idle accounts"
	for ((i = 0; i < NACCT; i++)); do
		echo "$PASS" | "$MOATCTL" -c "$MOAT_CONF" account add "$(printf 'idle%04d@example.test' "$i")" \
			>>"$MOAT_DIR/moatctl.log" 2>&1 \
			|| { tail -n 5 "$MOAT_DIR/moatctl.log" >&2; log "moatctl account add failed"; return 1; }
	done
	local md=$MOAT_DATA/mail/example.test/demo/Maildir
	[[ -d $md ]] || { log "moat: $md not created by moatctl"; return 1; }
	copy_maildir "$md" moat
	start_moat
}

start_moat() {
	"$MOATD" -c "$MOAT_CONF" >>"$MOAT_LOG" 2>&1 </dev/null &
	MOAT_PID=$!
	log "moatd pid $MOAT_PID, log $MOAT_LOG"
	if ! wait_port "$MOAT_PORT" 20; then
		log "moatd not listening on $MOAT_PORT; log tail:"
		tail -n 20 "$MOAT_LOG" >&2 || true
		return 1
	fi
	kill -0 "$MOAT_PID" 2>/dev/null || { tail -n 20 "$MOAT_LOG" >&2; return 1; }
	return 0
}

# ---- measurements ------------------------------------------------------------
run_ops() { # server port rootpid
	local server=$1 port=$2 root=$3 rc=0
	log "$server: mailbox operations ($REPEAT rounds after the first open)"
	sync
	sleep 1
	timeout "$WAIT" "$PY" "$HERE/imap_load.py" ops --port "$port" --user "$USER_ADDR" \
		--password "$PASS" --word "$WORD" --manifest "$MANIFEST" --repeat "$REPEAT" \
		--bodies "$BODIES" --server-pid "$root" --label "$server" --out "$RESULTS" \
		2> >(tee "$TMP/ops-$server.log" >&2) || rc=$?
	if ((rc != 0)); then
		log "$server: ops client exit $rc"
		grep -q "^op $server " "$RESULTS" || printf 'op %s failed 0 0 0 0 0\n' "$server" >>"$RESULTS"
	fi
}

# A freshly started server for each idle test: memory the operations
# (or the previous idle test) left in the heap would hide the sessions' own.
restart_server() { # server
	case $1 in
	dovecot) stop_dovecot; start_dovecot ;;
	moat) stop_moat; start_moat ;;
	esac
}
server_pid() { if [[ $1 == dovecot ]]; then echo "$DC_PID"; else echo "$MOAT_PID"; fi; }

# idle_rss SERVER PORT ROOTPID COUNT: memory of the server tree with COUNT
# logged-in idle sessions; appends "idle SERVER COUNT READY RSS0 RSS1 PSS0 PSS1 NPROC"
idle_rss() {
	local server=$1 port=$2 root=$3 count=$4 rss0 pss0 np0 rss1 pss1 np1 ready=
	restart_server "$server" || { log "$server: restart failed"; return 1; }
	root=$(server_pid "$server")
	sleep 2
	read -r rss0 pss0 np0 < <(tree_mem_kb "$root")
	log "$server idle test: $count logged-in connections (before: RSS $rss0 KB, PSS $pss0 KB, $np0 processes)"
	local fifo=$TMP/idle.fifo out=$TMP/idle-$server-$count.out
	rm -f "$fifo"
	mkfifo "$fifo"
	"$PY" "$HERE/imap_load.py" idle --port "$port" --count "$count" \
		--user-fmt 'idle%04d@example.test' --password "$PASS" --per-user "$PER_USER" \
		--per-ip "$PER_IP" --threads 16 --hold "$WAIT" <"$fifo" >"$out" \
		2>"$TMP/idle-$server-$count.err" &
	IDLE_PID=$!
	exec 7>"$fifo"
	IDLE_FD_OPEN=1
	local i
	for ((i = 0; i < WAIT * 10; i++)); do
		ready=$(awk '/^READY/ {print $2}' "$out" 2>/dev/null || true)
		[[ -n $ready ]] && break
		kill -0 "$IDLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 3  # let the server settle
	read -r rss1 pss1 np1 < <(tree_mem_kb "$root")
	close_idle
	local alive
	alive=$(awk '/^ALIVE/ {print $2}' "$out" 2>/dev/null || true)
	cat "$TMP/idle-$server-$count.err" >&2
	ready=${ready:-0}
	if ((ready == 0)); then
		log "  idle client failed"
		printf 'idle %s %s 0 0 0 0 0 0\n' "$server" "$count" >>"$RESULTS"
		return 1
	fi
	[[ ${alive:-0} -eq $ready ]] || log "  WARNING: only ${alive:-?} of $ready sessions were still open at the end"
	log "  after: RSS $rss1 KB, PSS $pss1 KB, $np1 processes -> $(awk -v a="$rss1" -v b="$rss0" -v n="$ready" \
		'BEGIN{printf "%.1f", (a-b)/n}') KB RSS, $(awk -v a="$pss1" -v b="$pss0" -v n="$ready" \
		'BEGIN{printf "%.1f", (a-b)/n}') KB PSS per session"
	printf 'idle %s %s %s %s %s %s %s %s\n' "$server" "$count" "$ready" "$rss0" "$rss1" "$pss0" "$pss1" "$np1" >>"$RESULTS"
	((ready == count))
}

# The larger idle test, if the machine allows it.
idle_big() { # server port rootpid
	local server=$1 port=$2 root=$3
	((IDLE_MAX > IDLE)) || return 0
	local fds need per avail
	fds=$(ulimit -n)
	if ((fds < IDLE_MAX + 512)); then
		log "$server: skipping $IDLE_MAX idle connections: ulimit -n is $fds"
		printf 'skip %s %s ulimit -n is %s (need %s)\n' "$server" "$IDLE_MAX" "$fds" "$((IDLE_MAX + 512))" >>"$RESULTS"
		return 0
	fi
	# Estimate from the smaller run (PSS per session), 50 % margin.
	per=$(awk -v s="$server" -v c="$IDLE" '$1 == "idle" && $2 == s && $3 == c && $4 > 0 {
		printf "%d", ($8 - $7) / $4 + 1 }' "$RESULTS")
	avail=$(mem_avail_kb)
	if [[ -z $per ]]; then
		log "$server: skipping $IDLE_MAX idle connections: the $IDLE-connection run failed"
		printf 'skip %s %s the %s-connection run failed\n' "$server" "$IDLE_MAX" "$IDLE" >>"$RESULTS"
		return 0
	fi
	need=$((per * IDLE_MAX * 3 / 2))
	if ((need > avail * 8 / 10)); then
		log "$server: skipping $IDLE_MAX idle connections: needs about $((need / 1024)) MB, $((avail / 1024)) MB available"
		printf 'skip %s %s would need about %s MB, %s MB available\n' "$server" "$IDLE_MAX" "$((need / 1024))" "$((avail / 1024))" >>"$RESULTS"
		return 0
	fi
	idle_rss "$server" "$port" "$root" "$IDLE_MAX" \
		|| log "$server: not all $IDLE_MAX idle connections were established (see above)"
}

# ---- report --------------------------------------------------------------
report() {
	local dcv
	dcv=$("$DOVECOT" --version 2>/dev/null | cut -d' ' -f1 || echo '?')
	echo
	echo "IMAP: moat vs Dovecot $dcv, $(nproc) CPUs, one client over 127.0.0.1"
	echo "mailbox: $N messages, ${TEMPLATE_MB:-?} MB on disk; median of $REPEAT rounds (first-* : once, cold index)"
	echo "load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '%-26s %10s %10s %8s %11s %11s %12s\n' operation "dovecot ms" "moat ms" "dc/moat" \
		"dc CPU ms" "moat CPU ms" "client CPU ms"
	local op
	for op in first-select first-fetch first-search first-bodies select-fetch search bodies; do
		awk -v o="$op" -v nb="$BODIES" -v n="$N" '
		$1 == "op" && $3 == o && $2 == "dovecot" { dt = $5; dc = $6; dk = $7; dok = $8 }
		$1 == "op" && $3 == o && $2 == "moat"    { mt = $5; mc = $6; mk = $7; mok = $8 }
		END {
			names["first-select"] = "first SELECT (index build)"
			names["first-fetch"] = "first UID FETCH 1:*"
			names["first-search"] = "first SEARCH TEXT"
			names["first-bodies"] = "first FETCH " (nb < n ? nb : n) " bodies"
			names["select-fetch"] = "SELECT + UID FETCH 1:*"
			names["search"] = "SEARCH TEXT <word>"
			names["bodies"] = "FETCH " (nb < n ? nb : n) " BODY.PEEK[]"
			d = (dt == "") ? "n/a" : dt (dok == "1" ? "" : "!")
			m = (mt == "") ? "n/a" : mt (mok == "1" ? "" : "!")
			r = (dt != "" && mt > 0) ? sprintf("%.2f", dt / mt) : "n/a"
			if (dc == "") dc = "n/a"
			if (mc == "") mc = "n/a"
			k = (dk == "" ? "n/a" : dk) "/" (mk == "" ? "n/a" : mk)
			printf "%-26s %10s %10s %8s %11s %11s %12s\n", names[o], d, m, r, dc, mc, k
		}' "$RESULTS"
	done
	echo "(dc/moat >= 1.00: moat at least as fast; '!' = a check of the answers failed, see the log;"
	echo " CPU = server process tree, utime+stime from /proc; client CPU = the Python client, dovecot/moat)"
	echo
	echo "answer checks (messages, sum of RFC822.SIZE, SEARCH hits/expected, bodies, body octets):"
	awk '$1 == "check" { printf "  %-8s %s msgs, %s octets, %s/%s hits, %s bodies, %s octets\n", $2, $3, $4, $5, $6, $7, $8 }' "$RESULTS"
	if grep -q '^idle ' "$RESULTS"; then
		echo
		echo "idle logged-in IMAP sessions, memory of the whole server process tree:"
		printf '%-8s %9s %12s %12s %12s %12s %11s %11s %6s\n' server sessions "RSS before" "RSS after" \
			"PSS before" "PSS after" "RSS KB/sess" "PSS KB/sess" procs
		awk '$1 == "idle" {
			n = $4; r = (n > 0) ? sprintf("%.1f", ($6 - $5) / n) : "n/a"
			p = (n > 0) ? sprintf("%.1f", ($8 - $7) / n) : "n/a"
			s = ($4 == $3) ? $3 : $4 "/" $3
			printf "%-8s %9s %12s %12s %12s %12s %11s %11s %6s\n", $2, s, $5, $6, $7, $8, r, p, $9 }' "$RESULTS"
		awk '$1 == "skip" { $1 = ""; printf "  skipped:%s\n", $0 }' "$RESULTS"
		echo "(KB; 'a/b' sessions = only a of b logged in)"
	fi
}

# ---- main ----------------------------------------------------------------
NEED_FD=$((MAX_IDLE + 512))
if (($(ulimit -n) < NEED_FD)); then
	ulimit -n "$NEED_FD" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "temp dir $TMP, ulimit -n $(ulimit -n), load average $LOAD_START"
make_template

for srv in $SERVERS; do
	case $srv in
	dovecot)
		if setup_dovecot; then
			run_ops dovecot "$DC_PORT" "$DC_PID"
			if ((IDLE > 0)); then
				idle_rss dovecot "$DC_PORT" "$DC_PID" "$IDLE" \
					|| log "dovecot: not all $IDLE idle connections were established"
				idle_big dovecot "$DC_PORT" "$DC_PID"
			fi
			grep -E 'Fatal|Panic|Error' "$DC_LOG" | head -n 5 >&2 || true
			stop_dovecot
		else
			log "dovecot skipped"
		fi
		;;
	moat)
		if setup_moat; then
			run_ops moat "$MOAT_PORT" "$MOAT_PID"
			if ((IDLE > 0)); then
				idle_rss moat "$MOAT_PORT" "$MOAT_PID" "$IDLE" \
					|| log "moat: not all $IDLE idle connections were established"
				idle_big moat "$MOAT_PORT" "$MOAT_PID"
			fi
			stop_moat
		else
			log "moat skipped"
		fi
		;;
	*) die "unknown server $srv" ;;
	esac
done

report | tee "$TMP/report.txt"
if [[ -n ${BENCH_REPORT:-} ]]; then cp "$TMP/report.txt" "$BENCH_REPORT"; fi
