# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/40_coordination.sh -- benchmarks 10-12; sourced by bench/run (see there
# and docs/benchmarks.md), which has set up the instance and the helpers.

# ---------------------------------------------------------------------------
# coordination: agents, handler, tables
# ---------------------------------------------------------------------------
echo
echo "== coordination: setup for benchmarks 10-12 == ($(date -u +%T) UTC)"
# Benchmark 9 turns the monitor's checks on: keep them out of these
# measurements too.
monitor_checks_off

# psql_ms: the SQL on stdin in one psql session with \timing on.  Prints the
# session's output, with result lines longer than 1000 characters left out
# (the 7 MB auction results) and each "Time: X ms" line of psql (from
# sending the statement until its whole result was received, before
# printing) as "TIME X".  times_of FILE: those times, one a line;
# rows_of FILE: the rest.
psql_ms() {
	{ printf '%s\n' '\timing on'; cat; } | sql | awk 'length($0) <= 1000' |
		sed 's/^Time: \([0-9.]*\) ms.*$/TIME \1/'
}
times_of() { sed -n 's/^TIME //p' "$1"; }
rows_of() { grep -v '^TIME ' "$1" || true; }
median_of() { stats | awk '{ print $3 }'; }

sql -f "$BENCH_SQL/coordination.sql" >/dev/null

# NBIDS agents ag1..agNBIDS and one more, 'silent', that is invited to the
# auctions of benchmarks 10 and 12 and never bids (so that the supervisor
# does not close them early: it closes an auction as soon as every invited
# agent has bid).
psql_ms >"$WORK/c_register.txt" <<EOF
SELECT count(*) FROM (
  SELECT foundation.register_agent('ag' || i, jsonb_build_object('handler', 'public.h(text,text,jsonb)',
                                   'capabilities', '["auction_bidding"]'::jsonb))
    FROM generate_series(1, $NBIDS) i) s;
SELECT foundation.register_agent('silent', '{"handler": "public.h(text,text,jsonb)", "capabilities": ["auction_bidding"]}');
EOF
T_REG=$(times_of "$WORK/c_register.txt" | awk 'NR == 1')
n=$(sql -c "SELECT count(*) FROM foundation.agents")
[[ $n == $((NBIDS + 1)) ]] || die "$n agents registered, expected $((NBIDS + 1))"
echo "registered $NBIDS agents ag1..ag$NBIDS in one statement ($T_REG ms) and 'silent' (invited, never bids); handler public.h(text,text,jsonb) (LANGUAGE sql)"

# ---------------------------------------------------------------------------
# 10. closing a sealed-bid auction of NBIDS bids vs ORDER BY bid DESC LIMIT 2
# ---------------------------------------------------------------------------
echo
echo "== 10. close_auction of an auction with $NBIDS submitted bids vs SELECT agent, bid FROM foundation.bids ... ORDER BY bid DESC LIMIT 2 == ($(date -u +%T) UTC)"
psql_ms >"$WORK/c10_open.txt" <<EOF
SELECT foundation.open_auction('{}', ARRAY(SELECT 'ag' || i FROM generate_series(1, $NBIDS) i) || 'silent'::text, '1 day');
EOF
ID10=$(rows_of "$WORK/c10_open.txt")
T_OPEN=$(times_of "$WORK/c10_open.txt")
[[ $ID10 =~ ^[0-9]+$ ]] || die "open_auction returned no id: $ID10"
echo "open_auction with $((NBIDS + 1)) agents, deadline 1 day: auction $ID10 ($T_OPEN ms)"
psql_ms >"$WORK/c10_submit.txt" <<EOF
SELECT setseed(0.5);
SELECT count(*) FROM (
  SELECT foundation.submit_bid($ID10, 'ag' || i, random() * 1000)
    FROM generate_series(1, $NBIDS) i) s;
