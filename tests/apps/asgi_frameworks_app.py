"""Starlette and FastAPI applications served by socketify.ASGI
(``python asgi_frameworks_app.py starlette|fastapi``)."""

import asyncio
import contextlib
import sys

from listen_line import announce

from socketify import ASGI

BACKGROUND = []  # what background tasks did, read back over /background


def starlette_app():
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.endpoints import WebSocketEndpoint
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"db": "connected", "started": True}

    async def home(request: Request):
        return PlainTextResponse("Hello from Starlette")

    async def user(request: Request):
        return JSONResponse(
            {"id": int(request.path_params["user_id"]), "q": request.query_params.get("q"), "db": request.state.db}
        )

    async def echo_json(request: Request):
        return JSONResponse({"got": await request.json()})

    async def form(request: Request):
        async with request.form() as data:
            upload = data["file"]
            content = await upload.read()
            return JSONResponse(
                {
                    "name": data["name"],
                    "filename": upload.filename,
                    "size": len(content),
                    "head": content[:10].decode("latin-1"),
                }
            )

    async def stream(request: Request):
        count = int(request.query_params.get("count", "5"))

        async def numbers():
            for i in range(count):
                yield ("line %d\n" % i).encode()
                await asyncio.sleep(0)

        return StreamingResponse(numbers(), media_type="text/plain")

    async def file(request: Request):
        return FileResponse(request.query_params["path"], filename="download.bin")

    async def background(request: Request):
        async def work(value):
            await asyncio.sleep(0.05)
            BACKGROUND.append(value)

        return PlainTextResponse("queued", background=BackgroundTask(work, request.query_params["v"]))

    async def background_done(request: Request):
        return JSONResponse(BACKGROUND)

    async def ws_echo(websocket: WebSocket):
        await websocket.accept()
        await websocket.send_json({"hello": websocket.query_params.get("name", "?")})
        async for text in websocket.iter_text():
            await websocket.send_text("echo: " + text)

    class Counter(WebSocketEndpoint):
        encoding = "json"

        async def on_receive(self, websocket, data):
            await websocket.send_json({"n": data["n"] + 1})

    return Starlette(
        routes=[
            Route("/", home),
            Route("/users/{user_id:int}", user),
            Route("/json", echo_json, methods=["POST"]),
            Route("/form", form, methods=["POST"]),
            Route("/stream", stream),
            Route("/file", file),
            Route("/background", background),
            Route("/background-done", background_done),
            WebSocketRoute("/ws", ws_echo),
            WebSocketRoute("/counter", Counter),
        ],
        lifespan=lifespan,
    )


def fastapi_app():
    from fastapi import BackgroundTasks, FastAPI, File, Form, HTTPException, Request, UploadFile, WebSocket
    from fastapi.responses import FileResponse, StreamingResponse
    from pydantic import BaseModel

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"model": "loaded"}

    app = FastAPI(lifespan=lifespan)

    class Item(BaseModel):
        name: str
        price: float

    @app.get("/")
    async def home():
        return {"hello": "fastapi"}

    @app.get("/items/{item_id}")
    def read_item(item_id: int, q: str = None):  # a sync endpoint: runs in a thread
        return {"item_id": item_id, "q": q}

    @app.post("/items")
    async def create_item(item: Item, request: Request):
        return {"name": item.name, "price": item.price, "model": request.state.model}

    @app.get("/missing")
    async def missing():
        raise HTTPException(status_code=404, detail="nothing here")

    @app.post("/upload")
    async def upload(file: UploadFile = File(...), note: str = Form(...)):
        content = await file.read()
        return {"filename": file.filename, "size": len(content), "note": note}

    @app.get("/stream")
    async def stream():
        async def gen():
            for i in range(3):
                yield "chunk%d," % i

        return StreamingResponse(gen(), media_type="text/plain")

    @app.get("/file")
    async def file(path: str):
        return FileResponse(path)

    @app.get("/background")
    async def background(v: str, tasks: BackgroundTasks):
        tasks.add_task(BACKGROUND.append, v)
        return {"queued": v}

    @app.get("/background-done")
    async def background_done():
        return BACKGROUND

    @app.websocket("/ws")
    async def ws(websocket: WebSocket):
        await websocket.accept()
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"double": data["n"] * 2})

    return app


if __name__ == "__main__":
    kind = sys.argv[1]
    application = starlette_app() if kind == "starlette" else fastapi_app()
    ASGI(application).listen(0, announce).run()
