#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use super::*;

const CHANNEL: i64 = 77;

fn state(pts: i32, seq: i32) -> CommonState {
    CommonState {
        pts,
        qts: 0,
        seq,
        date: 1000,
    }
}

fn machine(now: Instant) -> Machine<i32> {
    Machine::new(state(10, 5), CHANNEL_DIFFERENCE_LIMIT_USER, now)
}

fn common(pts: i32, pts_count: i32, payload: i32) -> Item<i32> {
    Item::Pts(PtsUpdate {
        entry: Entry::Common,
        pts,
        pts_count,
        payload,
    })
}

fn channel(pts: i32, pts_count: i32, payload: i32) -> Item<i32> {
    Item::Pts(PtsUpdate {
        entry: Entry::Channel(CHANNEL),
        pts,
        pts_count,
        payload,
    })
}

/// A container without a sequence (how channel updates and `updateShort` come).
fn loose(items: Vec<Item<i32>>) -> Incoming<i32> {
    Incoming::Batch(Batch {
        seq_start: 0,
        seq: 0,
        date: 0,
        items,
    })
}

fn seq(seq_start: i32, seq: i32, items: Vec<Item<i32>>) -> Incoming<i32> {
    Incoming::Batch(Batch {
        seq_start,
        seq,
        date: 2000,
        items,
    })
}

fn applied(out: &[Output<i32>]) -> Vec<i32> {
    out.iter()
        .filter_map(|o| match o {
            Output::Apply(v) => Some(*v),
            Output::Relist { .. } => None,
        })
        .collect()
}

#[test]
fn contiguous_updates_apply_in_order_and_advance_pts() {
    let now = Instant::now();
    let mut m = machine(now);
    let out = m.handle_incoming(loose(vec![common(11, 1, 1), common(13, 2, 2)]), now);
    assert_eq!(applied(&out), vec![1, 2]);
    assert_eq!(m.snapshot().common.pts, 13);
    assert_eq!(m.next_request(), None);
}

#[test]
fn duplicates_are_dropped() {
    let now = Instant::now();
    let mut m = machine(now);
    m.handle_incoming(loose(vec![common(11, 1, 1)]), now);
    let out = m.handle_incoming(loose(vec![common(11, 1, 1), common(10, 1, 0)]), now);
    assert!(out.is_empty());
    assert_eq!(m.snapshot().common.pts, 11);
}

#[test]
fn out_of_order_updates_within_the_wait_are_applied_in_pts_order() {
    let now = Instant::now();
    let mut m = machine(now);
    // 12 arrives before 11: held, then both applied when 11 fills the gap.
    assert!(
        m.handle_incoming(loose(vec![common(12, 1, 2)]), now)
            .is_empty()
    );
    assert_eq!(m.snapshot().common.pts, 10);
    let later = now + Duration::from_millis(100);
    let out = m.handle_incoming(loose(vec![common(11, 1, 1)]), later);
    assert_eq!(applied(&out), vec![1, 2]);
    assert_eq!(m.snapshot().common.pts, 12);
    // The gap closed: no difference wanted even after the wait.
    m.check_deadlines(now + Duration::from_secs(1));
    assert_eq!(m.next_request(), None);
}

#[test]
fn a_gap_not_filled_in_time_fetches_the_difference() {
    let now = Instant::now();
    let mut m = machine(now);
    m.handle_incoming(loose(vec![common(13, 1, 3)]), now);
    assert_eq!(m.next_deadline(), Some(now + POSSIBLE_GAP_TIMEOUT));
    m.check_deadlines(now + Duration::from_millis(499));
    assert_eq!(m.next_request(), None);
    let due = now + POSSIBLE_GAP_TIMEOUT;
    m.check_deadlines(due);
    assert_eq!(m.next_request(), Some(Request::Difference(state(10, 5))));
    // In flight: asked once only.
    assert_eq!(m.next_request(), None);
    let out = m.handle_difference(
        Difference::Some {
            new_messages: vec![1, 2, 3],
            other_updates: vec![],
            state: state(13, 5),
            done: true,
        },
        due,
    );
    // The held update (pts 13) is covered by the difference and not applied twice.
    assert_eq!(applied(&out), vec![1, 2, 3]);
    assert_eq!(m.snapshot().common.pts, 13);
    assert_eq!(m.next_request(), None);
}

