/*-------------------------------------------------------------------------
 *
 * core/entry.c
 *	  Module entry point: _PG_init, where every floor registers its
 *	  settings, shared memory, background workers and supervisor hooks.
 *
 * The only file allowed to include headers of every floor
 * (scripts/check-layers): it wires them together and holds no logic.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "core/foundation.h"
#include "core/shmem.h"
#include "process/db_guard.h"
#include "process/launcher.h"
#include "process/supervisor.h"
#include "channels/channels.h"
#include "channels/handlers.h"
#include "coordination/async_protocols.h"
#include "discovery/health.h"
#include "discovery/nodes.h"
#include "discovery/nodes_config.h"
#include "cluster/members.h"


PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	fdn_preloaded = process_shared_preload_libraries_in_progress;

	/*
	 * Restart-only settings can be defined only at server start.  Loaded
	 * later (CREATE EXTENSION without shared_preload_libraries), we define
	 * the others and let fdn_require_preload explain what is missing.
	 */
	if (fdn_preloaded)
		fdn_define_postmaster_gucs();

	fdn_define_core_gucs();
	fdn_define_handler_gucs();
	fdn_define_cluster_gucs();
	fdn_define_membership_gucs();
	fdn_define_nodes_gucs();
	fdn_define_health_gucs();
	MarkGUCPrefixReserved("foundation");

	if (!fdn_preloaded)
		return;

	/* Features in floor order: their supervisor hooks run in this order. */
	fdn_channels_init();
	fdn_coordination_init();
	fdn_cluster_init();

	fdn_shmem_init_hooks();
	fdn_register_launcher();
	fdn_db_guard_init();
	fdn_health_init();
}

