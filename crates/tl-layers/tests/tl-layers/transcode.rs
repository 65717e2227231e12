//! The transcoder on real objects: what localdc sends in layer 229, read back by layer 198's
//! table (the layer GramJS 2.26.22 speaks), and old-layer requests upgraded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use tl_layers::{Object, Ty, Value, downgrade_answer, downgrade_object, schema, upgrade_request};
use tl_types::{Deserialize, Reader};

const OLD: i32 = 198;
const NEW: i32 = 229;

/// An object of `layer` by constructor name; required fields not given are zero-filled
/// when written.
fn obj(layer: i32, name: &str, fields: Vec<(&'static str, Value)>) -> Value {
    let combinator = schema(layer).unwrap().by_name(name).unwrap();
    Value::Object(Object {
        combinator,
        fields: fields.into_iter().map(|(n, v)| (n, Some(v))).collect(),
    })
}

fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// Serialized in `layer` as a boxed object of type `ty`.
fn wire(value: &Value, ty: &'static str, layer: i32) -> Vec<u8> {
    tl_layers::write(value, Ty::Boxed(ty), layer)
        .unwrap()
        .unwrap()
}

fn read_back(data: &[u8], layer: i32) -> Object {
    match tl_layers::read(schema(layer).unwrap(), Ty::AnyObject, data).unwrap() {
        Value::Object(object) => object,
        other => panic!("not an object: {other:?}"),
    }
}

fn user_229() -> Value {
    obj(
        NEW,
        "user",
        vec![
            ("id", Value::Long(777)),
            ("access_hash", Value::Long(-5)),
            ("first_name", bytes("Alice")),
            ("username", bytes("alice")),
            ("bot_guard", Value::True),
            ("send_paid_messages_stars", Value::Long(40)),
            ("premium", Value::True),
        ],
    )
}

fn photo_media_229() -> Value {
    let size = obj(
        NEW,
        "photoSize",
        vec![
            ("type", bytes("x")),
            ("w", Value::Int(800)),
            ("h", Value::Int(600)),
            ("size", Value::Int(12345)),
        ],
    );
    let photo = obj(
        NEW,
        "photo",
        vec![
            ("id", Value::Long(1001)),
            ("access_hash", Value::Long(9)),
            ("file_reference", bytes("ref")),
            ("date", Value::Int(1_700_000_000)),
            ("sizes", Value::Vector(vec![size])),
            ("dc_id", Value::Int(2)),
        ],
    );
    obj(
        NEW,
        "messageMediaPhoto",
        vec![
            ("photo", photo),
            ("live_photo", Value::True),
            ("video", document_229()),
        ],
    )
}

fn document_media_229() -> Value {
    obj(
        NEW,
        "messageMediaDocument",
        vec![("document", document_229())],
    )
}

fn document_229() -> Value {
    obj(
        NEW,
        "document",
        vec![
            ("id", Value::Long(2002)),
            ("access_hash", Value::Long(3)),
            ("file_reference", bytes("r")),
            ("date", Value::Int(1_700_000_001)),
            ("mime_type", bytes("application/pdf")),
            ("size", Value::Long(5 << 20)),
            ("dc_id", Value::Int(4)),
            (
                "attributes",
                Value::Vector(vec![obj(
                    NEW,
                    "documentAttributeFilename",
                    vec![("file_name", bytes("report.pdf"))],
                )]),
            ),
        ],
    )
}

fn message_229(id: i32, media: Value) -> Value {
    obj(
        NEW,
        "message",
        vec![
            ("id", Value::Int(id)),
            (
                "peer_id",
                obj(NEW, "peerChannel", vec![("channel_id", Value::Long(42))]),
            ),
            ("date", Value::Int(1_700_000_100)),
            ("message", bytes("hello")),
            ("media", media),
            ("paid_message_stars", Value::Long(7)),
            ("from_rank", bytes("admin")),
        ],
    )
}

fn channel_229() -> Value {
    obj(
        NEW,
        "channel",
        vec![
            ("id", Value::Long(42)),
            ("access_hash", Value::Long(11)),
            ("title", bytes("News")),
            ("broadcast", Value::True),
            ("monoforum", Value::True),
            ("photo", obj(NEW, "chatPhotoEmpty", vec![])),
            ("date", Value::Int(1_600_000_000)),
            ("linked_monoforum_id", Value::Long(43)),
        ],
    )
}

#[test]
fn the_pinned_layers_cover_198_to_229() {
    let layers: Vec<i32> = tl_layers::layers().collect();
    assert_eq!(layers.first(), Some(&198));
    assert_eq!(layers.last(), Some(&229));
    assert_eq!(tl_layers::newest(), tl_types::LAYER);
    // A layer not pinned is served as the nearest older one; outside the range, the edge.
    assert_eq!(tl_layers::serving(215), 214);
    assert_eq!(tl_layers::serving(150), 198);
    assert_eq!(tl_layers::serving(300), 229);
    assert_eq!(tl_layers::serving(198), 198);
}

#[test]
fn a_user_downgraded_parses_in_198_and_keeps_its_fields() {
    let data = wire(&user_229(), "User", NEW);
    // The 229 bytes are what tl-types itself reads.
    let typed = tl_types::api::enums::User::deserialize(&mut Reader::new(&data)).unwrap();
    let tl_types::api::enums::User::User(typed) = typed else {
        panic!("not a user")
    };
    assert_eq!(typed.send_paid_messages_stars, Some(40));

    let old = downgrade_object(&data, OLD).unwrap().unwrap();
    assert_ne!(old, data);
    // user#4b46c37e is layer 198's user.
    assert_eq!(old[..4], 0x4b46_c37e_u32.to_le_bytes());
    let user = read_back(&old, OLD);
    assert_eq!(user.combinator.name, "user");
    assert_eq!(user.field("id"), Some(&Value::Long(777)));
    assert_eq!(user.field("first_name"), Some(&bytes("Alice")));
    assert_eq!(user.field("username"), Some(&bytes("alice")));
    assert_eq!(user.field("premium"), Some(&Value::True));
    assert!(!user.has_field("send_paid_messages_stars"));
    assert!(!user.has_field("bot_guard"));
}

#[test]
fn a_channel_downgraded_drops_what_198_lacks() {
    let data = wire(&channel_229(), "Chat", NEW);
    let old = downgrade_object(&data, OLD).unwrap().unwrap();
    let channel = read_back(&old, OLD);
    assert_eq!(channel.combinator.id, 0xe009_98b7);
    assert_eq!(channel.field("title"), Some(&bytes("News")));
    assert_eq!(channel.field("broadcast"), Some(&Value::True));
    assert_eq!(channel.field("access_hash"), Some(&Value::Long(11)));
    assert!(!channel.has_field("monoforum"));
}

#[test]
fn messages_with_photo_and_document_media_downgrade() {
    let messages = obj(
        NEW,
        "messages.messages",
        vec![
            (
                "messages",
                Value::Vector(vec![
                    message_229(1, photo_media_229()),
                    message_229(2, document_media_229()),
                ]),
            ),
            ("chats", Value::Vector(vec![channel_229()])),
            ("users", Value::Vector(vec![user_229()])),
            ("topics", Value::Vector(vec![])),
        ],
    );
    let data = wire(&messages, "messages.Messages", NEW);
    tl_types::api::enums::messages::Messages::deserialize(&mut Reader::new(&data)).unwrap();
    // As the answer to messages.getHistory, which has the same id in both layers.
    let get_history = schema(NEW)
        .unwrap()
        .by_name("messages.getHistory")
        .unwrap()
        .id;
    let old = downgrade_answer(get_history, &data, OLD).unwrap();
    let answer = read_back(&old, OLD);
    assert_eq!(
        answer.combinator.id, 0x8c71_8e87,
        "layer 198's messages.messages"
    );
    assert!(!answer.has_field("topics"));
    let Some(Value::Vector(list)) = answer.field("messages") else {
        panic!("no messages")
    };
    assert_eq!(list.len(), 2);
    let Value::Object(first) = &list[0] else {
        panic!()
    };
    assert_eq!(first.combinator.id, 0x96fd_bbe9, "layer 198's message");
    assert_eq!(first.field("message"), Some(&bytes("hello")));
    assert!(!first.has_field("paid_message_stars"));
    let Some(Value::Object(photo_media)) = first.field("media") else {
        panic!("no media")
    };
    assert_eq!(
        photo_media.combinator.id, 0x6951_50d7,
        "layer 198's messageMediaPhoto"
    );
    let Some(Value::Object(photo)) = photo_media.field("photo") else {
        panic!()
    };
    assert_eq!(photo.field("id"), Some(&Value::Long(1001)));
    assert_eq!(photo.field("dc_id"), Some(&Value::Int(2)));
    let Value::Object(second) = &list[1] else {
        panic!()
    };
    let Some(Value::Object(doc_media)) = second.field("media") else {
        panic!()
    };
    let Some(Value::Object(document)) = doc_media.field("document") else {
        panic!()
    };
    assert_eq!(document.field("size"), Some(&Value::Long(5 << 20)));
    assert_eq!(document.field("mime_type"), Some(&bytes("application/pdf")));
}

#[test]
fn a_dialog_gets_198s_constructor_without_the_new_counter() {
    let dialog = obj(
        NEW,
        "dialog",
        vec![
            (
                "peer",
                obj(NEW, "peerUser", vec![("user_id", Value::Long(5))]),
            ),
            ("top_message", Value::Int(99)),
            ("unread_count", Value::Int(3)),
            ("unread_poll_votes_count", Value::Int(8)),
            ("notify_settings", obj(NEW, "peerNotifySettings", vec![])),
        ],
    );
    let data = wire(&dialog, "Dialog", NEW);
    let old = downgrade_object(&data, OLD).unwrap().unwrap();
    // 4 bytes less: the required unread_poll_votes_count int is gone.
    assert_eq!(old.len(), data.len() - 4);
    let dialog = read_back(&old, OLD);
    assert_eq!(dialog.combinator.id, 0xd58a_08c6);
    assert_eq!(dialog.field("top_message"), Some(&Value::Int(99)));
    assert_eq!(dialog.field("unread_count"), Some(&Value::Int(3)));
}

#[test]
fn media_198_does_not_know_becomes_unsupported() {
    let todo = obj(
        NEW,
        "messageMediaToDo",
        vec![(
            "todo",
            obj(
                NEW,
                "todoList",
                vec![
                    (
                        "title",
                        obj(NEW, "textWithEntities", vec![("text", bytes("x"))]),
                    ),
                    ("list", Value::Vector(vec![])),
                ],
            ),
        )],
    );
    let data = wire(&message_229(5, todo), "Message", NEW);
    let old = downgrade_object(&data, OLD).unwrap().unwrap();
    let message = read_back(&old, OLD);
    let Some(Value::Object(media)) = message.field("media") else {
        panic!("media gone")
    };
    assert_eq!(media.combinator.name, "messageMediaUnsupported");
    assert_eq!(message.field("id"), Some(&Value::Int(5)));
}

#[test]
fn an_action_198_does_not_know_becomes_empty() {
    let service = obj(
        NEW,
        "messageService",
        vec![
            ("id", Value::Int(6)),
            (
                "peer_id",
                obj(NEW, "peerUser", vec![("user_id", Value::Long(5))]),
            ),
            ("date", Value::Int(1)),
            (
                "action",
                obj(
                    NEW,
                    "messageActionSuggestBirthday",
                    vec![(
                        "birthday",
                        obj(
                            NEW,
                            "birthday",
                            vec![("day", Value::Int(1)), ("month", Value::Int(2))],
                        ),
                    )],
                ),
            ),
        ],
    );
    let data = wire(&service, "Message", NEW);
    let old = downgrade_object(&data, OLD).unwrap().unwrap();
    let message = read_back(&old, OLD);
    let Some(Value::Object(action)) = message.field("action") else {
        panic!()
    };
    assert_eq!(action.combinator.name, "messageActionEmpty");
}

#[test]
fn updates_198_does_not_know_are_left_out_and_a_lone_one_is_too_long() {
    let known = obj(
        NEW,
        "updateDeleteMessages",
        vec![
            ("messages", Value::Vector(vec![Value::Int(3)])),
            ("pts", Value::Int(10)),
            ("pts_count", Value::Int(1)),
        ],
    );
    let unknown = obj(
        NEW,
        "updateStarGiftAuctionState",
        vec![("gift_id", Value::Long(1))],
    );
    let updates = obj(
        NEW,
        "updates",
        vec![
            ("updates", Value::Vector(vec![unknown.clone(), known])),
            ("date", Value::Int(5)),
            ("seq", Value::Int(0)),
        ],
    );
    let data = wire(&updates, "Updates", NEW);
    let old = read_back(&downgrade_object(&data, OLD).unwrap().unwrap(), OLD);
    let Some(Value::Vector(list)) = old.field("updates") else {
        panic!()
    };
    assert_eq!(list.len(), 1);
    let Value::Object(kept) = &list[0] else {
        panic!()
    };
    assert_eq!(kept.combinator.name, "updateDeleteMessages");

    // updateShort cannot lose its only update: as a push nothing is sent, as the answer
    // to a method returning Updates it becomes updatesTooLong.
    let short = obj(
        NEW,
        "updateShort",
        vec![("update", unknown), ("date", Value::Int(5))],
    );
    let data = wire(&short, "Updates", NEW);
    assert_eq!(downgrade_object(&data, OLD).unwrap(), None);
    let send = schema(NEW)
        .unwrap()
        .by_name("messages.sendMessage")
        .unwrap();
    let answer = downgrade_answer(send.id, &data, OLD).unwrap();
    assert_eq!(read_back(&answer, OLD).combinator.name, "updatesTooLong");
}

#[test]
fn an_old_request_is_upgraded_by_name() {
    // messages.getDialogUnreadMarks changed its id after 198 (a parent_peer was added).
    let old_fn = schema(OLD)
        .unwrap()
        .by_name("messages.getDialogUnreadMarks")
        .unwrap();
    let new_fn = schema(NEW)
        .unwrap()
        .by_name("messages.getDialogUnreadMarks")
        .unwrap();
    assert_ne!(old_fn.id, new_fn.id);
    let request = old_fn.id.to_le_bytes();
    let upgraded = upgrade_request(&request, OLD).unwrap();
    // The new id, and an empty flags word: no parent_peer.
    let mut expected = new_fn.id.to_le_bytes().to_vec();
    expected.extend_from_slice(&[0; 4]);
    assert_eq!(upgraded, expected);

    // contacts.search: the arguments carry over.
    let search = obj(
        OLD,
        "contacts.search",
        vec![("q", bytes("ali")), ("limit", Value::Int(10))],
    );
    let upgraded = upgrade_request(
        &tl_layers::write(&search, Ty::AnyObject, OLD)
            .unwrap()
            .unwrap(),
        OLD,
    )
    .unwrap();
    let call = read_back(&upgraded, NEW);
    assert_eq!(call.combinator.name, "contacts.search");
    assert_eq!(
        call.combinator.id,
        schema(NEW).unwrap().by_name("contacts.search").unwrap().id
    );
    assert_eq!(call.field("q"), Some(&bytes("ali")));
    assert_eq!(call.field("limit"), Some(&Value::Int(10)));

    // A method whose id did not change is passed through byte for byte.
    let get_file = obj(
        OLD,
        "upload.getFile",
        vec![
            (
                "location",
                obj(
                    OLD,
                    "inputDocumentFileLocation",
                    vec![("id", Value::Long(1)), ("file_reference", bytes("r"))],
                ),
            ),
            ("offset", Value::Long(1 << 20)),
            ("limit", Value::Int(1 << 19)),
        ],
    );
    let request = tl_layers::write(&get_file, Ty::AnyObject, OLD)
        .unwrap()
        .unwrap();
    assert_eq!(upgrade_request(&request, OLD).unwrap(), request);
}

#[test]
fn the_newest_layer_is_passed_through() {
    let data = wire(&user_229(), "User", NEW);
    assert_eq!(downgrade_object(&data, NEW).unwrap(), Some(data.clone()));
    assert_eq!(upgrade_request(&data, NEW).unwrap(), data);
}

#[test]
fn hostile_input_gives_errors() {
    let data = wire(&user_229(), "User", NEW);
    for cut in 0..data.len() {
        assert!(downgrade_object(&data[..cut], OLD).is_err(), "cut at {cut}");
    }
    // A vector claiming more elements than the input could hold.
    let mut lie = 0x1cb5_c415_u32.to_le_bytes().to_vec();
    lie.extend_from_slice(&u32::MAX.to_le_bytes());
    let get_users = schema(NEW).unwrap().by_name("users.getUsers").unwrap();
    assert!(downgrade_answer(get_users.id, &lie, OLD).is_err());
    // Nesting past the bound: textConcat of textConcat of...
    let concat = schema(NEW).unwrap().by_name("textConcat").unwrap();
    let mut deep = Vec::new();
    for _ in 0..200 {
        deep.extend_from_slice(&concat.id.to_le_bytes());
        deep.extend_from_slice(&0x1cb5_c415_u32.to_le_bytes());
        deep.extend_from_slice(&1u32.to_le_bytes());
    }
    assert_eq!(downgrade_object(&deep, OLD), Err(tl_layers::Error::TooDeep));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512), layer in 150..260i32) {
        let _ = downgrade_object(&data, layer);
        let _ = upgrade_request(&data, layer);
        let _ = downgrade_answer(0x4423_e6c5, &data, layer);
    }

    #[test]
    fn mutated_real_objects_never_panic(index in 0usize..4096, byte in any::<u8>(), layer in 198..229i32) {
        let mut data = wire(&message_229(1, document_media_229()), "Message", NEW);
        let len = data.len();
        data[index % len] = byte;
        let _ = downgrade_object(&data, layer);
    }
}

