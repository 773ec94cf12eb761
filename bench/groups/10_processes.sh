# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/10_processes.sh -- benchmarks 1-3; sourced by bench/run (see there
# and docs/benchmarks.md), which has set up the instance and the helpers.

sql -f "$BENCH_SQL/processes.sql" >/dev/null   # benchmark 3's polling functions

# ---------------------------------------------------------------------------
# 1. lookup_singleton throughput vs raw registry lookup
# ---------------------------------------------------------------------------
echo
echo "== 1. lookup_singleton throughput (pgbench -M prepared -c $CLIENTS -j $CLIENTS -T $DURATION) == ($(date -u +%T) UTC)"
BENCH_PID=$(sql -c "SELECT foundation.start_singleton('public.idle', '{}', 'bench')")
[[ -n $BENCH_PID ]] || die "start_singleton('bench') returned nothing"
chk=$(sql -c "SELECT foundation.lookup_singleton('bench') = $BENCH_PID
               AND (SELECT pid FROM foundation.registry WHERE name = 'bench') = $BENCH_PID")
[[ $chk == t ]] || die "lookup_singleton('bench') and foundation.registry disagree"
echo "singleton 'bench' runs as pid $BENCH_PID"

render lookup_singleton.sql "$WORK/facade.sql"
render lookup_raw.sql "$WORK/raw.sql"
pgbench_tps "$WORK/raw.sql" "${PGB[@]}" -T 2 >/dev/null      # warm-up
pgbench_tps "$WORK/facade.sql" "${PGB[@]}" -T 2 >/dev/null   # warm-up
RAW_TPS=()
FACADE_TPS=()
for round in $(seq 1 "$ROUNDS"); do
	t=$(pgbench_tps "$WORK/raw.sql" "${PGB[@]}" -T "$DURATION")
	RAW_TPS+=("$t")
	echo "round $round raw    (SELECT pid FROM foundation.registry WHERE name = 'bench'): $t tps"
	t=$(pgbench_tps "$WORK/facade.sql" "${PGB[@]}" -T "$DURATION")
	FACADE_TPS+=("$t")
	echo "round $round facade (SELECT foundation.lookup_singleton('bench')):             $t tps"
done
RAW_BEST=$(printf '%s\n' "${RAW_TPS[@]}" | sort -g | tail -n1)
FACADE_BEST=$(printf '%s\n' "${FACADE_TPS[@]}" | sort -g | tail -n1)
R1=$(calc "$FACADE_BEST / $RAW_BEST")
ge "$FACADE_BEST / $RAW_BEST" 1.0 && M1=yes || M1=NO
echo "best: facade $FACADE_BEST tps, raw $RAW_BEST tps, ratio facade/raw = $R1 (goal >= 1.0: $M1)"
sql -c "SELECT foundation.stop_singleton('bench')" >/dev/null

# ---------------------------------------------------------------------------
# 2. start + stop latency vs a bare dynamic background worker
# ---------------------------------------------------------------------------
echo
echo "== 2. start_singleton + stop_singleton latency (pgbench -M prepared -c 1 -t $((CYCLES / 2)), 2 interleaved rounds per side) == ($(date -u +%T) UTC)"
render bare_cycle.sql "$WORK/bare.sql"
render singleton_cycle.sql "$WORK/cycle.sql"
# CPU of the whole server, in clock ticks: the postmaster, the processes it
# has reaped (the children that came and went, the pgbench backend once it
# ended) and those alive now (the supervisor among them).  On a shared
# machine the CPU a cycle costs is steadier than its latency.
proc_ticks() {   # PID [all]: utime + stime (all: + reaped children's)
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null |
		awk -v all="${2:-}" '{ print $12 + $13 + (all == "all" ? $14 + $15 : 0) }'
}
server_ticks() {
	local pm t c v
	pm=$(head -n1 "$DATA/postmaster.pid")
	t=$(proc_ticks "$pm" all)
	for c in $(cat /proc/"$pm"/task/*/children 2>/dev/null); do
		v=$(proc_ticks "$c") && [[ -n $v ]] && t=$((t + v))
	done
	echo "$t"
}
CLK_TCK2=$(getconf CLK_TCK)
SUP2=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation supervisor' AND datname = current_database()")
declare -A CPU2=([bare]=0 [fdn]=0)
SUPCPU2=0
pgbench_tps "$WORK/bare.sql" -c 1 -t 10 >/dev/null    # warm-up
pgbench_tps "$WORK/cycle.sql" -c 1 -t 10 >/dev/null   # warm-up
: >"$WORK/lat_bare.txt"
: >"$WORK/lat_fdn.txt"
# pgbench -l: one line per transaction, 3rd field = latency in microseconds
for round in 1 2; do
	for side in bare fdn; do
		script=$WORK/bare.sql
		[[ $side == fdn ]] && script=$WORK/cycle.sql
		rm -f "$WORK/out/pgb_$side".*
		c0=$(server_ticks)
		s0=$(proc_ticks "$SUP2")
		(cd "$WORK/out" && pgbench_tps "$script" -c 1 -t $((CYCLES / 2)) -r -l --log-prefix="pgb_$side" >/dev/null)
		sleep 0.3   # the last child and the pgbench backend reaped
		CPU2[$side]=$((CPU2[$side] + $(server_ticks) - c0))
		if [[ $side == fdn ]]; then
			SUPCPU2=$((SUPCPU2 + $(proc_ticks "$SUP2") - s0))
		fi
		cat "$WORK/out/pgb_$side".* | awk '{ printf "%.3f\n", $3 / 1000 }' >>"$WORK/lat_$side.txt"
		if [[ $side == fdn ]]; then
			# pgbench -r: per-statement average latency (ms) of this round
			awk '/SELECT foundation.start_singleton/ { print $1 }' "$WORK/pgbench.out" >>"$WORK/stmt_start.txt"
			awk '/SELECT foundation.stop_singleton/ { print $1 }' "$WORK/pgbench.out" >>"$WORK/stmt_stop.txt"
		fi
	done
done
# Both rounds have the same count, so the mean of their averages is the mean.
S_START=$(awk '{ s += $1 } END { printf "%.3f", s / NR }' "$WORK/stmt_start.txt")
S_STOP=$(awk '{ s += $1 } END { printf "%.3f", s / NR }' "$WORK/stmt_stop.txt")
read -r B_N B_MEAN B_MED B_P95 B_MIN B_MAX < <(stats <"$WORK/lat_bare.txt")
read -r F_N F_MEAN F_MED F_P95 F_MIN F_MAX < <(stats <"$WORK/lat_fdn.txt")
left=$(sql -c "SELECT count(*) FROM foundation.child_specs")
[[ $left == 0 ]] || echo "WARNING: $left child spec(s) left after the start/stop cycles" >&2
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "per cycle (ms)" n mean median p95 min max
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "bare bgworker start+stop" "$B_N" "$B_MEAN" "$B_MED" "$B_P95" "$B_MIN" "$B_MAX"
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "start_singleton + stop_singleton" "$F_N" "$F_MEAN" "$F_MED" "$F_P95" "$F_MIN" "$F_MAX"
R2=$(calc "$F_MEAN / $B_MEAN")
R2MED=$(calc "$F_MED / $B_MED")
ge 1.2 "$F_MEAN / $B_MEAN" && M2=yes || M2=NO
echo "of the foundation cycle: start_singleton $S_START ms, stop_singleton $S_STOP ms on average (pgbench -r)"
echo "ratio foundation/bare: mean $R2, median $R2MED (goal <= 1.2 on the mean: $M2)"
C2B=$(calc3 "${CPU2[bare]} * 1000 / $CLK_TCK2 / $B_N")
C2F=$(calc3 "${CPU2[fdn]} * 1000 / $CLK_TCK2 / $F_N")
C2S=$(calc3 "$SUPCPU2 * 1000 / $CLK_TCK2 / $F_N")
R2CPU=$(calc "${CPU2[fdn]} * $B_N / (${CPU2[bare]} * $F_N)")
echo "CPU per cycle, all server processes (/proc, $CLK_TCK2 ticks/s): bare $C2B ms, foundation $C2F ms (of which the supervisor $C2S ms); ratio $R2CPU"

# ---------------------------------------------------------------------------
# 3. restart latency vs the postmaster's restart of a static worker
# ---------------------------------------------------------------------------
echo
echo "== 3. restart latency (pg_terminate_backend until the new pid is visible) == ($(date -u +%T) UTC)"
R_PID=$(sql -c "SELECT foundation.start_child('{\"id\": \"r\", \"start\": {\"module\": \"public.idle\", \"args\": {}}, \"restart\": \"permanent\", \"max_restarts\": 1000000, \"max_seconds\": 1}')")
sql -c "SELECT foundation.register('r', $R_PID)" >/dev/null
echo "permanent child 'r' runs as pid $R_PID"
sql -c "SELECT round(v::numeric, 3) FROM public.bench_restart_foundation($RESTARTS) v" >"$WORK/restart_fdn.txt"
read -r RF_N RF_MEAN RF_MED RF_P95 RF_MIN RF_MAX < <(stats <"$WORK/restart_fdn.txt")
RF_COUNT=$(sql -c "SELECT restart_count || ' restarts, status ' || status FROM foundation.children WHERE id = 'r'")
echo "foundation child after the samples: $RF_COUNT"
sql -c "SELECT round(v::numeric, 3) FROM public.bench_restart_static($STATIC_RESTARTS) v" >"$WORK/restart_static.txt"
read -r RS_N RS_MEAN RS_MED RS_P95 RS_MIN RS_MAX < <(stats <"$WORK/restart_static.txt")
sql -c "SELECT foundation.unregister('r'), foundation.terminate_child(child_id) FROM foundation.children WHERE id = 'r'" >/dev/null
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "restart (ms)" n mean median p95 min max
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "foundation permanent child" "$RF_N" "$RF_MEAN" "$RF_MED" "$RF_P95" "$RF_MIN" "$RF_MAX"
printf '%-34s %6s %9s %9s %9s %9s %9s\n' "postmaster static worker (1 s)" "$RS_N" "$RS_MEAN" "$RS_MED" "$RS_P95" "$RS_MIN" "$RS_MAX"
R3=$(calc "$RS_MED / $RF_MED")
ge "$RS_MED / $RF_MED" 10 && M3=yes || M3=NO
echo "ratio postmaster/foundation (medians): $R3 (goal >= 10: $M3)"


# ---------------------------------------------------------------------------
# summary rows and markdown details
# ---------------------------------------------------------------------------
ROW1=("1. lookup_singleton throughput" "$FACADE_BEST tps" "$RAW_BEST tps" "$R1" ">= 1.0" "$M1")
ROW2=("2. start+stop latency (mean)" "$F_MEAN ms" "$B_MEAN ms" "$R2" "<= 1.2" "$M2")
ROW3=("3. restart latency (median)" "$RF_MED ms" "$RS_MED ms" "${R3}x" ">= 10x" "$M3")
ROWS+=(ROW1 ROW2 ROW3)
NOTES+=("1: facade/raw tps, best of $ROUNDS runs each; 2: foundation/bare mean per cycle; 3: postmaster/foundation median")
{
	echo "1. lookup_singleton throughput (pgbench -M prepared -c $CLIENTS -j $CLIENTS -T $DURATION, $ROUNDS rounds of raw then facade):"
	echo "   raw $(printf '%s / ' "${RAW_TPS[@]}" | sed 's| / $||') tps, facade $(printf '%s / ' "${FACADE_TPS[@]}" | sed 's| / $||') tps;"
	echo "   best facade $FACADE_BEST tps / best raw $RAW_BEST tps = $R1."
	echo "2. start + stop latency, ms per cycle ($F_N cycles each side, 2 interleaved rounds):"
	echo
	echo "   | | n | mean | median | p95 | min | max |"
	echo "   |---|---|---|---|---|---|---|"
	echo "   | bare bgworker start+stop | $B_N | $B_MEAN | $B_MED | $B_P95 | $B_MIN | $B_MAX |"
	echo "   | start_singleton + stop_singleton | $F_N | $F_MEAN | $F_MED | $F_P95 | $F_MIN | $F_MAX |"
	echo
	echo "   Of the foundation cycle, start_singleton took $S_START ms and stop_singleton $S_STOP ms on average (pgbench -r)."
	echo "   Ratio foundation/bare: mean $R2, median $R2MED."
	echo "   CPU per cycle of all server processes: bare $C2B ms, foundation $C2F ms (the supervisor $C2S ms); ratio $R2CPU."
	echo "3. restart latency, ms from pg_terminate_backend until the new pid is visible:"
	echo
	echo "   | | n | mean | median | p95 | min | max |"
	echo "   |---|---|---|---|---|---|---|"
	echo "   | foundation permanent child | $RF_N | $RF_MEAN | $RF_MED | $RF_P95 | $RF_MIN | $RF_MAX |"
	echo "   | postmaster static worker, bgw_restart_time = 1 | $RS_N | $RS_MEAN | $RS_MED | $RS_P95 | $RS_MIN | $RS_MAX |"
	echo
	echo "   Ratio of medians postmaster/foundation: $R3."
} >"$MD_DIR/10_processes.md"
