/*
 * msivfvector.c
 *		A vec as the msivf index sees it: its checks, its preparation (unit
 *		length under cosine), the score of a list for it, its nearest list,
 *		and its encoding as a posting entry (the quantized residual from its
 *		list's centroid).  Build, insert and scan share these, so that the
 *		three agree on where a row belongs and what its entry holds.
 */
#include "postgres.h"

#include <math.h>

#include "utils/rel.h"

#include "hvec.h"
#include "msivf.h"
#include "quant_l1.h"
#include "quantizer.h"
#include "vec_kernels.h"

/* The dimensions msivf can index, or an error. */
void
msivf_check_dims(int dims)
{
	if (dims < MSIVF_MIN_DIM || dims > MSIVF_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("msivf indexes vecs of %d to %d dimensions, not %d",
						MSIVF_MIN_DIM, MSIVF_MAX_DIM, dims)));
}

/*
 * The vec of an index datum, detoasted (a copy when it was toasted); an
 * hvec's (the hvec_*_ops opclasses) converted to a new vec, exactly, so
 * training, codes and the rerank all see float values.
 */
Vec *
msivf_datum_vec(Datum d)
{
	return vec_or_hvec_datum(d);
}

/* Bits per code component for dims: 4 where 8 would not fit an entry on a page. */
int
msivf_code_bits(int dims)
{
	return dims <= MSIVF_MAX_DIM_8BIT ? 8 : 4;
}

/*
 * Bits per code component of index for dims: its bits option; unset, 4
 * from MSIVF_CODE4_MIN_DIM dimensions on (and above what 8 bits fit), 8
 * below and under L1.  4-bit codes halve the lists (and what a scan
 * reads) for a looser estimate, which the relaxed order's statistical
 * bound absorbs at enough dimensions (msivfscan.c); L1's bound is not
 * statistical, so its 4-bit codes rerank many more rows.  8-bit codes
 * must fit an entry on a page.
 */
int
msivf_index_code_bits(Relation index, int dims)
{
	MsivfOptions *opts = (MsivfOptions *) index->rd_options;
	int			bits = opts ? opts->bits : 0;

	if (bits == 0)
		return dims >= MSIVF_CODE4_MIN_DIM && msivf_metric(index) != MSIVF_METRIC_L1 ?
			4 : msivf_code_bits(dims);
	if (bits == 8 && dims > MSIVF_MAX_DIM_8BIT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("msivf codes of 8 bits hold at most %d dimensions, not %d",
						MSIVF_MAX_DIM_8BIT, dims),
				 errhint("Use bits = 4, or leave the option unset.")));
	return bits;
}

/* Bytes of one posting entry, header and code, aligned. */
Size
msivf_entry_size(int dims, int code_bits)
{
	return MAXALIGN(MSIVF_ENTRY_HEADER + quant_code_bytes(dims, code_bits));
}

/*
 * The vector as the index sees it: a copy, unit length for cosine.  False
 * when it cannot be indexed (a zero vector has no cosine direction).
 */
bool
msivf_prepare_vector(int metric, const float *x, int dims, float *out)
{
	memcpy(out, x, sizeof(float) * dims);
	if (metric == MSIVF_METRIC_COSINE)
	{
		double		s = 0;

		for (int i = 0; i < dims; i++)
			s += (double) x[i] * x[i];
		if (s == 0 || !isfinite(s))
			return false;
		s = 1.0 / sqrt(s);
		for (int i = 0; i < dims; i++)
			out[i] = (float) (x[i] * s);
	}
	return true;
}

/*
 * Score of a list for a prepared query (lower is nearer): the squared
 * distance to the centroid for L2 and L1, minus the inner product
 * otherwise.
 *
 * L1 keeps L2's lists (k-means, assignment, this ranking).  What the scan
 * needs of the lists is locality: that a query's nearest rows sit in the
 * lists whose centroids are nearest to it.  A Euclidean cell is compact
 * under L1 too (the norms are within a factor sqrt(d) of each other), and
 * on embeddings the L1 and L2 neighbours of a point are mostly the same
 * rows; the calibration measures recall with L1 neighbours, so the probe
 * count follows whatever the difference costs.  L1 medians would need a
 * k-medians pass without sgemm, for no exactness gain: the codes' bound
 * and the rerank make any list assignment exact at full probes.
 */
float
msivf_centroid_score(const MsivfState *st, const float *q, float qnorm2, int list)
{
	const float *c;
	float		ip;

	if (st->centroids == NULL)
		return 0;
	c = st->centroids + (Size) list * st->dims;
	ip = vec_kernels->inner_product(q, c, st->dims);
	if (MSIVF_METRIC_EUCLIDEAN_LISTS(st->metric))
		return qnorm2 - 2 * ip + st->centroid_norms[list];
	return -ip;
}

/*
 * qsort_arg comparator of list numbers by their scores (the arg), lowest
 * first and NaN (a score that overflowed float32) last: a total order
 * whatever the scores.
 */
int
msivf_cmp_list_score(const void *a, const void *b, void *arg)
{
	const float *scores = (const float *) arg;
	float		x = scores[*(const int *) a];
	float		y = scores[*(const int *) b];

	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x > y) - (x < y);
}

/*
 * The list whose centroid scores lowest for prepared vector x (the first
 * of equal ones); list 0 when there is one list or no centroids.
 */
int
msivf_nearest_list(const MsivfState *st, const float *x)
{
	int			best = 0;
	float		best_score;
	float		xn2;

	if (st->centroids == NULL || st->nlists == 1)
		return 0;
	xn2 = vec_kernels->norm_squared(x, st->dims);
	best_score = msivf_centroid_score(st, x, xn2, 0);
	for (int j = 1; j < st->nlists; j++)
	{
		float		s = msivf_centroid_score(st, x, xn2, j);

		if (s < best_score)
		{
			best_score = s;
			best = j;
		}
	}
	return best;
}

/* Fills entry (entry_size bytes) for prepared vector x in list; work: dims floats. */
void
msivf_encode_entry(const MsivfState *st, const float *x, int list,
				   ItemPointer tid, MsivfEntry *entry, float *work)
{
	const float *c = st->centroids ? st->centroids + (Size) list * st->dims : NULL;
	double		rn = 0;

	memset(entry, 0, st->entry_size);
	for (int i = 0; i < st->dims; i++)
	{
		work[i] = c ? x[i] - c[i] : x[i];
		rn += (double) work[i] * work[i];
	}
	quant_encode(work, st->dims, st->code_bits, entry->code, &entry->scale, &entry->err);
	/* L1's estimate is bounded by the error's L1 norm (quant_l1.h) */
	if (st->metric == MSIVF_METRIC_L1)
		entry->err = quant_l1_error(work, entry->code, st->dims, st->code_bits,
									entry->scale);
	entry->rnorm2 = (float) rn;
	entry->tid = *tid;
}
