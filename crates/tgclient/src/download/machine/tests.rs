//! Drives the machine through its paths, as the executor would, without a server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use tokio::time::Instant;

use super::{Action, FileMachine, FileSpec, Limits, Outcome, Repair, Route, Trouble};
use crate::download::error::FileFailure;
use crate::download::job::ServerHashes;
use crate::download::ranges::RangeSet;
use crate::download::verify::RangeHash;
use crate::policy::{Context, ErrorKind, MigrateKind, PolicyConfig};

const KIB: u64 = 1024;
const MIB: u64 = 1 << 20;
const CHUNK: u64 = 128 * KIB;
const FILE_DC: i32 = 2;
const CDN_DC: i32 = 201;

fn spec(size: u64) -> FileSpec {
    FileSpec {
        size,
        dc: FILE_DC,
        verify_server_hashes: true,
        cdn_supported: true,
        refreshable: true,
        done: RangeSet::new(),
    }
}

fn machine_with(spec: FileSpec) -> FileMachine {
    FileMachine::new(spec, Limits::new(PolicyConfig::default(), 10))
}

fn machine(size: u64) -> FileMachine {
    machine_with(spec(size))
}

/// The server's hashes (128 KiB chunks) of `offset..offset + len`.
fn hashes(offset: u64, len: u64) -> Vec<RangeHash> {
    (offset..offset + len)
        .step_by(CHUNK as usize)
        .map(|at| RangeHash {
            offset: at,
            limit: CHUNK,
            hash: vec![0; 32],
        })
        .collect()
}

/// Everything due at `now`.
fn drain(m: &mut FileMachine, now: Instant) -> Vec<Action> {
    std::iter::from_fn(|| m.poll(now)).collect()
}

/// Starts the next part and takes what is due with it.
fn start(m: &mut FileMachine, now: Instant) -> Vec<Action> {
    let mut actions: Vec<Action> = m.start_part(now).into_iter().collect();
    actions.extend(drain(m, now));
    actions
}

fn fetch(offset: u64, route: Route, generation: u64) -> impl Fn(&Action) -> bool {
    move |a| {
        matches!(a, Action::FetchPart { offset: o, route: r, generation: g }
            if *o == offset && *r == route && *g == generation)
    }
}

fn asks_hashes(offset: u64, dc: i32) -> impl Fn(&Action) -> bool {
    move |a| matches!(a, Action::FetchHashes { offset: o, dc: d } if *o == offset && *d == dc)
}

/// A file request to the file's DC (not the home DC) failed with `kind`.
fn err(kind: ErrorKind) -> Trouble {
    err_at(kind, false)
}

fn err_at(kind: ErrorKind, home: bool) -> Trouble {
    Trouble::Error {
        kind,
        context: Context {
            home,
            logged_in: true,
            imported_login: !home,
            file_part: true,
            at_most_once: false,
            jitter: 0.0,
        },
        why: format!("{kind:?}"),
    }
}

fn migrate(dc: i32) -> Trouble {
    err(ErrorKind::Migrate {
        why: MigrateKind::File,
        dc,
    })
}

fn trouble(offset: u64, generation: u64, trouble: Trouble) -> Outcome {
    Outcome::PartTrouble {
        offset,
        generation,
        trouble,
    }
}

fn bytes(offset: u64, len: u64) -> Outcome {
    Outcome::Bytes { offset, len }
}

/// Brings the part at `offset` (with its hashes) to disk.
fn land(m: &mut FileMachine, offset: u64, len: u64, now: Instant) {
    m.handle(bytes(offset, len), now);
    m.handle(
        Outcome::Hashes {
            offset,
            hashes: hashes(offset, len),
        },
        now,
    );
    let actions = drain(m, now);
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Store { offset: o, check: Some(_) } if *o == offset)),
        "{actions:?}"
    );
    m.handle(Outcome::Stored { offset }, now);
}

