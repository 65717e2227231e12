"""Telethon through an MTProxy: log in with a minted session and download files by SHA-256,
every connection (to the home DC and to the DC a file lives on) going through the proxy.

Usage: telethon_mtproxy.py PUBLIC_KEY_PEM_FILE STRING_SESSION CHAT PROXY_HOST PROXY_PORT
                           SECRET CONNECTION_CLASS TIMEOUT_S MSG_ID=SHA256 [MSG_ID=SHA256...]

CONNECTION_CLASS names a class of telethon.connection (ConnectionTcpMTProxyIntermediate,
ConnectionTcpMTProxyRandomizedIntermediate, ...). Prints one line per file and exits
non-zero on the first failure, or when TIMEOUT_S seconds pass."""

import asyncio
import hashlib
import logging
import sys

from telethon import TelegramClient, connection
from telethon.crypto import rsa
from telethon.sessions import StringSession


async def main(args):
    pem_path, session, chat, host, port, secret, codec = args[:7]
    wanted = [(int(m), h) for m, h in (arg.split("=", 1) for arg in args[8:])]
    with open(pem_path) as f:
        rsa.add_key(f.read(), old=False)
    client = TelegramClient(
        StringSession(session),
        api_id=1,
        api_hash="x",
        connection=getattr(connection, codec),
        proxy=(host, int(port), secret),
        receive_updates=False,
        connection_retries=0,
        retry_delay=0,
        timeout=20,
    )
    await client.connect()
    try:
        assert await client.is_user_authorized(), "the minted session is not logged in"
        me = await client.get_me()
        print(f"{codec}: logged in as user {me.id}", flush=True)
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
    print("telethon mtproxy: all downloads ok", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(sys.argv[1:]), float(sys.argv[8])))
