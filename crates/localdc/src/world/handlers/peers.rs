//! Users, usernames, channels and invite links; and resolving the `Input*` peers clients
//! send (access hashes checked).

use std::sync::Arc;

use tl_types::api::functions::channels::{GetChannels, GetFullChannel};
use tl_types::api::functions::contacts::ResolveUsername;
use tl_types::api::functions::messages::{CheckChatInvite, GetChats, ImportChatInvite};
use tl_types::api::functions::users::{GetFullUser, GetUsers};
use tl_types::api::{enums, types};

use super::{Call, Need, error, typed};
use crate::RpcError;
use crate::rpc::Registry;
use crate::world::World;
use crate::world::convert;
use crate::world::store::{ChatRecord, Named, username_key};
use mtnet::clock::unix_secs;

pub(super) fn register(registry: &mut Registry, world: &Arc<World>) {
    typed(
        registry,
        world,
        Need::Login,
        |call: &Call<'_>, req: GetUsers| Ok(get_users(call, &req)),
    );
    typed(registry, world, Need::Login, get_full_user);
    typed(registry, world, Need::Login, resolve_username);
    typed(registry, world, Need::Home, get_channels);
    typed(registry, world, Need::Home, get_chats);
    typed(registry, world, Need::Home, get_full_channel);
    typed(registry, world, Need::Home, check_invite);
    typed(registry, world, Need::Home, import_invite);
}

/// The TL user `id` as the caller sees it.
pub(super) fn user_obj(call: &Call<'_>, id: i64) -> Option<enums::User> {
    let me = call.user.unwrap_or_default();
    call.store
        .users
        .get(&id)
        .map(|spec| convert::user(call.store, spec, me))
}

/// The TL chat as the caller sees it.
pub(super) fn chat_obj(call: &Call<'_>, record: &ChatRecord) -> enums::Chat {
    let me = call.user.unwrap_or_default();
    convert::chat(call.store, record, me, call.world.is_member(record, me))
}

/// An `InputUser`'s user id (the hash checked).
pub(super) fn input_user(call: &Call<'_>, input: &enums::InputUser) -> Result<i64, RpcError> {
    let invalid = || error(400, "USER_ID_INVALID");
    match input {
        enums::InputUser::InputUserSelf => call.me(),
        enums::InputUser::InputUser(u) => {
            if call.store.users.contains_key(&u.user_id)
                && call.store.user_hash(u.user_id) == u.access_hash
            {
                Ok(u.user_id)
            } else {
                Err(invalid())
            }
        }
        enums::InputUser::FromMessage(u) if call.store.users.contains_key(&u.user_id) => {
            Ok(u.user_id)
        }
        _ => Err(invalid()),
    }
}

/// An `InputChannel`'s chat (the hash checked), readable by the caller.
pub(super) fn input_channel<'w>(
    call: &Call<'w>,
    input: &enums::InputChannel,
) -> Result<&'w ChatRecord, RpcError> {
    let record = known_input_channel(call, input)?;
    readable(call, record)?;
    Ok(record)
}

/// An `InputChannel`'s chat (the hash checked), whether or not the caller may read it.
fn known_input_channel<'w>(
    call: &Call<'w>,
    input: &enums::InputChannel,
) -> Result<&'w ChatRecord, RpcError> {
    let (id, hash) = match input {
        enums::InputChannel::InputChannel(c) => (c.channel_id, Some(c.access_hash)),
        enums::InputChannel::FromMessage(c) => (c.channel_id, None),
        enums::InputChannel::Empty => return Err(error(400, "CHANNEL_INVALID")),
    };
    known_channel(call, id, hash)
}

fn channel<'w>(call: &Call<'w>, id: i64, hash: Option<i64>) -> Result<&'w ChatRecord, RpcError> {
    let record = known_channel(call, id, hash)?;
    readable(call, record)?;
    Ok(record)
}

/// Channel `id`, if it exists and `hash` (when given) is its access hash.
fn known_channel<'w>(
    call: &Call<'w>,
    id: i64,
    hash: Option<i64>,
) -> Result<&'w ChatRecord, RpcError> {
    let store = &call.store;
    store
        .chats
        .get(&id)
        .filter(|c| c.is_channel())
        .filter(|_| hash.is_none_or(|h| h == store.channel_hash(id)))
        .ok_or_else(|| error(400, "CHANNEL_INVALID"))
}

