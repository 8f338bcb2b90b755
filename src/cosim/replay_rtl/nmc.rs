//! The nmc checker of a replay co-simulation.

use super::*;

struct NmcInst {
    rtl: AluRtl,
    steps: u64,
}

/// Synthetic update operands, one SplitMix64 draw per lane: the full ALU
/// stimulus (`AluStimulus`) draws a dozen fields per lane and cost more
/// than the RTL it fed. Still mixes in the cases adders get wrong: exact
/// and near cancellation, equal exponents, zeros, subnormals, infinities
/// and NaNs, in both formats' encodings. One stream per device, so devices
/// do not depend on each other's update order; SplitMix64 is a counter, so
/// burst `k` is drawn directly, whichever checker thread gets it.
struct Operands {
    seed: u64,
    dtype: Dtype,
}

/// Specials of both formats: zeros, smallest and largest subnormals,
/// largest finite, infinities, NaNs (quiet and signalling).
const SPECIALS: [u16; 16] = [
    0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0x7C00, 0xFC00, 0x7C01, 0x0001, 0x807F, 0x7F7F, 0x7F80,
    0xFF80, 0x7F81, 0x7FC0, 0x0080,
];

/// Which of `Operands::lane`'s candidates `b` is, by the top nibble of the
/// draw: half the lanes independent, then negated, near-negated, special,
/// same exponent.
const B_KIND: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 4, 4, 4];

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Operands {
    fn new(seed: u64, dev: u32, dtype: Dtype) -> Self {
        Operands {
            seed: seed ^ (dev as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
            dtype,
        }
    }

    /// Draw `n` (0-based) of the device's SplitMix64 stream.
    #[inline]
    fn draw(&self, n: u64) -> u64 {
        let mut z = self
            .seed
            .wrapping_add(n.wrapping_add(1).wrapping_mul(GOLDEN));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One lane's operands. The choices are table look-ups, not branches:
    /// on random data every branch here was a misprediction.
    #[inline]
    fn lane(r: u64, exp_mask: u16) -> (u16, u16) {
        let sel = (r >> 56) as u8;
        let a = if sel & 0xF == 0 {
            SPECIALS[(r >> 48) as usize & 15]
        } else {
            r as u16
        };
        let x = (r >> 16) as u16;
        let neg = a ^ 0x8000;
        let candidates = [
            x,
            neg,
            neg.wrapping_add(x & 7).wrapping_sub(3),
            SPECIALS[(x & 15) as usize],
            (a & (0x8000 | exp_mask)) ^ (x & !exp_mask & 0x7FFF) ^ (x & 0x8000),
        ];
        (a, candidates[B_KIND[(sel >> 4) as usize] as usize])
    }

    /// Burst `k` of the device's stream.
    fn burst(&self, k: u64) -> AluIn {
        let mut i = AluIn {
            dtype: self.dtype,
            a: [0; LANES],
            b: [0; LANES],
        };
        let exp_mask: u16 = match self.dtype {
            Dtype::Fp16 => 0x7C00,
            Dtype::Bf16 => 0x7F80,
        };
        let base = k.wrapping_mul(LANES as u64);
        for l in 0..LANES {
            (i.a[l], i.b[l]) = Self::lane(self.draw(base + l as u64), exp_mask);
        }
        i
    }
}

pub(super) struct NmcChecker {
    mode: &'static str,
    devs: Vec<Option<NmcInst>>,
    dtype: Dtype,
    fault: Option<Fault>,
    tracing: Tracing,
    checked: u64,
    seed: u64,
    failed_at: u64,
}

impl NmcChecker {
    pub(super) fn new(mode: &'static str, s: &Settings, dtype: Dtype) -> Self {
        NmcChecker {
            mode,
            devs: Vec::new(),
            dtype,
            fault: s.fault,
            tracing: Tracing::new(s.trace.clone(), Block::Nmc),
            checked: 0,
            seed: s.seed,
            failed_at: u64::MAX,
        }
    }
}

impl Checker for NmcChecker {
    type Ev = NmcEv;

    fn check(&mut self, batch: &[NmcEv]) -> Result<(), Box<ReplayDivergence>> {
        for ev in batch {
            let (dev, d) = (ev.dev, ev.dev as usize);
            if self.devs.len() <= d {
                self.devs.resize_with(d + 1, || None);
            }
            let target = self.tracing.is_device_target(dev);
            let inst = self.devs[d].get_or_insert_with(|| NmcInst {
                rtl: AluRtl::new(target),
                steps: 0,
            });
            let operands = Operands::new(self.seed, dev, self.dtype);
            let faulty = Fault::hits(self.fault, Block::Nmc, ev.cycle);
            for k in ev.first..ev.first + ev.bursts as u64 {
                // The burst's index in the device's stream: the RTL edge
                // of the device's one ALU when a single checker runs (as
                // in a waveform re-run).
                let step = k;
                let i = operands.burst(k);
                let expected = NmcAluModel.step(i);
                let mut seen = i;
                if faulty {
                    seen.b[0] = seen.b[0].wrapping_add(1);
                }
                if target {
                    self.tracing.before_edge(&mut inst.rtl, step);
                }
                let actual = inst.rtl.step(seen);
                inst.steps += 1;
                self.checked += 1;
                if actual != expected {
                    let waveform = self.tracing.at(target, &mut inst.rtl);
                    self.failed_at = ev.seq;
                    let site = Site {
                        block: Block::Nmc,
                        mode: self.mode,
                        device: dev,
                        channel: Some(ev.channel),
                        cycle: ev.cycle,
                        step,
                        seed: self.seed,
                    };
                    return Err(site.outputs(&seen, &expected, &actual, waveform));
                }
            }
        }
        Ok(())
    }

    fn summary(&self) -> BlockCheck {
        let steps = self.devs.iter().flatten().map(|i| i.steps);
        edge_summary("nmc", self.mode, self.checked, steps)
    }

    fn failed_at(&self) -> u64 {
        self.failed_at
    }
}

// ----- t3-mca arbiter -----
