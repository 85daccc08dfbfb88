#!/usr/bin/env bash
# bench/smtp/run.sh - compare moatd with Postfix on this machine (loopback only).
#
# Run as root from anywhere:   sudo bench/smtp/run.sh
#
# Sets up a private Postfix instance and a private moatd, both under one temp
# directory and listening on 127.0.0.1 only, runs the SMTP scenarios against
# each and prints a table.  See bench/README.md for the knobs and the method.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

# ---- knobs ---------------------------------------------------------------
N=${BENCH_MESSAGES:-5000}            # messages per scenario
SESS=${BENCH_SESSIONS:-20}           # parallel SMTP sessions
PER_CONN=${BENCH_PER_CONN:-100}      # messages per connection (own client)
IDLE=${BENCH_IDLE:-1000}             # idle connections for the RSS test
WAIT=${BENCH_TIMEOUT:-600}           # max seconds per scenario (send + deliver)
WARMUP=${BENCH_WARMUP:-100}          # warm-up messages per server (0: none)
SERVERS=${BENCH_SERVERS:-"postfix moat"}
SCENARIOS=${BENCH_SCENARIOS:-"plain-1k plain-100k starttls-1k tls-1k"}
SRC_OPTS=${BENCH_SMTP_SOURCE_OPTS:-""}   # extra smtp-source flags, e.g. "-d"
KEEP=${BENCH_KEEP:-0}                # 1: keep the temp dir
MOATD=${MOATD:-$ROOT/build/moatd}
MOATCTL=${MOATCTL:-$ROOT/build/moatctl}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
CC=${CC:-cc}

PF_PORT=${BENCH_PF_PORT:-2625}       # Postfix smtpd (STARTTLS offered)
PF_TLS_PORT=${BENCH_PF_TLS_PORT:-2665}   # Postfix smtpd, wrappermode TLS
MOAT_PORT=${BENCH_MOAT_PORT:-3625}       # moat smtp
MOAT_SUB_PORT=${BENCH_MOAT_SUB_PORT:-3587}   # moat submission
MOAT_TLS_PORT=${BENCH_MOAT_TLS_PORT:-3665}   # moat submissions (implicit TLS)

FROM=bench@example.org
RCPT=demo@example.test
VMAIL_UID=${BENCH_VMAIL_UID:-5000}   # owner of the Postfix virtual mailboxes

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 10000000 ]] || die "bad BENCH_MESSAGES"
[[ $SESS =~ ^[0-9]+$ && $SESS -ge 1 && $SESS -le 1000 ]] || die "bad BENCH_SESSIONS"
[[ $IDLE =~ ^[0-9]+$ && $IDLE -le 100000 ]] || die "bad BENCH_IDLE"
[[ $WAIT =~ ^[0-9]+$ && $WAIT -ge 1 ]] || die "bad BENCH_TIMEOUT"
[[ -x $SMTP_SOURCE ]] || die "$SMTP_SOURCE missing (apt-get install postfix)"
command -v postfix >/dev/null || die "postfix missing"
command -v openssl >/dev/null || die "openssl missing"
command -v ss >/dev/null || die "ss (iproute2) missing"
CLK_TCK=$(getconf CLK_TCK)

# ---- temp dir and cleanup -------------------------------------------------
TMP=$(mktemp -d /tmp/moat-bench.XXXXXX)
chmod 755 "$TMP"
PF_CONF=$TMP/postfix-etc
PF_QUEUE=$TMP/postfix-spool
PF_DATA=$TMP/postfix-data
PF_VMAIL=$TMP/vmail
PF_MAILDIR=$PF_VMAIL/example.test/demo/new
MOAT_DIR=$TMP/moat
MOAT_CONF=$MOAT_DIR/moatd.conf
MOAT_DATA=$MOAT_DIR/data
MOAT_LOG=$MOAT_DIR/moatd.log
MOAT_MAILDIR=$MOAT_DATA/mail/example.test/demo/Maildir/new
LOAD=$TMP/smtp_load
RESULTS=$TMP/results.txt
: >"$RESULTS"

PF_STARTED=0
MOAT_PID=
IDLE_PID=
IDLE_FD_OPEN=0

