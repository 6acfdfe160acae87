"""The bounded caches of the WSGI and ASGI adapters (socketify/_cache.py)."""

from socketify._cache import RepeatCache


def test_a_value_is_kept_at_its_second_offer_only():
    cache = RepeatCache(8)
    cache.offer("a", 1)
    assert cache.get("a") is None
    cache.offer("a", 1)
    assert cache.get("a") == 1


def test_values_seen_once_never_fill_it_nor_crowd_out_repeated_ones():
    cache = RepeatCache(4)
    for i in range(10_000):
        cache.offer(("session", str(i)), i)  # unique per request
        cache.offer("common", "c")
        assert len(cache) <= 4 and len(cache._seen) <= 4
    assert cache.get("common") == "c"
    assert all(key == "common" for key in cache)


def test_a_full_cache_starts_over_and_relearns_what_repeats():
    cache = RepeatCache(2)
    for key in ("a", "a", "b", "b"):
        cache.offer(key, key.upper())
    assert dict(cache) == {"a": "A", "b": "B"}
    for key in ("c", "c"):
        cache.offer(key, key.upper())
    assert dict(cache) == {"c": "C"}
    for key in ("a", "a"):
        cache.offer(key, key.upper())
    assert dict(cache) == {"c": "C", "a": "A"}
