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
	src/process/child_main.o \
	src/process/launch.o \
	src/process/supervisor.o \
	src/process/child_ops.o \
	src/process/registry.o \
	src/process/singleton_start.o \
	src/channels/codec.o \
	src/channels/channel_stats.o \
	src/channels/channels.o \
	src/channels/handlers.o \
	src/discovery/nodes_config.o \
	src/discovery/nodes.o \
	src/discovery/health.o \
	src/discovery/health_monitor.o \
	src/coordination/agents.o \
	src/coordination/coordination.o \
	src/coordination/orchestration.o \
	src/coordination/async_protocols.o \
	src/coordination/async_auctions.o \
	src/coordination/async_proposals.o \
	src/cluster/members.o \
	src/cluster/members_singletons.o \
	src/cluster/relay.o \
	src/cluster/broadcast.o \
	src/facade/singletons.o

EXTENSION = foundation
DATA = sql/foundation--0.1.sql

REGRESS = setup bad_input children registry facade channels handlers cluster coordination rules
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=$(srcdir)/test/regress.conf --load-extension=foundation

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

# Includes name their floor folder: #include "process/launch.h".
PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
SHLIB_LINK = -lz
SHLIB_LINK_INTERNAL = $(libpq)

PG_CONFIG = pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild every object when a header changes: they share structs.
$(OBJS): $(wildcard $(srcdir)/src/*/*.h)
