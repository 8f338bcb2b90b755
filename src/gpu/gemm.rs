//! Geometry and data layout of one device's GEMM: output tiles, k-steps,
//! the blocks of A and B a tile step reads, and where everything lives in
//! the device's memory.
//!
//! Layout (documented in ARCHITECTURE.md): A and B are stored blocked, one
//! k-step block contiguous (what a high-performance kernel's packing or
//! 128-B coalesced loads achieve), so a block miss is one contiguous run of
//! DRAM lines. The output C is stored tile by tile in row-major tile order,
//! so each reduce-scatter chunk (a band of tile rows) is contiguous.

use crate::trace::GemmOp;

/// Bytes of one DRAM line the model moves per request.
pub const LINE: u64 = 64;

/// Tile rows per raster group (Triton's GROUP_M); see [`GemmGeom::raster`].
pub const RASTER_GROUP_ROWS: u64 = 8;

fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

/// The tiles, blocks and regions of one device's GEMM.
#[derive(Debug, Clone)]
pub struct GemmGeom {
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub tile_m: u64,
    pub tile_n: u64,
    pub tile_k: u64,
    pub tile_rows: u64,
    pub tile_cols: u64,
    pub k_steps: u64,
    pub tp: u64,
    /// Byte offset of each tile in C (prefix sums; `tiles + 1` entries).
    tile_off: Vec<u64>,
    pub a_base: u64,
    pub b_base: u64,
    pub c_base: u64,
    /// A receive buffer of two chunks, for the kernel reduce-scatter.
    pub recv_base: u64,
    pub end: u64,
    /// Block size the L2 is modelled at (a power of two holding either
    /// block).
    pub block_bytes: u64,
}

impl GemmGeom {
    /// The GEMM `g` laid out from address 0, its output split into `tp`
    /// chunks.
    pub fn new(g: &GemmOp, tp: u32) -> GemmGeom {
        GemmGeom::at(g, tp, 0)
    }

    /// The GEMM `g` laid out from `base` (1-MiB aligned), its output split
    /// into `chunks` chunks for the collective that consumes it (1 when
    /// none does).
    pub fn at(g: &GemmOp, chunks: u32, base: u64) -> GemmGeom {
        let tp = chunks.max(1);
        let tile_m = g.tile_m as u64;
        let tile_n = g.tile_n as u64;
        let tile_k = g.tile_k as u64;
        let tile_rows = g.m.div_ceil(tile_m);
        let tile_cols = g.n.div_ceil(tile_n);
        let k_steps = g.k.div_ceil(tile_k);
        let mut tile_off = Vec::with_capacity((tile_rows * tile_cols + 1) as usize);
        let mut off = 0;
        tile_off.push(0);
        for r in 0..tile_rows {
            for c in 0..tile_cols {
                let h = tile_m.min(g.m - r * tile_m);
                let w = tile_n.min(g.n - c * tile_n);
                off += round_up(h * w * 2, LINE);
                tile_off.push(off);
            }
        }
        let a_bytes = tile_rows * k_steps * round_up(tile_m * tile_k * 2, LINE);
        let b_bytes = tile_cols * k_steps * round_up(tile_k * tile_n * 2, LINE);
        let a_base = round_up(base, 1 << 20);
        let b_base = round_up(a_base + a_bytes, 1 << 20);
        let c_base = round_up(b_base + b_bytes, 1 << 20);
        let recv_base = round_up(c_base + off, 1 << 20);
        let chunk = off / tp as u64 + (1 << 20);
        let end = recv_base + 2 * round_up(chunk, 1 << 20);
        let block_bytes = (tile_m * tile_k * 2)
            .max(tile_k * tile_n * 2)
            .max(32)
            .next_power_of_two();
        GemmGeom {
            m: g.m,
            n: g.n,
            k: g.k,
            tile_m,
            tile_n,
            tile_k,
            tile_rows,
            tile_cols,
            k_steps,
            tp: tp as u64,
            tile_off,
            a_base,
            b_base,
            c_base,
            recv_base,
            end,
            block_bytes,
        }
    }

    pub fn tiles(&self) -> u64 {
        self.tile_rows * self.tile_cols
    }

    pub fn tile_rc(&self, t: u64) -> (u64, u64) {
        (t / self.tile_cols, t % self.tile_cols)
    }

    pub fn tile_h(&self, r: u64) -> u64 {
        self.tile_m.min(self.m - r * self.tile_m)
    }

    pub fn tile_w(&self, c: u64) -> u64 {
        self.tile_n.min(self.n - c * self.tile_n)
    }

    pub fn step_k(&self, k: u64) -> u64 {
        self.tile_k.min(self.k - k * self.tile_k)
    }

    /// FLOPs of one k-step of tile `t`.
    pub fn step_flops(&self, t: u64, k: u64) -> u64 {
        let (r, c) = self.tile_rc(t);
        2 * self.tile_h(r) * self.tile_w(c) * self.step_k(k)
    }

