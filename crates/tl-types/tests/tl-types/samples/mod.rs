//! The generated sample of every constructor and function (see `tl_gen::samples`), shared by
//! the tests that walk all of them.

// The test files that declared this module allowed these at their root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt::Debug;

use tl_types::{BareDeserialize, BareSerialize, Deserialize, Identifiable, Serialize};

/// What the generated `check_all` functions hand each sample to.
pub trait Checker {
    /// A constructor's value; `E` is the enum of its boxed type.
    fn constructor<T, E>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone,
        E: From<T> + Serialize + Deserialize + PartialEq + Debug;

    /// A function's value.
    fn function<T>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone;
}

#[allow(dead_code)]
pub mod api {
    use super::Checker;
    include!(concat!(env!("OUT_DIR"), "/api_samples.rs"));
}

#[allow(dead_code)]
pub mod mtproto {
    use super::Checker;
    include!(concat!(env!("OUT_DIR"), "/mtproto_samples.rs"));
}
