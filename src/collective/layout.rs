//! Where a collective's data lives in one device's memory: its buffer in
//! `n` chunks (one per device of the collective) of whole tiles, pipelined
//! in slices of whole tiles, and a receive buffer of two chunk slots for
//! kernel execution. Each device keeps the buffer rotated: chunk `c` in
//! slot `(c - rank) mod n`, so every device touches the same addresses at
//! the same point of its schedule (device `r` works on chunk `r + s` in
//! stage or step `s`). That makes a ring of identical devices exactly
//! symmetric, which the symmetric shortcut relies on.
//!
//! The buffer is a GEMM's output C (its tiles the GEMM's output tiles,
//! chunks bands of tile rows), or a plain buffer of `bytes` cut into tiles
//! of [`PLAIN_TILE_BYTES`].

use crate::gpu::gemm::GemmGeom;
use std::ops::Range;
use std::sync::Arc;

/// Slices a chunk is split into at least, so that small messages are
/// pipelined rather than store-and-forward (as NCCL does).
const MIN_SLICES: u64 = 4;

/// Tile of a plain buffer: the granule of its values (functional check)
/// and of its slices.
pub const PLAIN_TILE_BYTES: u64 = 32 << 10;

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// A chunked buffer.
#[derive(Debug, Clone)]
pub struct ChunkedBuffer {
    n: u32,
    /// Byte offset of each tile in the unrotated buffer (`tiles + 1`
    /// entries, chunk after chunk).
    tile_off: Arc<Vec<u64>>,
    chunk_len: u64,
    base: u64,
    recv_base: u64,
    recv_stride: u64,
    end: u64,
    tiles_per_slice: u64,
    slices: u32,
}

impl ChunkedBuffer {
    /// The output of `g` (in `g`'s chunks), in slices of at most
    /// `slice_bytes` (whole tiles, at least one tile and at least
    /// [`MIN_SLICES`] slices a chunk).
    pub fn over_gemm_output(g: &GemmGeom, slice_bytes: u64) -> ChunkedBuffer {
        let chunk_len = g.chunk_tiles(0).end;
        ChunkedBuffer::new(
            g.tp as u32,
            Arc::new(g.tile_offsets()[..=(g.tp * chunk_len) as usize].to_vec()),
            chunk_len,
            g.c_base,
            g.recv_base,
            (g.end - g.recv_base) / 2,
            g.end,
            slice_bytes,
        )
    }

