"""What a report's CSV says, read as it streams past: hash, row count, header and its drift.

A download may already be gzip; it is recognised by its first bytes and inflated on the side, in
bounded pieces, only to be inspected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import zlib
from collections.abc import Iterator, Sequence

from bwp import errors

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib's way of saying "gzip container" (16 + the 32 KiB window)

# A gzip download is inflated (to inspect it) in pieces of at most this size: a small body
# that inflates hugely cannot blow up the memory.
MAX_INFLATE_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024


def peek_gzip(chunks: Iterator[bytes]) -> tuple[bool, Iterator[bytes]]:
    """(whether the stream starts as gzip, all of the stream) after reading just enough to tell."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(GZIP_MAGIC):
            break
    return head.startswith(GZIP_MAGIC), itertools.chain((head,), chunks)


class Gunzip:
    """Inflates a gzip stream (one or more members) in bounded pieces."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(GZIP_WBITS)

    def inflate(self, data: bytes) -> Iterator[bytes]:
        try:
            while True:
                if self._inflater.eof and data:
                    # Concatenated members are one valid gzip stream.
                    self._inflater = zlib.decompressobj(GZIP_WBITS)
                text = self._inflater.decompress(data, MAX_INFLATE_BYTES)
                if text:
                    yield text
                if self._inflater.eof:
                    data = self._inflater.unused_data
                    if not data:
                        return
                else:
                    data = self._inflater.unconsumed_tail
                    # A full piece may leave output inside zlib even with no input left.
                    if not data and len(text) < MAX_INFLATE_BYTES:
                        return
        except zlib.error as error:
            raise errors.UnexpectedApiResponse(f"the download starts as gzip but is not valid gzip: {error}") from None

    def finish(self) -> None:
        if not self._inflater.eof:
            raise errors.UnexpectedApiResponse("the download starts as gzip but its gzip stream is truncated")


class CsvInspector:
    """SHA-256, record count and header of CSV text fed in arbitrary pieces."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self._size = 0
        self._line_ends = 0  # newlines outside quoted fields
        self._in_quotes = False
        self._last_byte = b""
        self._header = bytearray()

    def update(self, text: bytes) -> None:
        if not text:
            return
        self.sha256.update(text)
        self._size += len(text)
        if not self._line_ends and len(self._header) < MAX_HEADER_BYTES:
            self._header += text[: MAX_HEADER_BYTES - len(self._header)]
        # Quote parity: a newline ends a record only outside quotes. Splitting on '"' alternates
        # outside/inside segments; an escaped quote ("") is an empty segment and changes nothing.
        # Several times faster than csv.reader, and exact for RFC 4180 CSV.
        if not self._in_quotes and b'"' not in text:
            self._line_ends += text.count(b"\n")
        else:
            segments = text.split(b'"')
            inside = segments[0::2] if self._in_quotes else segments[1::2]
            self._line_ends += text.count(b"\n") - b"".join(inside).count(b"\n")
            if len(segments) % 2 == 0:
                self._in_quotes = not self._in_quotes
        self._last_byte = text[-1:]

    @property
    def header_read(self) -> bool:
        """Whether the header line has passed (or as much of it as is kept)."""
        return bool(self._line_ends) or len(self._header) >= MAX_HEADER_BYTES

    def columns(self) -> tuple[str, ...]:
        """The header's columns, from what has passed so far."""
        header = next(csv.reader(io.StringIO(self._header.decode("utf-8-sig", errors="replace"))), [])
        if not header:
            raise errors.EmptyReport(f"the download has no header line ({self._size} bytes of CSV)")
        return tuple(header)

    def finish(self) -> tuple[tuple[str, ...], int]:
        """(header columns, data rows); a blank line counts as a row, as a text table reads it."""
        columns = self.columns()
        records = self._line_ends + (self._last_byte != b"\n")
        return columns, records - 1


def compare_columns(columns: Sequence[str], expected: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(missing, unexpected, order differs) of a header against the expected columns."""
    missing = tuple(name for name in expected if name not in columns)
    unexpected = tuple(name for index, name in enumerate(columns) if name not in expected or name in columns[:index])
    seen = list(dict.fromkeys(name for name in columns if name in expected))
    return missing, unexpected, seen != [name for name in expected if name in columns]
