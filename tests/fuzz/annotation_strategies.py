"""Records near the annotation import formats (prompts, pairs, HH-RLHF): valid ones and
near misses of every field."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.strategies import json_values, mutated, nasty_text, near, plain_keys

# Storable, non-blank text: what a valid line carries.
good_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1, max_size=20,
).filter(str.strip)
texts = st.one_of(good_text, good_text, nasty_text)


def alternating(contents: list[str]) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": c}
            for i, c in enumerate(contents)]


valid_turns = st.integers(min_value=0, max_value=2).flatmap(
    lambda n: st.lists(texts, min_size=2 * n + 1, max_size=2 * n + 1).map(alternating)
)
near_turn = near({"role": st.sampled_from(["user", "assistant", "system", "User"]),
                  "content": texts})
turn_lists = st.one_of(valid_turns, valid_turns, st.lists(near_turn, max_size=4),
                       st.lists(json_values(), max_size=3))

axes = st.sampled_from(["helpfulness", "safety", "Safety", ""])
risks = st.sampled_from(["illicit_criminal", "hateful_harmful", "unqualified_advice", "other"])
metadata = st.dictionaries(nasty_text, json_values(), max_size=3)

PROMPT_FIELDS = {
    "prompt": texts,
    "turns": turn_lists,
    "axis": axes,
    "risk_category": risks,
    "id": texts,
    "metadata": metadata,
}


def labelled(conversation):
    """A conversation field plus valid optional labels."""
    labels = st.one_of(
        st.just({}),
        st.just({"axis": "helpfulness"}),
        risks.filter(lambda r: r != "other").map(lambda r: {"axis": "safety", "risk_category": r}),
    )
    extras = st.fixed_dictionaries({}, optional={
        "id": good_text.filter(lambda s: len(s) <= 200),
        "metadata": st.dictionaries(plain_keys, json_values(plain_keys), max_size=3),
    })
    return st.builds(lambda c, lab, ext: {**c, **lab, **ext}, conversation, labels, extras)


good_turns = st.integers(min_value=0, max_value=2).flatmap(
    lambda n: st.lists(good_text, min_size=2 * n + 1, max_size=2 * n + 1).map(alternating)
)
valid_prompts = labelled(st.one_of(good_text.map(lambda t: {"prompt": t}),
                                   good_turns.map(lambda t: {"turns": t})))
good_responses = st.one_of(
    good_text,
    st.fixed_dictionaries({"text": good_text}, optional={
        "model": good_text, "temperature": st.floats(min_value=0, max_value=2),
        "top_p": st.floats(min_value=0.01, max_value=1), "seed": st.integers(0, 2**40)}),
)
valid_pairs = st.builds(
    lambda prompt, a, b: {**prompt, "response_a": a, "response_b": b},
    valid_prompts, good_responses, good_responses,
)


def prompt_records(keys=nasty_text):
    return st.one_of(mutated(valid_prompts, PROMPT_FIELDS, keys),
                     mutated(valid_prompts, PROMPT_FIELDS, keys),
                     near(PROMPT_FIELDS, keys=keys))


responses = st.one_of(
    texts,
    near({
        "text": texts,
        "model": texts,
        "temperature": st.floats(min_value=-1, max_value=3) | st.integers(-2, 3),
        "top_p": st.floats(min_value=-0.5, max_value=1.5) | st.integers(-1, 2),
        "seed": st.integers() | st.integers(min_value=2**62, max_value=2**64),
    }),
)


PAIR_FIELDS = {**PROMPT_FIELDS, "response_a": responses, "response_b": responses}


def pair_records(keys=nasty_text):
    return st.one_of(mutated(valid_pairs, PAIR_FIELDS, keys),
                     mutated(valid_pairs, PAIR_FIELDS, keys),
                     near(PAIR_FIELDS, keys=keys))


def transcript(turns: list[tuple[str, str]], lead: str) -> str:
    return lead + "".join(f"\n\n{role}: {text}" for role, text in turns)


hh_turns = st.lists(st.tuples(st.sampled_from(["Human", "Assistant"]), texts), max_size=4)


@st.composite
def hh_records(draw, keys=nasty_text):
    """Transcripts that mostly share their conversation and differ in the last turn."""
    size = draw(st.integers(min_value=0, max_value=2))
    contents = draw(st.lists(texts, min_size=2 * size + 1, max_size=2 * size + 1))
    shared = [("Human" if i % 2 == 0 else "Assistant", c) for i, c in enumerate(contents)]
    lead = draw(st.sampled_from(["", "", "", "preamble", "  "]))
    chosen = transcript([*shared, ("Assistant", draw(texts))], lead)
    rejected = transcript([*shared, ("Assistant", draw(texts))], lead)
    variant = draw(st.sampled_from(["same", "same", "same", "other", "equal"]))
    if variant == "other":
        rejected = transcript(draw(hh_turns), "")
    elif variant == "equal":
        rejected = chosen
    valid = st.just({"chosen": chosen, "rejected": rejected})
    return draw(mutated(valid, {"chosen": texts, "rejected": texts}, keys))


RECORDS = {"prompts": prompt_records, "pairs": pair_records, "hh_rlhf": hh_records}
__all__ = ["RECORDS", "plain_keys"]
