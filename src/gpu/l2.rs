//! Set-associative L2 cache with true LRU and an uncached bypass path.
//!
//! Geometry comes from [`GpuConfig`]: `l2_bytes / (l2_line_bytes * l2_ways)`
//! sets. The set of a line is `line % sets`, a mask when `sets` is a power
//! of two and a modulo otherwise, so any whole number of sets works; a
//! capacity that is not a whole number of sets is rejected.
//!
//! Policies:
//! - **Cached accesses** (`allocate = true`) allocate on a miss, reads and
//!   writes alike (write-allocate). A write leaves the line dirty; evicting a
//!   dirty line reports its address once, as one writeback.
//! - **Uncached accesses** (`allocate = false`, T3's output buffer and NMC
//!   updates) never allocate and never change replacement order, so they
//!   cannot push the GEMM's inputs out. A bypass read of a resident line is
//!   served by the L2; a bypass write to a resident line invalidates it
//!   (the update happens in DRAM, which would make the copy stale) and
//!   writes it back first if dirty. Their counts are kept apart from the
//!   cached hits and misses so that the GEMM's hit rate stays readable.
//! - **Replacement** is true LRU: each way has an age, and the ages of a set
//!   are always a permutation of `0..ways` (0 most recent). Invalid ways
//!   are always older than valid ones, so the oldest way is the victim in
//!   both cases and a miss needs one scan.
//!
//! State is two flat arrays indexed `set * ways + way`: the line address
//! of each way, and one byte per way holding its age (low bits) and dirty
//! flag (top bit), so an access touches two host cache regions and
//! allocates nothing.

use crate::config::GpuConfig;
use crate::error::{InputError, Location, Result};

/// A tag no line address can have (line addresses are byte addresses
/// divided by at least 32).
const INVALID: u64 = u64::MAX;

/// Lines beyond this are a config mistake, not a cache (4 GB of state).
const MAX_LINES: u64 = 1 << 28;

/// Dirty flag in a way's meta byte; the low bits are its age (< 64).
const DIRTY: u8 = 0x80;
const AGE: u8 = 0x7f;

/// What one access did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Outcome {
    /// The line was resident.
    pub hit: bool,
    /// Byte address of a dirty line that left the cache and must be written
    /// to DRAM.
    pub evicted_dirty: Option<u64>,
}

/// Counters for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct L2Stats {
    /// Cached accesses that found their line.
    pub hits: u64,
    /// Cached accesses that allocated their line.
    pub misses: u64,
    /// Dirty lines written back (evicted, invalidated or flushed).
    pub writebacks: u64,
    /// Uncached accesses.
    pub bypass_accesses: u64,
    /// Uncached reads served by a resident line.
    pub bypass_read_hits: u64,
    /// Resident lines invalidated by uncached writes.
    pub bypass_invalidations: u64,
}

/// The L2 cache of one device.
#[derive(Debug, Clone)]
pub struct L2 {
    line_shift: u32,
    ways: usize,
    sets: u64,
    /// `sets - 1` when `sets` is a power of two.
    set_mask: Option<u64>,
    tags: Vec<u64>,
    meta: Vec<u8>,
    stats: L2Stats,
}

impl L2 {
    /// An empty cache with the geometry of `cfg`.
    pub fn new(cfg: &GpuConfig) -> Result<L2> {
        let bad = |field: &str, msg: String| InputError::new(Location::file("config"), field, msg);
        let line = cfg.l2_line_bytes as u64;
        if line < 32 || !line.is_power_of_two() {
            return Err(bad(
                "gpu.l2_line_bytes",
                format!("{line} must be a power of two of at least 32"),
            )
            .into());
        }
        if !(1..=64).contains(&cfg.l2_ways) {
            return Err(bad(
                "gpu.l2_ways",
                format!("{} is outside the supported range 1..=64", cfg.l2_ways),
            )
            .into());
        }
        let set_bytes = line * cfg.l2_ways as u64;
        if cfg.l2_bytes == 0 || !cfg.l2_bytes.is_multiple_of(set_bytes) {
            return Err(bad(
                "gpu.l2_bytes",
                format!(
                    "{} B is not a whole number of {set_bytes} B sets ({line} B lines x {} ways)",
                    cfg.l2_bytes, cfg.l2_ways
                ),
            )
            .into());
        }
        let lines = cfg.l2_bytes / line;
        if lines > MAX_LINES {
            return Err(bad(
                "gpu.l2_bytes",
                format!("{} B holds more than {MAX_LINES} lines", cfg.l2_bytes),
            )
            .into());
        }
        let ways = cfg.l2_ways as usize;
        let sets = lines / ways as u64;
        let meta = (0..lines).map(|i| (i % ways as u64) as u8).collect();
        Ok(L2 {
            line_shift: line.trailing_zeros(),
            ways,
            sets,
            set_mask: sets.is_power_of_two().then(|| sets - 1),
            tags: vec![INVALID; lines as usize],
            meta,
            stats: L2Stats::default(),
        })
    }

