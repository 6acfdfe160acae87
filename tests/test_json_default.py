"""The default JSON serializer gives json.dumps's exact output, over the wire too."""

import json
import threading

import pytest

from socketify._json import DefaultJSON, default_json

CASES = [
    {"message": "Hello, World!"},
    [1, 2.5, None, True, False, 'é\u2028\n"\\'],
    {"a": {"b": [{}, []]}},
    {1: 2, None: 3, False: 4, 2.5: 1},  # True would be the key 1 again
    [float("nan"), float("inf"), -float("inf")],
    "plain str",
    5,
    None,
    {"big": 10**30, "neg": -1},
]


@pytest.mark.parametrize("value", CASES)
def test_same_text_as_json_dumps(value):
    assert default_json.dumps(value) == json.dumps(value)


def test_circular_reference_is_reported_every_time():
    looped = []
    looped.append(looped)
    for _ in range(2):
        with pytest.raises(ValueError, match="Circular reference"):
            default_json.dumps(looped)
    # The markers were cleared: the same container encodes once fixed.
    looped.clear()
    assert default_json.dumps(looped) == "[]"


def test_a_failed_encode_leaves_no_trace():
    shared = {"k": 1}
    with pytest.raises(TypeError, match="not JSON serializable"):
        default_json.dumps([shared, object()])
    assert default_json.dumps([shared, shared]) == '[{"k": 1}, {"k": 1}]'


def test_concurrent_use_from_threads():
    serializer = DefaultJSON()
    value = {"items": list(range(200)), "nested": [{"a": i} for i in range(50)]}
    expected = json.dumps(value)
    failures = []

    def work():
        for _ in range(300):
            if serializer.dumps(value) != expected:
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_loads_is_json_loads():
    assert default_json.loads('{"a": [1, 2]}') == {"a": [1, 2]}
