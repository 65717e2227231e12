//! `InputPeer` constructors in `InputChannel` and `InputUser` places, as Pyrogram-based
//! clients send them and Telegram reads them: each is read as the schema's own constructor
//! with the same fields, and written back as that constructor. Nothing else is let in.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use tl_types::api::{enums, functions, types};
use tl_types::{Deserialize, Error, Identifiable, Serialize};

fn peer_self() -> enums::InputPeer {
    enums::InputPeer::InputPeerSelf
}

/// `bytes` read as `T`, then written back: the value and its encoding.
fn read<T: Deserialize + Serialize>(bytes: &[u8]) -> (T, Vec<u8>) {
    let value = T::from_bytes(bytes).unwrap();
    let written = value.to_bytes();
    (value, written)
}

#[test]
fn input_peer_channel_is_read_as_input_channel() {
    let sent = types::InputPeerChannel {
        channel_id: 5001,
        access_hash: -77,
    };
    let (channel, written) = read::<enums::InputChannel>(&sent.to_bytes());
    let expected = types::InputChannel {
        channel_id: 5001,
        access_hash: -77,
    };
    assert_eq!(channel, expected.clone().into());
    assert_eq!(written, expected.to_bytes());
    assert_eq!(
        written[..4],
        types::InputChannel::CONSTRUCTOR_ID.to_le_bytes()
    );
}

#[test]
fn input_peer_channel_from_message_is_read_as_input_channel_from_message() {
    let sent = types::InputPeerChannelFromMessage {
        peer: peer_self(),
        msg_id: 42,
        channel_id: 5002,
    };
    let (channel, written) = read::<enums::InputChannel>(&sent.to_bytes());
    let expected = types::InputChannelFromMessage {
        peer: peer_self(),
        msg_id: 42,
        channel_id: 5002,
    };
    assert_eq!(channel, expected.clone().into());
    assert_eq!(written, expected.to_bytes());
}

#[test]
fn input_peer_user_is_read_as_input_user() {
    let sent = types::InputPeerUser {
        user_id: 1002,
        access_hash: 99,
    };
    let (user, written) = read::<enums::InputUser>(&sent.to_bytes());
    let expected = types::InputUser {
        user_id: 1002,
        access_hash: 99,
    };
    assert_eq!(user, expected.clone().into());
    assert_eq!(written, expected.to_bytes());
}

#[test]
fn input_peer_self_is_read_as_input_user_self() {
    let sent = types::InputPeerSelf {};
    let (user, written) = read::<enums::InputUser>(&sent.to_bytes());
    assert_eq!(user, enums::InputUser::InputUserSelf);
    assert_eq!(written, types::InputUserSelf {}.to_bytes());
}

#[test]
fn input_peer_user_from_message_is_read_as_input_user_from_message() {
    let chat = enums::InputPeer::from(types::InputPeerChat { chat_id: 3 });
    let sent = types::InputPeerUserFromMessage {
        peer: chat.clone(),
        msg_id: 7,
        user_id: 1003,
    };
    let (user, written) = read::<enums::InputUser>(&sent.to_bytes());
    let expected = types::InputUserFromMessage {
        peer: chat,
        msg_id: 7,
        user_id: 1003,
    };
    assert_eq!(user, expected.clone().into());
    assert_eq!(written, expected.to_bytes());
}

#[test]
fn input_peer_empty_is_read_as_input_user_empty() {
    let sent = types::InputPeerEmpty {};
    let (user, written) = read::<enums::InputUser>(&sent.to_bytes());
    assert_eq!(user, enums::InputUser::Empty);
    assert_eq!(written, types::InputUserEmpty {}.to_bytes());
    // Inside a vector, as kurigram's send_story puts it.
    let mut rule = types::InputPrivacyValueAllowUsers::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    tl_types::wire::write_vector_header(&mut rule, 1, true);
    sent.serialize(&mut rule);
    let (rule, _) = read::<enums::InputPrivacyRule>(&rule);
    assert_eq!(
        rule,
        types::InputPrivacyValueAllowUsers {
            users: vec![enums::InputUser::Empty]
        }
        .into()
    );
}

#[test]
fn requests_carrying_input_peers_are_read() {
    // channels.getMessages as kurigram's get_messages sends it.
    let mut request = functions::channels::GetMessages::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    types::InputPeerChannel {
        channel_id: 5001,
        access_hash: 8,
    }
    .serialize(&mut request);
    vec![enums::InputMessage::from(types::InputMessageID { id: 10 })].serialize(&mut request);
    let (get, _) = read::<functions::channels::GetMessages>(&request);
    assert_eq!(
        get.channel,
        types::InputChannel {
            channel_id: 5001,
            access_hash: 8
        }
        .into()
    );
    assert_eq!(get.id.len(), 1);

    // users.getUsers with resolve_peer's answers for "me" and a user, in a vector.
    let mut request = functions::users::GetUsers::CONSTRUCTOR_ID
        .to_le_bytes()
        .to_vec();
    tl_types::wire::write_vector_header(&mut request, 2, true);
    types::InputPeerSelf {}.serialize(&mut request);
    types::InputPeerUser {
        user_id: 1001,
        access_hash: 5,
    }
    .serialize(&mut request);
    let (get, _) = read::<functions::users::GetUsers>(&request);
    assert_eq!(
        get.id,
        [
            enums::InputUser::InputUserSelf,
            types::InputUser {
                user_id: 1001,
                access_hash: 5
            }
            .into()
        ]
    );
}

#[test]
fn other_foreign_constructors_are_refused() {
    let refused = |bytes: Vec<u8>, expected: &'static str| Error::UnknownConstructor {
        id: u32::from_le_bytes(bytes[..4].try_into().unwrap()),
        expected,
    };
    // A user is not a channel, nor a channel a user.
    let user = types::InputPeerUser {
        user_id: 1,
        access_hash: 2,
    }
    .to_bytes();
    assert_eq!(
        enums::InputChannel::from_bytes(&user),
        Err(refused(user, "InputChannel"))
    );
    let channel = types::InputPeerChannel {
        channel_id: 1,
        access_hash: 2,
    }
    .to_bytes();
    assert_eq!(
        enums::InputUser::from_bytes(&channel),
        Err(refused(channel, "InputUser"))
    );
    // A basic group is neither; no client sends inputPeerEmpty for an InputChannel.
    let chat = types::InputPeerChat { chat_id: 1 }.to_bytes();
    assert_eq!(
        enums::InputChannel::from_bytes(&chat),
        Err(refused(chat, "InputChannel"))
    );
    let empty = types::InputPeerEmpty {}.to_bytes();
    assert_eq!(
        enums::InputChannel::from_bytes(&empty),
        Err(refused(empty, "InputChannel"))
    );
    // The conversion is one way: an InputChannel is no InputPeer.
    let input_channel = types::InputChannel {
        channel_id: 1,
        access_hash: 2,
    }
    .to_bytes();
    assert_eq!(
        enums::InputPeer::from_bytes(&input_channel),
        Err(refused(input_channel, "InputPeer"))
    );
}
