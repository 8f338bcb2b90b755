//! The near-bank ALU of compute-enhanced memory: lane-wise `a + b` on one
//! burst of FP16 or BF16 values with IEEE round-to-nearest-even.
//!
//! Bit-exact contract (the RTL in `rtl/nmc_alu.v` implements the same):
//! - normal and subnormal operands and results, RNE, overflow to infinity;
//! - `x + (-x)` is `+0`; `-0 + -0` is `-0`;
//! - `inf + -inf` and any NaN operand give the canonical quiet NaN
//!   (`0x7E00` for FP16, `0x7FC0` for BF16), whatever the payloads.
//!
//! The sum is computed in f32 and rounded once to the 16-bit format. That is
//! exact here: the f32 sum of two FP16 (p = 11) or BF16 (p = 8) numbers,
//! rounded to nearest, is innocuous under double rounding because
//! 24 >= 2p + 2 (Figueroa 1995), and a sum that underflows is exact.

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

/// Lane element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    Fp16,
    Bf16,
}

impl Dtype {
    pub fn parse(s: &str) -> Option<Dtype> {
        match s {
            "fp16" => Some(Dtype::Fp16),
            "bf16" => Some(Dtype::Bf16),
            _ => None,
        }
    }
}

pub const FP16_QNAN: u16 = 0x7E00;
pub const BF16_QNAN: u16 = 0x7FC0;

/// FP16 a + b, RNE, canonical NaN.
#[inline]
pub fn add_f16(a: u16, b: u16) -> u16 {
    let s = f16::from_bits(a).to_f32() + f16::from_bits(b).to_f32();
    if s.is_nan() {
        return FP16_QNAN;
    }
    f16::from_f32(s).to_bits()
}

/// BF16 a + b, RNE, canonical NaN.
#[inline]
pub fn add_bf16(a: u16, b: u16) -> u16 {
    let s = bf16::from_bits(a).to_f32() + bf16::from_bits(b).to_f32();
    if s.is_nan() {
        return BF16_QNAN;
    }
    bf16::from_f32(s).to_bits()
}

/// Adds `src` into `dst` lane by lane (little-endian 16-bit lanes).
pub fn add_lanes(dtype: Dtype, dst: &mut [u8], src: &[u8]) {
    let f = match dtype {
        Dtype::Fp16 => add_f16,
        Dtype::Bf16 => add_bf16,
    };
    for (d, s) in dst.chunks_exact_mut(2).zip(src.chunks_exact(2)) {
        let r = f(
            u16::from_le_bytes([d[0], d[1]]),
            u16::from_le_bytes([s[0], s[1]]),
        );
        d.copy_from_slice(&r.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: f32) -> u16 {
        f16::from_f32(x).to_bits()
    }

    #[test]
    fn fp16_sums_round_to_nearest_even() {
        assert_eq!(add_f16(h(1.0), h(2.0)), h(3.0));
        // 2048 + 1 is a tie between 2048 and 2050: even mantissa wins.
        assert_eq!(add_f16(h(2048.0), h(1.0)), h(2048.0));
        assert_eq!(add_f16(h(2050.0), h(1.0)), h(2052.0));
        // Overflow to infinity.
        assert_eq!(add_f16(h(65504.0), h(65504.0)), 0x7C00);
        // Subnormals add exactly.
        assert_eq!(add_f16(0x0001, 0x0001), 0x0002);
        assert_eq!(add_f16(0x03FF, 0x0001), 0x0400);
    }

    #[test]
    fn signed_zero_and_nan_rules() {
        assert_eq!(add_f16(h(1.5), h(-1.5)), 0x0000);
        assert_eq!(add_f16(0x8000, 0x8000), 0x8000);
        assert_eq!(add_f16(0x7C00, 0xFC00), FP16_QNAN);
        assert_eq!(add_f16(0x7D01, h(1.0)), FP16_QNAN);
        assert_eq!(add_bf16(0x7F80, 0xFF80), BF16_QNAN);
        assert_eq!(
            add_bf16(bf16::from_f32(1.0).to_bits(), bf16::from_f32(1.0).to_bits()),
            bf16::from_f32(2.0).to_bits()
        );
    }

    #[test]
    fn lanes_add_independently() {
        let mut d = [0u8; 8];
        let mut s = [0u8; 8];
        for i in 0..4 {
            d[2 * i..2 * i + 2].copy_from_slice(&h(i as f32).to_le_bytes());
            s[2 * i..2 * i + 2].copy_from_slice(&h(0.5).to_le_bytes());
        }
        add_lanes(Dtype::Fp16, &mut d, &s);
        for i in 0..4 {
            let v = u16::from_le_bytes([d[2 * i], d[2 * i + 1]]);
            assert_eq!(f16::from_bits(v).to_f32(), i as f32 + 0.5);
        }
    }
}
