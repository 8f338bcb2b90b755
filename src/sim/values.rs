//! The values the functional check follows: each device's contribution to
//! each tile of a collective buffer, as an exact integer signature summed
//! with wrapping arithmetic (so the check does not depend on summation
//! order).

use crate::collective::ChunkedBuffer;

/// An exact integer signature of a contribution.
pub fn signature(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Rank `r`'s contribution to tile `t` of the buffer whose values op
/// `owner` holds: `signature(t - r * chunk mod tiles)`, salted by the
/// owner. Every rank's contributions to a tile differ (so a lost or
/// doubled one changes the sum), and the ranks of a ring are rotations of
/// each other, which the symmetric shortcut relies on.
pub(super) fn sig(b: &ChunkedBuffer, owner: usize, r: u32, t: u64) -> u64 {
    let tiles = b.tiles();
    let per_chunk = b.chunk_len();
    let key = (t + tiles - (r as u64 * per_chunk) % tiles) % tiles;
    signature(key ^ ((owner as u64) << 40))
}

/// Tile `t` reduced over every rank.
pub(super) fn reduced(b: &ChunkedBuffer, owner: usize, t: u64) -> u64 {
    (0..b.chunks()).fold(0u64, |s, r| s.wrapping_add(sig(b, owner, r, t)))
}
