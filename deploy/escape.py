"""Text that any output stream can hold on one line: file names may contain newlines, tabs
and bytes that are not valid UTF-8, and the stream's encoding may be ASCII.

Control characters become Python-style escapes (``\\n``, ``\\t``, ``\\r``, ``\\x1b``), as do
the line and paragraph separators U+2028 and U+2029; a byte of a file name that is not valid
in the file system's encoding becomes ``\\xNN``; a backslash is doubled, so every escape
reads one way only; a character the stream cannot encode becomes ``\\xNN``, ``\\uNNNN`` or
``\\UNNNNNNNN``.
"""
from __future__ import annotations

import unicodedata

_NAMED = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _escapes() -> dict[int, str]:
    table = {ord(char): text for char, text in _NAMED.items()}
    for code in range(0x100):
        if unicodedata.category(chr(code)) == "Cc":
            table.setdefault(code, f"\\x{code:02x}")
    # os.fsdecode() turns each undecodable byte 0xNN of a name into the lone surrogate U+DCNN.
    table.update({0xDC00 + byte: f"\\x{byte:02x}" for byte in range(0x80, 0x100)})
    return table


ESCAPES = _escapes()


def escape(text: str, encoding: str | None = None) -> str:
    """``text`` on one line, with what ``encoding`` (default: any) cannot hold escaped."""
    text = str(text).translate(ESCAPES)
    if encoding is None:
        return text
    return text.encode(encoding, "backslashreplace").decode(encoding)
