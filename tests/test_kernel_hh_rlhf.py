"""One HH-RLHF parser: the annotation importer and the reward trainer read a file alike.

Issue 16 measured it: the same zstd HH-RLHF file gave 3 pairs through the importer and 0
through ``python -m paddock.training.reward train`` (skipped silently unless strict).
"""

import json

import pytest
import zstandard

from paddock.annotation.importers import ParsedPreference
from paddock.annotation.importers import read_hh_rlhf as import_hh_rlhf
from paddock.kernel.hh_rlhf import HHTranscriptError, HHTurn, parse_hh_transcript
from paddock.training.reward import cli
from paddock.training.reward.readers import read_hh_rlhf as train_hh_rlhf

RECORDS = [
    {"chosen": "\n\nHuman: How do I boil an egg?\n\nAssistant: Simmer it for 9 minutes.",
     "rejected": "\n\nHuman: How do I boil an egg?\n\nAssistant: Eggs are oval."},
    {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a prime.\n\nAssistant: 7",
     "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a prime.\n\nAssistant: 8"},
    {"chosen": "\n\nHuman: Say hi.\n\nAssistant: Hi! Human: is a word I quote.",
     "rejected": "\n\nHuman: Say hi.\n\nAssistant: No."},
]


@pytest.fixture
def zstd_file(tmp_path):
    path = tmp_path / "helpful-base" / "train.jsonl.zst"
    path.parent.mkdir()
    data = "".join(json.dumps(record) + "\n" for record in RECORDS).encode()
    path.write_bytes(zstandard.ZstdCompressor().compress(data))
    return path


def test_a_zstd_hh_file_gives_the_same_pairs_to_the_importer_and_the_trainer(zstd_file):
    imported = [item for item in import_hh_rlhf(zstd_file) if isinstance(item, ParsedPreference)]
    reader = train_hh_rlhf(zstd_file, "helpfulness", strict=True)
    trained = list(reader)
    assert len(imported) == len(trained) == 3
    assert reader.report.skipped == {}
    for parsed, pair in zip(imported, trained, strict=True):
        assert (parsed.chosen, parsed.rejected) == (pair.chosen, pair.rejected)
        assert [(t.role, t.content) for t in parsed.turns] == [
            (t.role, t.content) for t in pair.context
        ]


def test_the_reward_cli_reads_a_zstd_hh_file(zstd_file):
    assert len(list(cli.FORMATS["hh-helpful"](str(zstd_file)))) == 3


def test_the_parser_splits_on_blank_line_markers_and_may_start_without_one():
    assert parse_hh_transcript("Human: a\n\nAssistant: b Human: c") == (
        HHTurn("user", "a"), HHTurn("assistant", "b Human: c"),
    )
    with pytest.raises(HHTranscriptError) as caught:
        parse_hh_transcript("preamble\n\nHuman: a")
    assert caught.value.reason == "text_before_marker"
