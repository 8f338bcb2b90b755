//! Constrained-random, seeded stimulus for each block. The same seed gives
//! the same inputs (given the same outputs), which is what makes a
//! divergence reproducible and its waveform re-creatable.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::models::{AluIn, AluOut, LANES, McaIn, McaOut};
use crate::mem::nmc_alu::Dtype;
use crate::t3::{TrackerIn, TrackerOut};

/// A source of one block's inputs, cycle by cycle.
pub trait Stimulus {
    type In;
    type Out;
    fn next(&mut self) -> Self::In;
    /// The outputs of the cycle just stepped, for stimulus that reacts.
    fn observe(&mut self, _out: &Self::Out) {}
}

/// Largest tile id that fits the RTL tracker's 24-bit tags.
const TILE_MAX: u32 = (1 << 24) - 1;

/// A tile the stimulus is still sending updates for.
#[derive(Debug, Clone, Copy)]
struct LiveTile {
    tile: u32,
    expected: u32,
    accepted: u32,
}

/// Tracker updates from a bounded working set of tiles that alternates
/// between more live tiles than entries (the table fills and
/// back-pressures) and fewer (it drains). A rejected update is simply
/// sent again later, as a controller retries it.
pub struct TrackerStimulus {
    rng: ChaCha8Rng,
    entries: u32,
    live: Vec<LiveTile>,
    live_ids: std::collections::HashSet<u32>,
    /// Recently completed tiles, whose ids get reused.
    retired: Vec<u32>,
    live_max: usize,
    phase_left: u32,
    /// Index in `live` of the update sent this cycle.
    sent: Option<usize>,
}

impl TrackerStimulus {
    pub fn new(seed: u64, entries: u32) -> Self {
        TrackerStimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
            entries,
            live: Vec::new(),
            live_ids: Default::default(),
            retired: Vec::new(),
            live_max: 0,
            phase_left: 0,
            sent: None,
        }
    }

    fn new_phase(&mut self) {
        let e = self.entries as usize;
        self.live_max = if self.rng.random_bool(0.6) {
            e + self.rng.random_range(1..=e / 2 + 2)
        } else {
            self.rng.random_range(1..=e.max(2) - 1)
        };
        self.phase_left = self.rng.random_range(2_000..20_000);
    }

    fn fresh_tile(&mut self) -> u32 {
        loop {
            let t = if !self.retired.is_empty() && self.rng.random_bool(0.2) {
                self.retired[self.rng.random_range(0..self.retired.len())]
            } else if self.rng.random_bool(0.05) {
                // Ids near both ends exercise every tag bit.
                TILE_MAX - self.rng.random_range(0..16)
            } else {
                self.rng.random_range(0..=TILE_MAX)
            };
            if self.live_ids.insert(t) {
                return t;
            }
        }
    }

    fn expected_count(&mut self) -> u32 {
        match self.rng.random_range(0..100) {
            0..5 => self.rng.random_range(0..=1),
            5..80 => self.rng.random_range(2..=8),
            80..99 => self.rng.random_range(9..=64),
            _ => self.rng.random_range(65..=2_000),
        }
    }
}

impl Stimulus for TrackerStimulus {
    type In = TrackerIn;
    type Out = TrackerOut;

    fn next(&mut self) -> TrackerIn {
        if self.phase_left == 0 {
            self.new_phase();
        }
        self.phase_left -= 1;
        self.sent = None;
        if self.rng.random_bool(0.08) {
            return TrackerIn::idle();
        }
        let start_new =
            self.live.is_empty() || (self.live.len() < self.live_max && self.rng.random_bool(0.3));
        let idx = if start_new {
            let tile = self.fresh_tile();
            let expected = self.expected_count();
            self.live.push(LiveTile {
                tile,
                expected,
                accepted: 0,
            });
            self.live.len() - 1
        } else {
            self.rng.random_range(0..self.live.len())
        };
        self.sent = Some(idx);
        let t = self.live[idx];
        TrackerIn::update(t.tile, t.expected)
    }

    fn observe(&mut self, out: &TrackerOut) {
        let Some(idx) = self.sent.take() else { return };
        if !out.accept {
            return;
        }
        let t = &mut self.live[idx];
        t.accepted += 1;
        if t.accepted >= t.expected.max(1) {
            let t = self.live.swap_remove(idx);
            self.live_ids.remove(&t.tile);
            if self.retired.len() < 64 {
                self.retired.push(t.tile);
            } else {
                let k = self.rng.random_range(0..64);
                self.retired[k] = t.tile;
            }
        }
    }
}

