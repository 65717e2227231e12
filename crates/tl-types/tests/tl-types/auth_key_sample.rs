//! The handshake messages of Telegram's worked auth-key example (vendored in
//! `testdata/auth_key_sample.json`) deserialize from, and serialize back to, exactly the
//! sample bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::Value;
use tl_types::mtproto::{enums, functions, types};
use tl_types::{Deserialize, Identifiable, Reader, Serialize};

fn sample() -> Value {
    serde_json::from_str(include_str!("../../../../testdata/auth_key_sample.json")).unwrap()
}

fn hex_at(value: &Value, path: &[&str]) -> Vec<u8> {
    let mut node = value;
    for key in path {
        node = &node[*key];
    }
    hex::decode(
        node.as_str()
            .unwrap_or_else(|| panic!("{path:?} is not a string")),
    )
    .unwrap()
}

/// The body of an unencrypted message: auth_key_id (0), msg_id, length, then the body.
/// Some of the page's length fields disagree with its own bodies (resPQ says 168 for an
/// 80-byte body), so the body is taken as everything after the 20-byte header.
fn plain_body(payload: &[u8]) -> &[u8] {
    assert_eq!(
        payload[..8],
        [0; 8],
        "unencrypted messages carry auth_key_id 0"
    );
    &payload[20..]
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes.try_into().unwrap()
}

/// Deserializes `bytes` as `T` and checks that serializing gives the same bytes back.
fn exact<T: Deserialize + Serialize>(bytes: &[u8]) -> T {
    let value = T::from_bytes(bytes).unwrap();
    assert_eq!(value.to_bytes(), bytes);
    value
}

#[test]
fn req_pq_multi() {
    let s = sample();
    let body = plain_body(&hex_at(&s, &["page", "step1_req_pq_multi", "payload"])).to_vec();
    let request: functions::ReqPqMulti = exact(&body);
    assert_eq!(
        request.nonce.to_vec(),
        hex_at(&s, &["page", "step1_req_pq_multi", "nonce"])
    );
    assert_eq!(functions::ReqPqMulti::CONSTRUCTOR_ID, 0xbe7e_8ef1);
}

#[test]
fn res_pq() {
    let s = sample();
    let step = &s["page"]["step2_resPQ"];
    let body = plain_body(&hex_at(step, &["payload"])).to_vec();
    let enums::ResPQ::ResPQ(res) = exact::<enums::ResPQ>(&body);
    assert_eq!(res.nonce.to_vec(), hex_at(step, &["nonce"]));
    assert_eq!(res.server_nonce.to_vec(), hex_at(step, &["server_nonce"]));
    let pq = u64::from_be_bytes(array(&res.pq));
    assert_eq!(pq.to_string(), step["pq"].as_str().unwrap());
    let fingerprints: Vec<Vec<u8>> = res
        .server_public_key_fingerprints
        .iter()
        .map(|f| f.to_le_bytes().to_vec())
        .collect();
    let expected: Vec<Vec<u8>> = step["server_public_key_fingerprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| hex::decode(f.as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(fingerprints, expected);
}

#[test]
fn p_q_inner_data_dc() {
    let s = sample();
    let step = &s["page"]["step4_p_q_inner_data_dc"];
    let factors = &s["page"]["step3_factorization"];
    let inner = exact::<enums::PQInnerData>(&hex_at(step, &["data"]));
    let enums::PQInnerData::Dc(inner) = inner else {
        panic!("expected p_q_inner_data_dc, got {inner:?}");
    };
    assert_eq!(inner.dc, 2);
    assert_eq!(inner.new_nonce.to_vec(), hex_at(step, &["new_nonce"]));
    let p = u32::from_be_bytes(array(&inner.p));
    let q = u32::from_be_bytes(array(&inner.q));
    assert_eq!(
        (p.to_string(), q.to_string()),
        (
            factors["p"].as_str().unwrap().into(),
            factors["q"].as_str().unwrap().into()
        )
    );
    // The TL encodings of p and q as the page prints them.
    let mut p_tl = Vec::new();
    tl_types::wire::write_bytes(&mut p_tl, &inner.p);
    assert_eq!(p_tl, hex_at(factors, &["p_tl_bytes"]));
}

#[test]
fn req_dh_params() {
    let s = sample();
    let step = &s["page"]["step5_req_DH_params"];
    let body = plain_body(&hex_at(step, &["payload"])).to_vec();
    let request: functions::ReqDHParams = exact(&body);
    assert_eq!(
        request.public_key_fingerprint.to_le_bytes().to_vec(),
        hex_at(step, &["public_key_fingerprint"])
    );
    assert_eq!(
        request.encrypted_data,
        hex_at(&s, &["page", "step4_p_q_inner_data_dc", "encrypted_data"])
    );
}

#[test]
fn server_dh_params_ok_and_inner_data() {
    let s = sample();
    let step = &s["page"]["step6_server_DH_params_ok"];
    let body = plain_body(&hex_at(step, &["payload"])).to_vec();
    let enums::ServerDHParams::Ok(ok) = exact::<enums::ServerDHParams>(&body) else {
        panic!("expected server_DH_params_ok");
    };
    assert_eq!(ok.encrypted_answer, hex_at(step, &["encrypted_answer"]));

    // answer_with_hash = SHA1(answer) ++ answer ++ padding: the answer is read up to its end.
    let answer_with_hash = hex_at(step, &["answer_with_hash"]);
    let mut reader = Reader::new(&answer_with_hash[20..]);
    let inner = <types::ServerDHInnerData as Deserialize>::deserialize(&mut reader).unwrap();
    let inner_step = &s["page"]["step6_server_DH_inner_data"];
    assert_eq!(inner.g, 3);
    assert_eq!(inner.dh_prime, hex_at(inner_step, &["dh_prime"]));
    assert_eq!(inner.g_a, hex_at(inner_step, &["g_a"]));
    assert_eq!(
        i64::from(inner.server_time),
        inner_step["server_time"].as_i64().unwrap()
    );
    let padding = reader.remaining().len();
    assert!(padding < 16, "only padding follows the answer");
    let answer_len = answer_with_hash.len() - 20 - padding;
    assert_eq!(inner.to_bytes(), answer_with_hash[20..20 + answer_len]);
}

#[test]
fn client_dh_inner_data_and_set_client_dh_params() {
    let s = sample();
    let step = &s["page"]["step7_client"];
    let inner: types::ClientDHInnerData = exact(&hex_at(step, &["client_DH_inner_data", "data"]));
    assert_eq!(inner.retry_id, 0);
    assert_eq!(inner.g_b, hex_at(step, &["g_b"]));

    let set = &s["page"]["step7_set_client_DH_params"];
    let body = plain_body(&hex_at(set, &["payload"])).to_vec();
    let request: functions::SetClientDHParams = exact(&body);
    assert_eq!(request.encrypted_data, hex_at(step, &["encrypted_data"]));
}

#[test]
fn dh_gen_ok() {
    let s = sample();
    let step = &s["page"]["step9_dh_gen_ok"];
    let body = plain_body(&hex_at(step, &["payload"])).to_vec();
    let enums::SetClientDHParamsAnswer::DhGenOk(ok) =
        exact::<enums::SetClientDHParamsAnswer>(&body)
    else {
        panic!("expected dh_gen_ok");
    };
    assert_eq!(
        ok.new_nonce_hash1.to_vec(),
        hex_at(step, &["new_nonce_hash1"])
    );
}
