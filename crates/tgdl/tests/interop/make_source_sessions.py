"""Source sessions for tgdl's login import tests, made by the real clients against a running
localdc: Telethon 1.45.0 and kurigram 2.2.26 (a maintained Pyrogram fork), unmodified.

Reads one JSON object on stdin (so no code, password or key appears in `ps`):

  {"server": READY, ...}   where READY is localdc's ready file (`--ready-file`): its
                            `dcs` [{id, host, port}] and `rsa_public_key_pem`;
                            or {"ready_file": PATH, ...} to read it from there.

and does one of three things:

make (the default):
  {"server": READY, "phone": "15550001", "code": "12345", "password": null,
   "out": DIR, "api_id": 4, "api_hash": "x", "first_dc": 2}
  Logs in with Telethon and writes DIR/telethon.session (its SQLite session) and
  DIR/telethon.string (its StringSession), then logs in again with kurigram and writes
  DIR/pyrogram.session (its SQLite session) and DIR/pyrogram.string (its session string);
  files 0600. Two logins, so two authorizations in localdc. Prints one JSON line:
  {"telethon": {"user_id", "dc"}, "pyrogram": {"user_id", "dc"}, "files": [...]}.

check:
  {"server": READY, "check": {"library": "telethon"|"pyrogram",
                              "file": PATH | "string": TEXT}}
  Opens that session, calls get_me and lists the dialogs (a real request on the account's
  DC), and prints {"user_id", "dialogs"}: proves a source key still works.

token_login:
  {"server": READY, "token_login": {"file": TELETHON_SESSION_PATH, "first_dc": 1,
                                    "device_model": "second key", "password": null},
   "api_id": 4, "api_hash": "x"}
  A fresh Telethon client (a new key, first on `first_dc`) asks for a login token; the
  logged-in client of the session file accepts it (auth.acceptLoginToken); the new client
  finishes the login (following loginTokenMigrateTo; with the 2FA password when the
  account has one), then the source lists the account's
  authorizations. Prints {"accepted": {...}, "new_user_id", "authorizations": [...]}.

The real clients connect to Telegram's addresses unless told otherwise; this is
configuration only: Telethon's `set_dc` and `rsa.add_key`, and for Pyrogram the storage's
server address and port (Pyrogram has no setting for a first DC) and its table of server
keys. Nothing in either client's code is changed.
"""

import asyncio
import json
import logging
import os
import sys

import rsa as rsa_keys
from pyrogram import Client
from pyrogram import errors as pyrogram_errors
from pyrogram.crypto import rsa as pyrogram_rsa
from telethon import TelegramClient, connection, functions
from telethon import errors as telethon_errors
from telethon.crypto import rsa as telethon_rsa
from telethon.sessions import MemorySession, StringSession

# Each step against a local server ends well within this.
TIMEOUT = 120


def load_server(request):
    if "server" in request:
        return request["server"]
    with open(request["ready_file"]) as f:
        return json.load(f)


def ports_of(server):
    return {dc["id"]: dc["port"] for dc in server["dcs"]}


def trust_server_key(server):
    """Both clients check the server's RSA key: add localdc's to each one's table."""
    pem = server["rsa_public_key_pem"]
    telethon_rsa.add_key(pem, old=False)
    key = rsa_keys.PublicKey.load_pkcs1(pem.encode())
    fingerprint = telethon_rsa._compute_fingerprint(key)
    pyrogram_rsa.server_public_keys[fingerprint] = pyrogram_rsa.PublicKey(key.n, key.e)


def telethon_client(session, request, **extra):
    return TelegramClient(
        session,
        api_id=request.get("api_id", 4),
        api_hash=request.get("api_hash", "x"),
        connection=connection.ConnectionTcpIntermediate,
        receive_updates=False,
        # Telethon writes the auth key without g_ab's leading zero bytes, so one new key in
        # 256 fails the server's new_nonce_hash1 check; it then makes another key.
        connection_retries=3,
        retry_delay=0,
        timeout=20,
        **extra,
    )


def point_pyrogram_at(client, ports):
    """Pyrogram stores Telegram's address for a new session's first DC (2) and whatever a
    session file holds for the others: every address it stores or reads becomes
    localdc's port for that DC."""
    storage = client.storage
    stored_address, stored_port = storage.server_address, storage.port

    async def server_address(value=object):
        if value is object:
            return await stored_address()
        return await stored_address("127.0.0.1")

    async def port(value=object):
        if value is object:
            return await stored_port()
        return await stored_port(ports.get(await storage.dc_id(), value))

    storage.server_address, storage.port = server_address, port
    open_storage = storage.open

    async def open_then_point():
        await open_storage()
        if await storage.dc_id() is not None:
            await server_address("127.0.0.1")
            await port(0)

    storage.open = open_then_point