/// NMC ALU bursts: random bit patterns mixed with the values where adders
/// go wrong: zeros, subnormals, infinities, NaNs, values near overflow,
/// exact and near cancellation, and every alignment distance.
pub struct AluStimulus {
    rng: ChaCha8Rng,
    dtype: Dtype,
}

/// Field widths of a 16-bit format.
#[derive(Clone, Copy)]
struct Format {
    exp_bits: u32,
    man_bits: u32,
}

impl Format {
    fn of(d: Dtype) -> Format {
        match d {
            Dtype::Fp16 => Format {
                exp_bits: 5,
                man_bits: 10,
            },
            Dtype::Bf16 => Format {
                exp_bits: 8,
                man_bits: 7,
            },
        }
    }
    fn exp_max(self) -> u32 {
        (1 << self.exp_bits) - 1
    }
    fn man_mask(self) -> u32 {
        (1 << self.man_bits) - 1
    }
    fn pack(self, sign: bool, exp: u32, man: u32) -> u16 {
        ((sign as u32) << 15 | (exp & self.exp_max()) << self.man_bits | (man & self.man_mask()))
            as u16
    }
    fn exp_of(self, x: u16) -> u32 {
        (x as u32 >> self.man_bits) & self.exp_max()
    }
}

impl AluStimulus {
    pub fn new(seed: u64) -> Self {
        AluStimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dtype: Dtype::Fp16,
        }
    }

    fn operand(&mut self, f: Format) -> u16 {
        let mut r = Draw(self.rng.random());
        let sign = r.flip();
        let man = r.bits(f.man_bits);
        match r.below(100) {
            0..40 => r.bits(16) as u16,
            40..52 => f.pack(sign, 0, man), // subnormal (or zero)
            52..58 => f.pack(sign, 0, 0),
            58..63 => f.pack(sign, f.exp_max(), 0),
            63..68 => f.pack(sign, f.exp_max(), man.max(1)),
            68..80 => {
                // Near overflow: top exponents, mantissas near all-ones.
                let m = f.man_mask() - r.bits(2);
                f.pack(sign, f.exp_max() - 1 - r.bits(1), m)
            }
            80..90 => f.pack(sign, 1 + r.bits(1), man), // near the subnormal boundary
            _ => f.pack(sign, 1 + r.below(f.exp_max() - 1), man),
        }
    }

    fn partner(&mut self, f: Format, a: u16) -> u16 {
        let mut r = Draw(self.rng.random());
        match r.below(100) {
            0..45 => self.operand(f),
            45..53 => a ^ 0x8000,
            53..63 => {
                // Near cancellation: opposite sign, a few ulps away.
                let delta = r.below(7) as i32 - 3;
                ((a ^ 0x8000) as i32 + delta).clamp(0, 0xFFFF) as u16
            }
            63..73 => f.pack(r.flip(), f.exp_of(a), r.bits(f.man_bits)),
            _ => {
                // Every alignment distance, including those past the
                // datapath's guard bits.
                let e = f.exp_of(a) as i32;
                let d = r.below(f.man_bits + 17) as i32;
                let e2 = if r.flip() { e - d } else { e + d };
                let e2 = e2.clamp(0, f.exp_max() as i32 - 1) as u32;
                f.pack(r.flip(), e2, r.bits(f.man_bits))
            }
        }
    }
}

/// Fields cut from one 64-bit draw: the ALU stimulus needs a dozen small
/// random fields per lane, and one generator call per field would make the
/// stimulus slower than the RTL it drives.
struct Draw(u64);

impl Draw {
    fn bits(&mut self, n: u32) -> u32 {
        let v = (self.0 & ((1u64 << n) - 1)) as u32;
        self.0 >>= n;
        v
    }
    fn flip(&mut self) -> bool {
        self.bits(1) == 1
    }
    /// Roughly uniform in `0..n` for small `n` (a modulo bias of at most
    /// n / 65536 does not matter for stimulus).
    fn below(&mut self, n: u32) -> u32 {
        self.bits(16) % n
    }
}

impl Stimulus for AluStimulus {
    type In = AluIn;
    type Out = AluOut;

    fn next(&mut self) -> AluIn {
        if self.rng.random_bool(0.1) {
            self.dtype = match self.dtype {
                Dtype::Fp16 => Dtype::Bf16,
                Dtype::Bf16 => Dtype::Fp16,
            };
        }
        let f = Format::of(self.dtype);
        let mut i = AluIn {
            dtype: self.dtype,
            a: [0; LANES],
            b: [0; LANES],
        };
        for l in 0..LANES {
            let a = self.operand(f);
            let b = self.partner(f, a);
            // Either operand order: the adder must be symmetric.
            if self.rng.random_bool(0.5) {
                (i.a[l], i.b[l]) = (a, b);
            } else {
                (i.a[l], i.b[l]) = (b, a);
            }
        }
        i
    }
}

