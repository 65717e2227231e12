"""Telethon against localdc: handshake and help.getConfig / help.getNearestDc over each TCP
transport. Usage: telethon_smoke.py PUBLIC_KEY_PEM_FILE DC2_PORT [EXPECTED_PORTS_CSV]

Prints one line per transport and exits non-zero on the first failure."""

import asyncio
import logging
import sys

from telethon import TelegramClient, connection, functions
from telethon.crypto import rsa
from telethon.sessions import MemorySession

TRANSPORTS = [
    connection.ConnectionTcpFull,
    connection.ConnectionTcpAbridged,
    connection.ConnectionTcpIntermediate,
    connection.ConnectionTcpObfuscated,
]


async def check(transport, port, expected_ports):
    session = MemorySession()
    session.set_dc(2, "127.0.0.1", port)
    client = TelegramClient(
        session,
        api_id=1,
        api_hash="x",
        connection=transport,
        receive_updates=False,
        # Telethon writes the auth key without g_ab's leading zero bytes (its
        # rsa.get_byte_array), so one new key in 256 fails the server's new_nonce_hash1
        # check ("Step 3 invalid new nonce hash"), against Telegram as against localdc; it
        # then makes another key, within these retries.
        connection_retries=2,
        retry_delay=0,
        timeout=10,
    )
    await client.connect()
    try:
        config = await client(functions.help.GetConfigRequest())
        nearest = await client(functions.help.GetNearestDcRequest())
    finally:
        await client.disconnect()
    assert config.this_dc == 2, f"this_dc {config.this_dc}"
    ports = sorted((o.id, o.port) for o in config.dc_options)
    assert all(o.ip_address == "127.0.0.1" for o in config.dc_options), config.dc_options
    assert (2, port) in ports, f"DC 2 port {port} not in {ports}"
    if expected_ports:
        assert [p for _, p in ports] == expected_ports, f"{ports} != {expected_ports}"
    assert nearest.this_dc == 2 and nearest.nearest_dc == 2, nearest
    listed = ",".join(f"{i}:{p}" for i, p in ports)
    print(f"{transport.__name__}: ok this_dc={config.this_dc} dc_options={listed} "
          f"nearest_dc={nearest.nearest_dc} country={nearest.country}", flush=True)


async def main():
    pem_path, port = sys.argv[1], int(sys.argv[2])
    expected = [int(p) for p in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
    with open(pem_path) as f:
        rsa.add_key(f.read(), old=False)
    for transport in TRANSPORTS:
        try:
            await asyncio.wait_for(check(transport, port, expected), 60)
        except BaseException as error:  # report which transport failed, then fail
            print(f"{transport.__name__}: FAILED {type(error).__name__}: {error}", flush=True)
            raise
    print("telethon smoke: all transports ok", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
