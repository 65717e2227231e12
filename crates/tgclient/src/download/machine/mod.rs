//! The per-file download machine: which parts of one file to ask for, from where, and what
//! to do with each answer. Pure: no I/O, no clock of its own (the caller passes `now`), no
//! randomness (the caller draws the jitter). What a failed request means and what comes
//! next is the recovery policy's (`crate::policy`), counted per part; the machine turns its
//! steps into actions. The executor carries out the [`Action`]s and feeds their
//! [`Outcome`]s back; the unit tests drive it the same way, without a server.

mod hashes;
mod part;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::time::Duration;

use tokio::time::Instant;

use super::error::FileFailure;
use super::job::ServerHashes;
use super::ranges::RangeSet;
use super::verify::RangeHash;
use crate::policy::{Context, ErrorKind, Failure, PolicyConfig, Step};
use hashes::{HashBook, HashMode};
use part::{Part, Stage};

/// The largest part Telegram serves, and the unit parts are aligned to.
pub const PART_SIZE: u32 = 1 << 20;

/// How far the machine goes before it gives up a part (and with it the file).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The recovery policy's numbers (tries, flood patience, migrations, renewals).
    pub(crate) policy: PolicyConfig,
    /// CDN refusals of one part before its file is given up.
    pub(crate) cdn_refusals: u32,
    /// Fetches of one part again after it failed the server's hashes.
    pub(crate) part_refetches: u32,
    /// Requests the server's hashes of one range get before the file goes on without them.
    pub(crate) hash_tries: u32,
    /// The pause before asking hashes again, doubling.
    pub(crate) hash_retry_pause: Duration,
    /// Hash requests one part may take (one covers 1 MiB with Telegram's 128 KiB chunks).
    pub(crate) max_hash_asks: u32,
    /// `upload.reuploadCdnFile` calls for one part.
    pub(crate) max_reuploads: u32,
}

impl Limits {
    /// The policy's numbers, with `max_attempts` tries of a part per passing failure.
    pub(crate) fn new(mut policy: PolicyConfig, max_attempts: u32) -> Self {
        policy.part_attempts = max_attempts.max(1);
        Self {
            policy,
            cdn_refusals: 5,
            part_refetches: 3,
            hash_tries: 3,
            hash_retry_pause: Duration::from_millis(250),
            max_hash_asks: 16,
            max_reuploads: 3,
        }
    }
}

/// What the machine is told about its file when it starts.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    pub(crate) size: u64,
    /// The DC the file lives on (as far as known).
    pub(crate) dc: i32,
    /// Check parts against `upload.getFileHashes`.
    pub(crate) verify_server_hashes: bool,
    /// Whether the client offered CDN support.
    pub(crate) cdn_supported: bool,
    /// Whether an expired file reference can be renewed (the message is known).
    pub(crate) refreshable: bool,
    /// Ranges already on disk from an earlier run.
    pub(crate) done: RangeSet,
}

/// Where a part is asked from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `upload.getFile` on the file's DC.
    Dc(i32),
    /// `upload.getCdnFile` on CDN DC `dc`, under redirect number `redirect`.
    Cdn { dc: i32, redirect: u64 },
}

/// What the executor is to do next for this file.
#[derive(Debug)]
pub(crate) enum Action {
    /// Ask for the part at `offset` (holding one unit of the budget), with the file
    /// location of generation `generation`.
    FetchPart {
        offset: u64,
        route: Route,
        generation: u64,
    },
    /// Ask DC `dc` for the server's hashes from `offset` on.
    FetchHashes { offset: u64, dc: i32 },
    /// Ask DC `dc` to have the CDN fetch the file again (`upload.reuploadCdnFile`).
    Reupload {
        offset: u64,
        dc: i32,
        redirect: u64,
        request_token: Vec<u8>,
    },
    /// Renew the file reference (it is at generation `generation`).
    RefreshReference { generation: u64 },
    /// Hold every file request to DC `dc` back for `wait` (a flood wait).
    HoldDc { dc: i32, wait: Duration },
    /// Mend DC `dc` as the policy says, then tell the part at `offset`.
    Repair {
        offset: u64,
        dc: i32,
        repair: Repair,
    },
    /// The home DC no longer accepts the login: the session forgets it, the run stops.
    LoginLost { reason: String },
    /// Check the bytes held for `offset` against `check` (when given) and write them.
    Store {
        offset: u64,
        check: Option<Vec<RangeHash>>,
    },
    /// Every byte is on disk: read the file back, and finish it.
    Verify { server_hashes: ServerHashes },
    /// The file cannot be had; drop what is in flight.
    Fail(FileFailure),
}

