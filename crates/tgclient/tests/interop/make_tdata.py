"""Writes a Telegram Desktop `tdata` folder with opentele-ng (a third-party library that
converts Telethon sessions into Desktop folders), for tgdl's tdata reader tests.

Reads one JSON object on stdin (so no key appears in `ps`):
  {"out": DIR, "passcode": "" or "...",
   "accounts": [{"dc_id": 2, "user_id": 1000001, "auth_key_hex": "<512 hex digits>"}, ...]}
An account may instead name a Telethon session file, whose DC and key are used (Telethon
does not store the user id, so it is given):
   {"telethon_session": "PATH/telethon.session", "user_id": 1000001}
Each account becomes a Telethon StringSession holding that key, handed to opentele-ng with
UseCurrentSession: no connection is made, the folder is written from the sessions alone.
Prints the folder's file names (relative, sorted) on stdout.
"""

import asyncio
import json
import os
import sys

from opentele.api import UseCurrentSession
from opentele.td import TDesktop, Account
from opentele.tl import TelegramClient
from telethon.crypto import AuthKey
from telethon.sessions import SQLiteSession, StringSession


def dc_and_key(account):
    """The account's DC and auth key bytes: given, or read from a Telethon session file."""
    if "telethon_session" not in account:
        return account["dc_id"], bytes.fromhex(account["auth_key_hex"])
    path = account["telethon_session"]
    if not os.path.isfile(path):
        sys.exit(f"no Telethon session file at {path}")
    # SQLiteSession adds ".session" to a name without it, so the path is given whole.
    stored = SQLiteSession(path)
    try:
        if stored.auth_key is None:
            sys.exit(f"{path} holds no auth key")
        return stored.dc_id, stored.auth_key.key
    finally:
        stored.close()


def client_for(account):
    dc_id, key = dc_and_key(account)
    session = StringSession()
    # The address is never used: nothing connects; Desktop keeps only the DC id.
    session.set_dc(dc_id, "127.0.0.1", 443)
    session.auth_key = AuthKey(key)
    client = TelegramClient(session)
    client.UserId = account["user_id"]
    return client


async def main():
    request = json.load(sys.stdin)
    accounts = request["accounts"]
    desktop = await TDesktop.FromTelethon(client_for(accounts[0]), flag=UseCurrentSession)
    for account in accounts[1:]:
        await Account.FromTelethon(client_for(account), flag=UseCurrentSession, owner=desktop)
    if not desktop.SaveTData(request["out"], passcode=request["passcode"] or None):
        sys.exit("opentele-ng could not write the folder")
    names = []
    for root, _dirs, files in os.walk(request["out"]):
        names += [os.path.relpath(os.path.join(root, f), request["out"]) for f in files]
    print("\n".join(sorted(names)))


asyncio.run(main())
