"""A chat-room consumer: joins a group on connect, leaves it in disconnect()."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

EVENTS = []  # what the consumers did, read back over HTTP


class RoomConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room = self.scope["url_route"]["kwargs"]["room"]
        await self.channel_layer.group_add(self.room, self.channel_name)
        await self.accept()
        EVENTS.append(["connect", self.room])

    async def disconnect(self, code):
        # The cleanup Channels promises: runs for client and server closes alike.
        await self.channel_layer.group_discard(self.room, self.channel_name)
        EVENTS.append(["cleanup", self.room, code])

    async def receive(self, text_data=None, bytes_data=None):
        if text_data == "leave":
            await self.close(code=4000)  # a server-initiated close
            return
        await self.channel_layer.group_send(self.room, {"type": "room.message", "text": text_data})

    async def room_message(self, event):
        await self.send(text_data=json.dumps({"room": self.room, "text": event["text"]}))