    /// Number of sets.
    pub fn sets(&self) -> u64 {
        self.sets
    }

    /// Associativity.
    pub fn ways(&self) -> usize {
        self.ways
    }

    /// Line size, bytes.
    pub fn line_bytes(&self) -> u64 {
        1 << self.line_shift
    }

    /// Counters so far.
    pub fn stats(&self) -> L2Stats {
        self.stats
    }

    /// Accesses the line holding byte `addr`. `allocate = false` is the
    /// uncached bypass path (see the module docs).
    #[inline]
    pub fn access(&mut self, addr: u64, is_write: bool, allocate: bool) -> L2Outcome {
        let line = addr >> self.line_shift;
        let set = match self.set_mask {
            Some(m) => line & m,
            None => line % self.sets,
        };
        let base = set as usize * self.ways;
        let hit_way = find(&self.tags[base..base + self.ways], line);
        if !allocate {
            return self.bypass(base, hit_way, is_write);
        }
        if let Some(w) = hit_way {
            self.stats.hits += 1;
            self.touch(base, w);
            self.meta[base + w] |= DIRTY * is_write as u8;
            return L2Outcome {
                hit: true,
                evicted_dirty: None,
            };
        }
        self.stats.misses += 1;
        let victim = self.oldest(base);
        let i = base + victim;
        let evicted_dirty = self.write_back_if_dirty(i);
        self.tags[i] = line;
        self.meta[i] |= DIRTY * is_write as u8;
        self.touch(base, victim);
        L2Outcome {
            hit: false,
            evicted_dirty,
        }
    }

    /// Whether the line holding `addr` is resident (no state change).
    pub fn contains(&self, addr: u64) -> bool {
        let line = addr >> self.line_shift;
        let base = (line % self.sets) as usize * self.ways;
        self.tags[base..base + self.ways].contains(&line)
    }

    /// Writes back every dirty line (end of kernel), calling `sink` with
    /// each line's byte address in set order; lines stay resident and clean.
    pub fn flush_dirty(&mut self, mut sink: impl FnMut(u64)) {
        for i in 0..self.tags.len() {
            if let Some(a) = self.write_back_if_dirty(i) {
                sink(a);
            }
        }
    }

    fn bypass(&mut self, base: usize, hit_way: Option<usize>, is_write: bool) -> L2Outcome {
        self.stats.bypass_accesses += 1;
        let Some(w) = hit_way else {
            return L2Outcome {
                hit: false,
                evicted_dirty: None,
            };
        };
        if !is_write {
            self.stats.bypass_read_hits += 1;
            return L2Outcome {
                hit: true,
                evicted_dirty: None,
            };
        }
        self.stats.bypass_invalidations += 1;
        let evicted_dirty = self.write_back_if_dirty(base + w);
        self.tags[base + w] = INVALID;
        self.make_oldest(base, w);
        L2Outcome {
            hit: true,
            evicted_dirty,
        }
    }

    fn write_back_if_dirty(&mut self, i: usize) -> Option<u64> {
        if self.meta[i] & DIRTY == 0 {
            return None;
        }
        self.meta[i] &= AGE;
        self.stats.writebacks += 1;
        Some(self.tags[i] << self.line_shift)
    }

    fn oldest(&self, base: usize) -> usize {
        let top = (self.ways - 1) as u8;
        self.meta[base..base + self.ways]
            .iter()
            .position(|&m| m & AGE == top)
            .unwrap_or(0)
    }

