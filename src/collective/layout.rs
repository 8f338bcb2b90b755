//! Where a collective's data lives in one device's memory: the chunks of a
//! GEMM's output (tile bands laid out rotated per device, see
//! [`GemmGeom::c_addr`]), pipelined in slices of whole tiles, and a
//! receive buffer of two chunk slots for kernel execution.

use crate::gpu::gemm::GemmGeom;
use std::ops::Range;
use std::sync::Arc;

/// Slices a chunk is split into at least, so that small messages are
/// pipelined rather than store-and-forward (as NCCL does).
const MIN_SLICES: u64 = 4;

/// A chunked buffer over a GEMM's output.
#[derive(Debug, Clone)]
pub struct ChunkedBuffer {
    g: Arc<GemmGeom>,
    tiles_per_slice: u64,
    slices: u32,
}

impl ChunkedBuffer {
    /// The output of `g`, in slices of at most `slice_bytes` (whole tiles,
    /// at least one tile and at least [`MIN_SLICES`] slices a chunk).
    pub fn over_gemm_output(g: Arc<GemmGeom>, slice_bytes: u64) -> ChunkedBuffer {
        let tile_bytes = g.tile_span(0).1.max(1);
        let chunk_tiles = g.chunk_tiles(0).end;
        let tiles_per_slice = (slice_bytes / tile_bytes)
            .min(chunk_tiles.div_ceil(MIN_SLICES))
            .clamp(1, chunk_tiles);
        let slices = chunk_tiles.div_ceil(tiles_per_slice) as u32;
        ChunkedBuffer {
            g,
            tiles_per_slice,
            slices,
        }
    }

    /// Slices per chunk.
    pub fn slices(&self) -> u32 {
        self.slices
    }

    /// Tiles per chunk.
    pub fn chunk_len(&self) -> u64 {
        self.g.chunk_tiles(0).end
    }

    /// Tiles in the whole buffer.
    pub fn tiles(&self) -> u64 {
        self.g.tiles()
    }

    pub fn chunk_tiles(&self, chunk: u32) -> Range<u64> {
        self.g.chunk_tiles(chunk as u64)
    }

    /// The chunk holding `tile`.
    pub fn chunk_of(&self, tile: u64) -> u32 {
        (tile / self.chunk_len()) as u32
    }

    /// (chunk, slice) of `tile`.
    pub fn slice_of(&self, tile: u64) -> (u32, u32) {
        let per_chunk = self.chunk_len();
        let chunk = (tile / per_chunk) as u32;
        let slice = ((tile % per_chunk) / self.tiles_per_slice) as u32;
        (chunk, slice)
    }

    pub fn slice_tiles(&self, chunk: u32, slice: u32) -> Range<u64> {
        let t = self.g.chunk_tiles(chunk as u64);
        let a = t.start + slice as u64 * self.tiles_per_slice;
        a..(a + self.tiles_per_slice).min(t.end)
    }

    /// Bytes of `tile` as stored.
    pub fn tile_bytes(&self, tile: u64) -> u64 {
        self.g.tile_span(tile).1
    }

    /// Where device `dev` keeps `tile`.
    pub fn tile_addr(&self, dev: u32, tile: u64) -> u64 {
        self.g.c_addr(dev, tile)
    }

    /// (address, bytes) of a slice of `chunk` in device `dev`'s memory (its
    /// own partial sums).
    pub fn own_slice(&self, dev: u32, chunk: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.g.tile_span(t.start);
        let (b, bl) = self.g.tile_span(t.end - 1);
        (self.g.c_addr(dev, t.start), b + bl - a)
    }

    /// (address, bytes) of a slice in the receive buffer of `step`.
    pub fn recv_slice(&self, chunk: u32, step: u32, slice: u32) -> (u64, u64) {
        let t = self.slice_tiles(chunk, slice);
        let (a, _) = self.g.tile_span(t.start);
        let (b, bl) = self.g.tile_span(t.end - 1);
        let (c0, _) = self.g.chunk_span(chunk as u64);
        let stride = (self.g.end - self.g.recv_base) / 2;
        (
            self.g.recv_base + (step % 2) as u64 * stride + (a - c0),
            b + bl - a,
        )
    }
}