fn verified(actions: &[Action]) -> Option<ServerHashes> {
    actions.iter().find_map(|a| match a {
        Action::Verify { server_hashes } => Some(*server_hashes),
        _ => None,
    })
}

fn failure(actions: &[Action]) -> Option<&FileFailure> {
    actions.iter().find_map(|a| match a {
        Action::Fail(failure) => Some(failure),
        _ => None,
    })
}

#[test]
fn a_small_file_asks_its_hashes_with_its_first_part_and_finishes_checked() {
    let now = Instant::now();
    let mut m = machine(200 * KIB);
    assert_eq!(m.next_part_cost(), Some(200 * KIB));
    let actions = start(&mut m, now);
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(fetch(0, Route::Dc(FILE_DC), 0)(&actions[0]));
    assert!(asks_hashes(0, FILE_DC)(&actions[1]));
    assert_eq!(m.next_part_cost(), None);

    // The bytes wait for the hashes, then are checked against them.
    m.handle(bytes(0, 200 * KIB), now);
    assert!(drain(&mut m, now).is_empty());
    m.handle(
        Outcome::Hashes {
            offset: 0,
            hashes: hashes(0, 200 * KIB),
        },
        now,
    );
    let actions = drain(&mut m, now);
    let [
        Action::Store {
            offset: 0,
            check: Some(check),
        },
    ] = actions.as_slice()
    else {
        panic!("{actions:?}");
    };
    assert_eq!(check.len(), 2);
    m.handle(Outcome::Stored { offset: 0 }, now);
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Checked));
    assert!(m.ended());
    assert_eq!(m.done().covered(), 200 * KIB);
}

#[test]
fn parts_cost_their_size_and_cover_the_file_once() {
    let now = Instant::now();
    let mut m = machine(2 * MIB + 300 * KIB);
    let mut costs = Vec::new();
    while let Some(cost) = m.next_part_cost() {
        costs.push(cost);
        start(&mut m, now);
    }
    assert_eq!(costs, vec![MIB, MIB, 300 * KIB]);
    for (offset, len) in [(0, MIB), (MIB, MIB), (2 * MIB, 300 * KIB)] {
        land(&mut m, offset, len, now);
    }
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Checked));
}

#[test]
fn a_resumed_file_asks_only_the_parts_not_on_disk() {
    let now = Instant::now();
    let mut done = RangeSet::new();
    done.insert(0..MIB);
    done.insert(MIB..MIB + 100 * KIB); // part of a part: that part is asked again
    done.insert(2 * MIB..3 * MIB);
    let mut m = machine_with(FileSpec {
        done,
        ..spec(3 * MIB + 10)
    });
    let mut asked = Vec::new();
    while m.next_part_cost().is_some() {
        for action in start(&mut m, now) {
            if let Action::FetchPart { offset, .. } = action {
                asked.push(offset);
            }
        }
    }
    assert_eq!(asked, vec![MIB, 3 * MIB]);

    // Everything on disk already: straight to the read-back.
    let mut all = RangeSet::new();
    all.insert(0..5 * MIB);
    let mut m = machine_with(FileSpec {
        done: all,
        ..spec(5 * MIB)
    });
    assert_eq!(m.next_part_cost(), None);
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Checked));
}

