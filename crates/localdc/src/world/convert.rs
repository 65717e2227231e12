//! Fixture records as TL objects, as one viewer sees them (`self`, `out` flags).

use tl_types::api::{enums, types};

use super::fixture::{
    AttributeSpec, ChatKind, FwdSpec, MediaSpec, MessageSpec, SizeSpec, UserSpec,
};
use super::store::{ChatRecord, Store, Thread};

/// The peer of a chat.
pub fn chat_peer(chat: &ChatRecord) -> enums::Peer {
    if chat.is_channel() {
        types::PeerChannel {
            channel_id: chat.spec.id,
        }
        .into()
    } else {
        types::PeerChat {
            chat_id: chat.spec.id,
        }
        .into()
    }
}

/// The peer of a user.
pub fn user_peer(id: i64) -> enums::Peer {
    types::PeerUser { user_id: id }.into()
}

/// Default notification settings: all unset.
pub fn notify_settings() -> enums::PeerNotifySettings {
    types::PeerNotifySettings {
        show_previews: None,
        silent: None,
        mute_until: None,
        ios_sound: None,
        android_sound: None,
        other_sound: None,
        stories_muted: None,
        stories_hide_sender: None,
        stories_ios_sound: None,
        stories_android_sound: None,
        stories_other_sound: None,
    }
    .into()
}

/// A user as `viewer` sees it.
pub fn user(store: &Store, spec: &UserSpec, viewer: i64) -> enums::User {
    let is_self = spec.id == viewer;
    types::User {
        self_: is_self,
        contact: false,
        mutual_contact: false,
        deleted: false,
        bot: spec.bot,
        bot_chat_history: false,
        bot_nochats: false,
        verified: false,
        restricted: false,
        min: false,
        bot_inline_geo: false,
        support: false,
        scam: false,
        apply_min_photo: false,
        fake: false,
        bot_attach_menu: false,
        premium: false,
        attach_menu_enabled: false,
        bot_can_edit: false,
        close_friend: false,
        stories_hidden: false,
        stories_unavailable: false,
        contact_require_premium: false,
        bot_business: false,
        bot_has_main_app: false,
        bot_forum_view: false,
        bot_forum_can_manage_topics: false,
        bot_can_manage_bots: false,
        bot_guestchat: false,
        bot_guard: false,
        id: spec.id,
        access_hash: Some(store.user_hash(spec.id)),
        first_name: Some(spec.first_name.clone()),
        last_name: spec.last_name.clone(),
        username: spec.username.clone(),
        // Only one's own number is shown (contacts are not modelled).
        phone: if is_self { spec.phone.clone() } else { None },
        photo: None,
        status: None,
        bot_info_version: spec.bot.then_some(1),
        restriction_reason: None,
        bot_inline_placeholder: None,
        lang_code: None,
        emoji_status: None,
        usernames: None,
        stories_max_id: None,
        color: None,
        profile_color: None,
        bot_active_users: None,
        bot_verification_icon: None,
        send_paid_messages_stars: None,
        linked_community_id: None,
    }
    .into()
}

/// A chat (basic group) or channel (supergroup, broadcast) as `viewer` sees it.
pub fn chat(store: &Store, record: &ChatRecord, viewer: i64, member: bool) -> enums::Chat {
    let spec = &record.spec;
    let count = i32::try_from(record.members.len()).unwrap_or(i32::MAX);
    if !record.is_channel() {
        return types::Chat {
            creator: spec.creator == viewer,
            left: !member,
            deactivated: false,
            call_active: false,
            call_not_empty: false,
            noforwards: false,
            id: spec.id,
            title: spec.title.clone(),
            photo: enums::ChatPhoto::Empty,
            participants_count: count,
            date: spec.date,
            version: 1,
            migrated_to: None,
            admin_rights: None,
            default_banned_rights: None,
        }
        .into();
    }
    types::Channel {
        creator: spec.creator == viewer,
        left: !member,
        broadcast: spec.kind == ChatKind::Channel,
        verified: false,
        megagroup: spec.kind == ChatKind::Supergroup,
        restricted: false,
        signatures: false,
        min: false,
        scam: false,
        has_link: false,
        has_geo: false,
        slowmode_enabled: false,
        call_active: false,
        call_not_empty: false,
        fake: false,
        gigagroup: false,
        noforwards: false,
        join_to_send: false,
        join_request: false,
        forum: false,
        stories_hidden: false,
        stories_hidden_min: false,
        stories_unavailable: false,
        signature_profiles: false,
        autotranslation: false,
        broadcast_messages_allowed: false,
        monoforum: false,
        forum_tabs: false,
        id: spec.id,
        access_hash: Some(store.channel_hash(spec.id)),
        title: spec.title.clone(),
        username: spec.username.clone(),
        photo: enums::ChatPhoto::Empty,
        date: spec.date,
        restriction_reason: None,
        admin_rights: None,
        banned_rights: None,
        default_banned_rights: None,
        participants_count: Some(count),
        usernames: None,
        stories_max_id: None,
        color: None,
        profile_color: None,
        emoji_status: None,
        level: None,
        subscription_until_date: None,
        bot_verification_icon: None,
        send_paid_messages_stars: None,
        linked_monoforum_id: None,
        linked_community_id: None,
    }
    .into()
}

