"""debug.layer.OutputTail: the last characters of a stream, bounded however it comes."""

from __future__ import annotations

from dbugbuild.debug.layer import OutputTail


def test_tail_of_many_small_pieces_is_exact_and_bounded() -> None:
    tail = OutputTail(limit=100)
    expected = "".join(f"{i}\n" for i in range(50_000))
    for i in range(50_000):
        tail.add(f"{i}\n")
        assert len(tail._pieces) <= 4097 and tail._held <= 2 * 100 + 8
    assert tail.text == expected[-100:]
    assert tail.cut == len(expected) - 100
    assert tail.total == len(expected)


def test_short_output_is_kept_whole() -> None:
    tail = OutputTail(limit=100)
    tail.add("abc")
    tail.add("")
    assert (tail.text, tail.cut) == ("abc", 0)
    assert OutputTail().text == ""