stop_pid() { # pid name: TERM, wait up to 10 s, then KILL
	local pid=$1 name=$2 i
	[[ -n $pid ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	log "$name (pid $pid) did not stop, sending KILL"
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	if [[ $IDLE_FD_OPEN -eq 1 ]]; then exec 7>&-; IDLE_FD_OPEN=0; fi
	stop_pid "$IDLE_PID" "idle client"
	if [[ $PF_STARTED -eq 1 ]]; then
		local mpid
		mpid=$(pf_master_pid)
		postfix -c "$PF_CONF" stop >/dev/null 2>&1
		if [[ -n $mpid ]]; then
			local i
			for ((i = 0; i < 100; i++)); do
				kill -0 "$mpid" 2>/dev/null || break
				sleep 0.1
			done
			stop_pid "$mpid" "postfix master"
		fi
		PF_STARTED=0
	fi
	stop_pid "$MOAT_PID" moatd
	if [[ -n $MOAT_PID ]]; then wait "$MOAT_PID" 2>/dev/null; fi
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
now_ns() { date +%s%N; }

port_free() { [[ -z $(ss -Hltn "sport = :$1") ]]; }

wait_port() { # port seconds
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[[ -n $(ss -Hltn "src 127.0.0.1 and sport = :$1") ]] && return 0
		sleep 0.1
	done
	return 1
}

count_files() { # dir -> number of regular files (0 if missing)
	local d=$1
	[[ -d $d ]] || { echo 0; return; }
	find "$d" -mindepth 1 -maxdepth 1 -type f 2>/dev/null | wc -l
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
	while ((${#queue[@]} > 0 && guard < 100000)); do
		guard=$((guard + 1))
		p=${queue[0]}
		queue=("${queue[@]:1}")
		[[ -e /proc/$p/stat ]] || continue
		out+=("$p")
		for c in ${kids[$p]:-}; do queue+=("$c"); done
	done
	echo "${out[@]}"
}

# CPU ticks of a process tree: utime+stime+cutime+cstime of every live member.
# Children that already exited were reaped by a tree member, so their time is
# in that member's cutime/cstime (Postfix smtpd processes come and go).
tree_cpu_ticks() {
	local total=0 p line rest
	for p in $(tree_pids "$1"); do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		rest=${line##*) }
		set -- $rest
		# rest: 1 state 2 ppid ... 12 utime 13 stime 14 cutime 15 cstime
		total=$((total + ${12} + ${13} + ${14} + ${15}))
	done
	echo "$total"
}

# "RSS PSS" in KB of a process tree: VmRSS counts shared pages (libraries,
# pages shared with the parent after fork) once per process; Pss divides
# them among the processes that share them.
tree_mem_kb() {
	local rss=0 pss=0 p kb
	for p in $(tree_pids "$1"); do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		rss=$((rss + ${kb:-0}))
		kb=$(awk '/^Pss:/ {print $2; exit}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
		pss=$((pss + ${kb:-0}))
	done
	echo "$rss $pss"
}

pf_master_pid() {
	local f=$PF_QUEUE/pid/master.pid p
	[[ -r $f ]] || return 0
	read -r p <"$f" || return 0
	p=${p// /}
	[[ $p =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && echo "$p"
	return 0
}

# ---- load client -----------------------------------------------------------
build_load() {
	log "building load client"
	# shellcheck disable=SC2086  # CC may carry flags
	$CC -O2 -Wall -Wextra -o "$LOAD" "$HERE/smtp_load.c" -lssl -lcrypto -lpthread \
		|| die "cannot build smtp_load.c (need libssl-dev)"
}

# ---- Postfix -----------------------------------------------------------------
setup_postfix() {
	local p
	for p in "$PF_PORT" "$PF_TLS_PORT"; do port_free "$p" || die "port $p busy"; done
	log "setting up private Postfix in $PF_CONF (ports $PF_PORT, $PF_TLS_PORT)"
	mkdir -p "$PF_CONF" "$PF_QUEUE" "$PF_DATA" "$PF_VMAIL/example.test"
	chown postfix "$PF_DATA"
	chown -R "$VMAIL_UID:$VMAIL_UID" "$PF_VMAIL"
	# Same key type as moatd's self-signed certificate (EC P-256).
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=bench-postfix.example.test" \
		-keyout "$PF_CONF/key.pem" -out "$PF_CONF/cert.pem" >/dev/null 2>&1 \
		|| die "openssl req failed"
	chmod 600 "$PF_CONF/key.pem"
	printf 'demo@example.test example.test/demo/\n' >"$PF_CONF/vmailbox"
	cat >"$PF_CONF/main.cf" <<EOF
# Private benchmark instance (generated by bench/smtp/run.sh).
compatibility_level = 3.6
config_directory = $PF_CONF
queue_directory = $PF_QUEUE
data_directory = $PF_DATA
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.example.test
mydomain = example.invalid
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
biff = no
message_size_limit = 10485760
virtual_mailbox_domains = example.test
virtual_mailbox_base = $PF_VMAIL
virtual_mailbox_maps = texthash:$PF_CONF/vmailbox
virtual_uid_maps = static:$VMAIL_UID
virtual_gid_maps = static:$VMAIL_UID
virtual_minimum_uid = 100
virtual_mailbox_limit = 0
smtpd_tls_cert_file = $PF_CONF/cert.pem
smtpd_tls_key_file = $PF_CONF/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
smtpd_tls_session_cache_database =
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_tls_protocols = >=TLSv1.2
maillog_file_prefixes = $TMP
maillog_file = $TMP/postfix.log
EOF
	if [[ ${BENCH_IDLE_POSTFIX:-0} == 1 ]]; then
		# One smtpd process per session: allow IDLE of them for the idle test.
		echo "default_process_limit = $((IDLE + 100))" >>"$PF_CONF/main.cf"
	fi
	cat >"$PF_CONF/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$PF_PORT inet n - n - - smtpd
127.0.0.1:$PF_TLS_PORT inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# Create the queue tree with the right owners, then check and start.
	postfix -c "$PF_CONF" set-permissions >"$TMP/postfix-setup.log" 2>&1 || true
	postfix -c "$PF_CONF" check >>"$TMP/postfix-setup.log" 2>&1 \
		|| { cat "$TMP/postfix-setup.log" "$TMP/postfix.log" >&2; die "postfix check failed"; }
	PF_STARTED=1
	postfix -c "$PF_CONF" start >>"$TMP/postfix-setup.log" 2>&1 \
		|| { cat "$TMP/postfix-setup.log" "$TMP/postfix.log" >&2; die "postfix start failed"; }
	wait_port "$PF_PORT" 20 || die "Postfix not listening on $PF_PORT"
	wait_port "$PF_TLS_PORT" 20 || die "Postfix not listening on $PF_TLS_PORT"
	local i mpid=
	for ((i = 0; i < 50; i++)); do
		mpid=$(pf_master_pid)
		[[ -n $mpid ]] && break
		sleep 0.1
	done
	[[ -n $mpid ]] || die "no Postfix master pid"
	log "Postfix master pid $mpid"
}

# ---- moatd -------------------------------------------------------------------
setup_moat() {
	[[ -x $MOATD && -x $MOATCTL ]] || { log "moat: $MOATD or $MOATCTL missing (run make)"; return 1; }
	local p
	for p in "$MOAT_PORT" "$MOAT_SUB_PORT" "$MOAT_TLS_PORT"; do
		port_free "$p" || die "port $p busy"
	done
	if ! id moat >/dev/null 2>&1; then
		log "creating system user moat"
		useradd --system --home-dir /var/lib/moat --shell /usr/sbin/nologin moat \
			|| die "useradd moat failed"
	fi
	log "setting up moatd in $MOAT_DIR (ports $MOAT_PORT, $MOAT_SUB_PORT, $MOAT_TLS_PORT)"
	mkdir -p "$MOAT_DIR"
	chmod 755 "$MOAT_DIR"
	cat >"$MOAT_CONF" <<EOF
[server]
hostname = bench.example.test
data_dir = $MOAT_DATA
workers = 2
${BENCH_MOAT_LOG_LEVEL:+log_level = $BENCH_MOAT_LOG_LEVEL}

[listen]
smtp = 127.0.0.1:$MOAT_PORT
submission = 127.0.0.1:$MOAT_SUB_PORT
submissions = 127.0.0.1:$MOAT_TLS_PORT

[tls]

[limits]
message_size = 10M
EOF
	"$MOATCTL" -c "$MOAT_CONF" domain add example.test >"$MOAT_DIR/moatctl.log" 2>&1 \
		|| { cat "$MOAT_DIR/moatctl.log" >&2; log "moatctl domain add failed"; return 1; }
	echo secret | "$MOATCTL" -c "$MOAT_CONF" account add "$RCPT" >>"$MOAT_DIR/moatctl.log" 2>&1 \
		|| { cat "$MOAT_DIR/moatctl.log" >&2; log "moatctl account add failed"; return 1; }
	# ulimit for the idle test is raised in main (inherited here).
	"$MOATD" -c "$MOAT_CONF" >"$MOAT_LOG" 2>&1 </dev/null &
	MOAT_PID=$!
	log "moatd pid $MOAT_PID, log $MOAT_LOG"
	for p in "$MOAT_PORT" "$MOAT_TLS_PORT"; do
		if ! wait_port "$p" 20; then
			log "moatd not listening on $p; log tail:"
			tail -n 20 "$MOAT_LOG" >&2 || true
			return 1
		fi
	done
	kill -0 "$MOAT_PID" 2>/dev/null || { tail -n 20 "$MOAT_LOG" >&2; return 1; }
	return 0
}

# ---- one measurement -----------------------------------------------------
# run_one SERVER SCENARIO PORT MAILDIR ROOTPID -> appends to $RESULTS:
#   server scenario ok(0/1) msgs_per_s cpu_ms_per_msg client_msgs_per_s
run_one() {
	local server=$1 scen=$2 port=$3 maildir=$4 rootpid=$5
	local size=1024 tool=load tlsopt=() extra=()
	case $scen in
	plain-1k) tool=source; size=1024 ;;
	plain-100k) tool=source; size=102400 ;;
	starttls-1k) tlsopt=(--starttls) ;;
	tls-1k) tlsopt=(--tls) ;;
	*) die "unknown scenario $scen" ;;
	esac
	local from=$FROM
	if [[ $server == moat && $scen == tls-1k && ${MOAT_TLS_AUTH:-0} == 1 ]]; then
		extra=(--auth "$RCPT:secret")
		# An authenticated sender may only use its own address.
		from=$RCPT
	fi
	local base cpu0 cpu1 t0 t1 t_client cnt rc=0 clog=$TMP/client-$server-$scen.log
	base=$(count_files "$maildir")
	cpu0=$(tree_cpu_ticks "$rootpid")
	log "$server $scen: $N messages, $SESS sessions, port $port"
	t0=$(now_ns)
	if [[ $tool == source ]]; then
		# shellcheck disable=SC2086
		timeout "$WAIT" "$SMTP_SOURCE" -c $SRC_OPTS -s "$SESS" -m "$N" -l "$size" \
			-M loadgen.example.org -f "$FROM" -t "$RCPT" "127.0.0.1:$port" \
			>"$clog" 2>&1 || rc=$?
	else
		timeout "$WAIT" "$LOAD" --port "$port" -m "$N" -s "$SESS" -l "$size" \
			--per-conn "$PER_CONN" "${tlsopt[@]}" "${extra[@]}" \
			-f "$from" -t "$RCPT" >"$clog" 2>&1 || rc=$?
	fi
	t_client=$(now_ns)
	[[ $rc -eq 0 ]] || log "  client exit $rc (see $clog): $(tail -n 3 "$clog" | tr '\r\n' '  ')"
	# Wait until every message is a file in the Maildir (bounded).
	local deadline=$(( t0 / 1000000000 + WAIT )) want=$((base + N))
	while :; do
		cnt=$(count_files "$maildir")
		((cnt >= want)) && break
		(( $(date +%s) >= deadline )) && break
		sleep 0.05
	done
	t1=$(now_ns)
	# Spot check: the newest delivered file holds at least the payload.
	local newest sz
	newest=$(ls -t "$maildir" 2>/dev/null | head -n 1 || true)
	if [[ -n $newest ]]; then
		sz=$(stat -c %s "$maildir/$newest" 2>/dev/null || echo 0)
		# (Postfix stores LF line ends, so allow 10 % less than the payload.)
		((sz >= size * 9 / 10)) || log "  WARNING: $maildir/$newest has $sz bytes, expected about $size"
	fi
	sleep 0.5  # let the server finish its bookkeeping before reading CPU
	cpu1=$(tree_cpu_ticks "$rootpid")
	local got=$((cnt - base))
	local el_ms=$(( (t1 - t0) / 1000000 )) cl_ms=$(( (t_client - t0) / 1000000 ))
	((el_ms > 0)) || el_ms=1
	((cl_ms > 0)) || cl_ms=1
	local rate cpu_ms crate ok=1
	rate=$(awk -v n="$got" -v ms="$el_ms" 'BEGIN{printf "%.1f", n*1000/ms}')
	crate=$(awk -v n="$got" -v ms="$cl_ms" 'BEGIN{printf "%.1f", n*1000/ms}')
	cpu_ms=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$got" \
		'BEGIN{ if (n>0) printf "%.3f", t*1000/hz/n; else print "nan"}')
	if ((got < N)); then
		ok=0
		log "  only $got of $N messages delivered within ${WAIT}s"
	fi
	log "  delivered $got in ${el_ms} ms: $rate msg/s end-to-end ($crate msg/s client side), CPU $cpu_ms ms/msg"
	printf '%s %s %s %s %s %s\n' "$server" "$scen" "$ok" "$rate" "$cpu_ms" "$crate" >>"$RESULTS"
}

warmup() { # port maildir
	((WARMUP > 0)) || return 0
	local base i
	base=$(count_files "$2")
	"$LOAD" --port "$1" -m "$WARMUP" -s 4 -l 1024 -f "$FROM" -t "$RCPT" >/dev/null 2>&1 || true
	for ((i = 0; i < 300; i++)); do
		(($(count_files "$2") >= base + WARMUP)) && return 0
		sleep 0.1
	done
	log "warm-up: messages did not all arrive in $2"
	return 1
}

run_server() { # server port tlsport maildir rootpid
	local server=$1 port=$2 tlsport=$3 maildir=$4 root=$5 s
	warmup "$port" "$maildir" || return 1
	for s in $SCENARIOS; do
		case $s in
		tls-1k) run_one "$server" "$s" "$tlsport" "$maildir" "$root" ;;
		*) run_one "$server" "$s" "$port" "$maildir" "$root" ;;
		esac
	done
}

# Idle-connection memory: RSS of the server tree with IDLE sessions open.
idle_rss() { # server port rootpid
	local server=$1 port=$2 root=$3 before after ready= pss_before pss_after
	((IDLE > 0)) || return 0
	sleep 1
	read -r before pss_before < <(tree_mem_kb "$root")
	log "$server idle test: $IDLE connections (RSS before: $before KB, PSS $pss_before KB)"
	# The client keeps its sessions until its stdin (fd 7 here) is closed.
	local fifo=$TMP/idle.fifo out=$TMP/idle-$server.out
	rm -f "$fifo"
	mkfifo "$fifo"
	"$LOAD" --port "$port" --idle "$IDLE" --hold "$WAIT" --timeout 10 <"$fifo" >"$out" 2>"$TMP/idle-$server.err" &
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
	sleep 2  # let the server settle
	read -r after pss_after < <(tree_mem_kb "$root")
	local nproc
	nproc=$(tree_pids "$root" | wc -w)
	exec 7>&-
	IDLE_FD_OPEN=0
	wait "$IDLE_PID" 2>/dev/null || true
	IDLE_PID=
	if [[ -z $ready || $ready -eq 0 ]]; then
		log "  idle client failed: $(head -n 3 "$TMP/idle-$server.err" | tr '\n' ' ')"
		printf 'idle %s 0 0 0 0 0\n' "$server" >>"$RESULTS"
		return 0
	fi
	[[ $ready -eq $IDLE ]] || log "  only $ready of $IDLE sessions established: $(head -n 3 "$TMP/idle-$server.err" | tr '\n' ' ')"
	local per pper
	per=$(awk -v a="$after" -v b="$before" -v n="$ready" 'BEGIN{printf "%.1f", (a-b)/n}')
	pper=$(awk -v a="$pss_after" -v b="$pss_before" -v n="$ready" 'BEGIN{printf "%.1f", (a-b)/n}')
	log "  RSS after: $after KB (PSS $pss_after KB) over $nproc processes -> $per KB RSS, $pper KB PSS per idle session"
	printf 'idle %s %s %s %s %s %s\n' "$server" "$ready" "$before" "$after" "$per" "$pper" >>"$RESULTS"
}

# ---- report --------------------------------------------------------------
report() {
	echo
	echo "moat vs Postfix, $(nproc) CPUs, $N messages per scenario, $SESS sessions"
	echo "(rate = end-to-end: from first connect until all N files are in the Maildir)"
	echo "load average at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	printf '%-12s %12s %12s %10s %14s %14s\n' scenario "postfix msg/s" "moat msg/s" \
		"moat/pf" "pf CPU ms/msg" "moat CPU ms/msg"
	local s
	for s in $SCENARIOS; do
		awk -v s="$s" '
		$2 == s && $1 == "postfix" { pr = ($3 ? $4 : $4 "!"); pc = $5; pv = $4 }
		$2 == s && $1 == "moat"    { mr = ($3 ? $4 : $4 "!"); mc = $5; mv = $4 }
		END {
			if (pr == "") { pr = "n/a"; pc = "n/a" }
			if (mr == "") { mr = "n/a"; mc = "n/a" }
			ratio = (pv > 0 && mv != "") ? sprintf("%.2f", mv / pv) : "n/a"
			printf "%-12s %12s %12s %10s %14s %14s\n", s, pr, mr, ratio, pc, mc
		}' "$RESULTS"
	done
	echo "('!' = not every message arrived before BENCH_TIMEOUT)"
	if grep -q '^idle ' "$RESULTS"; then
		echo
		echo "idle sessions (greeting read, EHLO sent), memory of the whole server process tree:"
		printf '%-8s %9s %14s %14s %12s %12s\n' server sessions "RSS before KB" "RSS after KB" \
			"RSS KB/sess" "PSS KB/sess"
		awk '$1 == "idle" { printf "%-8s %9s %14s %14s %12s %12s\n", $2, $3, $4, $5, $6, $7 }' "$RESULTS"
	fi
}

# ---- main ----------------------------------------------------------------
NEED_FD=$((IDLE + 256))
if (($(ulimit -n) < NEED_FD)); then
	ulimit -n "$NEED_FD" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "temp dir $TMP, ulimit -n $(ulimit -n), load average $LOAD_START"
build_load

for srv in $SERVERS; do
	case $srv in
	postfix)
		setup_postfix
		run_server postfix "$PF_PORT" "$PF_TLS_PORT" "$PF_MAILDIR" "$(pf_master_pid)" \
			|| log "Postfix run failed, see $TMP/postfix.log"
		if [[ ${BENCH_IDLE_POSTFIX:-0} == 1 ]]; then
			idle_rss postfix "$PF_PORT" "$(pf_master_pid)"
		fi
		postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
		for ((i = 0; i < 100; i++)); do [[ -z $(pf_master_pid) ]] && break; sleep 0.1; done
		PF_STARTED=0
		;;
	moat)
		if setup_moat; then
			# Implicit TLS on moat is the submissions port; see whether it
			# accepts mail for a local recipient without AUTH.
			if [[ " $SCENARIOS " == *" tls-1k "* ]]; then
				if ! "$LOAD" --port "$MOAT_TLS_PORT" --tls -m 1 -s 1 -l 100 -f "$FROM" -t "$RCPT" \
					>"$MOAT_DIR/probe.log" 2>&1; then
					log "moat submissions refuses unauthenticated mail; using AUTH PLAIN for tls-1k"
					MOAT_TLS_AUTH=1
				fi
			fi
			run_server moat "$MOAT_PORT" "$MOAT_TLS_PORT" "$MOAT_MAILDIR" "$MOAT_PID" \
				|| log "moat run failed, see $MOAT_LOG"
			idle_rss moat "$MOAT_PORT" "$MOAT_PID"
			stop_pid "$MOAT_PID" moatd
			wait "$MOAT_PID" 2>/dev/null || true
			MOAT_PID=
		else
			log "moat skipped"
		fi
		;;
	*) die "unknown server $srv" ;;
	esac
done

report | tee "$TMP/report.txt"
if [[ -n ${BENCH_REPORT:-} ]]; then cp "$TMP/report.txt" "$BENCH_REPORT"; fi
if [[ ${MOAT_TLS_AUTH:-0} == 1 ]]; then
	echo "note: moat tls-1k used AUTH PLAIN (submissions requires it); Postfix smtps did not."
fi
