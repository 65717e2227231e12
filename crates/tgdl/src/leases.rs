//! Several machines archiving into one prefix: before a file is uploaded this process takes
//! its lease in the bucket (`objstore`: a conditional create where the service honours it,
//! else claims with an expiry). A file another holder has is skipped and reported with who
//! has it; the leases this run holds are renewed while it runs and released at its end.

use std::time::Duration;

use anyhow::{Context, Result};
use objstore::{Holder, Lease, LeaseOutcome, Target};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::manifest::hex;
use crate::storage::retrying;

/// How long a lease lasts unless renewed: long enough that a renewal missed while the
/// service restarts does not lose it, short enough that a crashed holder's files are taken
/// over the same hour.
pub const LEASE_TTL: Duration = Duration::from_mins(15);
/// How often held leases are renewed.
const RENEW_EVERY: Duration = Duration::from_mins(5);
/// Leases asked for at once (with claims, each takes the service's settle time).
const CONCURRENT_CLAIMS: usize = 16;

/// This process as a lease holder: the account, the host and the pid.
pub fn holder(user_id: i64) -> Holder {
    Holder {
        session: format!("user {user_id}"),
        host: host_name(),
        pid: std::process::id(),
    }
}

/// The machine's name, for the other holders' messages.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown host".to_owned())
}

/// The lease object's name for the file at `key`: a hash, so keys that nest (`a` and
/// `a/b`) never share a lease folder and any key makes a plain object name.
pub fn lease_name(key: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    // 128 bits name a file among any archive's.
    hex(digest.get(..16).unwrap_or(&digest))
}

/// What asking for the leases of a run's files gave, file by file.
#[derive(Debug)]
pub enum Claimed {
    /// This process uploads the file (under this lease; none when the one it holds came
    /// from an earlier try whose answer was lost).
    Ours(Option<Lease>),
    /// Another process has it until `expires` (Unix seconds).
    Elsewhere { holder: Holder, expires: u64 },
}

/// Asks for the lease of each of `keys` (final keys under the prefix), a few at once; the
/// answers in the order of `keys`.
///
/// # Errors
/// The service failed (the leases taken so far lapse on their own).
pub async fn claim(target: &Target, holder: &Holder, keys: &[String]) -> Result<Vec<Claimed>> {
    let mut answers: Vec<Option<Claimed>> = keys.iter().map(|_| None).collect();
    let mut asking = JoinSet::new();
    let mut next = keys.iter().enumerate();
    loop {
        while asking.len() < CONCURRENT_CLAIMS {
            let Some((index, key)) = next.next() else {
                break;
            };
            let (target, holder, name) = (target.clone(), holder.clone(), lease_name(key));
            asking.spawn(async move {
                let outcome =
                    retrying("taking a lease", || target.lease(&name, &holder, LEASE_TTL)).await;
                (index, outcome)
            });
        }
        let Some(joined) = asking.join_next().await else {
            break;
        };
        let (index, outcome) = joined.context("a lease request stopped")?;
        let claimed = match outcome.context("cannot take the leases of the files")? {
            LeaseOutcome::Acquired(lease) => Claimed::Ours(Some(lease)),
            // A claim of an earlier try of ours that the service took although the answer
            // was lost: the file is ours; that claim lapses on its own.
            LeaseOutcome::Held { holder: by, .. } if by == *holder => Claimed::Ours(None),
            LeaseOutcome::Held { holder, expires } => Claimed::Elsewhere { holder, expires },
        };
        if let Some(slot) = answers.get_mut(index) {
            *slot = Some(claimed);
        }
    }
    Ok(answers.into_iter().flatten().collect())
}

/// Who takes leases: the bucket and this process.
#[derive(Debug, Clone)]
pub struct Leasing {
    pub target: Target,
    pub holder: Holder,
}

/// A file another process has.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// Its index in the batch.
    pub index: usize,
    pub holder: Holder,
    /// Unix seconds when the lease lapses unless its holder renews it.
    pub expires: u64,
}

