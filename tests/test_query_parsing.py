"""Request.get_queries gives parse_qs(keep_blank_values=True)'s exact result,
through its fast path (nothing to decode) and its parse_qs path."""

from urllib.parse import parse_qs

import pytest

from socketify.request import _parse_query

QUERIES = [
    "",
    "q=x",
    "a=1&b=2",
    "a=1&a=2&a=",
    "a",
    "a&b",
    "=x",
    "a==b",
    "&&a=1&&",
    "a=1&",
    "k=v=w",
    "x=%20y",
    "x=a+b",
    "%41=1",
    "a=%zz",
    "a=%E2%82%AC&b=%ff",
    "é=ü",
    "a=1;b=2",
    "a=1&b=&c",
    "+=+",
]


@pytest.mark.parametrize("raw", QUERIES)
def test_same_as_parse_qs(raw):
    assert _parse_query(raw) == parse_qs(raw, keep_blank_values=True)
