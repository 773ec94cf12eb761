# shellcheck shell=bash disable=SC2034,SC2154
# bench/groups/60_instructions.sh -- benchmark 16: instructions per call of
# the hot paths next to their raw baselines, counted by valgrind's callgrind;
# sourced by bench/run (see there and docs/benchmarks.md).
#
# tps depends on what else the machine does; the number of instructions a
# call executes does not.  One single-user backend (postgres --single) runs
# under callgrind: it loads foundation as a server does
# (shared_preload_libraries) but starts no background worker, so nothing
# else (supervisor, monitor, other sessions) is counted.  It runs the same
# statements as the throughput benchmarks (bench/sql/pgbench/), prepared as
# pgbench -M prepared prepares them, one transaction each: N calls of the
# raw side, N of foundation's, then 2N of each.  `SELECT pg_sleep(0)` between
# the segments makes callgrind dump its counters (--dump-before=pg_sleep),
# so each segment has its own total; (total of 2N - total of N) / N is the
# cost of one call, without the segment's fixed cost.  The whole run is
# repeated (BENCH_CG_RUNS, 2) in a fresh database to show the figures hold.

CG_RUNS=${BENCH_CG_RUNS:-2}
# the pairs: label, raw template, foundation template, tps goal of the
# throughput benchmark it mirrors (foundation tps / raw tps >= goal)
CG_PAIRS=(
	"broadcast / pg_notify|notify_raw.sql|broadcast.sql|0.9|4"
	"lookup_singleton / raw SELECT|lookup_raw.sql|lookup_singleton.sql|1.0|1"
	"submit_bid / upsert|bid_raw.sql|submit_bid.sql|0.7|12"
	"route_message / broadcast|broadcast.sql|route_message.sql|0.9|5"
	"check_lease / SELECT 1|where_select1.sql|check_lease.sql|0.9|-"
	"durable broadcast / INSERT + pg_notify|durable_raw.sql|durable_broadcast.sql|0.9|5b"
	"outbox write (direct_broadcast to a member) / local_broadcast|cross_local.sql|direct_member.sql|0.5|15a"
)

echo
echo "== 16. instructions per call (valgrind --tool=callgrind, one single-user backend; $CG_CALLS and $((2 * CG_CALLS)) calls per side; $CG_RUNS runs) == ($(date -u +%T) UTC)"

# cg_statement TEMPLATE: the statement of a pgbench template on one line,
# prepared as pgbench -M prepared does: its variables as parameters ($1 the
# auction, $2 the agent's number), \set lines and comments left out.
# shellcheck disable=SC2016  # $1 and $2 in sed: the statement's parameters
cg_statement() {
	render "$1" "$WORK/cg_stmt.sql"
	grep -v -e '^--' -e '^\\' "$WORK/cg_stmt.sql" | tr '\n' ' ' |
		sed -e 's/:aid\b/$1/g' -e 's/:ag\b/$2/g' -e 's/; *$//'
}
# cg_execute TEMPLATE NAME: how to call it (auction 1, agent ag1)
cg_execute() {
	if grep -q ':aid' "$BENCH_SQL/pgbench/$1"; then echo "EXECUTE $2(1, 1);"; else echo "EXECUTE $2;"; fi
}

# The input of one run; SEGMENTS lists what each dump after the setup holds.
CG_INPUT=$WORK/cg_input.sql
SEGMENTS=()
{
	cat "$BENCH_SQL/instructions.sql"
	echo
	for i in "${!CG_PAIRS[@]}"; do
		IFS='|' read -r _ raw fdn _ _ <<<"${CG_PAIRS[$i]}"
		printf 'PREPARE r%d AS %s;\n\n' "$i" "$(cg_statement "$raw")"
		printf 'PREPARE f%d AS %s;\n\n' "$i" "$(cg_statement "$fdn")"
	done
	# warm-up: caches, the plans of the prepared statements
	for i in "${!CG_PAIRS[@]}"; do
		IFS='|' read -r _ raw fdn _ _ <<<"${CG_PAIRS[$i]}"
		for _ in $(seq 1 20); do
			printf '%s\n\n%s\n\n' "$(cg_execute "$raw" "r$i")" "$(cg_execute "$fdn" "f$i")"
		done
	done
	printf 'SELECT pg_sleep(0);\n\n'
	for i in "${!CG_PAIRS[@]}"; do
		IFS='|' read -r _ raw fdn _ _ <<<"${CG_PAIRS[$i]}"
		for n in "$CG_CALLS" $((2 * CG_CALLS)); do
			for side in r f; do
				if [[ $side == r ]]; then t=$raw; else t=$fdn; fi
				e=$(cg_execute "$t" "$side$i")
				for ((k = 0; k < n; k++)); do printf '%s\n\n' "$e"; done
				printf 'SELECT pg_sleep(0);\n\n'
			done
		done
	done
} >"$CG_INPUT"
for i in "${!CG_PAIRS[@]}"; do
	for n in 1 2; do SEGMENTS+=("$i r $n" "$i f $n"); done
