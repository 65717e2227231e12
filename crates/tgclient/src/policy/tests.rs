//! The policy as a table: every error kind, in the contexts that change its step, at the
//! attempt counts where the step changes.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashSet;
use std::time::Duration;

use mtnet::{InvokeError, NetError};
use mtproto::session::RpcError;
use proptest::prelude::*;

use super::*;
use crate::config::FloodPolicy;

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A call on the home DC of a logged-in session.
fn call() -> Context {
    Context {
        home: true,
        logged_in: true,
        imported_login: false,
        file_part: false,
        at_most_once: false,
        jitter: 0.0,
    }
}

/// A call on another DC, riding on the login imported there.
fn imported() -> Context {
    Context {
        home: false,
        imported_login: true,
        ..call()
    }
}

/// A call before login (or on a bare route).
fn anonymous() -> Context {
    Context {
        logged_in: false,
        ..call()
    }
}

/// An at-most-once call (`auth.signIn`, ...).
fn once() -> Context {
    Context {
        at_most_once: true,
        ..call()
    }
}

/// A file part on a DC other than home.
fn part() -> Context {
    Context {
        file_part: true,
        ..imported()
    }
}

/// A file part on the home DC.
fn home_part() -> Context {
    Context {
        file_part: true,
        ..call()
    }
}

fn attempts(kind: &ErrorKind, before: u32) -> Attempts {
    let mut attempts = Attempts::default();
    let context = call();
    let config = PolicyConfig::default();
    for _ in 0..before {
        attempts.next(kind, &context, &config);
    }
    attempts
}

fn migrate(why: MigrateKind, dc: i32) -> ErrorKind {
    ErrorKind::Migrate { why, dc }
}

fn retry(ms: u64) -> Step {
    Step::Retry { delay: MS(ms) }
}

fn give_up(failure: Failure) -> Step {
    Step::GiveUp(failure)
}

fn exhausted(attempts: u32) -> Step {
    give_up(Failure::Exhausted { attempts })
}

/// The name of a kind's variant; a new variant does not compile until it is named here
/// (and then the table must have it).
fn variant(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Migrate { .. } => "Migrate",
        ErrorKind::FloodWait(_) => "FloodWait",
        ErrorKind::PremiumFloodWait(_) => "PremiumFloodWait",
        ErrorKind::LostLogin => "LostLogin",
        ErrorKind::AuthKeyUnknown => "AuthKeyUnknown",
        ErrorKind::Transient => "Transient",
        ErrorKind::ConnectionLost => "ConnectionLost",
        ErrorKind::TimedOut => "TimedOut",
        ErrorKind::RefusedBySession => "RefusedBySession",
        ErrorKind::Uncertain => "Uncertain",
        ErrorKind::FileReferenceExpired => "FileReferenceExpired",
        ErrorKind::NoAccess => "NoAccess",
        ErrorKind::FileGone => "FileGone",
        ErrorKind::Malformed => "Malformed",
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::Unsendable => "Unsendable",
    }
}

const ALL_VARIANTS: [&str; 16] = [
    "Migrate",
    "FloodWait",
    "PremiumFloodWait",
    "LostLogin",
    "AuthKeyUnknown",
    "Transient",
    "ConnectionLost",
    "TimedOut",
    "RefusedBySession",
    "Uncertain",
    "FileReferenceExpired",
    "NoAccess",
    "FileGone",
    "Malformed",
    "InvalidInput",
    "Unsendable",
];

