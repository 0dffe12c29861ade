/*-------------------------------------------------------------------------
 *
 * kpi.c
 *		Module magic and the small helpers shared by kpi's building blocks.
 *
 * The building blocks themselves live one per file beside this one: reply
 * turns (turns.c), the latency sketch (sketch.c), proportions
 * (proportion.c) and business calendars (calendar.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "pgtime.h"
#include "utils/builtins.h"

#include "kpi.h"

PG_MODULE_MAGIC;

/*
 * Look up a time zone by name the way the TimeZone setting does, or raise an
 * error that names it.  Shared by the CHECK constraints on kpi.settings and
 * kpi.shops and by the business calendar parser, so a misspelt zone is
 * refused where it is written rather than when a refresh trips on it later.
 */
pg_tz *
kpi_lookup_timezone(const char *name)
{
	pg_tz	   *tz = NULL;

	if (strlen(name) < TZ_STRLEN_MAX)
		tz = pg_tzset(name);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" is not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as \"Asia/Shanghai\" or \"UTC\".")));
	if (!pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" appears to use leap seconds", name),
				 errdetail("PostgreSQL does not support leap seconds.")));
	return tz;
}

PG_FUNCTION_INFO_V1(kpi_timezone_check);

/*
 * kpi.timezone_check(name text) returns true, or raises an error naming the
 * zone.  Meant for CHECK constraints.
 */
Datum
kpi_timezone_check(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	kpi_lookup_timezone(name);
	pfree(name);
	PG_RETURN_BOOL(true);
}
