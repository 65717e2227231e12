//! The `localdc` binary: starts the server, prints (and optionally writes) where each DC
//! listens and the RSA public key, and runs until interrupted.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use localdc::quirks::Quirks;
use localdc::wan::{DropRate, WanProfile, WanSettings};
use localdc::{Config, FaultSettings};
use mtcrypto::RsaPrivateKey;
use mtproto::transport::{PaddingStyle, ProxySecret};
use tracing_subscriber::EnvFilter;

mod world_cli;

/// A local multi-DC Telegram server speaking the real MTProto protocol.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// DC i listens on port N+i; 0 picks free ports (below 32768).
    #[arg(long, default_value_t = 20_000)]
    port_base: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Number of DCs (ids 1..=N).
    #[arg(long, default_value_t = localdc::DEFAULT_DCS)]
    dcs: u8,
    /// PKCS#1 or PKCS#8 PEM private key to sign handshakes with (2048 bits); generated when
    /// absent.
    #[arg(long, value_name = "PATH")]
    rsa_key: Option<PathBuf>,
    /// Save the private key in use (PKCS#1 PEM), e.g. to reuse it on the next run.
    #[arg(long, value_name = "PATH")]
    write_rsa_key: Option<PathBuf>,
    /// Write the DC addresses and the RSA public key here as JSON once every DC listens.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Fault: close each connection after it sent this many bytes.
    #[arg(long, value_name = "BYTES")]
    drop_after_bytes: Option<u64>,
    /// Fault: close each connection after it sent this many encrypted messages.
    #[arg(long, value_name = "N")]
    drop_after_messages: Option<u64>,
    /// Fault: hold every RPC answer this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    response_delay_ms: u64,
    /// WAN emulation on every DC: lan (no limits), wan (100 ms RTT, 8 MiB/s per connection,
    /// 64 MiB/s per account) or mobile (300 ms RTT, 1 MiB/s per connection, 2% of
    /// connections dropped per minute). The options below override its fields.
    #[arg(long, value_name = "NAME", default_value_t = WanProfile::Lan)]
    profile: WanProfile,
    /// WAN: milliseconds added to every round trip (on what the server sends).
    #[arg(long, value_name = "MS")]
    rtt_ms: Option<u64>,
    /// WAN: bytes per second each connection receives at most (8M, 512K, 1000; 0 for no
    /// limit).
    #[arg(long, value_name = "RATE", value_parser = rate)]
    conn_rate: Option<Rate>,
    /// WAN: bytes per second all connections of one account receive at most together.
    #[arg(long, value_name = "RATE", value_parser = rate)]
    account_rate: Option<Rate>,
    /// WAN: bytes the bandwidth buckets let through at once (default 128K).
    #[arg(long, value_name = "SIZE", value_parser = size)]
    burst: Option<u64>,
    /// WAN: connections dropped per minute, each independently (0.02 or 2%; above 1 means
    /// several drops per connection-minute).
    #[arg(long, value_name = "RATE")]
    drop_per_minute: Option<DropRate>,
    /// WAN: seed of the random drops (same seed, same run).
    #[arg(long, value_name = "N", default_value_t = 0)]
    wan_seed: u64,
    /// Follow every reading of the spec the docs allow, one per session, picked by this seed
    /// (overrides the fixture's `quirks`; see QUIRKS.md).
    #[arg(long, value_name = "SEED")]
    quirks: Option<u64>,
    /// Want `initConnection` again on every new connection: a key's first call on a
    /// connection without it answers `400 CONNECTION_NOT_INITED` (a quirk; see QUIRKS.md).
    #[arg(long)]
    require_init_per_connection: bool,
    /// Also act as an MTProxy on every DC port with this secret (32 hex digits; `dd` + 32
    /// for padded intermediate only; `ee` + 32 + hex of a domain for fake TLS). Repeatable.
    #[arg(long = "mtproxy-secret", value_name = "HEX")]
    mtproxy_secrets: Vec<ProxySecret>,
    /// Pad padded intermediate (`dd`) answers with 0-15 random bytes, the whole range the
    /// documentation allows, instead of the 0-3 Telegram's servers send.
    #[arg(long)]
    full_range_padding: bool,
    /// Also serve a CDN DC with this id (Telegram numbers them from 201), on port N+id:
    /// listed in help.getConfig with the cdn flag, its key in help.getCdnConfig, and in the
    /// ready file under `cdn_dcs`. With a fixture, requests with `cdn_supported` for the
    /// world's CDN files are redirected to the first one. Repeatable.
    #[arg(long = "cdn-dc", value_name = "ID", value_parser = clap::value_parser!(i32).range(1..=i64::from(i16::MAX)))]
    cdn_dcs: Vec<i32>,
    /// Keep the auth keys (with their salts), the RSA keys (unless --rsa-key is given), the
    /// ports and the world's logins in this directory: loaded at start, saved on every
    /// change, so that a restarted localdc serves its clients' keys as before.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Serve the control protocol (one command per line: `stall 2 on`, `storm all 20`,
    /// `block all tcp blackhole`, `post 501 photo 40000 hello`, `edit 501 6 new text`,
    /// `delete 501 6`, `drop-updates all next 3`, ...; see the `control` module) on this
    /// loopback port.
    #[arg(long, value_name = "PORT")]
    control_port: Option<u16>,
    /// Serve the world of this JSON fixture (accounts, chats, messages, media).
    #[arg(long, value_name = "PATH")]
    fixture: Option<PathBuf>,
    /// Once listening, print a logged-in session (hex auth key and Telethon StringSession)
    /// for the fixture account with this phone. Repeatable.
    #[arg(long = "mint-session", value_name = "PHONE", requires = "fixture")]
    mint_sessions: Vec<String>,
    #[command(subcommand)]
    command: Option<world_cli::Command>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("localdc: error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    if let Some(command) = &args.command {
        return world_cli::run_command(command);
    }
    let world = world_cli::load(args.fixture.as_deref())?;
    if args.dcs == 0 {
        bail!("--dcs must be at least 1");
    }
    check_cdn_dcs(&args.cdn_dcs, args.dcs)?;
    let rsa_key = match &args.rsa_key {
        Some(path) => Some(Arc::new(load_key(path)?)),
        None => None,
    };
    let config = Config {
        host: args.host,
        port_base: args.port_base,
        dcs: args.dcs,
        rsa_key,
        faults: FaultSettings {
            drop_after_bytes: args.drop_after_bytes,
            drop_after_messages: args.drop_after_messages,
            refuse_connections: false,
            response_delay: Duration::from_millis(args.response_delay_ms),
            wan: wan_settings(&args),
            quirks: quirks(&args, world.as_ref()),
        },
        padding: padding_style(&args),
        mtproxy_secrets: args.mtproxy_secrets,
        cdn_dcs: args.cdn_dcs.clone(),
        state_dir: args.state_dir.clone(),
        ..Config::default()
    };
    if !config.faults.wan.is_lan() {
        tracing::info!(profile = %args.profile, wan = ?config.faults.wan, "WAN emulation on");
    }
    let server = localdc::serve(config)
        .maybe_world(world.as_ref())
        .start()
        .await
        .context("starting the server (is another localdc using these ports? try --port-base)")?;

    if let Some(path) = &args.write_rsa_key {
        let key = server_key(&server)?;
        localdc::state::write_atomically(path, key.as_bytes())
            .with_context(|| format!("writing the RSA key to {}", path.display()))?;
    }
    if let Some(port) = args.control_port {
        let addr = localdc::control::Control::new(&server, world.clone())
            .listen(port)
            .await
            .context("opening the control port")?;
        println!("control {addr}");
    }
    let info = server.ready_info();
    if let Some(path) = &args.ready_file {
        localdc::state::write_atomically(path, info.to_json().as_bytes())
            .with_context(|| format!("writing the ready file {}", path.display()))?;
    }
    print!("{}", info.to_text());
    world_cli::print_minted(&server, world.as_ref(), &args.mint_sessions)?;

    let shutdown = server.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.shutdown();
    });
    server.wait().await;
    Ok(())
}

