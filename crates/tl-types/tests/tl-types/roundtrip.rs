//! Every constructor and function of both schemas round-trips: built with every field set
//! (and with every flag set, then unset), serialized, read back equal, and re-serialized to
//! the same bytes, boxed, bare and through its type's enum. Truncated encodings are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fmt::Debug;

use tl_types::{BareDeserialize, BareSerialize, Deserialize, Error, Identifiable, Serialize};

use crate::samples;

use samples::Checker;

#[derive(Default)]
struct RoundTrip {
    constructors: BTreeSet<&'static str>,
    functions: BTreeSet<&'static str>,
    values: usize,
}

impl RoundTrip {
    fn check_value<T>(&mut self, value: &T) -> Vec<u8>
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug,
    {
        self.values += 1;
        let bytes = value.to_bytes();
        assert_eq!(
            bytes[..4],
            T::CONSTRUCTOR_ID.to_le_bytes(),
            "{}",
            T::TL_NAME
        );
        assert_eq!(
            bytes.len() % 4,
            0,
            "{}: TL values are 4-byte aligned",
            T::TL_NAME
        );

        let back = T::from_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", T::TL_NAME));
        assert_eq!(&back, value, "{}", T::TL_NAME);
        assert_eq!(
            back.to_bytes(),
            bytes,
            "{}: re-serialized bytes differ",
            T::TL_NAME
        );

        let mut bare = Vec::new();
        value.serialize_bare(&mut bare);
        assert_eq!(bare, bytes[4..], "{}: bare form", T::TL_NAME);
        let mut reader = tl_types::Reader::new(&bare);
        assert_eq!(
            &T::deserialize_bare(&mut reader).unwrap(),
            value,
            "{}",
            T::TL_NAME
        );

        // Every strict prefix is refused with an error (a prefix can never hold the value).
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(
                T::from_bytes(&bytes[..cut]).is_err(),
                "{}: prefix {cut}",
                T::TL_NAME
            );
        }
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 4]);
        assert_eq!(
            T::from_bytes(&longer),
            Err(Error::TrailingBytes { count: 4 })
        );
        bytes
    }
}

impl Checker for RoundTrip {
    fn constructor<T, E>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone,
        E: From<T> + Serialize + Deserialize + PartialEq + Debug,
    {
        let bytes = self.check_value(&value);
        let boxed = E::from(value);
        assert_eq!(boxed.to_bytes(), bytes, "{}: through its enum", T::TL_NAME);
        assert_eq!(E::from_bytes(&bytes).unwrap(), boxed, "{}", T::TL_NAME);
        self.constructors.insert(T::TL_NAME);
    }

    fn function<T>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone,
    {
        self.check_value(&value);
        self.functions.insert(T::TL_NAME);
    }
}

#[test]
fn every_api_definition_round_trips() {
    let mut check = RoundTrip::default();
    samples::api::check_all(&mut check);
    assert_eq!(check.constructors.len(), samples::api::CONSTRUCTORS);
    assert_eq!(check.functions.len(), samples::api::FUNCTIONS);
    assert_eq!(
        (check.constructors.len(), check.functions.len()),
        (1652, 813)
    );
    assert!(check.values > 2465, "flags set and unset are both checked");
}

#[test]
fn every_mtproto_definition_round_trips() {
    let mut check = RoundTrip::default();
    samples::mtproto::check_all(&mut check);
    assert_eq!(check.constructors.len(), samples::mtproto::CONSTRUCTORS);
    assert_eq!(check.functions.len(), samples::mtproto::FUNCTIONS);
    assert_eq!((check.constructors.len(), check.functions.len()), (48, 10));
}
