"""A multipart/form-data body, read as it arrives with python-multipart.

Media types and parameters are matched as RFC 9110 says (case-insensitive, quoted or not);
a file name that is not UTF-8 is kept with its undecodable bytes replaced; only the data of
the fields the caller keeps is held in memory, the other parts are counted and named.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

MAX_PARTS = 64  # parts in one form


class FormError(ValueError):
    """The body is not a well-formed multipart/form-data form; the message says why."""


@dataclass
class Part:
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


@contextlib.contextmanager
def parser_errors():
    """The one boundary with python-multipart: whatever it raises, from its constructor (a
    boundary over 256 characters), its parser or its header parsing, is a FormError (a 400).
    Its own exceptions derive from FormParserError, but nothing in its contract says only those."""
    try:
        yield
    except FormError:
        raise
    except Exception as err:  # noqa: BLE001 -- any failure of the parser library on this body
        raise FormError(f"malformed multipart/form-data: {str(err)[:200] or type(err).__name__}") from None


class FormReader:
    """Feed it the body piece by piece, then ``close()`` gives the parts, in order."""

    def __init__(self, content_type: str, keep: frozenset[str]):
        with parser_errors():
            media, params = parse_options_header(content_type)
        if media != b"multipart/form-data":
            raise FormError(f"expected a multipart/form-data body, got Content-Type {content_type[:100]!r}")
        if not params.get(b"boundary"):
            raise FormError("multipart/form-data without a boundary parameter")
        self.keep, self.parts, self._ended = keep, [], False
        self._field, self._value = bytearray(), bytearray()
        with parser_errors():
            self._parser = MultipartParser(params[b"boundary"], callbacks=dict(
                on_part_begin=self._part_begin, on_part_data=self._part_data,
                on_header_field=lambda data, start, end: self._field.extend(data[start:end]),
                on_header_value=lambda data, start, end: self._value.extend(data[start:end]),
                on_header_end=self._header_end, on_headers_finished=self._headers_finished, on_end=self._end))

    def feed(self, data: bytes) -> None:
        with parser_errors():
            self._parser.write(data)

    def close(self) -> list[Part]:
        if not self._ended:
            raise FormError("malformed multipart/form-data: the body ends before its closing boundary")
        return self.parts

    def _part_begin(self) -> None:
        if len(self.parts) >= MAX_PARTS:
            raise FormError(f"more than {MAX_PARTS} parts in the form")
        self.parts.append(Part())

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.parts[-1].name in self.keep:
            self.parts[-1].data.extend(data[start:end])

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            with parser_errors():
                disposition, params = parse_options_header(bytes(self._value))
            if disposition != b"form-data":
                raise FormError(f"a part's Content-Disposition is {_text(disposition)[:50]!r}, not form-data")
            self.parts[-1].name = _text(params.get(b"name", b""))
            filename = params.get(b"filename")
            self.parts[-1].filename = None if filename is None else _text(filename)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        if not self.parts[-1].name:
            raise FormError("a form part without a name (Content-Disposition: form-data; name=...)")

    def _end(self) -> None:
        self._ended = True
