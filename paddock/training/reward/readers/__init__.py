"""Streaming readers that turn preference files into :class:`PreferencePair`s.

One reader per format: the platform's own export, Anthropic HH-RLHF transcripts,
OpenAssistant ranked message trees and UKP ConvArg1 vote counts. Each reader function
returns a :class:`PairReader`: iterate it to stream pairs in constant memory; its
``report`` (a :class:`ReadReport`) then says how many records were read, how many pairs
came out and why every other record was skipped. Files may be plain, gzip'd or zstd'd
(told by the magic bytes, not the name: :mod:`paddock.kernel.compressed`).

Two kinds of "not a pair", kept apart on purpose:

- *skips* are well-formed records the data legitimately holds but that make no training
  pair (HH-RLHF's identical transcripts, a ConvArg tie). They are counted by reason and
  never raise: they are part of the real data.
- *errors* are malformed records (not JSON, a missing or mistyped field). By default
  they are counted under a ``malformed ...`` reason and listed in ``report.errors`` with
  file, line and field, so a bad line never disappears unseen; with ``strict=True`` the
  first one raises :class:`PairFormatError` naming file, line and field instead.

Either way, for the line-per-pair formats ``report.records == report.pairs +
sum(report.skipped.values())``: nothing is dropped without a reason.

The modules, one job each: ``report`` (the report and the error), ``reader`` (the reader
all formats share, on the kernel's JSONL reader, and their field helpers), and one module
a format: ``paddock_export``, ``hh_rlhf``, ``oasst``, ``ukp``.
"""

from paddock.training.reward.readers.hh_rlhf import read_hh_rlhf
from paddock.training.reward.readers.oasst import oasst_strength, read_oasst_trees
from paddock.training.reward.readers.paddock_export import read_paddock_export
from paddock.training.reward.readers.reader import PairReader, Parsed, Skip
from paddock.training.reward.readers.report import PairFormatError, Problem, ReadReport
from paddock.training.reward.readers.ukp import read_ukp_convarg, ukp_prompt, ukp_strength

__all__ = [
    "PairFormatError",
    "PairReader",
    "Parsed",
    "Problem",
    "ReadReport",
    "Skip",
    "oasst_strength",
    "read_hh_rlhf",
    "read_oasst_trees",
    "read_paddock_export",
    "read_ukp_convarg",
    "ukp_prompt",
    "ukp_strength",
]
