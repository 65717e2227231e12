//! Leases: which of several tgdl processes archiving into one prefix uploads a file.
//!
//! Where the service honours `If-None-Match: *` (AWS S3, a local path, memory), the lease
//! is one object `.tgdl/leases/<media-key>` created conditionally: whoever creates it
//! holds it. Where it does not (Garage 2.5 accepts the header and overwrites), each
//! contender writes its own claim `.tgdl/leases/<media-key>/<token>` and the lowest live
//! token wins:
//!
//! 1. list the claims; a live claim of another holder means the file is taken;
//! 2. write our claim (timing the list and the write);
//! 3. wait `SETTLE`, list again; the lowest live token holds the lease, the others delete
//!    their claims.
//!
//! Two contenders that both got past step 1 each wrote before the other listed (else the
//! later one would have seen the claim), so each one's step 3 sees both claims as long as
//! `SETTLE` exceeds the time from a step 1 to the end of its step 2; a contender whose
//! step 1-2 took longer than half of `SETTLE` withdraws and tries again. Tokens are random,
//! so the order needs no clock; expiry (the holder's wall clock plus the lease's time to
//! live) is what lets a crashed holder's lease lapse.
//!
//! A lease of the same session on the same host whose process no longer runs (a run that
//! was killed) is taken over at once, so a rerun resumes its own uploads.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::ObjError;
use crate::target::Target;
use crate::types::layout;

/// How long a contender waits between writing its claim and reading the claims back.
const SETTLE: Duration = Duration::from_millis(500);

/// How often a lease object that exists but does not parse (being written) is read again,
/// and how long apart.
const LEASE_READ_TRIES: u32 = 5;
const BEING_WRITTEN: Duration = Duration::from_millis(50);

/// What reading a lease object found.
enum LeaseRead {
    Missing,
    Unreadable,
    Body(LeaseBody),
}

/// How many times a contender whose claim was too slow to write tries again.
const SLOW_CLAIM_TRIES: u32 = 3;

/// Who holds a lease: shown to the others ("skipped: uploading on host by session").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The session (account) doing the upload.
    pub session: String,
    pub host: String,
    pub pid: u32,
}

impl Holder {
    /// This process (`std::process::id()`) on `host` for `session`.
    pub fn this_process(session: &str, host: &str) -> Self {
        Self {
            session: session.to_owned(),
            host: host.to_owned(),
            pid: std::process::id(),
        }
    }

    /// Whether `self` may take over a lease `other` holds: the same session on the same
    /// host, and `other` is this process or one that no longer runs (a run that was killed).
    /// Another live process of the same session keeps its lease.
    fn succeeds(&self, other: &Holder) -> bool {
        self.session == other.session
            && self.host == other.host
            && (self.pid == other.pid || !process_runs(other.pid))
    }
}

/// Whether a process with this id runs on this machine. Where that cannot be asked, no.
fn process_runs(pid: u32) -> bool {
    cfg!(target_os = "linux") && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "session {} on {} (pid {})",
            self.session, self.host, self.pid
        )
    }
}

/// The body of a lease object or claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseBody {
    holder: Holder,
    /// Unix seconds after which the lease is void.
    expires: u64,
    token: String,
}

/// A lease this process holds. Renew it before it expires; release it when done.
#[derive(Debug, Clone)]
pub struct Lease {
    media_key: String,
    /// The lease object or our claim.
    object_key: String,
    body: LeaseBody,
}

impl Lease {
    pub fn media_key(&self) -> &str {
        &self.media_key
    }

    /// Unix seconds after which the lease lapses unless renewed.
    pub fn expires(&self) -> u64 {
        self.body.expires
    }
}

/// The answer to asking for a lease.
#[derive(Debug, Clone)]
pub enum LeaseOutcome {
    Acquired(Lease),
    /// Someone else has the file; skip it and say who.
    Held {
        holder: Holder,
        expires: u64,
    },
}