#[test]
fn a_cdn_redirect_and_a_reupload_bring_the_part_from_the_cdn() {
    let now = Instant::now();
    let mut m = machine(MIB + 300 * KIB);
    start(&mut m, now);
    m.handle(
        Outcome::CdnRedirect {
            offset: 0,
            cdn_dc: CDN_DC,
        },
        now,
    );
    let cdn = Route::Cdn {
        dc: CDN_DC,
        redirect: 1,
    };
    assert_eq!(m.cdn_redirect(), Some(1));
    let actions = drain(&mut m, now);
    assert!(actions.iter().any(fetch(0, cdn, 0)), "{actions:?}");
    // New parts go to the CDN too.
    let actions = start(&mut m, now);
    assert!(actions.iter().any(fetch(MIB, cdn, 0)), "{actions:?}");

    // The CDN lacks the file: the file's DC is asked to send it there, then the CDN again.
    m.handle(
        Outcome::ReuploadNeeded {
            offset: 0,
            redirect: 1,
            request_token: vec![9],
        },
        now,
    );
    let actions = drain(&mut m, now);
    assert!(
        matches!(actions.as_slice(), [Action::Reupload { offset: 0, dc: FILE_DC, redirect: 1, request_token }] if request_token == &[9]),
        "{actions:?}"
    );
    m.handle(Outcome::Reuploaded { offset: 0 }, now);
    assert!(drain(&mut m, now).iter().any(fetch(0, cdn, 0)));

    // CDN bytes (checked on arrival against the CDN hashes) are checked like the others.
    land(&mut m, 0, MIB, now);
    land(&mut m, MIB, 300 * KIB, now);
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Checked));
}

#[test]
fn a_stale_cdn_redirect_goes_back_to_the_file_dc_and_a_refusing_cdn_fails_the_file() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    for round in 1..=6 {
        m.handle(
            Outcome::CdnRedirect {
                offset: 0,
                cdn_dc: CDN_DC,
            },
            now,
        );
        drain(&mut m, now);
        m.handle(
            Outcome::CdnStale {
                offset: 0,
                redirect: round,
            },
            now,
        );
        let actions = drain(&mut m, now);
        if round <= 5 {
            assert_eq!(m.cdn_redirect(), None);
            assert!(
                actions.iter().any(fetch(0, Route::Dc(FILE_DC), 0)),
                "{actions:?}"
            );
        } else {
            assert!(
                matches!(failure(&actions), Some(FileFailure::Refused(_))),
                "{actions:?}"
            );
        }
    }
}

#[test]
fn a_cdn_redirect_the_client_did_not_offer_fails_the_file() {
    let now = Instant::now();
    let mut m = machine_with(FileSpec {
        cdn_supported: false,
        ..spec(MIB)
    });
    start(&mut m, now);
    m.handle(
        Outcome::CdnRedirect {
            offset: 0,
            cdn_dc: CDN_DC,
        },
        now,
    );
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::Refused(_))
    ));
}

#[test]
fn a_reference_expiring_mid_file_is_renewed_once_for_all_parts() {
    let now = Instant::now();
    let mut m = machine(3 * MIB);
    for _ in 0..3 {
        start(&mut m, now);
    }
    land(&mut m, 0, MIB, now);
    m.handle(trouble(MIB, 0, err(ErrorKind::FileReferenceExpired)), now);
    m.handle(
        trouble(2 * MIB, 0, err(ErrorKind::FileReferenceExpired)),
        now,
    );
    let actions = drain(&mut m, now);
    assert!(
        matches!(
            actions.as_slice(),
            [Action::RefreshReference { generation: 0 }]
        ),
        "{actions:?}"
    );
    m.handle(Outcome::Refreshed { generation: 0 }, now);
    let actions = drain(&mut m, now);
    for offset in [MIB, 2 * MIB] {
        assert!(
            actions.iter().any(fetch(offset, Route::Dc(FILE_DC), 1)),
            "{actions:?}"
        );
    }
    // An answer to a request made with the old reference: asked again, no new renewal.
    m.handle(trouble(MIB, 0, err(ErrorKind::FileReferenceExpired)), now);
    let actions = drain(&mut m, now);
    assert!(
        actions.iter().any(fetch(MIB, Route::Dc(FILE_DC), 1)),
        "{actions:?}"
    );
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::RefreshReference { .. }))
    );
    land(&mut m, MIB, MIB, now);
    land(&mut m, 2 * MIB, MIB, now);
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Checked));
}

