"""Generators of hostile input files (issue 18): written by code at test time, never
committed. Every generator streams, so a file with 1 GiB inside is made in a few MB of
memory and about a second."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable
from pathlib import Path

GIB = 1 << 30
_PIECE = 1 << 20


def repeated(unit: bytes, total: int) -> Iterable[bytes]:
    """``unit`` repeated to ``total`` bytes, in pieces of about 1 MiB."""
    piece = unit * max(1, _PIECE // len(unit))
    left = total
    while left > 0:
        yield piece[:left]
        left -= len(piece)


def gzip_bytes(pieces: Iterable[bytes], *, level: int = 9) -> bytes:
    """One gzip member of the concatenated ``pieces`` (a bomb of 1 GiB is about 1 MB)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    out = [compressor.compress(piece) for piece in pieces]
    out.append(compressor.flush())
    return b"".join(out)


def write_gzip(path: Path, *parts: Iterable[bytes]) -> Path:
    """A gzip file of the parts, each an iterable of byte pieces."""
    path.write_bytes(gzip_bytes(piece for part in parts for piece in part))
    return path


def warc_record(warc_type: str, uri: str, block: bytes, content_type: str) -> bytes:
    header = (
        f"WARC/1.0\r\nWARC-Type: {warc_type}\r\nWARC-Record-ID: <urn:uuid:{abs(hash(uri))}>\r\n"
        f"WARC-Date: 2024-05-01T00:00:00Z\r\nWARC-Target-URI: {uri}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    )
    return header.encode() + block + b"\r\n\r\n"


def html_response(uri: str, body: bytes, encoding: str = "") -> bytes:
    """A WARC response record of an HTML page, its body sent with ``encoding``."""
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    if encoding:
        head += f"Content-Encoding: {encoding}\r\n"
    block = head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    return warc_record("response", uri, block, "application/http; msgtype=response")


def page(word: str) -> bytes:
    paragraphs = "".join(f"<p>{word} paragraph {n} of an honest article.</p>" for n in range(6))
    return f"<html><body><main>{paragraphs}</main></body></html>".encode()


def warc_with_body_bomb(path: Path, inside: int = GIB) -> Path:
    """A gzip'd WARC: a good page, a page whose gzip-encoded body holds ``inside`` bytes
    of HTML, and another good page (issue 18, H1: 1 MB that became a 9 GB worker)."""
    bomb = gzip_bytes(repeated(b"<p>a</p>", inside))
    records = [
        html_response("https://good.example/1", page("First")),
        html_response("https://bomb.example/", bomb, encoding="gzip"),
        html_response("https://good.example/2", page("Second")),
    ]
    path.write_bytes(gzip.compress(b"".join(records)))
    return path


def nested_json_line(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth + b"\n"
