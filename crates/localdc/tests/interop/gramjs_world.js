// GramJS (npm `telegram`, layer 198) against localdc: a minted, logged-in session reads its
// dialogs and their history and downloads every photo and document it finds (photos at
// their largest size), printing the SHA-256 of each.
//
// Usage: node gramjs_world.js GRAMJS_DIR PUBLIC_KEY_PEM FINGERPRINT STRING_SESSION DC HOST PORTS
// where PORTS is `DC=PORT,DC=PORT...` (every DC of the localdc).
// Prints `me ID`, one `dialog ID TITLE` per dialog, one `media MSG_ID DC BYTES SHA256` per
// file, then `gramjs: done`; exits non-zero on any failure.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const [gramjsDir, pemPath, fingerprint, stringSession, dc, host, portList] = process.argv.slice(2);
const ports = new Map(portList.split(",").map((pair) => pair.split("=").map(Number)));
const modules = path.join(gramjsDir, "node_modules");
const { TelegramClient } = require(path.join(modules, "telegram"));
const { ConnectionTCPFull } = require(path.join(modules, "telegram/network"));
const { StringSession } = require(path.join(modules, "telegram/sessions"));
const { Logger, LogLevel } = require(path.join(modules, "telegram/extensions/Logger"));
const RSA = require(path.join(modules, "telegram/crypto/RSA"));
const bigInt = require(path.join(modules, "big-integer"));

// GramJS knows only Telegram's RSA keys: localdc's goes into the same table, by fingerprint.
const jwk = crypto.createPublicKey(fs.readFileSync(pemPath, "utf8")).export({ format: "jwk" });
RSA._serverKeys.set(fingerprint, {
    n: bigInt(Buffer.from(jwk.n, "base64url").toString("hex"), 16),
    e: parseInt(Buffer.from(jwk.e, "base64url").toString("hex"), 16),
});

// On Node, GramJS connects to its home DC on port 80 whatever the session says, and to
// other DCs on port 443 whatever help.getConfig says: localdc's ports go in here.
class LocalDcConnection extends ConnectionTCPFull {
    constructor(options) {
        super({ ...options, port: ports.get(options.dcId) ?? options.port });
    }
}

function sha256(data) {
    return crypto.createHash("sha256").update(data).digest("hex");
}

async function main() {
    const session = new StringSession(stringSession);
    // GramJS reads the port of a StringSession as a signed 16-bit number: set it again.
    session.setDC(Number(dc), host, ports.get(Number(dc)));
    const client = new TelegramClient(session, 1, "x", {
        connection: LocalDcConnection,
        connectionRetries: 1,
        autoReconnect: false,
        receiveUpdates: false,
        baseLogger: new Logger(LogLevel.ERROR),
    });
    await client.connect();
    try {
        const me = await client.getMe();
        console.log(`me ${me.id}`);
        const dialogs = await client.getDialogs({ limit: 100 });
        for (const dialog of dialogs) {
            console.log(`dialog ${dialog.id} ${dialog.title}`);
            const messages = await client.getMessages(dialog.entity, { limit: 100 });
            for (const message of messages) {
                const media = message.media;
                if (!media || !(media.photo || media.document)) {
                    continue;
                }
                const file = media.photo || media.document;
                const data = await client.downloadMedia(message, {});
                if (!Buffer.isBuffer(data)) {
                    throw new Error(`message ${message.id}: no bytes downloaded`);
                }
                console.log(`media ${message.id} ${file.dcId} ${data.length} ${sha256(data)}`);
            }
        }
    } finally {
        await client.disconnect();
        await client.destroy();
    }
    console.log("gramjs: done");
}

const deadline = setTimeout(() => {
    console.error("gramjs: timed out");
    process.exit(3);
}, 100000);
main().then(
    () => {
        clearTimeout(deadline);
        process.exit(0);
    },
    (error) => {
        console.error("gramjs failed:", error && error.stack ? error.stack : error);
        process.exit(1);
    },
);
