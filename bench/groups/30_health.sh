# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/30_health.sh -- benchmarks 8-9; sourced by bench/run (see there
# and docs/benchmarks.md), which has set up the instance and the helpers.

# ---------------------------------------------------------------------------
# three nodes: this instance (bench_a) and two more (bench_b, bench_c)
# ---------------------------------------------------------------------------
echo
echo "== three nodes for benchmarks 8 and 9 == ($(date -u +%T) UTC)"
CONN_A="host=$SOCK port=$PORT dbname=postgres user=postgres"
CONN_B="host=$WORK/bench_b/sock port=$PORT_B dbname=postgres user=postgres"
CONN_C="host=$WORK/bench_c/sock port=$PORT_C dbname=postgres user=postgres"

sql -v b="$CONN_B" -v c="$CONN_C" -f "$BENCH_SQL/health.sql" >/dev/null
wait_setting foundation.expected_nodes 3 || die "foundation.expected_nodes did not become 3 after the reload"
v=$(sql -c "SHOW foundation.health_check_interval")
[[ $v == 0 ]] || die "foundation.health_check_interval is $v on the main instance, not 0"
HH_BEFORE=$(sql -c "SELECT count(*) FROM foundation.health_history")
[[ $HH_BEFORE == 0 ]] || echo "WARNING: foundation.health_history has $HH_BEFORE row(s) before benchmark 9 (the monitor should not have run)" >&2
CHK=$(sql -c "SELECT r->>'overall_status', r->'cluster'->>'healthy_nodes', r->'cluster'->>'expected_nodes',
                     r->'infrastructure'->>'pubsub_status',
                     (SELECT string_agg(n->>'node' || ' ' || (n->>'status'), ', ') FROM jsonb_array_elements(r->'cluster'->'node_health') n)
                FROM foundation.cluster_health() r")
IFS='|' read -r c_over c_healthy c_expected c_pubsub c_nodes <<<"$CHK"
[[ $c_healthy == 3 && $c_expected == 3 && $c_pubsub == ok ]] ||
	die "a health check over the three nodes did not find them healthy and the pub/sub probe ok: $CHK"
echo "nodes: bench_a (this instance, $SOCK), bench_b ($WORK/bench_b/sock), bench_c ($WORK/bench_c/sock);"
echo "foundation.expected_nodes = 3, foundation.health_check_interval = 0 on all three"
echo "a first check: overall $c_over, nodes: $c_nodes, pub/sub probe $c_pubsub"

# ---------------------------------------------------------------------------
# 8. one health check over three nodes vs connecting to them
# ---------------------------------------------------------------------------
echo
echo "== 8. one health check over three nodes (SELECT foundation.cluster_health(), not stored) vs libpq connections to the three in parallel + SELECT 1 (bench/connect3.c) == ($(date -u +%T) UTC)"
# One autocommit statement per sample, in one psql session
# (bench/sql/health_check.sql: the time as the server measures it).
health_script() {   # health_script COUNT > file
	local line j
	line=$(grep -v '^--' "$BENCH_SQL/health_check.sql" | tr '\n' ' ' | sed 's/  */ /g')
	for ((j = 0; j < $1; j++)); do printf '%s\n' "$line"; done
}
health_script 5 >"$WORK/health_warmup.sql"
sql -f "$WORK/health_warmup.sql" >/dev/null   # warm-up (5 checks, not measured)
: >"$WORK/h8_conn.txt"
: >"$WORK/h8_health.txt"
H8_ROUND1=$(((HEALTH_SAMPLES + 1) / 2))
H8_ROUND2=$((HEALTH_SAMPLES - H8_ROUND1))
for k in "$H8_ROUND1" "$H8_ROUND2"; do
	[[ $k -gt 0 ]] || continue
	"$WORK/build/connect3" --samples "$k" --warmup 5 "$CONN_A" "$CONN_B" "$CONN_C" \
		>>"$WORK/h8_conn.txt" || die "connect3 failed"
	health_script "$k" >"$WORK/health_$k.sql"
	sql -f "$WORK/health_$k.sql" >>"$WORK/h8_health.txt"
done
bad=$(awk -F'|' '$5 != 3' "$WORK/h8_health.txt" | wc -l)
[[ $bad == 0 ]] || die "$bad of the measured checks did not find three healthy nodes"
read -r HC_N HC_MEAN HC_MED HC_P95 HC_MIN HC_MAX < <(stats <"$WORK/h8_conn.txt")
read -r HS_N HS_MEAN HS_MED HS_P95 HS_MIN HS_MAX < <(cut -d'|' -f2 "$WORK/h8_health.txt" | stats)
read -r HD_N HD_MEAN HD_MED HD_P95 HD_MIN HD_MAX < <(cut -d'|' -f1 "$WORK/h8_health.txt" | stats)
read -r _ _ HL_MED HL_P95 _ _ < <(cut -d'|' -f3 "$WORK/h8_health.txt" | stats)
read -r _ _ HP_MED HP_P95 _ _ < <(cut -d'|' -f4 "$WORK/h8_health.txt" | awk '{ printf "%.3f\n", $1 / 1000 }' | stats)
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "ms" n mean median p95 min max
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "connect3: 3 connections + SELECT 1, parallel" "$HC_N" "$HC_MEAN" "$HC_MED" "$HC_P95" "$HC_MIN" "$HC_MAX"
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "cluster_health(), statement (server)" "$HS_N" "$HS_MEAN" "$HS_MED" "$HS_P95" "$HS_MIN" "$HS_MAX"
printf '%-44s %6s %9s %9s %9s %9s %9s\n' "cluster_health(), check_duration_ms" "$HD_N" "$HD_MEAN" "$HD_MED" "$HD_P95" "$HD_MIN" "$HD_MAX"
echo "inside the check: pub/sub probe (NOTIFY to its own LISTEN) median $HL_MED ms, p95 $HL_P95 ms;"
echo "  slower node_metrics() round trip of the two remote nodes (ping_time_us, after connecting) median $HP_MED ms, p95 $HP_P95 ms"
# Diagnostics, not the baseline: the check's two big parts measured the
# same way as the baseline -- the two remote nodes in parallel with the
# query the check sends them, and one connection alone (the pub/sub probe
# opens one to this instance, at the same time as the remote calls).
"$WORK/build/connect3" --samples "$HEALTH_SAMPLES" --warmup 5 \
	--sql "SELECT foundation.node_metrics()::text" "$CONN_B" "$CONN_C" \
	>"$WORK/h8_diag_remote.txt" || die "connect3 (diagnostic, node_metrics) failed"
"$WORK/build/connect3" --samples "$HEALTH_SAMPLES" --warmup 5 "$CONN_A" \
	>"$WORK/h8_diag_one.txt" || die "connect3 (diagnostic, one connection) failed"
read -r _ _ HDR_MED HDR_P95 _ _ < <(stats <"$WORK/h8_diag_remote.txt")
read -r _ _ HDO_MED HDO_P95 _ _ < <(stats <"$WORK/h8_diag_one.txt")
echo "diagnostics (connect3, $HEALTH_SAMPLES samples each): bench_b + bench_c in parallel with SELECT foundation.node_metrics()::text"
echo "  median $HDR_MED ms (p95 $HDR_P95); one connection to bench_a + SELECT 1 median $HDO_MED ms (p95 $HDO_P95); sum of medians $(calc3 "$HDR_MED + $HDO_MED") ms"
R8=$(calc "$HS_MED / $HC_MED")
R8P95=$(calc "$HS_P95 / $HC_P95")
R8CD=$(calc "$HD_MED / $HC_MED")
ge 1.5 "$HS_MED / $HC_MED" && M8=yes || M8=NO
echo "ratio cluster_health/connect3 (medians, statement time): $R8 (goal <= 1.5: $M8); p95 $R8P95; check_duration_ms median / connect3 median: $R8CD"

# ---------------------------------------------------------------------------
# 9. the monitor's CPU use at the default interval
# ---------------------------------------------------------------------------
echo
echo "== 9. health monitor CPU at the default foundation.health_check_interval (three nodes) == ($(date -u +%T) UTC)"
CLK_TCK=$(getconf CLK_TCK)
MON_PID=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation health monitor'")
[[ $MON_PID =~ ^[0-9]+$ ]] || die "no foundation health monitor in pg_stat_activity"
# utime + stime (clock ticks) of a process; with "all", also cutime + cstime
# (its children that exited and were waited for).  Fields counted after the
# ") " that ends the command name: 12 utime, 13 stime, 14 cutime, 15 cstime.
proc_ticks() {
	sed 's/^.*) //' "/proc/$1/stat" |
		awk -v all="${2:-}" '{ print $12 + $13 + (all == "all" ? $14 + $15 : 0) }'
}
proc_ns() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo ""; }  # time on CPU, ns
now_s() { date +%s.%N; }
PM_B=$(head -n1 "$WORK/bench_b/data/postmaster.pid")
PM_C=$(head -n1 "$WORK/bench_c/data/postmaster.pid")
H9_LAST=$(sql -c "SELECT coalesce(max(id), 0) FROM foundation.health_history")
sql -c "ALTER SYSTEM RESET foundation.health_check_interval" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
	v=$(sql -c "SELECT setting FROM pg_settings WHERE name = 'foundation.health_check_interval'")
	[[ $v != 0 ]] && break
	sleep 0.1