#[test]
fn every_pinned_layer_reads_back_what_it_is_sent() {
    let messages = obj(
        NEW,
        "messages.channelMessages",
        vec![
            ("pts", Value::Int(12)),
            ("count", Value::Int(2)),
            (
                "messages",
                Value::Vector(vec![
                    message_229(1, photo_media_229()),
                    message_229(2, document_media_229()),
                ]),
            ),
            ("chats", Value::Vector(vec![channel_229()])),
            ("users", Value::Vector(vec![user_229()])),
        ],
    );
    let data = wire(&messages, "messages.Messages", NEW);
    let get_history = schema(NEW)
        .unwrap()
        .by_name("messages.getHistory")
        .unwrap()
        .id;
    for layer in tl_layers::layers() {
        let old = downgrade_answer(get_history, &data, layer).unwrap();
        let answer = read_back(&old, layer);
        assert_eq!(
            answer.combinator.name, "messages.channelMessages",
            "layer {layer}"
        );
        let Some(Value::Vector(users)) = answer.field("users") else {
            panic!("layer {layer}: no users")
        };
        let Value::Object(user) = &users[0] else {
            panic!()
        };
        assert_eq!(user.field("id"), Some(&Value::Long(777)), "layer {layer}");
    }
}

#[test]
fn a_flag_bit_shared_with_a_missing_field_stays_clear() {
    // Layer 229's messageMediaPhoto puts live_photo (true) and video on bit 4: live_photo
    // alone must not set it, or a reader would expect the video.
    let media = obj(NEW, "messageMediaPhoto", vec![("live_photo", Value::True)]);
    let data = wire(&media, "MessageMedia", NEW);
    let read = read_back(&data, NEW);
    assert!(read.field("video").is_none());
    assert!(read.field("live_photo").is_none());
    tl_types::api::enums::MessageMedia::deserialize(&mut Reader::new(&data)).unwrap();
}