/// (kind, context, failures of that kind before, the step). Backoffs are without jitter:
/// 250 ms doubled once per retry (the first retry waits 500 ms), at most 16 s.
fn table() -> Vec<(ErrorKind, Context, u32, Step)> {
    use ErrorKind as K;
    use MigrateKind as M;
    let flood = FloodPolicy::default(); // 60 s, 5 waits
    let home = |dc| Step::Migrate { dc, home: true };
    let away = |dc| Step::Migrate { dc, home: false };
    vec![
        // Migrations: the account's DC moves home, a file's or statistics' does not; the
        // network's moves home before login only; the sixth in a row is a circle.
        (migrate(M::Phone, 4), anonymous(), 0, home(4)),
        (migrate(M::User, 2), call(), 0, home(2)),
        (migrate(M::Network, 5), anonymous(), 0, home(5)),
        (migrate(M::Network, 5), call(), 0, away(5)),
        (migrate(M::File, 4), call(), 0, away(4)),
        (migrate(M::Stats, 3), call(), 4, away(3)),
        (
            migrate(M::File, 3),
            call(),
            5,
            give_up(Failure::TooManyMigrations { dc: 3 }),
        ),
        (migrate(M::File, 4), part(), 4, away(4)),
        (
            migrate(M::File, 4),
            part(),
            5,
            give_up(Failure::TooManyMigrations { dc: 4 }),
        ),
        (migrate(M::User, 4), part(), 0, give_up(Failure::Refused)),
        // Flood waits: waited out up to the policy's length and count (a file part up to
        // 30 times: downloads meet them often).
        (
            K::FloodWait(SECS(30)),
            call(),
            0,
            Step::FloodWait { wait: SECS(30) },
        ),
        (
            K::FloodWait(SECS(60)),
            call(),
            4,
            Step::FloodWait { wait: SECS(60) },
        ),
        (
            K::FloodWait(SECS(1)),
            call(),
            5,
            give_up(Failure::FloodWait {
                wait: SECS(1),
                limit: flood.max_wait,
            }),
        ),
        (
            K::FloodWait(SECS(61)),
            call(),
            0,
            give_up(Failure::FloodWait {
                wait: SECS(61),
                limit: flood.max_wait,
            }),
        ),
        (
            K::FloodWait(SECS(2)),
            part(),
            29,
            Step::FloodWait { wait: SECS(2) },
        ),
        (
            K::FloodWait(SECS(2)),
            part(),
            30,
            give_up(Failure::FloodWait {
                wait: SECS(2),
                limit: flood.max_wait,
            }),
        ),
        (
            K::PremiumFloodWait(SECS(3)),
            part(),
            0,
            Step::FloodWait { wait: SECS(3) },
        ),
        (
            K::PremiumFloodWait(SECS(300)),
            part(),
            0,
            give_up(Failure::FloodWait {
                wait: SECS(300),
                limit: flood.max_wait,
            }),
        ),
        // A lost login: re-imported on a DC that carried an imported one (once for a
        // call, like any passing failure for a file part); asked again on a fresh
        // connection on the home DC, then dropped; the caller's business before login.
        (K::LostLogin, imported(), 0, Step::Reimport),
        (K::LostLogin, imported(), 1, give_up(Failure::Refused)),
        (K::LostLogin, part(), 8, Step::Reimport),
        (K::LostLogin, part(), 9, exhausted(10)),
        (
            K::LostLogin,
            call(),
            0,
            Step::ConfirmLostLogin { delay: MS(500) },
        ),
        (K::LostLogin, call(), 1, give_up(Failure::LoginLost)),
        // The old engine called a home SESSION_EXPIRED on a file part a refusal of that
        // file: it is the session's login, as for any call.
        (
            K::LostLogin,
            home_part(),
            0,
            Step::ConfirmLostLogin { delay: MS(500) },
        ),
        (K::LostLogin, home_part(), 1, give_up(Failure::LoginLost)),
        (K::LostLogin, anonymous(), 0, give_up(Failure::Refused)),
        // A forgotten key: the home key carried the login; elsewhere a new key.
        (K::AuthKeyUnknown, call(), 0, give_up(Failure::LoginLost)),
        (
            K::AuthKeyUnknown,
            home_part(),
            0,
            give_up(Failure::LoginLost),
        ),
        (K::AuthKeyUnknown, anonymous(), 0, Step::NewKey),
        (K::AuthKeyUnknown, imported(), 0, Step::NewKey),
        (K::AuthKeyUnknown, imported(), 1, give_up(Failure::Refused)),
        (K::AuthKeyUnknown, part(), 8, Step::NewKey),
        (K::AuthKeyUnknown, part(), 9, exhausted(10)),
        // Server failures: an idempotent call is repeated with backoff, five times; an
        // at-most-once one is not (the server may have run it).
        (K::Transient, call(), 0, retry(500)),
        (K::Transient, call(), 3, retry(4000)),
        (K::Transient, call(), 4, retry(8000)),
        (K::Transient, call(), 5, give_up(Failure::Refused)),
        (K::Transient, once(), 0, give_up(Failure::Refused)),
        (K::Transient, part(), 5, retry(16_000)),
        (K::Transient, part(), 8, retry(16_000)),
        (K::Transient, part(), 9, exhausted(10)),
        // A connection that ended: one new one for a call, with backoff for a part.
        (
            K::ConnectionLost,
            call(),
            0,
            Step::Reconnect { delay: MS(500) },
        ),
        (
            K::ConnectionLost,
            once(),
            0,
            Step::Reconnect { delay: MS(500) },
        ),
        (K::ConnectionLost, call(), 1, give_up(Failure::Refused)),
        (
            K::ConnectionLost,
            part(),
            1,
            Step::Reconnect { delay: MS(1000) },
        ),
        (K::ConnectionLost, part(), 9, exhausted(10)),
        // A timeout: a call has waited enough, an at-most-once one may have run; a part
        // tries again.
        (K::TimedOut, call(), 0, give_up(Failure::Refused)),
        (K::TimedOut, once(), 0, give_up(Failure::Uncertain)),
        (K::TimedOut, part(), 0, retry(500)),
        (K::TimedOut, part(), 9, exhausted(10)),
        // bad_msg_notification storms: 0.5, 1, 2 s, then the error.
        (K::RefusedBySession, call(), 0, retry(500)),
        (K::RefusedBySession, once(), 2, retry(2000)),
        (K::RefusedBySession, call(), 3, give_up(Failure::Refused)),
        (K::RefusedBySession, part(), 2, retry(2000)),
        (K::RefusedBySession, part(), 9, exhausted(10)),
        (K::Uncertain, once(), 0, give_up(Failure::Uncertain)),
        // File references: renewed three times, then the file is gone.
        (K::FileReferenceExpired, part(), 0, Step::RefreshReference),
        (K::FileReferenceExpired, part(), 2, Step::RefreshReference),
        (
            K::FileReferenceExpired,
            part(),
            3,
            give_up(Failure::FileGone),
        ),
        (
            K::FileReferenceExpired,
            call(),
            0,
            give_up(Failure::Refused),
        ),
        (K::NoAccess, call(), 0, give_up(Failure::NoAccess)),
        (K::NoAccess, part(), 0, give_up(Failure::NoAccess)),
        (K::FileGone, part(), 0, give_up(Failure::FileGone)),
        (K::FileGone, call(), 0, give_up(Failure::FileGone)),
        (K::Malformed, call(), 0, give_up(Failure::Refused)),
        (K::Malformed, part(), 0, retry(500)),
        (K::Malformed, part(), 9, exhausted(10)),
        (K::InvalidInput, call(), 0, give_up(Failure::Refused)),
        (K::InvalidInput, part(), 0, give_up(Failure::Refused)),
        (K::Unsendable, call(), 0, give_up(Failure::Refused)),
        (K::Unsendable, part(), 0, give_up(Failure::Refused)),
    ]
}