#[test]
fn updates_pushed_during_a_difference_are_checked_against_its_result() {
    let now = Instant::now();
    let mut m = machine(now);
    m.handle_incoming(Incoming::TooLong, now);
    let Some(Request::Difference(_)) = m.next_request() else {
        panic!("difference expected");
    };
    // Pushed while the difference is in flight: one it covers, one newer.
    assert!(
        m.handle_incoming(loose(vec![common(12, 1, 2), common(13, 1, 3)]), now)
            .is_empty()
    );
    let out = m.handle_difference(
        Difference::Some {
            new_messages: vec![1, 2],
            other_updates: vec![],
            state: state(12, 5),
            done: true,
        },
        now,
    );
    assert_eq!(applied(&out), vec![1, 2, 3]);
    assert_eq!(m.snapshot().common.pts, 13);
}

#[test]
fn difference_slices_continue_from_the_intermediate_state() {
    let now = Instant::now();
    let mut m = machine(now);
    m.handle_incoming(Incoming::TooLong, now);
    assert_eq!(m.next_request(), Some(Request::Difference(state(10, 5))));
    let out = m.handle_difference(
        Difference::Some {
            new_messages: vec![1],
            other_updates: vec![],
            state: CommonState {
                pts: 50,
                qts: 1,
                seq: 6,
                date: 1500,
            },
            done: false,
        },
        now,
    );
    assert_eq!(applied(&out), vec![1]);
    assert_eq!(
        m.next_request(),
        Some(Request::Difference(CommonState {
            pts: 50,
            qts: 1,
            seq: 6,
            date: 1500
        }))
    );
    let out = m.handle_difference(
        Difference::Some {
            new_messages: vec![2],
            other_updates: vec![common(60, 1, 9)],
            state: state(60, 7),
            done: true,
        },
        now,
    );
    assert_eq!(applied(&out), vec![2, 9]);
    assert_eq!(m.next_request(), None);
    assert_eq!(m.snapshot().common, state(60, 7));
}

#[test]
fn difference_too_long_resets_pts_and_asks_for_a_relisting() {
    let now = Instant::now();
    let mut m = machine(now);
    m.handle_incoming(Incoming::TooLong, now);
    m.next_request();
    let out = m.handle_difference(Difference::TooLong { pts: 5000 }, now);
    assert_eq!(
        out,
        vec![Output::Relist {
            entry: Entry::Common,
            top_message: None
        }]
    );
    assert_eq!(m.snapshot().common.pts, 5000);
    let out = m.handle_incoming(loose(vec![common(5001, 1, 1)]), now);
    assert_eq!(applied(&out), vec![1]);
}

#[test]
fn empty_difference_takes_date_and_seq() {
    let now = Instant::now();
    let mut m = machine(now);
    m.request_difference(Entry::Common);
    m.next_request();
    m.handle_difference(Difference::Empty { date: 3000, seq: 9 }, now);
    let snap = m.snapshot().common;
    assert_eq!((snap.pts, snap.seq, snap.date), (10, 9, 3000));
}

#[test]
fn seq_containers_apply_once_and_a_seq_gap_fetches_the_difference() {
    let now = Instant::now();
    let mut m = machine(now);
    let out = m.handle_incoming(seq(6, 6, vec![common(11, 1, 1)]), now);
    assert_eq!(applied(&out), vec![1]);
    assert_eq!(m.snapshot().common.seq, 6);
    // The same container again: already applied, even its pts-less updates.
    let out = m.handle_incoming(seq(6, 6, vec![Item::Plain(42)]), now);
    assert!(out.is_empty());
    // A combined container covering 7..8 applies.
    let out = m.handle_incoming(seq(7, 8, vec![Item::Plain(43)]), now);
    assert_eq!(applied(&out), vec![43]);
    assert_eq!(m.snapshot().common.seq, 8);
    // 10 after 8: a gap, recovered at once.
    let out = m.handle_incoming(seq(10, 10, vec![common(12, 1, 2)]), now);
    assert!(out.is_empty());
    assert!(matches!(m.next_request(), Some(Request::Difference(s)) if s.seq == 8));
}