/// What mending a DC takes (the policy's steps that touch the session or the pools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repair {
    /// Drop the DC's connections (the next request opens new ones).
    Reconnect,
    /// The login imported there is gone: import it again.
    Reimport,
    /// The DC forgot the key: make a new one.
    NewKey,
}

/// Why a request did not bring what it asked for, as far as this file is concerned.
#[derive(Debug)]
pub(crate) enum Trouble {
    /// The request failed: what that means (the recovery policy's reading), where it
    /// went, and what the server or the connection said.
    Error {
        kind: ErrorKind,
        context: Context,
        why: String,
    },
    /// The file cannot be had (an answer the client cannot use).
    Failed(FileFailure),
}

/// What came of an [`Action`].
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The part at `offset` came, `len` bytes (held by the executor). CDN bytes were
    /// checked on arrival against the CDN hashes, and are checked like the others too.
    Bytes { offset: u64, len: u64 },
    /// The file's DC sent the file through CDN DC `cdn_dc`.
    CdnRedirect { offset: u64, cdn_dc: i32 },
    /// CDN redirect `redirect` is no longer good (refused, unreachable).
    CdnStale { offset: u64, redirect: u64 },
    /// The CDN lacks the file; the file's DC is to be asked to send it there.
    ReuploadNeeded {
        offset: u64,
        redirect: u64,
        request_token: Vec<u8>,
    },
    /// The file's DC had the CDN fetch the file again.
    Reuploaded { offset: u64 },
    /// The request for the part at `offset` (made with location `generation`) failed.
    PartTrouble {
        offset: u64,
        generation: u64,
        trouble: Trouble,
    },
    /// The server's hashes from `offset` on.
    Hashes { offset: u64, hashes: Vec<RangeHash> },
    /// No hashes this time (asking again may help).
    HashesFailed { offset: u64 },
    /// The server refuses hashes for this file.
    HashesRefused,
    /// The server answered something unusable for the hashes at `offset`.
    HashesUnusable { offset: u64, why: String },
    /// The file reference of generation `generation` was renewed.
    Refreshed { generation: u64 },
    /// The file reference cannot be renewed.
    RefreshFailed(FileFailure),
    /// The repair asked for the part at `offset` is done.
    Repaired { offset: u64 },
    /// The part at `offset` is on disk.
    Stored { offset: u64 },
    /// The part at `offset` failed the server's hashes (its bytes were dropped).
    Mismatch { offset: u64, why: String },
}

/// One file's download, as a state machine.
#[derive(Debug)]
pub(crate) struct FileMachine {
    spec: FileSpec,
    limits: Limits,
    dc: i32,
    /// Renewals of the file reference so far.
    generation: u64,
    refreshing: bool,
    /// The CDN redirect in force, and how many there were.
    cdn: Option<(i32, u64)>,
    redirects: u64,
    done: RangeSet,
    /// Parts not asked for yet, in order.
    todo: VecDeque<u64>,
    /// Parts asked for and not yet on disk, by offset.
    parts: BTreeMap<u64, Part>,
    hashes: HashBook,
    /// Actions decided while handling an outcome, handed out by `poll`.
    queued: VecDeque<Action>,
    end: End,
}

/// Whether the machine has handed out its last action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Running,
    Ended,
}

