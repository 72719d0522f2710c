/*
 * elemtype.c
 *		The element types of ms models and their SQL types: names, the
 *		conversion of a vec to each, and the checks a point must pass.
 *
 * The types are told by name: they all live in the extension's schema,
 * where no one but the extension's owner can create another type.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "utils/syscache.h"

#include "bit_kernels.h"
#include "bvec.h"
#include "elemtype.h"
#include "hvec.h"
#include "svec.h"

static const char *const elem_names[] = {"float32", "float16", "bit", "sparse"};
static const char *const type_names[] = {"vec", "hvec", "bvec", "svec"};

MsElemKind
ms_elem_kind_from_name(const char *element_type)
{
	for (int k = 0; k < (int) lengthof(elem_names); k++)
		if (strcmp(element_type, elem_names[k]) == 0)
			return (MsElemKind) k;
	elog(ERROR, "unknown element type \"%s\"", element_type);
	return MS_ELEM_NONE;		/* keep compiler quiet */
}

const char *
ms_elem_name(MsElemKind kind)
{
	Assert(kind >= 0 && (int) kind < (int) lengthof(elem_names));
	return elem_names[kind];
}

const char *
ms_elem_type_name(MsElemKind kind)
{
	Assert(kind >= 0 && (int) kind < (int) lengthof(type_names));
	return type_names[kind];
}

MsElemKind
ms_elem_kind_of_type(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	MsElemKind	kind = MS_ELEM_NONE;

	if (!HeapTupleIsValid(tup))
		return MS_ELEM_NONE;
	for (int k = 0; k < (int) lengthof(type_names); k++)
		if (strcmp(NameStr(((Form_pg_type) GETSTRUCT(tup))->typname), type_names[k]) == 0)
			kind = (MsElemKind) k;
	ReleaseSysCache(tup);
	return kind;
}

Datum
ms_elem_from_vec(const Vec *v, MsElemKind kind)
{
	switch (kind)
	{
		case MS_ELEM_FLOAT32:
			return PointerGetDatum(v);
		case MS_ELEM_FLOAT16:
			return PointerGetDatum(hvec_from_floats(v->x, v->dim));
		case MS_ELEM_BIT:
			{
				Bvec	   *b = bvec_new(v->dim);

				bit_quantize_floats(v->x, v->dim, b->data);
				return PointerGetDatum(b);
			}
		case MS_ELEM_SPARSE:
			{
				int32		nnz = 0;
				Svec	   *s;
				float4	   *values;

				for (int i = 0; i < v->dim; i++)
					nnz += v->x[i] != 0.0f;
				s = svec_new(v->dim, nnz);
				values = SVEC_VALUES(s);
				nnz = 0;
				for (int i = 0; i < v->dim; i++)
					if (v->x[i] != 0.0f)
					{
						s->indices[nnz] = i;
						values[nnz++] = v->x[i];
					}
				return PointerGetDatum(s);
			}
		default:
			elog(ERROR, "unknown element kind %d", (int) kind);
	}
	return (Datum) 0;			/* keep compiler quiet */
}

int32
ms_elem_dims(Datum d, MsElemKind kind)
{
	switch (kind)
	{
		case MS_ELEM_FLOAT32:
			return DatumGetVec(d)->dim;
		case MS_ELEM_FLOAT16:
			return DatumGetHVec(d)->dim;
		case MS_ELEM_BIT:
			return DatumGetBvec(d)->nbits;
		case MS_ELEM_SPARSE:
			return DatumGetSvec(d)->dims;
		default:
			elog(ERROR, "unknown element kind %d", (int) kind);
	}
	return 0;					/* keep compiler quiet */
}

bool
ms_elem_is_zero(Datum d, MsElemKind kind)
{
	switch (kind)
	{
		case MS_ELEM_FLOAT32:
			{
				Vec		   *v = DatumGetVec(d);

				for (int i = 0; i < v->dim; i++)
					if (v->x[i] != 0.0f)
						return false;
				return true;
			}
		case MS_ELEM_FLOAT16:
			{
				HVec	   *h = DatumGetHVec(d);

				/* +0 and -0 differ only in the sign bit */
				for (int i = 0; i < h->dim; i++)
					if ((h->x[i] & 0x7fff) != 0)
						return false;
				return true;
			}
		case MS_ELEM_BIT:
			{
				Bvec	   *b = DatumGetBvec(d);

				for (Size i = 0; i < BVEC_BYTES(b->nbits); i++)
					if (b->data[i] != 0)
						return false;
				return true;
			}
		case MS_ELEM_SPARSE:
			{
				Svec	   *s = DatumGetSvec(d);
				float4	   *values = SVEC_VALUES(s);

				for (int i = 0; i < s->nnz; i++)
					if (values[i] != 0.0f)
						return false;
				return true;
			}
		default:
			elog(ERROR, "unknown element kind %d", (int) kind);
	}
	return false;				/* keep compiler quiet */
}
