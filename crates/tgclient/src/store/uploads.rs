//! Downloads written to object storage (M11): the multipart upload each one goes into and
//! the parts the service confirmed, so a rerun continues the same upload at the byte.

use rusqlite::{OptionalExtension, params};

use super::{SessionStore, StoreError, unix_now};

/// The multipart upload a download goes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The download's ledger key.
    pub key: String,
    /// The stored object (a different one at the same key starts a new upload).
    pub media_id: i64,
    pub thumb: String,
    pub size: u64,
    /// Where the verified file appears, relative to the target's prefix.
    pub final_key: String,
    /// Where the upload is assembled until it is verified.
    pub staging_key: String,
    /// The service's name for the upload.
    pub upload_id: String,
    /// Bytes per part (all but the last).
    pub part_size: u64,
    /// The whole file's SHA-256, once verified (set before the upload is completed).
    pub sha256: Option<[u8; 32]>,
    /// The service assembled the parts into the staging object.
    pub completed: bool,
    /// The parts the service confirmed, by number.
    pub parts: Vec<UploadedPart>,
}

/// One part of an upload the service confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    /// 1-based, as in S3.
    pub number: u32,
    /// The file's bytes `start..end` it holds.
    pub start: u64,
    pub end: u64,
    /// The service's entity tag for it.
    pub etag: String,
    pub sha256: [u8; 32],
    /// The whole file's SHA-256 state after this part (opaque to the store).
    pub hash_state: Vec<u8>,
}

impl SessionStore {
    /// The upload recorded for download `key`, with its parts in order.
    pub fn upload(&self, key: &str) -> Result<Option<UploadRecord>, StoreError> {
        type Row = (
            i64,
            String,
            i64,
            String,
            String,
            String,
            i64,
            Option<Vec<u8>>,
            bool,
        );
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT media_id, thumb, size, final_key, staging_key, upload_id, part_size,
                        sha256, completed
                   FROM uploads WHERE key = ?1",
                [key],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .optional()?;
        let Some((media_id, thumb, size, final_key, staging_key, upload_id, part_size, sha, done)) =
            row
        else {
            return Ok(None);
        };
        let sha256 = match sha {
            None => None,
            Some(bytes) => Some(self.hash(&bytes)?),
        };
        Ok(Some(UploadRecord {
            key: key.to_owned(),
            media_id,
            thumb,
            size: self.unsigned(size)?,
            final_key,
            staging_key,
            upload_id,
            part_size: self.unsigned(part_size)?,
            sha256,
            completed: done,
            parts: self.upload_parts(key)?,
        }))
    }

    fn upload_parts(&self, key: &str) -> Result<Vec<UploadedPart>, StoreError> {
        type Row = (i64, i64, i64, String, Vec<u8>, Vec<u8>);
        let mut statement = self.conn.prepare_cached(
            "SELECT number, start, end, etag, sha256, hash_state FROM upload_parts
              WHERE key = ?1 ORDER BY number",
        )?;
        let rows: Vec<Row> = statement
            .query_map([key], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(number, start, end, etag, sha256, hash_state)| {
                Ok(UploadedPart {
                    number: u32::try_from(number)
                        .map_err(|_| self.invalid(format!("upload part number {number}")))?,
                    start: self.unsigned(start)?,
                    end: self.unsigned(end)?,
                    etag,
                    sha256: self.hash(&sha256)?,
                    hash_state,
                })
            })
            .collect()
    }

    /// Records a new upload for download `record.key`, replacing any earlier one and its
    /// parts (`record.parts` are not written: parts are added as the service confirms
    /// them).
    pub fn begin_upload(&mut self, record: &UploadRecord) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM upload_parts WHERE key = ?1", [&record.key])?;
        tx.execute(
            "INSERT INTO uploads (key, media_id, thumb, size, final_key, staging_key, upload_id,
                                  part_size, sha256, completed, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, 0, ?9)
             ON CONFLICT (key) DO UPDATE SET
                 media_id = excluded.media_id, thumb = excluded.thumb, size = excluded.size,
                 final_key = excluded.final_key, staging_key = excluded.staging_key,
                 upload_id = excluded.upload_id, part_size = excluded.part_size,
                 sha256 = NULL, completed = 0, updated_at = excluded.updated_at",
            params![
                record.key,
                record.media_id,
                record.thumb,
                signed(record.size),
                record.final_key,
                record.staging_key,
                record.upload_id,
                signed(record.part_size),
                unix_now()
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a part the service confirmed for download `key` (a part of the same
    /// number uploaded again replaces it).
    pub fn add_upload_part(&self, key: &str, part: &UploadedPart) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO upload_parts (key, number, start, end, etag, sha256, hash_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (key, number) DO UPDATE SET
                 start = excluded.start, end = excluded.end, etag = excluded.etag,
                 sha256 = excluded.sha256, hash_state = excluded.hash_state",
            params![
                key,
                part.number,
                signed(part.start),
                signed(part.end),
                part.etag,
                part.sha256.as_slice(),
                part.hash_state
            ],
        )?;
        Ok(())
    }

    /// Forgets the parts of download `key` from number `from` on (the service no longer
    /// has them).
    pub fn drop_upload_parts_from(&self, key: &str, from: u32) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM upload_parts WHERE key = ?1 AND number >= ?2",
            params![key, from],
        )?;
        Ok(())
    }

    /// Records that download `key` was verified whole (`sha256`), before it is completed.
    pub fn set_upload_verified(&self, key: &str, sha256: &[u8; 32]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE uploads SET sha256 = ?2, updated_at = ?3 WHERE key = ?1",
            params![key, sha256.as_slice(), unix_now()],
        )?;
        Ok(())
    }

    /// Records that the service assembled download `key`'s parts.
    pub fn set_upload_completed(&self, key: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE uploads SET completed = 1, updated_at = ?2 WHERE key = ?1",
            params![key, unix_now()],
        )?;
        Ok(())
    }

    /// Forgets the upload of download `key` and its parts.
    pub fn remove_upload(&mut self, key: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM upload_parts WHERE key = ?1", [key])?;
        tx.execute("DELETE FROM uploads WHERE key = ?1", [key])?;
        tx.commit()?;
        Ok(())
    }

    fn unsigned(&self, value: i64) -> Result<u64, StoreError> {
        u64::try_from(value).map_err(|_| self.invalid(format!("negative size {value}")))
    }

    fn hash(&self, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
        <[u8; 32]>::try_from(bytes)
            .map_err(|_| self.invalid(format!("a SHA-256 of {} bytes", bytes.len())))
    }
}

/// Sizes are below 2^63 (Telegram files are at most 4 GB).
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