/// How padded intermediate pads answers: as Telegram does unless told otherwise.
fn padding_style(args: &Args) -> PaddingStyle {
    if args.full_range_padding {
        PaddingStyle::FullRange
    } else {
        PaddingStyle::Deployed
    }
}

/// CDN DC ids must differ from each other and from the main DCs' `1..=dcs`.
fn check_cdn_dcs(ids: &[i32], dcs: u8) -> Result<()> {
    for (at, id) in ids.iter().enumerate() {
        if *id <= i32::from(dcs) {
            bail!("--cdn-dc {id} is one of the main DCs 1..={dcs}; CDN DCs are numbered from 201");
        }
        if ids.get(..at).is_some_and(|before| before.contains(id)) {
            bail!("--cdn-dc {id} is given twice");
        }
    }
    Ok(())
}

/// A bandwidth limit from the command line (`None`: no limit).
#[derive(Debug, Clone, Copy)]
struct Rate(Option<u64>);

fn rate(text: &str) -> Result<Rate, String> {
    localdc::wan::parse_rate(text)
        .map(Rate)
        .map_err(|error| error.to_string())
}

fn size(text: &str) -> Result<u64, String> {
    localdc::world::generate::parse_size(text)
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 4096, 64K, 1M)"))
}

/// The profile, with the fields the options override.
fn wan_settings(args: &Args) -> WanSettings {
    let mut wan = args.profile.settings();
    if let Some(ms) = args.rtt_ms {
        wan.rtt = Duration::from_millis(ms);
    }
    if let Some(Rate(rate)) = args.conn_rate {
        wan.conn_rate = rate;
    }
    if let Some(Rate(rate)) = args.account_rate {
        wan.account_rate = rate;
    }
    if let Some(burst) = args.burst {
        wan.burst = burst;
    }
    if let Some(drops) = args.drop_per_minute {
        wan.drop_rate = drops;
    }
    wan.seed = args.wan_seed;
    wan
}

