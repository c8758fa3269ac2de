"""One text-safety rule: NUL and unpaired surrogates, found with their path or cleaned."""

import pytest

from paddock.kernel.text_safety import (
    find_unsafe_character,
    storable,
    unsafe_field_path,
    without_lone_surrogates,
)


@pytest.mark.parametrize(("value", "path"), [
    ({"a": "ok", "b": [1, {"c": "x\x00"}], "d": "\ud800"}, "b[1].c"),  # the first one
    ({"a": "ok", "b\x00": "y", "z": "q\x00"}, "body"),  # a bad key names its object
    ({"t": [{"u": "fine"}, {"bad\ud800": 1}]}, "t[1]"),
    ("\x00", "body"),
    ({"k": "fine", "n": [1, None, 2.5]}, None),
    ({"pair": "\U0001f600"}, None),  # a pair json.loads joined is fine
])
def test_the_first_unsafe_place_is_named_in_document_order(value, path):
    assert unsafe_field_path(value, root="body") == path


def test_a_deep_value_is_walked_without_recursion():
    value: object = "\x00"
    for _ in range(10_000):
        value = [value]
    assert unsafe_field_path(value, root="line") == "[0]" * 10_000


def test_find_and_clean():
    match = find_unsafe_character("ab\udc00")
    assert match is not None and match.start() == 2
    assert without_lone_surrogates("a\x00\ud800") == "a\x00\ufffd"
    assert storable({"k\x00": ("a\x00b", "\udfff")}) == {"k": ["ab", "\ufffd"]}
