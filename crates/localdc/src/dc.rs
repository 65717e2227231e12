//! One DC: its address, its keys, its faults, and what its connections share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mtcrypto::RsaPrivateKey;
use mtcrypto::dh::DhParams;
use tokio::sync::Semaphore;

use crate::config::Limits;
use crate::conn::{Carriers, HttpPolls};
use crate::faults::Faults;
use crate::keys::KeyStore;
use crate::mtproxy::MtProxyFront;
use crate::rpc::Registry;

/// Where one DC listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DcAddress {
    pub id: i32,
    pub addr: SocketAddr,
    /// A CDN DC (listed with the `cdn` flag in `help.getConfig`).
    pub cdn: bool,
}

/// The state of one DC, shared by its listener, its connections and the request handlers.
pub struct DcState {
    pub(crate) id: i32,
    pub(crate) addr: SocketAddr,
    pub(crate) directory: Arc<[DcAddress]>,
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) faults: Faults,
    pub(crate) limits: Limits,
    pub(crate) rsa: Arc<RsaPrivateKey>,
    pub(crate) dh: DhParams,
    pub(crate) registry: Arc<Registry>,
    pub(crate) salt_period: Duration,
    /// One permit per connection served at once.
    pub(crate) connections: Arc<Semaphore>,
    /// The MTProxy secrets this DC's port accepts and where proxied clients go.
    pub(crate) mtproxy: Arc<MtProxyFront>,
    /// The HTTP requests held, by session.
    pub(crate) http_polls: Arc<HttpPolls>,
    /// The connection carrying each session, to wake for output queued from elsewhere.
    pub(crate) carriers: Carriers,
    /// The public keys of the server's CDN DCs (PKCS#1 PEM), for `help.getCdnConfig`.
    pub(crate) cdn_public_keys: Arc<[(i32, String)]>,
}

impl std::fmt::Debug for DcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DcState")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl DcState {
    /// The DC id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Where this DC listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every DC of the server, by id.
    pub fn directory(&self) -> &[DcAddress] {
        &self.directory
    }

    /// The auth keys made on this DC.
    pub fn keys(&self) -> &KeyStore {
        &self.keys
    }

    /// This DC's fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The methods served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether this is a CDN DC.
    pub fn is_cdn(&self) -> bool {
        self.directory.iter().any(|dc| dc.id == self.id && dc.cdn)
    }

    /// The CDN DCs' public keys (PKCS#1 PEM) by DC id.
    pub fn cdn_public_keys(&self) -> &[(i32, String)] {
        &self.cdn_public_keys
    }
}

impl DcState {
    /// The RSA private key signing this DC's handshakes, PKCS#1 PEM (to save it for reuse).
    pub fn rsa_private_pem(&self) -> Result<mtcrypto::Zeroizing<String>, mtcrypto::Error> {
        self.rsa.to_pkcs1_pem()
    }
}
