/*-------------------------------------------------------------------------
 *
 * proportion.h
 *		The kpi.proportion value: hits among trials, 0 <= hits <= trials.
 *
 * A fixed-length, pass-by-reference 16-byte value (see proportion.c for why
 * it is not a varlena).  Other building blocks may read it through these
 * macros; they must never build one without kpi_proportion_check().
 *
 *-------------------------------------------------------------------------
 */
#ifndef KPI_PROPORTION_H
#define KPI_PROPORTION_H

#include "fmgr.h"

typedef struct Proportion
{
	int64		hits;			/* successes; 0 <= hits <= trials */
	int64		trials;			/* attempts; 0 <= trials */
} Proportion;

/* The SQL type's INTERNALLENGTH; proportion.c asserts it at compile time. */
#define PROPORTION_SIZE 16

#define DatumGetProportionP(X)		((Proportion *) DatumGetPointer(X))
#define ProportionPGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_PROPORTION_P(n)	DatumGetProportionP(PG_GETARG_DATUM(n))
#define PG_RETURN_PROPORTION_P(x)	return ProportionPGetDatum(x)

/* Raise an error naming the values unless 0 <= hits <= trials. */
extern void kpi_proportion_check(int64 hits, int64 trials);

#endif							/* KPI_PROPORTION_H */
