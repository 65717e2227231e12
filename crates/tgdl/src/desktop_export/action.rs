//! A service message's `action` and its fields, as Telegram Desktop names them, for the
//! actions a chat's history commonly has (groups and channels made, renamed, joined and
//! left, pins, calls). Rarer ones (payments, gifts, giveaways, topics...) are written with
//! no `action`, as Desktop writes an action it does not know.

use tgclient::PeerKind;
use tl_types::api::enums;

use super::json::Json;
use super::message::Peers;

/// The users an action names (whose names its entry shows).
pub fn mentioned_users(action: &enums::MessageAction) -> Vec<i64> {
    use enums::MessageAction as A;
    match action {
        A::ChatCreate(a) => a.users.clone(),
        A::ChatAddUser(a) => a.users.clone(),
        A::ChatDeleteUser(a) => vec![a.user_id],
        A::ChatJoinedByLink(a) => vec![a.inviter_id],
        _ => Vec::new(),
    }
}

/// Pushes `action` and the action's own fields, in Desktop's order; `reply_to` is the
/// message the service message points at (a pin's `message_id`).
pub fn push_action(
    push: &mut impl FnMut(&str, Json),
    action: &enums::MessageAction,
    reply_to: Option<i32>,
    peers: &Peers,
) {
    use enums::MessageAction as A;
    let name = |id: i64| {
        peers
            .get(&(PeerKind::User, id))
            .map(|info| info.name.as_str())
            .filter(|n| !n.is_empty())
            .map_or(Json::Null, Json::from)
    };
    let members = |ids: &[i64]| Json::Array(ids.iter().map(|&id| name(id)).collect());
    match action {
        A::ChatCreate(a) => {
            push("action", Json::from("create_group"));
            push("title", Json::from(a.title.as_str()));
            push("members", members(&a.users));
        }
        A::ChatEditTitle(a) => {
            push("action", Json::from("edit_group_title"));
            push("title", Json::from(a.title.as_str()));
        }
        A::ChatEditPhoto(_) => push("action", Json::from("edit_group_photo")),
        A::ChatDeletePhoto => push("action", Json::from("delete_group_photo")),
        A::ChatAddUser(a) => {
            push("action", Json::from("invite_members"));
            push("members", members(&a.users));
        }
        A::ChatDeleteUser(a) => {
            push("action", Json::from("remove_members"));
            push("members", members(&[a.user_id]));
        }
        A::ChatJoinedByLink(a) => {
            push("action", Json::from("join_group_by_link"));
            push("inviter", name(a.inviter_id));
        }
        A::ChannelCreate(a) => {
            push("action", Json::from("create_channel"));
            push("title", Json::from(a.title.as_str()));
        }
        A::ChatMigrateTo(_) => push("action", Json::from("migrate_to_supergroup")),
        A::ChannelMigrateFrom(a) => {
            push("action", Json::from("migrate_from_group"));
            push("title", Json::from(a.title.as_str()));
        }
        A::PinMessage => {
            push("action", Json::from("pin_message"));
            if let Some(id) = reply_to {
                push("message_id", Json::from(i64::from(id)));
            }
        }
        A::HistoryClear => push("action", Json::from("clear_history")),
        A::PhoneCall(a) => {
            push("action", Json::from("phone_call"));
            if let Some(duration) = a.duration.filter(|d| *d != 0) {
                push("duration_seconds", Json::from(i64::from(duration)));
            }
            let reason = match &a.reason {
                Some(enums::PhoneCallDiscardReason::Missed) => "missed",
                Some(enums::PhoneCallDiscardReason::Disconnect) => "disconnect",
                Some(enums::PhoneCallDiscardReason::Hangup) => "hangup",
                Some(enums::PhoneCallDiscardReason::Busy) => "busy",
                Some(enums::PhoneCallDiscardReason::MigrateConferenceCall(_)) => {
                    "migrate_conference_all"
                }
                None => "",
            };
            if !reason.is_empty() {
                push("discard_reason", Json::from(reason));
            }
        }
        A::ScreenshotTaken => push("action", Json::from("take_screenshot")),
        _ => {}
    }
}
