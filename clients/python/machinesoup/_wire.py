"""The vec type's two wire formats, shared by every driver adapter.

Text (vec_in / vec_out): ``[x1,x2,...,xD]``, each element a finite
float4; the server prints the shortest decimal that reads back to the same
float4.  Binary (vec_recv / vec_send, src/vec/vec_io.c): a 4-byte header,
int16 dim then int16 flags (always 0), both big-endian, then dim float4
values, big-endian (IEEE 754, network byte order).  That is 4 + 4 * dim
bytes; the server refuses flags other than 0, a dim outside 1..16000, a
byte count that does not match dim (all SQLSTATE 22P03) and NaN or
infinite elements (22000).  It is the layout of pgvector's ``vector``, so
code written for one reads the other's bytes.
"""

import struct
import sys

import numpy as np

#: The largest number of dimensions a vec may have (VEC_MAX_DIM).
MAX_DIM = 16000

_HEADER = struct.Struct(">hh")
_BE_F4 = np.dtype(">f4")
_LITTLE = sys.byteorder == "little"


class Vec:
    """A vec value: wraps a one-dimensional float32 numpy array.

    Use it to send a Python list (or any sequence of numbers) as a vec:
    the adapters dump numpy arrays and ``Vec`` objects, never plain lists,
    so that a list parameter still goes to PostgreSQL as an array.
    """

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = to_float32(value)

    def to_numpy(self):
        return self._value

    def to_list(self):
        return self._value.tolist()

    def to_text(self):
        return to_text(self._value)

    def to_binary(self):
        return to_binary(self._value)

    @classmethod
    def from_text(cls, data):
        return cls(from_text(data))

    @classmethod
    def from_binary(cls, data):
        return cls(from_binary(data))

    def __len__(self):
        return len(self._value)

    def __eq__(self, other):
        if isinstance(other, Vec):
            return np.array_equal(self._value, other._value)
        return NotImplemented

    def __hash__(self):
        return hash(self._value.tobytes())

    def __repr__(self):
        return "Vec(%s)" % self.to_text()


_F4 = np.dtype(np.float32)


def to_float32(value):
    """value (a Vec, numpy array or sequence of numbers) as a 1-d float32 array."""
    if isinstance(value, Vec):
        return value.to_numpy()
    a = np.asarray(value)
    if a.ndim != 1:
        raise ValueError("a vec has one dimension, not %d" % a.ndim)
    if a.dtype == _F4:
        return a
    if a.dtype.kind not in "fiub":
        raise TypeError("cannot send a numpy array of dtype %s as a vec" % a.dtype)
    # a float64 beyond float32's range becomes infinite, which the server
    # refuses: no warning here on top of that error
    with np.errstate(over="ignore"):
        return a.astype(np.float32)


def to_text(value):
    """The text form, ``[1,2.5,-3]``.

    Nine significant digits always read back to the same float32.  NaN and
    infinities are sent as they are: the server refuses them (SQLSTATE
    22000), which is the one check that matters.
    """
    a = to_float32(value)
    if len(a) == 0:
        return "[]"
    return "[" + ",".join(["%.9g"] * len(a)) % tuple(a.tolist()) + "]"


def to_binary(value):
    """The binary form vec_recv reads: header, then big-endian float32s."""
    # the common case first, with nothing to check or convert: binary COPY
    # of millions of rows calls this once a row
    if type(value) is np.ndarray and value.dtype == _F4 and value.ndim == 1 \
            and value.shape[0] <= MAX_DIM:
        if _LITTLE:
            return _HEADER.pack(value.shape[0], 0) + value.byteswap().tobytes()
        return _HEADER.pack(value.shape[0], 0) + value.tobytes()
    a = to_float32(value)
    if len(a) > 32767:
        # the header's int16 cannot say it; the server's limit is lower still
        raise ValueError("vec cannot have more than %d dimensions" % MAX_DIM)
    return _HEADER.pack(len(a), 0) + a.astype(_BE_F4, copy=False).tobytes()


def from_text(data):
    """A float32 array from vec_out's text (str, bytes or memoryview)."""
    if not isinstance(data, str):
        data = bytes(data).decode("ascii")
    data = data.strip()
    if len(data) < 2 or data[0] != "[" or data[-1] != "]":
        raise ValueError("not a vec: %r" % data[:40])
    return np.array(data[1:-1].split(","), dtype=np.float32)


def from_binary(data):
    """A float32 array (native byte order) from vec_send's bytes."""
    data = memoryview(data)
    if len(data) < 4:
        raise ValueError("binary vec shorter than its 4-byte header")
    dim, flags = _HEADER.unpack_from(data)
    if flags != 0 or dim < 0 or len(data) != 4 + 4 * dim:
        raise ValueError("invalid binary vec: dim %d, flags %d, %d bytes" % (dim, flags, len(data)))
    return np.frombuffer(data, dtype=_BE_F4, count=dim, offset=4).astype(np.float32)