#[test]
fn a_reference_that_keeps_expiring_or_cannot_be_renewed_means_the_file_is_gone() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    for generation in 0..3 {
        m.handle(
            trouble(0, generation, err(ErrorKind::FileReferenceExpired)),
            now,
        );
        drain(&mut m, now);
        m.handle(Outcome::Refreshed { generation }, now);
        drain(&mut m, now);
    }
    m.handle(trouble(0, 3, err(ErrorKind::FileReferenceExpired)), now);
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::Gone(_))
    ));

    // No message to re-read.
    let mut m = machine_with(FileSpec {
        refreshable: false,
        ..spec(MIB)
    });
    start(&mut m, now);
    m.handle(trouble(0, 0, err(ErrorKind::FileReferenceExpired)), now);
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::Gone(_))
    ));

    // The message was deleted: the renewal itself fails.
    let mut m = machine(MIB);
    start(&mut m, now);
    m.handle(trouble(0, 0, err(ErrorKind::FileReferenceExpired)), now);
    drain(&mut m, now);
    m.handle(
        Outcome::RefreshFailed(FileFailure::Gone("deleted".into())),
        now,
    );
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::Gone(_))
    ));
}

#[test]
fn a_part_failing_the_hashes_is_fetched_again_then_given_up() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    for round in 1..=4 {
        m.handle(bytes(0, MIB), now);
        m.handle(
            Outcome::Hashes {
                offset: 0,
                hashes: hashes(0, MIB),
            },
            now,
        );
        drain(&mut m, now);
        m.handle(
            Outcome::Mismatch {
                offset: 0,
                why: "bytes 0..131072 do not match".into(),
            },
            now,
        );
        let actions = drain(&mut m, now);
        if round <= 3 {
            // Both the bytes and their hashes are asked again.
            assert!(
                actions.iter().any(fetch(0, Route::Dc(FILE_DC), 0)),
                "{actions:?}"
            );
            assert!(actions.iter().any(asks_hashes(0, FILE_DC)), "{actions:?}");
        } else {
            assert!(
                matches!(failure(&actions), Some(FileFailure::Verification(_))),
                "{actions:?}"
            );
        }
    }
}

#[test]
fn hashes_that_do_not_cover_the_part_make_it_fetched_again() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    m.handle(bytes(0, MIB), now);
    m.handle(
        Outcome::Hashes {
            offset: 0,
            hashes: hashes(MIB, CHUNK),
        },
        now,
    );
    let actions = drain(&mut m, now);
    assert!(
        actions.iter().any(fetch(0, Route::Dc(FILE_DC), 0)),
        "{actions:?}"
    );
    assert!(actions.iter().any(asks_hashes(0, FILE_DC)), "{actions:?}");
}

#[test]
fn a_flood_wait_holds_the_part_until_it_is_over() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    let wait = Duration::from_secs(3);
    m.handle(trouble(0, 0, err(ErrorKind::FloodWait(wait))), now);
    // The DC's other requests wait too.
    let actions = drain(&mut m, now);
    assert!(
        matches!(actions.as_slice(), [Action::HoldDc { dc: FILE_DC, wait: w }] if *w == wait),
        "{actions:?}"
    );
    assert_eq!(m.poll_timeout(), Some(now + wait));
    assert!(drain(&mut m, now + wait - Duration::from_millis(1)).is_empty());
    let actions = drain(&mut m, now + wait);
    assert!(
        actions.iter().any(fetch(0, Route::Dc(FILE_DC), 0)),
        "{actions:?}"
    );

    // Longer than the client sits out: the file is given up with the wait.
    m.handle(
        trouble(0, 0, err(ErrorKind::FloodWait(Duration::from_mins(10)))),
        now,
    );
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::FloodWait(w)) if *w == Duration::from_mins(10)
    ));
}