done
[[ $v =~ ^[1-9][0-9]*$ ]] || die "foundation.health_check_interval did not go back to its default (it is $v)"
INTERVAL_MS=$v
H9_K=$(awk -v w="$MONITOR_WINDOW" -v i="$INTERVAL_MS" 'BEGIN { k = int(w * 1000 / i + 0.5); print (k < 1 ? 1 : k) }')
echo "ALTER SYSTEM RESET foundation.health_check_interval + reload: interval $((INTERVAL_MS / 1000)) s; monitor pid $MON_PID"
# The monitor checks at once on the reload (its first check was due long
# ago); the window starts when that check is stored and ends when the
# H9_K-th check after it is stored: H9_K whole intervals, H9_K checks.
H9_START_ID=$(sql -c "SELECT public.bench_wait_checks($H9_LAST, 1, 60)")
T0=$(now_s); MT0=$(proc_ticks "$MON_PID"); MN0=$(proc_ns "$MON_PID")
PB0=$(proc_ticks "$PM_B" all); PC0=$(proc_ticks "$PM_C" all)
echo "first check stored (id $H9_START_ID); measuring over the next $H9_K checks (about $((H9_K * INTERVAL_MS / 1000)) s, BENCH_MONITOR_WINDOW = $MONITOR_WINDOW s)"
H9_END_ID=$(sql -c "SELECT public.bench_wait_checks($H9_START_ID, $H9_K, $((MONITOR_WINDOW * 2 + 60)))")
T1=$(now_s); MT1=$(proc_ticks "$MON_PID"); MN1=$(proc_ns "$MON_PID")
PB1=$(proc_ticks "$PM_B" all); PC1=$(proc_ticks "$PM_C" all)
MON_PID2=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation health monitor'")
[[ $MON_PID2 == "$MON_PID" ]] || die "the health monitor restarted during the window (pid $MON_PID, now $MON_PID2)"
IFS='|' read -r H9_N H9_STATUSES H9_CD_MEAN H9_CD_MAX H9_SPAN <<<"$(sql -c "
  SELECT count(*), string_agg(DISTINCT overall_status, ','), round(avg(check_duration_ms)::numeric, 3),
         round(max(check_duration_ms)::numeric, 3),
         round(extract(epoch FROM max(checked_at) - min(checked_at))::numeric, 3)
    FROM foundation.health_history WHERE id > $H9_START_ID AND id <= $H9_END_ID")"