done

# cg_run K: one run in a fresh database, as the server's OS user; writes
# the total instructions of each segment after the setup, one a line, to
# $WORK/cg_totals.K.
cg_run() {
	local dir=$WORK/callgrind$1 files pid
	new_instance "$dir" "$PORT" "foundation.health_check_interval = 0"
	install_lock
	reinstall_build
	check_installed "the single-user backend"
	# shellcheck disable=SC2016  # $0 and $1 are bash -c's
	as_test_user "$dir" bash -c 'exec valgrind --tool=callgrind --dump-before=pg_sleep \
		--callgrind-out-file="$1/cg.out.%p" --log-file="$1/valgrind.log" \
		postgres --single -j -D "$1/data" -c shared_preload_libraries=foundation postgres \
		<"$0" >"$1/backend.log" 2>&1' "$CG_INPUT" "$dir" &
	pid=$!
	# The library is loaded once the setup is done (the first dump): from
	# then on another checkout may install its own.
	while kill -0 "$pid" 2>/dev/null && ! compgen -G "$dir/cg.out.*.1" >/dev/null; do sleep 0.2; done
	install_unlock
	wait "$pid" ||
		{ tail -n 20 "$dir/backend.log" >&2; die "the single-user backend under callgrind failed (run $1)"; }
	if grep -q 'ERROR:' "$dir/backend.log"; then
		grep -m 5 -A 2 'ERROR:' "$dir/backend.log" >&2
		die "a statement failed in the single-user backend (run $1; $dir/backend.log)"
	fi
	grep -q 'bench_auction = "1"' "$dir/backend.log" ||
		die "the auction of benchmark 16 is not auction 1 (run $1)"
	# dumps .1 (setup and warm-up), .2 ... (the segments); the file without
	# a number holds what came after the last dump (the shutdown)
	files=$(ls "$dir"/cg.out.*.* | awk -F. '{ print $NF, $0 }' | sort -n | awk '$1 > 1 { print $2 }')
	[[ $(echo "$files" | wc -l) == "${#SEGMENTS[@]}" ]] ||
		die "callgrind wrote $(echo "$files" | wc -l) segment dumps, expected ${#SEGMENTS[@]} (run $1)"
	for f in $files; do sed -n 's/^totals: \([0-9]*\).*/\1/p' "$f"; done >"$WORK/cg_totals.$1"
	# what the backend spent printing result rows to its standard output
	# (DestDebug: debugStartup, debugtup), for the diagnostic below
	for f in $files; do
		callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
			awk '/:(debugStartup|debugtup|debugShutdown) \[/ { gsub(",", "", $1); s += $1 } END { print s + 0 }'
	done >"$WORK/cg_print.$1"
}

declare -A CG_PER CG_RATIO CG_PRINT CG_NP CG_NP_RATIO
for run in $(seq 1 "$CG_RUNS"); do
	cg_run "$run"
	mapfile -t totals <"$WORK/cg_totals.$run"
	mapfile -t prints <"$WORK/cg_print.$run"
	declare -A tot=() prt=()
	for s in "${!SEGMENTS[@]}"; do
		tot[${SEGMENTS[$s]}]=${totals[$s]}
		prt[${SEGMENTS[$s]}]=${prints[$s]}
	done
	for i in "${!CG_PAIRS[@]}"; do
		for side in r f; do
			CG_PER[$run $i $side]=$(awk -v a="${tot[$i $side 1]}" -v b="${tot[$i $side 2]}" -v n="$CG_CALLS" \
				'BEGIN { printf "%.0f", (b - a) / n }')
			CG_PRINT[$run $i $side]=$(awk -v a="${prt[$i $side 1]}" -v b="${prt[$i $side 2]}" -v n="$CG_CALLS" \
				'BEGIN { printf "%.0f", (b - a) / n }')
		done
		CG_RATIO[$run $i]=$(calc3 "${CG_PER[$run $i f]} / ${CG_PER[$run $i r]}")
		for side in r f; do
			per=${CG_PER[$run $i $side]}
			prt1=${CG_PRINT[$run $i $side]}
			CG_NP[$run $i $side]=$((per - prt1))
		done
		CG_NP_RATIO[$run $i]=$(calc3 "${CG_NP[$run $i f]} / ${CG_NP[$run $i r]}")
	done
	unset tot prt
done