#[test]
fn every_kind_has_its_steps() {
    let config = PolicyConfig::default();
    let mut seen = HashSet::new();
    for (row, (kind, context, before, expected)) in table().into_iter().enumerate() {
        let step = decide(&kind, &attempts(&kind, before), &context, &config);
        assert_eq!(
            step, expected,
            "row {row}: {kind:?} after {before} in {context:?}"
        );
        seen.insert(variant(&kind));
    }
    for name in ALL_VARIANTS {
        assert!(seen.contains(name), "{name} is not in the table");
    }
}

/// Counting is per kind: a flood wait does not use up a migration, and `next` counts.
#[test]
fn attempts_are_counted_per_kind() {
    let config = PolicyConfig::default();
    let mut attempts = Attempts::default();
    let flood = ErrorKind::FloodWait(SECS(1));
    for _ in 0..5 {
        assert_eq!(
            attempts.next(&flood, &call(), &config),
            Step::FloodWait { wait: SECS(1) }
        );
    }
    let file = migrate(MigrateKind::File, 4);
    assert_eq!(
        attempts.next(&file, &call(), &config),
        Step::Migrate { dc: 4, home: false }
    );
    assert_eq!(attempts.flood_waits, 5);
    assert_eq!(attempts.migrations, 1);
    assert!(matches!(
        attempts.next(&flood, &call(), &config),
        Step::GiveUp(Failure::FloodWait { .. })
    ));
    // Kinds never retried are not counted.
    attempts.next(&ErrorKind::InvalidInput, &call(), &config);
    assert_eq!(attempts.of(&ErrorKind::InvalidInput), 0);
}

