//! The next step after a failure: a pure function of the failure's kind, the attempts
//! made so far, where the request was going and the policy's numbers. Delays are returned,
//! not slept: the caller sleeps (with `tokio::time`, so that tests may pause the clock).

use std::time::Duration;

use super::kind::{ErrorKind, MigrateKind};
use crate::config::FloodPolicy;

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send again to the same DC after `delay` (zero: at once).
    Retry {
        /// How long to wait first.
        delay: Duration,
    },
    /// Drop the connection to the DC, then send again on a new one after `delay`.
    Reconnect {
        /// How long to wait first.
        delay: Duration,
    },
    /// Send to DC `dc`.
    Migrate {
        /// Where.
        dc: i32,
        /// Whether `dc` becomes the home DC (the account, or before login the network,
        /// lives there) rather than serving this one request.
        home: bool,
    },
    /// The login imported on this DC is gone: mark it so (the next send imports it
    /// again), then send again.
    Reimport,
    /// The DC forgot the key: drop the connection and the key (and whatever login was
    /// imported with it); the next send makes a new key.
    NewKey,
    /// The home DC said the login is gone. Said once, it may be a server's passing trouble:
    /// drop the connection and ask again on a fresh one after `delay` before believing it.
    ConfirmLostLogin {
        /// How long to wait first.
        delay: Duration,
    },
    /// Renew the file reference (re-read the message the file came from), then send
    /// again. File parts only.
    RefreshReference,
    /// Sit out `wait`, then send again. A call sleeps; a file part closes its DC's gate so
    /// that the other parts for that DC wait too.
    FloodWait {
        /// What the server asked.
        wait: Duration,
    },
    /// Stop.
    GiveUp(Failure),
}

/// Why a request was given up, for the caller to turn into its typed error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Nothing the client can do: the error as it came (`ClientError::Rpc` or
    /// `ClientError::Invoke`; for a file, a refusal of that file).
    Refused,
    /// Redirections went in circles; the last one named DC `dc`.
    TooManyMigrations {
        /// The last DC named.
        dc: i32,
    },
    /// The server asked for a longer wait than the policy allows, or for too many.
    FloodWait {
        /// What the server asked.
        wait: Duration,
        /// The policy's limit on one wait.
        limit: Duration,
    },
    /// The home DC no longer accepts the login (it said so twice, or forgot the key that
    /// carried it): the session forgets the login, so that the two agree.
    LoginLost,
    /// The account may not read this.
    NoAccess,
    /// The file is gone, or its reference could not be renewed.
    FileGone,
    /// A passing failure kept coming back: `attempts` tries were made.
    Exhausted {
        /// Tries made, the first included.
        attempts: u32,
    },
    /// An at-most-once request may or may not have run; it is not sent again.
    Uncertain,
}

/// What the next step may depend on besides the failure: where the request went and
/// what kind of request it is.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(clippy::struct_excessive_bools)] // Independent facts about one request.
pub struct Context {
    /// Whether the DC that answered is the home DC.
    pub home: bool,
    /// Whether the session holds a login.
    pub logged_in: bool,
    /// Whether the request rides on the login imported on this (non-home) DC.
    pub imported_login: bool,
    /// Whether the request is for a file part: such requests are retried harder (with
    /// backoff, up to [`PolicyConfig::part_attempts`]), and may refresh the file reference.
    pub file_part: bool,
    /// Whether the request must run at most once (it is never repeated when it may have
    /// run).
    pub at_most_once: bool,
    /// A number in `[0, 1)` the caller draws: spreads retries out (jitter).
    pub jitter: f64,
}

/// The policy's numbers.
#[derive(Debug, Clone, Copy)]
pub struct PolicyConfig {
    /// Patience with flood waits of calls: the longest wait and how many.
    pub flood: FloodPolicy,
    /// Flood waits one file part sits out (file parts wait far more often, on downloads
    /// of non-Premium accounts above all).
    pub part_flood_waits: u32,
    /// Redirections one request may follow.
    pub migrations: u32,
    /// Times a call is sent again after its session gave it up on `bad_msg_notification`s.
    pub refused_retries: u32,
    /// The wait before the first of those, doubling after each.
    pub refused_backoff: Duration,
    /// How many times the home DC must say the login is gone (on fresh connections)
    /// before the session drops it.
    pub lost_login_confirmations: u32,
    /// The pause before asking again.
    pub lost_login_recheck: Duration,
    /// Times a call imports the login on a DC again after the DC dropped it.
    pub reimports: u32,
    /// Times a call makes a new key after the DC forgot the old one.
    pub new_keys: u32,
    /// Times a call is sent again on a new connection after its connection ended.
    pub reconnects: u32,
    /// Times an idempotent call is sent again after a passing server failure (`5xx`).
    pub transient_retries: u32,
    /// Times a file part renews the file reference.
    pub reference_refreshes: u32,
    /// Tries of a file part per passing failure (connection lost, timeout, `5xx`, key or
    /// imported login lost) before its file is given up.
    pub part_attempts: u32,
    /// The first backoff of a retried passing failure, doubling after each try.
    pub backoff: Duration,
    /// Doublings of `backoff` at most (250 ms doubled 6 times: 16 s).
    pub backoff_doublings: u32,
}