#[test]
fn quiet_boxes_are_polled() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    assert_eq!(m.next_deadline(), Some(now + NO_UPDATES_TIMEOUT));
    let later = now + NO_UPDATES_TIMEOUT;
    m.check_deadlines(later);
    assert_eq!(m.next_request(), Some(Request::Difference(state(10, 5))));
    assert_eq!(
        m.next_request(),
        Some(Request::ChannelDifference {
            channel_id: CHANNEL,
            pts: 100,
            limit: CHANNEL_DIFFERENCE_LIMIT_USER
        })
    );
    // The channel's answer says when to look again.
    m.handle_channel_difference(
        CHANNEL,
        ChannelDifference::Empty {
            pts: 100,
            timeout: Some(30),
        },
        later,
    );
    m.handle_difference(Difference::Empty { date: 1, seq: 5 }, later);
    assert_eq!(m.next_deadline(), Some(later + Duration::from_secs(30)));
    m.check_deadlines(later + Duration::from_secs(30));
    assert!(matches!(
        m.next_request(),
        Some(Request::ChannelDifference { pts: 100, .. })
    ));
}

#[test]
fn an_applied_update_postpones_the_poll() {
    let now = Instant::now();
    let mut m = machine(now);
    let later = now + Duration::from_mins(1);
    m.handle_incoming(loose(vec![common(11, 1, 1)]), later);
    assert_eq!(m.next_deadline(), Some(later + NO_UPDATES_TIMEOUT));
}

#[test]
fn channel_and_common_sequences_are_independent() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    let out = m.handle_incoming(
        loose(vec![
            channel(101, 1, 1),
            common(11, 1, 2),
            channel(102, 1, 3),
        ]),
        now,
    );
    assert_eq!(applied(&out), vec![1, 2, 3]);
    let snap = m.snapshot();
    assert_eq!(snap.common.pts, 11);
    assert_eq!(snap.channels, vec![(CHANNEL, Some(102))]);
    // A channel gap does not hold the common box.
    let out = m.handle_incoming(loose(vec![channel(105, 1, 4), common(12, 1, 5)]), now);
    assert_eq!(applied(&out), vec![5]);
    m.check_deadlines(now + POSSIBLE_GAP_TIMEOUT);
    assert_eq!(
        m.next_request(),
        Some(Request::ChannelDifference {
            channel_id: CHANNEL,
            pts: 102,
            limit: CHANNEL_DIFFERENCE_LIMIT_USER
        })
    );
}

#[test]
fn updates_of_channels_not_followed_are_ignored() {
    let now = Instant::now();
    let mut m = machine(now);
    let out = m.handle_incoming(loose(vec![channel(101, 1, 1)]), now);
    assert!(out.is_empty());
    assert!(m.snapshot().channels.is_empty());
}

#[test]
fn a_channel_without_known_pts_starts_from_its_first_update() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, None, now);
    m.request_difference(Entry::Channel(CHANNEL));
    // Nothing to ask with: no request.
    assert_eq!(m.next_request(), None);
    let out = m.handle_incoming(loose(vec![channel(500, 1, 1), channel(501, 1, 2)]), now);
    assert_eq!(applied(&out), vec![1, 2]);
    assert_eq!(m.snapshot().channels, vec![(CHANNEL, Some(501))]);
}

#[test]
fn channel_too_long_fetches_until_final() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    m.handle_incoming(
        loose(vec![Item::ChannelTooLong {
            channel_id: CHANNEL,
            pts: Some(300),
        }]),
        now,
    );
    assert!(matches!(
        m.next_request(),
        Some(Request::ChannelDifference { pts: 100, .. })
    ));
    let out = m.handle_channel_difference(
        CHANNEL,
        ChannelDifference::Some {
            is_final: false,
            pts: 200,
            timeout: None,
            new_messages: vec![1, 2],
            other_updates: vec![channel(200, 1, 3)],
        },
        now,
    );
    assert_eq!(applied(&out), vec![1, 2, 3]);
    // Not final: continued at once from the new pts.
    assert!(matches!(
        m.next_request(),
        Some(Request::ChannelDifference { pts: 200, .. })
    ));
    let out = m.handle_channel_difference(
        CHANNEL,
        ChannelDifference::Some {
            is_final: true,
            pts: 300,
            timeout: Some(10),
            new_messages: vec![4],
            other_updates: vec![],
        },
        now,
    );
    assert_eq!(applied(&out), vec![4]);
    assert_eq!(m.next_request(), None);
    assert_eq!(m.snapshot().channels, vec![(CHANNEL, Some(300))]);
}