#[test]
fn backoff_doubles_up_to_its_cap_with_a_quarter_of_jitter() {
    let config = PolicyConfig::default();
    assert_eq!(config.backoff(1, 0.0), MS(500));
    assert_eq!(config.backoff(6, 0.0), MS(16_000));
    assert_eq!(config.backoff(60, 0.0), MS(16_000));
    assert_eq!(config.backoff(1, 1.0), MS(625));
    assert_eq!(config.backoff(1, 7.0), MS(625), "jitter is clamped");
}

fn rpc(code: i32, message: &str) -> ErrorKind {
    ErrorKind::of_rpc(&RpcError::new(code, message))
}

/// Every name the routing loop, the file fetcher and the CLI listed before the policy,
/// with what each meant there (the fetcher's `SESSION_EXPIRED` aside, which it called a
/// refusal of the file).
#[test]
fn the_old_lists_names_keep_their_meaning() {
    use ErrorKind as K;
    let cases = [
        // route.rs and fetch.rs: the lost login.
        (401, "AUTH_KEY_UNREGISTERED", K::LostLogin),
        (401, "SESSION_REVOKED", K::LostLogin),
        (401, "USER_DEACTIVATED", K::LostLogin),
        // the CLI's logged-out list.
        (401, "SESSION_EXPIRED", K::LostLogin),
        (401, "USER_DEACTIVATED_BAN", K::LostLogin),
        // fetch.rs: references, gone files, no access.
        (400, "FILE_REFERENCE_EXPIRED", K::FileReferenceExpired),
        (400, "FILE_REFERENCE_INVALID", K::FileReferenceExpired),
        (400, "FILE_ID_INVALID", K::FileGone),
        (400, "LOCATION_INVALID", K::FileGone),
        (400, "MEDIA_EMPTY", K::FileGone),
        (406, "CHANNEL_PRIVATE", K::NoAccess),
        (400, "CHANNEL_PRIVATE", K::NoAccess),
        (403, "CHAT_FORBIDDEN", K::NoAccess),
        (400, "CHANNEL_INVALID", K::NoAccess),
        (400, "PEER_ID_INVALID", K::NoAccess),
        (400, "CHAT_ADMIN_REQUIRED", K::NoAccess),
        // the CLI's inaccessible list.
        (400, "CHAT_ID_INVALID", K::NoAccess),
        (400, "CHANNEL_PUBLIC_GROUP_NA", K::NoAccess),
        // fetch.rs: code >= 500, code < 0, or a TIMEOUT in the name.
        (500, "INTERNAL", K::Transient),
        (-503, "Timeout", K::Transient),
        (-500, "No workers running", K::Transient),
        (400, "MSG_WAIT_TIMEOUT", K::Transient),
        (500, "RPC_CALL_FAIL", K::Transient),
        // rpc_error.rs: migrations and waits.
        (303, "PHONE_MIGRATE_4", migrate(MigrateKind::Phone, 4)),
        (303, "USER_MIGRATE_2", migrate(MigrateKind::User, 2)),
        (303, "NETWORK_MIGRATE_5", migrate(MigrateKind::Network, 5)),
        (303, "FILE_MIGRATE_1", migrate(MigrateKind::File, 1)),
        (303, "STATS_MIGRATE_3", migrate(MigrateKind::Stats, 3)),
        (420, "FLOOD_WAIT_30", K::FloodWait(SECS(30))),
        (400, "FLOOD_WAIT_7", K::FloodWait(SECS(7))),
        (420, "FLOOD_PREMIUM_WAIT_3", K::PremiumFloodWait(SECS(3))),
    ];
    for (code, name, kind) in cases {
        assert_eq!(rpc(code, name), kind, "{code} {name}");
    }
}

