"""The words and tables of the Llama 2 recipe that cross between the web and training.

An annotator's judgement is stored by the web side (``paddock.annotation``), exported, and
read back by the trainer (``paddock.training``): both must spell an axis, a strength, a
risk category and a safety bin the same way, and agree on the margin each strength is
worth. They are written here once, with the labels people see; the annotation models
build their choices from these tables and the training recipe re-exports them. Source:
"Llama 2: Open Foundation and Fine-Tuned Chat Models" (Touvron et al., 2023,
arXiv 2307.09288).
"""

from __future__ import annotations

# What a comparison is judged on: two reward models, one per axis (section 3.2.1).
HELPFULNESS = "helpfulness"
SAFETY = "safety"
AXES: tuple[str, ...] = (HELPFULNESS, SAFETY)
AXIS_LABELS: dict[str, str] = {HELPFULNESS: "Helpfulness", SAFETY: "Safety"}

# How much better the chosen response is, strongest first (section 3.2.1).
SIGNIFICANTLY_BETTER = "significantly_better"
BETTER = "better"
SLIGHTLY_BETTER = "slightly_better"
NEGLIGIBLY_BETTER = "negligibly_better"
STRENGTHS: tuple[str, ...] = (SIGNIFICANTLY_BETTER, BETTER, SLIGHTLY_BETTER, NEGLIGIBLY_BETTER)
STRENGTH_LABELS: dict[str, str] = {
    SIGNIFICANTLY_BETTER: "Significantly better",
    BETTER: "Better",
    SLIGHTLY_BETTER: "Slightly better",
    NEGLIGIBLY_BETTER: "Negligibly better / unsure",
}

# Margin m(strength) in -log sigmoid(r_chosen - r_rejected - m) (section 3.2.2, table 28):
# "none" is the loss without a margin, the paper's baseline.
MARGINS: dict[str, dict[str, float]] = {
    "none": dict.fromkeys(STRENGTHS, 0.0),
    "small": {SIGNIFICANTLY_BETTER: 1.0, BETTER: 2 / 3, SLIGHTLY_BETTER: 1 / 3,
              NEGLIGIBLY_BETTER: 0.0},
    "large": {SIGNIFICANTLY_BETTER: 3.0, BETTER: 2.0, SLIGHTLY_BETTER: 1.0,
              NEGLIGIBLY_BETTER: 0.0},
}

# The categories of adversarial (safety) prompts (section 3.2.1): what a person picks for
# a safety prompt they write or label.
ILLICIT_CRIMINAL = "illicit_criminal"
HATEFUL_HARMFUL = "hateful_harmful"
UNQUALIFIED_ADVICE = "unqualified_advice"
RISK_CATEGORIES: tuple[str, ...] = (ILLICIT_CRIMINAL, HATEFUL_HARMFUL, UNQUALIFIED_ADVICE)
# Safety data that came without a category, such as Anthropic's public HH-RLHF
# harmless-base: filing it under one of the paper's three would be a guess passed off as a
# label. It is stored, exported and read back like the others, but never offered to a
# person choosing a category.
NOT_CATEGORISED = "not_categorised"
STORED_RISK_CATEGORIES: tuple[str, ...] = (*RISK_CATEGORIES, NOT_CATEGORISED)
RISK_CATEGORY_LABELS: dict[str, str] = {
    ILLICIT_CRIMINAL: "Illicit and criminal activities",
    HATEFUL_HARMFUL: "Hateful and harmful activities",
    UNQUALIFIED_ADVICE: "Unqualified advice",
    NOT_CATEGORISED: "Not categorised",
}

# A safety judgement also says whether each response is safe; the pair then falls in one of
# the paper's three bins, or in the fourth case, which is dropped from safety reward-model
# training ("we do not include any examples where the chosen response was unsafe and the
# other response safe", section 3.2.1).
PREFERRED_SAFE_OTHER_UNSAFE = "preferred_safe_other_unsafe"
BOTH_SAFE = "both_safe"
BOTH_UNSAFE = "both_unsafe"
PREFERRED_UNSAFE_OTHER_SAFE = "preferred_unsafe_other_safe"
SAFETY_BINS: tuple[str, ...] = (
    PREFERRED_SAFE_OTHER_UNSAFE, BOTH_SAFE, BOTH_UNSAFE, PREFERRED_UNSAFE_OTHER_SAFE
)
SAFETY_BIN_LABELS: dict[str, str] = {
    PREFERRED_SAFE_OTHER_UNSAFE: "Preferred safe, other unsafe",
    BOTH_SAFE: "Both safe",
    BOTH_UNSAFE: "Both unsafe",
    PREFERRED_UNSAFE_OTHER_SAFE: "Preferred unsafe, other safe",
}


def safety_bin(chosen_safe: bool | None, rejected_safe: bool | None) -> str | None:
    """The bin of a judgement from its two safe/unsafe answers; ``None`` when either is unknown
    (a helpfulness judgement, which asks neither)."""
    if chosen_safe is None or rejected_safe is None:
        return None
    if chosen_safe and rejected_safe:
        return BOTH_SAFE
    if not chosen_safe and not rejected_safe:
        return BOTH_UNSAFE
    if chosen_safe:
        return PREFERRED_SAFE_OTHER_UNSAFE
    return PREFERRED_UNSAFE_OTHER_SAFE


# The preference-data formats reward-model training reads, as ``FORMAT=PATH`` inputs (the
# trainer's ``--data``, a pipeline plan's ``public_data``): named here so that a plan is
# checked when a manager saves it, not when the training step starts a week later.
REWARD_DATA_FORMATS: tuple[str, ...] = ("paddock", "hh-helpful", "hh-harmless", "oasst", "ukp")
