//! The values the store keeps.

use std::net::IpAddr;

use mtnet::AuthState;

/// The auth key of one DC and what the session knows about it.
#[derive(Debug, Clone)]
pub struct DcAuth {
    /// The DC.
    pub dc_id: i32,
    /// Key, salt and clock offset.
    pub auth: AuthState,
    /// Whether the key is logged in (the home DC after login; others after
    /// `auth.importAuthorization`).
    pub authorized: bool,
}

/// One address of a DC, as `help.getConfig` lists it in `dc_options`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcAddress {
    /// The DC id.
    pub dc_id: i32,
    /// Its IP address.
    pub ip: IpAddr,
    /// Its port.
    pub port: u16,
    /// What the address is for.
    pub flags: DcFlags,
    /// An MTProxy secret the address must be reached with (`tcpo_only` addresses).
    pub secret: Option<Vec<u8>>,
}

impl DcAddress {
    /// A plain address of DC `dc_id`.
    pub fn new(dc_id: i32, ip: IpAddr, port: u16) -> Self {
        Self {
            dc_id,
            ip,
            port,
            flags: DcFlags {
                ipv6: ip.is_ipv6(),
                ..DcFlags::default()
            },
            secret: None,
        }
    }
}

/// The flags of a `dcOption`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct DcFlags {
    /// An IPv6 address.
    pub ipv6: bool,
    /// For media (file) requests only.
    pub media_only: bool,
    /// Only reachable with obfuscated transports.
    pub tcpo_only: bool,
    /// A CDN DC.
    pub cdn: bool,
    /// An address that does not change (may be cached across config updates).
    pub r#static: bool,
    /// Only this port may be used.
    pub this_port_only: bool,
}

impl DcFlags {
    /// The flags packed as stored.
    pub fn bits(self) -> i64 {
        [
            self.ipv6,
            self.media_only,
            self.tcpo_only,
            self.cdn,
            self.r#static,
            self.this_port_only,
        ]
        .iter()
        .enumerate()
        .fold(0, |acc, (bit, &set)| acc | (i64::from(set) << bit))
    }

    /// Unpacks stored flags (unknown bits are ignored).
    pub fn from_bits(bits: i64) -> Self {
        let set = |bit: u32| bits & (1 << bit) != 0;
        Self {
            ipv6: set(0),
            media_only: set(1),
            tcpo_only: set(2),
            cdn: set(3),
            r#static: set(4),
            this_port_only: set(5),
        }
    }
}

/// The logged-in account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfUser {
    /// Its user id.
    pub id: i64,
    /// Whether it is a bot.
    pub bot: bool,
    /// Its username, if it has one.
    pub username: Option<String>,
}

/// What kind of peer an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// A user or bot.
    User,
    /// A basic group.
    Chat,
    /// A channel or supergroup.
    Channel,
}

impl PeerKind {
    /// The stored code.
    pub(crate) fn code(self) -> i64 {
        match self {
            PeerKind::User => 1,
            PeerKind::Chat => 2,
            PeerKind::Channel => 3,
        }
    }

    /// The kind of a stored code.
    pub(crate) fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(PeerKind::User),
            2 => Some(PeerKind::Chat),
            3 => Some(PeerKind::Channel),
            _ => None,
        }
    }
}

/// A cached peer: what is needed to name it in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// Its kind.
    pub kind: PeerKind,
    /// Its id (bare, without the Bot API's `-100` prefix).
    pub id: i64,
    /// Its access hash (basic groups have none).
    pub access_hash: Option<i64>,
    /// Its username, if public.
    pub username: Option<String>,
}
