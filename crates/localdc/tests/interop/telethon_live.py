"""Telethon following a localdc channel live: it subscribes to updates (updates.getState),
prints READY, and collects the new messages of the channel as its events.NewMessage
handler sees them, whether pushed or fetched by Telethon's own gap recovery
(updates.getChannelDifference), until it has EXPECTED of them.

Usage: telethon_live.py PUBLIC_KEY_PEM_FILE STRING_SESSION CHANNEL_USERNAME EXPECTED

Prints READY, then one line `RESULT {json}` with the ids seen, in order."""

import asyncio
import json
import logging
import sys

from telethon import TelegramClient, connection, events
from telethon.crypto import rsa
from telethon.sessions import StringSession


async def main():
    pem_path, session, chat, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(pem_path) as f:
        rsa.add_key(f.read(), old=False)
    client = TelegramClient(
        StringSession(session),
        api_id=1,
        api_hash="x",
        connection=connection.ConnectionTcpIntermediate,
        # See telethon_media.py: one new auth key in 256 is refused; Telethon retries.
        connection_retries=2,
        retry_delay=0,
        timeout=20,
    )
    seen = []
    done = asyncio.Event()

    await client.connect()
    try:
        assert await client.is_user_authorized(), "the minted session is not logged in"
        channel = await client.get_entity(chat)

        @client.on(events.NewMessage(chats=[channel]))
        async def on_new(event):
            seen.append(event.message.id)
            if len(seen) >= expected:
                done.set()

        # Subscribes the session and gives Telethon its starting state.
        await client.catch_up()
        await client.get_messages(channel, limit=1)
        print("READY", flush=True)
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await client.disconnect()
    print("RESULT " + json.dumps({"ids": seen}), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(), 90))
