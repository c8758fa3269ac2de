"""Streaming readers: a file or folder in, :class:`RawDocument` and :class:`ReadProblem` out.

Every reader is a generator that holds one record at a time (a line, a WARC record, one
text file of a folder), so a multi-GB crawl is read in constant memory. Bad input never
raises past a reader: a bad record becomes a ReadProblem naming its place and the reader
goes on with the next one; a damaged compressed stream (which cannot be resynchronised)
ends that source with one ReadProblem, keeping what was read before it. Only a source that
cannot be opened at all raises :class:`CurationInputError`, with one line naming the path.

A caveat on corrupt (not truncated) gzip: deflate has no checksum until the end of a
member, so the bytes inflated from the damaged part come out first, mostly as
``malformed_json`` lines but now and then as a well-formed document with damaged text,
and the ``corrupt_stream`` problem comes at the member's end. Treat the documents of a
file with a ``corrupt_stream`` problem as suspect.

Formats (:data:`FORMATS`): ``jsonl`` (one JSON object a line), ``lines`` (each non-blank
line of a text file is a document), ``text`` (a folder of ``.txt`` files, one document
each), ``warc`` (HTML of HTTP ``response`` records, main content extracted with
resiliparse) and ``wet`` (text of Common Crawl ``conversion`` records). Any file may be
gzip- or zstd-compressed: :func:`open_binary` decides by magic bytes, not by name.

Locators:

- ``line N``: 1-based line number in the decompressed text (``jsonl``, ``lines``).
- ``offset N``: where the WARC record starts, in bytes from the start of the
  *decompressed* stream (fastwarc's ``stream_pos`` over the stream decompressed here; for
  an uncompressed file, the file offset). It is not the offset of the gzip member, which
  a CDX index gives.
- ``file rel/path``: a file of a ``text`` folder, relative to it, with ``/`` separators.

Problem kinds: ``malformed_json``, ``not_an_object``, ``missing_text``, ``not_utf8``,
``truncated`` (the stream or record ends early), ``corrupt_stream`` (compressed data the
codec rejects), ``corrupt_record`` (a WARC record or HTTP message fastwarc cannot parse),
``undecodable_html`` (an HTML payload that cannot be decoded or parsed) and
``unreadable`` (a file or subfolder of a ``text`` folder that cannot be opened).

Speed on one core, on C4-like documents (2.5 kB of text): JSONL about 90k documents/s
(230 MB/s) plain and 50k/s gzip'd. WARC about 1 ms per HTML page (1,000 pages/s over the
real samples in ../shared/data), three quarters of it resiliparse's main-content
extraction and most of the rest inflating gzip.

The modules, one job each: ``dispatch`` (:func:`read_documents`, :func:`guess_format`),
``opening`` (opening a source: :func:`open_binary`, on the kernel's
:mod:`paddock.kernel.compressed`), ``lines`` (``jsonl`` and ``lines``, on the kernel's
line reader), ``folders`` (``text``), ``warc`` (``warc`` and ``wet``) and ``fingerprint``.
"""

from paddock.curation.core.readers.dispatch import FORMATS, guess_format, read_documents
from paddock.curation.core.readers.fingerprint import file_fingerprint
from paddock.curation.core.readers.opening import open_binary
from paddock.kernel.compressed import DamagedStreamError

__all__ = [
    "FORMATS",
    "DamagedStreamError",
    "file_fingerprint",
    "guess_format",
    "open_binary",
    "read_documents",
]
