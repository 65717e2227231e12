//! Test support: a real S3 service on loopback, a single Garage node in a temp dir.
//!
//! `Garage::start()` writes a generated configuration (free ports, random RPC secret,
//! SQLite metadata, replication factor 1, no compression so stored bytes are sent bytes), starts `garage server`, gives the node a
//! layout, imports a key with random credentials and creates a bucket the key owns.
//! `restart()` and `stop()` drive the process; `set_quota` makes the service refuse
//! writes; `received_bytes()` and `requests()` read Garage's Prometheus metrics on the
//! admin port (`block_bytes_written`: bytes stored as new data blocks; `api_s3_request_counter`
//! by S3 endpoint, e.g. `UploadPart`).
//!
//! The binary is `$GARAGE_BIN`, else `garage` on `PATH`, else `~/.cargo/bin/garage`
//! (`scripts/setup-garage.sh` installs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::config::{Credentials, StorageConfig};
use crate::target::Target;

/// The S3 region the generated configuration declares.
pub const REGION: &str = "garage";

/// How long the node may take to come up (first start creates its databases).
const STARTUP: Duration = Duration::from_mins(1);

/// How many sets of ports `start` tries.
const START_TRIES: u32 = 3;

/// Why the harness could not do what a test asked.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("garage binary not found ({0}): run scripts/setup-garage.sh or set GARAGE_BIN")]
    NoBinary(String),
    #[error("garage {args}: {message}")]
    Command { args: String, message: String },
    #[error("harness I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("garage did not become ready: {0}")]
    NotReady(String),
    #[error("garage exited while starting: {0}")]
    Exited(String),
}

/// A running (or stopped) single-node Garage. `Debug` leaves the credentials out.
pub struct Garage {
    dir: tempfile::TempDir,
    binary: PathBuf,
    config_path: PathBuf,
    s3_port: u16,
    admin_port: u16,
    child: Option<Child>,
    key_id: String,
    secret: String,
    bucket: String,
}

impl std::fmt::Debug for Garage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Garage")
            .field("dir", &self.dir.path())
            .field("s3_port", &self.s3_port)
            .field("admin_port", &self.admin_port)
            .field("running", &self.child.is_some())
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

fn free_port() -> Result<u16, HarnessError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn find_binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os("GARAGE_BIN") {
        return Ok(PathBuf::from(path));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("garage");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let candidate = home.join(".cargo/bin/garage");
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(HarnessError::NoBinary(candidate.display().to_string()))
    }
}

fn random_hex(bytes: usize) -> String {
    let random: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(random)
}