#[test]
fn channel_difference_too_long_resets_pts_and_asks_for_a_relisting() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    m.request_difference(Entry::Channel(CHANNEL));
    m.next_request();
    let out = m.handle_channel_difference(
        CHANNEL,
        ChannelDifference::TooLong {
            pts: 900,
            timeout: None,
            top_message: 450,
        },
        now,
    );
    assert_eq!(
        out,
        vec![Output::Relist {
            entry: Entry::Channel(CHANNEL),
            top_message: Some(450)
        }]
    );
    assert_eq!(m.snapshot().channels, vec![(CHANNEL, Some(900))]);
    let out = m.handle_incoming(loose(vec![channel(901, 1, 1)]), now);
    assert_eq!(applied(&out), vec![1]);
}

#[test]
fn a_failed_difference_is_asked_again_later() {
    let now = Instant::now();
    let mut m = machine(now);
    m.request_difference(Entry::Common);
    assert!(m.next_request().is_some());
    let retry = now + Duration::from_secs(2);
    m.difference_failed(Entry::Common, retry);
    assert_eq!(m.next_request(), None);
    assert_eq!(m.next_deadline(), Some(retry));
    m.check_deadlines(retry);
    assert!(m.next_request().is_some());
}

#[test]
fn common_difference_routes_channel_updates_through_the_channel_sequence() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    m.request_difference(Entry::Common);
    m.next_request();
    let out = m.handle_difference(
        Difference::Some {
            new_messages: vec![],
            other_updates: vec![
                channel(101, 1, 1),
                channel(101, 1, 1),
                Item::ChannelTooLong {
                    channel_id: CHANNEL,
                    pts: None,
                },
            ],
            state: state(10, 5),
            done: true,
        },
        now,
    );
    assert_eq!(applied(&out), vec![1]);
    assert!(matches!(
        m.next_request(),
        Some(Request::ChannelDifference { pts: 101, .. })
    ));
}

#[test]
fn a_followed_channel_keeps_its_state_when_followed_again() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    m.follow_channel(CHANNEL, Some(1), now);
    assert_eq!(m.snapshot().channels, vec![(CHANNEL, Some(100))]);
    m.unfollow_channel(CHANNEL);
    assert!(!m.follows_channel(CHANNEL));
}

