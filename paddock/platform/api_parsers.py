"""The API's JSON parser: DRF's, refusing what would otherwise fail later as a 500.

DRF's parser turns only ``ValueError`` into a 400, so a body nested thousands of levels
deep raised ``RecursionError`` out of the view. And JSON can spell a NUL or an unpaired
surrogate as an escape, which PostgreSQL cannot store: a field holding one would pass
validation and fail at the database. Both are refused here with a 400 naming where.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from paddock.kernel.text_safety import unsafe_field_path


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        where = unsafe_field_path(data, root="body")
        if where is not None:
            raise ParseError(f"{where}: holds a NUL character or an unpaired surrogate, "
                             "which cannot be stored.")
        return data