#[test]
fn a_migrated_file_is_asked_from_its_dc_and_one_moving_forever_fails() {
    let now = Instant::now();
    let mut m = machine(2 * MIB);
    start(&mut m, now);
    m.handle(trouble(0, 0, migrate(4)), now);
    let actions = drain(&mut m, now);
    assert!(actions.iter().any(fetch(0, Route::Dc(4), 0)), "{actions:?}");
    assert_eq!(m.dc(), 4);
    // The next part and its hashes go there too.
    let actions = start(&mut m, now);
    assert!(
        actions.iter().any(fetch(MIB, Route::Dc(4), 0)),
        "{actions:?}"
    );
    assert!(actions.iter().any(asks_hashes(MIB, 4)), "{actions:?}");
    for dc in [1, 4, 1, 4, 1] {
        m.handle(trouble(0, 0, migrate(dc)), now);
    }
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::Refused(_))
    ));
}

#[test]
fn a_file_gone_fails_at_once_and_later_answers_change_nothing() {
    let now = Instant::now();
    let mut m = machine(3 * MIB);
    for _ in 0..3 {
        start(&mut m, now);
    }
    m.handle(trouble(MIB, 0, err(ErrorKind::FileGone)), now);
    let actions = drain(&mut m, now);
    assert!(
        matches!(actions.as_slice(), [Action::Fail(FileFailure::Gone(_))]),
        "{actions:?}"
    );
    assert!(m.ended());
    m.handle(bytes(0, MIB), now);
    assert!(drain(&mut m, now).is_empty());
    assert_eq!(m.next_part_cost(), None);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn hashes_the_server_cannot_give_are_asked_again_then_the_file_finishes_without() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    m.handle(bytes(0, MIB), now);
    m.handle(Outcome::HashesFailed { offset: 0 }, now);
    assert!(drain(&mut m, now).is_empty());
    let first = now + Duration::from_millis(250);
    assert_eq!(m.poll_timeout(), Some(first));
    assert!(drain(&mut m, first).iter().any(asks_hashes(0, FILE_DC)));
    m.handle(Outcome::HashesFailed { offset: 0 }, first);
    let second = first + Duration::from_millis(500);
    assert_eq!(m.poll_timeout(), Some(second));
    assert!(drain(&mut m, second).iter().any(asks_hashes(0, FILE_DC)));
    m.handle(Outcome::HashesFailed { offset: 0 }, second);
    // Three tries: the bytes (authenticated by MTProto) are kept, unchecked.
    let actions = drain(&mut m, second);
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Store {
                offset: 0,
                check: None
            }]
        ),
        "{actions:?}"
    );
    m.handle(Outcome::Stored { offset: 0 }, second);
    assert_eq!(
        verified(&drain(&mut m, second)),
        Some(ServerHashes::Unavailable)
    );
}

#[test]
fn a_server_refusing_hashes_is_not_asked_again() {
    let now = Instant::now();
    let mut m = machine(2 * MIB);
    start(&mut m, now);
    m.handle(Outcome::HashesRefused, now);
    let actions = start(&mut m, now);
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::FetchHashes { .. })),
        "{actions:?}"
    );
    for offset in [0, MIB] {
        m.handle(bytes(offset, MIB), now);
        assert!(
            drain(&mut m, now)
                .iter()
                .any(|a| matches!(a, Action::Store { check: None, .. }))
        );
        m.handle(Outcome::Stored { offset }, now);
    }
    assert_eq!(
        verified(&drain(&mut m, now)),
        Some(ServerHashes::Unavailable)
    );

    // Turned off by the caller: never asked, and said so.
    let mut m = machine_with(FileSpec {
        verify_server_hashes: false,
        ..spec(MIB)
    });
    let actions = start(&mut m, now);
    assert_eq!(actions.len(), 1, "{actions:?}");
    m.handle(bytes(0, MIB), now);
    drain(&mut m, now);
    m.handle(Outcome::Stored { offset: 0 }, now);
    assert_eq!(verified(&drain(&mut m, now)), Some(ServerHashes::Off));
}