#[test]
fn too_long_fetches_the_difference_of_every_box() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    m.follow_channel(CHANNEL + 1, Some(7), now);
    m.handle_incoming(Incoming::TooLong, now);
    assert_eq!(m.next_request(), Some(Request::Difference(state(10, 5))));
    let channels: Vec<i64> = std::iter::from_fn(|| m.next_request())
        .map(|r| match r {
            Request::ChannelDifference { channel_id, .. } => channel_id,
            other @ Request::Difference(_) => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(channels, vec![CHANNEL, CHANNEL + 1]);
}

#[test]
fn channel_updates_in_a_container_out_of_seq_are_judged_by_their_own_pts() {
    let now = Instant::now();
    let mut m = machine(now);
    m.follow_channel(CHANNEL, Some(100), now);
    // seq 9 after 5: a gap for the common box, not for the channel.
    let out = m.handle_incoming(seq(9, 9, vec![channel(101, 1, 1), common(11, 1, 2)]), now);
    assert_eq!(applied(&out), vec![1]);
    assert!(matches!(m.next_request(), Some(Request::Difference(_))));
    // An old container again: its channel update is a duplicate by pts.
    let out = m.handle_incoming(seq(3, 3, vec![channel(101, 1, 1)]), now);
    assert!(out.is_empty());
}

mod hostile {
    //! Whatever the server pushes or answers (any numbers, any order), the machine neither
    //! panics nor stops asking: what it asks for is always one of the boxes it keeps.

    use proptest::prelude::*;

    use super::*;

    /// Numbers a server may send: small, around the machine's own, and the extremes.
    fn number() -> impl Strategy<Value = i32> {
        prop_oneof![
            0..200i32,
            Just(i32::MAX),
            Just(i32::MIN),
            Just(-1),
            any::<i32>()
        ]
    }

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            Just(Entry::Common),
            Just(Entry::Channel(CHANNEL)),
            any::<i64>().prop_map(Entry::Channel),
        ]
    }

    fn item() -> impl Strategy<Value = Item<i32>> {
        prop_oneof![
            (entry(), number(), number(), any::<i32>()).prop_map(|(entry, pts, pts_count, p)| {
                Item::Pts(PtsUpdate {
                    entry,
                    pts,
                    pts_count,
                    payload: p,
                })
            }),
            any::<i32>().prop_map(Item::Plain),
            (
                prop_oneof![Just(CHANNEL), any::<i64>()],
                proptest::option::of(number())
            )
                .prop_map(|(channel_id, pts)| Item::ChannelTooLong { channel_id, pts }),
        ]
    }

    fn common_state() -> impl Strategy<Value = CommonState> {
        (number(), number(), number(), number()).prop_map(|(pts, qts, seq, date)| CommonState {
            pts,
            qts,
            seq,
            date,
        })
    }

    #[derive(Debug, Clone)]
    enum Step {
        Push(Incoming<i32>),
        Difference(Difference<i32>),
        ChannelDifference(i64, ChannelDifference<i32>),
        Failed(Entry, u64),
        Wait(u64),
        Ask,
    }

    fn items() -> impl Strategy<Value = Vec<Item<i32>>> {
        proptest::collection::vec(item(), 0..6)
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Push(Incoming::TooLong)),
            (number(), number(), number(), items()).prop_map(|(seq_start, seq, date, items)| {
                Step::Push(Incoming::Batch(Batch {
                    seq_start,
                    seq,
                    date,
                    items,
                }))
            }),
            (number(), number())
                .prop_map(|(date, seq)| Step::Difference(Difference::Empty { date, seq })),
            (
                proptest::collection::vec(any::<i32>(), 0..4),
                items(),
                common_state(),
                any::<bool>()
            )
                .prop_map(|(new_messages, other_updates, state, done)| {
                    Step::Difference(Difference::Some {
                        new_messages,
                        other_updates,
                        state,
                        done,
                    })
                }),
            number().prop_map(|pts| Step::Difference(Difference::TooLong { pts })),
            (
                prop_oneof![Just(CHANNEL), any::<i64>()],
                any::<bool>(),
                number(),
                proptest::option::of(number()),
                items(),
            )
                .prop_map(|(channel, is_final, pts, timeout, other_updates)| {
                    Step::ChannelDifference(
                        channel,
                        ChannelDifference::Some {
                            is_final,
                            pts,
                            timeout,
                            new_messages: vec![1, 2],
                            other_updates,
                        },
                    )
                }),
            (number(), proptest::option::of(number()), number()).prop_map(
                |(pts, timeout, top_message)| {
                    Step::ChannelDifference(
                        CHANNEL,
                        ChannelDifference::TooLong {
                            pts,
                            timeout,
                            top_message,
                        },
                    )
                }
            ),
            (entry(), 0..100_000u64).prop_map(|(entry, ms)| Step::Failed(entry, ms)),
            (0..100_000_000u64).prop_map(Step::Wait),
            Just(Step::Ask),
        ]
    }

    proptest! {
        #[test]
        fn no_answer_panics_and_requests_stay_within_the_boxes(
            start in common_state(),
            channel_pts in proptest::option::of(number()),
            steps in proptest::collection::vec(step(), 0..40),
        ) {
            let mut now = Instant::now();
            let mut m: Machine<i32> = Machine::new(start, CHANNEL_DIFFERENCE_LIMIT_USER, now);
            m.follow_channel(CHANNEL, channel_pts, now);
            for step in steps {
                match step {
                    Step::Push(incoming) => {
                        m.handle_incoming(incoming, now);
                    }
                    Step::Difference(difference) => {
                        m.handle_difference(difference, now);
                    }
                    Step::ChannelDifference(channel, difference) => {
                        m.handle_channel_difference(channel, difference, now);
                    }
                    Step::Failed(entry, ms) => {
                        m.difference_failed(entry, now + Duration::from_millis(ms));
                    }
                    Step::Wait(ms) => {
                        now += Duration::from_millis(ms);
                        m.check_deadlines(now);
                    }
                    Step::Ask => {
                        while let Some(request) = m.next_request() {
                            if let Request::ChannelDifference { channel_id, limit, .. } = request {
                                prop_assert!(m.follows_channel(channel_id), "{request:?}");
                                prop_assert!(limit > 0);
                            }
                        }
                    }
                }
                let _ = m.next_deadline();
                let _ = m.snapshot();
            }
        }
    }
}
