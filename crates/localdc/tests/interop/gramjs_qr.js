// GramJS (layer 198) logs in by QR code against localdc: a fresh client on one DC exports
// a login token, an already logged-in GramJS client (a minted session) accepts it, and the
// fresh client learns of it from the `updateLoginToken` localdc pushes (written in layer
// 198), then exports again and, the account living on another DC, imports the token there.
//
// Usage: node gramjs_qr.js GRAMJS_DIR PUBLIC_KEY_PEM FINGERPRINT STRING_SESSION DC HOST PORTS FRESH_DC
// where PORTS is `DC=PORT,DC=PORT...`. Prints `qr user ID` and `qr dc DC`, then
// `gramjs qr: done`; exits non-zero on any failure.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const [gramjsDir, pemPath, fingerprint, stringSession, dc, host, portList, freshDc] =
    process.argv.slice(2);
const ports = new Map(portList.split(",").map((pair) => pair.split("=").map(Number)));
const modules = path.join(gramjsDir, "node_modules");
const { TelegramClient, Api } = require(path.join(modules, "telegram"));
const { StringSession } = require(path.join(modules, "telegram/sessions"));
const { ConnectionTCPFull } = require(path.join(modules, "telegram/network"));
const { Logger, LogLevel } = require(path.join(modules, "telegram/extensions/Logger"));
const RSA = require(path.join(modules, "telegram/crypto/RSA"));
const bigInt = require(path.join(modules, "big-integer"));

const jwk = crypto.createPublicKey(fs.readFileSync(pemPath, "utf8")).export({ format: "jwk" });
RSA._serverKeys.set(fingerprint, {
    n: bigInt(Buffer.from(jwk.n, "base64url").toString("hex"), 16),
    e: parseInt(Buffer.from(jwk.e, "base64url").toString("hex"), 16),
});

// GramJS ignores the ports it is told (see gramjs_world.js): localdc's go in here.
class LocalDcConnection extends ConnectionTCPFull {
    constructor(options) {
        super({ ...options, port: ports.get(options.dcId) ?? options.port });
    }
}

function client(session) {
    return new TelegramClient(session, 1, "x", {
        connection: LocalDcConnection,
        connectionRetries: 1,
        autoReconnect: false,
        baseLogger: new Logger(LogLevel.ERROR),
    });
}

async function main() {
    const scannerSession = new StringSession(stringSession);
    scannerSession.setDC(Number(dc), host, ports.get(Number(dc)));
    const scanner = client(scannerSession);
    const freshSession = new StringSession("");
    freshSession.setDC(Number(freshDc), host, ports.get(Number(freshDc)));
    const fresh = client(freshSession);
    await scanner.connect();
    await fresh.connect();
    try {
        let accepted = false;
        const user = await fresh.signInUserWithQrCode(
            { apiId: 1, apiHash: "x" },
            {
                qrCode: async ({ token }) => {
                    if (accepted) {
                        return;
                    }
                    accepted = true;
                    // What the phone does after scanning `tg://login?token=...`.
                    await scanner.invoke(new Api.auth.AcceptLoginToken({ token }));
                },
                onError: async (error) => {
                    throw error;
                },
            },
        );
        console.log(`qr user ${user.id}`);
        const me = await fresh.getMe();
        console.log(`qr me ${me.id}`);
        console.log(`qr dc ${fresh.session.dcId}`);
    } finally {
        await fresh.destroy();
        await scanner.destroy();
    }
    console.log("gramjs qr: done");
}

const deadline = setTimeout(() => {
    console.error("gramjs qr: timed out (was the updateLoginToken push lost?)");
    process.exit(3);
}, 25000);
main().then(
    () => {
        clearTimeout(deadline);
        process.exit(0);
    },
    (error) => {
        console.error("gramjs qr failed:", error && error.stack ? error.stack : error);
        process.exit(1);
    },
);
