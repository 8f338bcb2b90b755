//! Command-to-command distances derived once from the timing table, so the
//! controller's hot loop only adds and compares.
//!
//! Conventions (the same as DRAMsim3's HBM model where it has one):
//! - a burst occupies the data bus for `BL/2` cycles (DDR);
//! - column commands to the same bank group are `max(tCCD_L, burst)` apart,
//!   to different groups `max(tCCD_S, burst)`;
//! - read to write (bus turnaround): `CL + burst + 2 - CWL`;
//! - write to read: `CWL + burst + tWTR_L` (same group) or `tWTR_S`;
//! - read to precharge: `tRTP_L`; write to precharge: `CWL + burst + tWR`;
//! - activate to activate: `tRRD_L`/`tRRD_S`, at most four in `tFAW`,
//!   same bank `tRAS + tRP`.
//!
//! A near-memory update (UPD) is an internal column read, `alu_cycles` in
//! the near-bank ALU, and an internal column write of the same column, while
//! the update's operand arrives over the data bus like write data. It
//! occupies the bank group's column path for the read, the ALU and the
//! write, and the next read in that group waits the write-to-read turnaround
//! `tWTR_L` after the internal write; it needs no read burst on the bus.

use crate::config::{DramTiming, NmcConfig};

#[derive(Debug, Clone)]
pub struct Timing {
    pub burst: u64,
    pub cl: u64,
    pub cwl: u64,
    pub rd_to_rd_l: u64,
    pub rd_to_rd_s: u64,
    pub wr_to_wr_l: u64,
    pub wr_to_wr_s: u64,
    pub rd_to_wr: u64,
    pub wr_to_rd_l: u64,
    pub wr_to_rd_s: u64,
    pub rd_to_pre: u64,
    pub wr_to_pre: u64,
    pub act_to_rd: u64,
    pub act_to_wr: u64,
    pub act_to_pre: u64,
    pub act_to_act_same_bank: u64,
    pub pre_to_act: u64,
    pub rrd_l: u64,
    pub rrd_s: u64,
    pub faw: u64,
    pub rfc: u64,
    pub refi: u64,
    /// UPD issue to its internal write.
    pub upd_read_to_write: u64,
    /// UPD issue to the next column command of any kind in its group.
    pub upd_to_col_l: u64,
    /// UPD issue to the next read (or UPD) in its group.
    pub upd_to_rd_l: u64,
    /// UPD issue to precharge of its bank.
    pub upd_to_pre: u64,
    /// UPD issue to the end of its internal write (completion).
    pub upd_done: u64,
}

impl Timing {
    pub fn new(t: &DramTiming, nmc: &NmcConfig) -> Timing {
        let burst = (t.bl as u64 / 2).max(1);
        let c = |v: u32| v as u64;
        let upd_read_to_write = c(t.tccd_l).max(burst) + c(nmc.alu_cycles);
        Timing {
            burst,
            cl: c(t.cl),
            cwl: c(t.cwl),
            rd_to_rd_l: c(t.tccd_l).max(burst),
            rd_to_rd_s: c(t.tccd_s).max(burst),
            wr_to_wr_l: c(t.tccd_l).max(burst),
            wr_to_wr_s: c(t.tccd_s).max(burst),
            rd_to_wr: (c(t.cl) + burst + 2).saturating_sub(c(t.cwl)).max(1),
            wr_to_rd_l: c(t.cwl) + burst + c(t.twtr_l),
            wr_to_rd_s: c(t.cwl) + burst + c(t.twtr_s),
            rd_to_pre: c(t.trtp_l),
            wr_to_pre: c(t.cwl) + burst + c(t.twr),
            act_to_rd: c(t.trcdrd),
            act_to_wr: c(t.trcdwr),
            act_to_pre: c(t.tras),
            act_to_act_same_bank: c(t.tras) + c(t.trp),
            pre_to_act: c(t.trp),
            rrd_l: c(t.trrd_l),
            rrd_s: c(t.trrd_s),
            faw: c(t.tfaw),
            rfc: c(t.trfc),
            refi: c(t.trefi),
            upd_read_to_write,
            upd_to_col_l: upd_read_to_write + c(t.tccd_l).max(burst),
            upd_to_rd_l: upd_read_to_write + burst + c(t.twtr_l),
            upd_to_pre: upd_read_to_write + burst + c(t.twr),
            upd_done: upd_read_to_write + burst,
        }
    }
}