impl PolicyConfig {
    /// The default numbers with `flood` as the patience with flood waits.
    pub fn new(flood: FloodPolicy) -> Self {
        Self {
            flood,
            part_flood_waits: 30,
            migrations: 5,
            refused_retries: 3,
            refused_backoff: Duration::from_millis(500),
            lost_login_confirmations: 2,
            lost_login_recheck: Duration::from_millis(500),
            reimports: 1,
            new_keys: 1,
            reconnects: 1,
            transient_retries: 5,
            reference_refreshes: 3,
            part_attempts: 10,
            backoff: Duration::from_millis(250),
            backoff_doublings: 6,
        }
    }

    /// The backoff before retry number `retry` (1 for the first), with up to 25% of
    /// `jitter` added.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let doublings = retry.min(self.backoff_doublings).min(31);
        let base = self.backoff.saturating_mul(1u32 << doublings);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // A quarter of `base` times at most 1 cannot overflow.
        base.saturating_add((base / 4).mul_f64(jitter))
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self::new(FloodPolicy::default())
    }
}

/// Failures so far of one request, counted per kind. The caller keeps one per request
/// (per file part) and feeds each failure to [`Attempts::next`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attempts {
    /// `*_MIGRATE_X` followed.
    pub migrations: u32,
    /// Flood waits (premium or not).
    pub flood_waits: u32,
    /// Lost logins (re-imported, or asked again on the home DC).
    pub lost_logins: u32,
    /// Keys the DC forgot.
    pub new_keys: u32,
    /// Connections lost under the request.
    pub reconnects: u32,
    /// Refusals by the session (`bad_msg_notification`).
    pub refusals: u32,
    /// File references renewed.
    pub refreshes: u32,
    /// Passing server failures, timeouts and malformed answers.
    pub retries: u32,
}

impl Attempts {
    /// Decides the step after a failure of `kind` and counts the failure.
    pub fn next(&mut self, kind: &ErrorKind, context: &Context, config: &PolicyConfig) -> Step {
        let step = decide(kind, self, context, config);
        if let Some(count) = self.counter(kind) {
            *count = count.saturating_add(1);
        }
        step
    }

    /// The failures of `kind`'s sort so far (0 for kinds that are never retried).
    pub fn of(&self, kind: &ErrorKind) -> u32 {
        let mut copy = *self;
        copy.counter(kind).map_or(0, |count| *count)
    }

    fn counter(&mut self, kind: &ErrorKind) -> Option<&mut u32> {
        Some(match kind {
            ErrorKind::Migrate { .. } => &mut self.migrations,
            ErrorKind::FloodWait(_) | ErrorKind::PremiumFloodWait(_) => &mut self.flood_waits,
            ErrorKind::LostLogin => &mut self.lost_logins,
            ErrorKind::AuthKeyUnknown => &mut self.new_keys,
            ErrorKind::ConnectionLost => &mut self.reconnects,
            ErrorKind::RefusedBySession => &mut self.refusals,
            ErrorKind::FileReferenceExpired => &mut self.refreshes,
            ErrorKind::Transient | ErrorKind::TimedOut | ErrorKind::Malformed => &mut self.retries,
            ErrorKind::Uncertain
            | ErrorKind::NoAccess
            | ErrorKind::FileGone
            | ErrorKind::InvalidInput
            | ErrorKind::Unsendable => return None,
        })
    }
}