/// Public chats are readable by anyone; private ones by members.
fn visible(call: &Call<'_>, record: &ChatRecord, me: i64) -> bool {
    record.spec.username.is_some() || call.world.is_member(record, me)
}

/// [`visible`], as the error Telegram answers for a chat that is not.
pub(super) fn readable(call: &Call<'_>, record: &ChatRecord) -> Result<(), RpcError> {
    let me = call.me()?;
    if visible(call, record, me) {
        Ok(())
    } else if record.is_channel() {
        Err(error(400, "CHANNEL_PRIVATE"))
    } else {
        Err(error(400, "CHAT_ID_INVALID"))
    }
}

/// What an `InputPeer` names.
pub(super) enum PeerTarget<'w> {
    Chat(&'w ChatRecord),
    /// A private chat with a user (none are modelled: their history is empty).
    User(i64),
}

/// Resolves an `InputPeer` the caller may read.
pub(super) fn input_peer<'w>(
    call: &Call<'w>,
    input: &enums::InputPeer,
) -> Result<PeerTarget<'w>, RpcError> {
    match input {
        enums::InputPeer::Chat(c) => {
            let record = call
                .store
                .chats
                .get(&c.chat_id)
                .filter(|r| !r.is_channel())
                .ok_or_else(|| error(400, "PEER_ID_INVALID"))?;
            readable(call, record)?;
            Ok(PeerTarget::Chat(record))
        }
        enums::InputPeer::Channel(c) => {
            channel(call, c.channel_id, Some(c.access_hash)).map(PeerTarget::Chat)
        }
        enums::InputPeer::ChannelFromMessage(c) => {
            channel(call, c.channel_id, None).map(PeerTarget::Chat)
        }
        enums::InputPeer::InputPeerSelf => call.me().map(PeerTarget::User),
        enums::InputPeer::User(u) => input_user(
            call,
            &types::InputUser {
                user_id: u.user_id,
                access_hash: u.access_hash,
            }
            .into(),
        )
        .map(PeerTarget::User)
        .map_err(|_| error(400, "PEER_ID_INVALID")),
        enums::InputPeer::UserFromMessage(u) => {
            if call.store.users.contains_key(&u.user_id) {
                Ok(PeerTarget::User(u.user_id))
            } else {
                Err(error(400, "PEER_ID_INVALID"))
            }
        }
        enums::InputPeer::Empty => Err(error(400, "PEER_ID_INVALID")),
    }
}

fn get_users(call: &Call<'_>, req: &GetUsers) -> Vec<enums::User> {
    // Unknown or mistyped entries are left out, as Telegram does.
    req.id
        .iter()
        .filter_map(|input| input_user(call, input).ok())
        .filter_map(|id| user_obj(call, id))
        .collect()
}

fn get_full_user(call: &Call<'_>, req: GetFullUser) -> Result<enums::users::UserFull, RpcError> {
    let id = input_user(call, &req.id)?;
    let me = call.me()?;
    let spec = call
        .store
        .users
        .get(&id)
        .ok_or_else(|| error(400, "USER_ID_INVALID"))?;
    let common = call
        .store
        .chats
        .values()
        .filter(|c| call.world.is_member(c, me) && call.world.is_member(c, id))
        .count();
    let full = types::UserFull {
        blocked: false,
        phone_calls_available: false,
        phone_calls_private: false,
        can_pin_message: false,
        has_scheduled: false,
        video_calls_available: false,
        voice_messages_forbidden: false,
        translations_disabled: false,
        stories_pinned_available: false,
        blocked_my_stories_from: false,
        wallpaper_overridden: false,
        contact_require_premium: false,
        read_dates_private: false,
        sponsored_enabled: false,
        can_view_revenue: false,
        bot_can_manage_emoji_status: false,
        display_gifts_button: false,
        noforwards_my_enabled: false,
        noforwards_peer_enabled: false,
        unofficial_security_risk: false,
        id,
        about: spec.about.clone(),
        settings: types::PeerSettings {
            report_spam: false,
            add_contact: false,
            block_contact: false,
            share_contact: false,
            need_contacts_exception: false,
            report_geo: false,
            autoarchived: false,
            invite_members: false,
            request_chat_broadcast: false,
            business_bot_paused: false,
            business_bot_can_reply: false,
            geo_distance: None,
            request_chat_title: None,
            request_chat_date: None,
            business_bot_id: None,
            business_bot_manage_url: None,
            charge_paid_message_stars: None,
            registration_month: None,
            phone_country: None,
            name_change_date: None,
            photo_change_date: None,
        }
        .into(),
        personal_photo: None,
        profile_photo: None,
        fallback_photo: None,
        notify_settings: convert::notify_settings(),
        bot_info: None,
        pinned_msg_id: None,
        common_chats_count: i32::try_from(common).unwrap_or(i32::MAX),
        folder_id: None,
        ttl_period: None,
        theme: None,
        private_forward_name: None,
        bot_group_admin_rights: None,
        bot_broadcast_admin_rights: None,
        wallpaper: None,
        stories: None,
        business_work_hours: None,
        business_location: None,
        business_greeting_message: None,
        business_away_message: None,
        business_intro: None,
        birthday: None,
        personal_channel_id: None,
        personal_channel_message: None,
        stargifts_count: None,
        starref_program: None,
        bot_verification: None,
        send_paid_messages_stars: None,
        disallowed_gifts: None,
        stars_rating: None,
        stars_my_pending_rating: None,
        stars_my_pending_rating_date: None,
        main_tab: None,
        saved_music: None,
        note: None,
        bot_manager_id: None,
    };
    Ok(types::users::UserFull {
        full_user: full.into(),
        chats: Vec::new(),
        users: user_obj(call, id).into_iter().collect(),
    }
    .into())
}