#[test]
fn other_names_read_as_telegram_documents_them() {
    use ErrorKind as K;
    let cases = [
        // Every 401 but the password step is a lost login (as TDLib reads them).
        (401, "AUTH_KEY_INVALID", K::LostLogin),
        (401, "AUTH_KEY_PERM_EMPTY", K::LostLogin),
        (401, "ACTIVE_USER_REQUIRED", K::LostLogin),
        (401, "SOMETHING_NEW", K::LostLogin),
        (401, "SESSION_PASSWORD_NEEDED", K::InvalidInput),
        (406, "AUTH_KEY_DUPLICATED", K::LostLogin),
        (420, "SLOWMODE_WAIT_10", K::FloodWait(SECS(10))),
        (420, "FLOOD_TEST_PHONE_WAIT_5", K::FloodWait(SECS(5))),
        (420, "TAKEOUT_INIT_DELAY_3600", K::InvalidInput),
        (403, "CHAT_WRITE_FORBIDDEN", K::NoAccess),
        (500, "INTERDC_2_CALL_ERROR", K::Transient),
        (400, "PHONE_CODE_INVALID", K::InvalidInput),
        (400, "TEST_REFUSED", K::InvalidInput),
        // Malformed values are nothing to follow.
        (303, "PHONE_MIGRATE_0", K::InvalidInput),
        (303, "PHONE_MIGRATE_", K::InvalidInput),
        (303, "PHONE_MIGRATE_x", K::InvalidInput),
        (303, "FILE_MIGRATE_99999999999", K::InvalidInput),
        (303, "FILE_MIGRATE_1001", K::InvalidInput),
        (420, "FLOOD_WAIT", K::InvalidInput),
        (400, "", K::InvalidInput),
        (400, "_", K::InvalidInput),
    ];
    for (code, name, kind) in cases {
        assert_eq!(rpc(code, name), kind, "{code} {name}");
    }
    assert!(is(&RpcError::new(420, "FLOOD_WAIT_3"), "FLOOD_WAIT"));
    assert!(!is(&RpcError::new(420, "FLOOD_WAIT_3"), "FLOOD"));
    assert_eq!(split_value("FILE_MIGRATE_4"), Some(("FILE_MIGRATE", 4)));
}

#[test]
fn invoke_and_connect_failures_have_their_kinds() {
    use ErrorKind as K;
    let cases = [
        (
            InvokeError::Rpc(RpcError::new(420, "FLOOD_WAIT_1")),
            K::FloodWait(SECS(1)),
        ),
        (InvokeError::Timeout(SECS(60)), K::TimedOut),
        (InvokeError::AuthKeyUnknown, K::AuthKeyUnknown),
        (InvokeError::Uncertain, K::Uncertain),
        (InvokeError::Rejected(48), K::RefusedBySession),
        (InvokeError::Rejected(16), K::RefusedBySession),
        (InvokeError::Rejected(64), K::RefusedBySession),
        (InvokeError::Rejected(49), K::Unsendable),
        (
            InvokeError::Decode(tl_types::Error::TrailingBytes { count: 1 }),
            K::Malformed,
        ),
        (InvokeError::Stopped, K::ConnectionLost),
        (InvokeError::Connect(NetError::Closed), K::Transient),
        (
            InvokeError::Connect(NetError::Transport { code: -429 }),
            K::Transient,
        ),
        (
            InvokeError::Connect(NetError::Transport { code: -404 }),
            K::Unsendable,
        ),
        (
            InvokeError::Connect(NetError::InvalidEndpoint("no port")),
            K::Unsendable,
        ),
    ];
    for (error, kind) in cases {
        assert_eq!(ErrorKind::of_invoke(&error), kind, "{error}");
    }
}

