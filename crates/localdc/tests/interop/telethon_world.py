"""Telethon against localdc's world: phone-code login (following NETWORK_MIGRATE and
PHONE_MIGRATE from the first DC it contacts), a 2FA login, dialogs and history.

Usage: telethon_world.py PUBLIC_KEY_PEM_FILE FIRST_DC FIRST_DC_PORT LOGIN...
where each LOGIN is PHONE:CODE[:PASSWORD]. For each login prints one line
`RESULT {json}` with the account's id, the DC it ended on, its dialogs (as get_dialogs
lists them) and, for the first private and the first channel dialog, the history read
with iter_messages (newest first) and again with reverse=True (oldest first)."""

import asyncio
import json
import logging
import sys

from telethon import TelegramClient, connection, errors, utils
from telethon.crypto import rsa
from telethon.sessions import MemorySession
from telethon.tl import types


def message_row(m):
    return {
        "id": m.id,
        "date": int(m.date.timestamp()),
        "text": m.message or "",
        "out": bool(m.out),
        "sender": m.sender_id,
    }


async def run_login(first_dc, port, login):
    phone, code, *rest = login.split(":")
    password = rest[0] if rest else None
    session = MemorySession()
    session.set_dc(first_dc, "127.0.0.1", port)
    client = TelegramClient(
        session,
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
        assert not await client.is_user_authorized()
        sent = await client.send_code_request(phone)
        assert sent.phone_code_hash
        try:
            me = await client.sign_in(phone, code)
            assert password is None, "the server asked for no password"
        except errors.SessionPasswordNeededError:
            assert password is not None, "the server wants a password"
            me = await client.sign_in(password=password)
        assert isinstance(me, types.User) and me.is_self, me
        result = {"phone": phone, "me": me.id, "dc": client.session.dc_id,
                  "dialogs": [], "history": {}}
        dialogs = await client.get_dialogs()
        for d in dialogs:
            top = d.message
            result["dialogs"].append({
                "id": d.id,
                "name": d.name,
                "top": top.id if top else 0,
                "date": int(top.date.timestamp()) if top else 0,
                "user": d.is_user,
                "channel": d.is_channel,
            })
        picked = [next((d for d in dialogs if d.is_user), None),
                  next((d for d in dialogs if d.is_channel), None)]
        for d in picked:
            if d is None:
                continue
            newest_first = [message_row(m) async for m in client.iter_messages(d.entity)]
            oldest_first = [message_row(m)
                            async for m in client.iter_messages(d.entity, reverse=True, limit=None)]
            paged = [message_row(m) async for m in client.iter_messages(d.entity, limit=3,
                                                                         offset_id=top_id(newest_first))]
            result["history"][str(utils.get_peer_id(d.entity))] = {
                "newest_first": newest_first,
                "oldest_first": oldest_first,
                "after_top_3": paged,
            }
        return result
    finally:
        await client.disconnect()


def top_id(rows):
    return rows[0]["id"] if rows else 0


async def main():
    pem_path, first_dc, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(pem_path) as f:
        rsa.add_key(f.read(), old=False)
    for login in sys.argv[4:]:
        result = await asyncio.wait_for(run_login(first_dc, port, login), 90)
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    # Show the DC switches (NETWORK_MIGRATE, PHONE_MIGRATE) in the test's output.
    logging.getLogger("telethon.client.users").setLevel(logging.INFO)
    logging.getLogger("telethon.client.telegrambaseclient").setLevel(logging.INFO)
    asyncio.run(main())
