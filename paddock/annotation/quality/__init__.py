"""Quality-control statistics for pairwise preference annotation.

Annotators judge *comparisons*: two responses to one conversation. A judgement names the better
response and how much better it is, on the four-step scale of the Llama 2 paper (Touvron et al.,
2023, section 3.2.1): ``significantly_better``, ``better``, ``slightly_better`` and
``negligibly_better`` ("negligibly better / unsure"). Some comparisons are judged by several
annotators (the batch's overlap) and some are *gold*, with a known correct choice. This module
turns plain :class:`Rating` records into what a data manager needs to check a batch: percent
agreement, Cohen's and Fleiss' kappa (on the choice, on the strength, and on both), a
quadratic-weighted kappa on the signed strength, gold accuracy per annotator, median time per
judgement and the distribution of strengths. :func:`agreement_report` gathers all of it into one
JSON-serialisable dict.

It is deliberately plain Python (no Django, no ORM, no numpy): the web process builds the records
from the database, and tests and notebooks can use the same code on synthetic data. Every
statistic groups the ratings once with dicts and Counters; the only pairwise loops run over the
raters *within* one comparison (the overlap, 2-5 in practice), never over all ratings, so a
million ratings take a few seconds.

Conventions
-----------
Items and qualifying items
    An *item* is a comparison. Agreement needs at least two ratings of the same item, so every
    agreement statistic ignores items with a single rating. A rater may rate an item at most once;
    a repeated ``(item, rater)`` pair among the qualifying items raises :class:`ValueError`
    (deduplicate first, e.g. keep the latest judgement).

What is compared (``on``)
    ``"choice"`` compares the chosen response, ``"strength"`` the strength alone (whichever response
    it was given to), ``"choice_strength"`` the pair ``(choice, strength)``. The choice is the
    *identity* of the chosen response, never the screen side: sides are randomised per annotator,
    so "left" means a different response to different annotators.

Chance agreement for the choice (``choice_labels``)
    Kappa corrects observed agreement for the agreement expected by chance, which Cohen (1960) and
    Fleiss (1971) estimate from the *marginal* distribution of the categories, pooled over items.
    That presumes the categories mean the same thing on every item. Response identities do not:
    each comparison has its own two responses, so pooled marginals would be spread over thousands
    of response ids, the chance term would vanish and kappa would collapse into percent agreement.

    - ``choice_labels="response"`` (the default; what the platform records): a choice is a response
      id, meaningful only within its comparison. Which of the two responses is "first" is
      arbitrary, so the choice part of the marginal distribution is *symmetrised*: each rating
      counts half for each orientation of its comparison. For ``on="choice"`` the chance agreement
      is then exactly 1/2: two annotators whose choice ignores the content agree half of the time
      (with sides randomised per annotator, even a side bias does not help them agree). Kappa on
      the choice reduces to Bennett, Alpert & Goldstein's (1954) S = 2 p_o - 1. For
      ``on="choice_strength"`` the chance agreement is ``1/2 * sum_s p_s q_s`` (Cohen) or
      ``1/2 * sum_s p_s^2`` (Fleiss) over the strengths s. A comparison with more than two distinct
      chosen responses is a data error and raises :class:`ValueError`.
    - ``choice_labels="category"``: the choice values are categories shared by all items (for
      example the comparison's stored slot ``"a"``/``"b"``, or nominal data from elsewhere), and the
      textbook pooled marginals are used unchanged.

    ``on="strength"`` always uses the textbook marginals: strengths are shared categories.

Which kappa for many raters
    :func:`cohens_kappa` is Cohen's (1960) kappa when the ratings come from exactly two raters,
    and Light's (1971) kappa otherwise: the unweighted mean of the pairwise Cohen's kappas over the
    rater pairs that share at least ``min_shared`` items. :func:`fleiss_kappa` is Fleiss' (1971)
    kappa, generalised to a varying number of ratings per item (see its docstring).

References
----------
- Bennett, E. M., Alpert, R., & Goldstein, A. C. (1954). Communications through limited-response
  questioning. *Public Opinion Quarterly*, 18(3), 303-308.
- Cohen, J. (1960). A coefficient of agreement for nominal scales. *Educational and Psychological
  Measurement*, 20(1), 37-46.
- Cohen, J. (1968). Weighted kappa: Nominal scale agreement with provision for scaled disagreement
  or partial credit. *Psychological Bulletin*, 70(4), 213-220.
- Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. *Psychological
  Bulletin*, 76(5), 378-382.
- Fleiss, J. L., & Cohen, J. (1973). The equivalence of weighted kappa and the intraclass
  correlation coefficient as measures of reliability. *Educational and Psychological
  Measurement*, 33(3), 613-619.
- Light, R. J. (1971). Measures of response agreement for qualitative data: Some generalizations
  and alternatives. *Psychological Bulletin*, 76(5), 365-377.
- Touvron, H., et al. (2023). Llama 2: Open foundation and fine-tuned chat models.
  arXiv:2307.09288, section 3.2.1.

Layout
------
The package holds one step of the computation per module, and re-exports the public names, so
``from paddock.annotation.quality import agreement_report`` is all a caller needs:

- :mod:`.ratings`: :class:`Rating`, the arguments' vocabulary, and the single grouping pass
  every statistic starts from;
- :mod:`.agreement`: nominal agreement: percent agreement, Fleiss' kappa, Cohen's (pairwise) and
  Light's kappa;
- :mod:`.ordinal`: the quadratic-weighted kappa on the signed strength;
- :mod:`.summaries`: per-rating summaries (gold accuracy, median time, strength distribution);
- :mod:`.report`: :func:`agreement_report`, all of it for one batch.
"""

from __future__ import annotations

from paddock.annotation.quality.agreement import (
    DEFAULT_MIN_SHARED,
    PairwiseKappa,
    cohens_kappa,
    fleiss_kappa,
    pairwise_cohens_kappa,
    percent_agreement,
)
from paddock.annotation.quality.ordinal import SIGNED_STRENGTH_SCORES, weighted_strength_kappa
from paddock.annotation.quality.ratings import ATTRIBUTES, Attribute, ChoiceLabels, Rating
from paddock.annotation.quality.report import agreement_report
from paddock.annotation.quality.summaries import (
    GoldScore,
    MedianSeconds,
    gold_accuracy,
    median_seconds,
    strength_distribution,
)
from paddock.kernel.vocabulary import STRENGTHS

__all__ = [
    "ATTRIBUTES",
    "DEFAULT_MIN_SHARED",
    "SIGNED_STRENGTH_SCORES",
    "STRENGTHS",
    "Attribute",
    "ChoiceLabels",
    "GoldScore",
    "MedianSeconds",
    "PairwiseKappa",
    "Rating",
    "agreement_report",
    "cohens_kappa",
    "fleiss_kappa",
    "gold_accuracy",
    "median_seconds",
    "pairwise_cohens_kappa",
    "percent_agreement",
    "strength_distribution",
    "weighted_strength_kappa",
]
