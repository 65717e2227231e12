"""Telethon's download_media against localdc: files on the home DC and on another DC (where
Telethon exports and imports the authorization by itself), checked by SHA-256.

Usage: telethon_media.py PUBLIC_KEY_PEM_FILE STRING_SESSION CHAT MSG_ID=SHA256 [MSG_ID=SHA256...]

Prints one line per file and exits non-zero on the first failure."""

import asyncio
import hashlib
import logging
import sys

from telethon import TelegramClient, connection
from telethon.crypto import rsa
from telethon.sessions import StringSession


async def main():
    pem_path, session, chat = sys.argv[1], sys.argv[2], sys.argv[3]
    wanted = [(int(m), h) for m, h in (arg.split("=", 1) for arg in sys.argv[4:])]
    with open(pem_path) as f:
        rsa.add_key(f.read(), old=False)
    client = TelegramClient(
        StringSession(session),
        api_id=1,
        api_hash="x",
        connection=connection.ConnectionTcpIntermediate,
        receive_updates=False,
        # Telethon writes the auth key without g_ab's leading zero bytes (its
        # rsa.get_byte_array), so one new key in 256 fails the server's new_nonce_hash1
        # check ("Step 3 invalid new nonce hash"), against Telegram as against localdc; it
        # then makes another key, within these retries.
        connection_retries=2,
        retry_delay=0,
        timeout=20,
    )
    await client.connect()
    try:
        assert await client.is_user_authorized(), "the minted session is not logged in"
        for msg_id, expected in wanted:
            message = await client.get_messages(chat, ids=msg_id)
            assert message is not None and message.media is not None, f"message {msg_id}"
            dc_id = message.document.dc_id if message.document else message.photo.dc_id
            data = await client.download_media(message, file=bytes)
            digest = hashlib.sha256(data).hexdigest()
            print(f"message {msg_id}: dc={dc_id} bytes={len(data)} sha256={digest}", flush=True)
            assert digest == expected, f"message {msg_id}: sha256 {digest} != {expected}"
    finally:
        await client.disconnect()
    print("telethon media: all downloads ok", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(), 90))
