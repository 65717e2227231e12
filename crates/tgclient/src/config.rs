//! How a client is set up: who it is (api_id, device description), which server it talks
//! to, how it connects, and how patient it is with flood waits.

use std::fmt;
use std::time::Duration;

use mtcrypto::RsaPublicKey;
use mtnet::{Carrier, Endpoint, Proxy};
use mtproto::transport::TransportKind;

use crate::builtin;
use crate::store::DcAddress;

/// The application's identity and the client's behaviour.
#[derive(Clone)]
pub struct ClientConfig {
    /// The application's api_id (from my.telegram.org).
    pub api_id: i32,
    /// The application's api_hash. Never logged.
    pub api_hash: String,
    /// `initConnection.device_model`.
    pub device_model: String,
    /// `initConnection.system_version`.
    pub system_version: String,
    /// `initConnection.app_version`.
    pub app_version: String,
    /// `initConnection.system_lang_code`.
    pub system_lang_code: String,
    /// `initConnection.lang_pack` (empty for unofficial clients).
    pub lang_pack: String,
    /// `initConnection.lang_code`.
    pub lang_code: String,
    /// Where the DCs are and which keys they sign with.
    pub server: ServerConfig,
    /// Patience with `FLOOD_WAIT_X`.
    pub flood: FloodPolicy,
    /// Limit on one request (resends included).
    pub request_timeout: Duration,
    /// How long a DC that cannot be reached at all (refused, reset, timed out on every
    /// transport) keeps being retried, with backoff, before the call fails: networks and
    /// proxies come back within seconds more often than not.
    pub connect_patience: Duration,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_id", &self.api_id)
            .field("api_hash", &"<redacted>")
            .field("device_model", &self.device_model)
            .field("system_version", &self.system_version)
            .field("app_version", &self.app_version)
            .field("lang_code", &self.lang_code)
            .field("server", &self.server)
            .field("flood", &self.flood)
            .field("request_timeout", &self.request_timeout)
            .field("connect_patience", &self.connect_patience)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// A client of application `api_id`/`api_hash` talking to Telegram's production DCs.
    pub fn new(api_id: i32, api_hash: impl Into<String>) -> Self {
        Self {
            api_id,
            api_hash: api_hash.into(),
            device_model: format!("tgdl on {}", std::env::consts::OS),
            system_version: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            system_lang_code: "en".into(),
            lang_pack: String::new(),
            lang_code: "en".into(),
            server: ServerConfig::production(),
            flood: FloodPolicy::default(),
            request_timeout: Duration::from_mins(1),
            connect_patience: Duration::from_secs(10),
        }
    }

    /// Replaces the server.
    #[must_use]
    pub fn with_server(mut self, server: ServerConfig) -> Self {
        self.server = server;
        self
    }
}

/// Where a client connects: per-DC addresses and the RSA keys trusted for new auth keys.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to use before (or instead of) the server's own DC list.
    pub dcs: Vec<DcAddress>,
    /// Keys trusted to sign handshakes.
    pub rsa_keys: Vec<RsaPublicKey>,
    /// The DC contacted first, before the home DC is known.
    pub default_dc: i32,
    /// Telegram's test network (DC ids in handshakes and obfuscation headers get +10000).
    pub test_mode: bool,
    /// Take the DC list from `help.getConfig` on first contact and prefer it afterwards.
    pub use_server_dc_list: bool,
    /// How connections are made.
    pub connect: ConnectOptions,
}

impl ServerConfig {
    /// Telegram's production network: built-in addresses and key.
    pub fn production() -> Self {
        Self::custom(
            builtin::addresses(&builtin::PRODUCTION_DCS),
            builtin::keys(&[builtin::PRODUCTION_RSA_PEM]),
        )
    }

    /// Telegram's test network.
    pub fn test() -> Self {
        Self {
            test_mode: true,
            ..Self::custom(
                builtin::addresses(&builtin::TEST_DCS),
                builtin::keys(&[builtin::TEST_RSA_PEM]),
            )
        }
    }

    /// Any server: these DC addresses and keys, first contact on DC 2 (or the lowest DC
    /// listed when there is no DC 2).
    pub fn custom(dcs: Vec<DcAddress>, rsa_keys: Vec<RsaPublicKey>) -> Self {
        let default_dc = if dcs.iter().any(|d| d.dc_id == 2) {
            2
        } else {
            dcs.iter().map(|d| d.dc_id).min().unwrap_or(2)
        };
        Self {
            dcs,
            rsa_keys,
            default_dc,
            test_mode: false,
            use_server_dc_list: true,
            connect: ConnectOptions::default(),
        }
    }

    /// The DC id written into handshakes and obfuscation headers for `dc_id`.
    pub(crate) fn wire_dc_id(&self, dc_id: i32, media: bool) -> i32 {
        let id = if self.test_mode {
            dc_id + 10_000
        } else {
            dc_id
        };
        if media { -id } else { id }
    }
}