EOF
T_SUBMIT=$(times_of "$WORK/c10_submit.txt" | tail -n1)
IFS='|' read -r n st < <(sql -c "SELECT (SELECT count(bid) FROM foundation.bids WHERE auction_id = $ID10), status
                                   FROM foundation.auctions WHERE auction_id = $ID10")
[[ $n == "$NBIDS" && $st == open ]] || die "after submitting: $n bids, auction $st (expected $NBIDS bids, open)"
PER_BID=$(calc3 "$T_SUBMIT / $NBIDS")
echo "submit_bid x $NBIDS in one statement (superuser): $T_SUBMIT ms, $PER_BID ms per bid; the auction is still open"

# The query close_auction runs to rank the bids (in foundation's C code),
# with the auction id as a literal.
BIDQ10="SELECT agent, bid, priority FROM foundation.bids WHERE auction_id = $ID10 AND bid IS NOT NULL ORDER BY bid DESC, priority DESC LIMIT 2"
# plan_summary: EXPLAIN output on stdin -> the plan nodes on one line,
# without costs, estimated rows of the scan of bids in brackets.
plan_summary() {
	sed -E -e 's/^ *(->  )?//' \
		-e '/ on bids /s/  \(cost=[^ ]* rows=([0-9]+) [^)]*\)/ [estimated \1 rows]/' \
		-e 's/  \(cost=[^)]*\)//' | paste -sd'|' - | sed 's/|/; /g'
}
PLAN10_BEFORE=$(sql -c "EXPLAIN $BIDQ10" | plan_summary)
sql -c "ANALYZE foundation.bids" >/dev/null
PLAN10_AFTER=$(sql -c "EXPLAIN $BIDQ10" | plan_summary)
echo "plan of close_auction's bid query before ANALYZE foundation.bids: $PLAN10_BEFORE"
echo "after ANALYZE foundation.bids (measured below):                 $PLAN10_AFTER"

BASE10_SQL="SELECT agent, bid FROM foundation.bids WHERE auction_id = $ID10 AND bid IS NOT NULL ORDER BY bid DESC LIMIT 2;"
CLOSE10_SQL="SELECT foundation.close_auction($ID10);"
# A guard: a close that does not finish in BENCH_CLOSE_TIMEOUT stops the run.
GUARD10="SET statement_timeout = '${CLOSE_TIMEOUT}s';"
{ echo "$BASE10_SQL"; for _ in $(seq 1 "$SAMPLES10"); do echo "$BASE10_SQL"; done; } |
	psql_ms >"$WORK/c10_base1.txt"
{ echo "$GUARD10"; for _ in $(seq 1 "$CLOSE_ROLLBACKS"); do echo "BEGIN;"; echo "$CLOSE10_SQL"; echo "ROLLBACK;"; done; } |
	psql_ms >"$WORK/c10_rolled.txt" || die "close_auction (rolled back) failed or took longer than ${CLOSE_TIMEOUT} s"
st=$(sql -c "SELECT status FROM foundation.auctions WHERE auction_id = $ID10")
[[ $st == open ]] || die "auction $ID10 is $st after the rolled-back closes (the supervisor closed it?)"
{ echo "$GUARD10"; echo "$CLOSE10_SQL"; } | psql_ms >"$WORK/c10_close.txt" ||
	die "close_auction failed or took longer than ${CLOSE_TIMEOUT} s"
{ for _ in $(seq 1 "$SAMPLES10"); do echo "$BASE10_SQL"; done; } | psql_ms >"$WORK/c10_base2.txt"
# the first baseline statement was a warm-up; SET, BEGIN and ROLLBACK have
# times too
{ times_of "$WORK/c10_base1.txt" | tail -n +2; times_of "$WORK/c10_base2.txt"; } >"$WORK/c10_base.txt"
times_of "$WORK/c10_rolled.txt" | tail -n +2 | awk 'NR % 3 == 2' >"$WORK/c10_rb.txt"
C10=$(times_of "$WORK/c10_close.txt" | tail -n1)
read -r B10_N _ B10_MED _ B10_MIN B10_MAX < <(stats <"$WORK/c10_base.txt")
read -r RB10_N _ RB10_MED _ RB10_MIN RB10_MAX < <(stats <"$WORK/c10_rb.txt")
TOP2=$(rows_of "$WORK/c10_base1.txt" | awk 'NR <= 2' | paste -sd' ' -)
IFS='|' read -r ok10 nb10 nobid10 winner10 pay10 rbytes10 rstored10 < <(sql -c "
  SELECT a.status = 'closed' AND a.result->>'winner' = t.agent AND (a.result->>'payment')::float8 = s.bid,
         jsonb_array_length(a.result->'top_bids'),
         (SELECT count(*) FROM foundation.auction_bids($ID10) WHERE error = 'no bid'),
         a.result->>'winner', a.result->>'payment', octet_length(a.result::text), pg_column_size(a.result)
    FROM foundation.auctions a,
         (SELECT agent FROM foundation.bids WHERE auction_id = $ID10 AND bid IS NOT NULL ORDER BY bid DESC LIMIT 1) t,
         (SELECT bid FROM foundation.bids WHERE auction_id = $ID10 AND bid IS NOT NULL ORDER BY bid DESC OFFSET 1 LIMIT 1) s
   WHERE a.auction_id = $ID10")
[[ $ok10 == t ]] || echo "WARNING: the result of auction $ID10 does not name the highest bidder and the second bid as payment: winner $winner10, payment $pay10; top two bids: $TOP2" >&2
IFS='|' read -r mbytes10 mstored10 < <(sql -c "
  SELECT bytes, pg_column_size(message) FROM foundation.messages
   WHERE message->>'type' = 'auction_closed' AND (message->>'auction_id')::bigint = $ID10 ORDER BY id DESC LIMIT 1") ||
	true   # no row: the result was small enough to be sent without a reference
echo "result: winner $winner10 pays $pay10 (second price; the baseline's top two: $TOP2); $nb10 entries in \"top_bids\"; auction_bids lists $nobid10 \"no bid\""
if [[ -n ${mbytes10:-} ]]; then
	echo "result text $rbytes10 bytes, stored in foundation.auctions as $rstored10 bytes; broadcast by reference: foundation.messages row of $mbytes10 bytes ($mstored10 stored)"
else
	echo "result text $rbytes10 bytes, stored in foundation.auctions as $rstored10 bytes; broadcast in the notification itself"
fi

# Where the time goes: parts of the close done by SQL on the same data.
D10_SQL=(
	"$BIDQ10;"
	"SELECT count(*) FROM foundation.auction_bids($ID10);"
	"SELECT foundation.auction_result($ID10);"
	"SELECT foundation.close_auction($ID10);"
)
D10_LABEL=(
	"close_auction's ranking query (top two), sent"
	"count(*) over auction_bids(id): every bid, read"
	"auction_result(id): the stored result, sent"
	"close_auction(id) again (closed: stored result)"
)
declare -a D10_MED
for i in "${!D10_SQL[@]}"; do
	{ for _ in $(seq 1 "$DIAG10"); do echo "${D10_SQL[$i]}"; done; } | psql_ms >"$WORK/c10_d$i.txt"
	D10_MED[i]=$(times_of "$WORK/c10_d$i.txt" | median_of)
done
printf '%-52s %6s %11s %11s %11s\n' "ms" n median min max
printf '%-52s %6s %11s %11s %11s\n' "baseline: ORDER BY bid DESC LIMIT 2" "$B10_N" "$B10_MED" "$B10_MIN" "$B10_MAX"
printf '%-52s %6s %11s %11s %11s\n' "close_auction in a transaction rolled back" "$RB10_N" "$RB10_MED" "$RB10_MIN" "$RB10_MAX"
printf '%-52s %6s %11s\n' "close_auction, autocommit (the close)" 1 "$C10"
echo "diagnostics, median of $DIAG10 each:"
for i in "${!D10_SQL[@]}"; do
	printf '  %-50s %11s ms\n' "${D10_LABEL[$i]}" "${D10_MED[$i]}"
done
R10=$(calc "$C10 / $B10_MED")
ge 2 "$C10 / $B10_MED" && M10=yes || M10=NO
echo "ratio close_auction / baseline median: $R10 (goal <= 2: $M10)"

# ---------------------------------------------------------------------------
# 11. run_auction with 100 agents vs calling their handlers directly
# ---------------------------------------------------------------------------
echo
echo "== 11. run_auction with 100 agents (SQL handlers) vs the 100 handler calls (pgbench -M prepared -c 1 -t $((CALLS11 / 2)), 2 interleaved rounds per side) == ($(date -u +%T) UTC)"
NAMES11=$(sql -c "SELECT string_agg(quote_literal('ag' || i), ', ' ORDER BY i) FROM generate_series(1, 100) i")
for s in direct loop subxact floor plain; do
	render "auction_$s.sql" "$WORK/c11_$s.sql" "NAMES=$NAMES11"
done
render auction_run.sql "$WORK/c11_auction.sql" "NAMES=$NAMES11"
# The plain-SQL version runs first, in its own statement: the check below
# must see what it stored.
[[ $(sql -c "SELECT public.bench_auction_sql(ARRAY[$NAMES11], true)") == t ]] ||
	die "public.bench_auction_sql failed"
IFS='|' read -r a11 b11 c11 d11 e11 < <(sql -c "
  SELECT (SELECT count(public.h(n, 'bid_for_resources', '{}')) FROM unnest(ARRAY[$NAMES11]) n),
         public.bench_handler_calls(ARRAY[$NAMES11], false), public.bench_handler_calls(ARRAY[$NAMES11], true),
         (SELECT result->>'winner' = (SELECT r->>'winner' FROM foundation.run_auction('{}', ARRAY[$NAMES11]) r)
                 AND (SELECT count(*) FROM public.bench_auction_bids b WHERE b.auction_id = a.auction_id) = 100
            FROM public.bench_auctions a ORDER BY auction_id DESC LIMIT 1),
         (SELECT r->>'winner' IS NOT NULL AND jsonb_array_length(r->'bids') = 100
                 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(r->'bids') e WHERE e->>'error' IS NOT NULL)
            FROM foundation.run_auction('{}', ARRAY[$NAMES11]) r)")
[[ $a11 == 100 && $b11 == 100 && $c11 == 100 && $d11 == t && $e11 == t ]] ||
	die "the handler calls, run_auction or its plain-SQL version did not give 100 answers and the same winner ($a11, $b11, $c11, $d11, $e11)"
SIDES11=(direct loop subxact floor plain auction)
declare -A L11_LABEL=(
	[direct]="direct: count(public.h(...)) over unnest"
	[loop]="plpgsql loop, one call each"
	[subxact]="plpgsql loop, each call in a subtransaction"
	[floor]="plain SQL floor: subxacts, 101 rows stored"
	[plain]="plain SQL run_auction (+ result, notify)"
	[auction]="foundation.run_auction"
)
for s in "${SIDES11[@]}"; do
	pgbench_tps "$WORK/c11_$s.sql" -c 1 -t 10 >/dev/null   # warm-up
	: >"$WORK/c11_lat_$s.txt"
done
for round in 1 2; do
	for s in "${SIDES11[@]}"; do
		rm -f "$WORK/out/c11_$s".*
		(cd "$WORK/out" && pgbench_tps "$WORK/c11_$s.sql" -c 1 -t $((CALLS11 / 2)) -l --log-prefix="c11_$s" >/dev/null)
		# 3rd field: latency in microseconds.  A line without a positive
		# latency there is kept aside and reported, not counted.
		cat "$WORK/out/c11_$s".* | awk -v bad="$WORK/c11_bad_$s.txt" '
			$3 ~ /^[0-9]+$/ && $3 > 0 { printf "%.3f\n", $3 / 1000; next }
			{ print >>bad }' >>"$WORK/c11_lat_$s.txt"
	done
done
for s in "${SIDES11[@]}"; do
	[[ ! -s $WORK/c11_bad_$s.txt ]] ||
		echo "WARNING: $(wc -l <"$WORK/c11_bad_$s.txt") pgbench log line(s) of $s without a positive latency left out, e.g.: $(head -c 200 "$WORK/c11_bad_$s.txt" | head -n1)" >&2
done
declare -A L11
printf '%-46s %6s %9s %9s %9s %9s %9s\n' "ms per call (100 agents)" n mean median p95 min max
for s in "${SIDES11[@]}"; do
	L11[$s]=$(stats <"$WORK/c11_lat_$s.txt")
	# shellcheck disable=SC2086
	printf '%-46s %6s %9s %9s %9s %9s %9s\n' "${L11_LABEL[$s]}" ${L11[$s]}
done
read -r _ _ D11_MED _ _ _ <<<"${L11[direct]}"
read -r _ _ A11_MED _ _ _ <<<"${L11[auction]}"
read -r _ _ LP11_MED _ _ _ <<<"${L11[loop]}"
read -r _ _ SX11_MED _ _ _ <<<"${L11[subxact]}"
read -r _ _ FL11_MED _ _ _ <<<"${L11[floor]}"
read -r _ _ PL11_MED _ _ _ <<<"${L11[plain]}"
R11=$(calc "$A11_MED / $D11_MED")
RF11=$(calc "$FL11_MED / $D11_MED")
RAF11=$(calc "$A11_MED / $FL11_MED")
RAP11=$(calc "$A11_MED / $PL11_MED")
SXPC11=$(awk -v a="$SX11_MED" -v b="$LP11_MED" 'BEGIN { printf "%.1f", (a - b) * 10 }')
A11PC=$(awk -v a="$A11_MED" 'BEGIN { printf "%.1f", a * 10 }')
ge 1.5 "$A11_MED / $D11_MED" && M11=yes || M11=NO
echo "a subtransaction per call adds $SXPC11 us per call (loop medians); run_auction takes $A11PC us per agent (median / 100)"
echo "plain SQL floor / direct (medians): $RF11; run_auction / plain SQL floor: $RAF11; run_auction / plain SQL run_auction: $RAP11"
echo "ratio run_auction / direct (medians): $R11 (goal <= 1.5: $M11)"

# ---------------------------------------------------------------------------
# 12. submit_bid throughput, 16 clients, vs a plain upsert
# ---------------------------------------------------------------------------
echo
echo "== 12. submit_bid throughput (pgbench -M prepared -c $BID_CLIENTS -j 2 -T $DURATION, $BID_ROUNDS rounds) vs INSERT ... ON CONFLICT DO UPDATE == ($(date -u +%T) UTC)"
AID12=$(sql -c "SELECT foundation.open_auction('{}', ARRAY(SELECT 'ag' || i FROM generate_series(1, $BID_CLIENTS) i) || 'silent'::text, '1 day')")
[[ $AID12 =~ ^[0-9]+$ ]] || die "open_auction for benchmark 12 returned no id"
echo "auction $AID12: agents ag1..ag$BID_CLIENTS and silent, deadline 1 day; client k (pgbench :client_id k - 1) bids for ag<k>"
render submit_bid.sql "$WORK/c12_facade.sql"
render bid_raw.sql "$WORK/c12_raw.sql"
render bid_lock.sql "$WORK/c12_lock.sql"
# The supervisor's check for auctions that every invited agent has bid in
# (its query in foundation's C code; it runs it after new bids, at most
# every 100 ms): its estimated cost, and whether it would be JIT-compiled.
SUPQ12="SELECT auction_id FROM foundation.auctions a WHERE status = 'open' AND (deadline <= clock_timestamp() OR NOT EXISTS (SELECT FROM foundation.bids b WHERE b.auction_id = a.auction_id AND b.bid IS NULL))"
sup_query_plan() {
	local plan cost jit
	plan=$(sql -c "EXPLAIN $SUPQ12")
	cost=$(echo "$plan" | sed -n '1s/.*cost=[0-9.]*\.\.\([0-9.]*\) .*/\1/p')
	jit=no
	echo "$plan" | grep -q '^JIT:' && jit=yes
	echo "estimated cost $cost, JIT-compiled with this session's settings: $jit (the supervisor runs with jit = off)"
}
JIT12_COST=$(sql -c "SHOW jit_above_cost")
SUPQ12_BEFORE=$(sup_query_plan)
echo "the supervisor's completion check (jit_above_cost $JIT12_COST): before the runs $SUPQ12_BEFORE"
SIDES12=(raw lock facade)
declare -A L12_LABEL=(
	[raw]="raw    (INSERT ... ON CONFLICT DO UPDATE)"
	[lock]="raw + a shared advisory lock (diag.)"
	[facade]="facade (foundation.submit_bid)"
)
SUP_PID=$(sql -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'foundation supervisor'")
[[ $SUP_PID =~ ^[0-9]+$ ]] || die "no foundation supervisor in pg_stat_activity"
sup_ns() { awk '{ print $1 }' "/proc/$SUP_PID/schedstat" 2>/dev/null || echo ""; }
PGB12=(-c "$BID_CLIENTS" -j 2 -D "aid=$AID12")
for s in "${SIDES12[@]}"; do
	pgbench_tps "$WORK/c12_$s.sql" "${PGB12[@]}" -T 2 >/dev/null   # warm-up
done
declare -A TPS12 SUP12
for round in $(seq 1 "$BID_ROUNDS"); do
	for s in "${SIDES12[@]}"; do
		n0=$(sup_ns)
		t=$(pgbench_tps "$WORK/c12_$s.sql" "${PGB12[@]}" -T "$DURATION")
		n1=$(sup_ns)
		if [[ -n $n0 && -n $n1 ]]; then
			sup=$(awk -v a="$n0" -v b="$n1" 'BEGIN { printf "%.0f", (b - a) / 1e6 }')
		else
			sup=n/a
		fi
		TPS12[$s]="${TPS12[$s]:-}${TPS12[$s]:+ }$t"
		SUP12[$s]="${SUP12[$s]:-}${SUP12[$s]:+ / }$sup"
		printf 'round %d %s: %s tps (supervisor on CPU: %s ms)\n' "$round" "${L12_LABEL[$s]}" "$t" "$sup"
	done
done
declare -A BEST12
for s in "${SIDES12[@]}"; do
	BEST12[$s]=$(echo "${TPS12[$s]}" | tr ' ' '\n' | sort -g | tail -n1)
done
IFS='|' read -r st12 nf12 nr12 < <(sql -c "SELECT status, (SELECT count(bid) FROM foundation.bids WHERE auction_id = $AID12),
                                              (SELECT count(*) FROM public.bench_bids) FROM foundation.auctions WHERE auction_id = $AID12")
echo "after the runs: auction $AID12 $st12, $nf12 rows in foundation.bids for it, $nr12 rows in bench_bids"
SUPQ12_AFTER=$(sup_query_plan)
echo "the supervisor's completion check after the runs: $SUPQ12_AFTER"
[[ $st12 == open && $nf12 == "$BID_CLIENTS" ]] ||
	echo "WARNING: expected the auction open with $BID_CLIENTS bids" >&2
R12=$(calc "${BEST12[facade]} / ${BEST12[raw]}")
R12L=$(calc "${BEST12[lock]} / ${BEST12[raw]}")
ge "${BEST12[facade]} / ${BEST12[raw]}" 0.7 && M12=yes || M12=NO
echo "best: submit_bid ${BEST12[facade]} tps, raw ${BEST12[raw]} tps, raw + shared advisory lock ${BEST12[lock]} tps ($R12L of raw)"
echo "ratio submit_bid/raw = $R12 (goal >= 0.7: $M12)"


# ---------------------------------------------------------------------------
# summary rows and markdown details
# ---------------------------------------------------------------------------
ROW10=("10. close $NBIDS-bid auction" "$C10 ms" "$B10_MED ms" "$R10" "<= 2" "$M10")
ROW11=("11. run_auction, 100 agents" "$A11_MED ms" "$D11_MED ms" "$R11" "<= 1.5" "$M11")
ROW12=("12. submit_bid, $BID_CLIENTS clients" "${BEST12[facade]} tps" "${BEST12[raw]} tps" "$R12" ">= 0.7" "$M12")
ROWS+=(ROW10 ROW11 ROW12)
NOTES+=("10: close_auction (one, autocommit) / median of $B10_N runs of SELECT ... ORDER BY bid DESC LIMIT 2 over the same bids, psql \\timing")
NOTES+=("11: run_auction / direct handler calls, medians of $CALLS11 calls each; 12: submit_bid/upsert tps, best of $BID_ROUNDS runs each")
{
	echo "10. close_auction of auction $ID10: $NBIDS bids submitted of $((NBIDS + 1)) agents invited (setup: registering $NBIDS agents $T_REG ms;"
	echo "   open_auction $T_OPEN ms; submit_bid x $NBIDS in one statement $T_SUBMIT ms, $PER_BID ms per bid). Plan of the close's bid query"
	echo "   before ANALYZE foundation.bids: $PLAN10_BEFORE."
	echo "   After ANALYZE (measured): $PLAN10_AFTER."
	echo
	printf '%s\n' "   | ms (psql \\timing) | n | median | min | max |"
	echo "   |---|---|---|---|---|"
	echo "   | baseline: \`SELECT agent, bid FROM foundation.bids WHERE auction_id = $ID10 ORDER BY bid DESC LIMIT 2\` | $B10_N | $B10_MED | $B10_MIN | $B10_MAX |"
	echo "   | \`close_auction\` in a transaction rolled back | $RB10_N | $RB10_MED | $RB10_MIN | $RB10_MAX |"
	echo "   | \`close_auction\`, autocommit (the close) | 1 | $C10 | | |"
	for i in "${!D10_SQL[@]}"; do
		echo "   | diagnostic: ${D10_LABEL[$i]} | $DIAG10 | ${D10_MED[$i]} | | |"
	done
	echo
	echo "   Result: winner $winner10 pays $pay10; $nb10 entries in \"bids\" ($nobid10 \"no bid\"); $rbytes10 bytes of text, stored as $rstored10 bytes;"
	if [[ -n ${mbytes10:-} ]]; then
		echo "   broadcast by reference (foundation.messages: $mbytes10 bytes, $mstored10 stored). Ratio close / baseline median: $R10."
	else
		echo "   broadcast in the notification itself. Ratio close / baseline median: $R10."
	fi
	echo "11. run_auction with 100 agents, ms per call (pgbench -M prepared -c 1, $CALLS11 calls per side in 2 interleaved rounds):"
	echo
	echo "   | | n | mean | median | p95 | min | max |"
	echo "   |---|---|---|---|---|---|---|"
	for s in "${SIDES11[@]}"; do
		# shellcheck disable=SC2086
		printf '   | %s | %s | %s | %s | %s | %s | %s |\n' "${L11_LABEL[$s]}" ${L11[$s]}
	done
	echo
	echo "   A subtransaction per call adds $SXPC11 us per call; run_auction takes $A11PC us per agent. Ratio run_auction / direct (medians): $R11."
	echo "   Plain SQL floor / direct: $RF11; run_auction / plain SQL floor: $RAF11; run_auction / plain SQL run_auction: $RAP11."
	echo "12. submit_bid throughput (pgbench -M prepared -c $BID_CLIENTS -j 2 -T $DURATION, $BID_ROUNDS rounds of raw, raw + shared advisory lock, submit_bid):"
	echo
	echo "   | | tps, each round | best | supervisor on CPU, ms per run |"
	echo "   |---|---|---|---|"
	for s in "${SIDES12[@]}"; do
		echo "   | ${L12_LABEL[$s]} | $(echo "${TPS12[$s]}" | sed 's/ / \/ /g') | ${BEST12[$s]} | ${SUP12[$s]} |"
	done
	echo
	echo "   Ratio submit_bid / raw (best): $R12; raw + shared advisory lock / raw: $R12L. Afterwards auction $AID12 was $st12 with $nf12 bids."
	echo "   The supervisor's completion check (jit_above_cost $JIT12_COST): before the runs $SUPQ12_BEFORE; after them $SUPQ12_AFTER."
} >"$MD_DIR/40_coordination.md"
