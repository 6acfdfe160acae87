"""middleware(), MiddlewareRouter and DecoratorRouter against a real server."""

import asyncio
import json

import aiohttp
import pytest

import rawhttp
from conftest import app_server, fetch, fetch_json


@pytest.fixture(scope="module")
def server():
    yield from app_server("mw_middleware_app.py")


def calls(server):
    return fetch_json(server, "/calls")[1]["calls"]


def reset(server):
    assert fetch(server, "/calls/reset", "POST")[0] == 200


USER = {"X-User": "ana"}
VERBS_OVER_HTTP = ["GET", "POST", "OPTIONS", "DELETE", "PATCH", "PUT", "TRACE"]


# -- middleware() -----------------------------------------------------------------


def test_sync_chain_passes_data_left_to_right(server):
    reset(server)
    status, body = fetch_json(server, "/sync")
    assert status == 200 and body == {"chain": ["a", "b"], "sync": True}
    assert calls(server) == ["a", "b"]


def test_falsy_return_stops_a_sync_chain(server):
    reset(server)
    status, headers, body = fetch(server, "/sync/stop")
    assert (status, body) == (403, b"denied")
    assert calls(server) == ["a", "deny"]


def test_async_middlewares_mixed_with_sync(server):
    reset(server)
    status, body = fetch_json(server, "/async")
    assert status == 200 and body == {"chain": ["a", "b", "c"], "sync": True}
    assert calls(server) == ["a", "b", "c"]


def test_async_final_handler_after_sync_middlewares(server):
    status, body = fetch_json(server, "/async/last")
    assert status == 200 and body == {"chain": ["a", "b"], "sync": False}


def test_falsy_return_stops_an_async_chain(server):
    reset(server)
    status, headers, body = fetch(server, "/async/stop")
    assert (status, body) == (403, b"async denied")
    assert calls(server) == ["a", "async_deny"]


def test_sync_exception_reaches_the_error_handler(server):
    status, headers, body = fetch(server, "/sync/error")
    assert (status, body) == (500, b"handled: sync boom")


def test_async_exception_reaches_the_error_handler(server):
    status, headers, body = fetch(server, "/async/error")
    assert (status, body) == (500, b"handled: async boom")


def test_a_composed_chain_is_itself_a_middleware(server):
    status, body = fetch_json(server, "/nested")
    assert status == 200 and body["chain"] == ["a", "b", "c"]


def test_request_is_readable_after_await_in_a_middleware(server):
    status, body = fetch_json(server, "/after-await/42?theme=dark&theme=light", headers={"Authorization": "Bearer t"})
    assert status == 200
    # get_query returns the first value as a str, also after await (not the parse_qs list)
    assert body == {
        "auth": "Bearer t",
        "theme": "dark",
        "param": "42",
        "url": "/after-await/42",
        "method": "GET",
        "more": True,
    }


def test_composed_handlers_return_the_chain_result(server):
    status, body = fetch_json(server, "/introspect")
    assert body["sync_result"] == ["x", "y"]
    assert body["sync_result_with_data"] == ["start", "z"]
    assert body["stopped_result"] == 0


def test_concurrent_async_chains_keep_their_own_data(server):
    async def go():
        async with aiohttp.ClientSession() as session:

            async def one(i):
                async with session.get(server.url + "/api/user/%d" % i, headers={"X-User": "u%d" % i}) as r:
                    return r.status, await r.json()

            return await asyncio.gather(*(one(i) for i in range(50)))

    for i, (status, body) in enumerate(asyncio.run(go())):
        assert status == 200 and body == {"id": str(i), "user": "u%d" % i}


def test_pipelined_async_chains_answer_in_order(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(
            b"".join(b"GET /api/user/%d HTTP/1.1\r\nHost: x\r\nX-User: p%d\r\n\r\n" % (i, i) for i in range(5))
        )
        for i in range(5):
            status, headers, body, _ = rawhttp.read_response(sock)
            assert status == 200 and json.loads(body) == {"id": str(i), "user": "p%d" % i}


# -- MiddlewareRouter ----------------------------------------------------------------


def test_middleware_router_methods_return_the_router(server):
    status, body = fetch_json(server, "/introspect")
    assert body["middleware_router_chains"] == [True] * 10


@pytest.mark.parametrize("method", VERBS_OVER_HTTP)
def test_middleware_router_applies_middlewares_to_every_method(server, method):
    status, body = fetch_json(server, "/mr/" + method.lower(), method, headers=USER)
    assert status == 200 and body == {"method": method, "data": {"user": "ana"}}
    status, headers, text = fetch(server, "/mr/" + method.lower(), method)
    assert (status, text) == (401, b"who are you?")


def test_middleware_router_any_takes_custom_methods(server):
    status, body = fetch_json(server, "/mr/any", "PURGE", headers=USER)
    assert status == 200 and body == {"method": "PURGE", "data": {"user": "ana"}}


def test_middleware_router_head_route(server):
    status, headers, body = fetch(server, "/mr/headers", "HEAD", headers=USER)
    assert status == 200 and headers["X-User"] == "ana" and body == b""
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"HEAD /mr/head HTTP/1.1\r\nHost: x\r\nX-User: bo\r\n\r\n")
        status, headers, body, rest = rawhttp.read_response(sock, head_request=True)
        # the same headers a GET would get: the length of the JSON body not sent
        expected = json.dumps({"method": "HEAD", "data": {"user": "bo"}}).encode()
        assert status == 200 and int(headers["content-length"]) == len(expected)
        assert rest == b""
        sock.sendall(b"GET /mr/none HTTP/1.1\r\nHost: x\r\n\r\n")  # still in sync
        assert rawhttp.read_response(sock)[2] == b"no middlewares"


