//! `tgdl-chaos --output s3`: the downloads go to a real Garage on loopback (the objstore
//! harness), which is restarted at seeded moments as one more fault; the end check reads
//! every object back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use objstore::garage::Garage;
use objstore::{Target, sha256_of};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::run::Totals;

/// A Garage shared by the rounds (each round writes under its own prefix).
#[derive(Debug)]
pub struct S3Output {
    runtime: Arc<tokio::runtime::Runtime>,
    garage: Mutex<Garage>,
    /// What tgdl is told to reach it: the endpoint, and the key in the AWS variables.
    endpoint: String,
    key_id: String,
    secret: String,
    bucket: String,
}

impl S3Output {
    /// Starts the node.
    pub fn start(runtime: Arc<tokio::runtime::Runtime>) -> Result<Self> {
        let garage = runtime
            .block_on(Garage::start())
            .map_err(|e| anyhow!("starting Garage: {e}"))?;
        let credentials = garage
            .config()
            .credentials
            .context("the harness gives credentials")?;
        Ok(Self {
            endpoint: garage.endpoint(),
            bucket: garage.bucket().to_owned(),
            key_id: credentials.access_key_id,
            secret: credentials.secret_access_key,
            garage: Mutex::new(garage),
            runtime,
        })
    }

    /// `s3://bucket/round-N`.
    pub fn url(&self, round: u64) -> String {
        format!("s3://{}/{}", self.bucket, prefix(round))
    }

    /// The config file's `[storage]` section for tgdl.
    pub fn config_toml(&self) -> String {
        format!(
            "[storage]\nendpoint = \"{}\"\nregion = \"garage\"\npath_style = true\n",
            self.endpoint
        )
    }

    /// The environment variables that carry the key to tgdl.
    pub fn env(&self) -> [(&'static str, String); 2] {
        [
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
    }

    /// Restarts the node (SIGKILL, then the same ports and data).
    fn restart(&self) -> Result<()> {
        let mut garage = self
            .garage
            .lock()
            .map_err(|_| anyhow!("the Garage lock is poisoned"))?;
        self.runtime
            .block_on(garage.restart())
            .map_err(|e| anyhow!("restarting Garage: {e}"))
    }

    fn target(&self, round: u64) -> Result<Target> {
        let garage = self
            .garage
            .lock()
            .map_err(|_| anyhow!("the Garage lock is poisoned"))?;
        self.runtime
            .block_on(garage.target(&prefix(round)))
            .map_err(|e| anyhow!("opening the round's prefix: {e}"))
    }

    /// Every file of `expected` read back from round `round`'s prefix; counts files,
    /// bytes, corrupt (wrong bytes, or a final object without its SHA-256), stray and
    /// staging leftovers into `outcome`; how many are missing.
    pub fn check(
        &self,
        round: u64,
        sizes: &BTreeMap<PathBuf, u64>,
        expected: &BTreeMap<PathBuf, [u8; 32]>,
        outcome: &mut Totals,
    ) -> Result<u64> {
        let target = self.target(round)?;
        let mut missing = 0;
        for (path, size) in sizes {
            let key = key_of(path);
            let Some(info) = self.runtime.block_on(target.stat(&key))? else {
                missing += 1;
                eprintln!("chaos: LOST {key} ({size} bytes)");
                continue;
            };
            let bytes = self.runtime.block_on(target.read(&key))?;
            let hash = sha256_of(&bytes);
            if Some(&hash) != expected.get(path) {
                outcome.corrupt += 1;
                eprintln!("chaos: CORRUPT {key} (object hash differs)");
            } else if info.sha256 != Some(hash) {
                outcome.unverified += 1;
                eprintln!("chaos: UNVERIFIED {key}: the object does not carry its SHA-256");
            } else {
                outcome.files += 1;
                outcome.bytes += size;
            }
        }
        let keys = self.runtime.block_on(target.list(""))?;
        for key in keys {
            if key.starts_with(".tgdl/manifests/") || key.starts_with(".tgdl/leases/") {
                continue;
            }
            let known = sizes.keys().any(|path| key_of(path) == key);
            if !known {
                outcome.leftovers += 1;
                eprintln!("chaos: LEFTOVER object {key}");
            }
        }
        Ok(missing)
    }
}

fn prefix(round: u64) -> String {
    format!("round-{round}")
}

/// A planned path as its key under the prefix.
fn key_of(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Garage restarts at seeded moments while a round runs.
#[derive(Debug)]
pub struct Restarts {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Restarts {
    /// Restarts `s3`'s node about every `mean_gap` (seeded) until stopped or `window`
    /// has passed.
    pub fn start(
        s3: Arc<S3Output>,
        seed: u64,
        round: u64,
        mean_gap: Duration,
        window: Duration,
        verbose: bool,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x9e37_79b9) ^ 0x5353);
            let started = Instant::now();
            let mut restarts = 0;
            loop {
                let gap = mean_gap.mul_f64(rng.gen_range(0.5..1.5));
                let due = Instant::now() + gap;
                while Instant::now() < due {
                    if flag.load(Ordering::Relaxed) || started.elapsed() > window {
                        return restarts;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                match s3.restart() {
                    Ok(()) => {
                        restarts += 1;
                        if verbose {
                            eprintln!(
                                "chaos: restarted Garage at {:.1}s",
                                started.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Err(error) => eprintln!("chaos: {error:#}"),
                }
            }
        });
        Self { stop, thread }
    }

    /// Stops; how many restarts there were.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}
