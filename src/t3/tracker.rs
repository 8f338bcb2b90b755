//! The T3 tracker: a table at a memory controller that counts updates to
//! output tiles and fires a tile (its DMA descriptor becomes ready) once it
//! has received the expected number of updates.
//!
//! This is both the model the simulator uses and the reference for
//! `rtl/tracker.v`; one [`Tracker::step`] is one RTL clock edge:
//! - a tile already in the table counts up; reaching `expected` fires it
//!   and frees its entry in the same step;
//! - a new tile with a free entry fires at once when `expected <= 1`,
//!   otherwise takes the lowest-index free entry with count 1;
//! - a new tile with the table full is not accepted (back-pressure: the
//!   caller holds the update and retries; nothing changes).
//!
//! The simulator calls it only when an update arrives, so lookup is a hash
//! map from tile to entry and allocation scans a free-entry bit set.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// One cycle's input: an update to `tile`, which fires after `expected`
/// updates in total. `valid == false` is an idle cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackerIn {
    pub valid: bool,
    pub tile: u32,
    pub expected: u32,
}

impl TrackerIn {
    pub fn update(tile: u32, expected: u32) -> Self {
        TrackerIn {
            valid: true,
            tile,
            expected,
        }
    }

    pub fn idle() -> Self {
        TrackerIn::default()
    }
}

/// What one step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackerOut {
    /// The update was taken; false on idle cycles and on back-pressure.
    pub accept: bool,
    /// The tile that completed with this update.
    pub fire: Option<u32>,
    /// Valid entries after the step.
    pub occupancy: u32,
}

/// Invalid tracker parameters or an update that does not fit them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("tracker parameter `{name}` = {value} is out of range (allowed {min}..={max})")]
    Parameter {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error("update field `{field}` = {value:#x} does not fit in {bits} bits")]
    Field {
        field: &'static str,
        value: u32,
        bits: u32,
    },
}

/// Largest table the model accepts (the paper's is 256 entries).
pub const MAX_ENTRIES: u32 = 1 << 16;

/// The tracker table.
#[derive(Debug, Clone)]
pub struct Tracker {
    entries: u32,
    tag_bits: u32,
    counter_bits: u32,
    /// Valid entries: tile -> entry index.
    slot_of: HashMap<u32, u32, BuildHasherDefault<TileHasher>>,
    /// Update count per entry (meaningful while the entry is valid).
    count: Vec<u32>,
    /// One bit per entry, set when free; bits past `entries` stay clear.
    free: Vec<u64>,
}

impl Tracker {
    /// A table of `entries` entries, tiles of `tag_bits` bits and counters
    /// of `counter_bits` bits, as in the RTL's parameters.
    pub fn new(entries: u32, tag_bits: u32, counter_bits: u32) -> Result<Self, TrackerError> {
        check_param("entries", entries, 1, MAX_ENTRIES)?;
        check_param("tag_bits", tag_bits, 1, 32)?;
        check_param("counter_bits", counter_bits, 1, 32)?;
        let words = entries.div_ceil(64) as usize;
        let mut free = vec![u64::MAX; words];
        let tail = entries % 64;
        if tail != 0 {
            free[words - 1] = (1u64 << tail) - 1;
        }
        Ok(Tracker {
            entries,
            tag_bits,
            counter_bits,
            slot_of: HashMap::with_capacity_and_hasher(entries as usize, Default::default()),
            count: vec![0; entries as usize],
            free,
        })
    }

    /// The paper's configuration: 256 entries, 24-bit tiles, 16-bit counters.
    pub fn paper() -> Self {
        Tracker {
            entries: 256,
            tag_bits: 24,
            counter_bits: 16,
            slot_of: HashMap::with_capacity_and_hasher(256, Default::default()),
            count: vec![0; 256],
            free: vec![u64::MAX; 4],
        }
    }

    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// Valid entries.
    pub fn occupancy(&self) -> u32 {
        self.slot_of.len() as u32
    }

