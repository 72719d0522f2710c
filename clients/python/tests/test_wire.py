"""The codecs alone, no server: the bytes vec_recv reads, the text vec_in
reads, and the float32 batch layout ms.proc_float32 reads."""

import struct

import pytest
from _support import require

np = require("numpy")

import machinesoup  # noqa: E402
from machinesoup import Vec, from_binary, from_text, to_binary, to_text  # noqa: E402
from machinesoup.ms import float32_batch  # noqa: E402


def test_binary_layout():
    # int16 dim, int16 flags, then big-endian float4: what vec_send writes
    assert to_binary(np.array([1.0, -2.5], dtype=np.float32)) == \
        b"\x00\x02\x00\x00" + struct.pack(">ff", 1.0, -2.5)


def test_binary_round_trip_float32_exact():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(1000).astype(np.float32)
    b = from_binary(to_binary(a))
    assert b.dtype == np.float32 and b.dtype.byteorder in "=|<" or b.dtype.isnative
    assert np.array_equal(a, b)


def test_text_round_trip_float32_exact():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal(2000) * 10.0 ** rng.integers(-30, 30, 2000)).astype(np.float32)
    assert np.array_equal(from_text(to_text(a)), a)
    assert to_text([1, 2.5, -3]) == "[1,2.5,-3]"


def test_other_dtypes_and_lists_become_float32():
    assert from_binary(to_binary(np.arange(3, dtype=np.int64))).tolist() == [0.0, 1.0, 2.0]
    assert from_binary(to_binary([0.1, 0.2])).tolist() == np.array([0.1, 0.2], np.float32).tolist()
    assert Vec([1, 2]).to_numpy().dtype == np.float32


def test_refused_client_side():
    with pytest.raises(ValueError, match="one dimension, not 2"):
        to_binary(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="dtype"):
        to_binary(np.array(["a"]))
    with pytest.raises(ValueError, match="more than 16000"):
        to_binary(np.zeros(40000, dtype=np.float32))
    with pytest.raises(ValueError, match="invalid binary vec"):
        from_binary(b"\x00\x03\x00\x00" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not a vec"):
        from_text("1,2")


def test_vec_wrapper():
    v = Vec([1, 2, 3])
    assert len(v) == 3 and v == Vec(np.array([1, 2, 3])) and v != Vec([1, 2, 4])
    assert repr(v) == "Vec([1,2,3])" and v.to_list() == [1.0, 2.0, 3.0]
    assert Vec.from_binary(v.to_binary()) == v and Vec.from_text(v.to_text()) == v
    assert machinesoup.MAX_DIM == 16000


def test_float32_batch_layout():
    data = float32_batch(np.array([[1.5, -2.0], [0.25, 3.0]]), [9, 10])
    assert data == struct.pack("<qff", 9, 1.5, -2.0) + struct.pack("<qff", 10, 0.25, 3.0)
    with pytest.raises(ValueError, match="2 ids for 3 rows"):
        float32_batch(np.zeros((3, 2)), [1, 2])
    with pytest.raises(TypeError, match="integers"):
        float32_batch(np.zeros((1, 2)), [1.5])
    with pytest.raises(ValueError, match="18446744073709551615 does not fit in bigint"):
        float32_batch(np.zeros((1, 2)), np.array([2 ** 64 - 1], dtype=np.uint64))
    with pytest.raises(TypeError, match="integers"):
        float32_batch(np.zeros((1, 2)), [2 ** 70])