/// The step after a failure of `kind`, when `attempts` failures came before it.
pub fn decide(
    kind: &ErrorKind,
    attempts: &Attempts,
    context: &Context,
    config: &PolicyConfig,
) -> Step {
    let tried = attempts.of(kind);
    let again = |calls: u32, step: fn(Duration) -> Step| {
        again_or_give_up(tried, calls, context, config, step)
    };
    match *kind {
        ErrorKind::Migrate { why, dc } => migrate(why, dc, tried, context, config),
        ErrorKind::FloodWait(wait) | ErrorKind::PremiumFloodWait(wait) => {
            flood_wait(wait, tried, context, config)
        }
        ErrorKind::LostLogin if context.imported_login => {
            // The DC dropped the login imported there (or a key made beside ours took
            // its place): import it again.
            again(config.reimports, |_| Step::Reimport)
        }
        ErrorKind::LostLogin if context.home && context.logged_in => {
            if tried.saturating_add(1) >= config.lost_login_confirmations {
                Step::GiveUp(Failure::LoginLost)
            } else {
                Step::ConfirmLostLogin {
                    delay: config.lost_login_recheck,
                }
            }
        }
        // The home key carried the login: a new key is a logged-out session.
        ErrorKind::AuthKeyUnknown if context.home && context.logged_in => {
            Step::GiveUp(Failure::LoginLost)
        }
        ErrorKind::AuthKeyUnknown => again(config.new_keys, |_| Step::NewKey),
        ErrorKind::ConnectionLost => again(config.reconnects, |delay| Step::Reconnect { delay }),
        // The server may have run it before failing.
        ErrorKind::Transient if context.at_most_once => Step::GiveUp(Failure::Refused),
        ErrorKind::Transient => again(config.transient_retries, |delay| Step::Retry { delay }),
        ErrorKind::TimedOut if context.at_most_once => Step::GiveUp(Failure::Uncertain),
        // A call has waited out its whole timeout already; a server that answered
        // something malformed to a call will answer it again.
        ErrorKind::TimedOut | ErrorKind::Malformed if !context.file_part => {
            Step::GiveUp(Failure::Refused)
        }
        ErrorKind::TimedOut | ErrorKind::Malformed => again(0, |delay| Step::Retry { delay }),
        ErrorKind::RefusedBySession if context.file_part => again(0, |delay| Step::Retry { delay }),
        ErrorKind::RefusedBySession if tried < config.refused_retries => Step::Retry {
            delay: config.refused_backoff.saturating_mul(1u32 << tried.min(16)),
        },
        ErrorKind::FileReferenceExpired if context.file_part => {
            if tried < config.reference_refreshes {
                Step::RefreshReference
            } else {
                Step::GiveUp(Failure::FileGone)
            }
        }
        ErrorKind::FileGone => Step::GiveUp(Failure::FileGone),
        ErrorKind::NoAccess => Step::GiveUp(Failure::NoAccess),
        ErrorKind::Uncertain => Step::GiveUp(Failure::Uncertain),
        // Not logged in, or a bare call before an import: the answer is the caller's.
        ErrorKind::LostLogin
        | ErrorKind::RefusedBySession
        | ErrorKind::FileReferenceExpired
        | ErrorKind::InvalidInput
        | ErrorKind::Unsendable => Step::GiveUp(Failure::Refused),
    }
}

fn migrate(
    why: MigrateKind,
    dc: i32,
    tried: u32,
    context: &Context,
    config: &PolicyConfig,
) -> Step {
    if context.file_part && why != MigrateKind::File {
        // A file part follows its file only.
        return Step::GiveUp(Failure::Refused);
    }
    if tried >= config.migrations {
        return Step::GiveUp(Failure::TooManyMigrations { dc });
    }
    let home = match why {
        MigrateKind::Phone | MigrateKind::User => true,
        // Before login the network's DC becomes home; after it, the account stays.
        MigrateKind::Network => !context.logged_in,
        MigrateKind::File | MigrateKind::Stats => false,
    };
    Step::Migrate { dc, home }
}

fn flood_wait(wait: Duration, tried: u32, context: &Context, config: &PolicyConfig) -> Step {
    let most = if context.file_part {
        config.part_flood_waits
    } else {
        config.flood.max_retries
    };
    if wait > config.flood.max_wait || tried >= most {
        return Step::GiveUp(Failure::FloodWait {
            wait,
            limit: config.flood.max_wait,
        });
    }
    Step::FloodWait { wait }
}

/// One more try (`step`, given its backoff) of a failure tried `tried` times before, if
/// the limit allows it: `calls` more tries for a call, [`PolicyConfig::part_attempts`]
/// tries in all for a file part. Else the call gives up with the error as it came, the
/// file part as exhausted.
fn again_or_give_up(
    tried: u32,
    calls: u32,
    context: &Context,
    config: &PolicyConfig,
    step: fn(Duration) -> Step,
) -> Step {
    let most = if context.file_part {
        config.part_attempts.saturating_sub(1)
    } else {
        calls
    };
    if tried < most {
        step(config.backoff(tried.saturating_add(1), context.jitter))
    } else if context.file_part {
        Step::GiveUp(Failure::Exhausted {
            attempts: tried.saturating_add(1),
        })
    } else {
        Step::GiveUp(Failure::Refused)
    }
}
