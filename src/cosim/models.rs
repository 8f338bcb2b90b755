//! The Rust reference models as [`Block`]s, with the port bundles of the
//! blocks that have no cycle-level type elsewhere.

use std::fmt;

use super::{Block, Observed};
use crate::mem::arbiter::{Grant, McaCycleIn, McaCycleModel};
use crate::mem::nmc_alu::{Dtype, add_bf16, add_f16};
use crate::t3::{Tracker, TrackerIn, TrackerOut};

/// Lanes of one NMC ALU burst (32 x 16 bits = one 64-B column access).
pub const LANES: usize = 32;

/// One burst presented to the NMC ALU.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AluIn {
    pub dtype: Dtype,
    pub a: [u16; LANES],
    pub b: [u16; LANES],
}

/// The lane-wise sums of one burst.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AluOut {
    pub sum: [u16; LANES],
}

struct Hex<'a>(&'a [u16]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{v:04x}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for AluIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AluIn")
            .field("dtype", &self.dtype)
            .field("a", &Hex(&self.a))
            .field("b", &Hex(&self.b))
            .finish()
    }
}

impl fmt::Debug for AluOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AluOut")
            .field("sum", &Hex(&self.sum))
            .finish()
    }
}

impl Observed for AluOut {
    fn differences(&self, actual: &Self) -> String {
        let lanes: Vec<String> = (0..LANES)
            .filter(|&l| self.sum[l] != actual.sum[l])
            .map(|l| {
                format!(
                    "sum[{l}]: expected {:#06x}, actual {:#06x}",
                    self.sum[l], actual.sum[l]
                )
            })
            .collect();
        lanes.join("; ")
    }
}

/// The NMC ALU reference: `nmc_alu::add_f16` / `add_bf16` per lane.
#[derive(Debug, Clone, Copy, Default)]
pub struct NmcAluModel;

impl Block for NmcAluModel {
    type In = AluIn;
    type Out = AluOut;
    fn step(&mut self, i: AluIn) -> AluOut {
        let add = match i.dtype {
            Dtype::Fp16 => add_f16,
            Dtype::Bf16 => add_bf16,
        };
        AluOut {
            sum: std::array::from_fn(|l| add(i.a[l], i.b[l])),
        }
    }
}

impl Block for Tracker {
    type In = TrackerIn;
    type Out = TrackerOut;
    fn step(&mut self, i: TrackerIn) -> TrackerOut {
        Tracker::step(self, i)
    }
}

fn field<T: PartialEq + fmt::Debug>(name: &str, e: &T, a: &T, out: &mut Vec<String>) {
    if e != a {
        out.push(format!("{name}: expected {e:?}, actual {a:?}"));
    }
}

impl Observed for TrackerOut {
    fn differences(&self, actual: &Self) -> String {
        let mut v = Vec::new();
        field("accept", &self.accept, &actual.accept, &mut v);
        field("fire", &self.fire, &actual.fire, &mut v);
        field("occupancy", &self.occupancy, &actual.occupancy, &mut v);
        v.join("; ")
    }
}

/// The arbiter's ports for one cycle: the settings are ports too, so one
/// RTL build covers every threshold and limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct McaIn {
    pub cycle: McaCycleIn,
    pub threshold: u16,
    pub limit: u32,
}

/// `rtl/mca_arbiter.v`'s outputs after one edge: the grant and the
/// starvation counter (the value the next edge's grant uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McaOut {
    pub grant: Grant,
    pub starve: u32,
}

impl Block for McaCycleModel {
    type In = McaIn;
    type Out = McaOut;
    fn step(&mut self, i: McaIn) -> McaOut {
        self.threshold = i.threshold;
        self.limit = i.limit;
        let grant = McaCycleModel::step(self, i.cycle);
        McaOut {
            grant,
            starve: self.starve_cycles(),
        }
    }
}

impl Observed for McaOut {
    fn differences(&self, actual: &Self) -> String {
        let mut v = Vec::new();
        field("grant", &self.grant, &actual.grant, &mut v);
        field("starve", &self.starve, &actual.starve, &mut v);
        v.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alu_model_adds_each_lane_in_the_chosen_format() {
        let mut a = [0u16; LANES];
        let b = [0x3C00u16; LANES]; // 1.0 in FP16
        a[3] = 0x3C00;
        let out = NmcAluModel.step(AluIn {
            dtype: Dtype::Fp16,
            a,
            b,
        });
        assert_eq!(out.sum[3], 0x4000);
        assert_eq!(out.sum[0], 0x3C00);
        let one = 0x3F80u16; // 1.0 in BF16
        let out = NmcAluModel.step(AluIn {
            dtype: Dtype::Bf16,
            a: [one; LANES],
            b: [one; LANES],
        });
        assert_eq!(out.sum, [0x4000; LANES]);
        let other = AluOut {
            sum: [0x4000; LANES],
        };
        let mut diff = other;
        diff.sum[5] = 0x4001;
        assert_eq!(
            other.differences(&diff),
            "sum[5]: expected 0x4000, actual 0x4001"
        );
    }

    #[test]
    fn mca_block_takes_its_settings_from_the_ports() {
        let mut m = McaCycleModel::new(0, 0);
        let busy = McaCycleIn {
            compute_waiting: true,
            comm_waiting: true,
            compute_occupancy: 10,
            comm_served: false,
        };
        let i = McaIn {
            cycle: busy,
            threshold: 4,
            limit: 2,
        };
        let g: Vec<(Grant, u32)> = (0..3)
            .map(|_| {
                let o = Block::step(&mut m, i);
                (o.grant, o.starve)
            })
            .collect();
        assert_eq!(
            g,
            [
                (Grant::ComputeOnly, 1),
                (Grant::ComputeOnly, 2),
                (Grant::CommFirst, 3)
            ]
        );
    }
}
