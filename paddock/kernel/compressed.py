"""Open a file that may be gzip- or zstd-compressed, told by its magic bytes, in bounded memory.

Every reader of files that cross between the web side, the curation pipeline and training
opens them here, so a ``.jsonl.zst`` that one side reads is never a wall of "not UTF-8"
lines to another (the HH-RLHF bug of issue 16: 3 pairs through the importer, 0 through
the reward trainer, because the trainer only knew gzip).

Detection is by content rather than by name, because files are renamed and mislabelled (a
``.jsonl`` that is gzip, a ``.gz`` that is not). Multi-member gzip and multi-frame zstd
are read whole. A damaged compressed stream raises :class:`DamagedStreamError` from
``read`` once every intact byte has been returned, and so does a stream that decompresses
to more than the file limit (``too_large``, :mod:`paddock.kernel.limits`), once the bytes
up to the limit have been returned: a gzip bomb is cut, never held. A file that cannot be
opened raises the operating system's own :class:`OSError` (``FileNotFoundError``, ...),
which each caller words for its users.
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import zstandard

from paddock.kernel.limits import ReadLimits, read_limits

__all__ = ["DamagedStreamError", "inflate_zlib", "open_compressed"]

PathLike = str | os.PathLike[str]

_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_CHUNK: Final = 1 << 16
# Compressed bytes fed to a codec at a time. A call that fails returns nothing, so the
# text of up to one such chunk just before a detected error is lost; 16 KiB costs no
# measurable speed against 64 KiB. zstd gets 1 KiB: its decompressobj has no output cap,
# and 1 KiB of zstd can hold 32 MiB (16 KiB held 512 MiB).
_COMPRESSED_CHUNK: Final = 1 << 14
_ZSTD_CHUNK: Final = 1 << 10
# Output cap per zlib call: a gzip bomb inflates piecewise instead of all at once.
_MAX_PIECE: Final = 1 << 20
# Decompressed bytes always allowed before the compression ratio is checked, so a small
# file of repeated lines (a test fixture) is never refused. Also the most blank lines a
# bomb of newlines can make a reader step through: about 4 million, some seconds.
RATIO_FLOOR: Final = 4 << 20


class DamagedStreamError(OSError):
    """A compressed stream ends early (``truncated``), holds data its codec rejects
    (``corrupt_stream``) or decompresses past the file limit (``too_large``); readers turn
    it into a ReadProblem of that kind."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class _Decoder(Protocol):
    """What zlib's and zstandard's decompression objects have in common."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Codec:
    name: str
    unit: str  # what one independently compressed piece is called: gzip member, zstd frame
    chunk: int  # compressed bytes fed at a time
    new: Callable[[], Any]
    inflate: Callable[[Any, bytes], Iterator[bytes]]


def inflate_zlib(decoder: Any, data: bytes) -> Iterator[bytes]:
    """Inflate in pieces of at most _MAX_PIECE bytes, so memory stays bounded.

    A full piece may leave input unread (``unconsumed_tail``) or output pending inside
    zlib, so another call follows until a piece comes out short or the member ends.
    """
    piece = decoder.decompress(data, _MAX_PIECE)
    yield piece
    while len(piece) == _MAX_PIECE and not decoder.eof:
        piece = decoder.decompress(decoder.unconsumed_tail, _MAX_PIECE)
        yield piece


def _inflate_zstd(decoder: Any, data: bytes) -> Iterator[bytes]:
    """zstandard's decompressobj has no output cap; the 1 KiB input chunk bounds it."""
    yield decoder.decompress(data)


_GZIP = _Codec(
    "gzip", "member", _COMPRESSED_CHUNK, lambda: zlib.decompressobj(wbits=31), inflate_zlib
)
_ZSTD = _Codec(
    "zstd", "frame", _ZSTD_CHUNK, lambda: zstandard.ZstdDecompressor().decompressobj(),
    _inflate_zstd,
)