    /// Updates counted so far for a tile in the table.
    pub fn count_of(&self, tile: u32) -> Option<u32> {
        self.slot_of.get(&tile).map(|&s| self.count[s as usize])
    }

    /// The tiles in the table with their counts, in entry order.
    pub fn held(&self) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.slot_of.iter().map(|(&t, &s)| (s, t)).collect();
        v.sort_unstable();
        v.into_iter()
            .map(|(s, t)| (t, self.count[s as usize]))
            .collect()
    }

    /// Checks that an update's fields fit the table's widths.
    pub fn check(&self, i: &TrackerIn) -> Result<(), TrackerError> {
        if i.tile & !mask(self.tag_bits) != 0 {
            return Err(TrackerError::Field {
                field: "tile",
                value: i.tile,
                bits: self.tag_bits,
            });
        }
        if i.expected & !mask(self.counter_bits) != 0 {
            return Err(TrackerError::Field {
                field: "expected",
                value: i.expected,
                bits: self.counter_bits,
            });
        }
        Ok(())
    }

    /// [`Tracker::step`] after [`Tracker::check`]: the simulator's entry
    /// point, which must not alias tiles silently.
    pub fn try_step(&mut self, i: TrackerIn) -> Result<TrackerOut, TrackerError> {
        self.check(&i)?;
        Ok(self.step(i))
    }

    /// One clock edge. Fields wider than the table are truncated as the
    /// RTL's ports truncate them.
    pub fn step(&mut self, i: TrackerIn) -> TrackerOut {
        if !i.valid {
            return self.out(false, None);
        }
        let tile = i.tile & mask(self.tag_bits);
        let expected = i.expected & mask(self.counter_bits);
        if let Some(&slot) = self.slot_of.get(&tile) {
            // A stored count is below an earlier `expected`, so this cannot
            // wrap; the mask mirrors the RTL's counter width regardless.
            let next = self.count[slot as usize].wrapping_add(1) & mask(self.counter_bits);
            if next >= expected {
                self.slot_of.remove(&tile);
                self.set_free(slot);
                return self.out(true, Some(tile));
            }
            self.count[slot as usize] = next;
            return self.out(true, None);
        }
        let Some(slot) = self.lowest_free() else {
            return self.out(false, None);
        };
        if expected <= 1 {
            return self.out(true, Some(tile));
        }
        self.free[(slot / 64) as usize] &= !(1u64 << (slot % 64));
        self.slot_of.insert(tile, slot);
        self.count[slot as usize] = 1;
        self.out(true, None)
    }

    /// Takes up to `n` updates (input `i` each) that only count up a tile
    /// already in the table, at once, and returns how many it took: the
    /// same as that many [`Tracker::step`]s, each accepted, none firing,
    /// occupancy unchanged. It stops short of the update that would
    /// complete the tile (or wrap its counter), which is left to `step`.
    pub fn count_up(&mut self, i: TrackerIn, n: u32) -> u32 {
        if !i.valid {
            return 0;
        }
        let tile = i.tile & mask(self.tag_bits);
        let expected = i.expected & mask(self.counter_bits);
        let Some(&slot) = self.slot_of.get(&tile) else {
            return 0;
        };
        let c = self.count[slot as usize];
        // Step j makes the count c + j (no wrap while c + j <= mask), and
        // fires once that reaches `expected`.
        let k = n
            .min(expected.saturating_sub(c).saturating_sub(1))
            .min(mask(self.counter_bits).saturating_sub(c));
        self.count[slot as usize] = c + k;
        k
    }

    fn out(&self, accept: bool, fire: Option<u32>) -> TrackerOut {
        TrackerOut {
            accept,
            fire,
            occupancy: self.occupancy(),
        }
    }

    fn lowest_free(&self) -> Option<u32> {
        self.free
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(i, w)| i as u32 * 64 + w.trailing_zeros())
    }

    fn set_free(&mut self, slot: u32) {
        self.free[(slot / 64) as usize] |= 1u64 << (slot % 64);
    }
}

