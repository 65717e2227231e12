//! Sets of byte ranges: which parts of a file are on disk.

use std::ops::Range;

/// Disjoint, sorted, merged half-open byte ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ranges, sorted.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// Total bytes covered.
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    /// Whether `range` is entirely covered.
    pub fn contains(&self, range: &Range<u64>) -> bool {
        if range.is_empty() {
            return true;
        }
        let at = self.ranges.partition_point(|r| r.end < range.end);
        self.ranges
            .get(at)
            .is_some_and(|r| r.start <= range.start && range.end <= r.end)
    }

    /// Adds `range`, merging it with its neighbours.
    pub fn insert(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        // The first range that ends at or after our start can touch us.
        let first = self.ranges.partition_point(|r| r.end < range.start);
        let mut last = first;
        let mut merged = range;
        while let Some(r) = self.ranges.get(last) {
            if r.start > merged.end {
                break;
            }
            merged.start = merged.start.min(r.start);
            merged.end = merged.end.max(r.end);
            last += 1;
        }
        self.ranges.splice(first..last, std::iter::once(merged));
    }

    /// The gaps of `0..len` not covered, in order.
    pub fn missing(&self, len: u64) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut at = 0;
        for r in &self.ranges {
            if r.start >= len {
                break;
            }
            if r.start > at {
                gaps.push(at..r.start);
            }
            at = at.max(r.end);
        }
        if at < len {
            gaps.push(at..len);
        }
        gaps
    }

    /// Encodes as little-endian (start, end) pairs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ranges.len() * 16);
        for r in &self.ranges {
            out.extend_from_slice(&r.start.to_le_bytes());
            out.extend_from_slice(&r.end.to_le_bytes());
        }
        out
    }

    /// Decodes [`RangeSet::to_bytes`]; `None` if the bytes are not a valid encoding.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(16) {
            return None;
        }
        let mut set = Self::new();
        let mut previous_end = None;
        for pair in bytes.chunks_exact(16) {
            let (start, end) = pair.split_at(8);
            let start = u64::from_le_bytes(start.try_into().ok()?);
            let end = u64::from_le_bytes(end.try_into().ok()?);
            if start >= end || previous_end.is_some_and(|p| start <= p) {
                return None;
            }
            previous_end = Some(end);
            set.ranges.push(start..end);
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn inserts_merge_neighbours() {
        let mut set = RangeSet::new();
        set.insert(10..20);
        set.insert(30..40);
        set.insert(20..30);
        assert_eq!(set.ranges().to_vec(), vec![10..40]);
        set.insert(0..5);
        assert_eq!(set.ranges(), &[0..5, 10..40]);
        assert_eq!(set.missing(50), vec![5..10, 40..50]);
        assert!(set.contains(&(12..40)));
        assert!(!set.contains(&(4..11)));
        assert_eq!(set.covered(), 35);
    }

    proptest! {
        #[test]
        fn matches_a_bitmap(inserts in proptest::collection::vec((0u64..200, 0u64..40), 0..40)) {
            let mut set = RangeSet::new();
            let mut bits = [false; 240];
            for (start, len) in inserts {
                set.insert(start..start + len);
                for b in bits.iter_mut().skip(start as usize).take(len as usize) {
                    *b = true;
                }
            }
            let covered = bits.iter().filter(|b| **b).count() as u64;
            prop_assert_eq!(set.covered(), covered);
            let mut from_gaps = [true; 240];
            for gap in set.missing(240) {
                for b in from_gaps.iter_mut().skip(gap.start as usize).take((gap.end - gap.start) as usize) {
                    *b = false;
                }
            }
            prop_assert_eq!(from_gaps, bits);
            prop_assert_eq!(RangeSet::from_bytes(&set.to_bytes()), Some(set));
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = RangeSet::from_bytes(&bytes);
        }
    }
}
