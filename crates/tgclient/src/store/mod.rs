//! The session store: one SQLite file per session holding auth keys, the DC list, the
//! logged-in user, a peers cache, (from M5) download state and (from M9) what archive mode
//! already has (`marks`) and (from M11) the multipart uploads of downloads written to
//! object storage (`uploads`).
//!
//! Opening is careful: the session is locked first (a second process gets
//! [`StoreError::InUse`]), a new file is created with mode 0600, an existing one is
//! identified before anything is written to it (a damaged or foreign file gives a typed
//! error and is left as it was), and older schemas are migrated in one transaction.

mod error;
mod file;
mod lock;
mod marks;
mod peek;
mod records;
mod schema;
mod updates;
mod uploads;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mtcrypto::AuthKey;
use mtnet::AuthState;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

pub use error::StoreError;
pub use marks::{ListingMark, MessageVersion};
pub use peek::SessionPeek;
pub use records::{DcAddress, DcAuth, DcFlags, PeerKind, PeerRecord, SelfUser};
pub use schema::SCHEMA_VERSION;
pub use updates::FollowState;
pub use uploads::{UploadRecord, UploadedPart};

use lock::SessionLock;
use schema::Identity;

/// An open session.
#[derive(Debug)]
pub struct SessionStore {
    conn: Connection,
    path: Option<PathBuf>,
    exposed: bool,
    _lock: Option<SessionLock>,
}

