"""Times Telethon's download_media (with cryptg) of one message's file from localdc.

Usage: telethon_download.py READY_FILE STRING_SESSION CHAT MSG_ID OUT_FILE [EXPECTED_SHA256]

READY_FILE is localdc's --ready-file (its RSA public key is trusted for the handshake);
STRING_SESSION a Telethon StringSession minted by `localdc --mint-session PHONE`. The file
is written to OUT_FILE; only download_media is timed. The SHA-256 of the file is then
checked against EXPECTED_SHA256 when given. Prints one JSON object:
{"client": "telethon", "bytes": N, "seconds": S, "throughput_mib_s": T, "sha256": H,
 "verified": true|false|null, "cryptg": true|false}."""

import asyncio
import hashlib
import json
import logging
import os
import sys
import time

from telethon import TelegramClient, connection
from telethon.crypto import rsa
from telethon.sessions import StringSession

try:
    import cryptg  # noqa: F401  (Telethon uses it for AES-IGE when importable)

    HAVE_CRYPTG = True
except ImportError:
    HAVE_CRYPTG = False


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


async def main():
    ready_path, session, chat, msg_id, out = sys.argv[1:6]
    expected = sys.argv[6] if len(sys.argv) > 6 else None
    with open(ready_path) as f:
        ready = json.load(f)
    rsa.add_key(ready["rsa_public_key_pem"], old=False)
    client = TelegramClient(
        StringSession(session),
        api_id=4,
        api_hash="0123456789abcdef",
        connection=connection.ConnectionTcpIntermediate,
        receive_updates=False,
        timeout=30,
    )
    await client.connect()
    try:
        assert await client.is_user_authorized(), "the minted session is not logged in"
        message = await client.get_messages(chat, ids=int(msg_id))
        assert message is not None and message.media is not None, f"message {msg_id}"
        started = time.perf_counter()
        await client.download_media(message, file=out)
        seconds = time.perf_counter() - started
    finally:
        await client.disconnect()
    size = os.path.getsize(out)
    digest = sha256_file(out)
    print(
        json.dumps(
            {
                "client": "telethon",
                "bytes": size,
                "seconds": seconds,
                "throughput_mib_s": size / (1 << 20) / seconds,
                "sha256": digest,
                "verified": None if expected is None else digest == expected,
                "cryptg": HAVE_CRYPTG,
            }
        ),
        flush=True,
    )
    if expected is not None and digest != expected:
        sys.exit(f"telethon_download: sha256 {digest} != {expected}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