impl Garage {
    /// Starts a node with one bucket, `tgdl-test`, and a key that owns it.
    pub async fn start() -> Result<Self, HarnessError> {
        // A port found free can be taken by another test before Garage binds it: then the
        // server exits at once, and a new set of ports is tried.
        let mut last = None;
        for _ in 0..START_TRIES {
            match Self::start_on(free_port()?, free_port()?, free_port()?).await {
                Ok(garage) => return Ok(garage),
                Err(e @ HarnessError::Exited(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| HarnessError::NotReady("no start attempted".to_owned())))
    }

    async fn start_on(s3_port: u16, admin_port: u16, rpc_port: u16) -> Result<Self, HarnessError> {
        let binary = find_binary()?;
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("garage.toml");
        std::fs::write(
            &config_path,
            config_text(dir.path(), rpc_port, s3_port, admin_port),
        )?;
        let mut garage = Self {
            dir,
            binary,
            config_path,
            s3_port,
            admin_port,
            child: None,
            // Garage's key ids are "GK" and 24 hex digits; secrets 64 hex digits.
            key_id: format!("GK{}", random_hex(12)),
            secret: random_hex(32),
            bucket: "tgdl-test".to_owned(),
        };
        garage.spawn().await?;
        let node = garage.cli(&["node", "id", "-q"]).await?;
        let node = node.trim().get(..16).unwrap_or(node.trim()).to_owned();
        garage
            .cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node])
            .await?;
        garage.cli(&["layout", "apply", "--version", "1"]).await?;
        let (key_id, secret) = (garage.key_id.clone(), garage.secret.clone());
        garage
            .cli(&["key", "import", "--yes", "-n", "tgdl", &key_id, &secret])
            .await?;
        let bucket = garage.bucket.clone();
        garage.create_bucket(&bucket).await?;
        garage.wait_s3_ready().await?;
        Ok(garage)
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The test bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `s3://tgdl-test/<prefix>`
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// A configuration that reaches this node with the imported key, reading nothing from
    /// the environment.
    pub fn config(&self) -> StorageConfig {
        StorageConfig {
            endpoint: Some(self.endpoint()),
            region: Some(REGION.to_owned()),
            path_style: Some(true),
            profile: None,
            credentials: Some(Credentials {
                access_key_id: self.key_id.clone(),
                secret_access_key: self.secret.clone(),
                session_token: None,
            }),
            ignore_environment: true,
        }
    }

    /// Opens `s3://tgdl-test/<prefix>` on this node.
    pub async fn target(&self, prefix: &str) -> Result<Target, crate::ObjError> {
        Target::open(&self.url(prefix), &self.config()).await
    }

    /// Creates another bucket owned by the key.
    pub async fn create_bucket(&self, name: &str) -> Result<(), HarnessError> {
        self.cli(&["bucket", "create", name]).await?;
        self.cli(&[
            "bucket", "allow", "--read", "--write", "--owner", name, "--key", "tgdl",
        ])
        .await
        .map(drop)
    }

    /// Limits the bucket's total size (`None`: no limit); writes beyond it are refused.
    pub async fn set_quota(&self, max_bytes: Option<u64>) -> Result<(), HarnessError> {
        let size = max_bytes.map_or_else(|| "none".to_owned(), |n| format!("{n}B"));
        self.cli(&["bucket", "set-quotas", &self.bucket, "--max-size", &size])
            .await
            .map(drop)
    }

    /// Aborts every incomplete multipart upload of the bucket, as a lifecycle rule would.
    pub async fn abort_incomplete_uploads(&self) -> Result<(), HarnessError> {
        self.cli(&[
            "bucket",
            "cleanup-incomplete-uploads",
            "--older-than",
            "0s",
            &self.bucket,
        ])
        .await
        .map(drop)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub async fn stop(&mut self) -> Result<(), HarnessError> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Stops and starts the server on the same ports and data.
    pub async fn restart(&mut self) -> Result<(), HarnessError> {
        self.stop().await?;
        self.spawn().await?;
        self.wait_s3_ready().await
    }

    /// Garage's Prometheus metrics (the admin port's `/metrics`).
    pub async fn metrics(&self) -> Result<String, HarnessError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.admin_port)).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned()))
    }

    /// Bytes Garage stored as new data blocks since it started (identical blocks are
    /// stored once, so use distinct random data to count uploads).
    pub async fn received_bytes(&self) -> Result<u64, HarnessError> {
        Ok(sum_metric(
            &self.metrics().await?,
            "block_bytes_written",
            None,
        ))
    }

    /// S3 requests of one kind (`UploadPart`, `PutObject`, ...) since the server started.
    pub async fn requests(&self, endpoint: &str) -> Result<u64, HarnessError> {
        Ok(sum_metric(
            &self.metrics().await?,
            "api_s3_request_counter",
            Some(endpoint),
        ))
    }

    async fn spawn(&mut self) -> Result<(), HarnessError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("garage.log"))?;
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config_path)
            .arg("server")
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(HarnessError::Exited(format!(
                    "{status}; log: {}",
                    self.log_tail()
                )));
            }
            self.check_bound().await?;
            match self.cli(&["status"]).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(HarnessError::NotReady(format!(
                        "{e}; log: {}",
                        self.log_tail()
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// Garage keeps running when its S3 or admin listener cannot bind (it logs the error):
    /// that counts as an exit.
    async fn check_bound(&mut self) -> Result<(), HarnessError> {
        let log = self.log_tail();
        if log.contains("Address already in use") {
            self.stop().await?;
            return Err(HarnessError::Exited(format!(
                "a port was taken; log: {log}"
            )));
        }
        Ok(())
    }

    /// Waits until the S3 API answers a signed listing of the bucket.
    async fn wait_s3_ready(&mut self) -> Result<(), HarnessError> {
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            self.check_bound().await?;
            match self.target("").await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(HarnessError::NotReady(format!(
                        "{e}; log: {}",
                        self.log_tail()
                    )));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or_default().to_owned()
    }

    /// Runs `garage -c CONFIG ARGS...`; its stdout on success.
    async fn cli(&self, args: &[&str]) -> Result<String, HarnessError> {
        let output = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config_path)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .await?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(HarnessError::Command {
                args: args.join(" "),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}

/// The generated single-node configuration.
fn config_text(dir: &Path, rpc_port: u16, s3_port: u16, admin_port: u16) -> String {
    format!(
        r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = 1
metadata_fsync = false
data_fsync = false
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3_port}"

[admin]
api_bind_addr = "127.0.0.1:{admin_port}"
admin_token = "{admin}"
"#,
        meta = dir.join("meta").display(),
        data = dir.join("data").display(),
        secret = random_hex(32),
        admin = random_hex(16),
    )
}

/// Sums a Prometheus counter's samples (optionally only those whose labels mention
/// `label_value`), with or without the `_total` suffix exporters add.
fn sum_metric(text: &str, name: &str, label_value: Option<&str>) -> u64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            if metric != name && metric != format!("{name}_total") {
                return None;
            }
            if let Some(wanted) = label_value
                && !series.contains(&format!("\"{wanted}\""))
            {
                return None;
            }
            value.parse::<f64>().ok()
        })
        .sum::<f64>() as u64
}

#[cfg(test)]
mod tests {
    use super::{Garage, HarnessError, free_port, sum_metric};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taken_s3_port_counts_as_an_exit() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let result = Garage::start_on(port, free_port().unwrap(), free_port().unwrap()).await;
        assert!(matches!(result, Err(HarnessError::Exited(_))), "{result:?}");
    }

    #[test]
    fn sums_counters_by_label() {
        let text = "# HELP x\napi_s3_request_counter{api_endpoint=\"UploadPart\"} 3\napi_s3_request_counter{api_endpoint=\"PutObject\"} 2\nblock_bytes_written_total 1024\n";
        assert_eq!(
            sum_metric(text, "api_s3_request_counter", Some("UploadPart")),
            3
        );
        assert_eq!(sum_metric(text, "api_s3_request_counter", None), 5);
        assert_eq!(sum_metric(text, "block_bytes_written", None), 1024);
    }
}