impl Skipped {
    /// What the manifest and the summary say.
    pub fn reason(&self) -> String {
        format!(
            "another tgdl has it: {} (lease until {})",
            self.holder,
            crate::dates::rfc3339(i64::try_from(self.expires).unwrap_or(i64::MAX))
        )
    }
}

/// The leases of a batch: the files this process runs, those it skips, and the leases it
/// holds meanwhile.
#[derive(Debug)]
pub struct Taken {
    /// Indices of the files this process uploads, in order.
    pub ours: Vec<usize>,
    pub skipped: Vec<Skipped>,
    held: Option<Held>,
}

impl Taken {
    /// Takes the lease of each of `keys` (a batch's final keys); without `leasing` (a
    /// local directory) every file is ours.
    ///
    /// # Errors
    /// The service failed.
    pub async fn take(leasing: Option<&Leasing>, keys: &[String]) -> Result<Self> {
        let Some(leasing) = leasing else {
            return Ok(Self {
                ours: (0..keys.len()).collect(),
                skipped: Vec::new(),
                held: None,
            });
        };
        let mut ours = Vec::new();
        let mut skipped = Vec::new();
        let mut leases = Vec::new();
        for (index, claimed) in claim(&leasing.target, &leasing.holder, keys)
            .await?
            .into_iter()
            .enumerate()
        {
            match claimed {
                Claimed::Ours(lease) => {
                    ours.push(index);
                    leases.extend(lease);
                }
                Claimed::Elsewhere { holder, expires } => skipped.push(Skipped {
                    index,
                    holder,
                    expires,
                }),
            }
        }
        Ok(Self {
            ours,
            skipped,
            held: Some(Held::keep(&leasing.target, leases)),
        })
    }

    /// Gives the leases up (after the batch).
    pub async fn release(self) {
        if let Some(held) = self.held {
            held.release().await;
        }
    }
}

/// The leases a run holds, renewed in the background until [`Held::release`].
#[derive(Debug)]
pub struct Held {
    stop: oneshot::Sender<()>,
    renewer: tokio::task::JoinHandle<Vec<Lease>>,
    target: Target,
}

impl Held {
    /// Keeps `leases` alive while the run goes on.
    pub fn keep(target: &Target, leases: Vec<Lease>) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let renewing = target.clone();
        let renewer = tokio::spawn(async move {
            let mut leases = leases;
            loop {
                tokio::select! {
                    _ = &mut stopped => return leases,
                    () = tokio::time::sleep(RENEW_EVERY) => {}
                }
                for lease in &mut leases {
                    let renewed = retrying("renewing a lease", || {
                        let mut trial = lease.clone();
                        let renewing = renewing.clone();
                        async move {
                            let kept = renewing.renew(&mut trial, LEASE_TTL).await?;
                            Ok((kept, trial))
                        }
                    })
                    .await;
                    match renewed.map(|(kept, renewed)| {
                        *lease = renewed;
                        kept
                    }) {
                        Ok(true) => {}
                        // Lost or not renewed now: the upload goes on; publishing never
                        // replaces other content, so the worst case is a file both upload.
                        Ok(false) => tracing::warn!(
                            lease = lease.media_key(),
                            "a lease lapsed and another holder took it"
                        ),
                        Err(error) => tracing::warn!(%error, "cannot renew a lease"),
                    }
                }
            }
        });
        Self {
            stop,
            renewer,
            target: target.clone(),
        }
    }

    /// Stops renewing and gives the leases up. A failure is only logged: they lapse.
    pub async fn release(self) {
        let _ = self.stop.send(());
        let Ok(leases) = self.renewer.await else {
            return;
        };
        let mut releasing = JoinSet::new();
        for lease in leases {
            let target = self.target.clone();
            releasing.spawn(async move { target.release(lease).await });
        }
        while let Some(done) = releasing.join_next().await {
            if let Ok(Err(error)) = done {
                tracing::warn!(%error, "cannot release a lease; it lapses on its own");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_are_flat_and_distinct_for_nested_keys() {
        let (a, b) = (lease_name("chat/1.jpg"), lease_name("chat/1.jpg/x"));
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a, lease_name("chat/1.jpg"));
    }
}