    /// (address, bytes) of A's block for tile row `r`, step `k`.
    pub fn a_block(&self, r: u64, k: u64) -> (u64, u64) {
        let stride = round_up(self.tile_m * self.tile_k * 2, LINE);
        let bytes = round_up(self.tile_h(r) * self.step_k(k) * 2, LINE);
        (self.a_base + (r * self.k_steps + k) * stride, bytes)
    }

    /// (address, bytes) of B's block for step `k`, tile column `c`.
    pub fn b_block(&self, k: u64, c: u64) -> (u64, u64) {
        let stride = round_up(self.tile_k * self.tile_n * 2, LINE);
        let bytes = round_up(self.step_k(k) * self.tile_w(c) * 2, LINE);
        (self.b_base + (c * self.k_steps + k) * stride, bytes)
    }

    /// Byte offset of tile `t` within C, and its size.
    pub fn tile_span(&self, t: u64) -> (u64, u64) {
        let a = self.tile_off[t as usize];
        (a, self.tile_off[t as usize + 1] - a)
    }

    /// Byte offset of each tile within C, and the end (`tiles + 1`
    /// entries).
    pub fn tile_offsets(&self) -> &[u64] {
        &self.tile_off
    }

    /// Output bytes (as stored, whole lines).
    pub fn output_bytes(&self) -> u64 {
        self.tile_off[self.tile_off.len() - 1]
    }

    /// The order a GEMM kernel dispatches the tiles of `rows` (a band of
    /// tile rows): groups of [`RASTER_GROUP_ROWS`] tile rows, column-major
    /// within a group, so tiles running together share A blocks (same
    /// rows) and B blocks (same columns) in the L2. Row-major order would
    /// refetch all of B for every wave on wide outputs.
    pub fn raster(&self, rows: std::ops::Range<u64>) -> Vec<u64> {
        let mut out = Vec::with_capacity(((rows.end - rows.start) * self.tile_cols) as usize);
        let mut g = rows.start;
        while g < rows.end {
            let ge = (g + RASTER_GROUP_ROWS).min(rows.end);
            for c in 0..self.tile_cols {
                for r in g..ge {
                    out.push(r * self.tile_cols + c);
                }
            }
            g = ge;
        }
        out
    }

    /// Tile rows of chunk `c`.
    pub fn chunk_rows(&self, chunk: u64) -> std::ops::Range<u64> {
        let rows = self.tile_rows / self.tp;
        chunk * rows..(chunk + 1) * rows
    }

    /// Tiles of reduce-scatter chunk `c`: a band of tile rows.
    pub fn chunk_tiles(&self, chunk: u64) -> std::ops::Range<u64> {
        let rows = self.tile_rows / self.tp;
        chunk * rows * self.tile_cols..(chunk + 1) * rows * self.tile_cols
    }

    /// Bytes of chunk `c` (offset within C, size).
    pub fn chunk_span(&self, chunk: u64) -> (u64, u64) {
        let t = self.chunk_tiles(chunk);
        let a = self.tile_off[t.start as usize];
        (a, self.tile_off[t.end as usize] - a)
    }

    /// Where device `dev` keeps output tile `t`. Each device lays its output
    /// out rotated, chunk `c` in slot `(c - dev) mod tp`, so every device
    /// touches the same addresses at the same point of its schedule (device
    /// `d` works on chunk `d + s` in stage or step `s`). That makes the ring
    /// exactly symmetric, which the symmetric shortcut relies on.
    pub fn c_addr(&self, dev: u32, t: u64) -> u64 {
        let per_chunk = self.chunk_tiles(0).end;
        let c = t / per_chunk;
        let (c0, chunk_bytes) = self.chunk_span(c);
        let slot = (c + self.tp - dev as u64) % self.tp;
        self.c_base + slot * chunk_bytes + (self.tile_span(t).0 - c0)
    }

    /// The row band of A that device `dev` keeps for tile row `r`: A is laid
    /// out rotated like C (see [`Self::c_addr`]), the row band of chunk `c`
    /// in slot `(c - dev) mod tp`.
    pub fn a_row_slot(&self, dev: u32, r: u64) -> u64 {
        let rows_per_chunk = self.tile_rows / self.tp;
        (r + self.tile_rows - (dev as u64 * rows_per_chunk) % self.tile_rows) % self.tile_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Model, SubLayer, generate};

    #[test]
    fn chunks_partition_the_output_into_contiguous_bands() {
        let t = generate(Model::Tnlg, 8, SubLayer::Fc2, 8192).unwrap();
        let g = GemmGeom::new(t.gemm().unwrap(), 8);
        let mut end = 0;
        for c in 0..8 {
            let (a, b) = g.chunk_span(c);
            assert_eq!(a, end);
            end = a + b;
        }
        assert_eq!(end, g.output_bytes());
        // Edge tiles are narrower: 4256 = 33 * 128 + 32.
        assert_eq!(g.tile_w(g.tile_cols - 1), 32);
        let flops: u64 = (0..g.tiles())
            .flat_map(|t| (0..g.k_steps).map(move |k| (t, k)))
            .map(|(t, k)| g.step_flops(t, k))
            .sum();
        assert_eq!(flops, 2 * 8192 * 4256 * (4 * 4256 / 8));
    }
}
