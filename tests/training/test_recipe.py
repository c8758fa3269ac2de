"""The recipe's tables agree with the platform's copies (the web never imports training)."""

import pytest

from paddock.annotation import models
from paddock.training import recipe


@pytest.mark.parametrize("table", ["small", "large"])
def test_margin_tables_match_the_annotation_models(table):
    platform = {str(strength): margin for strength, margin in models.MARGINS[table].items()}
    assert platform == recipe.MARGINS[table]


def test_strength_levels_and_axes_match_the_annotation_choices():
    assert tuple(models.Strength.values) == recipe.STRENGTHS
    assert tuple(models.Axis.values) == recipe.AXES


@pytest.mark.parametrize("table", sorted(recipe.MARGINS))
def test_margins_shrink_with_strength_and_negligible_costs_nothing(table):
    margins = [recipe.MARGINS[table][strength] for strength in recipe.STRENGTHS]
    assert margins == sorted(margins, reverse=True)
    assert margins[-1] == 0.0


def test_mix_constants_are_the_papers():
    assert recipe.HELPFULNESS_MIX_OTHER_RATIO == 1.0
    assert recipe.SAFETY_MIX_HELPFULNESS_SHARE == 0.1