    /// A plain buffer of `n` chunks of `chunk_bytes` (whole lines) at
    /// `base` (1-MiB aligned), its receive buffer after it.
    pub fn plain(n: u32, chunk_bytes: u64, base: u64, slice_bytes: u64) -> ChunkedBuffer {
        let n = n.max(1);
        let per_chunk = chunk_bytes.div_ceil(PLAIN_TILE_BYTES).max(1);
        let mut tile_off = Vec::with_capacity((n as u64 * per_chunk + 1) as usize);
        for c in 0..n as u64 {
            for t in 0..per_chunk {
                tile_off.push(c * chunk_bytes + t * PLAIN_TILE_BYTES);
            }
        }
        tile_off.push(n as u64 * chunk_bytes);
        let base = round_up(base, 1 << 20);
        let recv_base = round_up(base + n as u64 * chunk_bytes, 1 << 20);
        let stride = round_up(chunk_bytes.max(1), 1 << 20);
        ChunkedBuffer::new(
            n,
            Arc::new(tile_off),
            per_chunk,
            base,
            recv_base,
            stride,
            recv_base + 2 * stride,
            slice_bytes,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        n: u32,
        tile_off: Arc<Vec<u64>>,
        chunk_len: u64,
        base: u64,
        recv_base: u64,
        recv_stride: u64,
        end: u64,
        slice_bytes: u64,
    ) -> ChunkedBuffer {
        let tile_bytes = (tile_off[1] - tile_off[0]).max(1);
        let tiles_per_slice = (slice_bytes / tile_bytes)
            .min(chunk_len.div_ceil(MIN_SLICES))
            .clamp(1, chunk_len.max(1));
        let slices = chunk_len.div_ceil(tiles_per_slice) as u32;
        ChunkedBuffer {
            n,
            tile_off,
            chunk_len,
            base,
            recv_base,
            recv_stride,
            end,
            tiles_per_slice,
            slices,
        }
    }

    /// Chunks (devices of the collective).
    pub fn chunks(&self) -> u32 {
        self.n
    }

    /// Slices per chunk.
    pub fn slices(&self) -> u32 {
        self.slices
    }

    /// Tiles per chunk.
    pub fn chunk_len(&self) -> u64 {
        self.chunk_len
    }

    /// Tiles in the whole buffer.
    pub fn tiles(&self) -> u64 {
        self.n as u64 * self.chunk_len
    }

    /// First address past the buffer and its receive buffer.
    pub fn end(&self) -> u64 {
        self.end
    }

    pub fn chunk_tiles(&self, chunk: u32) -> Range<u64> {
        let c = chunk as u64;
        c * self.chunk_len..(c + 1) * self.chunk_len
    }

    /// The chunk holding `tile`.
    pub fn chunk_of(&self, tile: u64) -> u32 {
        (tile / self.chunk_len) as u32
    }

    /// (chunk, slice) of `tile`.
    pub fn slice_of(&self, tile: u64) -> (u32, u32) {
        let chunk = (tile / self.chunk_len) as u32;
        let slice = ((tile % self.chunk_len) / self.tiles_per_slice) as u32;
        (chunk, slice)
    }

    pub fn slice_tiles(&self, chunk: u32, slice: u32) -> Range<u64> {
        let t = self.chunk_tiles(chunk);
        let a = t.start + slice as u64 * self.tiles_per_slice;
        a..(a + self.tiles_per_slice).min(t.end)
    }

    /// Offset of `tile` in the unrotated buffer, and its size.
    fn span(&self, tile: u64) -> (u64, u64) {
        let a = self.tile_off[tile as usize];
        (a, self.tile_off[tile as usize + 1] - a)
    }

    /// Bytes of `tile` as stored.
    pub fn tile_bytes(&self, tile: u64) -> u64 {
        self.span(tile).1
    }

    /// Bytes of chunk `chunk`.
    pub fn chunk_bytes(&self, chunk: u32) -> u64 {
        let t = self.chunk_tiles(chunk);
        self.tile_off[t.end as usize] - self.tile_off[t.start as usize]
    }

    /// Where the device of rank `rank` keeps `tile`.
    pub fn tile_addr(&self, rank: u32, tile: u64) -> u64 {
        let c = self.chunk_of(tile);
        let c0 = self.tile_off[self.chunk_tiles(c).start as usize];
        let slot = (c + self.n - rank % self.n) % self.n;
        self.base + slot as u64 * self.chunk_bytes(c) + (self.span(tile).0 - c0)
    }

    /// (address, bytes) of a slice of `chunk` in the memory of the device
    /// of rank `rank`.
    pub fn own_slice(&self, rank: u32, chunk: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.span(t.start);
        let (b, bl) = self.span(t.end - 1);
        (self.tile_addr(rank, t.start), b + bl - a)
    }

    /// (address, bytes) of a slice in the receive buffer of `step`.
    pub fn recv_slice(&self, chunk: u32, step: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.span(t.start);
        let (b, bl) = self.span(t.end - 1);
        let c0 = self.tile_off[self.chunk_tiles(chunk).start as usize];
        (
            self.recv_base + (step % 2) as u64 * self.recv_stride + (a - c0),
            b + bl - a,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Model, SubLayer, generate};

    #[test]
    fn a_gemm_output_buffer_keeps_the_gemm_layout() {
        for tp in [2, 8, 16] {
            let t = generate(Model::Tnlg, tp, SubLayer::Fc2, 2048).unwrap();
            let g = GemmGeom::new(t.gemm().unwrap(), tp);
            let b = ChunkedBuffer::over_gemm_output(&g, 512 << 10);
            assert_eq!(b.tiles(), g.tiles());
            for dev in [0, 1, tp - 1] {
                for tile in (0..g.tiles()).step_by(7) {
                    assert_eq!(b.tile_addr(dev, tile), g.c_addr(dev, tile));
                    assert_eq!(b.tile_bytes(tile), g.tile_span(tile).1);
                }
            }
        }
    }

    #[test]
    fn a_plain_buffer_tiles_every_chunk_and_its_slots_do_not_overlap() {
        let chunk = 3 * PLAIN_TILE_BYTES + 64;
        let b = ChunkedBuffer::plain(4, chunk, 5 << 20, 512 << 10);
        assert_eq!(b.chunk_len(), 4);
        for c in 0..4 {
            assert_eq!(b.chunk_bytes(c), chunk);
        }
        let mut spans: Vec<(u64, u64)> = (0..b.tiles())
            .map(|t| (b.tile_addr(1, t), b.tile_bytes(t)))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0, "tiles are packed, no overlap");
        }
        assert!(spans[0].0 >= 5 << 20);
        let (r, rb) = b.recv_slice(3, 1, 0);
        assert!(r >= spans.last().map(|s| s.0 + s.1).unwrap() && r + rb <= b.end());
    }
}
