/*-------------------------------------------------------------------------
 *
 * core/lock_classes.h
 *	  The classes of foundation's own heavyweight lock tags.
 *
 * foundation serializes some of its work with advisory lock tags
 * (SET_LOCKTAG_ADVISORY), which show in pg_locks as locktype 'advisory'.
 * pg_advisory_lock and friends use objsubid 1 (one bigint key) and 2 (two
 * integer keys); a tag with any other objsubid can never be taken, held or
 * waited for by a user's pg_advisory_lock call.  Each class foundation uses
 * is listed here, so two of them cannot collide either.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_LOCK_CLASSES_H
#define FDN_LOCK_CLASSES_H

/* objsubid values (uint16); never 1 or 2, which are pg_advisory_lock's. */
#define FDN_LOCK_CLASS_AUCTION		0x4641	/* 17985, "FA": an auction, by id */
#define FDN_LOCK_CLASS_CHANNEL		0x4643	/* 17987, "FC": a durable channel, by index */
#define FDN_LOCK_CLASS_SINGLETON	0x4653	/* 18003, "FS": start_singleton, by name */

#endif							/* FDN_LOCK_CLASSES_H */