printf '%-32s %4s %14s %14s %8s %8s\n' "instructions per call" run raw foundation ratio goal
for i in "${!CG_PAIRS[@]}"; do
	IFS='|' read -r label _ _ tgoal _ <<<"${CG_PAIRS[$i]}"
	for run in $(seq 1 "$CG_RUNS"); do
		printf '%-32s %4s %14s %14s %8s %8s\n' "$label" "$run" "${CG_PER[$run $i r]}" "${CG_PER[$run $i f]}" \
			"${CG_RATIO[$run $i]}" "<= $(calc "1 / $tgoal")"
	done
done
echo "(goal: the throughput benchmark's tps goal turned into cost per call, 1 / goal; a single-user backend, so no other"
echo " session, no worker to wake at commit: the instructions of the call itself, its transaction and its commit)"

# Diagnostic: a single-user backend prints every result row to its standard
# output (a server sends it to its client instead, for much less); a pair
# whose sides return different rows (submit_bid's one row against the
# upsert's none) counts that printing on one side only.
echo
echo "diagnostic: per call without the single-user backend's printing of result rows (debugStartup, debugtup)"
printf '%-32s %4s %14s %14s %8s\n' "instructions per call" run "raw (printing)" "fdn (printing)" ratio
for i in "${!CG_PAIRS[@]}"; do
	IFS='|' read -r label _ _ _ _ <<<"${CG_PAIRS[$i]}"
	for run in $(seq 1 "$CG_RUNS"); do
		printf '%-32s %4s %14s %14s %8s\n' "$label" "$run" \
			"${CG_NP[$run $i r]} (${CG_PRINT[$run $i r]})" \
			"${CG_NP[$run $i f]} (${CG_PRINT[$run $i f]})" "${CG_NP_RATIO[$run $i]}"
	done
done

# ---------------------------------------------------------------------------
# summary rows and markdown details
# ---------------------------------------------------------------------------
for i in "${!CG_PAIRS[@]}"; do
	IFS='|' read -r label _ _ tgoal tnum <<<"${CG_PAIRS[$i]}"
	ratios=$(for run in $(seq 1 "$CG_RUNS"); do printf '%s / ' "${CG_RATIO[$run $i]}"; done | sed 's| / $||')
	goal=$(calc "1 / $tgoal")
	met=yes
	for run in $(seq 1 "$CG_RUNS"); do
		ge "$goal" "${CG_RATIO[$run $i]}" || met=NO
	done
	declare -g -a "ROW16_$i"
	declare -n row16="ROW16_$i"
	# shellcheck disable=SC2034  # read through ROWS
	row16=("16. instr. $label" "${CG_PER[1 $i f]}" "${CG_PER[1 $i r]}" "$ratios" "<= $goal" "$met")
	unset -n row16
	ROWS+=("ROW16_$i")
done
NOTES+=("16: instructions per call (callgrind, single-user backend, ($CG_CALLS x 2 - $CG_CALLS calls) / $CG_CALLS), foundation / raw; run 1 shown, ratio of each of $CG_RUNS runs")
{
	echo "16. instructions per call, valgrind --tool=callgrind, one single-user backend (foundation preloaded, no background worker),"
	echo "   the statements of the throughput benchmarks prepared, one transaction each; per call = (total of $((2 * CG_CALLS)) calls - total of $CG_CALLS) / $CG_CALLS:"
	echo
	echo "   | pair | run | raw | foundation | foundation / raw | goal (1 / tps goal) |"
	echo "   |---|---|---|---|---|---|"
	for i in "${!CG_PAIRS[@]}"; do
		IFS='|' read -r label _ _ tgoal tnum <<<"${CG_PAIRS[$i]}"
		for run in $(seq 1 "$CG_RUNS"); do
			echo "   | $label$([[ $tnum != - ]] && echo " (benchmark $tnum's statements)") | $run | ${CG_PER[$run $i r]} | ${CG_PER[$run $i f]} | ${CG_RATIO[$run $i]} | <= $(calc "1 / $tgoal") |"
		done
	done
	echo
	echo "   Diagnostic, without the single-user backend's printing of result rows to its standard output (in parentheses):"
	echo
	echo "   | pair | run | raw | foundation | foundation / raw |"
	echo "   |---|---|---|---|---|"
	for i in "${!CG_PAIRS[@]}"; do
		IFS='|' read -r label _ _ _ _ <<<"${CG_PAIRS[$i]}"
		for run in $(seq 1 "$CG_RUNS"); do
			echo "   | $label | $run | ${CG_NP[$run $i r]} (${CG_PRINT[$run $i r]}) | ${CG_NP[$run $i f]} (${CG_PRINT[$run $i f]}) | ${CG_NP_RATIO[$run $i]} |"
		done
	done
	echo
} >"$MD_DIR/60_instructions.md"