fn valid_username(name: &str) -> bool {
    (4..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
}

fn resolve_username(
    call: &Call<'_>,
    req: ResolveUsername,
) -> Result<enums::contacts::ResolvedPeer, RpcError> {
    let key = username_key(&req.username);
    if !valid_username(&key) {
        return Err(error(400, "USERNAME_INVALID"));
    }
    let named = call
        .store
        .usernames
        .get(&key)
        .ok_or_else(|| error(400, "USERNAME_NOT_OCCUPIED"))?;
    let resolved = match *named {
        Named::User(id) => types::contacts::ResolvedPeer {
            peer: convert::user_peer(id),
            chats: Vec::new(),
            users: user_obj(call, id).into_iter().collect(),
        },
        Named::Chat(id) => {
            let record = call
                .store
                .chats
                .get(&id)
                .ok_or_else(|| error(400, "USERNAME_NOT_OCCUPIED"))?;
            types::contacts::ResolvedPeer {
                peer: convert::chat_peer(record),
                chats: vec![chat_obj(call, record)],
                users: Vec::new(),
            }
        }
    };
    Ok(resolved.into())
}

/// Readable channels in full (public ones not joined with `left` set); private ones not
/// joined as `channelForbidden`, so the caller learns their title and kind but no more.
/// An input naming no channel (unknown id, a basic group, a wrong access hash) fails the
/// whole call with `CHANNEL_INVALID`, the documented error, rather than being dropped.
fn get_channels(call: &Call<'_>, req: GetChannels) -> Result<enums::messages::Chats, RpcError> {
    let me = call.me()?;
    let chats = req
        .id
        .iter()
        .map(|input| {
            let record = known_input_channel(call, input)?;
            Ok(if visible(call, record, me) {
                chat_obj(call, record)
            } else {
                convert::channel_forbidden(call.store, record)
            })
        })
        .collect::<Result<Vec<_>, RpcError>>()?;
    Ok(types::messages::Chats { chats }.into())
}

/// `messages.getChats`: basic groups by id. A group the caller is not in reads as
/// `chatForbidden` (its id and title), as for a group one was removed from; an id that
/// names no basic group is `CHAT_ID_INVALID`.
fn get_chats(call: &Call<'_>, req: GetChats) -> Result<enums::messages::Chats, RpcError> {
    let me = call.me()?;
    let chats = req
        .id
        .iter()
        .map(|id| {
            let record = call
                .store
                .chats
                .get(id)
                .filter(|record| !record.is_channel())
                .ok_or_else(|| error(400, "CHAT_ID_INVALID"))?;
            Ok(if call.world.is_member(record, me) {
                chat_obj(call, record)
            } else {
                types::ChatForbidden {
                    id: record.spec.id,
                    title: record.spec.title.clone(),
                }
                .into()
            })
        })
        .collect::<Result<Vec<_>, RpcError>>()?;
    Ok(types::messages::Chats { chats }.into())
}

fn get_full_channel(
    call: &Call<'_>,
    req: GetFullChannel,
) -> Result<enums::messages::ChatFull, RpcError> {
    let record = input_channel(call, &req.channel)?;
    let top = record.top().map_or(0, |m| m.id);
    let full = types::ChannelFull {
        can_view_participants: false,
        can_set_username: false,
        can_set_stickers: false,
        hidden_prehistory: false,
        can_set_location: false,
        has_scheduled: false,
        can_view_stats: false,
        blocked: false,
        can_delete_channel: false,
        antispam: false,
        participants_hidden: false,
        translations_disabled: false,
        stories_pinned_available: false,
        view_forum_as_messages: false,
        restricted_sponsored: false,
        can_view_revenue: false,
        paid_media_allowed: false,
        can_view_stars_revenue: false,
        paid_reactions_available: false,
        stargifts_available: false,
        paid_messages_available: false,
        has_welcome_messages: false,
        id: record.spec.id,
        about: record.spec.about.clone().unwrap_or_default(),
        participants_count: Some(i32::try_from(record.members.len()).unwrap_or(i32::MAX)),
        admins_count: None,
        kicked_count: None,
        banned_count: None,
        online_count: None,
        read_inbox_max_id: top,
        read_outbox_max_id: top,
        unread_count: 0,
        chat_photo: types::PhotoEmpty { id: 0 }.into(),
        notify_settings: convert::notify_settings(),
        exported_invite: None,
        bot_info: Vec::new(),
        migrated_from_chat_id: None,
        migrated_from_max_id: None,
        pinned_msg_id: None,
        stickerset: None,
        available_min_id: None,
        folder_id: None,
        linked_chat_id: None,
        location: None,
        slowmode_seconds: None,
        slowmode_next_send_date: None,
        stats_dc: None,
        pts: record.pts,
        call: None,
        ttl_period: None,
        pending_suggestions: None,
        groupcall_default_join_as: None,
        theme_emoticon: None,
        requests_pending: None,
        recent_requesters: None,
        default_send_as: None,
        available_reactions: None,
        reactions_limit: None,
        stories: None,
        wallpaper: None,
        boosts_applied: None,
        boosts_unrestrict: None,
        emojiset: None,
        bot_verification: None,
        stargifts_count: None,
        send_paid_messages_stars: None,
        main_tab: None,
        guard_bot_id: None,
    };
    Ok(types::messages::ChatFull {
        full_chat: full.into(),
        chats: vec![chat_obj(call, record)],
        users: Vec::new(),
    }
    .into())
}

fn invite<'w>(call: &Call<'w>, hash: &str) -> Result<&'w ChatRecord, RpcError> {
    // Clients may pass the whole link tail; Telegram wants the bare hash.
    let hash = hash.trim_start_matches('+');
    call.store
        .invites
        .get(hash)
        .and_then(|id| call.store.chats.get(id))
        .ok_or_else(|| error(400, "INVITE_HASH_INVALID"))
}

