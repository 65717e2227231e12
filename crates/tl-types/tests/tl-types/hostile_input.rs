//! Hostile input: random bytes and single-byte mutations of valid encodings, fed to the
//! deserializer of every constructor's boxed type and of every function, never panic and
//! never allocate more than a small multiple of the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// The allocation counter below is a global allocator, which is `unsafe` to implement.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Debug;
use std::sync::OnceLock;

use proptest::prelude::*;
use tl_types::{
    BareDeserialize, BareSerialize, Deserialize, Error, Identifiable, MAX_DEPTH, Reader, Serialize,
    api,
};

// ---- a per-thread peak-allocation counter ---------------------------------------------------

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track_alloc(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track_free(layout.size());
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track_free(layout.size());
        track_alloc(new_size);
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn track_alloc(size: usize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + size);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn track_free(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(size)));
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak while `f` ran, above what was live before.
fn peak_allocation(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

/// A decoded value may take more memory than its encoding (a boxed struct with all its
/// optional fields unset is larger than the 8 bytes that say so), but only by a bounded
/// factor; this is the bound the decoders keep.
fn allocation_bound(input_len: usize) -> usize {
    64 * input_len + 4096
}

// ---- the corpus: one valid encoding of every constructor and function ----------------------

type Decoder = fn(&[u8]) -> Result<(), Error>;

struct Sample {
    name: &'static str,
    bytes: Vec<u8>,
    decode: Decoder,
}

fn decode<T: Deserialize + Debug>(bytes: &[u8]) -> Result<(), Error> {
    T::from_bytes(bytes).map(|_| ())
}

use crate::samples;

use samples::Checker;

#[derive(Default)]
struct Collect(Vec<Sample>);

impl Checker for Collect {
    fn constructor<T, E>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone,
        E: From<T> + Serialize + Deserialize + PartialEq + Debug,
    {
        self.0.push(Sample {
            name: T::TL_NAME,
            bytes: value.to_bytes(),
            decode: decode::<E>,
        });
    }

    fn function<T>(&mut self, value: T)
    where
        T: Identifiable + Serialize + BareSerialize + Deserialize + BareDeserialize,
        T: PartialEq + Debug + Clone,
    {
        self.0.push(Sample {
            name: T::TL_NAME,
            bytes: value.to_bytes(),
            decode: decode::<T>,
        });
    }
}

fn corpus() -> &'static [Sample] {
    static CORPUS: OnceLock<Vec<Sample>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut collect = Collect::default();
        samples::api::check_all(&mut collect);
        samples::mtproto::check_all(&mut collect);
        collect.0
    })
}

fn assert_bounded(sample: &Sample, input: &[u8]) {
    let mut result = Ok(());
    let peak = peak_allocation(|| result = (sample.decode)(input));
    assert!(
        peak <= allocation_bound(input.len()),
        "{}: {peak} bytes allocated for {} bytes of input ({result:?})",
        sample.name,
        input.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random bytes behind each definition's own constructor id (so that decoding gets past
    /// the first word), through every decoder.
    #[test]
    fn random_bytes_after_a_valid_constructor_id(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        for sample in corpus() {
            let mut input = sample.bytes[..4].to_vec();
            input.extend_from_slice(&tail);
            assert_bounded(sample, &input);
        }
    }

    /// One byte of a valid encoding replaced (or the encoding cut there), for every
    /// definition.
    #[test]
    fn single_byte_mutations(position in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<bool>()) {
        for sample in corpus() {
            let mut input = sample.bytes.clone();
            let at = position.index(input.len());
            if cut {
                input.truncate(at);
            } else {
                input[at] = byte;
            }
            assert_bounded(sample, &input);
        }
    }

    /// Length prefixes and vector counts claiming far more than the input holds.
    #[test]
    fn huge_counts_are_refused(count in 0x40u32..=u32::MAX, boxed in any::<bool>()) {
        let mut input = Vec::new();
        if boxed {
            input.extend_from_slice(&tl_types::wire::VECTOR_ID.to_le_bytes());
        }
        input.extend_from_slice(&count.to_le_bytes());
        input.extend_from_slice(&[0; 64]);
        let mut reader = Reader::new(&input);
        let refused = matches!(reader.read_vector_len(boxed), Err(Error::BadLength { .. }));
        prop_assert!(refused);
    }
}

#[test]
fn every_definition_is_in_the_corpus() {
    let names: std::collections::BTreeSet<_> = corpus().iter().map(|s| s.name).collect();
    assert_eq!(names.len(), 2465 + 58);
}

/// The largest allocation-to-input ratio over the valid encodings, for the record
/// (`cargo test -- --nocapture`): valid input is where decoded values are largest.
#[test]
fn valid_encodings_stay_within_the_bound() {
    let mut worst = (0.0_f64, "");
    for sample in corpus() {
        let peak = peak_allocation(|| (sample.decode)(&sample.bytes).unwrap());
        assert!(
            peak <= allocation_bound(sample.bytes.len()),
            "{}: {peak}",
            sample.name
        );
        let ratio = peak as f64 / sample.bytes.len() as f64;
        if ratio > worst.0 {
            worst = (ratio, sample.name);
        }
    }
    println!(
        "largest allocation/input ratio of a valid encoding: {:.1} ({})",
        worst.0, worst.1
    );
}

#[test]
fn truncated_long_bytes_are_refused_before_allocating() {
    // 0xfe + a 3-byte length of 16 MiB - 1, with only 4 bytes behind it.
    let input = [0xfe, 0xff, 0xff, 0xff, 1, 2, 3, 4];
    let mut reader = Reader::new(&input);
    let mut result = Ok(&[][..]);
    let peak = peak_allocation(|| result = reader.read_bytes());
    assert!(
        matches!(
            result,
            Err(Error::BadLength {
                length: 0xff_ffff,
                ..
            })
        ),
        "{result:?}"
    );
    assert_eq!(peak, 0);
    assert!(matches!(
        Reader::new(&[0xff, 0, 0, 0]).read_bytes(),
        Err(Error::BadLength { .. })
    ));
}

#[test]
fn unknown_constructor_names_its_value() {
    let input = 0xdead_beef_u32.to_le_bytes();
    assert_eq!(
        api::enums::InputPeer::from_bytes(&input),
        Err(Error::UnknownConstructor {
            id: 0xdead_beef,
            expected: "InputPeer"
        })
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_refused() {
    // textBold wraps a RichText: nest it past the limit around a textEmpty.
    let text_bold = 0x6724_abc4_u32.to_le_bytes();
    let text_empty = 0xdc3d_824f_u32.to_le_bytes();
    let nest = |depth: usize| {
        let mut input: Vec<u8> = text_bold.repeat(depth);
        input.extend_from_slice(&text_empty);
        input
    };
    let ok = api::enums::RichText::from_bytes(&nest(MAX_DEPTH as usize - 1));
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(
        api::enums::RichText::from_bytes(&nest(MAX_DEPTH as usize)),
        Err(Error::TooDeep { limit: MAX_DEPTH })
    );
    // Far deeper input fails the same way instead of exhausting the stack.
    assert_eq!(
        api::enums::RichText::from_bytes(&nest(100_000)),
        Err(Error::TooDeep { limit: MAX_DEPTH })
    );
}
