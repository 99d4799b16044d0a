"""Untrusted text printed cannot forge or hide a line: each character that could is escaped."""

from hypothesis import given
from hypothesis import strategies as st

from queuing_system.console import ESCAPES, UNPRINTABLE, printable


@given(st.text())
def test_a_line_is_printed_with_its_escapes(text):
    assert printable(text) == text.translate(ESCAPES)


def test_each_character_escaped_is_one_python_calls_not_printable():
    assert not any(chr(code).isprintable() for code in UNPRINTABLE)
    assert printable("a\nb\x1b[2K\u2028") == "a\\nb\\x1b[2K\\u2028"
