"""A FastAPI application (typed routes, validation, uploads, background
tasks, a WebSocket) served by socketify's ASGI server."""

from typing import List

from fastapi import BackgroundTasks, FastAPI, UploadFile, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from socketify import ASGI

app = FastAPI()
orders: List[dict] = []


class Order(BaseModel):
    item: str
    quantity: int = 1


@app.get("/")
async def home():
    return {"message": "Hello from FastAPI on socketify!"}


@app.post("/orders")
async def create_order(order: Order, tasks: BackgroundTasks):
    tasks.add_task(orders.append, order.model_dump() if hasattr(order, "model_dump") else order.dict())
    return {"accepted": order.item, "quantity": order.quantity}


@app.get("/orders")
async def list_orders():
    return orders


@app.post("/upload")
async def upload(file: UploadFile):
    size = 0
    while True:
        piece = await file.read(65536)
        if not piece:
            break
        size += len(piece)
    return {"filename": file.filename, "size": size}


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"sum": sum(data["numbers"])})
    except WebSocketDisconnect:
        pass


if __name__ == "__main__":
    ASGI(app).listen(3000, lambda config: print("Listening on port http://localhost:%d now\n" % config.port)).run()
