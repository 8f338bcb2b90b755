//! What a simulated run does: which kernels run, how the reduce-scatter
//! reduces, and the knobs of the collective.

/// How the ring reduce-scatter adds partial sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsKind {
    /// A compute kernel: the received chunk lands in a buffer; the kernel
    /// reads it and the local partial, adds on CUs, and sends or writes.
    Kernel,
    /// Received chunks are applied as near-memory updates to the local
    /// partial; a send reads the accumulated slice.
    Nmc,
}

/// Default watchdog: 10 ms of simulated time with nothing finishing (a
/// busy ring finishes memory operations every few nanoseconds).
pub const DEFAULT_WATCHDOG_PS: u64 = 10_000_000_000;

/// One simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub gemm: bool,
    /// The reduce-scatter, started on each device when its GEMM ends (or at
    /// once without a GEMM).
    pub rs: Option<RsKind>,
    /// Bytes of one pipelined reduce-scatter slice (rounded to whole tiles).
    pub rs_slice_bytes: u64,
    /// Slices a device may be reading for sending at once.
    pub rs_window: u32,
    /// t3-mca's occupancy threshold, when the run sets one.
    pub mca_threshold: Option<u32>,
    /// Longest run of same-row bursts sent as one memory request (1 = every
    /// burst its own request).
    pub max_run: u32,
    /// Staged, staggered tile order: device `i` computes chunk `(i+s) mod n`
    /// in stage `s`. T3 and software overlap need it; the other modes use
    /// it too (it changes nothing for a GEMM that finishes before its
    /// reduce-scatter) so every device runs the same schedule rotated.
    pub staged: bool,
    /// Track & trigger: stage-1 stores go to the peer, later stages' stores
    /// are near-memory updates counted by the tracker, which triggers DMA.
    pub t3: bool,
    /// The reduce-scatter kernel runs alongside the GEMM, sending each
    /// slice once its tiles are stored (software fine-grained overlap).
    pub concurrent_rs: bool,
    /// CUs the GEMM may use (`None`: all).
    pub gemm_cus: Option<u32>,
    /// Derive t3-mca's threshold from the first stage's memory intensity.
    pub derive_mca: bool,
    /// Simulate one device for all when no device differs (DESIGN.md
    /// section 7); off forces every device to be simulated.
    pub allow_symmetry: bool,
    /// Simulated time without any memory operation or compute step
    /// finishing after which the run is stopped as a livelock.
    pub watchdog_ps: u64,
}

impl Plan {
    pub fn new(gemm: bool, rs: Option<RsKind>) -> Plan {
        Plan {
            gemm,
            rs,
            rs_slice_bytes: 512 << 10,
            rs_window: 4,
            mca_threshold: None,
            max_run: 4,
            staged: true,
            t3: false,
            concurrent_rs: false,
            gemm_cus: None,
            derive_mca: false,
            allow_symmetry: true,
            watchdog_ps: DEFAULT_WATCHDOG_PS,
        }
    }
}