def test_middleware_router_connect_route(server):
    with rawhttp.connect(server.port) as sock:
        sock.sendall(b"CONNECT /mr/connect HTTP/1.1\r\nHost: x\r\nX-User: cy\r\n\r\n")
        status, headers, body, _ = rawhttp.read_response(sock)
    assert status == 200  # an origin-form CONNECT is routed by its path
    assert json.loads(body) == {"method": "CONNECT", "data": {"user": "cy"}}


def test_middleware_router_with_async_middleware(server):
    status, body = fetch_json(server, "/mr/async", headers=USER)
    assert status == 200 and body == {"method": "GET", "data": {"user": "ana", "more": True}}
    assert fetch(server, "/mr/async")[0] == 401


def test_middleware_router_without_middlewares(server):
    assert fetch(server, "/mr/none")[2] == b"no middlewares"


def test_middleware_router_as_a_decorator(server):
    status, body = fetch_json(server, "/introspect")
    assert body["both_forms"]["middleware_router_decorator_returns_handler"] == "mr_decorated"
    status, body = fetch_json(server, "/mr/decorated", "PATCH", headers=USER)
    assert status == 200 and body == {"form": "decorator", "data": {"user": "ana"}}
    assert fetch(server, "/mr/decorated", "PATCH")[0] == 401


def test_decorator_router_as_a_call(server):
    status, body = fetch_json(server, "/introspect")
    assert body["both_forms"]["decorator_router_call_returns_router"] is True
    status, body = fetch_json(server, "/api/called", "DELETE", headers=USER)
    assert status == 200 and body == {"form": "call", "data": {"user": "ana"}}
    assert fetch(server, "/api/called", "DELETE")[0] == 401


# -- DecoratorRouter ----------------------------------------------------------------


def test_every_decorator_returns_the_handler(server):
    status, body = fetch_json(server, "/introspect")
    assert body["decorators_return_handler"] == {
        verb: True for verb in ("get", "post", "options", "delete", "patch", "put", "head", "connect", "trace", "any")
    }
    assert body["plain_handler"] == "plain_handler"
    assert body["plain_post"] == "plain_post"
    assert body["put_item"] == "put_item"


@pytest.mark.parametrize("method", VERBS_OVER_HTTP)
def test_decorator_router_prefix_and_middlewares(server, method):
    verb = method.lower()
    status, body = fetch_json(server, "/api/" + verb, method, headers=USER)
    assert status == 200 and body == {"route": verb, "method": method, "data": {"user": "ana"}}
    assert fetch(server, "/api/" + verb, method)[0] == 401
    # the prefix is required: the bare path is not routed
    assert fetch(server, "/" + verb, method)[0] == 404


def test_decorator_router_head_and_any(server):
    status, headers, body = fetch(server, "/api/head", "HEAD", headers=USER)
    assert status == 200 and body == b""
    status, body = fetch_json(server, "/api/any", "PURGE", headers=USER)
    assert body == {"route": "any", "method": "PURGE", "data": {"user": "ana"}}


def test_decorator_router_async_handler_with_params(server):
    status, body = fetch_json(server, "/api/user/7", headers=USER)
    assert status == 200 and body == {"id": "7", "user": "ana"}


def test_decorator_router_without_middlewares_calls_handler_with_res_req(server):
    assert fetch(server, "/plain")[2] == b"plain GET"
    status, headers, body = fetch(server, "/plain", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(b"plain HEAD"))
    assert fetch(server, "/plain", "POST", data=b"some body")[2] == b"posted some body"


def test_decorator_router_async_middlewares_with_prefix(server):
    status, body = fetch_json(server, "/v2/item", "PUT", headers=USER)
    assert status == 200 and body == {"user": "ana", "v": 2}
    assert fetch(server, "/v2/item", "PUT")[0] == 401
    assert fetch(server, "/v2/item", "GET", headers=USER)[0] == 404