/// How to open connections to a DC address.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The ways to try each address, in order.
    pub styles: Vec<EndpointStyle>,
    /// A proxy for every connection.
    pub proxy: Option<Proxy>,
    /// Limit on opening one connection.
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            styles: vec![
                EndpointStyle {
                    transport: TransportKind::PaddedIntermediate,
                    obfuscated: true,
                    carrier: Carrier::Tcp,
                },
                EndpointStyle {
                    transport: TransportKind::Intermediate,
                    obfuscated: false,
                    carrier: Carrier::Tcp,
                },
                // Where raw MTProto over TCP is blocked, WebSocket and then HTTP often pass.
                EndpointStyle {
                    transport: TransportKind::PaddedIntermediate,
                    obfuscated: true,
                    carrier: Carrier::websocket(),
                },
                EndpointStyle {
                    transport: TransportKind::Intermediate,
                    obfuscated: false,
                    carrier: Carrier::http(),
                },
            ],
            proxy: None,
            connect_timeout: mtnet::connect::DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// One way of connecting: framing, obfuscation, carrier.
#[derive(Debug, Clone)]
pub struct EndpointStyle {
    /// The framing.
    pub transport: TransportKind,
    /// Whether the stream is obfuscated.
    pub obfuscated: bool,
    /// TCP or WebSocket.
    pub carrier: Carrier,
}

impl ConnectOptions {
    /// The endpoints for `addresses`, each address in every style.
    pub(crate) fn endpoints(&self, addresses: &[DcAddress], wire_dc: i32) -> Vec<Endpoint> {
        let header_dc = i16::try_from(wire_dc).unwrap_or(i16::MAX);
        let mut endpoints = Vec::new();
        for address in addresses {
            let socket = std::net::SocketAddr::new(address.ip, address.port);
            for style in &self.styles {
                let mut endpoint = Endpoint::new(socket, header_dc)
                    .with_transport(style.transport)
                    .with_obfuscation(style.obfuscated)
                    .with_carrier(style.carrier.clone())
                    .with_connect_timeout(self.connect_timeout);
                if let Some(proxy) = &self.proxy {
                    endpoint = endpoint.with_proxy(proxy.clone());
                }
                // Styles the proxy cannot carry (an MTProxy takes TCP only) are left out.
                if endpoint.validate().is_ok() {
                    endpoints.push(endpoint);
                }
            }
            // An MTProxy ignores the DC's address (its header names the DC): one is enough.
            if matches!(self.proxy, Some(Proxy::MtProxy { .. })) {
                break;
            }
        }
        endpoints
    }
}

/// What to do with `FLOOD_WAIT_X`: wait when X is at most `max_wait`, else fail with
/// [`ClientError::FloodWait`](crate::ClientError::FloodWait). Only the call concerned waits.
#[derive(Debug, Clone, Copy)]
pub struct FloodPolicy {
    /// The longest wait accepted.
    pub max_wait: Duration,
    /// How many waits one call may go through.
    pub max_retries: u32,
}

impl Default for FloodPolicy {
    fn default() -> Self {
        Self {
            max_wait: Duration::from_mins(1),
            max_retries: 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtnet::Socks5Proxy;
    use mtproto::transport::ProxySecret;

    fn addresses() -> Vec<DcAddress> {
        vec![
            DcAddress::new(2, [149, 154, 167, 51].into(), 443),
            DcAddress::new(2, std::net::Ipv6Addr::LOCALHOST.into(), 443),
        ]
    }

    #[test]
    fn every_style_of_every_address_goes_direct_or_through_socks5() {
        let mut options = ConnectOptions::default();
        let all = options.styles.len() * 2;
        assert_eq!(options.endpoints(&addresses(), 2).len(), all);
        options.proxy = Some(Proxy::Socks5(Socks5Proxy::new(std::net::SocketAddr::from(
            ([127, 0, 0, 1], 1080),
        ))));
        assert_eq!(options.endpoints(&addresses(), 2).len(), all);
    }

    /// An MTProxy takes TCP only and ignores the address: no WebSocket or HTTP endpoint
    /// (they would fail as invalid every time), one endpoint per TCP style.
    #[test]
    fn an_mtproxy_gets_its_tcp_styles_once() {
        let options = ConnectOptions {
            proxy: Some(Proxy::mtproxy(
                std::net::SocketAddr::from(([127, 0, 0, 1], 443)),
                ProxySecret::Plain([1; 16]),
            )),
            ..ConnectOptions::default()
        };
        let tcp_styles = options
            .styles
            .iter()
            .filter(|s| s.carrier == Carrier::Tcp)
            .count();
        let endpoints = options.endpoints(&addresses(), 2);
        assert!(tcp_styles > 0);
        assert_eq!(endpoints.len(), tcp_styles);
        assert!(endpoints.iter().all(|e| e.carrier == Carrier::Tcp));
    }
}
