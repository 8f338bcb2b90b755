//! The values the functional check follows: each device's contribution to
//! each output tile as an exact integer signature.

use crate::gpu::gemm::GemmGeom;

/// An exact integer signature of a contribution, summed with wrapping
/// arithmetic so the functional check is independent of summation order.
/// Device `d`'s contribution to tile `t` is `signature(t - d * per_chunk
/// mod tiles)`: every device's contributions to a tile differ (so a lost or
/// doubled one changes the sum), and the ring's devices are rotations of
/// each other, which the symmetric shortcut relies on.
pub fn signature(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Device `d`'s contribution to tile `t` of `g`'s output.
pub(super) fn sig(g: &GemmGeom, d: u32, t: u64) -> u64 {
    let tiles = g.tiles();
    let per_chunk = g.chunk_tiles(0).end;
    signature((t + tiles - (d as u64 * per_chunk) % tiles) % tiles)
}