fn load_key(path: &Path) -> Result<RsaPrivateKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the RSA key {}", path.display()))?;
    RsaPrivateKey::from_pem(&pem).with_context(|| {
        format!(
            "{} is not a 2048-bit RSA private key in PEM form (PKCS#1 or PKCS#8)",
            path.display()
        )
    })
}

/// The private key in use (loaded or generated), PKCS#1 PEM.
fn server_key(server: &localdc::RunningServer) -> Result<mtcrypto::Zeroizing<String>> {
    let first = server.dcs().first().context("the server has no DC")?;
    Ok(first.state().rsa_private_pem()?)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The readings the server follows: the seed of `--quirks` or the fixture's, and the
/// quirks turned on by their own flags.
fn quirks(args: &Args, world: Option<&Arc<localdc::world::World>>) -> Quirks {
    let quirks = args
        .quirks
        .or_else(|| world.and_then(|w| w.store().quirks))
        .map(Quirks::seeded)
        .unwrap_or_default();
    if args.require_init_per_connection {
        quirks.requiring_init_per_connection()
    } else {
        quirks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_options_override_the_profile() {
        let args = Args::try_parse_from([
            "localdc",
            "--profile",
            "wan",
            "--rtt-ms",
            "20",
            "--conn-rate",
            "0",
            "--burst",
            "64K",
            "--drop-per-minute",
            "2%",
            "--wan-seed",
            "9",
        ])
        .unwrap();
        let wan = wan_settings(&args);
        assert_eq!(wan.rtt, Duration::from_millis(20));
        assert_eq!(wan.conn_rate, None);
        assert_eq!(wan.account_rate, Some(64 << 20));
        assert_eq!(wan.burst, 64 << 10);
        assert_eq!(wan.drop_rate, DropRate::per_minute(0.02).unwrap());
        assert_eq!(wan.seed, 9);

        let args = Args::try_parse_from(["localdc", "--profile", "mobile"]).unwrap();
        assert_eq!(wan_settings(&args), WanProfile::Mobile.settings());
        assert!(wan_settings(&Args::try_parse_from(["localdc"]).unwrap()).is_lan());
        assert!(Args::try_parse_from(["localdc", "--profile", "dialup"]).is_err());
        assert!(Args::try_parse_from(["localdc", "--conn-rate", "fast"]).is_err());
    }

    #[test]
    fn padding_is_deployed_unless_full_range_is_asked_for() {
        let args = Args::try_parse_from(["localdc"]).unwrap();
        assert_eq!(padding_style(&args), PaddingStyle::Deployed);
        let args = Args::try_parse_from(["localdc", "--full-range-padding"]).unwrap();
        assert_eq!(padding_style(&args), PaddingStyle::FullRange);
    }

    #[test]
    fn cdn_dc_ids_are_checked() {
        let args = Args::try_parse_from(["localdc", "--cdn-dc", "201", "--cdn-dc", "203"]).unwrap();
        assert_eq!(args.cdn_dcs, [201, 203]);
        assert!(check_cdn_dcs(&args.cdn_dcs, 5).is_ok());
        assert!(check_cdn_dcs(&[5], 5).is_err());
        assert!(check_cdn_dcs(&[201, 201], 5).is_err());
        assert!(Args::try_parse_from(["localdc", "--cdn-dc", "0"]).is_err());
        assert!(Args::try_parse_from(["localdc", "--cdn-dc", "40000"]).is_err());
    }
}