impl SessionStore {
    /// Opens the session at `path`, creating it (mode 0600) if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let lock = SessionLock::acquire(path)?;
        let created = file::create_if_missing(path).map_err(io)?;
        if !created {
            match file::header(path).map_err(io)? {
                file::Header::Empty | file::Header::Sqlite => {}
                file::Header::Other => {
                    return Err(StoreError::Corrupt {
                        path: path.to_path_buf(),
                        detail: "not an SQLite database".into(),
                    });
                }
            }
        }
        let exposed = file::is_exposed(path);
        if exposed {
            tracing::warn!(
                path = %path.display(),
                "session file is readable by other users; it holds login keys: chmod 600 it"
            );
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::from_open(path, e))?;
        let mut store = Self {
            conn,
            path: Some(path.to_path_buf()),
            exposed,
            _lock: Some(lock),
        };
        store.prepare()?;
        Ok(store)
    }

    /// A session kept in memory only (nothing survives the process).
    pub fn in_memory() -> Result<Self, StoreError> {
        let mut store = Self {
            conn: Connection::open_in_memory()?,
            path: None,
            exposed: false,
            _lock: None,
        };
        store.prepare()?;
        Ok(store)
    }

    /// Identifies, checks, configures and migrates the database.
    fn prepare(&mut self) -> Result<(), StoreError> {
        let path = self
            .path
            .clone()
            .unwrap_or_else(|| PathBuf::from(":memory:"));
        let open_err = |e| StoreError::from_open(&path, e);
        let identity = schema::identify(&self.conn).map_err(open_err)?;
        let version = match identity {
            Identity::Fresh => 0,
            Identity::Foreign => return Err(StoreError::Foreign { path }),
            Identity::Session(version) if version > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path,
                    found: version,
                    supported: SCHEMA_VERSION,
                });
            }
            Identity::Session(version) => version,
        };
        if version > 0 {
            let check: String = self
                .conn
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(open_err)?;
            if check != "ok" {
                return Err(StoreError::Corrupt {
                    path,
                    detail: check,
                });
            }
        }
        if self.path.is_some() {
            let mode: String = self
                .conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(open_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::debug!(%mode, "session database did not switch to WAL");
            }
        }
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        if version < SCHEMA_VERSION {
            schema::migrate(&mut self.conn, version, SCHEMA_VERSION).map_err(open_err)?;
        }
        Ok(())
    }

    /// The session file (`None` for an in-memory session).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the file was readable by group or others when opened (a warning was logged).
    pub fn is_exposed(&self) -> bool {
        self.exposed
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn invalid(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            path: self.path.clone().unwrap_or_default(),
            detail: detail.into(),
        }
    }

    // ---------------------------------------------------------------- meta

    fn meta_i64(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let value: Option<rusqlite::types::Value> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        match value {
            None | Some(rusqlite::types::Value::Null) => Ok(None),
            Some(rusqlite::types::Value::Integer(v)) => Ok(Some(v)),
            Some(_) => Err(self.invalid(format!("meta {key} is not an integer"))),
        }
    }

    fn meta_text(&self, key: &str) -> Result<Option<String>, StoreError> {
        let value: Option<rusqlite::types::Value> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?;
        match value {
            None | Some(rusqlite::types::Value::Null) => Ok(None),
            Some(rusqlite::types::Value::Text(v)) => Ok(Some(v)),
            Some(_) => Err(self.invalid(format!("meta {key} is not text"))),
        }
    }

    fn set_meta(&self, key: &str, value: impl rusqlite::ToSql) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The home DC (where the account lives), once known.
    pub fn home_dc(&self) -> Result<Option<i32>, StoreError> {
        self.meta_i64("home_dc")?
            .map(|v| i32::try_from(v).map_err(|_| self.invalid("home_dc out of range")))
            .transpose()
    }

    /// Records the home DC.
    pub fn set_home_dc(&self, dc_id: i32) -> Result<(), StoreError> {
        self.set_meta("home_dc", dc_id)
    }

    /// The logged-in account, if any.
    pub fn self_user(&self) -> Result<Option<SelfUser>, StoreError> {
        let Some(id) = self.meta_i64("self_id")? else {
            return Ok(None);
        };
        Ok(Some(SelfUser {
            id,
            bot: self.meta_i64("self_bot")?.unwrap_or(0) != 0,
            username: self.meta_text("self_username")?,
        }))
    }

    /// Records (or with `None` forgets) the logged-in account.
    pub fn set_self_user(&mut self, user: Option<&SelfUser>) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM meta WHERE key IN ('self_id', 'self_bot', 'self_username')",
            [],
        )?;
        if let Some(user) = user {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('self_id', ?1), ('self_bot', ?2),
                 ('self_username', ?3)",
                params![user.id, i64::from(user.bot), user.username],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    // ---------------------------------------------------------------- auth keys

    /// The auth key stored for `dc_id`.
    pub fn dc_auth(&self, dc_id: i32) -> Result<Option<DcAuth>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT auth_key, salt, time_offset, authorized FROM dc_auth WHERE dc_id = ?1",
                [dc_id],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(key, salt, time_offset, authorized)| {
            let bytes: [u8; 256] = key
                .try_into()
                .map_err(|_| self.invalid(format!("auth key of DC {dc_id} is not 256 bytes")))?;
            Ok(DcAuth {
                dc_id,
                auth: AuthState {
                    auth_key: AuthKey::from_bytes(bytes),
                    salt,
                    time_offset,
                },
                authorized: authorized != 0,
            })
        })
        .transpose()
    }

    /// Stores the key of `dc_id` with its salt and clock offset. Replacing the key of a DC
    /// resets its authorization; saving the same key again keeps it.
    pub fn save_dc_auth(&self, dc_id: i32, auth: &AuthState) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO dc_auth (dc_id, auth_key, salt, time_offset, authorized)
             VALUES (?1, ?2, ?3, ?4, 0)
             ON CONFLICT (dc_id) DO UPDATE SET
                 authorized = CASE WHEN auth_key = excluded.auth_key THEN authorized ELSE 0 END,
                 auth_key = excluded.auth_key,
                 salt = excluded.salt,
                 time_offset = excluded.time_offset",
            params![
                dc_id,
                auth.auth_key.as_bytes().as_slice(),
                auth.salt,
                auth.time_offset
            ],
        )?;
        Ok(())
    }

    /// Marks the key of `dc_id` as logged in (or not).
    pub fn set_dc_authorized(&self, dc_id: i32, authorized: bool) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE dc_auth SET authorized = ?2 WHERE dc_id = ?1",
            params![dc_id, i64::from(authorized)],
        )?;
        Ok(())
    }

    /// Forgets the key of `dc_id` (the server forgot it, or it is being replaced).
    pub fn remove_dc_auth(&self, dc_id: i32) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM dc_auth WHERE dc_id = ?1", [dc_id])?;
        Ok(())
    }

    /// Every stored key.
    pub fn dc_auths(&self) -> Result<Vec<DcAuth>, StoreError> {
        let ids: Vec<i32> = self
            .conn
            .prepare("SELECT dc_id FROM dc_auth ORDER BY dc_id")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut all = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(auth) = self.dc_auth(id)? {
                all.push(auth);
            }
        }
        Ok(all)
    }

    /// Forgets the login: every key, the self user. The DC list and home DC stay.
    pub fn clear_login(&mut self) -> Result<(), StoreError> {
        self.set_self_user(None)?;
        self.conn.execute("DELETE FROM dc_auth", [])?;
        Ok(())
    }

    // ---------------------------------------------------------------- DC list

    /// The DC list last fetched with `help.getConfig` (empty before the first contact).
    pub fn dc_options(&self) -> Result<Vec<DcAddress>, StoreError> {
        let rows: Vec<OptionRow> = self
            .conn
            .prepare("SELECT dc_id, ip, port, flags, secret FROM dc_options ORDER BY rowid")?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(dc_id, ip, port, flags, secret)| {
                Ok(DcAddress {
                    dc_id,
                    ip: ip
                        .parse()
                        .map_err(|_| self.invalid(format!("bad DC address {ip:?}")))?,
                    port: u16::try_from(port)
                        .map_err(|_| self.invalid(format!("bad DC port {port}")))?,
                    flags: DcFlags::from_bits(flags),
                    secret,
                })
            })
            .collect()
    }

    /// Replaces the DC list.
    pub fn replace_dc_options(&mut self, options: &[DcAddress]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM dc_options", [])?;
        {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO dc_options (dc_id, ip, port, flags, secret)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for option in options {
                insert.execute(params![
                    option.dc_id,
                    option.ip.to_string(),
                    option.port,
                    option.flags.bits(),
                    option.secret
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    // ---------------------------------------------------------------- peers

    /// Adds or updates cached peers. A record without an access hash or username keeps the
    /// one already known (a `min` constructor carries less than a full one).
    pub fn upsert_peers(&mut self, peers: &[PeerRecord]) -> Result<(), StoreError> {
        let now = unix_now();
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare(
                "INSERT INTO peers (kind, id, access_hash, username, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (kind, id) DO UPDATE SET
                     access_hash = coalesce(excluded.access_hash, access_hash),
                     username = coalesce(excluded.username, username),
                     updated_at = excluded.updated_at",
            )?;
            for peer in peers {
                upsert.execute(params![
                    peer.kind.code(),
                    peer.id,
                    peer.access_hash,
                    peer.username,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The cached peer `id` of `kind`.
    pub fn peer(&self, kind: PeerKind, id: i64) -> Result<Option<PeerRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT kind, id, access_hash, username FROM peers WHERE kind = ?1 AND id = ?2",
                params![kind.code(), id],
                peer_row,
            )
            .optional()?
            .map(|row| self.peer_from(row))
            .transpose()
    }

    /// The cached peer with `username` (case-insensitive), most recently seen first.
    pub fn peer_by_username(&self, username: &str) -> Result<Option<PeerRecord>, StoreError> {
        self.conn
            .query_row(
                "SELECT kind, id, access_hash, username FROM peers
                 WHERE username = ?1 COLLATE NOCASE ORDER BY updated_at DESC LIMIT 1",
                [username],
                peer_row,
            )
            .optional()?
            .map(|row| self.peer_from(row))
            .transpose()
    }

    fn peer_from(&self, row: PeerRow) -> Result<PeerRecord, StoreError> {
        let (kind, id, access_hash, username) = row;
        Ok(PeerRecord {
            kind: PeerKind::from_code(kind)
                .ok_or_else(|| self.invalid(format!("unknown peer kind {kind}")))?,
            id,
            access_hash,
            username,
        })
    }

    // ---------------------------------------------------------------- downloads (M5)

    /// The state the download engine saved under `key`.
    pub fn download_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT state FROM downloads WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Saves download state under `key`.
    pub fn set_download_state(&self, key: &str, state: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute(UPSERT_DOWNLOAD, params![key, state, unix_now()])?;
        Ok(())
    }

    /// Saves several download states in one transaction (one disk sync for the batch).
    pub fn set_download_states(&mut self, entries: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut statement = tx.prepare_cached(UPSERT_DOWNLOAD)?;
            let now = unix_now();
            for (key, state) in entries {
                statement.execute(params![key, state, now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes the download state under `key`.
    pub fn remove_download_state(&self, key: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM downloads WHERE key = ?1", [key])?;
        Ok(())
    }
}

const UPSERT_DOWNLOAD: &str = "INSERT INTO downloads (key, state, updated_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at";

type OptionRow = (i32, String, i64, i64, Option<Vec<u8>>);

type PeerRow = (i64, i64, Option<i64>, Option<String>);

fn peer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
pub(crate) use schema::MIGRATIONS;

#[cfg(test)]
mod tests;