#[test]
fn fields_that_became_objects_carry_their_value_both_ways() {
    // user.stories_max_id: an int in 198, a recentStory in 229.
    let user = obj(
        NEW,
        "user",
        vec![
            ("id", Value::Long(1)),
            (
                "stories_max_id",
                obj(NEW, "recentStory", vec![("max_id", Value::Int(55))]),
            ),
        ],
    );
    let old = downgrade_object(&wire(&user, "User", NEW), OLD)
        .unwrap()
        .unwrap();
    assert_eq!(
        read_back(&old, OLD).field("stories_max_id"),
        Some(&Value::Int(55))
    );

    // account.updateColor's color: an int in 198, a peerColor in 229.
    let update_color = obj(OLD, "account.updateColor", vec![("color", Value::Int(3))]);
    let request = tl_layers::write(&update_color, Ty::AnyObject, OLD)
        .unwrap()
        .unwrap();
    let call = read_back(&upgrade_request(&request, OLD).unwrap(), NEW);
    let Some(Value::Object(color)) = call.field("color") else {
        panic!("no color: {call:?}")
    };
    assert_eq!(color.combinator.name, "peerColor");
    assert_eq!(color.field("color"), Some(&Value::Int(3)));

    // messages.togglePaidReactionPrivacy's private: a Bool in 198, a type in 229.
    let toggle = obj(
        OLD,
        "messages.togglePaidReactionPrivacy",
        vec![
            ("peer", obj(OLD, "inputPeerSelf", vec![])),
            ("msg_id", Value::Int(4)),
            ("private", Value::Bool(true)),
        ],
    );
    let request = tl_layers::write(&toggle, Ty::AnyObject, OLD)
        .unwrap()
        .unwrap();
    let call = read_back(&upgrade_request(&request, OLD).unwrap(), NEW);
    let Some(Value::Object(privacy)) = call.field("private") else {
        panic!("no privacy: {call:?}")
    };
    assert_eq!(privacy.combinator.name, "paidReactionPrivacyAnonymous");
}

fn gzip_packed(inner: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(inner).unwrap();
    let packed = encoder.finish().unwrap();
    let mut out = 0x3072_cfa1_u32.to_le_bytes().to_vec();
    // The packed bytes written as TL bytes (textPlain's one field), after gzip_packed's id.
    let field = obj(NEW, "textPlain", vec![("text", Value::Bytes(packed))]);
    out.extend_from_slice(&wire(&field, "RichText", NEW)[4..]);
    out
}

#[test]
fn gzip_packed_is_unpacked_and_bounded() {
    let data = wire(&user_229(), "User", NEW);
    let plain = downgrade_object(&data, OLD).unwrap().unwrap();
    assert_eq!(
        downgrade_object(&gzip_packed(&data), OLD).unwrap().unwrap(),
        plain
    );
    // 24 MiB of zeros: more than a gzip_packed may hold.
    let bomb = gzip_packed(&vec![0; 24 << 20]);
    assert_eq!(downgrade_object(&bomb, OLD), Err(tl_layers::Error::BadGzip));
}