/// A channel the viewer may not read (private, not joined), as Telegram lists it in
/// `channels.getChannels`: id, access hash, title and kind, nothing more.
pub fn channel_forbidden(store: &Store, record: &ChatRecord) -> enums::Chat {
    let spec = &record.spec;
    types::ChannelForbidden {
        broadcast: spec.kind == ChatKind::Channel,
        megagroup: spec.kind == ChatKind::Supergroup,
        monoforum: false,
        id: spec.id,
        access_hash: store.channel_hash(spec.id),
        title: spec.title.clone(),
        until_date: None,
    }
    .into()
}

fn photo_sizes(sizes: &[SizeSpec]) -> Vec<enums::PhotoSize> {
    sizes
        .iter()
        .map(|s| {
            types::PhotoSize {
                r#type: s.kind.clone(),
                w: s.w,
                h: s.h,
                size: i32::try_from(s.size).unwrap_or(i32::MAX),
            }
            .into()
        })
        .collect()
}

fn attribute(spec: &AttributeSpec) -> enums::DocumentAttribute {
    match spec {
        AttributeSpec::FileName { file_name } => types::DocumentAttributeFilename {
            file_name: file_name.clone(),
        }
        .into(),
        AttributeSpec::Video {
            duration,
            w,
            h,
            round,
            supports_streaming,
        } => types::DocumentAttributeVideo {
            round_message: *round,
            supports_streaming: *supports_streaming,
            nosound: false,
            duration: *duration,
            w: *w,
            h: *h,
            preload_prefix_size: None,
            video_start_ts: None,
            video_codec: None,
        }
        .into(),
        AttributeSpec::Audio {
            duration,
            voice,
            title,
            performer,
        } => types::DocumentAttributeAudio {
            voice: *voice,
            duration: *duration,
            title: title.clone(),
            performer: performer.clone(),
            waveform: None,
        }
        .into(),
        AttributeSpec::Sticker { alt } => types::DocumentAttributeSticker {
            mask: false,
            alt: alt.clone(),
            stickerset: enums::InputStickerSet::Empty,
            mask_coords: None,
        }
        .into(),
        AttributeSpec::Animated => enums::DocumentAttribute::Animated,
        AttributeSpec::ImageSize { w, h } => {
            types::DocumentAttributeImageSize { w: *w, h: *h }.into()
        }
    }
}

/// A media item's current file reference (it changes when references expire or rotate:
/// see [`super::live::MediaLive`]).
pub fn file_reference(store: &Store, media_id: i64) -> Vec<u8> {
    store.media.reference(store.seed, media_id)
}

/// A message's media.
pub fn media(store: &Store, spec: &MediaSpec, date: i32) -> enums::MessageMedia {
    match spec {
        MediaSpec::Photo(photo) => types::MessageMediaPhoto {
            spoiler: false,
            live_photo: false,
            photo: Some(
                types::Photo {
                    has_stickers: false,
                    id: photo.id,
                    access_hash: store.derive("photo", photo.id),
                    file_reference: file_reference(store, photo.id),
                    date,
                    sizes: photo_sizes(&photo.sizes),
                    video_sizes: None,
                    dc_id: photo.dc,
                }
                .into(),
            ),
            ttl_seconds: None,
            video: None,
        }
        .into(),
        MediaSpec::Document(doc) => {
            let round = doc
                .attributes
                .iter()
                .any(|a| matches!(a, AttributeSpec::Video { round: true, .. }));
            let voice = doc
                .attributes
                .iter()
                .any(|a| matches!(a, AttributeSpec::Audio { voice: true, .. }));
            let video = !round
                && doc
                    .attributes
                    .iter()
                    .any(|a| matches!(a, AttributeSpec::Video { .. }));
            types::MessageMediaDocument {
                nopremium: false,
                spoiler: false,
                video,
                round,
                voice,
                document: Some(
                    types::Document {
                        id: doc.id,
                        access_hash: store.derive("document", doc.id),
                        file_reference: file_reference(store, doc.id),
                        date,
                        mime_type: doc.mime_type.clone(),
                        size: i64::try_from(doc.size).unwrap_or(i64::MAX),
                        thumbs: (!doc.thumbs.is_empty()).then(|| photo_sizes(&doc.thumbs)),
                        video_thumbs: None,
                        dc_id: doc.dc,
                        attributes: doc.attributes.iter().map(attribute).collect(),
                    }
                    .into(),
                ),
                alt_documents: None,
                video_cover: None,
                video_timestamp: None,
                ttl_seconds: None,
            }
            .into()
        }
    }
}

