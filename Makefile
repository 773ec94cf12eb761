# foundation: PGXS build
MODULE_big = foundation
OBJS = \
	src/core/entry.o \
	src/core/foundation.o \
	src/core/shmem.o \
	src/core/spi_util.o \
	src/core/user_call.o \
	src/core/remote.o \
	src/core/names.o \
	src/core/jsonb_util.o \
	src/core/xact_end.o \
	src/core/bgworker.o \
	src/core/ext_version.o \
	src/core/databases.o \
	src/process/child_main.o \
	src/process/child_fence.o \
	src/process/launch.o \
	src/process/supervisor.o \
	src/process/launcher.o \
	src/process/db_guard.o \
	src/process/child_ops.o \
	src/process/registry.o \
	src/process/singleton_start.o \
	src/process/process_metrics.o \
	src/channels/codec.o \
	src/channels/channel_stats.o \
	src/channels/channels.o \
	src/channels/durable.o \
	src/channels/handlers.o \
	src/channels/channel_metrics.o \
	src/discovery/nodes_config.o \
	src/discovery/nodes.o \
	src/discovery/health.o \
	src/discovery/health_monitor.o \
	src/coordination/agents.o \
	src/coordination/coordination.o \
	src/coordination/orchestration.o \
	src/coordination/async_protocols.o \
	src/coordination/async_auctions.o \
	src/coordination/bid_cache.o \
	src/coordination/async_proposals.o \
	src/cluster/members.o \
	src/cluster/placements.o \
	src/cluster/members_singletons.o \
	src/cluster/peers_cache.o \
	src/cluster/relay.o \
	src/cluster/broadcast.o \
	src/cluster/cluster_metrics.o \
	src/facade/singletons.o

EXTENSION = foundation
# The extension's SQL, all installed side by side in the extension directory:
#   sql/install/NN_area.sql  the install script of the current version
#       (default_version in foundation.control), in pieces per area, joined
#       in name order into sql/foundation--VERSION.sql: built, git-ignored,
#       removed by make clean.  Edit the pieces, never the joined file.
#   sql/updates/foundation--A--B.sql  the upgrade script from each version
#       to the next; every change to a piece goes into the one that ends at
#       the current version too (test/t/023_upgrade.pl compares the two).
#   sql/releases/foundation--V.sql  the install script of each earlier
#       release, kept as it was released: never edited.
#   sql/*.sql  pg_regress inputs (REGRESS below), not installed.
EXTVERSION := $(shell sed -n "s/^default_version = '\([^']*\)'.*/\1/p" foundation.control)
ifeq ($(EXTVERSION),)
$(error no default_version = '...' line in foundation.control)
endif
SQL_PIECES = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard sql/releases/*.sql sql/updates/*.sql)

REGRESS = setup bad_input children registry facade channels handlers cluster coordination rules
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=$(srcdir)/test/regress.conf --load-extension=foundation

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# Includes name their floor folder: #include "process/launch.h".
PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
# The library's version, for its workers to compare with the SQL installed
# in the database (core/ext_version.c).
PG_CPPFLAGS += -DFDN_EXTVERSION='"$(EXTVERSION)"'
SHLIB_LINK = -lz
SHLIB_LINK_INTERNAL = $(libpq)

PG_CONFIG = pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The install script, joined from its pieces.  The directory is a
# prerequisite too: its time changes when a piece is added, renamed or
# removed, which the pieces' own times do not show.
$(DATA_built): $(SQL_PIECES) sql/install
	cat $(SQL_PIECES) >$@.tmp && mv $@.tmp $@

# The library knows its version (core/ext_version.c): a new default_version
# rebuilds it.
src/core/ext_version.o src/core/ext_version.bc: foundation.control

# Rebuild every object when a header changes: they share structs.
$(OBJS): $(wildcard $(srcdir)/src/*/*.h)
