"""Many clients at once: the server keeps every connection and answers each."""

import asyncio
import resource

import pytest

import rawhttp


def _raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


@pytest.mark.serial
def test_thousand_concurrent_keepalive_connections(basic_server):
    _raise_fd_limit(4096)

    async def client(i, opened, go):
        reader, writer = await asyncio.open_connection("127.0.0.1", basic_server.port)
        opened.append(1)
        await go.wait()  # every connection is open before anyone sends
        bodies = []
        for n in range(3):
            writer.write(b"GET /async/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i * 10 + n))
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies.append(await reader.readexactly(length))
        writer.close()
        return bodies

    async def main():
        opened, go = [], asyncio.Event()
        tasks = [asyncio.ensure_future(client(i, opened, go)) for i in range(1000)]
        while len(opened) < 1000:
            await asyncio.sleep(0.05)
            if any(t.done() for t in tasks):
                break
        go.set()
        return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    assert len(results) == 1000
    for i, bodies in enumerate(results):
        assert bodies == [b"id=%d" % (i * 10 + n) for n in range(3)]
    # and the server is still fine afterwards
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"GET /text HTTP/1.1\r\nHost: x\r\n\r\n")
        assert rawhttp.read_response(sock)[2] == b"hello"


def test_hundred_pipelined_requests_in_one_write(basic_server):
    with rawhttp.connect(basic_server.port) as sock:
        sock.sendall(b"".join(b"GET /async/%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(100)))
        bodies = [rawhttp.read_response(sock)[2] for _ in range(100)]
    assert bodies == [b"id=%d" % i for i in range(100)]
