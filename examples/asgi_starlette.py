"""A Starlette application (routes, JSON, streaming, a WebSocket, lifespan
state) served by socketify's ASGI server."""

import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from socketify import ASGI


@contextlib.asynccontextmanager
async def lifespan(app):
    # Whatever is yielded here is in request.state of every request.
    yield {"visits": {"count": 0}}


async def home(request: Request):
    request.state.visits["count"] += 1
    return PlainTextResponse("Hello from Starlette on socketify!")


async def user(request: Request):
    return JSONResponse({"user": request.path_params["name"], "visits": request.state.visits["count"]})


async def countdown(request: Request):
    async def lines():
        for n in range(3, 0, -1):
            yield "%d...\n" % n
            await asyncio.sleep(0.1)
        yield "liftoff\n"

    return StreamingResponse(lines(), media_type="text/plain")


async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text("echo: " + await websocket.receive_text())
    except WebSocketDisconnect:
        pass


app = Starlette(
    routes=[
        Route("/", home),
        Route("/users/{name}", user),
        Route("/countdown", countdown),
        WebSocketRoute("/echo", echo),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    ASGI(app).listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port)).run()
