"""The recipe's vocabulary is the Llama 2 paper's, and every part takes it from the kernel.

The values are what the database stores and the export writes, so a change here is a
change of data format: the tables below are spelled out by hand, not computed.
"""

import pytest

from paddock.annotation import models, quality
from paddock.kernel import vocabulary
from paddock.training import recipe


def test_axes_are_helpfulness_then_safety():
    assert vocabulary.AXES == ("helpfulness", "safety")
    assert vocabulary.AXIS_LABELS == {"helpfulness": "Helpfulness", "safety": "Safety"}


def test_strengths_are_the_four_levels_strongest_first():
    """Section 3.2.1: significantly better, better, slightly better, negligibly better/unsure."""
    assert vocabulary.STRENGTHS == (
        "significantly_better", "better", "slightly_better", "negligibly_better"
    )
    assert list(vocabulary.STRENGTH_LABELS.items()) == [
        ("significantly_better", "Significantly better"),
        ("better", "Better"),
        ("slightly_better", "Slightly better"),
        ("negligibly_better", "Negligibly better / unsure"),
    ]


def test_margin_tables_are_table_28():
    """Section 3.2.2, table 28: margin small 1, 2/3, 1/3, 0; margin large 3, 2, 1, 0."""
    assert list(vocabulary.MARGINS) == ["none", "small", "large"]
    by_level = {
        table: [margins[strength] for strength in vocabulary.STRENGTHS]
        for table, margins in vocabulary.MARGINS.items()
    }
    assert by_level == {
        "none": [0.0, 0.0, 0.0, 0.0],
        "small": [1.0, 2 / 3, 1 / 3, 0.0],
        "large": [3.0, 2.0, 1.0, 0.0],
    }
    for margins in vocabulary.MARGINS.values():
        assert tuple(margins) == vocabulary.STRENGTHS


def test_risk_categories_are_the_papers_three():
    assert list(vocabulary.RISK_CATEGORY_LABELS.items()) == [
        ("illicit_criminal", "Illicit and criminal activities"),
        ("hateful_harmful", "Hateful and harmful activities"),
        ("unqualified_advice", "Unqualified advice"),
        ("not_categorised", "Not categorised"),
    ]
    assert vocabulary.RISK_CATEGORIES == (
        "illicit_criminal", "hateful_harmful", "unqualified_advice")
    assert vocabulary.STORED_RISK_CATEGORIES == tuple(vocabulary.RISK_CATEGORY_LABELS)


def test_people_pick_only_the_papers_three_categories():
    """Not categorised is for public data that came without one, never a person's choice."""
    assert [value for value, _ in models.PICKABLE_RISK_CATEGORIES] == list(
        vocabulary.RISK_CATEGORIES)
    assert "not_categorised" in models.RiskCategory.values


@pytest.mark.parametrize(("chosen_safe", "rejected_safe", "expected"), [
    (True, False, "preferred_safe_other_unsafe"),
    (True, True, "both_safe"),
    (False, False, "both_unsafe"),
    (False, True, "preferred_unsafe_other_safe"),
    (None, True, None),
    (True, None, None),
])
def test_safety_bins(chosen_safe, rejected_safe, expected):
    assert vocabulary.safety_bin(chosen_safe, rejected_safe) == expected
    found = models.safety_bin(chosen_safe, rejected_safe)
    assert found == expected
    assert found is None or isinstance(found, models.SafetyBin)
    assert vocabulary.SAFETY_BINS == tuple(vocabulary.SAFETY_BIN_LABELS)


@pytest.mark.parametrize(("choices", "labels"), [
    (models.Axis, vocabulary.AXIS_LABELS),
    (models.Strength, vocabulary.STRENGTH_LABELS),
    (models.RiskCategory, vocabulary.RISK_CATEGORY_LABELS),
    (models.SafetyBin, vocabulary.SAFETY_BIN_LABELS),
])
def test_annotation_choices_are_the_kernels_words(choices, labels):
    assert choices.choices == list(labels.items())
    for value in labels:
        assert getattr(choices, value.upper()) == value


def test_the_export_margins_are_the_kernels_and_the_recipe_keeps_no_copy():
    assert models.MARGINS == {"small": vocabulary.MARGINS["small"],
                              "large": vocabulary.MARGINS["large"]}
    for word in ("MARGINS", "STRENGTHS", "AXES", "HELPFULNESS", "SAFETY", "BETTER"):
        assert not hasattr(recipe, word), f"paddock.training.recipe holds a copy of {word}"
    assert quality.STRENGTHS is vocabulary.STRENGTHS


def test_the_reward_data_formats_are_the_ones_the_trainer_reads():
    """A plan is checked against the kernel's list; the trainer's table must hold the same
    names, or a plan that passed the check would fail a week later in training."""
    from paddock.training.reward.cli import FORMATS

    assert set(FORMATS) == set(vocabulary.REWARD_DATA_FORMATS)
