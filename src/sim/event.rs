//! The simulation's events, memory-operation continuations and transfer
//! payloads: one variant per component that gets called back.

use crate::collective::Tag;
use crate::engine::Ps;
use crate::gpu::GemmEvent;
use crate::net::Packet;

/// A scheduled event. Kept at 16 bytes (a queue entry at 32): the heap
/// moves entries on every pop.
#[derive(Debug, Clone)]
pub(super) enum Ev {
    /// Device `dev`'s memory system has a command due.
    MemWake { dev: u32 },
    /// All requests of memory operation `op` are done.
    OpDone { dev: u32, op: u32 },
    /// A GEMM engine's own event.
    Gemm { dev: u32, ev: GemmEvent },
    /// The next packet of a link's arrivals (`Wire`) lands.
    Arrival { link: u32 },
    /// A packet landing out of its link's order (not expected: a link's
    /// arrivals are in time order).
    Packet(Box<Packet<Unit>>),
    /// A port that ran out of credits may send again.
    SendRetry { dev: u32, port: u32 },
    /// A fixed-duration op ends.
    Timer { dev: u32, op: u32 },
}

const _: () = assert!(std::mem::size_of::<Ev>() <= 16);

/// What to do when a memory operation completes: which component asked.
#[derive(Debug, Clone)]
pub(super) enum Then {
    /// The CUs' fill of the block at `addr`.
    Fill { addr: u64 },
    /// A GEMM tile's output stores.
    Store { op: u32, tile: u64 },
    /// A collective kernel's operation.
    Coll { op: u32, tag: Tag },
    /// Every update to a tracked tile of fused collective `op` (local and
    /// remote) is performed.
    TileUpdates { op: u32, tile: u64 },
    /// The DMA engine read a triggered tile (started at `start`).
    DmaRead { op: u32, tile: u64, start: Ps },
    /// A send's data is read, ready to go on the link.
    SendRead { op: u32 },
    /// `bytes` of a recv's data have landed in memory.
    RecvLanded { op: u32, bytes: u64 },
}

/// What a transfer carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// A collective kernel's transfer.
    Coll { op: u32, tag: Tag },
    /// A tile of fused collective `op` (remote-mapped stores or a
    /// triggered DMA).
    Tile { op: u32, tile: u64 },
    /// The data of send `op`.
    Transfer { op: u32 },
}
