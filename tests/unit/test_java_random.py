"""The e2e attacks' port of java.util.Random (tests/e2e/helpers_secure.py), against values Java
itself gives."""

from __future__ import annotations

from tests.e2e.helpers_secure import JavaRandom


def test_next_int_matches_java():
    # new java.util.Random(42).nextInt(), twice; new Random(0).nextInt()
    rnd = JavaRandom(42)
    assert [rnd.next_int(), rnd.next_int()] == [-1170105035, 234785527]
    assert JavaRandom(0).next_int() == -1155484576


def test_next_bytes_takes_each_int_low_byte_first():
    ints = JavaRandom(7)
    expected = b"".join((ints.next_int() & 0xFFFFFFFF).to_bytes(4, "little") for _ in range(4))
    assert JavaRandom(7).next_bytes(16) == expected
    assert JavaRandom(7).next_bytes(6) == expected[:6]
