"""kurigram (a maintained Pyrogram fork) against localdc: starts on a ready-made, logged-in
auth key and reads a channel's messages by id.

Usage: pyrogram_messages.py PORT DC AUTH_KEY_HEX USER_ID USERNAME MESSAGE_IDS
where MESSAGE_IDS is comma-separated. Pyrogram keeps Telegram's DC addresses in its
session storage: the script points that storage at 127.0.0.1:PORT after it is loaded, which
is configuration (like Telethon's set_dc), and leaves the client's code as it is.

Prints one line `RESULT {json}`: who the client is, the channel's id, title and member
count (get_chat), and the messages as get_messages answered them, asked by @username and
then by the channel's numeric id."""

import asyncio
import base64
import json
import logging
import struct
import sys

from pyrogram import Client

API_ID = 4


def session_string(dc, auth_key, user_id):
    """Pyrogram's session string: urlsafe base64 of (dc, api_id, test_mode, auth_key,
    user_id, is_bot) packed big-endian as `>BI?256sQ?`, without padding."""
    packed = struct.pack(">BI?256sQ?", dc, API_ID, False, auth_key, user_id, False)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def point_at_localdc(client, port):
    """Once the session storage is opened (it fills in Telegram's address for the DC),
    replaces the address by localdc's."""
    open_storage = client.storage.open

    async def open_then_point():
        await open_storage()
        await client.storage.server_address("127.0.0.1")
        await client.storage.port(port)

    client.storage.open = open_then_point


def message_row(m):
    return {
        "id": m.id,
        "empty": bool(m.empty),
        "chat": m.chat.id if m.chat else None,
        "text": m.text or m.caption or "",
    }


async def main():
    port, dc, key_hex, user_id, username, ids = sys.argv[1:7]
    ids = [int(i) for i in ids.split(",")]
    client = Client(
        "localdc",
        api_id=API_ID,
        api_hash="x",
        session_string=session_string(int(dc), bytes.fromhex(key_hex), int(user_id)),
        in_memory=True,
        no_updates=True,
    )
    point_at_localdc(client, int(port))
    await client.start()
    try:
        by_name = await client.get_messages(username, ids)
        chat_id = by_name[0].chat.id
        by_id = await client.get_messages(chat_id, ids)
        # users.getUsers with resolve_peer("me"), an inputPeerSelf, as its InputUser.
        [me] = await client.get_users(["me"])
        # channels.getFullChannel with the channel's inputPeerChannel.
        chat = await client.get_chat(chat_id)
        result = {
            "me": client.me.id,
            "users_me": me.id,
            "chat": chat_id,
            "title": chat.title,
            "members": chat.members_count,
            "by_username": [message_row(m) for m in by_name],
            "by_id": [message_row(m) for m in by_id],
        }
        print("RESULT " + json.dumps(result), flush=True)
    finally:
        await client.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(), 90))