/// The peer of a thread, as its viewer sees it (a private chat is the other user).
pub fn thread_peer(thread: Thread<'_>) -> enums::Peer {
    match thread {
        Thread::Chat(record) => chat_peer(record),
        Thread::Private(private) => user_peer(private.peer),
    }
}

/// A message of a group, channel or private chat as `viewer` sees it. In a private chat
/// (layer 119+) only outgoing messages carry `from_id`; an incoming one's sender is the
/// peer itself.
pub fn thread_message(
    store: &Store,
    thread: Thread<'_>,
    spec: &MessageSpec,
    viewer: i64,
) -> enums::Message {
    let post = thread
        .chat()
        .is_some_and(|record| record.spec.kind == ChatKind::Channel);
    let out = spec.from == Some(viewer);
    let from_id = match thread {
        Thread::Chat(_) => spec.from.map(user_peer),
        Thread::Private(_) => spec.from.filter(|_| out).map(user_peer),
    };
    types::Message {
        out,
        mentioned: false,
        media_unread: false,
        silent: false,
        post,
        from_scheduled: false,
        legacy: false,
        edit_hide: false,
        pinned: false,
        noforwards: false,
        invert_media: false,
        offline: false,
        video_processing_pending: false,
        paid_suggested_post_stars: false,
        paid_suggested_post_ton: false,
        id: spec.id,
        from_id,
        from_boosts_applied: None,
        from_rank: None,
        peer_id: thread_peer(thread),
        saved_peer_id: None,
        fwd_from: spec.fwd_from.as_ref().map(fwd_header),
        via_bot_id: None,
        via_business_bot_id: None,
        guestchat_via_from: None,
        reply_to: spec.reply_to.map(reply_header),
        date: spec.date,
        message: spec.text.clone(),
        media: spec.media.as_ref().map(|m| media(store, m, spec.date)),
        reply_markup: None,
        entities: None,
        views: post.then_some(1),
        forwards: post.then_some(0),
        replies: None,
        edit_date: spec.edit_date,
        post_author: None,
        grouped_id: spec.grouped_id,
        reactions: None,
        restriction_reason: None,
        ttl_period: None,
        quick_reply_shortcut_id: None,
        effect: None,
        factcheck: None,
        report_delivery_until_date: None,
        paid_message_stars: None,
        suggested_post: None,
        schedule_repeat_period: None,
        summary_from_language: None,
        rich_message: None,
    }
    .into()
}

/// Where a forwarded message came from.
pub fn fwd_header(fwd: &FwdSpec) -> enums::MessageFwdHeader {
    types::MessageFwdHeader {
        imported: false,
        saved_out: false,
        from_id: fwd.from_user.map(user_peer),
        from_name: fwd.from_name.clone(),
        date: fwd.date,
        channel_post: None,
        post_author: None,
        saved_from_peer: None,
        saved_from_msg_id: None,
        saved_from_id: None,
        saved_from_name: None,
        saved_date: None,
        psa_type: None,
    }
    .into()
}

/// A reply to message `id` of the same chat.
pub fn reply_header(id: i32) -> enums::MessageReplyHeader {
    types::MessageReplyHeader {
        reply_to_scheduled: false,
        forum_topic: false,
        quote: false,
        reply_to_ephemeral: false,
        reply_to_msg_id: Some(id),
        reply_to_peer_id: None,
        reply_from: None,
        reply_media: None,
        reply_to_top_id: None,
        quote_text: None,
        quote_entities: None,
        quote_offset: None,
        todo_item_id: None,
        poll_option: None,
    }
    .into()
}

/// Users a message refers to (sender, forward origin).
pub fn message_users(spec: &MessageSpec) -> impl Iterator<Item = i64> + '_ {
    spec.from
        .into_iter()
        .chain(spec.fwd_from.as_ref().and_then(|f| f.from_user))
}
