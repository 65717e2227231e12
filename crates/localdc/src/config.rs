//! What a server is started with: addresses, the RSA key, limits and the initial faults
//! (WAN emulation included: `faults.wan`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mtcrypto::RsaPrivateKey;
use mtproto::transport::{PaddingStyle, ProxySecret};

use crate::faults::FaultSettings;
use crate::keys::SessionBounds;

/// The default number of DCs (Telegram's production network has five).
pub const DEFAULT_DCS: u8 = 5;

/// How a [`Server`](crate::Server) is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address every DC listens on; loopback unless told otherwise.
    pub host: IpAddr,
    /// DC `i` listens on `port_base + i`. Zero picks a free port for every DC (tests).
    pub port_base: u16,
    /// How many DCs to serve: ids `1..=dcs`.
    pub dcs: u8,
    /// The key that signs handshakes; a fresh one is generated when `None`.
    pub rsa_key: Option<Arc<RsaPrivateKey>>,
    /// Bounds that keep a hostile client from taking more than its share.
    pub limits: Limits,
    /// Faults in force from the start, on every DC (adjustable at run time).
    pub faults: FaultSettings,
    /// How long one server salt lasts.
    pub salt_period: Duration,
    /// MTProxy secrets every DC port accepts besides clients without one: a client whose
    /// obfuscation header opens with one is served by the DC the header names. Plain
    /// secrets admit any obfuscated framing, `dd` ones padded intermediate only, `ee` ones a
    /// fake-TLS handshake to their domain (digest and clock checked) and then padded
    /// intermediate, as the official MTProxy requires.
    pub mtproxy_secrets: Vec<ProxySecret>,
    /// How many random bytes padded intermediate (`dd`) appends to what the server sends:
    /// by default at most 3, as Telegram's servers and proxies do (clients such as Telethon
    /// strip only `len % 4`); [`PaddingStyle::FullRange`] uses all of the 0..=15 the
    /// documentation allows. What clients send is accepted with up to 15 either way.
    pub padding: PaddingStyle,
    /// CDN DCs served besides `1..=dcs` (Telegram numbers them from 201): each has its own
    /// port, is listed in `help.getConfig` with the `cdn` flag and serves `upload.getCdnFile`
    /// only. Empty by default.
    pub cdn_dcs: Vec<i32>,
    /// The key CDN DCs sign handshakes with (Telegram's CDN keys differ from the main DCs'
    /// and come from `help.getCdnConfig`); a fresh one is generated when `None`.
    pub cdn_rsa_key: Option<Arc<RsaPrivateKey>>,
    /// Where the server keeps what a restart must not lose (see [`crate::state`]): the
    /// DCs' auth keys with their salts, the RSA keys when none is given, the ports, and,
    /// with a world attached, its logins. Loaded at start, saved within 100 ms of every
    /// change and at shutdown. `None`: nothing survives the process.
    pub state_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_base: 0,
            dcs: DEFAULT_DCS,
            rsa_key: None,
            limits: Limits::default(),
            faults: FaultSettings::default(),
            salt_period: Duration::from_mins(30),
            mtproxy_secrets: Vec::new(),
            padding: PaddingStyle::Deployed,
            cdn_dcs: Vec::new(),
            cdn_rsa_key: None,
            state_dir: None,
        }
    }
}

impl Config {
    /// With WAN emulation `wan` on every DC from the start (see [`crate::wan`]; adjustable
    /// at run time through [`Faults::wan`](crate::Faults::wan)).
    #[must_use]
    pub fn with_wan(mut self, wan: crate::wan::WanSettings) -> Self {
        self.faults.wan = wan;
        self
    }

    /// With the WAN profile `profile` on every DC from the start.
    #[must_use]
    pub fn with_wan_profile(self, profile: crate::wan::WanProfile) -> Self {
        self.with_wan(profile.settings())
    }

    /// The port DC `dc_id` binds: `port_base + dc_id`, or 0 (any free port) when the base is 0.
    pub fn port_for(&self, dc_id: i32) -> Option<u16> {
        if self.port_base == 0 {
            return Some(0);
        }
        u16::try_from(dc_id)
            .ok()
            .and_then(|id| self.port_base.checked_add(id))
    }
}

/// Per-connection and per-key bounds. Every one of them caps memory or work that a client
/// controls; crossing one closes the offending connection (or refuses the request) only.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest transport packet accepted from a client. Uploads travel in parts of at most
    /// 512 KiB, so a few MiB leaves room for containers without letting a length prefix
    /// make the server buffer gigabytes.
    pub max_packet: usize,
    /// Connections served at once per DC; more get transport error -429 and are closed.
    pub max_connections_per_dc: usize,
    /// Auth keys remembered per DC; past it the oldest key is forgotten (its clients get
    /// -404 and make a new one, as with a real DC that dropped a key).
    pub max_keys_per_dc: usize,
    /// Sessions kept per auth key; past it the least recently used one is dropped.
    pub max_sessions_per_key: usize,
    /// Bytes of answers and updates the sessions of one auth key hold for their client
    /// (sent and not acknowledged, or queued), checked whenever a session of the key is
    /// opened or its connection closes; past it the least recently used sessions forget
    /// theirs, oldest first.
    pub max_held_bytes_per_key: usize,
    /// Bytes the sessions no connection carries hold for their clients, over every key of
    /// a DC, checked whenever a connection closes; past it the sessions left longest ago
    /// forget theirs first. A client that reconnects soon gets its unacknowledged answers
    /// again; one that never does cannot make the server keep them.
    pub max_detached_bytes_per_dc: usize,
    /// A session no connection carries is forgotten after this long (its client gets
    /// `new_session_created` if it ever comes back).
    pub session_idle_timeout: Duration,
    /// Requests of one connection being processed at once. At the limit the connection
    /// stops reading until one finishes: the client is slowed by TCP, not refused.
    pub max_pending_per_connection: usize,
    /// A handshake must finish within this time after the first byte.
    pub handshake_timeout: Duration,
    /// A connection with nothing received for this long is closed.
    pub idle_timeout: Duration,
    /// MTProto over HTTP: how long a request is held when its packet has no `http_wait`,
    /// and the most an `http_wait` may ask for.
    pub http_max_wait: Duration,
}

impl Limits {
    /// What the sessions of a DC may keep for their clients under these limits.
    pub fn session_bounds(&self) -> SessionBounds {
        SessionBounds {
            held_per_key: self.max_held_bytes_per_key,
            detached_per_dc: self.max_detached_bytes_per_dc,
            idle_timeout: self.session_idle_timeout,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let sessions = SessionBounds::default();
        Self {
            max_packet: 4 << 20,
            max_connections_per_dc: 1024,
            max_keys_per_dc: 10_000,
            max_sessions_per_key: 64,
            max_held_bytes_per_key: sessions.held_per_key,
            max_detached_bytes_per_dc: sessions.detached_per_dc,
            session_idle_timeout: sessions.idle_timeout,
            max_pending_per_connection: 256,
            handshake_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_mins(15),
            http_max_wait: Duration::from_secs(25),
        }
    }
}
