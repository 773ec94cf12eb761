/*-------------------------------------------------------------------------
 *
 * core/jsonb_util.h
 *	  Small jsonb helpers every floor uses.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FDN_JSONB_UTIL_H
#define FDN_JSONB_UTIL_H

#include "postgres.h"

#include "utils/jsonb.h"



/* jsonb from its text form (an error if it does not parse). */
extern Jsonb *fdn_jsonb_from_text(const char *text);

/* A string, number or boolean field of a jsonb object as text; NULL if absent. */
extern char *fdn_jsonb_field_text(Jsonb *obj, const char *key);

/*
 * The members of a jsonb object, safely: NULL for a non-object or when the
 * key is absent.  fdn_json_obj_get fills *out and returns it.
 */
extern JsonbValue *fdn_json_obj_get(JsonbContainer *c, const char *key, JsonbValue *out);
extern bool fdn_json_is_object(const JsonbValue *v);
extern bool fdn_json_is_array(const JsonbValue *v);

#endif							/* FDN_JSONB_UTIL_H */
