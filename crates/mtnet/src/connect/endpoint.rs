//! How to reach a DC: address, transport, carrier, proxy, limits.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use mtproto::transport::{DEFAULT_MAX_PACKET, ProxySecret, TransportKind};

use crate::NetError;
use crate::ws::DEFAULT_PATH;

/// Default limit on establishing a connection (TCP, proxy, WebSocket upgrade).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A host and port: a socket address, or a name resolved when connecting (by the SOCKS5
/// proxy, when there is one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IP address and port.
    Socket(SocketAddr),
    /// A host name and port.
    Host {
        /// The host name (or an IP address in text form).
        host: String,
        /// The port.
        port: u16,
    },
}

impl Address {
    /// A host name and port.
    pub fn host(host: impl Into<String>, port: u16) -> Self {
        Address::Host {
            host: host.into(),
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Address::Socket(addr) => addr.port(),
            Address::Host { port, .. } => *port,
        }
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Socket(addr)
    }
}

impl fmt::Display for Address {
    /// `host:port`, with IPv6 addresses in brackets, as a URL authority wants it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Socket(addr) => write!(f, "{addr}"),
            Address::Host { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl FromStr for Address {
    type Err = NetError;

    /// Parses `1.2.3.4:443`, `[::1]:443` or `name:443`.
    fn from_str(text: &str) -> Result<Self, NetError> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Address::Socket(addr));
        }
        let (host, port) = text
            .rsplit_once(':')
            .ok_or(NetError::InvalidEndpoint("address has no port"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| NetError::InvalidEndpoint("address has an invalid port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        if !valid {
            return Err(NetError::InvalidEndpoint("address has an invalid host"));
        }
        Ok(Address::host(host, port))
    }
}

/// What carries the MTProto byte stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Carrier {
    /// A TCP connection.
    Tcp,
    /// A WebSocket (`ws://`) connection at `path`, subprotocol `binary`. The stream inside is
    /// always obfuscated, as Telegram requires.
    WebSocket {
        /// The URL path, `/apiws` for Telegram.
        path: String,
    },
    /// MTProto over HTTP: each packet is the body of a `POST` to `path` on a small pool of
    /// keep-alive connections (see [`crate::http`]). Never obfuscated; the transport kind is
    /// not used. The sender must keep long polls alive with `http_wait`.
    Http {
        /// The URL path, `/api` for Telegram.
        path: String,
    },
}

impl Carrier {
    /// A WebSocket at Telegram's path, `/apiws`.
    pub fn websocket() -> Self {
        Carrier::WebSocket {
            path: DEFAULT_PATH.to_owned(),
        }
    }

    /// HTTP at Telegram's path, `/api`.
    pub fn http() -> Self {
        Carrier::Http {
            path: crate::http::DEFAULT_PATH.to_owned(),
        }
    }
}

/// A proxy to connect through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// A SOCKS5 proxy.
    Socks5(Socks5Proxy),
    /// An MTProxy: the connection goes to the proxy, always obfuscated, with the header
    /// keyed by the secret and naming the endpoint's DC (see [`crate::mtproxy`]). The
    /// endpoint's address is not used; its carrier must be TCP.
    MtProxy {
        /// Where the proxy listens.
        address: Address,
        /// The proxy's secret: plain, `dd` (padded intermediate forced) or `ee` (fake TLS).
        secret: ProxySecret,
    },
}

impl Proxy {
    /// An MTProxy at `address` with `secret`.
    pub fn mtproxy(address: impl Into<Address>, secret: ProxySecret) -> Self {
        Proxy::MtProxy {
            address: address.into(),
            secret,
        }
    }
}

/// A SOCKS5 proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct Socks5Proxy {
    /// Where the proxy listens.
    pub address: Address,
    /// Username and password, if the proxy requires them.
    pub credentials: Option<(String, String)>,
}

impl Socks5Proxy {
    /// A proxy without authentication.
    pub fn new(address: impl Into<Address>) -> Self {
        Self {
            address: address.into(),
            credentials: None,
        }
    }

    /// A proxy with username/password authentication.
    pub fn with_password(
        address: impl Into<Address>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            address: address.into(),
            credentials: Some((username.into(), password.into())),
        }
    }
}