def _decompressed_chunks(raw: BinaryIO, codec: _Codec, limits: ReadLimits) -> Iterator[bytes]:
    """The decompressed bytes of a multi-member gzip or multi-frame zstd stream, within
    ``limits`` (then a ``too_large`` DamagedStreamError).

    Written on the codecs' decompression objects rather than on gzip.GzipFile or
    zstandard's stream reader because both of those lose data next to damage: GzipFile
    drops what it inflated in a read that then fails, and the zstd stream reader ends
    silently on a truncated frame. Here every byte that can be inflated comes out first,
    then one :class:`DamagedStreamError` says what is wrong and where.
    """
    decoder: _Decoder | None = None
    data = b""
    read = produced = 0
    while True:
        if not data:
            data = raw.read(codec.chunk)
            read += len(data)
            if not data:
                if decoder is not None:
                    raise DamagedStreamError(
                        "truncated",
                        f"{codec.name} stream ends inside a {codec.unit} at compressed byte "
                        f"{read} ({produced} bytes decompressed)",
                    )
                return
        if decoder is None:
            if codec is _GZIP and not data.strip(b"\0"):
                data = b""  # zero padding after the last member, which gzip(1) accepts
                continue
            decoder = codec.new()
        try:
            for piece in codec.inflate(decoder, data):
                room = _room(limits, produced, read)
                if len(piece) > room:
                    yield piece[:room]
                    raise _too_large(limits, produced + room, read)
                produced += len(piece)
                yield piece
        except (zlib.error, zstandard.ZstdError) as exc:
            raise DamagedStreamError(
                "corrupt_stream",
                f"{codec.name} data is corrupt near compressed byte {read} "
                f"({produced} bytes decompressed): {exc}",
            ) from exc
        data = b""
        if decoder.eof:
            data, decoder = decoder.unused_data, None


def _room(limits: ReadLimits, produced: int, read: int) -> int:
    """How many more decompressed bytes the limits allow, ``read`` compressed bytes in:
    up to the file limit, and past RATIO_FLOOR only ``compression_ratio`` times what was
    read (honest text compresses 3 to 20 times; a bomb 1,000 times)."""
    by_ratio = max(RATIO_FLOOR, limits.compression_ratio * read)
    return max(0, min(limits.file_bytes, by_ratio) - produced)


def _too_large(limits: ReadLimits, produced: int, read: int) -> DamagedStreamError:
    if produced >= limits.file_bytes:
        why = f"to more than {limits.file_bytes:,} bytes (PADDOCK_MAX_FILE_DECOMPRESSED_BYTES)"
    else:
        why = (
            f"to more than {limits.compression_ratio} times its compressed size, "
            f"{produced:,} bytes from {read:,} (PADDOCK_MAX_COMPRESSION_RATIO): a "
            "compression bomb?"
        )
    return DamagedStreamError(
        "too_large", f"the file decompresses {why}; the rest is not read"
    )


class _ChunkStream(io.RawIOBase):
    """A raw binary stream over an iterator of byte chunks (the decompressed output)."""

    def __init__(self, chunks: Iterator[bytes], owned: BinaryIO) -> None:
        super().__init__()
        self._chunks = chunks
        self._owned = owned
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def close(self) -> None:
        if not self.closed:
            self._owned.close()
        super().close()


def open_compressed(path: PathLike, *, limits: ReadLimits | None = None) -> io.BufferedReader:
    """Open a file for reading bytes, decompressing gzip or zstd found by magic bytes.

    A compressed file gives at most ``limits.file_bytes``, and past the first
    :data:`RATIO_FLOOR` bytes at most ``limits.compression_ratio`` times the compressed
    bytes read (default: the configured limits, :func:`paddock.kernel.limits.read_limits`);
    then ``read`` raises a ``too_large`` :class:`DamagedStreamError`. A plain file is read
    as stored: its size on disk is its bound.

    Raises:
        OSError: the file is missing, is a folder or cannot be opened, as the operating
            system says (FileNotFoundError carries the path as ``filename``).
    """
    # A path, or an object that opens itself (a curation source on an fsspec file system).
    raw = path.open("rb") if hasattr(path, "open") else Path(path).open("rb")
    magic = raw.peek(len(_ZSTD_MAGIC))[: len(_ZSTD_MAGIC)]
    if magic.startswith(_GZIP_MAGIC):
        codec = _GZIP
    elif magic.startswith(_ZSTD_MAGIC):
        codec = _ZSTD
    else:
        return raw
    chunks = _decompressed_chunks(raw, codec, limits or read_limits())
    return io.BufferedReader(_ChunkStream(chunks, raw), _CHUNK)