#[test]
fn transient_failures_back_off_longer_each_time_then_give_up() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    let mut at = now;
    for attempt in 1..10 {
        m.handle(trouble(0, 0, err(ErrorKind::Transient)), at);
        let due = m.poll_timeout().unwrap();
        let delay = due - at;
        let base = Duration::from_millis(250) * (1 << attempt.min(6));
        assert!(delay >= base && delay <= base.mul_f64(1.25), "{delay:?}");
        assert!(drain(&mut m, due - Duration::from_millis(1)).is_empty());
        at = due;
        assert!(
            drain(&mut m, at)
                .iter()
                .any(fetch(0, Route::Dc(FILE_DC), 0))
        );
    }
    m.handle(trouble(0, 0, err(ErrorKind::Transient)), at);
    assert!(matches!(
        failure(&drain(&mut m, at)),
        Some(FileFailure::GaveUp { attempts: 10, .. })
    ));
}

#[test]
fn a_part_of_the_wrong_length_fails_the_file() {
    let now = Instant::now();
    let mut m = machine(MIB + 10);
    start(&mut m, now);
    start(&mut m, now);
    m.handle(bytes(MIB, 9), now);
    assert!(matches!(
        failure(&drain(&mut m, now)),
        Some(FileFailure::BadLength {
            offset: MIB,
            expected: 10,
            got: 9
        })
    ));
}

#[test]
fn a_login_lost_on_the_file_dc_is_imported_again_and_a_forgotten_key_made_anew() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    for (kind, repair) in [
        (ErrorKind::LostLogin, Repair::Reimport),
        (ErrorKind::AuthKeyUnknown, Repair::NewKey),
    ] {
        m.handle(trouble(0, 0, err(kind)), now);
        let actions = drain(&mut m, now);
        assert!(
            matches!(actions.as_slice(), [Action::Repair { offset: 0, dc: FILE_DC, repair: r }] if *r == repair),
            "{actions:?}"
        );
        // Not asked again before the repair is done.
        assert_eq!(m.poll_timeout(), None);
        m.handle(Outcome::Repaired { offset: 0 }, now);
        let actions = drain(&mut m, now);
        assert!(
            actions.iter().any(fetch(0, Route::Dc(FILE_DC), 0)),
            "{actions:?}"
        );
    }
}

#[test]
fn a_login_the_home_dc_drops_twice_ends_the_run() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    // Said once, it may pass: a fresh connection, and the part asked again after a pause.
    m.handle(trouble(0, 0, err_at(ErrorKind::LostLogin, true)), now);
    let actions = drain(&mut m, now);
    assert!(
        matches!(
            actions.as_slice(),
            [Action::Repair {
                offset: 0,
                repair: Repair::Reconnect,
                ..
            }]
        ),
        "{actions:?}"
    );
    let due = m.poll_timeout().unwrap();
    assert!(
        drain(&mut m, due)
            .iter()
            .any(fetch(0, Route::Dc(FILE_DC), 0))
    );
    m.handle(trouble(0, 0, err_at(ErrorKind::LostLogin, true)), due);
    let actions = drain(&mut m, due);
    assert!(
        matches!(actions.as_slice(), [Action::LoginLost { .. }]),
        "{actions:?}"
    );
    assert!(m.ended());
}

#[test]
fn a_cdn_flood_wait_holds_the_cdn_dc() {
    let now = Instant::now();
    let mut m = machine(MIB);
    start(&mut m, now);
    m.handle(
        Outcome::CdnRedirect {
            offset: 0,
            cdn_dc: CDN_DC,
        },
        now,
    );
    drain(&mut m, now);
    let wait = Duration::from_secs(2);
    m.handle(trouble(0, 0, err(ErrorKind::FloodWait(wait))), now);
    let actions = drain(&mut m, now);
    assert!(
        matches!(actions.as_slice(), [Action::HoldDc { dc: CDN_DC, .. }]),
        "{actions:?}"
    );
}