/// Unix seconds now, from the wall clock (leases are compared across machines).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Target {
    /// Asks for the lease on `media_key` for `ttl`.
    pub async fn lease(
        &self,
        media_key: &str,
        holder: &Holder,
        ttl: Duration,
    ) -> Result<LeaseOutcome, ObjError> {
        self.lease_at(media_key, holder, ttl, unix_now()).await
    }

    /// `lease` with the wall clock given (tests, or a caller with its own clock).
    pub async fn lease_at(
        &self,
        media_key: &str,
        holder: &Holder,
        ttl: Duration,
        now: u64,
    ) -> Result<LeaseOutcome, ObjError> {
        let body = LeaseBody {
            holder: holder.clone(),
            expires: now.saturating_add(ttl.as_secs().max(1)),
            token: crate::random_token(),
        };
        if self.supports_conditional_create().await? {
            self.lease_conditional(media_key, body, now).await
        } else {
            self.lease_by_claims(media_key, body, now).await
        }
    }

    async fn lease_conditional(
        &self,
        media_key: &str,
        body: LeaseBody,
        now: u64,
    ) -> Result<LeaseOutcome, ObjError> {
        let key = layout::lease_key(media_key);
        let bytes = encode(&body)?;
        for _ in 0..LEASE_READ_TRIES {
            if self.create_if_absent(&key, bytes.clone()).await? {
                return Ok(acquired(media_key, key, body));
            }
            match self.read_lease(&key).await? {
                // Released between our create and our read: create again.
                LeaseRead::Missing => {}
                // Created but not yet written (a local path writes in place).
                LeaseRead::Unreadable => tokio::time::sleep(BEING_WRITTEN).await,
                LeaseRead::Body(current) => {
                    if current.expires > now && !body.holder.succeeds(&current.holder) {
                        return Ok(LeaseOutcome::Held {
                            holder: current.holder,
                            expires: current.expires,
                        });
                    }
                    return self.take_over(media_key, key, body, bytes).await;
                }
            }
        }
        // Still unreadable: not a lease tgdl wrote whole. Replace it.
        self.take_over(media_key, key, body, bytes).await
    }

    /// Replaces a lapsed, abandoned or broken lease, then checks nobody else did.
    async fn take_over(
        &self,
        media_key: &str,
        key: String,
        body: LeaseBody,
        bytes: Bytes,
    ) -> Result<LeaseOutcome, ObjError> {
        self.put_plain(&key, bytes).await?;
        match self.read_lease(&key).await? {
            LeaseRead::Body(after) if after.token == body.token => {
                Ok(acquired(media_key, key, body))
            }
            LeaseRead::Body(after) => Ok(LeaseOutcome::Held {
                holder: after.holder,
                expires: after.expires,
            }),
            LeaseRead::Missing | LeaseRead::Unreadable => Err(ObjError::Protocol {
                target: self.name().to_owned(),
                operation: "lease",
                message: format!("{key} changed right after it was written"),
            }),
        }
    }

    async fn lease_by_claims(
        &self,
        media_key: &str,
        body: LeaseBody,
        now: u64,
    ) -> Result<LeaseOutcome, ObjError> {
        let folder = format!("{}/", layout::lease_key(media_key));
        let own_key = format!("{folder}{}", body.token);
        for _ in 0..SLOW_CLAIM_TRIES {
            let started = Instant::now();
            let claims = self.live_claims(&folder, now, &body.holder).await?;
            if let Some((_, other)) = claims.into_iter().next() {
                return Ok(LeaseOutcome::Held {
                    holder: other.holder,
                    expires: other.expires,
                });
            }
            self.put_plain(&own_key, encode(&body)?).await?;
            if started.elapsed() > SETTLE / 2 {
                // Too slow for the others to be sure to see us: withdraw and retry.
                self.delete(&own_key).await?;
                continue;
            }
            tokio::time::sleep(SETTLE).await;
            let claims = self.read_claims(&folder).await?;
            let lowest = claims
                .into_iter()
                .filter(|(_, c)| c.expires > now || c.token == body.token)
                .min_by(|a, b| a.1.token.cmp(&b.1.token));
            return match lowest {
                Some((_, winner)) if winner.token != body.token => {
                    self.delete(&own_key).await?;
                    Ok(LeaseOutcome::Held {
                        holder: winner.holder,
                        expires: winner.expires,
                    })
                }
                _ => Ok(acquired(media_key, own_key, body)),
            };
        }
        Err(ObjError::Network {
            target: self.name().to_owned(),
            message: format!(
                "writing a lease claim for {media_key} took longer than {SETTLE:?}, {SLOW_CLAIM_TRIES} times"
            ),
        })
    }

    /// The live claims of other holders, lowest token first; our own stale claims and
    /// lapsed ones are removed on the way.
    async fn live_claims(
        &self,
        folder: &str,
        now: u64,
        holder: &Holder,
    ) -> Result<Vec<(String, LeaseBody)>, ObjError> {
        let mut live = Vec::new();
        for (key, claim) in self.read_claims(folder).await? {
            if claim.expires <= now || holder.succeeds(&claim.holder) {
                self.delete(&key).await?;
            } else {
                live.push((key, claim));
            }
        }
        live.sort_by(|a, b| a.1.token.cmp(&b.1.token));
        Ok(live)
    }

    async fn read_claims(&self, folder: &str) -> Result<Vec<(String, LeaseBody)>, ObjError> {
        let mut claims = Vec::new();
        for key in self.list(folder).await? {
            if let Some(body) = self.read_body(&key).await? {
                claims.push((key, body));
            }
        }
        Ok(claims)
    }

    /// A lease body; `None` when the object is gone or is not a lease (ignored).
    async fn read_body(&self, key: &str) -> Result<Option<LeaseBody>, ObjError> {
        Ok(match self.read_lease(key).await? {
            LeaseRead::Body(body) => Some(body),
            LeaseRead::Missing | LeaseRead::Unreadable => None,
        })
    }

    async fn read_lease(&self, key: &str) -> Result<LeaseRead, ObjError> {
        match self.read(key).await {
            Ok(bytes) => {
                Ok(serde_json::from_slice(&bytes).map_or(LeaseRead::Unreadable, LeaseRead::Body))
            }
            Err(ObjError::NotFound { .. }) => Ok(LeaseRead::Missing),
            Err(e) => Err(e),
        }
    }

    /// Extends a lease we hold. `Ok(false)`: it was lost (lapsed and taken by another).
    pub async fn renew(&self, lease: &mut Lease, ttl: Duration) -> Result<bool, ObjError> {
        self.renew_at(lease, ttl, unix_now()).await
    }

    /// `renew` with the wall clock given.
    pub async fn renew_at(
        &self,
        lease: &mut Lease,
        ttl: Duration,
        now: u64,
    ) -> Result<bool, ObjError> {
        match self.read_body(&lease.object_key).await? {
            Some(current) if current.token == lease.body.token => {}
            _ => return Ok(false),
        }
        lease.body.expires = now.saturating_add(ttl.as_secs().max(1));
        self.put_plain(&lease.object_key, encode(&lease.body)?)
            .await?;
        Ok(true)
    }

    /// Gives a lease up (after the file is published, or on failure).
    pub async fn release(&self, lease: Lease) -> Result<(), ObjError> {
        match self.read_body(&lease.object_key).await? {
            Some(current) if current.token == lease.body.token => {
                self.delete(&lease.object_key).await
            }
            _ => Ok(()),
        }
    }
}

fn acquired(media_key: &str, object_key: String, body: LeaseBody) -> LeaseOutcome {
    LeaseOutcome::Acquired(Lease {
        media_key: media_key.to_owned(),
        object_key,
        body,
    })
}

fn encode(body: &LeaseBody) -> Result<Bytes, ObjError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ObjError::Config(format!("encoding a lease: {e}")))
}
