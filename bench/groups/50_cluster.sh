# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/50_cluster.sh -- benchmarks 13-15; sourced by bench/run (see there
# and docs/benchmarks.md), which has set up the instance and the helpers.

# ---------------------------------------------------------------------------
# cluster: three members, this instance (bench_a) their control database
# ---------------------------------------------------------------------------
echo
echo "== cluster: setup for benchmarks 13 to 15 == ($(date -u +%T) UTC)"
# Benchmark 9 turns the monitor's checks on: keep them out of these
# measurements too.
monitor_checks_off

# The control database: this instance's postgres database.  Members log in
# as one shared non-superuser role (trust, as everything here).
sql -f "$BENCH_SQL/cluster_control.sql" >/dev/null

# The members start only now, not with bench_b and bench_c: a member renews
# its lease here every BENCH_RENEW_MS (a new connection and a transaction
# each time), which must not run during benchmarks 1-12.  start_node still
# checks that each loaded the foundation.so just built.  naptime as on the
# main instance; a member's renewals do not wait for it.
MEMBERS=(bench_m1 bench_m2 bench_m3)
CONTROL_CONN="host=$SOCK port=$PORT dbname=postgres user=fdn_member"
# The members sign their placements with a shared secret; the benchmark's
# cluster singleton runs as postgres, which members refuse by default.
MEMBER_CONF="foundation.naptime = '1s'
foundation.control_conninfo = '$CONTROL_CONN'
foundation.cluster_secret = 'bench-cluster-secret'
foundation.cluster_allow_superuser_singletons = on
foundation.lease_renew_interval = '${RENEW_MS}ms'
foundation.lease_duration = '${LEASE_MS}ms'
${BENCH_MEMBER_CONF:-}"
declare -A M_PORT M_SOCK
for i in "${!MEMBERS[@]}"; do
	m=${MEMBERS[$i]}
	M_PORT[$m]=$((PORT + 3 + i))
	M_SOCK[$m]=$WORK/$m/sock
done
# How one reaches member $1: its socket, as postgres (trust).  Each member
# advertises it as foundation.node_conninfo: the others' relays send it
# their broadcasts there (benchmark 15); without it a member would advertise
# host=localhost, and nothing here listens on TCP.
m_conninfo() { echo "host=${M_SOCK[$1]} port=${M_PORT[$1]} dbname=postgres user=postgres"; }
log "starting members ${MEMBERS[*]} (ports $((PORT + 3))-$((PORT + 2 + ${#MEMBERS[@]}))) for benchmarks 13 to 15"
for m in "${MEMBERS[@]}"; do
	start_node "$m" "${M_PORT[$m]}" "$MEMBER_CONF
foundation.node_conninfo = '$(m_conninfo "$m")'"
done
msql() { local m=$1; shift; sql -h "${M_SOCK[$m]}" -p "${M_PORT[$m]}" "$@"; }
for m in "${MEMBERS[@]}"; do
	# The singletons' module, as on the main instance; and each member can
	# reach the others (to wake the one a new singleton is placed on, as
	# docs/cluster-singletons.md sets members up).
	msql "$m" -f "$BENCH_SQL/idle.sql" >/dev/null
	for o in "${MEMBERS[@]}"; do
		[[ $o == "$m" ]] && continue
		# (psql interpolates :'n' only in its input, not in -c)
		echo "INSERT INTO foundation.nodes (name, conninfo) VALUES (:'n', :'c');" |
			msql "$m" -v n="$o" -v c="$(m_conninfo "$o")" >/dev/null
	done
done
LIVE_SQL="SELECT count(*) FROM foundation.members WHERE state = 'up' AND lease_expires > now()"
# Joining takes a supervisor pass after CREATE EXTENSION (naptime 1 s) and
# one renewal: 30 s is plenty.
for _ in $(seq 1 300); do
	n=$(sql -c "$LIVE_SQL")
	[[ $n == "${#MEMBERS[@]}" ]] && break
	sleep 0.1
done
[[ $n == "${#MEMBERS[@]}" ]] ||
	die "$n of ${#MEMBERS[@]} members live in bench_a's foundation.members after 30 s: $(sql -c "SELECT string_agg(node || ' ' || state || ' epoch ' || epoch, ', ') FROM foundation.members")"
echo "control database: bench_a ($SOCK), role fdn_member (foundation.grant_member_role)"
echo "members: $(sql -c "SELECT string_agg(node || ' (epoch ' || epoch || ')', ', ' ORDER BY node) FROM foundation.members WHERE state = 'up' AND lease_expires > now()"),"
echo "  foundation.lease_duration = ${LEASE_MS} ms, foundation.lease_renew_interval = ${RENEW_MS} ms,"
echo "  foundation.node_conninfo = 'host=<its socket dir> port=<its port> dbname=postgres user=postgres'"

# ---------------------------------------------------------------------------
# 13. failover time of a cluster singleton
# ---------------------------------------------------------------------------
echo
echo "== 13. failover time: pg_ctl stop -m immediate of the member running a cluster singleton until another member runs it ($FAILOVERS times) == ($(date -u +%T) UTC)"
CS_PID=$(msql bench_m1 -c "SELECT foundation.start_singleton('public.idle', '{}', 'bench_cs')")
[[ $CS_PID =~ ^[0-9]+$ ]] || die "start_singleton('bench_cs') on bench_m1 returned '$CS_PID', not a pid"
IFS='|' read -r cs_node cs_pid < <(sql -c "SELECT node, pid FROM foundation.cluster_singletons WHERE name = 'bench_cs'")
[[ $cs_pid == "$CS_PID" && -n ${M_PORT[$cs_node]:-} ]] ||
	die "the control row of bench_cs (node '$cs_node', pid '$cs_pid') does not match start_singleton's pid $CS_PID on a member"