    /// Makes `way` the most recent; ways younger than it age by one.
    #[inline]
    fn touch(&mut self, base: usize, way: usize) {
        let meta = &mut self.meta[base..base + self.ways];
        let old = meta[way] & AGE;
        // Branch-free so that the loop over the set vectorises.
        for m in meta.iter_mut() {
            *m += ((*m & AGE) < old) as u8;
        }
        meta[way] &= DIRTY;
    }

    /// Makes `way` the least recent; ways older than it get younger by one.
    fn make_oldest(&mut self, base: usize, way: usize) {
        let meta = &mut self.meta[base..base + self.ways];
        let old = meta[way] & AGE;
        for m in meta.iter_mut() {
            *m -= ((*m & AGE) > old) as u8;
        }
        meta[way] = (meta[way] & DIRTY) | (self.ways - 1) as u8;
    }
}

/// The way holding `line`. Scans the whole set without an early exit so
/// that the compare loop vectorises; a line is in at most one way.
#[inline]
fn find(tags: &[u64], line: u64) -> Option<usize> {
    let mut hit = usize::MAX;
    for (w, &t) in tags.iter().enumerate() {
        if t == line {
            hit = w;
        }
    }
    (hit != usize::MAX).then_some(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(bytes: u64, line: u32, ways: u32) -> GpuConfig {
        GpuConfig {
            l2_bytes: bytes,
            l2_line_bytes: line,
            l2_ways: ways,
            ..GpuConfig::default()
        }
    }

    /// Byte address of the `k`-th line mapping to `set`.
    fn addr(l2: &L2, set: u64, k: u64) -> u64 {
        (k * l2.sets() + set) * l2.line_bytes()
    }

    fn ages_are_permutations(l2: &L2) -> bool {
        l2.meta.chunks(l2.ways).all(|s| {
            let mut seen = vec![false; l2.ways];
            s.iter()
                .all(|&m| !std::mem::replace(&mut seen[(m & AGE) as usize], true))
        })
    }

    #[test]
    fn default_geometry_has_8192_sets() {
        let l2 = L2::new(&GpuConfig::default()).unwrap();
        assert_eq!((l2.sets(), l2.ways(), l2.line_bytes()), (8192, 16, 128));
    }

    #[test]
    fn hit_after_fill() {
        let mut l2 = L2::new(&GpuConfig::default()).unwrap();
        assert!(!l2.access(0x1234_5678, false, true).hit);
        assert!(l2.access(0x1234_5678, false, true).hit);
        // Any byte of the same 128 B line.
        assert!(l2.access(0x1234_5600, true, true).hit);
        assert_eq!((l2.stats().hits, l2.stats().misses), (2, 1));
    }

    #[test]
    fn lru_evicts_least_recently_used_way() {
        let mut l2 = L2::new(&cfg(4 * 128 * 4, 128, 4)).unwrap();
        for k in 0..4 {
            l2.access(addr(&l2, 1, k), false, true);
        }
        // Re-touch 0 and 2: LRU order is now 1, 3, 0, 2.
        l2.access(addr(&l2, 1, 0), false, true);
        l2.access(addr(&l2, 1, 2), false, true);
        for (new, gone) in [(4, 1), (5, 3), (6, 0), (7, 2)] {
            assert!(!l2.access(addr(&l2, 1, new), false, true).hit);
            assert!(
                !l2.contains(addr(&l2, 1, gone)),
                "line {gone} should be evicted"
            );
        }
        for k in 4..8 {
            assert!(l2.contains(addr(&l2, 1, k)));
        }
        // Other sets untouched.
        assert!(!l2.contains(addr(&l2, 0, 0)));
        assert!(ages_are_permutations(&l2));
    }

    #[test]
    fn dirty_writeback_is_counted_exactly_once() {
        let mut l2 = L2::new(&cfg(2 * 128 * 2, 128, 2)).unwrap();
        let a = addr(&l2, 0, 0);
        assert_eq!(l2.access(a, true, true).evicted_dirty, None);
        l2.access(a + 4, true, true); // second store to the same line
        l2.access(addr(&l2, 0, 1), false, true);
        let out = l2.access(addr(&l2, 0, 2), false, true);
        assert_eq!(out.evicted_dirty, Some(a));
        assert_eq!(l2.stats().writebacks, 1);
        // Re-read clean, evict again: nothing more to write.
        l2.access(a, false, true);
        for k in 3..6 {
            assert_eq!(l2.access(addr(&l2, 0, k), false, true).evicted_dirty, None);
        }
        assert_eq!(l2.stats().writebacks, 1);
    }

    #[test]
    fn write_allocates_dirty_line() {
        let mut l2 = L2::new(&cfg(128 * 2, 128, 1)).unwrap();
        let out = l2.access(0, true, true);
        assert!(!out.hit);
        assert!(l2.contains(0));
        let out = l2.access(2 * 128, false, true);
        assert_eq!(out.evicted_dirty, Some(0));
    }

    #[test]
    fn flush_writes_back_each_dirty_line_once() {
        let mut l2 = L2::new(&cfg(4 * 128 * 2, 128, 2)).unwrap();
        for a in [0u64, 128, 256, 512] {
            l2.access(a, true, true);
        }
        l2.access(384, false, true);
        let mut out = Vec::new();
        l2.flush_dirty(|a| out.push(a));
        out.sort();
        assert_eq!(out, [0, 128, 256, 512]);
        l2.flush_dirty(|_| panic!("already clean"));
        assert_eq!(l2.stats().writebacks, 4);
        assert!(l2.contains(512));
    }

    #[test]
    fn streaming_bypass_does_not_pollute_resident_working_set() {
        let cfg = GpuConfig::default();
        let mut l2 = L2::new(&cfg).unwrap();
        let half = cfg.l2_bytes / 2;
        let ws = 1u64 << 40;
        for a in (ws..ws + half).step_by(128) {
            l2.access(a, false, true);
        }
        let before = l2.clone();
        // Twice the capacity of uncached stores and reads elsewhere.
        let out_buf = 1u64 << 41;
        for a in (out_buf..out_buf + 2 * cfg.l2_bytes).step_by(128) {
            assert!(!l2.access(a, true, false).hit);
            assert!(!l2.access(a, false, false).hit);
        }
        assert_eq!(l2.tags, before.tags);
        assert_eq!(l2.meta, before.meta);
        let s = l2.stats();
        assert_eq!(s.bypass_accesses, 2 * 2 * cfg.l2_bytes / 128);
        assert_eq!((s.hits, s.misses - before.stats().misses), (0, 0));
        for a in (ws..ws + half).step_by(128) {
            assert!(l2.access(a, false, true).hit);
        }
    }

    #[test]
    fn bypass_write_invalidates_resident_line_and_writes_back_dirty() {
        let mut l2 = L2::new(&cfg(4 * 128 * 4, 128, 4)).unwrap();
        let a = addr(&l2, 2, 0);
        l2.access(a, true, true);
        assert!(l2.access(a, false, false).hit);
        let out = l2.access(a, true, false);
        assert_eq!(
            out,
            L2Outcome {
                hit: true,
                evicted_dirty: Some(a)
            }
        );
        assert!(!l2.contains(a));
        assert!(ages_are_permutations(&l2));
        // The freed way is refilled before any valid line is evicted.
        for k in 1..4 {
            l2.access(addr(&l2, 2, k), false, true);
        }
        l2.access(a, false, true);
        for k in 1..4 {
            assert!(l2.contains(addr(&l2, 2, k)));
        }
        let s = l2.stats();
        assert_eq!(
            (s.bypass_read_hits, s.bypass_invalidations, s.writebacks),
            (1, 1, 1)
        );
    }

    #[test]
    fn capacity_sized_working_set_hits_after_warmup() {
        let cfg = GpuConfig::default();
        let mut l2 = L2::new(&cfg).unwrap();
        let lines = cfg.l2_bytes / 128;
        for round in 0..3 {
            for k in 0..lines {
                let out = l2.access(k * 128, round % 2 == 1, true);
                assert_eq!(out.hit, round > 0);
                assert_eq!(out.evicted_dirty, None);
            }
        }
        assert_eq!(l2.stats().misses, lines);
        // One line past capacity with a cyclic sweep thrashes LRU.
        let mut l2 = L2::new(&cfg).unwrap();
        for _ in 0..2 {
            for k in 0..lines + l2.sets() {
                l2.access(k * 128, false, true);
            }
        }
        assert_eq!(l2.stats().hits, 0);
    }

    #[test]
    fn non_power_of_two_set_count_uses_modulo() {
        // 3 sets of 2 ways.
        let mut l2 = L2::new(&cfg(3 * 2 * 64, 64, 2)).unwrap();
        assert_eq!(l2.sets(), 3);
        for k in 0..6 {
            assert!(!l2.access(k * 64, false, true).hit);
        }
        for k in 0..6 {
            assert!(l2.access(k * 64, false, true).hit, "line {k}");
        }
        // Lines 0, 3 and 6 share set 0: 6 evicts 0.
        l2.access(6 * 64, false, true);
        assert!(!l2.contains(0));
        assert!(l2.contains(3 * 64));
    }

    #[test]
    fn deterministic_across_instances() {
        let run = || {
            let mut l2 = L2::new(&cfg(64 * 1024, 128, 8)).unwrap();
            let mut x = 12345u64;
            let mut sig = 0u64;
            for _ in 0..100_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let o = l2.access((x >> 20) % (256 * 1024), x & 1 == 1, x & 6 != 0);
                sig = sig
                    .wrapping_mul(31)
                    .wrapping_add(o.hit as u64 + o.evicted_dirty.unwrap_or(7));
            }
            assert!(ages_are_permutations(&l2));
            (sig, l2.stats())
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn invalid_geometry_names_the_field() {
        for (c, field) in [
            (cfg(16 << 20, 100, 16), "gpu.l2_line_bytes"),
            (cfg(16 << 20, 128, 0), "gpu.l2_ways"),
            (cfg(16 << 20, 128, 65), "gpu.l2_ways"),
            (cfg(1000, 128, 4), "gpu.l2_bytes"),
            (cfg(0, 128, 4), "gpu.l2_bytes"),
            (cfg(1 << 40, 128, 4), "gpu.l2_bytes"),
        ] {
            let e = L2::new(&c).unwrap_err().to_string();
            assert!(e.starts_with("config: "), "{e}");
            assert!(e.contains(&format!("`{field}`")), "{e}");
        }
    }

    /// A plainly written reference: per set, lines most recent first.
    struct Reference {
        sets: Vec<Vec<(u64, bool)>>,
        ways: usize,
    }

    impl Reference {
        fn access(&mut self, line: u64, is_write: bool, allocate: bool) -> L2Outcome {
            let n = self.sets.len() as u64;
            let set = &mut self.sets[(line % n) as usize];
            let pos = set.iter().position(|e| e.0 == line);
            match (pos, allocate) {
                (Some(p), true) => {
                    let (l, d) = set.remove(p);
                    set.insert(0, (l, d || is_write));
                    L2Outcome {
                        hit: true,
                        evicted_dirty: None,
                    }
                }
                (None, true) => {
                    let ev = if set.len() == self.ways {
                        set.pop()
                    } else {
                        None
                    };
                    set.insert(0, (line, is_write));
                    L2Outcome {
                        hit: false,
                        evicted_dirty: ev.filter(|e| e.1).map(|e| e.0 * 64),
                    }
                }
                (Some(p), false) if is_write => {
                    let (l, d) = set.remove(p);
                    L2Outcome {
                        hit: true,
                        evicted_dirty: d.then_some(l * 64),
                    }
                }
                (p, false) => L2Outcome {
                    hit: p.is_some(),
                    evicted_dirty: None,
                },
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_reference_lru_model(
            sets in 1u64..7,
            ways in 1u32..6,
            ops in proptest::collection::vec((0u64..64, proptest::bool::ANY, 0u8..4), 1..400),
        ) {
            let mut l2 = L2::new(&cfg(sets * ways as u64 * 64, 64, ways)).unwrap();
            let mut r = Reference { sets: vec![Vec::new(); sets as usize], ways: ways as usize };
            for (line, is_write, kind) in ops {
                // One access in four bypasses.
                let allocate = kind != 0;
                let got = l2.access(line * 64 + 5, is_write, allocate);
                let want = r.access(line, is_write, allocate);
                proptest::prop_assert_eq!(got, want);
                proptest::prop_assert!(ages_are_permutations(&l2));
            }
        }
    }
}