fn mask(bits: u32) -> u32 {
    if bits >= 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    }
}

fn check_param(name: &'static str, value: u32, min: u32, max: u32) -> Result<(), TrackerError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(TrackerError::Parameter {
            name,
            value: value as u64,
            min: min as u64,
            max: max as u64,
        })
    }
}

/// Multiplicative hash for tile ids: SipHash's DoS resistance buys nothing
/// for keys the simulator makes itself, and costs on every update.
#[derive(Default, Clone, Copy)]
pub struct TileHasher(u64);

impl Hasher for TileHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, VecDeque};

    /// Feeds every update in `order`, retrying back-pressured ones after
    /// the rest (as a memory controller's queue would), and checks that
    /// each tile fires exactly once, on its last accepted update.
    fn run_to_completion(entries: u32, expected: &BTreeMap<u32, u32>, order: Vec<u32>) -> u64 {
        let mut t = Tracker::new(entries, 24, 16).unwrap();
        let mut accepted: BTreeMap<u32, u32> = BTreeMap::new();
        let mut fired: BTreeMap<u32, u32> = BTreeMap::new();
        let mut queue: VecDeque<u32> = order.into();
        let mut rejections = 0u64;
        let mut steps_without_progress = 0usize;
        while let Some(tile) = queue.pop_front() {
            let e = expected[&tile];
            let out = t.step(TrackerIn::update(tile, e));
            assert!(out.occupancy <= entries);
            if !out.accept {
                rejections += 1;
                steps_without_progress += 1;
                assert!(steps_without_progress <= queue.len() + 1, "no progress");
                assert_eq!(out.fire, None);
                queue.push_back(tile);
                continue;
            }
            steps_without_progress = 0;
            let n = accepted.entry(tile).or_default();
            *n += 1;
            match out.fire {
                Some(f) => {
                    assert_eq!(f, tile);
                    assert_eq!(*n, e.max(1), "tile {tile} fired after {n} of {e} updates");
                    *fired.entry(tile).or_default() += 1;
                }
                None => assert!(*n < e, "tile {tile} did not fire at {n} of {e}"),
            }
        }
        for (&tile, &e) in expected {
            assert_eq!(fired.get(&tile), Some(&1), "tile {tile} (expected {e})");
        }
        assert_eq!(t.occupancy(), 0);
        rejections
    }

    fn tiles_and_order() -> impl Strategy<Value = (BTreeMap<u32, u32>, Vec<u32>)> {
        prop::collection::btree_map(0u32..(1 << 24), 1u32..8, 1..24).prop_flat_map(|tiles| {
            let updates: Vec<u32> = tiles
                .iter()
                .flat_map(|(&t, &e)| std::iter::repeat_n(t, e as usize))
                .collect();
            (Just(tiles), Just(updates).prop_shuffle())
        })
    }

    proptest! {
        /// `count_up` then stepping the rest is the same as stepping every
        /// update: same outputs of the steps it leaves, same table after.
        #[test]
        fn count_up_is_steps_that_only_count(
            runs in prop::collection::vec((0u32..6, 0u32..12, 1u32..12), 1..40),
            entries in 1u32..4,
            counter_bits in 2u32..5,
        ) {
            let mut a = Tracker::new(entries, 24, counter_bits).unwrap();
            let mut b = a.clone();
            for (tile, n, expected) in runs {
                let i = TrackerIn::update(tile, expected);
                let mut left = n;
                while left > 0 {
                    let k = a.count_up(i, left);
                    for _ in 0..k {
                        let out = b.step(i);
                        prop_assert!(out.accept && out.fire.is_none());
                        prop_assert_eq!(out.occupancy, a.occupancy());
                    }
                    left -= k;
                    if left > 0 {
                        prop_assert_eq!(a.step(i), b.step(i));
                        left -= 1;
                    }
                }
                prop_assert_eq!(a.count_of(tile), b.count_of(tile));
                prop_assert_eq!(a.occupancy(), b.occupancy());
            }
        }

        #[test]
        fn tracker_fires_only_after_all_updates((tiles, order) in tiles_and_order()) {
            run_to_completion(256, &tiles, order);
        }

        #[test]
        fn tracker_fires_only_after_all_updates_with_the_table_full(
            (tiles, order) in tiles_and_order(),
            entries in 1u32..4,
        ) {
            run_to_completion(entries, &tiles, order);
        }
    }

    #[test]
    fn full_table_back_pressures_new_tiles_only() {
        let mut t = Tracker::new(2, 24, 16).unwrap();
        assert!(t.step(TrackerIn::update(10, 3)).accept);
        assert!(t.step(TrackerIn::update(11, 3)).accept);
        let out = t.step(TrackerIn::update(12, 3));
        assert_eq!(
            out,
            TrackerOut {
                accept: false,
                fire: None,
                occupancy: 2
            }
        );
        // Even a tile that would fire at once needs a free entry.
        assert!(!t.step(TrackerIn::update(13, 1)).accept);
        // A resident tile still counts and, when it completes, frees room.
        assert_eq!(t.step(TrackerIn::update(10, 3)).fire, None);
        assert_eq!(t.count_of(10), Some(2));
        assert_eq!(t.step(TrackerIn::update(10, 3)).fire, Some(10));
        assert_eq!(t.occupancy(), 1);
        assert!(t.step(TrackerIn::update(12, 3)).accept);
        assert_eq!(t.count_of(12), Some(1));
        assert_eq!(t.count_of(10), None);
    }

    #[test]
    fn single_update_tiles_fire_without_an_entry() {
        let mut t = Tracker::paper();
        for e in [0, 1] {
            let out = t.step(TrackerIn::update(7, e));
            assert_eq!(out.fire, Some(7));
            assert_eq!(out.occupancy, 0);
        }
        assert_eq!(t.step(TrackerIn::idle()), TrackerOut::default());
    }

    #[test]
    fn allocation_takes_the_lowest_free_entry() {
        let mut t = Tracker::new(130, 24, 16).unwrap();
        for tile in 0..130 {
            t.step(TrackerIn::update(tile, 2));
        }
        assert_eq!(t.lowest_free(), None);
        t.step(TrackerIn::update(70, 2));
        t.step(TrackerIn::update(129, 2));
        assert_eq!(t.lowest_free(), Some(70));
        t.step(TrackerIn::update(500, 2));
        assert_eq!(t.lowest_free(), Some(129));
    }

    #[test]
    fn wide_fields_truncate_like_the_rtl_ports() {
        let mut t = Tracker::paper();
        t.step(TrackerIn::update(0x0100_0005, 0x1_0003));
        assert_eq!(t.count_of(5), Some(1));
        t.step(TrackerIn::update(5, 3));
        assert_eq!(t.step(TrackerIn::update(0xFF00_0005, 3)).fire, Some(5));
    }

    #[test]
    fn bad_parameters_and_fields_are_named() {
        let e = Tracker::new(0, 24, 16).unwrap_err();
        assert!(e.to_string().contains("`entries` = 0"), "{e}");
        let e = Tracker::new(4, 33, 16).unwrap_err();
        assert!(e.to_string().contains("`tag_bits` = 33"), "{e}");
        let mut t = Tracker::new(4, 8, 4).unwrap();
        let e = t.try_step(TrackerIn::update(0x100, 2)).unwrap_err();
        assert!(e.to_string().contains("`tile` = 0x100"), "{e}");
        let e = t.try_step(TrackerIn::update(1, 16)).unwrap_err();
        assert!(
            e.to_string()
                .contains("`expected` = 0x10 does not fit in 4 bits"),
            "{e}"
        );
        assert_eq!(t.occupancy(), 0);
        assert!(t.try_step(TrackerIn::update(0xFF, 15)).is_ok());
    }
}