fn any_kind() -> impl Strategy<Value = ErrorKind> {
    use ErrorKind as K;
    let migrate = (0usize..5, any::<i32>()).prop_map(|(why, dc)| {
        let whys = [
            MigrateKind::Phone,
            MigrateKind::User,
            MigrateKind::Network,
            MigrateKind::File,
            MigrateKind::Stats,
        ];
        K::Migrate { why: whys[why], dc }
    });
    prop_oneof![
        migrate,
        any::<u64>().prop_map(|s| K::FloodWait(Duration::from_secs(s))),
        any::<u64>().prop_map(|s| K::PremiumFloodWait(Duration::from_secs(s))),
        prop::sample::select(vec![
            K::LostLogin,
            K::AuthKeyUnknown,
            K::Transient,
            K::ConnectionLost,
            K::TimedOut,
            K::RefusedBySession,
            K::Uncertain,
            K::FileReferenceExpired,
            K::NoAccess,
            K::FileGone,
            K::Malformed,
            K::InvalidInput,
            K::Unsendable,
        ]),
    ]
}

proptest! {
    #[test]
    fn any_message_classifies_without_panic(code in any::<i32>(), message in ".{0,40}") {
        let _ = rpc(code, &message);
    }

    #[test]
    fn migrate_round_trips(dc in 1u32..=1000) {
        let kind = rpc(303, &format!("USER_MIGRATE_{dc}"));
        prop_assert_eq!(kind, migrate(MigrateKind::User, i32::try_from(dc).unwrap()));
    }

    /// Any kind, context, count and configuration decides without panic, and a retried
    /// failure always ends: after enough failures of one kind the step is to give up
    /// (flood waits, migrations, retries) or does not repeat forever.
    #[test]
    fn any_input_decides_without_panic_and_ends(
        kind in any_kind(),
        flags in any::<[bool; 5]>(),
        jitter in any::<f64>(),
        before in any::<u32>(),
        numbers in any::<[u32; 10]>(),
        millis in any::<[u64; 3]>(),
    ) {
        let [home, logged_in, imported_login, file_part, at_most_once] = flags;
        let context = Context { home, logged_in, imported_login, file_part, at_most_once, jitter };
        let config = PolicyConfig {
            flood: FloodPolicy { max_wait: MS(millis[0]), max_retries: numbers[0] % 64 },
            part_flood_waits: numbers[1] % 64,
            migrations: numbers[2] % 64,
            refused_retries: numbers[3] % 64,
            refused_backoff: MS(millis[1]),
            lost_login_confirmations: numbers[4] % 64,
            lost_login_recheck: MS(millis[2]),
            reimports: numbers[5] % 64,
            new_keys: numbers[6] % 64,
            reconnects: numbers[7] % 64,
            transient_retries: numbers[8] % 64,
            reference_refreshes: numbers[9] % 64,
            part_attempts: numbers[9] % 64,
            backoff: MS(millis[1]),
            backoff_doublings: numbers[0],
        };
        let mut attempts = Attempts::default();
        let _ = decide(&kind, &Attempts { retries: before, ..attempts }, &context, &config);
        let mut ended = false;
        for _ in 0..200 {
            if let Step::GiveUp(_) = attempts.next(&kind, &context, &config) {
                ended = true;
                break;
            }
        }
        // Only kinds that are counted can repeat; every counted one has a limit.
        prop_assert!(ended, "{:?} in {:?} never gave up", kind, context);
    }
}
