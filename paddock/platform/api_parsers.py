"""The API's JSON parser: DRF's, refusing what would otherwise fail later as a 500.

DRF's parser turns only ``ValueError`` into a 400, so a body nested thousands of levels
deep raised ``RecursionError`` out of the view. And JSON can spell a NUL or an unpaired
surrogate as an escape, which PostgreSQL cannot store: a field holding one would pass
validation and fail at the database. Both are refused here with a 400 naming where.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def bad_character_at(value: Any, where: str = "") -> str | None:
    """The path of the first key or string holding a NUL or an unpaired surrogate."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _BAD_CHARACTER.search(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if _BAD_CHARACTER.search(str(key)):
                    return path or "body"
                stack.append((inner, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{index}]") for index, inner in enumerate(item))
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        where = bad_character_at(data)
        if where is not None:
            raise ParseError(f"{where}: holds a NUL character or an unpaired surrogate, "
                             "which cannot be stored.")
        return data
