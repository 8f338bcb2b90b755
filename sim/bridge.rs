//! The cxx bridge to the Verilator harness in `sim/harness.{h,cpp}`: one
//! opaque C++ class per RTL block with `step(pins) -> pins` on plain shared
//! structs. Kept in its own file so build.rs re-runs cxx only when the
//! bridge changes.

#[cxx::bridge(namespace = "t3rtl")]
pub mod ffi {
    /// `rtl/tracker.v` input ports for one cycle.
    #[derive(Debug, Clone, Copy)]
    struct TrackerPins {
        upd_valid: bool,
        upd_tile: u32,
        upd_expected: u32,
    }

    /// `rtl/tracker.v` registered outputs after one edge.
    #[derive(Debug, Clone, Copy)]
    struct TrackerOutPins {
        upd_accept: bool,
        fire_valid: bool,
        fire_tile: u32,
        occupancy: u32,
    }

    /// `rtl/nmc_alu.v` input ports for one cycle.
    #[derive(Debug, Clone, Copy)]
    struct AluPins {
        bf16: bool,
        a: [u16; 32],
        b: [u16; 32],
    }

    /// `rtl/nmc_alu.v` registered sum after one edge.
    #[derive(Debug, Clone, Copy)]
    struct AluOutPins {
        sum: [u16; 32],
    }

    /// `rtl/mca_arbiter.v` input ports for one cycle.
    #[derive(Debug, Clone, Copy)]
    struct McaPins {
        compute_waiting: bool,
        comm_waiting: bool,
        compute_occupancy: u16,
        comm_served: bool,
        threshold: u16,
        limit: u32,
    }

    /// `rtl/mca_arbiter.v` registered grant after one edge.
    #[derive(Debug, Clone, Copy)]
    struct McaOutPins {
        grant: u8,
        starve: u32,
    }

    /// What `McaRtl::hold` did: the edges it drove and the ports after
    /// the last of them.
    #[derive(Debug, Clone, Copy)]
    struct McaHeld {
        cycles: u64,
        out: McaOutPins,
    }

    unsafe extern "C++" {
        include!("t3sim/sim/harness.h");

        type TrackerRtl;
        type AluRtl;
        type McaRtl;

        /// A reset tracker; `traced` allows `start_trace` later (Verilator
        /// must know before the model is built).
        fn new_tracker(traced: bool) -> UniquePtr<TrackerRtl>;
        fn step(self: Pin<&mut TrackerRtl>, pins: &TrackerPins) -> TrackerOutPins;
        fn start_trace(self: Pin<&mut TrackerRtl>, vcd_path: &str) -> bool;
        fn finish_trace(self: Pin<&mut TrackerRtl>);

        fn new_alu(traced: bool) -> UniquePtr<AluRtl>;
        fn step(self: Pin<&mut AluRtl>, pins: &AluPins) -> AluOutPins;
        fn start_trace(self: Pin<&mut AluRtl>, vcd_path: &str) -> bool;
        fn finish_trace(self: Pin<&mut AluRtl>);

        fn new_mca(traced: bool) -> UniquePtr<McaRtl>;
        fn step(self: Pin<&mut McaRtl>, pins: &McaPins) -> McaOutPins;
        /// Up to `max_cycles` edges with `pins` held, each exactly one
        /// `step`, in one call: one crossing instead of one per edge. Stops
        /// before an edge once the counter is 0 with no starving
        /// communication, or has reached the limit with it (what the
        /// replay checker may skip, see `ArbChecker::advance`).
        fn hold(self: Pin<&mut McaRtl>, pins: &McaPins, max_cycles: u64) -> McaHeld;
        fn start_trace(self: Pin<&mut McaRtl>, vcd_path: &str) -> bool;
        fn finish_trace(self: Pin<&mut McaRtl>);
    }
}
