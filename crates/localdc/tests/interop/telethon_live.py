"""Telethon following localdc's live world: it subscribes to updates (updates.getState),
prints READY, and collects the new messages of a channel and of a basic group as its
events.NewMessage handler sees them, whether pushed (updateNewChannelMessage,
updateShortChatMessage, updates) or fetched by Telethon's own gap recovery
(updates.getChannelDifference), until it has EXPECTED of the channel's and GROUP_EXPECTED
of the group's.

Usage: telethon_live.py PUBLIC_KEY_PEM_FILE STRING_SESSION CHANNEL_USERNAME EXPECTED
       GROUP_ID GROUP_EXPECTED

Prints READY, then one line `RESULT {json}` with the ids seen per chat, in order."""

import asyncio
import json
import logging
import sys

from telethon import TelegramClient, connection, events, utils
from telethon.crypto import rsa
from telethon.sessions import StringSession


async def main():
    pem_path, session, chat, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    group_id, group_expected = int(sys.argv[5]), int(sys.argv[6])
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
    group_seen = []
    done = asyncio.Event()

    await client.connect()
    try:
        assert await client.is_user_authorized(), "the minted session is not logged in"
        channel = await client.get_entity(chat)
        # The dialogs make the basic group known to Telethon's entity cache.
        await client.get_dialogs()
        channel_id = utils.get_peer_id(channel)
        group_peer = -group_id

        @client.on(events.NewMessage())
        async def on_new(event):
            if event.chat_id == channel_id:
                seen.append(event.message.id)
            elif event.chat_id == group_peer:
                group_seen.append(event.message.id)
            if len(seen) >= expected and len(group_seen) >= group_expected:
                done.set()

        # Subscribes the session and gives Telethon its starting state.
        await client.catch_up()
        await client.get_messages(channel, limit=1)
        print("READY", flush=True)
        await asyncio.wait_for(done.wait(), 60)
    finally:
        await client.disconnect()
    print("RESULT " + json.dumps({"ids": seen, "group": group_seen}), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(), 90))