async def make_telethon(request, ports, out):
    first_dc = request.get("first_dc", 2)
    client = telethon_client(os.path.join(out, "telethon"), request)
    client.session.set_dc(first_dc, "127.0.0.1", ports[first_dc])
    await client.connect()
    try:
        sent = await client.send_code_request(request["phone"])
        try:
            me = await client.sign_in(request["phone"], request["code"],
                                      phone_code_hash=sent.phone_code_hash)
        except telethon_errors.SessionPasswordNeededError:
            me = await client.sign_in(password=request["password"])
        string = StringSession.save(client.session)
        write_secret(os.path.join(out, "telethon.string"), string)
        return {"user_id": me.id, "dc": client.session.dc_id}
    finally:
        await client.disconnect()
        os.chmod(os.path.join(out, "telethon.session"), 0o600)


async def make_pyrogram(request, ports, out):
    client = Client(
        "pyrogram",
        api_id=request.get("api_id", 4),
        api_hash=request.get("api_hash", "x"),
        workdir=out,
        no_updates=True,
    )
    point_pyrogram_at(client, ports)
    await client.connect()
    try:
        sent = await client.send_code(request["phone"])
        try:
            me = await client.sign_in(request["phone"], sent.phone_code_hash, request["code"])
        except pyrogram_errors.SessionPasswordNeeded:
            me = await client.check_password(request["password"])
        string = await client.export_session_string()
        write_secret(os.path.join(out, "pyrogram.string"), string)
        return {"user_id": me.id, "dc": await client.storage.dc_id()}
    finally:
        await client.disconnect()
        os.chmod(os.path.join(out, "pyrogram.session"), 0o600)


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


async def make(request, ports):
    out = request["out"]
    os.makedirs(out, exist_ok=True)
    summary = {
        "telethon": await make_telethon(request, ports, out),
        "pyrogram": await make_pyrogram(request, ports, out),
        "files": sorted(os.listdir(out)),
    }
    return summary


def opened_telethon(check, request):
    if "file" in check:
        return telethon_client(check["file"], request)
    return telethon_client(StringSession(check["string"]), request)


async def check_telethon(check, request, ports):
    client = opened_telethon(check, request)
    # A session made against another run of localdc keeps its old port.
    client.session.set_dc(client.session.dc_id, "127.0.0.1", ports[client.session.dc_id])
    await client.connect()
    try:
        if not await client.is_user_authorized():
            raise SystemExit("the Telethon session is not logged in")
        me = await client.get_me()
        dialogs = await client.get_dialogs()
        return {"user_id": me.id, "dialogs": len(dialogs)}
    finally:
        await client.disconnect()


async def check_pyrogram(check, request, ports):
    if "file" in check:
        path = check["file"]
        client = Client(
            os.path.splitext(os.path.basename(path))[0],
            workdir=os.path.dirname(os.path.abspath(path)),
            no_updates=True,
        )
    else:
        client = Client("check", session_string=check["string"], in_memory=True,
                        no_updates=True)
    point_pyrogram_at(client, ports)
    await client.start()
    try:
        me = await client.get_me()
        dialogs = [d async for d in client.get_dialogs()]
        return {"user_id": me.id, "dialogs": len(dialogs)}
    finally:
        await client.stop()


async def token_login(request, ports):
    spec = request["token_login"]
    source = telethon_client(spec["file"], request)
    source.session.set_dc(source.session.dc_id, "127.0.0.1", ports[source.session.dc_id])
    session = MemorySession()
    first_dc = spec.get("first_dc", 2)
    session.set_dc(first_dc, "127.0.0.1", ports[first_dc])
    fresh = telethon_client(session, request, device_model=spec.get("device_model", "second key"))
    await source.connect()
    await fresh.connect()
    try:
        qr = await fresh.qr_login()
        accepted = await source(functions.auth.AcceptLoginTokenRequest(token=qr.token))
        try:
            new_user = await qr.wait(timeout=60)
        except telethon_errors.SessionPasswordNeededError:
            # A 2FA account: the new key logs in with the password, as after a QR login.
            new_user = await fresh.sign_in(password=spec["password"])
        listed = await source(functions.account.GetAuthorizationsRequest())
        return {
            "accepted": authorization_row(accepted),
            "new_user_id": new_user.id,
            "new_dc": fresh.session.dc_id,
            "authorizations": [authorization_row(a) for a in listed.authorizations],
        }
    finally:
        await fresh.disconnect()
        await source.disconnect()


def authorization_row(a):
    return {
        "hash": a.hash,
        "current": bool(a.current),
        "device_model": a.device_model,
        "api_id": a.api_id,
        "app_version": a.app_version,
        "password_pending": bool(a.password_pending),
    }


async def main():
    request = json.load(sys.stdin)
    server = load_server(request)
    ports = ports_of(server)
    trust_server_key(server)
    if "check" in request:
        check = request["check"]
        if check["library"] == "telethon":
            result = await check_telethon(check, request, ports)
        else:
            result = await check_pyrogram(check, request, ports)
    elif "token_login" in request:
        result = await token_login(request, ports)
    else:
        result = await make(request, ports)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(asyncio.wait_for(main(), TIMEOUT))