/// Arbiter inputs: compute occupancy hovering around the threshold, waiting flags
/// in runs, rare service, small limits so that starvation forces
/// communication through, and settings that change every few thousand
/// cycles.
pub struct McaStimulus {
    rng: ChaCha8Rng,
    state: McaIn,
    settings_left: u32,
}

impl McaStimulus {
    pub fn new(seed: u64) -> Self {
        McaStimulus {
            rng: ChaCha8Rng::seed_from_u64(seed),
            state: McaIn::default(),
            settings_left: 0,
        }
    }

    fn new_settings(&mut self) {
        let r = &mut self.rng;
        self.state.threshold = match r.random_range(0..10) {
            0..6 => r.random_range(0..=32),
            6 => 0,
            7 => u16::MAX,
            _ => r.random(),
        };
        self.state.limit = match r.random_range(0..10) {
            0..7 => r.random_range(0..=16),
            7 => 0,
            8 => r.random_range(100..=1_000),
            _ => u32::MAX - r.random_range(0..2),
        };
        self.settings_left = r.random_range(200..5_000);
    }
}

impl Stimulus for McaStimulus {
    type In = McaIn;
    type Out = McaOut;

    fn next(&mut self) -> McaIn {
        if self.settings_left == 0 {
            self.new_settings();
        }
        self.settings_left -= 1;
        let r = &mut self.rng;
        let c = &mut self.state.cycle;
        if r.random_bool(0.2) {
            c.compute_waiting = !c.compute_waiting;
        }
        if r.random_bool(0.1) {
            c.comm_waiting = !c.comm_waiting;
        }
        c.compute_occupancy = if r.random_bool(0.8) {
            let t = self.state.threshold as i32 + r.random_range(-3..=3);
            t.clamp(0, u16::MAX as i32) as u16
        } else {
            r.random()
        };
        c.comm_served = r.random_bool(if c.comm_waiting { 0.08 } else { 0.02 });
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosim::{Block, NmcAluModel};
    use crate::mem::arbiter::Grant;
    use crate::mem::arbiter::McaCycleModel;
    use crate::t3::Tracker;

    #[test]
    fn tracker_stimulus_fills_the_table_and_drains_it() {
        let mut t = Tracker::paper();
        let mut s = TrackerStimulus::new(3, 256);
        let (mut rejected, mut fired, mut peak, mut low_after_full) = (0, 0, 0, u32::MAX);
        for _ in 0..200_000 {
            let out = t.step(s.next());
            s.observe(&out);
            rejected += (!out.accept && out.occupancy == 256) as u32;
            fired += out.fire.is_some() as u32;
            peak = peak.max(out.occupancy);
            if peak == 256 {
                low_after_full = low_after_full.min(out.occupancy);
            }
        }
        assert_eq!(peak, 256);
        assert!(rejected > 1_000, "{rejected} back-pressured updates");
        assert!(fired > 5_000, "{fired} tiles fired");
        assert!(
            low_after_full < 200,
            "table never drained: {low_after_full}"
        );
    }

    #[test]
    fn alu_stimulus_covers_the_special_results() {
        let mut s = AluStimulus::new(5);
        let (mut nan, mut inf, mut sub, mut zero, mut bf) = (0, 0, 0, 0, 0);
        for _ in 0..2_000 {
            let i = s.next();
            let f = Format::of(i.dtype);
            bf += (i.dtype == Dtype::Bf16) as u32;
            for &x in &NmcAluModel.step(i).sum {
                let e = f.exp_of(x);
                let m = x as u32 & f.man_mask();
                nan += (e == f.exp_max() && m != 0) as u32;
                inf += (e == f.exp_max() && m == 0) as u32;
                sub += (e == 0 && m != 0) as u32;
                zero += (x & 0x7FFF == 0) as u32;
            }
        }
        for (what, n) in [("nan", nan), ("inf", inf), ("sub", sub), ("zero", zero)] {
            assert!(n > 500, "{what}: {n}");
        }
        assert!((500..1_500).contains(&bf), "bf16 cycles: {bf}");
    }

    #[test]
    fn mca_stimulus_reaches_every_grant() {
        let mut m = McaCycleModel::new(0, 0);
        let mut s = McaStimulus::new(9);
        let mut seen = [0u32; 4];
        for _ in 0..100_000 {
            seen[Block::step(&mut m, s.next()).grant as usize] += 1;
        }
        assert_eq!(seen[Grant::Both as usize], 0);
        for g in [Grant::ComputeFirst, Grant::ComputeOnly, Grant::CommFirst] {
            assert!(seen[g as usize] > 5_000, "{g:?}: {seen:?}");
        }
    }
}
