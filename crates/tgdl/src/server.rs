//! Which server tgdl talks to and how it connects, from the global options: Telegram's
//! production DCs by default, its test DCs with `--test-dc`, or any server described by a
//! localdc ready file with `--server`; `--transport`, `--obfuscated` and `--proxy` shape
//! every connection.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use mtcrypto::RsaPublicKey;
use mtnet::Carrier;
use mtproto::transport::TransportKind;
use serde::Deserialize;
use tgclient::{ConnectOptions, DcAddress, EndpointStyle, ServerConfig};

use crate::cli::{GlobalArgs, TransportArg};
use crate::proxy;

/// A localdc ready file (`localdc --ready-file`): the DCs and the server's RSA key. Other
/// keys in the file are ignored.
#[derive(Debug, Deserialize)]
struct ReadyFile {
    dcs: Vec<ReadyDc>,
    rsa_public_key_pem: String,
}

#[derive(Debug, Deserialize)]
struct ReadyDc {
    id: i32,
    host: String,
    port: u16,
}

/// The server configuration the global options describe.
pub fn server_config(global: &GlobalArgs) -> Result<ServerConfig> {
    let mut server = match (&global.server, global.test_dc) {
        (Some(path), _) => from_ready_file(path)?,
        (None, true) => ServerConfig::test(),
        (None, false) => ServerConfig::production(),
    };
    server.connect = connect_options(global)?;
    Ok(server)
}

/// Whether the server is a custom one (a localdc), which behaves a little differently from
/// Telegram (QR logins are polled, for one).
pub fn is_custom(global: &GlobalArgs) -> bool {
    global.server.is_some()
}

fn from_ready_file(path: &Path) -> Result<ServerConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the server file {}", path.display()))?;
    let ready: ReadyFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a server ready file (JSON with dcs and rsa_public_key_pem)",
            path.display()
        )
    })?;
    if ready.dcs.is_empty() {
        bail!("the server file {} lists no DC", path.display());
    }
    let dcs = ready
        .dcs
        .iter()
        .map(|dc| Ok(DcAddress::new(dc.id, resolve(&dc.host, dc.port)?, dc.port)))
        .collect::<Result<Vec<_>>>()?;
    let key = RsaPublicKey::from_pem(&ready.rsa_public_key_pem)
        .with_context(|| format!("the RSA key in {} is not valid", path.display()))?;
    let mut server = ServerConfig::custom(dcs, vec![key]);
    // The file's addresses are the truth: a DC list the server hands out must not replace
    // them (nor one remembered in the session from an earlier run).
    server.use_server_dc_list = false;
    Ok(server)
}

fn resolve(host: &str, port: u16) -> Result<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the server host {host:?}"))?
        .next()
        .map(|addr| addr.ip())
        .ok_or_else(|| anyhow!("the server host {host:?} has no address"))
}

/// The connection styles and proxy the options ask for.
pub fn connect_options(global: &GlobalArgs) -> Result<ConnectOptions> {
    let mut options = ConnectOptions::default();
    if let Some(transport) = global.transport {
        options.styles = vec![style(transport, global.obfuscated)?];
    }
    if let Some(url) = &global.proxy {
        options.proxy = Some(proxy::parse(url.expose()).context("invalid --proxy")?);
    }
    Ok(options)
}

fn style(transport: TransportArg, obfuscated: bool) -> Result<EndpointStyle> {
    let tcp = |transport, obfuscated| EndpointStyle {
        transport,
        obfuscated,
        carrier: Carrier::Tcp,
    };
    Ok(match transport {
        TransportArg::Abridged => tcp(TransportKind::Abridged, obfuscated),
        TransportArg::Intermediate => tcp(TransportKind::Intermediate, obfuscated),
        TransportArg::Padded => tcp(TransportKind::PaddedIntermediate, obfuscated),
        TransportArg::Full if obfuscated => {
            bail!("the full transport cannot be obfuscated")
        }
        TransportArg::Full => tcp(TransportKind::Full, false),
        // WebSocket streams are always obfuscated.
        TransportArg::Websocket => EndpointStyle {
            transport: TransportKind::PaddedIntermediate,
            obfuscated: true,
            carrier: Carrier::websocket(),
        },
        TransportArg::Http if obfuscated => bail!("HTTP cannot be obfuscated"),
        TransportArg::Http => EndpointStyle {
            transport: TransportKind::Intermediate,
            obfuscated: false,
            carrier: Carrier::http(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn global(args: &[&str]) -> GlobalArgs {
        let mut argv = vec!["tgdl"];
        argv.extend_from_slice(args);
        argv.push("logout");
        Cli::try_parse_from(argv).unwrap().global
    }

    #[test]
    fn transports_map_to_styles() {
        let options =
            connect_options(&global(&["--transport", "abridged", "--obfuscated"])).unwrap();
        let [style] = options.styles.as_slice() else {
            unreachable!()
        };
        assert_eq!(style.transport, TransportKind::Abridged);
        assert!(style.obfuscated);
        let options = connect_options(&global(&["--transport", "http"])).unwrap();
        assert!(matches!(
            options.styles.first().map(|s| &s.carrier),
            Some(Carrier::Http { .. })
        ));
        assert!(connect_options(&global(&["--transport", "full", "--obfuscated"])).is_err());
        assert_eq!(
            connect_options(&global(&[])).unwrap().styles.len(),
            ConnectOptions::default().styles.len()
        );
    }

    #[test]
    fn ready_files_replace_the_production_dcs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"dcs":[{{"id":1,"host":"127.0.0.1","port":4001}},{{"id":2,"host":"127.0.0.1","port":4002}}],
                "rsa_public_key_pem":{:?},"rsa_fingerprint":1}}"#,
                tgclient::builtin::TEST_RSA_PEM
            ),
        )
        .unwrap();
        let server = server_config(&global(&["--server", path.to_str().unwrap()])).unwrap();
        assert_eq!(server.dcs.len(), 2);
        assert_eq!(server.default_dc, 2);
        assert!(!server.use_server_dc_list);
        std::fs::write(&path, "{}").unwrap();
        assert!(server_config(&global(&["--server", path.to_str().unwrap()])).is_err());
    }
}