impl FileMachine {
    pub(crate) fn new(spec: FileSpec, limits: Limits) -> Self {
        let part = u64::from(PART_SIZE);
        let mut todo = VecDeque::new();
        for gap in spec.done.missing(spec.size) {
            let mut offset = gap.start - gap.start % part;
            while offset < gap.end {
                if todo.back() != Some(&offset) {
                    todo.push_back(offset);
                }
                offset += part;
            }
        }
        let mode = if spec.verify_server_hashes {
            HashMode::Wanted
        } else {
            HashMode::Off
        };
        Self {
            dc: spec.dc,
            generation: 0,
            refreshing: false,
            cdn: None,
            redirects: 0,
            done: spec.done.clone(),
            todo,
            parts: BTreeMap::new(),
            hashes: HashBook::new(mode),
            queued: VecDeque::new(),
            end: End::Running,
            spec,
            limits,
        }
    }

    /// The ranges on disk.
    #[cfg(test)]
    pub(crate) fn done(&self) -> &RangeSet {
        &self.done
    }

    /// The DC the file is asked from now.
    pub(crate) fn dc(&self) -> i32 {
        self.dc
    }

    /// The number of the CDN redirect in force, if the file comes through a CDN.
    pub(crate) fn cdn_redirect(&self) -> Option<u64> {
        self.cdn.map(|(_, redirect)| redirect)
    }

    /// Whether the machine has ended (verify or fail handed out).
    pub(crate) fn ended(&self) -> bool {
        self.end == End::Ended
    }

    /// The budget (bytes) the next new part needs, if one is to start.
    pub(crate) fn next_part_cost(&self) -> Option<u64> {
        if self.ended() {
            return None;
        }
        let offset = *self.todo.front()?;
        Some(self.part_len(offset))
    }

    /// The offset of the next new part, if one is to start.
    pub(crate) fn next_part_offset(&self) -> Option<u64> {
        if self.ended() {
            return None;
        }
        self.todo.front().copied()
    }

    /// Starts the next new part (the caller holds its budget).
    pub(crate) fn start_part(&mut self, now: Instant) -> Option<Action> {
        if self.ended() {
            return None;
        }
        let offset = self.todo.pop_front()?;
        let len = self.part_len(offset);
        self.parts.insert(offset, Part::new(offset, len));
        self.fetch(offset, now)
    }

