"""WebSockets over TLS (WSS) with independent clients, with and without permessage-deflate."""

import asyncio
import os
import ssl

import pytest
import trustme
import websocket  # websocket-client
import websockets
from wsframes import deflate_message

WSS_APP = """
import sys
from listen_line import announce
from socketify import App, AppOptions, CompressOptions, OpCode

app = App(AppOptions(key_file_name=sys.argv[1], cert_file_name=sys.argv[1]))

def message(ws, message, opcode):
    ws.send(message, opcode, compress=True)

app.ws("/echo", {"compression": CompressOptions.SHARED_COMPRESSOR | CompressOptions.SHARED_DECOMPRESSOR,
                 "max_payload_length": 4 * 1024 * 1024, "message": message})
app.ws("/echo-plain", {"compression": CompressOptions.SHARED_COMPRESSOR | CompressOptions.SHARED_DECOMPRESSOR,
                       "message": lambda ws, message, opcode: ws.send(message, opcode)})
app.get("/", lambda res, req: res.end("https"))
app.listen(0, announce)
app.run()
"""


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    base = tmp_path_factory.mktemp("wss")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_pem = base / "server.pem"
    ca_pem = base / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(server_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    return str(server_pem), str(ca_pem)


def context(ca_pem):
    ctx = ssl.create_default_context(cafile=ca_pem)
    return ctx


@pytest.mark.parametrize("compression", ["deflate", None])
def test_websockets_library_over_tls(serve, tls_files, compression):
    server_pem, ca_pem = tls_files
    server = serve(WSS_APP, server_pem)

    async def main():
        url = "wss://localhost:%d/echo" % server.port
        async with websockets.connect(
            url, ssl=context(ca_pem), compression=compression, max_size=8 * 1024 * 1024
        ) as ws:
            if compression:
                assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            for message in ("hello", "é" * 1000, b"\x00\x01" * 100, os.urandom(1 << 20), "x" * (2 << 20)):
                await ws.send(message)
                assert await ws.recv() == message
            await ws.close(1000, "done")
            assert ws.close_code == 1000

    asyncio.run(main())


@pytest.mark.parametrize("compress", [True, False])
def test_websocket_client_over_tls(serve, tls_files, compress):
    server_pem, ca_pem = tls_files
    server = serve(WSS_APP, server_pem)
    headers = ["Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover"] if compress else None
    ws = websocket.create_connection(
        "wss://localhost:%d/echo-plain" % server.port, sslopt={"ca_certs": ca_pem}, header=headers, timeout=10
    )
    try:
        negotiated = ws.getheaders().get("sec-websocket-extensions", "")
        assert ("permessage-deflate" in negotiated) == compress
        ws.send("plain text")
        assert ws.recv() == "plain text"
        ws.send_binary(b"\x01\x02\x03" * 1000)
        assert ws.recv() == b"\x01\x02\x03" * 1000
        if compress:
            # websocket-client cannot compress: a frame deflated by hand (RSV1)
            payload = b"compressed over TLS " * 200
            ws.send_frame(websocket.ABNF(1, 1, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, deflate_message(payload)))
            assert ws.recv() == payload
    finally:
        ws.close()
