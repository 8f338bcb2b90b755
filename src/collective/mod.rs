//! Collective algorithms. A [`Collective`] is an algorithm over the devices
//! of a topology: what each device sends to whom and when, and what it does
//! with what arrives. It is chosen by name ([`by_name`]); a new algorithm is
//! one new file here and one line in [`by_name`].
//!
//! How partial sums are added is a property of the op's execution, not of
//! the algorithm: a kernel execution ([`Collective::kernel`]) runs the
//! algorithm's steps with a [`crate::modes::Reduction`] (a CU kernel with a
//! receive buffer, or near-memory updates); a fused execution (T3) takes
//! from the algorithm, per chunk, where a device's stores go, how many
//! contributions each tile receives, and where a completed chunk goes
//! next, so the remote mapping and the tracker's counts follow from the
//! algorithm rather than from the topology.

pub mod layout;
pub mod ring_ag;
pub mod ring_ar;
pub mod ring_rs;

pub use layout::ChunkedBuffer;

use crate::engine::Ps;
use crate::mem::{Op as MemOp, Stream};
use crate::modes::Reduction;

/// Where a device's stores of a chunk go under fused execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreTarget {
    /// Into the device's own memory, as tracked updates.
    Local,
    /// Into a peer's memory, over the link, as updates (remote_map).
    Remote(u32),
}

/// A collective algorithm over `devices()` devices, numbered by rank
/// (their order in the collective's group).
pub trait Collective: std::fmt::Debug + Send + Sync {
    /// The name it is chosen by.
    fn name(&self) -> &'static str;
    /// Devices taking part.
    fn devices(&self) -> u32;
    /// The algorithm on rank `rank` as a kernel over `buffer`.
    fn kernel(
        &self,
        rank: u32,
        exec: KernelExec,
        buffer: ChunkedBuffer,
    ) -> Box<dyn CollectiveDevice>;
    /// The schedule a fused execution (T3) follows, for an algorithm that
    /// reduces a producer's output.
    fn fused(&self) -> Option<&dyn FusedSchedule> {
        None
    }
    /// Under fused execution, what runs as a kernel on each rank once its
    /// fused part is complete there (an all-reduce's all-gather).
    fn after_fused(
        &self,
        _rank: u32,
        _exec: KernelExec,
        _buffer: ChunkedBuffer,
    ) -> Option<Box<dyn CollectiveDevice>> {
        None
    }
}

/// What a fused execution takes from a reducing algorithm, per rank and
/// chunk.
pub trait FusedSchedule {
    /// The chunk `rank` produces in stage `stage` (1-based).
    fn stage_chunk(&self, rank: u32, stage: u32) -> u32;
    /// The stage (1-based) in which `rank` produces `chunk`.
    fn stage_of(&self, rank: u32, chunk: u32) -> u32;
    /// Where `rank`'s own stores of `chunk` go.
    fn store_target(&self, rank: u32, chunk: u32) -> StoreTarget;
    /// How many whole-tile contributions (local stores and arriving
    /// updates) each tile of `chunk` receives in `rank`'s memory before it
    /// is complete there (the tracker's expected count per line).
    fn contributions(&self, rank: u32, chunk: u32) -> u32;
    /// Where `chunk` goes once complete in `rank`'s memory (sent by DMA as
    /// updates); `None` when `rank` owns its final value.
    fn forward(&self, rank: u32, chunk: u32) -> Option<u32>;
}

/// How a kernel execution runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelExec {
    pub reduction: Reduction,
    /// Each slice is sent only once its input is ready (the kernel runs
    /// beside its producer): see [`CollEnv::input_ready`].
    pub follows_producer: bool,
    /// Slices a device may be reading for sending at once.
    pub window: u32,
}

/// An opaque pair of numbers a collective gives a memory operation or a
/// transfer, and gets back with its completion or arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub kind: u8,
    pub a: u32,
    pub b: u32,
}

/// What a collective asks of the simulation it runs in, on one device.
pub trait CollEnv {
    fn now(&self) -> Ps;
    /// Opens a memory operation; when all its requests are done the
    /// collective's [`CollectiveDevice::mem_done`] gets `tag`.
    fn open(&mut self, tag: Tag) -> u32;
    /// Adds `bytes` at `addr` to operation `op`.
    fn issue(&mut self, op: u32, addr: u64, bytes: u64, kind: MemOp, stream: Stream);
    /// Keeps `op` from completing until [`Self::release`].
    fn hold(&mut self, op: u32);
    fn release(&mut self, op: u32);
    /// Sends a transfer of `bytes` to rank `dst`, carrying `vals`; it
    /// arrives there as [`CollectiveDevice::arrival`]s with `unit`.
    fn send(&mut self, dst: u32, unit: Tag, bytes: u64, vals: Vec<u64>);
    /// The device's values (functional-check signatures) of `tiles`.
    fn values(&self, tiles: std::ops::Range<u64>) -> Vec<u64>;
    /// Adds `vals` to the device's values of `tiles`.
    fn add_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]);
    /// Replaces the device's values of `tiles` with `vals`.
    fn set_values(&mut self, tiles: std::ops::Range<u64>, vals: &[u64]);
    /// Whether the producer has stored every tile of (chunk, slice).
    fn input_ready(&self, chunk: u32, slice: u32) -> bool;
}

/// One device's instance of a collective run as a kernel.
pub trait CollectiveDevice: std::fmt::Debug + dyn_clone::DynClone + Send {
    /// The kernel starts on this device.
    fn start(&mut self, env: &mut dyn CollEnv);
    /// A memory operation the collective opened is done.
    fn mem_done(&mut self, tag: Tag, env: &mut dyn CollEnv);
    /// A packet of a transfer sent to this device arrived; `vals` ride on
    /// the transfer's last packet.
    fn arrival(
        &mut self,
        unit: Tag,
        offset: u64,
        bytes: u32,
        vals: Option<Vec<u64>>,
        env: &mut dyn CollEnv,
    );
    /// The producer finished storing (chunk, slice).
    fn input_ready(&mut self, chunk: u32, slice: u32, env: &mut dyn CollEnv);
    /// When the kernel started, if it has.
    fn started_at(&self) -> Option<Ps>;
    /// When the device's part ended, if it has.
    fn ended_at(&self) -> Option<Ps>;
    /// What is unfinished (for deadlock reports).
    fn describe(&self) -> String;
}

dyn_clone::clone_trait_object!(CollectiveDevice);

/// Collective names `by_name` knows.
pub const NAMES: &[&str] = &["ring-reduce-scatter", "ring-all-gather", "ring-all-reduce"];

/// The algorithm called `name` over `devices` devices.
pub fn by_name(name: &str, devices: u32) -> Option<Box<dyn Collective>> {
    match name {
        "ring-reduce-scatter" => Some(Box::new(ring_rs::RingReduceScatter::new(devices))),
        "ring-all-gather" => Some(Box::new(ring_ag::RingAllGather::new(devices))),
        "ring-all-reduce" => Some(Box::new(ring_ar::RingAllReduce::new(devices))),
        _ => None,
    }
}
