# shellcheck shell=bash disable=SC2034  # PAIR_*: read by the groups
# bench/lib/common.sh -- helpers of bench/run and its groups (sourced).
# Instance handling (build, install, initdb, start/stop as the unprivileged
# OS user) is scripts/lib/instance.sh, shared with scripts/dev; this file
# holds what only the benchmarks need: statistics, pgbench, SQL templates
# and the extra instances of the health and cluster groups.

# The 100-byte message of benchmarks 4-6 and of the instruction counts,
# written in jsonb's own output form (keys ordered by length then bytes,
# ": " and ", "), so that the text pg_notify sends is exactly the text
# broadcast sends.
MSG100='{"id": 42, "data": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "type": "event", "source": "bench"}'

# psql on the main instance (PGHOST etc. are exported by bench/run).
sql() { "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

# numbers (one per line) on stdin -> "n mean median p95 min max"
stats() {
	sort -g | awk '
		{ v[NR] = $1; s += $1 }
		END {
			if (NR == 0) { print "0 nan nan nan nan nan"; exit }
			med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			i = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
			printf "%d %.3f %.3f %.3f %.3f %.3f\n", NR, s / NR, med, v[i], v[1], v[NR]
		}'
}
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
calc3() { awk "BEGIN { printf \"%.3f\", $1 }"; }
ge() { awk "BEGIN { exit !($1 >= $2) }"; }

# render TEMPLATE OUT [KEY=VALUE...]: a statement template of
# bench/sql/pgbench/ with its placeholders filled in: @MSG100@ (the 100-byte
# message) and @KEY@ for each KEY=VALUE (the value as it is; it may be a
# megabyte of JSON).
render() {
	local tpl out=$2 kv
	tpl=$(<"$BENCH_SQL/pgbench/$1")
	shift 2
	tpl=${tpl//@MSG100@/"$MSG100"}
	for kv in "$@"; do
		tpl=${tpl//"@${kv%%=*}@"/"${kv#*=}"}
	done
	printf '%s\n' "$tpl" >"$out"
}

# pgbench -f SCRIPT [more args]: prints tps
pgbench_tps() {
	local script=$1 out
	shift
	out=$("$PGBIN/pgbench" -n -M prepared -f "$script" "$@" 2>&1) ||
		{ echo "$out" >&2; die "pgbench failed"; }
	if echo "$out" | grep -Eq 'number of failed transactions: [1-9]'; then
		echo "$out" >&2
		die "pgbench reported failed transactions"
	fi
	echo "$out" >"$WORK/pgbench.out"
	echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' |
		awk '{ printf "%.0f\n", $1 }'
}

# Interleaved rounds of two pgbench scripts, after a 2 s warm-up of each:
# tps_pair ROUNDS SCRIPT_A LABEL_A SCRIPT_B LABEL_B sets PAIR_A and PAIR_B
# (tps per round) and PAIR_A_BEST and PAIR_B_BEST.
tps_pair() {
	local rounds=$1 a=$2 la=$3 b=$4 lb=$5 round t
	pgbench_tps "$a" "${PGB[@]}" -T 2 >/dev/null
	pgbench_tps "$b" "${PGB[@]}" -T 2 >/dev/null
	PAIR_A=()
	PAIR_B=()
	for round in $(seq 1 "$rounds"); do
		t=$(pgbench_tps "$a" "${PGB[@]}" -T "$DURATION")
		PAIR_A+=("$t")
		printf 'round %d %s: %s tps\n' "$round" "$la" "$t"
		t=$(pgbench_tps "$b" "${PGB[@]}" -T "$DURATION")
		PAIR_B+=("$t")
		printf 'round %d %s: %s tps\n' "$round" "$lb" "$t"
	done
	PAIR_A_BEST=$(printf '%s\n' "${PAIR_A[@]}" | sort -g | tail -n1)
	PAIR_B_BEST=$(printf '%s\n' "${PAIR_B[@]}" | sort -g | tail -n1)
}

# check_installed: the server(s) just started loaded what bench/run built
# (other checkouts may run make install at any time; a started postmaster
# keeps the copy it preloaded, so only starts need checking).
check_installed() {
	installed_is "$WORK/build/foundation_bench/foundation_bench.so" ||
		die "foundation_bench.so was replaced while $1 started (concurrent make install?); run again"
	if [[ $BUILD_FOUNDATION -eq 1 ]]; then
		installed_is "$WORK/build/foundation/foundation.so" ||
			die "foundation.so was replaced while $1 started (concurrent make install?); run again"
	fi
}

# new_instance DIR PORT CONF: initdb into DIR/data as the server's OS user
# (trust, superuser postgres), a unix socket in DIR/sock and no TCP, CONF
# (postgresql.conf lines) appended; DIR/server.log is its log.
new_instance() {
	local dir=$1 port=$2 conf=$3
	make_user_dir "$dir" 755
	make_user_dir "$dir/data" 700
	make_user_dir "$dir/sock" 755
	init_cluster "$dir/data" "$dir/initdb.log" --no-sync
	{
		echo
		echo "# bench/run"
		server_conf "$port" "$dir/sock" ""
		echo "$conf"
	} >>"$dir/data/postgresql.conf"
	make_user_file "$dir/server.log"
}

# start_node NAME PORT [EXTRA_CONF]: another private instance in $WORK/NAME
# (see new_instance), with foundation preloaded, its own node name, no
# monitor checks, and no autovacuum, so that its postmaster's only children
# that come and go are the backends the health checks open (benchmark 9
# reads their CPU time); EXTRA_CONF (postgresql.conf lines) is appended
# after these (the cluster members' settings); then CREATE EXTENSION
# foundation, whose node_metrics() the checks call.
start_node() {
	local name=$1 port=$2 extra=${3:-} dir=$WORK/$1
	new_instance "$dir" "$port" "shared_preload_libraries = 'foundation'
foundation.node_name = '$name'
foundation.health_check_interval = 0
autovacuum = off
$extra"
	install_lock
	reinstall_build
	start_server "$dir/data" "$dir/server.log" 60 || die "node $name did not start"
	NODE_DIRS+=("$dir")
	check_installed "node $name"
	install_unlock
	sql -h "$dir/sock" -p "$port" -c "CREATE EXTENSION foundation" >/dev/null
}

# wait_setting NAME VALUE: until new sessions see SHOW NAME = VALUE (after a
# reload), at most 10 s; non-zero if they never did.
wait_setting() {
	local v
	for _ in $(seq 1 100); do
		v=$(sql -c "SHOW $1")
		[[ $v == "$2" ]] && return 0
		sleep 0.1
	done
	return 1
}

# monitor_checks_off: the health monitor's checks off on the main instance
# (benchmark 9 turns them on; every other measurement runs without them).
monitor_checks_off() {
	[[ $(sql -c "SHOW foundation.health_check_interval") != 0 ]] || return 0
	sql -c "ALTER SYSTEM SET foundation.health_check_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
	wait_setting foundation.health_check_interval 0 ||
		die "foundation.health_check_interval did not go back to 0 (it is $(sql -c "SHOW foundation.health_check_interval"))"
	echo "health monitor checks off again (ALTER SYSTEM SET foundation.health_check_interval = 0 + reload)"
}

# reinstall_build: when another checkout has installed its own build since
# ours (which the servers started so far loaded), install ours again before
# a server or backend starts that must load it.  Call it holding the
# install lock (install_lock), which keeps the other checkouts' servers from
# starting meanwhile.
reinstall_build() {
	local d
	for d in foundation_bench foundation; do
		[[ $d == foundation_bench || $BUILD_FOUNDATION -eq 1 ]] || continue
		installed_is "$WORK/build/$d/$d.so" && continue
		log "reinstalling our build of $d (another checkout installed its own)"
		as_self "$WORK/build/$d" make -s install PG_CONFIG="$PG_CONFIG_BIN" >"$WORK/make.log" 2>&1 ||
			{ cat "$WORK/make.log" >&2; die "make install of $d failed"; }
	done
}