echo "start_singleton('public.idle', '{}', 'bench_cs') from bench_m1: pid $CS_PID on $cs_node"
# A failover can only start once the lease has expired, and is noticed at a
# live member's next renewal: the bound leaves 30 s beyond the lease.
TIMEOUT13=$(awk -v l="$LEASE_MS" 'BEGIN { printf "%.1f", l / 1000 + 30 }')
: >"$WORK/failover.txt"
: >"$WORK/failover_moved.txt"
: >"$WORK/failover_left.txt"
F13_ROUNDS=()
for round in $(seq 1 "$FAILOVERS"); do
	IFS='|' read -r dead old_pid < <(sql -c "SELECT node, pid FROM foundation.cluster_singletons WHERE name = 'bench_cs'")
	[[ -n $dead && -n ${M_PORT[$dead]:-} && $old_pid =~ ^[0-9]+$ ]] ||
		die "bench_cs is not running on a member before round $round (node '$dead', pid '$old_pid')"
	old_epoch=$(sql -c "SELECT epoch FROM foundation.members WHERE node = '$dead'")
	# The stop falls at a random point of the member's renewal interval, so
	# that the time its lease still had to run varies as it would.
	sleep "$(awk -v r=$((RANDOM % RENEW_MS)) 'BEGIN { printf "%.3f", r / 1000 }')"
	t0=$(date +%s.%N)
	pg_ctl_as "$WORK/$dead/data" stop -m immediate -w -t 60 >/dev/null ||
		die "pg_ctl stop -m immediate of $dead failed (round $round)"
	r=$(sql -c "SELECT moved_at, running_at, node, pid, epoch
	              FROM public.bench_wait_failover('bench_cs', '$dead', $TIMEOUT13)") ||
		die "failover of bench_cs from $dead did not complete (round $round); see the members' server logs under $WORK"
	IFS='|' read -r moved_at running_at new_node new_pid new_epoch <<<"$r"
	# The stopped member's lease as the control database last recorded it.
	lease_left=$(sql -c "SELECT round(((extract(epoch FROM lease_expires) - $t0) * 1000)::numeric)
	                       FROM foundation.members WHERE node = '$dead'")
	ms=$(awk -v a="$t0" -v b="$running_at" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	mv=$(awk -v a="$t0" -v b="$moved_at" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	echo "$ms" >>"$WORK/failover.txt"
	echo "$mv" >>"$WORK/failover_moved.txt"
	echo "$lease_left" >>"$WORK/failover_left.txt"
	F13_ROUNDS+=("$ms")
	alive=$(msql "$new_node" -c "SELECT count(*) FROM foundation.registry
	                              WHERE name = 'bench_cs' AND pid = $new_pid AND foundation.pid_alive(pid)")
	[[ $alive == 1 ]] || echo "WARNING: round $round: $new_node does not run bench_cs as pid $new_pid in its registry" >&2
	# Back to three members before the next round: the stopped one rejoins
	# under a new epoch (and starts nothing stale).
	t1=$(date +%s.%N)
	install_lock
	reinstall_build
	start_server "$WORK/$dead/data" "$WORK/$dead/server.log" 60 ||
		die "member $dead did not start again (round $round)"
	check_installed "member $dead (restarted)"
	install_unlock
	for _ in $(seq 1 600); do
		v=$(sql -c "SELECT (SELECT epoch > $old_epoch AND state = 'up' AND lease_expires > now()
		                      FROM foundation.members WHERE node = '$dead')
		                   AND ($LIVE_SQL) = ${#MEMBERS[@]}")
		[[ $v == t ]] && break
		sleep 0.1
	done
	[[ $v == t ]] || die "member $dead did not rejoin within 60 s of its restart (round $round)"
	back=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	echo "round $round: stopped $dead (bench_cs pid $old_pid; its lease had $lease_left ms left); on $new_node after $mv ms," \
		"running there (pid $new_pid, fencing epoch $new_epoch) after $ms ms; $dead live again $back s after its restart"
done
read -r F13_N F13_MEAN F13_MED F13_P95 F13_MIN F13_MAX < <(stats <"$WORK/failover.txt")
read -r _ _ F13MV_MED F13MV_P95 F13MV_MIN F13MV_MAX < <(stats <"$WORK/failover_moved.txt")
read -r _ _ F13L_MED _ F13L_MIN F13L_MAX < <(stats <"$WORK/failover_left.txt" | awk '{ printf "%d %.0f %.0f %.0f %.0f %.0f\n", $1, $2, $3, $4, $5, $6 }')
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "ms from the stop" n mean median p95 min max
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "until another live member reported its pid" "$F13_N" "$F13_MEAN" "$F13_MED" "$F13_P95" "$F13_MIN" "$F13_MAX"
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "until the row was reassigned (diagnostic)" "$F13_N" "" "$F13MV_MED" "$F13MV_P95" "$F13MV_MIN" "$F13MV_MAX"
echo "the stopped member's lease had $F13L_MIN to $F13L_MAX ms left at the stop (median $F13L_MED)"
R13=$(calc "$F13_MED / $LEASE_MS")
# Goal: another member runs it within the lease plus one second, median and
# p95 (the lease must run out first; then a live member's next renewal,
# every $RENEW_MS ms, moves it, and the supervisor starts it).
G13=$((LEASE_MS + 1000))
MET13=yes
ge "$G13" "$F13_MED" || MET13=NO
ge "$G13" "$F13_P95" || MET13=NO
echo "failover times: $(printf '%s ' "${F13_ROUNDS[@]}")ms; median $F13_MED ms = $R13 x the lease duration ($LEASE_MS ms, renewal every $RENEW_MS ms);" \
	"goal: median and p95 <= lease + 1 s = $G13 ms: $MET13"

# ---------------------------------------------------------------------------
# 14. whereis vs a local lookup, on a member
# ---------------------------------------------------------------------------
echo
echo "== 14. foundation.whereis (asks the control database) vs lookup_singleton of a local singleton, on a member (pgbench -M prepared -c 1 -T $DURATION) == ($(date -u +%T) UTC)"
IFS='|' read -r cs_node cs_pid < <(sql -c "SELECT node, pid FROM foundation.cluster_singletons WHERE name = 'bench_cs'")
# A member that does not run bench_cs: whereis asks the control database
# wherever it is called, lookup_singleton('bench_cs') only where the name
# is not in the local registry (the diagnostic below).
W_NODE=$(sql -c "SELECT min(node) FROM foundation.members
                  WHERE state = 'up' AND lease_expires > now() AND node <> '$cs_node'")
[[ -n $W_NODE && -n ${M_PORT[$W_NODE]:-} ]] || die "no live member other than $cs_node"
LOCAL_PID=$(msql "$W_NODE" -c "SELECT foundation.start_singleton('public.idle', '{}', 'bench_local', scope => 'local')")
[[ $LOCAL_PID =~ ^[0-9]+$ ]] || die "start_singleton('bench_local', scope => 'local') on $W_NODE returned '$LOCAL_PID'"
chk=$(msql "$W_NODE" -c "SELECT (SELECT node || ':' || pid FROM foundation.whereis('bench_cs')) = '$cs_node:$cs_pid'
                           AND foundation.lookup_singleton('bench_local') = $LOCAL_PID
                           AND foundation.lookup_singleton('bench_cs') = $cs_pid")
[[ $chk == t ]] || die "on $W_NODE, whereis('bench_cs'), lookup_singleton('bench_local') or lookup_singleton('bench_cs') gave a wrong answer"
n=$(sql -c "SELECT count(*) FROM foundation.cluster_singletons WHERE name = 'bench_local'")
[[ $n == 0 ]] || die "the local singleton bench_local went to the control database"
echo "on $W_NODE: local singleton bench_local pid $LOCAL_PID; whereis('bench_cs') = $cs_node, pid $cs_pid"
# Two diagnostics: lookup_singleton of the cluster singleton (not in this
# member's registry, so it asks the control database too), and SELECT 1,
# the client's round trip, which is most of what a local lookup costs.
# A third: whereis on the member that runs bench_cs, which answers from
# what it knows, without the control database.
SIDES14=(whereis here lookup remote select1)
declare -A L14_LABEL=(
	[whereis]="whereis('bench_cs')"
	[here]="whereis('bench_cs') on $cs_node (diag.)"
	[lookup]="lookup_singleton('bench_local')"
	[remote]="lookup_singleton('bench_cs') (diag.)"
	[select1]="SELECT 1 (diag.)"
)
declare -A S14_SQL
for s in "${SIDES14[@]}"; do
	# (here runs where_whereis.sql; a substitution of "here" would also
	# rewrite "whereis" itself)
	f=$s
	[[ $s == here ]] && f=whereis
	render "where_$f.sql" "$WORK/c14_$s.sql"
	S14_SQL[$s]=$(<"$WORK/c14_$s.sql")
done
PGB14=(-c 1 -h "${M_SOCK[$W_NODE]}" -p "${M_PORT[$W_NODE]}")
PGB14_HERE=(-c 1 -h "${M_SOCK[$cs_node]}" -p "${M_PORT[$cs_node]}")
pgb14() { if [[ $1 == here ]]; then echo "${PGB14_HERE[@]}"; else echo "${PGB14[@]}"; fi; }
for s in "${SIDES14[@]}"; do
	# shellcheck disable=SC2046  # the words of pgb14 are options
	pgbench_tps "$WORK/c14_$s.sql" $(pgb14 "$s") -T 2 >/dev/null   # warm-up
done
declare -A TPS14 LAT14 BEST14 BLAT14
for round in 1 2; do
	for s in "${SIDES14[@]}"; do
		# shellcheck disable=SC2046
		t=$(pgbench_tps "$WORK/c14_$s.sql" $(pgb14 "$s") -T "$DURATION")
		# one client: ms per call = 1000 / tps (without connection time)
		l=$(awk -v t="$t" 'BEGIN { printf "%.4f", 1000 / t }')
		TPS14[$s]="${TPS14[$s]:-}${TPS14[$s]:+ }$t"
		LAT14[$s]="${LAT14[$s]:-}${LAT14[$s]:+ }$l"
		printf 'round %d %-38s %6s tps, %s ms per call\n' "$round" "${L14_LABEL[$s]}:" "$t" "$l"
	done
done
for s in "${SIDES14[@]}"; do
	BEST14[$s]=$(echo "${TPS14[$s]}" | tr ' ' '\n' | sort -g | tail -n1)
	BLAT14[$s]=$(awk -v t="${BEST14[$s]}" 'BEGIN { printf "%.4f", 1000 / t }')
done
# Diagnostic: the least a whereis has to do, one new libpq connection to
# the control database as fdn_member with the query whereis sends, closed
# (bench/connect3.c, from outside the server).
W14_SQL="SELECT json_build_object('node', node, 'pid', pid)::text FROM foundation.cluster_singletons WHERE name = 'bench_cs'"
"$WORK/build/connect3" --samples 200 --warmup 5 --sql "$W14_SQL" "$CONTROL_CONN" \
	>"$WORK/c14_connect.txt" || die "connect3 (diagnostic of benchmark 14) failed"
read -r C14_N C14_MEAN C14_MED C14_P95 _ _ < <(stats <"$WORK/c14_connect.txt")
R14=$(calc "${BLAT14[whereis]} / ${BLAT14[lookup]}")
R14C=$(calc "${BLAT14[whereis]} / $C14_MEAN")
echo "best: whereis ${BEST14[whereis]} tps (${BLAT14[whereis]} ms per call), lookup_singleton (local) ${BEST14[lookup]} tps (${BLAT14[lookup]} ms per call);"
echo "  lookup_singleton('bench_cs') from $W_NODE ${BEST14[remote]} tps (${BLAT14[remote]} ms per call); SELECT 1 ${BEST14[select1]} tps (${BLAT14[select1]} ms per call)"
echo "  whereis('bench_cs') on $cs_node, which runs it: ${BEST14[here]} tps (${BLAT14[here]} ms per call), $(calc "${BLAT14[here]} / ${BLAT14[lookup]}") x the local lookup"
echo "connect3, one connection to the control database + whereis's query + close ($C14_N samples): mean $C14_MEAN ms, median $C14_MED ms, p95 $C14_P95 ms; whereis / connect3 mean: $R14C"
echo "ratio whereis/lookup_singleton (ms per call, best of 2 runs each) = $R14 (goal <= 3)"

# ---------------------------------------------------------------------------
# 15. broadcast across nodes vs local_broadcast, on a member
# ---------------------------------------------------------------------------
echo
echo "== 15. broadcast across nodes (outbox + relay) vs local_broadcast on bench_m1: throughput, relay throughput, latency to a listener on bench_m2 vs on bench_m1 == ($(date -u +%T) UTC)"
P15=bench_m1   # the publisher
L15=bench_m2   # the other member whose listener and relay_inbox are read
# Each member learns the others' advertised addresses at its lease renewals
# (foundation.cluster_peers) and runs a relay child (foundation:relay) once
# its supervisor sees the control database; benchmark 13 restarted members,
# so wait until every member knows the two others at the addresses they
# advertise and runs its relay.  30 s is many renewals.
peers_ok_sql() {   # peers_ok_sql MEMBER: true when its peers are the two others as advertised
	local m=$1 o vals=""
	for o in "${MEMBERS[@]}"; do
		[[ $o == "$m" ]] && continue
		vals="$vals${vals:+, }('$o', '$(m_conninfo "$o")')"
	done
	echo "SELECT (SELECT count(*) FROM foundation.cluster_peers) = $((${#MEMBERS[@]} - 1))
	         AND NOT EXISTS (SELECT * FROM (VALUES $vals) v (node, conninfo)
	                         EXCEPT SELECT node, conninfo FROM foundation.cluster_peers)
	         AND foundation.lookup_singleton('foundation:relay') IS NOT NULL"
}
for _ in $(seq 1 300); do
	ok=1
	for m in "${MEMBERS[@]}"; do
		[[ $(msql "$m" -c "$(peers_ok_sql "$m")") == t ]] || { ok=0; break; }
	done
	[[ $ok == 1 ]] && break
	sleep 0.1
done
if [[ $ok != 1 ]]; then
	for m in "${MEMBERS[@]}"; do
		echo "$m: cluster_peers $(msql "$m" -c "SELECT coalesce(string_agg(node || ' [' || coalesce(conninfo, 'NULL') || ']', ', ' ORDER BY node), 'none') FROM foundation.cluster_peers");" \
			"relay pid $(msql "$m" -c "SELECT coalesce(foundation.lookup_singleton('foundation:relay')::text, 'none')")" >&2
	done
	die "the members did not all know their two peers at their advertised addresses and run their relay within 30 s"
fi
n=$(sql -c "$LIVE_SQL")
[[ $n == "${#MEMBERS[@]}" ]] || die "$n of ${#MEMBERS[@]} members live before benchmark 15"
for m in "${MEMBERS[@]}"; do
	n=$(msql "$m" -c "SELECT count(*) FROM foundation.outbox")
	[[ $n == 0 ]] || die "$m's foundation.outbox has $n row(s) before benchmark 15"
done
# Benchmark 15: poll foundation.outbox every 50 ms (a fresh snapshot each
# time, clock_timestamp()) until it is empty.  One row per member that had
# rows waiting when the call started: how many, and when its last row went
# (epoch seconds, the clock `date +%s.%N` reads; to the 50 ms of the polling).
msql "$P15" -f "$BENCH_SQL/cluster_outbox.sql" >/dev/null
BACKLOG15_START=$(msql "$P15" -c "SELECT foundation.health_check() -> 'relay_backlog'")
echo "each member knows the two others at their foundation.node_conninfo (foundation.cluster_peers) and runs foundation:relay;"
echo "  $P15's foundation.health_check() -> 'relay_backlog': $BACKLOG15_START"
# wait_outbox15 T_END: waits until the publisher's outbox is empty; sets
# OUTBOX15 ("member rows, ..." still waiting when the wait started, or
# "nothing") and DRAIN15 (s from T_END, a `date +%s.%N`, until the last row
# went).
wait_outbox15() {
	local t_end=$1 rows last
	rows=$(msql "$P15" -c "SELECT member, waiting, drained_at FROM public.bench_wait_outbox($RELAY_TIMEOUT)") ||
		die "$P15's foundation.outbox did not empty within $RELAY_TIMEOUT s (BENCH_RELAY_TIMEOUT); see the members' server logs under $WORK"
	if [[ -z $rows ]]; then
		OUTBOX15=nothing
		DRAIN15=0
		return
	fi
	OUTBOX15=$(echo "$rows" | awk -F'|' '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
	last=$(echo "$rows" | awk -F'|' '{ if ($3 > m) m = $3 } END { printf "%.6f", m }')
	DRAIN15=$(awk -v a="$t_end" -v b="$last" 'BEGIN { printf "%.2f", b - a }')
}
# The members run with autovacuum = off (start_node): the dead rows of one
# run must not slow the next one's scans of the outbox.
vacuum_outbox15() { msql "$P15" -c "VACUUM foundation.outbox_messages, foundation.relay_cursors" >/dev/null; }

# 15a. Publisher throughput on bench_m1: broadcast (NOTIFY here + one outbox
# row per message naming the other members, in the transaction) vs local_broadcast (NOTIFY
# here only).  Nobody listens, as in benchmark 4; the relay delivers to
# bench_m2 and bench_m3 while pgbench runs, on the same CPUs, and after
# each run bench/run waits until the outbox is empty again.
echo "-- 15a. throughput on $P15 (pgbench -n -M prepared -T $DURATION, -c 1 then -c 4, 2 interleaved rounds; no listener)"
render cross_broadcast.sql "$WORK/c15_bc.sql"
render cross_local.sql "$WORK/c15_local.sql"
PGB15=(-h "${M_SOCK[$P15]}" -p "${M_PORT[$P15]}")
# Where the CPU goes (diagnostics; /proc, as benchmark 9): utime + stime
# (clock ticks) of a process, with "all" also of its children that exited
# and were waited for; tree_ticks: of a postmaster and all its processes,
# live or exited (the backends of pgbench on bench_m1, those of the relay's
# connections on bench_m2 and bench_m3, kept open or not, and each
# member's own background processes).  The relay process itself is
# bench_m1's foundation:relay, counted apart.  And how busy the machine was
# during the pgbench run (/proc/stat, all CPUs).
cpu_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" | awk -v all="${2:-}" '{ print $12 + $13 + (all == "all" ? $14 + $15 : 0) }'
}
tree_ticks() {
	local t c v
	t=$(cpu_ticks "$1" all)
	for c in $(pgrep -P "$1"); do
		v=$(cpu_ticks "$c" 2>/dev/null) || continue   # exited meanwhile
		t=$((t + v))
	done
	echo "$t"
}
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
CLK_TCK15=$(getconf CLK_TCK)
declare -A PM15
for m in "${MEMBERS[@]}"; do
	PM15[$m]=$(head -n1 "$WORK/$m/data/postmaster.pid")
done
RELAY15=$(msql "$P15" -c "SELECT foundation.lookup_singleton('foundation:relay')")
[[ $RELAY15 =~ ^[0-9]+$ ]] || die "no relay pid on $P15"
recv_ticks15() {
	local m t=0
	for m in "${MEMBERS[@]}"; do
		[[ $m == "$P15" ]] || t=$((t + $(tree_ticks "${PM15[$m]}")))
	done
	echo "$t"
}
us_per15() { awk -v t="$1" -v n="$2" -v hz="$CLK_TCK15" 'BEGIN { printf "%.0f", t / hz * 1e6 / n }'; }
INBOX15_MAX="SELECT coalesce(max(id), 0) FROM foundation.relay_inbox WHERE origin = '$P15'"
declare -A TPS15 BEST15
RUNS15=()
# BENCH_CROSS_EXTRA_CLIENTS (e.g. "16"): more client counts after 1 and 4
# (diagnostic: how far commits that share WAL flushes go)
# shellcheck disable=SC2206  # a list of numbers
CLIENTS15=(1 4 ${BENCH_CROSS_EXTRA_CLIENTS:-})
for c in "${CLIENTS15[@]}"; do
	pgbench_tps "$WORK/c15_local.sql" -c "$c" -j "$c" "${PGB15[@]}" -T 2 >/dev/null   # warm-up
	pgbench_tps "$WORK/c15_bc.sql" -c "$c" -j "$c" "${PGB15[@]}" -T 2 >/dev/null
	wait_outbox15 "$(date +%s.%N)"
	vacuum_outbox15
	for round in 1 2; do
		for s in local bc; do
			imax=$(msql "$L15" -c "$INBOX15_MAX")
			p0=$(tree_ticks "${PM15[$P15]}"); r0=$(cpu_ticks "$RELAY15"); q0=$(recv_ticks15)
			read -r b0 a0 < <(machine_ticks)
			t=$(pgbench_tps "$WORK/c15_$s.sql" -c "$c" -j "$c" "${PGB15[@]}" -T "$DURATION")
			t_end=$(date +%s.%N)
			read -r b1 a1 < <(machine_ticks)
			ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
			wait_outbox15 "$t_end"
			p1=$(tree_ticks "${PM15[$P15]}"); r1=$(cpu_ticks "$RELAY15"); q1=$(recv_ticks15)
			vacuum_outbox15
			# the relay's calls to bench_m2 in this run: one transaction,
			# one received_at, each
			IFS='|' read -r got calls < <(msql "$L15" -c "SELECT count(*), count(DISTINCT received_at)
			                                               FROM foundation.relay_inbox WHERE origin = '$P15' AND id > $imax")
			TPS15[$s$c]="${TPS15[$s$c]:-}${TPS15[$s$c]:+ }$t"
			busy=$(awk -v b="$((b1 - b0))" -v a="$((a1 - a0))" 'BEGIN { printf "%.0f", 100 * b / a }')
			pub_us=$(us_per15 $((p1 - p0 - (r1 - r0))) "$ntx")   # without the relay
			relay_us=$(us_per15 $((r1 - r0)) "$ntx")
			recv_us=$(us_per15 $((q1 - q0)) "$ntx")
			if [[ $s == local ]]; then
				[[ $OUTBOX15 == nothing && $got == 0 ]] ||
					die "local_broadcast left rows in $P15's foundation.outbox ($OUTBOX15) or reached $L15 ($got)"
				printf 'round %d -c %d local_broadcast: %6s tps (%s messages); CPU per message: %s %s us; machine %s %% busy\n' \
					"$round" "$c" "$t" "$ntx" "$P15" "$pub_us" "$busy"
				RUNS15+=("$c|$round|local_broadcast|$t|$ntx|-|-|$pub_us|-|-|$busy|-|-")
			else
				[[ $got == "$ntx" ]] ||
					echo "WARNING: -c $c round $round: $L15's relay_inbox got $got messages from $P15, pgbench sent $ntx" >&2
				per_call=$(awk -v n="$got" -v k="$calls" 'BEGIN { printf "%.1f", (k > 0 ? n / k : 0) }')
				if [[ $OUTBOX15 == nothing ]]; then
					left="the relay had kept up: nothing waited when pgbench stopped"
				else
					left="not yet relayed when pgbench stopped: $OUTBOX15, all relayed $DRAIN15 s later"
				fi
				printf 'round %d -c %d broadcast:       %6s tps (%s messages; %s);\n' "$round" "$c" "$t" "$ntx" "$left"
				printf '    CPU per message: %s but the relay %s us, relay %s us, the two receivers %s us; machine %s %% busy; %s relay calls to %s, %s messages each\n' \
					"$P15" "$pub_us" "$relay_us" "$recv_us" "$busy" "$calls" "$L15" "$per_call"
				RUNS15+=("$c|$round|broadcast|$t|$ntx|$OUTBOX15|$DRAIN15|$pub_us|$relay_us|$recv_us|$busy|$calls|$per_call")
			fi
		done
	done
	for s in local bc; do
		BEST15[$s$c]=$(echo "${TPS15[$s$c]}" | tr ' ' '\n' | sort -g | tail -n1)
	done
done
[[ $(cpu_ticks "$RELAY15" 2>/dev/null) =~ ^[0-9]+$ &&
	$(msql "$P15" -c "SELECT foundation.lookup_singleton('foundation:relay')") == "$RELAY15" ]] ||
	echo "WARNING: $P15's relay (pid $RELAY15) restarted during the runs: its CPU figures are wrong" >&2
R15A=$(calc "${BEST15[bc1]} / ${BEST15[local1]}")
R15A4=$(calc "${BEST15[bc4]} / ${BEST15[local4]}")
echo "best: -c 1 broadcast ${BEST15[bc1]} tps, local_broadcast ${BEST15[local1]} tps, ratio $R15A;" \
	"-c 4 broadcast ${BEST15[bc4]} tps, local_broadcast ${BEST15[local4]} tps, ratio $R15A4 (no goal)"
declare -A R15X
for c in "${CLIENTS15[@]:2}"; do
	R15X[$c]=$(calc "${BEST15[bc$c]} / ${BEST15[local$c]}")
	echo "best: -c $c broadcast ${BEST15[bc$c]} tps, local_broadcast ${BEST15[local$c]} tps, ratio ${R15X[$c]} (diagnostic)"
done
# Diagnostic: the same statements in transactions that are rolled back
# (-c 1, one run each): the outbox rows are written but never committed,
# the relay is not woken, nothing is flushed; the difference is what
# writing the outbox rows costs inside the transaction.
render cross_local_rb.sql "$WORK/c15_local_rb.sql"
render cross_broadcast_rb.sql "$WORK/c15_bc_rb.sql"
declare -A RB15
for s in local_rb bc_rb; do
	pgbench_tps "$WORK/c15_$s.sql" -c 1 "${PGB15[@]}" -T 2 >/dev/null   # warm-up
done
for s in local_rb bc_rb; do
	RB15[$s]=$(pgbench_tps "$WORK/c15_$s.sql" -c 1 "${PGB15[@]}" -T "$DURATION")
done
n=$(msql "$P15" -c "SELECT count(*) FROM foundation.outbox")
[[ $n == 0 ]] || die "$n row(s) in $P15's foundation.outbox after the rolled-back broadcasts"
vacuum_outbox15
RB15_D=$(awk -v a="${RB15[bc_rb]}" -v b="${RB15[local_rb]}" 'BEGIN { printf "%.0f", 1e6 / a - 1e6 / b }')
C15_D=$(awk -v a="${BEST15[bc1]}" -v b="${BEST15[local1]}" 'BEGIN { printf "%.0f", 1e6 / a - 1e6 / b }')
echo "diagnostic, rolled back (BEGIN; SELECT ...; ROLLBACK; -c 1): local_broadcast ${RB15[local_rb]} tps, broadcast ${RB15[bc_rb]} tps:" \
	"the outbox write costs $RB15_D us per transaction; committed (best, -c 1) broadcast costs $C15_D us more than local_broadcast"

# 15b. The relay's throughput (3 rounds: it varies from round to round more
# than the rest): N messages broadcast in one statement on bench_m1, then
# the time from its commit until bench_m1's outbox is empty, i.e. until
# both other members have committed all of them (relay_deliver) and the
# relay has deleted them.  t_commit is
# clock_timestamp() of the next statement of the same psql session, just
# after the broadcasting one returned.  Checked on bench_m2 and bench_m3:
# relay_inbox grew by exactly N rows from bench_m1 (each message once).
echo "-- 15b. relay throughput: SELECT count(foundation.broadcast('data', jsonb_build_object('seq', i))) FROM generate_series(1, $RELAY_MESSAGES) i on $P15, 3 rounds"
INBOX15_SQL="SELECT count(*), coalesce(max(id), 0) FROM foundation.relay_inbox WHERE origin = '$P15'"
# The relay's memory (Pss, kB), before the rounds and after each: a relay
# that kept something of every batch would grow by each round's batches.
relay_pss15() { awk '/^Pss:/ { print $2 }' "/proc/$RELAY15/smaps_rollup" 2>/dev/null || echo "?"; }
RELAY_PSS15=$(relay_pss15)
# Diagnostics: the plans of the relay's two statements per batch
# (the relay's C code: the batch's SELECT, and the DELETE of the 1000 ids sent;
# the values written in, as SPI hands them to the planner) as the planner
# sees the outbox just after the commit, while the relay drains it, each on
# one line; what pg_class says of the outbox before each round (never
# analyzed here: autovacuum is off; VACUUM leaves relpages > 0 when it
# cannot truncate); and the relay process's CPU time per round.
msql "$P15" -f "$BENCH_SQL/explain_one_line.sql" >/dev/null
# (with the relay's planner settings: sequential and bitmap scans off)
PLAN15_SQL="SET enable_seqscan = off; SET enable_bitmapscan = off;
            SELECT public.bench_plan(format('SELECT id, channel, message, compression FROM foundation.outbox_messages'
                                            ' WHERE xid >= pg_snapshot_xmin(%L::pg_snapshot) AND NOT pg_visible_in_snapshot(xid, %L::pg_snapshot)'
                                            ' AND (NULL::pg_snapshot IS NULL OR (pg_visible_in_snapshot(xid, NULL::pg_snapshot) AND id > NULL::bigint))'
                                            ' AND %L = ANY (targets) ORDER BY id LIMIT 1000', d.done, d.done, '$L15'))
                 || ' -- DELETE: '
                 || public.bench_plan(format('DELETE FROM foundation.outbox_messages m WHERE m.id = ANY (%L::bigint[])'
                                             ' AND NOT EXISTS (SELECT FROM unnest(m.targets) t (target)'
                                             ' LEFT JOIN foundation.relay_cursors c ON c.target = t.target'
                                             ' WHERE t.target <> %L AND (c.target IS NULL'
                                             ' OR NOT (pg_visible_in_snapshot(m.xid, c.done)'
                                             ' OR coalesce(pg_visible_in_snapshot(m.xid, c.upto) AND m.id <= c.upto_id, false))))',
                                             (SELECT array_agg(i) FROM generate_series(1, 1000) i), '$L15'))
              FROM (SELECT coalesce((SELECT done FROM foundation.relay_cursors WHERE target = '$L15'), '1:1:') AS done) d"
declare -A RATE15 INB15 PLAN15 STATS15 RCPU15
RATES15=()
for round in 1 2 3; do
	STATS15[$round]=$(msql "$P15" -c "SELECT 'relpages ' || relpages || ', reltuples ' || reltuples FROM pg_class WHERE oid = 'foundation.outbox_messages'::regclass")
	declare -A ib0=() im0=()
	rc0=$(cpu_ticks "$RELAY15")
	for m in "${MEMBERS[@]}"; do
		[[ $m == "$P15" ]] && continue
		IFS='|' read -r a b < <(msql "$m" -c "$INBOX15_SQL")
		ib0[$m]=$a
		im0[$m]=$b
	done
	out=$(msql "$P15" -c "SELECT extract(epoch FROM clock_timestamp())" \
		-c "SELECT count(foundation.broadcast('data', jsonb_build_object('seq', i))) FROM generate_series(1, $RELAY_MESSAGES) i" \
		-c "SELECT extract(epoch FROM clock_timestamp())" \
		-c "$PLAN15_SQL" \
		-c "SELECT member, waiting, drained_at FROM public.bench_wait_outbox($RELAY_TIMEOUT)") ||
		die "benchmark 15b round $round: the broadcast failed or $P15's outbox did not empty within $RELAY_TIMEOUT s; see the members' server logs under $WORK"
	rc1=$(cpu_ticks "$RELAY15")
	RCPU15[$round]=$(awk -v t="$((rc1 - rc0))" -v hz="$CLK_TCK15" 'BEGIN { printf "%.2f", t / hz }')
	vacuum_outbox15
	t_start=$(echo "$out" | sed -n 1p)
	cnt=$(echo "$out" | sed -n 2p)
	t_commit=$(echo "$out" | sed -n 3p)
	PLAN15[$round]=$(echo "$out" | sed -n 4p)
	[[ $cnt == "$RELAY_MESSAGES" ]] || die "the broadcasting statement returned $cnt, not $RELAY_MESSAGES"
	stmt_ms=$(awk -v a="$t_start" -v b="$t_commit" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
	line="round $round: the statement took $stmt_ms ms;"
	slowest=0
	while IFS='|' read -r mb waiting drained; do
		s=$(awk -v a="$t_commit" -v b="$drained" 'BEGIN { printf "%.3f", b - a }')
		awk -v a="$s" -v b="$slowest" 'BEGIN { exit !(a > b) }' && slowest=$s
		rate=$(awk -v n="$RELAY_MESSAGES" -v s="$s" 'BEGIN { printf "%.0f", n / s }')
		[[ $waiting == "$RELAY_MESSAGES" ]] ||
			echo "WARNING: round $round: $waiting rows for $mb in $P15's outbox after the commit, expected $RELAY_MESSAGES" >&2
		# On the receiver: the rows of this round (ids above those before),
		# and when its first and last relay_deliver transactions started.
		IFS='|' read -r got first last < <(msql "$mb" -c "SELECT count(*),
		        round(((extract(epoch FROM min(received_at)) - $t_commit) * 1000)::numeric),
		        round(((extract(epoch FROM max(received_at)) - $t_commit) * 1000)::numeric)
		   FROM foundation.relay_inbox WHERE origin = '$P15' AND id > ${im0[$mb]}")
		total=$(msql "$mb" -c "SELECT count(*) FROM foundation.relay_inbox WHERE origin = '$P15'")
		grew=$((total - ${ib0[$mb]}))
		INB15[$round$mb]=$grew
		if [[ $grew != "$RELAY_MESSAGES" || $got != "$RELAY_MESSAGES" ]]; then
			echo "WARNING: round $round: $mb's foundation.relay_inbox grew by $grew rows from $P15 ($got above the previous max id), expected $RELAY_MESSAGES" >&2
		fi
		line="$line $mb had all $s s after the commit ($rate msg/s; relay_inbox +$grew; its first batch started $first ms, its last $last ms after the commit);"
	done < <(echo "$out" | sed -n '5,$p')
	RATE15[$round]=$(awk -v n="$RELAY_MESSAGES" -v s="$slowest" 'BEGIN { printf "%.0f", n / s }')
	RATES15+=("${RATE15[$round]}")
	echo "$line both $slowest s: ${RATE15[$round]} msg/s per member"
	echo "    relay process on CPU ${RCPU15[$round]} s, its memory (Pss) now $(relay_pss15) kB (before the rounds: $RELAY_PSS15 kB); outbox before the round (pg_class): ${STATS15[$round]};"
	echo "    plans of the relay's batch statements for $L15 after the commit: SELECT: ${PLAN15[$round]}"
done
B15=$(printf '%s\n' "${RATES15[@]}" | sort -g | tail -n1)
MED15=$(printf '%s\n' "${RATES15[@]}" | stats | awk '{ printf "%.0f", $3 }')
echo "best: $B15 messages per second to each of the two other members ($((2 * B15)) relayed rows per second), median $MED15 (no baseline)"

# 15c. Latency, commit to listener (bench/relay_latency.c): local_broadcast
# on bench_m1 to a listener on bench_m1, and broadcast on bench_m1 to
# listeners on bench_m1 and bench_m2, samples alternating.
echo "-- 15c. latency from the publishing statement's return (commit done) until the listener has the message (bench/relay_latency.c, $RELAY_SAMPLES samples of each kind)"
"$WORK/build/relay_latency" --publisher "$(m_conninfo "$P15")" --here "$(m_conninfo "$P15")" \
	--remote "$(m_conninfo "$L15")" --samples "$RELAY_SAMPLES" --warmup 10 \
	>"$WORK/c15_latency.txt" || die "relay_latency failed"
declare -A LAT15
while read -r tag kind rest; do
	[[ $tag == RESULT ]] && LAT15[$kind]=$rest
done <"$WORK/c15_latency.txt"
for kind in local_here bc_here bc_remote bc_outbox; do
	[[ -n ${LAT15[$kind]:-} ]] || die "relay_latency printed no result for $kind"
done
declare -A LAT15_LABEL=(
	[local_here]="local_broadcast, listener on $P15"
	[bc_here]="broadcast, listener on $P15"
	[bc_remote]="broadcast, listener on $L15"
	[bc_outbox]="broadcast, outbox empty (diag.)"
)
LAT15_KINDS=(local_here bc_here bc_remote bc_outbox)
printf '%-34s %4s %9s %9s %9s %9s %9s %9s %9s %9s\n' "ms" n "cmt p50" "cmt p95" "cmt p99" "cmt max" \
	"send p50" "send p99" "stmt p50" "stmt p99"
for kind in "${LAT15_KINDS[@]}"; do
	# shellcheck disable=SC2086
	printf '%-34s %4s %9s %9s %9s %9s %9s %9s %9s %9s\n' "${LAT15_LABEL[$kind]}" ${LAT15[$kind]}
done
echo "(cmt: from when the publisher's autocommit statement returned, the commit done; send: from just before it was sent;"
echo " stmt: the statement itself; outbox empty: until $P15's outbox was seen empty, polled every 1 ms: both other members had it)"
read -r _ L15L_P50 _ _ _ L15L_S50 _ _ _ <<<"${LAT15[local_here]}"
read -r _ L15R_P50 _ _ _ L15R_S50 _ _ _ <<<"${LAT15[bc_remote]}"
R15C=$(calc "$L15R_P50 / $L15L_P50")
R15CS=$(calc "$L15R_S50 / $L15L_S50")
# The ratio from the send is the one reported (as benchmark 6's): from the
# commit, the local figure is only the listener's read, the notification
# having arrived before the statement returned, and the ratio of such a
# denominator swings from run to run.
echo "ratio of medians, broadcast to $L15 / local_broadcast to $P15: from the send $R15CS (reported), from the commit $R15C (no goal)"


# ---------------------------------------------------------------------------
# summary rows and markdown details
# ---------------------------------------------------------------------------
ROW13=("13. failover (median / p95)" "$F13_MED / $F13_P95 ms" "lease $LEASE_MS ms" "$R13" "<= $G13 ms" "$MET13")
M14=yes
ge 3 "$R14" || M14=NO
ROW14=("14. whereis vs local lookup" "${BLAT14[whereis]} ms" "${BLAT14[lookup]} ms" "$R14" "<= 3" "$M14")
ROW15A=("15a. cross-node broadcast tps" "${BEST15[bc1]} tps" "${BEST15[local1]} tps" "$R15A" "n/a" "-")
ROW15B=("15b. relay, msgs/s per member" "$B15 msg/s" "-" "-" "n/a" "-")
ROW15C=("15c. cross-node latency (p50)" "$L15R_S50 ms" "$L15L_S50 ms" "$R15CS" "n/a" "-")
ROWS+=(ROW13 ROW14 ROW15A ROW15B ROW15C)
NOTES+=("13: median and p95 of $F13_N failovers, ms from pg_ctl stop -m immediate until another live member reported the pid; ratio: median / lease_duration (renewal every $RENEW_MS ms); goal: both <= lease + 1 s")
NOTES+=("14: ms per call on a member (1000 / tps, pgbench -c 1, best of 2 runs each): whereis of a cluster singleton / lookup_singleton of a local one")
NOTES+=("15a: on $P15, broadcast (to 3 members) / local_broadcast tps, pgbench -c 1, best of 2 runs each (-c 4: $R15A4)")
NOTES+=("15b: $RELAY_MESSAGES messages broadcast in one statement on $P15 / s from its commit until its outbox was empty (both others had them), best of 3 (median $MED15)")
NOTES+=("15c: p50 ms from sending the publishing statement to the listener: broadcast to $L15 / local_broadcast to $P15, $RELAY_SAMPLES samples each;")
NOTES+=("     from the statement's return (commit done): $L15R_P50 / $L15L_P50 ms = $R15C (a listener on the publisher's server has it by then)")
{
	echo "13. failover of cluster singleton bench_cs: members ${MEMBERS[*]} (foundation.lease_duration = $LEASE_MS ms,"
	echo "   foundation.lease_renew_interval = $RENEW_MS ms), control database bench_a. $F13_N times: \`pg_ctl stop -m immediate\` of the member"
	echo "   running it (at a random point of its renewal interval), ms from the stop until the control row showed another live member"
	echo "   with a pid (polled every 50 ms); the stopped member restarted and rejoined before the next round. Each: $(printf '%s / ' "${F13_ROUNDS[@]}" | sed 's| / $||') ms."
	echo
	echo "   | ms from the stop | n | mean | median | p95 | min | max |"
	echo "   |---|---|---|---|---|---|---|"
	echo "   | until another live member reported its pid | $F13_N | $F13_MEAN | $F13_MED | $F13_P95 | $F13_MIN | $F13_MAX |"
	echo "   | until the row was reassigned (diagnostic) | $F13_N | | $F13MV_MED | $F13MV_P95 | $F13MV_MIN | $F13MV_MAX |"
	echo
	echo "   The stopped member's lease had $F13L_MIN to $F13L_MAX ms left at the stop (median $F13L_MED). Median / lease_duration: $R13."
	echo "14. on $W_NODE (not running bench_cs), pgbench -M prepared -c 1 -T $DURATION, 2 rounds of each in turn (after a 2 s warm-up of each):"
	echo
	echo "   | statement | tps, each round | best tps | ms per call (best) |"
	echo "   |---|---|---|---|"
	for s in "${SIDES14[@]}"; do
		case $s in
			remote) d=" (diagnostic: not in the local registry, so it asks the control database)" ;;
			select1) d=" (diagnostic: the client's round trip)" ;;
			*) d="" ;;
		esac
		echo "   | \`${S14_SQL[$s]}\`$d | $(echo "${TPS14[$s]}" | sed 's/ / \/ /g') | ${BEST14[$s]} | ${BLAT14[$s]} |"
	done
	echo
	echo "   Diagnostic (bench/connect3.c, $C14_N samples): a new connection to the control database as fdn_member, whereis's query, close:"
	echo "   mean $C14_MEAN ms, median $C14_MED ms, p95 $C14_P95 ms (whereis / that mean: $R14C). Ratio whereis / local lookup_singleton (ms per call): $R14."
	echo "15. broadcast across nodes, publisher $P15 (every member with foundation.node_conninfo = its socket as postgres; relay_backlog before: $BACKLOG15_START)."
	echo "   a) pgbench -n -M prepared -T $DURATION on $P15, no listener, 2 rounds of local_broadcast then broadcast, each followed by a wait until $P15's outbox was empty (and VACUUM foundation.outbox_messages, foundation.relay_cursors):"
	echo
	echo "   | clients | local_broadcast tps, each round | broadcast tps, each round | best local | best broadcast | broadcast / local |"
	echo "   |---|---|---|---|---|---|"
	echo "   | 1 | $(echo "${TPS15[local1]}" | sed 's/ / \/ /g') | $(echo "${TPS15[bc1]}" | sed 's/ / \/ /g') | ${BEST15[local1]} | ${BEST15[bc1]} | $R15A |"
	echo "   | 4 | $(echo "${TPS15[local4]}" | sed 's/ / \/ /g') | $(echo "${TPS15[bc4]}" | sed 's/ / \/ /g') | ${BEST15[local4]} | ${BEST15[bc4]} | $R15A4 |"
	for c in "${CLIENTS15[@]:2}"; do
		echo "   | $c | $(echo "${TPS15[local$c]}" | sed 's/ / \/ /g') | $(echo "${TPS15[bc$c]}" | sed 's/ / \/ /g') | ${BEST15[local$c]} | ${BEST15[bc$c]} | ${R15X[$c]} |"
	done
	echo
	echo "   Each run (CPU per message, from /proc, utime + stime of live and exited processes: $P15 = its postmaster and all its processes but the relay"
	echo "   (pgbench's backends, background processes); relay = $P15's foundation:relay; receivers = the other two members' postmasters and all their processes"
	echo "   (the relay's connections); machine = all CPUs busy during the pgbench run; left = rows not yet relayed when pgbench stopped,"
	echo "   drained = s until the outbox was empty; relay calls to $L15 (distinct received_at in its relay_inbox) and messages per call):"
	echo
	echo "   | clients | round | statement | tps | messages | left | drained, s | $P15 µs/msg | relay µs/msg | receivers µs/msg | machine busy % | relay calls | msgs/call |"
	echo "   |---|---|---|---|---|---|---|---|---|---|---|---|---|"
	for r in "${RUNS15[@]}"; do
		echo "   | ${r//|/ | } |"
	done
	echo
	echo "   Diagnostic, rolled back (\`BEGIN; SELECT ...; ROLLBACK;\`, -c 1, one run each): local_broadcast ${RB15[local_rb]} tps, broadcast ${RB15[bc_rb]} tps:"
	echo "   writing the outbox rows costs $RB15_D µs per transaction; committed, broadcast costs $C15_D µs more than local_broadcast (best runs, -c 1)."
	echo "   b) $RELAY_MESSAGES messages in one statement (\`SELECT count(foundation.broadcast('data', jsonb_build_object('seq', i))) FROM generate_series(1, $RELAY_MESSAGES) i\`),"
	echo "   time from its commit until $P15's outbox was empty (polled every 50 ms): $(printf '%s / ' "${RATES15[@]}" | sed 's| / $||') msg/s per member; best $B15 ($((2 * B15)) relayed rows/s), median $MED15."
	for round in 1 2 3; do
		echo "   Round $round: ${RATE15[$round]} msg/s per member; the relay process on CPU ${RCPU15[$round]} s; outbox before (pg_class) ${STATS15[$round]};"
		echo "   plans of the relay's batch statements for $L15 just after the commit: SELECT: ${PLAN15[$round]}."
	done
	echo "   relay_inbox on the receivers grew by: $(for k in $(printf '%s\n' "${!INB15[@]}" | sort); do printf 'round %s %s +%s; ' "${k:0:1}" "${k:1}" "${INB15[$k]}"; done | sed 's/; $//')."
	echo "   c) latency, ms, bench/relay_latency.c ($RELAY_SAMPLES samples of each kind, alternating, each broadcast sample followed by a wait until $P15's outbox was empty;"
	echo "   cmt: from when the publisher's autocommit statement returned; send: from just before sending it; stmt: the statement):"
	echo
	echo "   | | n | cmt p50 | cmt p95 | cmt p99 | cmt max | send p50 | send p99 | stmt p50 | stmt p99 |"
	echo "   |---|---|---|---|---|---|---|---|---|---|"
	for kind in "${LAT15_KINDS[@]}"; do
		# shellcheck disable=SC2086
		printf '   | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LAT15_LABEL[$kind]}" ${LAT15[$kind]}
	done
	echo
	echo "   Ratio of medians broadcast to $L15 / local_broadcast to $P15: from the send $R15CS (the summary's), from the commit $R15C."
} >"$MD_DIR/50_cluster.md"
