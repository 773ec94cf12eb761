/*-------------------------------------------------------------------------
 *
 * core/jsonb_util.c
 *	  Small jsonb helpers every floor uses: jsonb from text, the fields of
 *	  an object of any shape.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "core/jsonb_util.h"


Jsonb *
fdn_jsonb_from_text(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

char *
fdn_jsonb_field_text(Jsonb *obj, const char *key)
{
	JsonbValue	v;

	/* It may come from another server: of any shape. */
	if (obj == NULL || !fdn_json_obj_get(&obj->root, key, &v))
		return NULL;
	if (v.type == jbvString)
		return pnstrdup(v.val.string.val, v.val.string.len);
	if (v.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric)));
	if (v.type == jbvBool)
		return pstrdup(v.val.boolean ? "true" : "false");
	return NULL;
}

JsonbValue *
fdn_json_obj_get(JsonbContainer *c, const char *key, JsonbValue *out)
{
	/* getKeyJsonValueFromContainer reads an array as if it were an object */
	if (c == NULL || !JsonContainerIsObject(c))
		return NULL;
	return getKeyJsonValueFromContainer(c, key, strlen(key), out);
}

bool
fdn_json_is_object(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

bool
fdn_json_is_array(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}
