"""SQLAlchemy type for vec columns: ``Vec(dims)``.

Values bind as the text form (numpy arrays, Vec objects or lists) and load
as float32 numpy arrays, whether or not the driver has the vec adapters
registered.  The column's comparators build the distance operators of
src/vec/vec.sql, which the msivf and GiST indexes serve in an ORDER BY::

    session.scalars(select(Item).order_by(Item.emb.l2_distance(q)).limit(10))

``l2_distance`` is ``<->``, ``max_inner_product`` ``<#>`` (the negative
inner product, so that ascending order puts the largest first),
``cosine_distance`` ``<=>`` and ``l1_distance`` ``<+>``; each returns a
float.
"""

import numpy as np
from sqlalchemy.types import Float, UserDefinedType

from . import _wire

__all__ = ["Vec"]


class Vec(UserDefinedType):
    """A vec column, ``vec(dims)``, or ``vec`` when dims is None."""

    cache_ok = True

    def __init__(self, dims=None):
        super().__init__()
        self.dims = dims

    def get_col_spec(self, **kw):
        if self.dims is None:
            return "VEC"
        return "VEC(%d)" % self.dims

    def bind_processor(self, dialect):
        def process(value):
            if value is None or isinstance(value, str):
                return value
            return _wire.to_text(value)
        return process

    def literal_processor(self, dialect):
        def process(value):
            return "'%s'" % _wire.to_text(value)
        return process

    def result_processor(self, dialect, coltype):
        def process(value):
            if value is None or isinstance(value, np.ndarray):
                return value
            return _wire.from_text(value)
        return process

    class comparator_factory(UserDefinedType.Comparator):
        def l2_distance(self, other):
            return self.op("<->", return_type=Float)(other)

        def max_inner_product(self, other):
            return self.op("<#>", return_type=Float)(other)

        def cosine_distance(self, other):
            return self.op("<=>", return_type=Float)(other)

        def l1_distance(self, other):
            return self.op("<+>", return_type=Float)(other)