fn check_invite(call: &Call<'_>, req: CheckChatInvite) -> Result<enums::ChatInvite, RpcError> {
    let record = invite(call, &req.hash)?;
    let me = call.me()?;
    if call.world.is_member(record, me) {
        return Ok(types::ChatInviteAlready {
            chat: chat_obj(call, record),
        }
        .into());
    }
    let spec = &record.spec;
    Ok(types::ChatInvite {
        channel: record.is_channel(),
        broadcast: spec.kind == crate::world::fixture::ChatKind::Channel,
        public: spec.username.is_some(),
        megagroup: spec.kind == crate::world::fixture::ChatKind::Supergroup,
        request_needed: false,
        verified: false,
        scam: false,
        fake: false,
        can_refulfill_subscription: false,
        title: spec.title.clone(),
        about: spec.about.clone(),
        photo: types::PhotoEmpty { id: 0 }.into(),
        participants_count: i32::try_from(record.members.len()).unwrap_or(i32::MAX),
        participants: None,
        color: 0,
        subscription_pricing: None,
        subscription_form_id: None,
        bot_verification: None,
    }
    .into())
}

fn import_invite(
    call: &Call<'_>,
    req: ImportChatInvite,
) -> Result<enums::messages::ChatInviteJoinResult, RpcError> {
    let record = invite(call, &req.hash)?;
    let me = call.me()?;
    if call.world.is_member(record, me) {
        return Err(error(400, "USER_ALREADY_PARTICIPANT"));
    }
    call.world.join(record.spec.id, me);
    let updates = types::Updates {
        updates: Vec::new(),
        users: Vec::new(),
        chats: vec![chat_obj(call, record)],
        date: unix_secs(),
        seq: 0,
    };
    Ok(types::messages::ChatInviteJoinResultOk {
        updates: updates.into(),
    }
    .into())
}
