//! The schema and its history. `PRAGMA user_version` is the number of migrations applied;
//! `PRAGMA application_id` marks the file as a tgdl session.

use rusqlite::Connection;

/// `application_id` of every tgdl session ("tgdl" in ASCII).
pub(crate) const APPLICATION_ID: i32 = 0x7467_646c;

/// The migrations, oldest first; migration `i` (0-based) takes the schema from version `i`
/// to `i + 1`. Never edit one that has shipped: add another.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: auth keys, the DC list, metadata (home DC, self user), the peers cache.
    "CREATE TABLE meta (
         key   TEXT PRIMARY KEY NOT NULL,
         value ANY
     ) STRICT;
     CREATE TABLE dc_auth (
         dc_id       INTEGER PRIMARY KEY NOT NULL,
         auth_key    BLOB NOT NULL,
         salt        INTEGER NOT NULL,
         time_offset INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE dc_options (
         dc_id  INTEGER NOT NULL,
         ip     TEXT NOT NULL,
         port   INTEGER NOT NULL,
         flags  INTEGER NOT NULL,
         secret BLOB,
         PRIMARY KEY (dc_id, ip, port)
     ) STRICT;
     CREATE TABLE peers (
         kind        INTEGER NOT NULL,
         id          INTEGER NOT NULL,
         access_hash INTEGER,
         username    TEXT,
         PRIMARY KEY (kind, id)
     ) STRICT;",
    // 2: per-DC authorization (exported/imported once per DC), peer freshness and a
    // username index, and the table the download engine (M5) keeps its state in.
    "ALTER TABLE dc_auth ADD COLUMN authorized INTEGER NOT NULL DEFAULT 0;
     UPDATE dc_auth SET authorized = 1
      WHERE dc_id = (SELECT value FROM meta WHERE key = 'home_dc')
        AND EXISTS (SELECT 1 FROM meta WHERE key = 'self_id');
     ALTER TABLE peers ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
     CREATE INDEX peers_username ON peers (username COLLATE NOCASE)
      WHERE username IS NOT NULL;
     CREATE TABLE downloads (
         key        TEXT PRIMARY KEY NOT NULL,
         state      BLOB NOT NULL,
         updated_at INTEGER NOT NULL
     ) STRICT;",
    // 3: archive mode (M9). Per chat (marked peer id) and filter set, the highest message
    // id already planned, so a rerun lists only what is newer; the versions of archived
    // messages (an edit that replaced media is archived beside the old file, never over
    // it); the update state of the common message box and of each followed channel, and
    // per followed chat the newest message handled (where a relisting starts when updates
    // were lost for good). The follow state is saved only once what it covers is handled,
    // so a crash replays (at least once) rather than loses.
    "CREATE TABLE listing_marks (
         chat_id    INTEGER NOT NULL,
         filter     TEXT NOT NULL,
         max_id     INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (chat_id, filter)
     ) STRICT;
     CREATE TABLE message_versions (
         chat_id   INTEGER NOT NULL,
         msg_id    INTEGER NOT NULL,
         media_id  INTEGER NOT NULL,
         edit_date INTEGER NOT NULL,
         PRIMARY KEY (chat_id, msg_id, media_id)
     ) STRICT;
     CREATE TABLE update_state (
         id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 0),
         pts  INTEGER NOT NULL,
         qts  INTEGER NOT NULL,
         seq  INTEGER NOT NULL,
         date INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE channel_state (
         channel_id INTEGER PRIMARY KEY NOT NULL,
         pts        INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE follow_marks (
         chat_id INTEGER PRIMARY KEY NOT NULL,
         top_id  INTEGER NOT NULL
     ) STRICT;",
    // 4: downloads written to object storage (M11). Per download (the ledger key), the
    // multipart upload it goes into (its staging key and the service's upload id, the part
    // size), and each part the service confirmed: its byte range, entity tag and SHA-256,
    // and the whole file's SHA-256 state after it, so a rerun continues the same upload
    // at the first missing part without fetching the finished bytes again. `sha256` is set
    // once the whole file is verified (before the upload is completed), `completed` once
    // the service assembled it.
    "CREATE TABLE uploads (
         key         TEXT PRIMARY KEY NOT NULL,
         media_id    INTEGER NOT NULL,
         thumb       TEXT NOT NULL,
         size        INTEGER NOT NULL,
         final_key   TEXT NOT NULL,
         staging_key TEXT NOT NULL,
         upload_id   TEXT NOT NULL,
         part_size   INTEGER NOT NULL,
         sha256      BLOB,
         completed   INTEGER NOT NULL DEFAULT 0,
         updated_at  INTEGER NOT NULL
     ) STRICT;
     CREATE TABLE upload_parts (
         key        TEXT NOT NULL,
         number     INTEGER NOT NULL,
         start      INTEGER NOT NULL,
         end        INTEGER NOT NULL,
         etag       TEXT NOT NULL,
         sha256     BLOB NOT NULL,
         hash_state BLOB NOT NULL,
         PRIMARY KEY (key, number)
     ) STRICT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// What an opened database is, judged before anything is written to it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// No schema, no application id: a new file to initialize.
    Fresh,
    /// A tgdl session at this schema version.
    Session(i64),
    /// Another program's database.
    Foreign,
}

/// Reads the identity of the database behind `conn`.
pub(crate) fn identify(conn: &Connection) -> rusqlite::Result<Identity> {
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let objects: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
    Ok(match app {
        APPLICATION_ID => Identity::Session(version),
        0 if version == 0 && objects == 0 => Identity::Fresh,
        _ => Identity::Foreign,
    })
}

/// Applies the migrations after `from` up to `to`, in one transaction.
pub(crate) fn migrate(conn: &mut Connection, from: i64, to: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let version = index as i64 + 1;
        if version > from && version <= to {
            tx.execute_batch(sql)?;
            tracing::debug!(version, "session schema migrated");
        }
    }
    tx.pragma_update(None, "user_version", to)?;
    tx.commit()
}
