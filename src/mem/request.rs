//! What enters the memory system: requests tagged with their stream.

use serde::{Deserialize, Serialize};

/// The DRAM operation a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Read,
    Write,
    /// Near-memory op-and-store: `mem[a] += data`, executed in the bank.
    Update,
}

/// Which traffic a request belongs to. Stats are kept per stream; the
/// arbitration policy sees only the [`StreamClass`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stream {
    GemmRead,
    GemmWrite,
    RsRead,
    RsWrite,
    NmcUpdate,
    DmaRead,
    /// Plain memory traces (`t3sim mem`).
    TraceRead,
    TraceWrite,
}

/// The two streams a controller arbitrates between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StreamClass {
    Compute,
    Comm,
}

impl Stream {
    pub const ALL: [Stream; 8] = [
        Stream::GemmRead,
        Stream::GemmWrite,
        Stream::RsRead,
        Stream::RsWrite,
        Stream::NmcUpdate,
        Stream::DmaRead,
        Stream::TraceRead,
        Stream::TraceWrite,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in reports (`gemm-read`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stream::GemmRead => "gemm-read",
            Stream::GemmWrite => "gemm-write",
            Stream::RsRead => "rs-read",
            Stream::RsWrite => "rs-write",
            Stream::NmcUpdate => "nmc-update",
            Stream::DmaRead => "dma-read",
            Stream::TraceRead => "trace-read",
            Stream::TraceWrite => "trace-write",
        }
    }

    /// GEMM and plain-trace traffic is compute; everything the collective
    /// moves is communication.
    pub fn class(self) -> StreamClass {
        match self {
            Stream::GemmRead | Stream::GemmWrite | Stream::TraceRead | Stream::TraceWrite => {
                StreamClass::Compute
            }
            Stream::RsRead | Stream::RsWrite | Stream::NmcUpdate | Stream::DmaRead => {
                StreamClass::Comm
            }
        }
    }
}

/// One memory request of one burst (the channel's access size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub addr: u64,
    pub op: Op,
    pub stream: Stream,
    /// The caller's tag, returned with the completion.
    pub tag: u64,
}

/// A finished request: reads complete when their data has returned,
/// writes and updates when the bank has accepted the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub tag: u64,
    pub stream: Stream,
    pub op: Op,
    /// DRAM cycle at which the request finished.
    pub cycle: u64,
    /// Cycles from arrival at the controller to completion.
    pub latency_cycles: u64,
    /// Bytes it moved (a run of bursts moves several accesses).
    pub bytes: u64,
    /// The (pseudo-)channel that served it.
    pub channel: u32,
}
