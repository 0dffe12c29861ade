/*-------------------------------------------------------------------------
 *
 * kpi.h
 *		Declarations shared by kpi's C files.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KPI_H
#define KPI_H

#include "pgtime.h"

/* A time zone by name, as the TimeZone setting accepts it, or an ERROR. */
extern pg_tz *kpi_lookup_timezone(const char *name);

#endif							/* KPI_H */
