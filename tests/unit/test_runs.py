"""The objects an execution keeps in the bucket, read as streams."""

import json

import pytest
from bwp.runs import json_array_items

ITEMS = [
    {"window": {"reportType": "ORDER_FEES", "day": f"2024-01-{n % 28 + 1:02d}"}, "note": "é✓" * n} for n in range(200)
] + [12345, "text", [], None, 1.5e3]


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 4096, 10**7])
@pytest.mark.parametrize("indent", [None, 2])
def test_an_array_is_read_item_by_item_whatever_the_chunks_cut(chunk_size, indent):
    # given a JSON array cut into chunks anywhere, inside numbers, strings and multi-byte characters
    body = json.dumps(ITEMS, indent=indent, ensure_ascii=False).encode()
    chunks = (body[start : start + chunk_size] for start in range(0, len(body), chunk_size))
    # then every item comes out as written
    assert list(json_array_items(chunks)) == ITEMS


def test_an_empty_array_has_no_items():
    assert list(json_array_items([b" [ ", b"] "])) == []


@pytest.mark.parametrize(
    "body, problem",
    [
        (b'{"windows": []}', "expected a JSON array"),
        (b'[{"a": 1}, {"b"', "Expecting"),
        (b'[{"a": 1}', "ends before its closing bracket"),
    ],
)
def test_what_is_not_a_whole_array_is_refused_by_name(body, problem):
    with pytest.raises(ValueError, match=problem):
        list(json_array_items([body]))
