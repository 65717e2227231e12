//! localdc as an MTProxy front: every DC port also accepts MTProxy clients.
//!
//! With [`Config::mtproxy_secrets`](crate::Config::mtproxy_secrets) set, a connection whose
//! obfuscation header opens only with one of the secrets is an MTProxy client (mtnet's
//! [`accept`](mtnet::accept()) does the detection: plain secrets for any obfuscated framing,
//! `dd` secrets for padded intermediate only, `ee` secrets behind a fake-TLS handshake whose
//! digest and clock are checked). A real proxy would relay such a client to the DC named in
//! the header; localdc serves every DC in one process, so the connection is simply served
//! as a connection of that DC: its key store, sessions, faults and `this_dc`. Clients
//! without a secret are served by the DC they connected to, as before.

use std::sync::{Arc, OnceLock, Weak};

use mtproto::transport::{PaddingStyle, ProxySecret};

use crate::dc::DcState;
use crate::transport::TransportInfo;

/// Offset test DCs carry in obfuscation headers.
const TEST_DC_OFFSET: i32 = 10_000;

/// The secrets every DC port accepts, and the DCs proxied clients are routed to.
pub(crate) struct MtProxyFront {
    secrets: Vec<ProxySecret>,
    /// How padded intermediate pads what every port sends; kept here because the front is
    /// what every DC's accept reads, and `dd` secrets are where the padding matters most.
    padding: PaddingStyle,
    /// Every DC, set once they all exist. Weak: the DCs own the front.
    dcs: OnceLock<Vec<Weak<DcState>>>,
}

impl std::fmt::Debug for MtProxyFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtProxyFront")
            .field("secrets", &self.secrets)
            .field("padding", &self.padding)
            .finish_non_exhaustive()
    }
}

impl MtProxyFront {
    /// A front accepting `secrets` (none: MTProxy clients are refused like any unknown
    /// header), padding padded intermediate as `padding` says.
    pub(crate) fn new(secrets: Vec<ProxySecret>, padding: PaddingStyle) -> Self {
        Self {
            secrets,
            padding,
            dcs: OnceLock::new(),
        }
    }

    /// The secrets, as mtnet's accept takes them.
    pub(crate) fn secrets(&self) -> &[ProxySecret] {
        &self.secrets
    }

    /// How padded intermediate pads what the server sends.
    pub(crate) fn padding(&self) -> PaddingStyle {
        self.padding
    }

    /// Records the DCs to route to, once all are built.
    pub(crate) fn set_dcs(&self, dcs: &[Arc<DcState>]) {
        let _ = self.dcs.set(dcs.iter().map(Arc::downgrade).collect());
    }

    /// The DC that serves a connection accepted by `front`: the DC named in the header for
    /// an MTProxy client, `front` itself otherwise. `Err` carries the id asked for when no
    /// DC has it.
    pub(crate) fn route(
        &self,
        front: &Arc<DcState>,
        info: &TransportInfo,
    ) -> Result<Arc<DcState>, i16> {
        let (Some(_), Some(asked)) = (info.secret_index, info.dc_id) else {
            return Ok(Arc::clone(front));
        };
        let id = dc_number(asked);
        self.dcs
            .get()
            .into_iter()
            .flatten()
            .filter_map(Weak::upgrade)
            .find(|dc| dc.id == id)
            .ok_or(asked)
    }
}

/// The DC number in a header's DC id: media DCs are negative and test DCs are offset by
/// 10000; localdc serves both kinds from its ordinary DCs.
fn dc_number(asked: i16) -> i32 {
    let id = i32::from(asked).abs();
    if id > TEST_DC_OFFSET {
        id - TEST_DC_OFFSET
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_ids_name_plain_dcs() {
        assert_eq!(dc_number(2), 2);
        assert_eq!(dc_number(-4), 4);
        assert_eq!(dc_number(10_003), 3);
        assert_eq!(dc_number(-10_001), 1);
    }
}
