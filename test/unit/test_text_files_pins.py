"""Pins on `text_files.unmarked_encoding`'s share of code units beyond ASCII that
test_text_files_unmarked.py left free: each failed on a hand mutant of text_files.py."""

from __future__ import annotations

from mast3r_ros.core import text_files


def test_a_quarter_of_wide_units_is_utf16_and_more_only_as_clean_text():
    """`_MAX_WIDE_SHARE` is 'at most' a quarter: 1 Cyrillic letter (high byte 0x04) in every
    4 code units is UTF-16 text (a rule of 'under a quarter' read it as UTF-8 and failed on its
    zeros). 2 in 4 were refused as too many to tell from a binary's zeros: text in another
    script (test_text_files_unmarked's CJK) is now told by where its zeros fall and by
    decoding cleanly (`_mostly_wide`), so 2 in 4 are UTF-16 when they are clean text, and not
    when a control character or a lone surrogate shows a binary."""
    quarter = ("ab\u0416c" * 8).encode("utf-16-le")  # 8 of 32 units wide
    assert text_files.unmarked_encoding(quarter) == "utf-16-le"
    assert text_files.decode_text(quarter) == "ab\u0416c" * 8
    half = ("a\u0416\u0416b" * 8).encode("utf-16-le")
    assert text_files.unmarked_encoding(half) == "utf-16-le"
    control = ("a\u0416\u0416\x01" * 8).encode("utf-16-le")
    assert text_files.unmarked_encoding(control) is None
    surrogate = ("a\u0416\u0416b" * 8).encode("utf-16-le") + b"\x00\xdc" + "ab".encode(
        "utf-16-le")  # a low surrogate alone
    assert text_files.unmarked_encoding(surrogate) is None


def test_the_zeros_are_judged_over_the_first_4096_bytes_not_the_first_line():
    """A YAML file that opens with a comment line in another script (every code unit of it
    beyond Latin-1) is still UTF-16 by the rest of its first `_SAMPLE_BYTES` bytes; judged by
    its first 64 bytes it read as UTF-8, and YAML refused its zeros."""
    text = "# " + "\u0416" * 40 + "\n" + "image_width: 640\n" * 30
    data = text.encode("utf-16-le")
    assert text_files.unmarked_encoding(data) == "utf-16-le"
    assert text_files.decode_text(data) == text