    /// The next action due at `now`, if any.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Action> {
        if let Some(action) = self.queued.pop_front() {
            return Some(action);
        }
        if self.ended() {
            return None;
        }
        let due: Option<u64> = self
            .parts
            .values()
            .find(|p| matches!(p.stage, Stage::Waiting { at } if at <= now))
            .map(|p| p.offset);
        if let Some(offset) = due {
            return self.fetch(offset, now);
        }
        if let Some(action) = self.ask_hashes(now) {
            return Some(action);
        }
        if let Some(action) = self.store_ready() {
            return Some(action);
        }
        if self.todo.is_empty() && self.parts.is_empty() {
            self.end = End::Ended;
            return Some(Action::Verify {
                server_hashes: self.server_hashes(),
            });
        }
        None
    }

    /// When `poll` may have something again without a new outcome.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.ended() {
            return None;
        }
        let parts = self.parts.values().filter_map(|p| match p.stage {
            Stage::Waiting { at } => Some(at),
            _ => None,
        });
        parts.chain(self.hashes.next_retry()).min()
    }

    /// Takes the outcome of an action.
    pub(crate) fn handle(&mut self, outcome: Outcome, now: Instant) {
        if self.ended() {
            return;
        }
        match outcome {
            Outcome::Bytes { offset, len } => self.on_bytes(offset, len),
            Outcome::CdnRedirect { offset, cdn_dc } => self.on_cdn_redirect(offset, cdn_dc, now),
            Outcome::CdnStale { offset, redirect } => self.on_cdn_stale(offset, redirect, now),
            Outcome::ReuploadNeeded {
                offset,
                redirect,
                request_token,
            } => self.on_reupload_needed(offset, redirect, request_token, now),
            Outcome::Reuploaded { offset } => self.wait(offset, now),
            Outcome::PartTrouble {
                offset,
                generation,
                trouble,
            } => self.on_trouble(offset, generation, trouble, now),
            Outcome::Hashes { offset, hashes } => {
                if let Err(why) = self.hashes.answered(offset, hashes) {
                    self.hashes_unusable(offset, &why, now);
                }
            }
            Outcome::HashesFailed { offset } => {
                let limits = (self.limits.hash_tries, self.limits.hash_retry_pause);
                self.hashes.failed(offset, limits, now);
            }
            Outcome::HashesRefused => self.hashes.refused(),
            Outcome::HashesUnusable { offset, why } => self.hashes_unusable(offset, &why, now),
            Outcome::Refreshed { generation } => self.on_refreshed(generation, now),
            Outcome::RefreshFailed(failure) => self.fail(failure),
            Outcome::Repaired { offset } => {
                if self
                    .parts
                    .get(&offset)
                    .is_some_and(|p| p.stage == Stage::Blocked)
                {
                    self.wait(offset, now);
                }
            }
            Outcome::Stored { offset } => {
                if let Some(part) = self.parts.remove(&offset) {
                    self.done.insert(offset..offset + part.len);
                }
            }
            Outcome::Mismatch { offset, why } => self.refetch(offset, why, now),
        }
    }

    fn part_len(&self, offset: u64) -> u64 {
        self.spec
            .size
            .saturating_sub(offset)
            .min(u64::from(PART_SIZE))
    }

    fn range(&self, offset: u64) -> Range<u64> {
        offset..offset + self.part_len(offset)
    }

    fn fetch(&mut self, offset: u64, now: Instant) -> Option<Action> {
        let route = match self.cdn {
            Some((dc, redirect)) => Route::Cdn { dc, redirect },
            None => Route::Dc(self.dc),
        };
        let generation = self.generation;
        let part = self.parts.get_mut(&offset)?;
        part.stage = Stage::Fetching;
        part.route = route;
        // The hashes go out with the part, not after it.
        if let Some(ask) = self.ask_hashes(now) {
            self.queued.push_back(ask);
        }
        Some(Action::FetchPart {
            offset,
            route,
            generation,
        })
    }

    /// A hash request some part needs and nobody has made, if any.
    fn ask_hashes(&mut self, now: Instant) -> Option<Action> {
        if !self.hashes.wanted() {
            return None;
        }
        let wanting: Vec<u64> = self
            .parts
            .values()
            .filter(|p| p.stage.wants_hashes())
            .map(|p| p.offset)
            .collect();
        for offset in wanting {
            let range = self.range(offset);
            let Some(at) = self.hashes.gap(&range) else {
                continue;
            };
            if !self.hashes.may_ask(at, now) {
                continue;
            }
            let Some(part) = self.parts.get_mut(&offset) else {
                continue;
            };
            part.hash_asks += 1;
            if part.hash_asks > self.limits.max_hash_asks {
                self.fail(FileFailure::Verification(format!(
                    "the server's hashes come in pieces too small at {at}"
                )));
                return self.queued.pop_front();
            }
            self.hashes.asking(at);
            return Some(Action::FetchHashes {
                offset: at,
                dc: self.dc,
            });
        }
        None
    }

    /// A part whose bytes are held and may now be checked and written.
    fn store_ready(&mut self) -> Option<Action> {
        let hashes_wanted = self.hashes.wanted();
        let offsets: Vec<u64> = self
            .parts
            .values()
            .filter(|p| p.stage == Stage::Held)
            .map(|p| p.offset)
            .collect();
        for offset in offsets {
            let range = self.range(offset);
            let check = if hashes_wanted {
                match self.hashes.covering(&range) {
                    Some(hashes) => Some(hashes),
                    None => continue,
                }
            } else {
                None
            };
            if let Some(part) = self.parts.get_mut(&offset) {
                part.stage = Stage::Storing;
            }
            return Some(Action::Store { offset, check });
        }
        None
    }

    fn on_bytes(&mut self, offset: u64, len: u64) {
        let Some(part) = self.parts.get_mut(&offset) else {
            return;
        };
        if len != part.len {
            let expected = part.len;
            return self.fail(FileFailure::BadLength {
                offset,
                expected,
                got: len,
            });
        }
        part.stage = Stage::Held;
    }

    fn on_cdn_redirect(&mut self, offset: u64, cdn_dc: i32, now: Instant) {
        if !self.spec.cdn_supported {
            return self.fail(FileFailure::Refused(
                "the server redirected to a CDN although the client did not offer one".into(),
            ));
        }
        self.redirects += 1;
        self.cdn = Some((cdn_dc, self.redirects));
        self.wait(offset, now);
    }

    fn on_cdn_stale(&mut self, offset: u64, redirect: u64, now: Instant) {
        if self.cdn.is_some_and(|(_, current)| current == redirect) {
            self.cdn = None;
        }
        let limit = self.limits.cdn_refusals;
        let Some(part) = self.parts.get_mut(&offset) else {
            return;
        };
        part.cdn_refusals += 1;
        if part.cdn_refusals > limit {
            return self.fail(FileFailure::Refused(
                "the CDN keeps refusing the file".into(),
            ));
        }
        self.wait(offset, now);
    }

    fn on_reupload_needed(
        &mut self,
        offset: u64,
        redirect: u64,
        request_token: Vec<u8>,
        now: Instant,
    ) {
        let limit = self.limits.max_reuploads;
        let Some(part) = self.parts.get_mut(&offset) else {
            return;
        };
        part.reuploads += 1;
        if part.reuploads > limit {
            return self.on_cdn_stale(offset, redirect, now);
        }
        part.stage = Stage::Blocked;
        self.queued.push_back(Action::Reupload {
            offset,
            dc: self.dc,
            redirect,
            request_token,
        });
    }

    fn on_trouble(&mut self, offset: u64, generation: u64, trouble: Trouble, now: Instant) {
        let (kind, context, why) = match trouble {
            Trouble::Failed(failure) => return self.fail(failure),
            Trouble::Error { kind, context, why } => (kind, context, why),
        };
        if kind == ErrorKind::FileReferenceExpired {
            if generation < self.generation {
                // Asked with a reference renewed since: ask again with the new one.
                return self.wait(offset, now);
            }
            if !self.spec.refreshable {
                return self.fail(FileFailure::Gone("the file reference expired".into()));
            }
        }
        let policy = self.limits.policy;
        let Some(part) = self.parts.get_mut(&offset) else {
            return;
        };
        let dc = match part.route {
            Route::Dc(dc) | Route::Cdn { dc, .. } => dc,
        };
        let step = part.attempts.next(&kind, &context, &policy);
        match step {
            Step::Retry { delay } | Step::Reconnect { delay } => {
                // (A connection that ended is already out of its pool.)
                part.stage = Stage::Waiting { at: now + delay };
            }
            Step::ConfirmLostLogin { delay } => {
                part.stage = Stage::Waiting { at: now + delay };
                self.queued.push_back(Action::Repair {
                    offset,
                    dc,
                    repair: Repair::Reconnect,
                });
            }
            Step::Migrate { dc: target, .. } => {
                self.dc = target;
                self.wait(offset, now);
            }
            Step::Reimport | Step::NewKey => {
                part.stage = Stage::Blocked;
                let repair = if step == Step::Reimport {
                    Repair::Reimport
                } else {
                    Repair::NewKey
                };
                self.queued.push_back(Action::Repair { offset, dc, repair });
            }
            Step::RefreshReference => {
                part.stage = Stage::Blocked;
                if !self.refreshing {
                    self.refreshing = true;
                    self.queued.push_back(Action::RefreshReference {
                        generation: self.generation,
                    });
                }
            }
            Step::FloodWait { wait } => {
                part.stage = Stage::Waiting { at: now + wait };
                self.queued.push_back(Action::HoldDc { dc, wait });
            }
            Step::GiveUp(Failure::LoginLost) => {
                self.queued.clear();
                self.queued.push_back(Action::LoginLost { reason: why });
                self.end = End::Ended;
            }
            Step::GiveUp(failure) => self.fail(file_failure(failure, kind, why)),
        }
    }

    fn on_refreshed(&mut self, generation: u64, now: Instant) {
        if generation != self.generation {
            return;
        }
        self.generation += 1;
        self.refreshing = false;
        let blocked: Vec<u64> = self
            .parts
            .values()
            .filter(|p| p.stage == Stage::Blocked)
            .map(|p| p.offset)
            .collect();
        for offset in blocked {
            self.wait(offset, now);
        }
    }

    /// Hashes that came but cannot be used leave the parts waiting on them in doubt:
    /// those are fetched again, like a part that fails them.
    fn hashes_unusable(&mut self, at: u64, why: &str, now: Instant) {
        self.hashes.answered_badly(at);
        let doubtful: Vec<u64> = self
            .parts
            .values()
            .filter(|p| p.stage.wants_hashes())
            .filter(|p| self.hashes.gap(&self.range(p.offset)) == Some(at))
            .map(|p| p.offset)
            .collect();
        for offset in doubtful {
            self.refetch(offset, why.to_owned(), now);
        }
    }

    /// The part at `offset` failed a check: fetch it (and its hashes) again, or give up.
    fn refetch(&mut self, offset: u64, why: String, now: Instant) {
        let limit = self.limits.part_refetches;
        let range = self.range(offset);
        let Some(part) = self.parts.get_mut(&offset) else {
            return;
        };
        part.refetches += 1;
        if part.refetches > limit {
            return self.fail(FileFailure::Verification(why));
        }
        // A part whose request is still out gets its bytes and asks the hashes again.
        let in_flight = part.stage == Stage::Fetching;
        self.hashes.forget(&range);
        if !in_flight {
            self.wait(offset, now);
        }
    }

    /// Makes the part at `offset` due at `now`.
    fn wait(&mut self, offset: u64, now: Instant) {
        if let Some(part) = self.parts.get_mut(&offset) {
            part.stage = Stage::Waiting { at: now };
        }
    }

    fn fail(&mut self, failure: FileFailure) {
        if self.ended() {
            return;
        }
        self.queued.clear();
        self.queued.push_back(Action::Fail(failure));
        self.end = End::Ended;
    }

    fn server_hashes(&self) -> ServerHashes {
        if self.cdn.is_some() || self.hashes.wanted() {
            ServerHashes::Checked
        } else if self.spec.verify_server_hashes {
            ServerHashes::Unavailable
        } else {
            ServerHashes::Off
        }
    }
}

/// What a give-up means for the file; `why` is what the server or connection said.
fn file_failure(failure: Failure, kind: ErrorKind, why: String) -> FileFailure {
    match failure {
        Failure::TooManyMigrations { dc } => {
            FileFailure::Refused(format!("the file keeps moving between DCs (last {dc})"))
        }
        Failure::FloodWait { wait, .. } => FileFailure::FloodWait(wait),
        Failure::NoAccess => FileFailure::NoAccess(why),
        Failure::FileGone if kind == ErrorKind::FileReferenceExpired => {
            FileFailure::Gone(format!("{why} even with a renewed reference"))
        }
        Failure::FileGone => FileFailure::Gone(why),
        Failure::Exhausted { attempts } => FileFailure::GaveUp {
            attempts,
            last: why,
        },
        Failure::Refused | Failure::Uncertain | Failure::LoginLost => FileFailure::Refused(why),
    }
}
