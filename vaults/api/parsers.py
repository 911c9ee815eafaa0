"""The API reads JSON bodies only."""
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JsonParser(JSONParser):
    """DRF's JSON parser, with a clear 400 for a body nested deeper than the decoder's recursion
    limit (a 1,000-deep array) instead of an unhandled RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("the JSON body is nested too deeply") from exc
