/*-------------------------------------------------------------------------
 *
 * sketch.h
 *		The kpi.sketch value: a log-bucketed latency histogram (see sketch.c
 *		for the layout, the error bound and the aggregates).
 *
 * A sketch is a varlena: a fixed 48-byte header followed by one entry per
 * occupied bucket, sorted by bucket index.  An entry is the bucket index
 * (uint16) followed by its count in "width" bytes (1, 2, 4 or 8, native
 * byte order, unaligned).  A stored value is canonical: the smallest width
 * that holds its largest count, and nothing else.  Inside an aggregate the
 * transition state may also carry spare entries after the last one (room to
 * grow in place), a wider count than needed, and an occupancy index between
 * header and entries (flagged in the width byte, see sketch.c); the final
 * functions make it canonical again.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KPI_SKETCH_H
#define KPI_SKETCH_H

#include "fmgr.h"

#define SKETCH_VERSION		1

/* Buckets: index 0 holds [0, 2^-30 s); then 35 per octave up to 2^33 s. */
#define SKETCH_SUB			35
#define SKETCH_MIN_EXP		(-30)
#define SKETCH_MAX_EXP		32
#define SKETCH_OCTAVES		(SKETCH_MAX_EXP - SKETCH_MIN_EXP + 1)
#define SKETCH_NBUCKETS		(1 + SKETCH_OCTAVES * SKETCH_SUB)

/* Inputs must lie in [0, 2^33 s): about 272 years. */
#define SKETCH_LIMIT_SECONDS 8589934592.0

typedef struct Sketch
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint8		version;		/* SKETCH_VERSION */
	uint8		width;			/* bytes per bucket count: 1, 2, 4 or 8 (plus
								 * a flag bit in aggregate states) */
	uint16		nbuckets;		/* occupied buckets (entries in use) */
	int64		count;			/* number of values, >= 1 when stored */
	uint64		sum_lo;			/* sum of the values in nanoseconds, */
	int64		sum_hi;			/* as a 128-bit integer (low, high) */
	float8		min;			/* exact smallest value, seconds */
	float8		max;			/* exact largest value, seconds */
	/* entries follow */
} Sketch;

#define SKETCH_HDRSZ		sizeof(Sketch)
#define SKETCH_STRIDE(w)	(sizeof(uint16) + (w))

#define DatumGetSketchP(d)		((Sketch *) PG_DETOAST_DATUM(d))
#define PG_GETARG_SKETCH_P(n)	DatumGetSketchP(PG_GETARG_DATUM(n))

#endif							/* KPI_SKETCH_H */
