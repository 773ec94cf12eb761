# shellcheck shell=bash
# scripts/lib/instance.sh -- private PostgreSQL 15 instances for foundation.
#
# One library for everything that builds foundation, installs it and runs a
# server of its own: scripts/dev (the developer / CI instance) and bench/run
# (the benchmarks' throwaway instances) both source it.  It covers:
#   - who runs the server: PostgreSQL refuses to run as root, so as root the
#     server, initdb and builds run as an unprivileged OS user (TEST_USER,
#     default `foundation`, created when missing); otherwise as the caller;
#   - build + install of a PGXS tree copied from a source tree;
#   - initdb, start, restart, stop and status of a data directory;
#   - ports and unix socket directories.
#
# The caller sources it after defining log, warn and die (messages and fatal
# errors are the caller's style), and may set before sourcing:
#   PG_MAJOR (15), PGBIN (/usr/lib/postgresql/$PG_MAJOR/bin),
#   PG_CONFIG_BIN ($PGBIN/pg_config), FOUNDATION_TEST_USER (foundation),
#   BUILD_CFLAGS (-Wall -Wextra -Wno-unused-parameter -Werror).
# RUN_DIR, when set, is the test user's HOME if that user has none.
#
# Every function here works the same whether the caller is root or not.

PG_MAJOR=${PG_MAJOR:-15}
PGBIN=${PGBIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG_BIN=${PG_CONFIG_BIN:-$PGBIN/pg_config}
BUILD_CFLAGS=${BUILD_CFLAGS:-"-Wall -Wextra -Wno-unused-parameter -Werror"}
DB_SUPERUSER=${DB_SUPERUSER:-postgres}

# --------------------------------------------------------------------------
# identity: who runs the server and the builds
# --------------------------------------------------------------------------
IS_ROOT=0
[[ $EUID -eq 0 ]] && IS_ROOT=1
if ((IS_ROOT)); then
	TEST_USER=${FOUNDATION_TEST_USER:-foundation}
	[[ $TEST_USER != root ]] || die "FOUNDATION_TEST_USER must not be root (initdb/postgres refuse to run as root)"
else
	TEST_USER=$(id -un)
fi

ensure_test_user() {
	((IS_ROOT)) || return 0
	if ! id -u "$TEST_USER" >/dev/null 2>&1; then
		log "Creating OS user $TEST_USER"
		useradd --create-home --user-group --shell /bin/bash "$TEST_USER"
	fi
}

test_user_home() {
	local h
	h=$(getent passwd "$TEST_USER" | cut -d: -f6)
	if [[ -n $h && -d $h ]]; then echo "$h"; else echo "${RUN_DIR:-/tmp}"; fi
}

# Run a command as the test user, in directory $1, with a clean environment.
# stdin is /dev/null; fds 8 and 9 (locks) are closed so daemons don't
# inherit them.
as_test_user() {
	local dir=$1
	shift
	local envv=(
		PATH="$PGBIN:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
		HOME="$(test_user_home)" USER="$TEST_USER" LOGNAME="$TEST_USER"
		LANG=C.UTF-8
	)
	local v
	for v in CI TERM NO_COLOR $(compgen -e | grep -E '^PG_TEST_' || true); do
		[[ -n ${!v+x} ]] && envv+=("$v=${!v}")
	done
	if ((IS_ROOT)); then
		(cd "$dir" && runuser -u "$TEST_USER" -- env -i "${envv[@]}" "$@") </dev/null 8>&- 9>&-
	else
		(cd "$dir" && env -i "${envv[@]}" "$@") </dev/null 8>&- 9>&-
	fi
}

# Same environment as the test user, but as the invoking user (for make install).
as_self() {
	local dir=$1
	shift
	(cd "$dir" && env PATH="$PGBIN:$PATH" LANG=C.UTF-8 "$@") </dev/null 8>&- 9>&-
}

# Directory created by root (if needed) and owned by the test user.
make_user_dir() {
	local d=$1 mode=$2
	mkdir -p "$d"
	if ((IS_ROOT)); then
		chown "$TEST_USER:" "$d"
	fi
	chmod "$mode" "$d"
}

# A file created (empty, if missing) and owned by the test user.
make_user_file() {
	touch "$1"
	if ((IS_ROOT)); then
		chown "$TEST_USER:" "$1"
	fi
}

# --------------------------------------------------------------------------
# install lock: other checkouts on this machine may `make install` into the
# same PostgreSQL at any time.  When FOUNDATION_INSTALL_LOCK names a file,
# install_lock takes an exclusive flock on it (fd 8) until install_unlock
# (calls nest): hold it from `make install` until every server that must
# load this build has started.
# --------------------------------------------------------------------------
install_lock() {
	[[ -n ${FOUNDATION_INSTALL_LOCK:-} ]] || return 0
	INSTALL_LOCK_DEPTH=$((${INSTALL_LOCK_DEPTH:-0} + 1))
	((INSTALL_LOCK_DEPTH == 1)) || return 0   # already held: nested
	exec 8>"$FOUNDATION_INSTALL_LOCK"
	log "waiting for the install lock $FOUNDATION_INSTALL_LOCK"
	flock 8 || die "could not lock $FOUNDATION_INSTALL_LOCK"
}
# install_unlock [all]: release one level (every level with "all").
install_unlock() {
	[[ -n ${FOUNDATION_INSTALL_LOCK:-} && ${INSTALL_LOCK_DEPTH:-0} -gt 0 ]] || return 0
	INSTALL_LOCK_DEPTH=$((INSTALL_LOCK_DEPTH - 1))
	[[ ${1:-} != all ]] || INSTALL_LOCK_DEPTH=0
	((INSTALL_LOCK_DEPTH == 0)) || return 0
	exec 8>&-
}

# --------------------------------------------------------------------------
# build + install
# --------------------------------------------------------------------------
# sync_sources SRC DEST: copy a source tree without VCS, state and build
# artifacts, owned by the test user (every run is a clean build).
sync_sources() {
	local src=$1 dest=$2
	log "Syncing $src -> $dest"
	mkdir -p "$dest"
	# --delete-excluded also wipes build/test artifacts, so every run is a clean build.
	rsync -a --delete --delete-excluded \
		--exclude=/.git --exclude='/.build*' --exclude='/.pgdata*' --exclude='/.pgrun*' \
		--exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude='*.a' \
		--exclude=results/ --exclude=regression.diffs --exclude=regression.out \
		--exclude=tmp_check/ --exclude=tmp_check_iso/ --exclude=output_iso/ \
		--exclude=/log/ --exclude=log/postmaster.log \
		"$src/" "$dest/"
	if ((IS_ROOT)); then
		chown -R "$TEST_USER:" "$dest"
	fi
}

# build_and_install DIR: make (as the test user, warnings are errors) and
# make install (as the caller, or with sudo) of the PGXS tree in DIR.
build_and_install() {
	local dir=$1
	[[ -f $dir/Makefile ]] || die "no Makefile in $dir"
	local jobs
	jobs=$(nproc 2>/dev/null || echo 2)
	log "Building as $TEST_USER (PG_CFLAGS=$BUILD_CFLAGS)"
	if ! as_test_user "$dir" make -j"$jobs" PG_CONFIG="$PG_CONFIG_BIN" PG_CFLAGS="$BUILD_CFLAGS"; then
		die "BUILD FAILED (see compiler output above)"
	fi
	log "Installing into $("$PG_CONFIG_BIN" --pkglibdir)"
	local pkglibdir
	pkglibdir=$("$PG_CONFIG_BIN" --pkglibdir)
	if ((IS_ROOT)) || [[ -w $pkglibdir ]]; then
		as_self "$dir" make install PG_CONFIG="$PG_CONFIG_BIN" PG_CFLAGS="$BUILD_CFLAGS" \
			|| die "make install failed"
	elif command -v sudo >/dev/null 2>&1; then
		log "(using sudo for make install)"
		(cd "$dir" && sudo env PATH="$PGBIN:$PATH" make install PG_CONFIG="$PG_CONFIG_BIN" PG_CFLAGS="$BUILD_CFLAGS") 8>&- 9>&- \
			|| die "sudo make install failed"
	else
		die "cannot write $pkglibdir and sudo is not available: run as root or make it writable"
	fi
}

# installed_is SOFILE: true when the installed library of the same name is
# that file (nobody installed another build since).
installed_is() {
	cmp -s "$1" "$("$PG_CONFIG_BIN" --pkglibdir)/$(basename "$1")"
}

# --------------------------------------------------------------------------
# ports and sockets
# --------------------------------------------------------------------------
# port_in_use PORT [SOCKDIR]: anything on 127.0.0.1:PORT, or a socket lock
# file of another server for that port in SOCKDIR.
port_in_use() {
	local p=$1 sockdir=${2:-}
	# anything accepting TCP connections on 127.0.0.1:p ?
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null && return 0
	# a leftover socket lock file of another server in our socket dir
	[[ -n $sockdir && -e $sockdir/.s.PGSQL.$p.lock ]] && return 0
	return 1
}

# free_port BASE TRIES [SOCKDIR]: the first port from BASE not in use; empty
# if none of TRIES is free.
free_port() {
	local base=$1 tries=$2 sockdir=${3:-} p
	for ((p = base; p < base + tries; p++)); do
		if ! port_in_use "$p" "$sockdir"; then echo "$p"; return 0; fi
	done
	return 0
}

# socket_path_fits DIR: a unix socket in DIR fits in sun_path (108 bytes
# with the NUL, so at most 107).
socket_path_fits() {
	local probe="$1/.s.PGSQL.65535"
	((${#probe} <= 107))
}

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

# server_conf PORT SOCKDIR LISTEN: the postgresql.conf lines of where an
# instance listens ('' = no TCP).
server_conf() {
	cat <<EOF
listen_addresses = $(sql_quote "$3")
port = $1
unix_socket_directories = $(sql_quote "$2")
EOF
}

# --------------------------------------------------------------------------
# a data directory
# --------------------------------------------------------------------------
# server_running DATA
server_running() {
	[[ -f $1/PG_VERSION ]] || return 1
	as_test_user "$(dirname "$1")" pg_ctl -D "$1" status >/dev/null 2>&1
}

# server_pid DATA: the postmaster's pid (line 1 of postmaster.pid)
server_pid() { head -n1 "$1/postmaster.pid"; }

# init_cluster DATA LOGFILE [INITDB ARGS...]: initdb as the test user with
# trust authentication and the superuser $DB_SUPERUSER; DATA must exist,
# owned by the test user.
init_cluster() {
	local data=$1 logfile=$2
	shift 2
	as_test_user "$(dirname "$data")" initdb -D "$data" -A trust -U "$DB_SUPERUSER" \
		-E UTF8 "$@" >"$logfile" 2>&1 \
		|| { cat "$logfile" >&2; die "initdb of $data failed"; }
}

# pg_ctl_as DATA ARGS...: pg_ctl -D DATA ARGS as the test user.
pg_ctl_as() {
	local data=$1
	shift
	as_test_user "$(dirname "$data")" pg_ctl -D "$data" "$@"
}

# start_server DATA SERVERLOG [TIMEOUT]: start, waiting until it accepts
# connections; non-zero (and the log's tail on stderr) if it did not.
start_server() {
	local data=$1 slog=$2 t=${3:-60}
	[[ -e $slog ]] || make_user_file "$slog"
	pg_ctl_as "$data" -l "$slog" -w -t "$t" start >/dev/null && return 0
	echo "---- last lines of $slog ----" >&2
	tail -n 40 "$slog" >&2 || true
	return 1
}

# restart_server DATA SERVERLOG [TIMEOUT]: fast restart, as start_server.
restart_server() {
	local data=$1 slog=$2 t=${3:-60}
	pg_ctl_as "$data" -l "$slog" -w -t "$t" -m fast restart >/dev/null && return 0
	echo "---- last lines of $slog ----" >&2
	tail -n 40 "$slog" >&2 || true
	return 1
}

# stop_server DATA [MODE] [TIMEOUT]: stop (fast by default); an immediate
# stop if a fast one fails.
stop_server() {
	local data=$1 mode=${2:-fast} t=${3:-30}
	pg_ctl_as "$data" stop -m "$mode" -w -t "$t" >/dev/null 2>&1 && return 0
	[[ $mode == immediate ]] && return 1
	pg_ctl_as "$data" stop -m immediate -w -t "$t" >/dev/null 2>&1
}