WALL9=$(calc3 "$T1 - $T0")
CPU9=$(calc3 "($MT1 - $MT0) / $CLK_TCK")
FRAC9=$(awk -v c="$CPU9" -v w="$WALL9" 'BEGIN { printf "%.5f", c / w }')
PCT9=$(awk -v c="$CPU9" -v w="$WALL9" 'BEGIN { printf "%.3f", 100 * c / w }')
PER9=$(awk -v c="$CPU9" -v n="$H9_N" 'BEGIN { printf "%.1f", 1000 * c / n }')
if [[ -n $MN0 && -n $MN1 ]]; then
	CPU9NS=$(awk -v a="$MN0" -v b="$MN1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }')
	FRAC9NS=$(awk -v c="$CPU9NS" -v w="$WALL9" 'BEGIN { printf "%.5f", c / w }')
	PCT9NS=$(awk -v c="$CPU9NS" -v w="$WALL9" 'BEGIN { printf "%.3f", 100 * c / w }')
	PER9NS=$(awk -v c="$CPU9NS" -v n="$H9_N" 'BEGIN { printf "%.1f", 1000 * c / n }')
else
	CPU9NS=n/a; FRAC9NS=n/a; PCT9NS=n/a; PER9NS=n/a
fi
NB9=$(awk -v a="$PB0" -v b="$PB1" -v t="$CLK_TCK" -v n="$H9_N" 'BEGIN { printf "%.1f", 1000 * (b - a) / t / n }')
NC9=$(awk -v a="$PC0" -v b="$PC1" -v t="$CLK_TCK" -v n="$H9_N" 'BEGIN { printf "%.1f", 1000 * (b - a) / t / n }')
echo "window: $WALL9 s wall, $H9_N checks stored (first to last $H9_SPAN s apart), status $H9_STATUSES, check_duration_ms mean $H9_CD_MEAN, max $H9_CD_MAX"
echo "monitor process, /proc/<pid>/stat utime+stime: $((MT1 - MT0)) ticks (CLK_TCK $CLK_TCK) = $CPU9 s CPU / $WALL9 s = $FRAC9 of one core ($PCT9 %), $PER9 ms per check"
echo "monitor process, /proc/<pid>/schedstat (ns on CPU): $CPU9NS s CPU / $WALL9 s = $FRAC9NS of one core ($PCT9NS %), $PER9NS ms per check"
echo "other nodes, postmaster + its exited children (the check's backends), per check: bench_b $NB9 ms, bench_c $NC9 ms (ticks: $((PB1 - PB0)), $((PC1 - PC0)))"
[[ $H9_N == "$H9_K" ]] || echo "WARNING: $H9_N checks in the window, expected $H9_K" >&2


# ---------------------------------------------------------------------------
# summary rows and markdown details
# ---------------------------------------------------------------------------
ROW8=("8. health check, 3 nodes (p50)" "$HS_MED ms" "$HC_MED ms" "$R8" "<= 1.5" "$M8")
if [[ $PCT9NS != n/a ]]; then
	ROW9=("9. monitor CPU, 30 s interval" "$PCT9NS % of a core" "-" "-" "-" "-")
	NOTE9="9: monitor time on CPU (schedstat) / wall over $H9_N checks ($WALL9 s); $PER9NS ms CPU per check; utime+stime: $PCT9 %"
else
	ROW9=("9. monitor CPU, 30 s interval" "$PCT9 % of a core" "-" "-" "-" "-")
	NOTE9="9: monitor utime+stime / wall over $H9_N checks ($WALL9 s); $PER9 ms CPU per check"
fi
ROWS+=(ROW8 ROW9)
NOTES+=("8: cluster_health() statement time / connect3 (3 parallel connections + SELECT 1), medians of $HS_N samples each")
NOTES+=("$NOTE9")
{
	echo "8. one health check over three nodes, ms ($HEALTH_SAMPLES samples per side, 2 interleaved rounds; first check of the setup: overall $c_over):"
	echo
	echo "   | | n | mean | median | p95 | min | max |"
	echo "   |---|---|---|---|---|---|---|"
	echo "   | connect3: 3 connections in parallel + SELECT 1 + close | $HC_N | $HC_MEAN | $HC_MED | $HC_P95 | $HC_MIN | $HC_MAX |"
	echo "   | cluster_health(), statement time (server) | $HS_N | $HS_MEAN | $HS_MED | $HS_P95 | $HS_MIN | $HS_MAX |"
	echo "   | cluster_health(), check_duration_ms | $HD_N | $HD_MEAN | $HD_MED | $HD_P95 | $HD_MIN | $HD_MAX |"
	echo
	echo "   Inside the check: pub/sub probe median $HL_MED ms (p95 $HL_P95); slower of the two remote node_metrics() round trips median $HP_MED ms (p95 $HP_P95)."
	echo "   Ratio cluster_health/connect3: median $R8, p95 $R8P95; check_duration_ms median / connect3 median $R8CD."
	echo "   Diagnostics (connect3): bench_b + bench_c in parallel with SELECT foundation.node_metrics()::text median $HDR_MED ms (p95 $HDR_P95);"
	echo "   one connection to bench_a + SELECT 1 median $HDO_MED ms (p95 $HDO_P95)."
	echo "9. monitor CPU at foundation.health_check_interval = $((INTERVAL_MS / 1000)) s: $H9_N checks in $WALL9 s (status $H9_STATUSES,"
	echo "   check_duration_ms mean $H9_CD_MEAN, max $H9_CD_MAX). utime+stime $((MT1 - MT0)) ticks (CLK_TCK $CLK_TCK) = $CPU9 s: $FRAC9 of one core ($PCT9 %), $PER9 ms per check;"
	echo "   schedstat $CPU9NS s: $FRAC9NS of one core ($PCT9NS %), $PER9NS ms per check. Per check, postmaster + exited children of bench_b $NB9 ms, bench_c $NC9 ms."
} >"$MD_DIR/30_health.md"
