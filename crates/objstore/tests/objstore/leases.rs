//! Lease scenarios shared by both lease schemes (claims on Garage, conditional create on a
//! local path).

use std::time::Duration;

use objstore::{Holder, LeaseOutcome, Target};

const TTL: Duration = Duration::from_mins(1);

pub fn holder(session: &str, host: &str, pid: u32) -> Holder {
    Holder {
        session: session.into(),
        host: host.into(),
        pid,
    }
}

fn acquired(outcome: LeaseOutcome) -> objstore::Lease {
    match outcome {
        LeaseOutcome::Acquired(lease) => lease,
        LeaseOutcome::Held { holder, .. } => panic!("held by {holder}"),
    }
}

/// Two holders: the second is told who has the file until the first releases it.
/// Process ids above Linux's largest `pid_max` (2^22): never a running process.
const GONE: u32 = 5_000_000;

pub async fn two_holders(a: &Target, b: &Target) {
    let alice = holder("alice", "host-a", GONE + 1);
    let bob = holder("bob", "host-b", GONE + 2);
    let lease = acquired(a.lease("doc-1", &alice, TTL).await.unwrap());
    match b.lease("doc-1", &bob, TTL).await.unwrap() {
        LeaseOutcome::Held { holder, expires } => {
            assert_eq!(holder, alice);
            assert_eq!(expires, lease.expires());
        }
        LeaseOutcome::Acquired(_) => panic!("both hold doc-1"),
    }
    // Another file is free.
    acquired(b.lease("doc-2", &bob, TTL).await.unwrap());
    a.release(lease).await.unwrap();
    acquired(b.lease("doc-1", &bob, TTL).await.unwrap());
}

/// A lease lapses at its expiry; renewing moves the expiry; the same session on the same
/// host takes its lease over when the holding process is gone (a rerun after a kill), not
/// while it runs.
pub async fn expiry_renewal_and_takeover(a: &Target, b: &Target) {
    let t0 = 1_000_000;
    let alice = holder("alice", "host-a", GONE + 1);
    let bob = holder("bob", "host-b", GONE + 2);
    let mut lease = acquired(a.lease_at("m", &alice, TTL, t0).await.unwrap());
    assert!(matches!(
        b.lease_at("m", &bob, TTL, t0 + 30).await.unwrap(),
        LeaseOutcome::Held { .. }
    ));
    assert!(a.renew_at(&mut lease, TTL, t0 + 50).await.unwrap());
    assert!(
        matches!(
            b.lease_at("m", &bob, TTL, t0 + 70).await.unwrap(),
            LeaseOutcome::Held { .. }
        ),
        "renewed until t0 + 110"
    );
    // Alice's process (a pid that cannot run) is gone: her rerun takes over.
    let rerun = holder("alice", "host-a", std::process::id());
    let taken = acquired(a.lease_at("m", &rerun, TTL, t0 + 80).await.unwrap());
    // This process runs: another of Alice's processes must wait.
    let sibling = holder("alice", "host-a", GONE + 3);
    match a.lease_at("m", &sibling, TTL, t0 + 81).await.unwrap() {
        LeaseOutcome::Held { holder, .. } => assert_eq!(holder, rerun),
        LeaseOutcome::Acquired(_) => panic!("a running process lost its lease to a sibling"),
    }
    let bobs = acquired(b.lease_at("m", &bob, TTL, t0 + 200).await.unwrap());
    // The lapsed holders find out when they try to renew.
    assert!(!a.renew_at(&mut lease, TTL, t0 + 201).await.unwrap());
    let mut taken = taken;
    assert!(!a.renew_at(&mut taken, TTL, t0 + 201).await.unwrap());
    b.release(bobs).await.unwrap();
}

/// Several processes asking at the same moment: exactly one gets it.
pub async fn a_race_has_one_winner(targets: &[Target]) {
    let asks = targets.iter().cloned().enumerate().map(|(i, t)| {
        let who = holder(&format!("s{i}"), &format!("h{i}"), GONE + i as u32);
        async move { t.lease("raced", &who, TTL).await.unwrap() }
    });
    let outcomes = futures_join_all(asks).await;
    let winners: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, LeaseOutcome::Acquired(_)))
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let LeaseOutcome::Acquired(winner) = winners[0] else {
        unreachable!()
    };
    // The others name the winner (or a contender that lost at the same time).
    for outcome in &outcomes {
        if let LeaseOutcome::Held { holder, .. } = outcome {
            assert!(holder.session.starts_with('s'));
        }
    }
    assert_eq!(winner.media_key(), "raced");
}

/// Runs the futures concurrently on the runtime (no extra dependency).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