impl fmt::Debug for Socks5Proxy {
    /// Never prints the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5Proxy")
            .field("address", &self.address)
            .field(
                "username",
                &self.credentials.as_ref().map(|(user, _)| user.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// Everything needed to open a connection to a DC.
///
/// Built with [`Endpoint::new`] and the `with_*` methods; the fields are public so that a
/// caller can inspect or adjust one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Endpoint {
    /// The DC's address.
    pub address: Address,
    /// The framing.
    pub transport: TransportKind,
    /// Whether the TCP stream is obfuscated (always the case over WebSocket).
    pub obfuscated: bool,
    /// What carries the stream.
    pub carrier: Carrier,
    /// A proxy to go through.
    pub proxy: Option<Proxy>,
    /// The DC id written into the obfuscation header (negative for media DCs, +10000 for
    /// test DCs).
    pub dc_id: i16,
    /// Limit on establishing the connection.
    pub connect_timeout: Duration,
    /// Largest packet accepted in either direction.
    pub max_packet: usize,
}

impl Endpoint {
    /// A plain intermediate TCP connection to `address`, for DC `dc_id`.
    pub fn new(address: impl Into<Address>, dc_id: i16) -> Self {
        Self {
            address: address.into(),
            transport: TransportKind::Intermediate,
            obfuscated: false,
            carrier: Carrier::Tcp,
            proxy: None,
            dc_id,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_packet: DEFAULT_MAX_PACKET,
        }
    }

    /// Sets the framing.
    #[must_use]
    pub fn with_transport(mut self, transport: TransportKind) -> Self {
        self.transport = transport;
        self
    }

    /// Sets whether a TCP stream is obfuscated.
    #[must_use]
    pub fn with_obfuscation(mut self, obfuscated: bool) -> Self {
        self.obfuscated = obfuscated;
        self
    }

    /// Sets the carrier.
    #[must_use]
    pub fn with_carrier(mut self, carrier: Carrier) -> Self {
        self.carrier = carrier;
        self
    }

    /// Goes through a proxy.
    #[must_use]
    pub fn with_proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Sets the connect timeout.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the largest packet accepted.
    #[must_use]
    pub fn with_max_packet(mut self, max_packet: usize) -> Self {
        self.max_packet = max_packet;
        self
    }

    /// Whether the stream will be obfuscated: as configured over TCP, always over WebSocket
    /// and through an MTProxy.
    pub fn is_obfuscated(&self) -> bool {
        self.obfuscated
            || matches!(self.carrier, Carrier::WebSocket { .. })
            || matches!(self.proxy, Some(Proxy::MtProxy { .. }))
    }

    /// The framing actually used: padded intermediate through a `dd` MTProxy, else
    /// [`Endpoint::transport`].
    pub fn effective_transport(&self) -> TransportKind {
        match &self.proxy {
            Some(Proxy::MtProxy { secret, .. }) => {
                crate::mtproxy::transport_for(secret, self.transport)
            }
            _ => self.transport,
        }
    }

    /// Whether packets travel over HTTP, where the sender must send `http_wait` to be
    /// answered (see [`crate::http`]).
    pub fn is_http(&self) -> bool {
        matches!(self.carrier, Carrier::Http { .. })
    }

    /// Rejects combinations that cannot work.
    pub fn validate(&self) -> Result<(), NetError> {
        if self.is_obfuscated() && self.effective_transport().obfuscation_tag().is_none() {
            return Err(NetError::InvalidEndpoint(
                "the full transport cannot be obfuscated (and WebSocket is always obfuscated)",
            ));
        }
        if let Carrier::WebSocket { path } = &self.carrier {
            let printable = path.bytes().all(|b| b.is_ascii_graphic());
            if !path.starts_with('/') || !printable {
                return Err(NetError::InvalidEndpoint(
                    "WebSocket path must start with '/' and be printable ASCII",
                ));
            }
        }
        if let Carrier::Http { path } = &self.carrier {
            let printable = path.bytes().all(|b| b.is_ascii_graphic());
            if !path.starts_with('/') || !printable {
                return Err(NetError::InvalidEndpoint(
                    "HTTP path must start with '/' and be printable ASCII",
                ));
            }
            if self.obfuscated {
                return Err(NetError::InvalidEndpoint("HTTP cannot be obfuscated"));
            }
            if !matches!(self.proxy, None | Some(Proxy::Socks5(_))) {
                return Err(NetError::InvalidEndpoint(
                    "HTTP goes direct or through SOCKS5 only",
                ));
            }
        }
        if matches!(self.proxy, Some(Proxy::MtProxy { .. })) && self.carrier != Carrier::Tcp {
            return Err(NetError::InvalidEndpoint(
                "an MTProxy is reached over TCP only",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(NetError::InvalidEndpoint("connect timeout is zero"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        let v4: Address = "127.0.0.1:443".parse().unwrap();
        assert_eq!(v4, Address::Socket("127.0.0.1:443".parse().unwrap()));
        let v6: Address = "[::1]:80".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:80");
        let name: Address = "venus.web.telegram.org:443".parse().unwrap();
        assert_eq!(name, Address::host("venus.web.telegram.org", 443));
        assert_eq!(name.to_string(), "venus.web.telegram.org:443");
        for bad in ["nohost", ":443", "host:", "host:99999", "a b:1", "h/x:1"] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn invalid_combinations_rejected() {
        let base = Endpoint::new(Address::host("localhost", 1), 2);
        assert!(base.validate().is_ok());
        let full_obf = base
            .clone()
            .with_transport(TransportKind::Full)
            .with_obfuscation(true);
        assert!(full_obf.validate().is_err());
        let full_ws = base
            .clone()
            .with_transport(TransportKind::Full)
            .with_carrier(Carrier::websocket());
        assert!(full_ws.validate().is_err());
        let bad_path = base.clone().with_carrier(Carrier::WebSocket {
            path: "apiws".into(),
        });
        assert!(bad_path.validate().is_err());
        let http = base.clone().with_carrier(Carrier::http());
        assert!(http.validate().is_ok() && http.is_http() && !http.is_obfuscated());
        assert!(http.clone().with_obfuscation(true).validate().is_err());
        let bad_http = base.with_carrier(Carrier::Http { path: "api".into() });
        assert!(bad_http.validate().is_err());
    }

    #[test]
    fn proxy_debug_hides_password() {
        let proxy = Socks5Proxy::with_password(Address::host("p", 1), "user", "hunter2");
        assert!(!format!("{proxy:?}").contains("hunter2"));
    }
}
