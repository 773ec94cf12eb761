# foundation: PGXS build
MODULE_big = foundation
OBJS = \
	src/foundation.o \
	src/shmem.o \
	src/spi_util.o \
	src/user_call.o \
	src/child.o \
	src/launch.o \
	src/supervisor.o \
	src/children.o \
	src/registry.o \
	src/process_manager.o \
	src/codec.o \
	src/channel_stats.o \
	src/channels.o \
	src/handlers.o \
	src/remote.o \
	src/cluster_config.o \
	src/nodes.o \
	src/health.o \
	src/health_monitor.o \
	src/agents.o \
	src/coordination.o \
	src/orchestration.o \
	src/async_protocols.o \
	src/async_auctions.o \
	src/async_proposals.o \
	src/membership.o \
	src/cluster_singletons.o \
	src/relay.o

EXTENSION = foundation
DATA = sql/foundation--0.1.sql

REGRESS = setup bad_input children registry facade channels handlers cluster coordination rules
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=$(srcdir)/test/regress.conf --load-extension=foundation

TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CPPFLAGS = -I$(srcdir)/src -I$(libpq_srcdir)
SHLIB_LINK = -lz
SHLIB_LINK_INTERNAL = $(libpq)

PG_CONFIG = pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Rebuild every object when a header changes: they share structs.
$(OBJS): $(wildcard $(srcdir)/src/*.h)
