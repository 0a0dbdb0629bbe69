"""Tornado's HTTP/1.1 server, with JSON answers for requests that break HTTP itself.

Tornado 6.6 answers every malformed request (bad start line, headers, Content-Length,
Transfer-Encoding, chunk sizes) with a hard-coded, empty ``400 Bad Request``, closes the
connection without a word when the headers are over its limit, and refuses chunk extensions
(its own TODO in ``_read_chunked_body``). Its parser is otherwise what we want, so instead of
replacing it this module adapts the three stream calls it makes for those cases, per connection:

- ``write(b"HTTP/1.1 400 Bad Request\\r\\n\\r\\n")`` becomes a JSON error (413 or 431 where the
  error says so), built from the ``HTTPInputError`` being handled at that moment;
- ``read_until_regex`` (the headers) reads up to READ_HEADER_BYTES and fails the request with
  431 above MAX_HEADER_BYTES, instead of closing the connection at 64 KB;
- ``read_until(b"\\r\\n")`` (a chunk-size line) drops chunk extensions (RFC 9112, 7.1.1), and
  fails the request with 400 when the line ends in a bare LF: Tornado looked for CRLF and waited
  for the body timeout, or for 1 KB more.
"""
from __future__ import annotations

import json
import re
import sys
from asyncio import Future

from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPInputError, responses
from tornado.iostream import IOStream

TORNADO_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\n\r\n"  # what Tornado writes on any HTTPInputError
MAX_HEADER_BYTES = 64 * 1024  # a request line and headers above this are answered with 431
READ_HEADER_BYTES = 1024 * 1024  # ... when they end within this; beyond it the connection is closed
MAX_CHUNK_LINE_BYTES = 1024  # a chunk-size line with its extensions
CHUNK_EXTENSION = re.compile(rb"[ \t]*;[^\r\n]*(?=\r\n$)")
# Tornado's messages for bodies over the limit (http1connection.py); everything else is a 400.
TOO_LARGE = re.compile(r"too (long|large)", re.IGNORECASE)


class HeadersTooLarge(HTTPInputError):
    """Request headers over MAX_HEADER_BYTES."""


def error_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 answer carrying the JSON error, closing the connection."""
    body = json.dumps({"error": {"status": status, "message": message}}).encode()
    head = (f"HTTP/1.1 {status} {responses.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def input_error_status(error: BaseException | None) -> tuple[int, str]:
    """The status and message for the HTTPInputError Tornado is handling."""
    message = str(error)[:300] if error is not None else "malformed HTTP request"
    if isinstance(error, HeadersTooLarge):
        return 431, message
    if TOO_LARGE.search(message):
        return 413, f"body over the limit ({message})"
    return 400, f"malformed HTTP request: {message}"


def _then(future: Future, transform) -> Future:
    """A future of ``transform(result)``; exceptions (and those transform raises) pass through."""
    result: Future = Future()

    def done(source: Future) -> None:
        if source.cancelled():
            result.cancel()
        elif source.exception() is not None:
            result.set_exception(source.exception())
        else:
            try:
                result.set_result(transform(source.result()))
            except HTTPInputError as err:
                result.set_exception(err)

    future.add_done_callback(done)
    return result


def _headers_within_limit(data: bytes) -> bytes:
    if len(data) > MAX_HEADER_BYTES:
        raise HeadersTooLarge(f"request headers of {len(data)} bytes, over the {MAX_HEADER_BYTES // 1024} KB limit")
    return data


def _chunk_size_line(line: bytes) -> bytes:
    """A chunk-size line read up to its LF, without its chunk extensions; 400 unless it ends in CRLF."""
    if not line.endswith(b"\r\n"):
        raise HTTPInputError("a chunk-size line ends in a bare LF; HTTP/1.1 lines end in CRLF")
    return CHUNK_EXTENSION.sub(b"", line)


def adapt_stream(stream: IOStream) -> None:
    """Adapt one connection's stream as the module docstring says."""
    write, read_until, read_until_regex = stream.write, stream.read_until, stream.read_until_regex

    def json_errors_write(data, *args, **kwargs):
        if data == TORNADO_BAD_REQUEST:
            data = error_response(*input_error_status(sys.exc_info()[1]))
        return write(data, *args, **kwargs)

    def read_headers(regex, max_bytes=None):
        return _then(read_until_regex(regex, max_bytes=READ_HEADER_BYTES), _headers_within_limit)

    def read_line(delimiter, max_bytes=None):
        if delimiter != b"\r\n":
            return read_until(delimiter, max_bytes=max_bytes)
        return _then(read_until(b"\n", max_bytes=MAX_CHUNK_LINE_BYTES), _chunk_size_line)

    stream.write, stream.read_until, stream.read_until_regex = json_errors_write, read_line, read_headers


class JsonErrorsHTTPServer(HTTPServer):
    """HTTPServer whose connections answer malformed requests with JSON (see the module docstring)."""

    def handle_stream(self, stream: IOStream, address: tuple) -> None:
        adapt_stream(stream)
        super().handle_stream(stream, address)
