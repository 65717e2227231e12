//! The methods served before any world exists: `help.getConfig`, `help.getNearestDc`,
//! `help.getCdnConfig`, and the "nobody is logged in" answer to `users.getUsers`.

use tl_types::api::functions::help::{GetCdnConfig, GetConfig, GetNearestDc};
use tl_types::api::functions::users::GetUsers;
use tl_types::api::{enums, types};

use super::context::RequestContext;
use super::errors;
use super::registry::Registry;
use mtnet::clock::unix_secs;

/// How long clients may cache the config, in seconds.
const CONFIG_TTL: i32 = 3600;

/// Registers this module's methods.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_typed(|ctx: &RequestContext, _: GetConfig| Ok(config(ctx).into()));
    registry.register_typed(|ctx: &RequestContext, _: GetNearestDc| {
        Ok(types::NearestDc {
            country: "XX".into(),
            this_dc: ctx.dc_id(),
            nearest_dc: ctx.dc_id(),
        }
        .into())
    });
    // core.telegram.org/cdn: the CDN DCs' RSA keys differ from the main DCs' and clients
    // check a CDN's key against this list before making an auth key there.
    registry.register_typed(|ctx: &RequestContext, _: GetCdnConfig| {
        Ok(types::CdnConfig {
            public_keys: ctx
                .dc
                .cdn_public_keys()
                .iter()
                .map(|(dc_id, pem)| {
                    types::CdnPublicKey {
                        dc_id: *dc_id,
                        public_key: pem.clone(),
                    }
                    .into()
                })
                .collect(),
        }
        .into())
    });
    // Until the world exists no key is bound to a user; Telethon asks this on connect and
    // takes 401 AUTH_KEY_UNREGISTERED as "not logged in".
    registry.register_typed(|_: &RequestContext, _: GetUsers| Err(errors::auth_key_unregistered()));
}

/// The `config` this DC hands out: every DC at the address it really listens on, CDN DCs
/// with the `cdn` flag (core.telegram.org/cdn: "The corresponding dcOption will have the
/// flag cdn").
pub fn config(ctx: &RequestContext) -> types::Config {
    let date = unix_secs();
    let dc_options = ctx
        .dc
        .directory()
        .iter()
        .map(|dc| {
            enums::DcOption::from(types::DcOption {
                ipv6: dc.addr.is_ipv6(),
                media_only: false,
                tcpo_only: false,
                cdn: dc.cdn,
                r#static: false,
                this_port_only: false,
                id: dc.id,
                ip_address: dc.addr.ip().to_string(),
                port: i32::from(dc.addr.port()),
                secret: None,
            })
        })
        .collect();
    types::Config {
        default_p2p_contacts: false,
        preload_featured_stickers: false,
        revoke_pm_inbox: true,
        blocked_mode: false,
        force_try_ipv6: false,
        date,
        expires: date.saturating_add(CONFIG_TTL),
        test_mode: false,
        this_dc: ctx.dc_id(),
        dc_options,
        dc_txt_domain_name: "localdc.invalid".into(),
        chat_size_max: 200,
        megagroup_size_max: 200_000,
        forwarded_count_max: 100,
        online_update_period_ms: 210_000,
        offline_blur_timeout_ms: 5_000,
        offline_idle_timeout_ms: 30_000,
        online_cloud_timeout_ms: 300_000,
        notify_cloud_delay_ms: 30_000,
        notify_default_delay_ms: 1_500,
        push_chat_period_ms: 60_000,
        push_chat_limit: 2,
        edit_time_limit: 172_800,
        revoke_time_limit: i32::MAX,
        revoke_pm_time_limit: i32::MAX,
        rating_e_decay: 2_419_200,
        stickers_recent_limit: 200,
        channels_read_media_period: 604_800,
        tmp_sessions: None,
        call_receive_timeout_ms: 20_000,
        call_ring_timeout_ms: 90_000,
        call_connect_timeout_ms: 30_000,
        call_packet_timeout_ms: 10_000,
        me_url_prefix: "https://t.me/".into(),
        autoupdate_url_prefix: None,
        gif_search_username: None,
        venue_search_username: None,
        img_search_username: None,
        static_maps_provider: None,
        caption_length_max: 1024,
        message_length_max: 4096,
        webfile_dc_id: 4
            .min(ctx.dc.directory().iter().filter(|dc| !dc.cdn).count() as i32)
            .max(1),
        // These three share flag 2: all or none.
        suggested_lang_code: None,
        lang_pack_version: None,
        base_lang_pack_version: None,
        reactions_default: None,
        autologin_token: None,
    }
}
