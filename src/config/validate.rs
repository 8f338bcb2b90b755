//! Rejects configurations that no hardware can have. Each failure is
//! (dotted field, message); the caller adds the file and line.

use super::HwConfig;

type Check = Result<(), (String, String)>;

fn fail(field: &str, msg: impl Into<String>) -> Check {
    Err((field.to_string(), msg.into()))
}

fn positive(field: &str, v: u64) -> Check {
    if v == 0 {
        return fail(field, "must be greater than 0");
    }
    Ok(())
}

fn range(field: &str, v: u64, lo: u64, hi: u64) -> Check {
    if v < lo || v > hi {
        return fail(
            field,
            format!("{v} is outside the supported range {lo}..={hi}"),
        );
    }
    Ok(())
}

fn pow2(field: &str, v: u64) -> Check {
    if !v.is_power_of_two() {
        return fail(
            field,
            format!("{v} must be a power of two (the address map slices bits)"),
        );
    }
    Ok(())
}

pub(super) fn check(c: &HwConfig) -> Check {
    let m = &c.mem;
    range("mem.stacks", m.stacks as u64, 1, 64)?;
    range("mem.channels_per_stack", m.channels_per_stack as u64, 1, 64)?;
    pow2("mem.channels_per_stack", m.channels_per_stack as u64)?;
    pow2("mem.stacks", m.stacks as u64)?;
    range("mem.bank_groups", m.bank_groups as u64, 1, 16)?;
    pow2("mem.bank_groups", m.bank_groups as u64)?;
    range("mem.banks_per_group", m.banks_per_group as u64, 1, 16)?;
    pow2("mem.banks_per_group", m.banks_per_group as u64)?;
    if m.bank_groups * m.banks_per_group > 64 {
        return fail(
            "mem.banks_per_group",
            "at most 64 banks per channel (bank_groups x banks_per_group)",
        );
    }
    range("mem.rows", m.rows as u64, 1, 1 << 20)?;
    pow2("mem.rows", m.rows as u64)?;
    range("mem.bus_bits", m.bus_bits as u64, 16, 1024)?;
    pow2("mem.bus_bits", m.bus_bits as u64)?;
    range("mem.row_bytes", m.row_bytes as u64, 64, 1 << 16)?;
    pow2("mem.row_bytes", m.row_bytes as u64)?;
    let t = &m.timing;
    range("mem.timing.tck_ps", t.tck_ps, 100, 100_000)?;
    range("mem.timing.bl", t.bl as u64, 2, 32)?;
    pow2("mem.timing.bl", t.bl as u64)?;
    if m.access_bytes() > m.channel_row_bytes() {
        return fail(
            "mem.row_bytes",
            format!(
                "a row of {} B is smaller than one burst ({} B)",
                m.channel_row_bytes(),
                m.access_bytes()
            ),
        );
    }
    for (name, v) in [
        ("cl", t.cl),
        ("cwl", t.cwl),
        ("trcdrd", t.trcdrd),
        ("trcdwr", t.trcdwr),
        ("trp", t.trp),
        ("tras", t.tras),
        ("trrd_s", t.trrd_s),
        ("trrd_l", t.trrd_l),
        ("twtr_s", t.twtr_s),
        ("twtr_l", t.twtr_l),
        ("tfaw", t.tfaw),
        ("twr", t.twr),
        ("tccd_s", t.tccd_s),
        ("tccd_l", t.tccd_l),
        ("trtp_s", t.trtp_s),
        ("trtp_l", t.trtp_l),
        ("trfc", t.trfc),
        ("trefi", t.trefi),
    ] {
        let f = format!("mem.timing.{name}");
        positive(&f, v as u64)?;
        range(&f, v as u64, 1, 1_000_000)?;
    }
    if t.tras < t.trcdrd.max(t.trcdwr) {
        return fail(
            "mem.timing.tras",
            format!(
                "tRAS ({}) is shorter than tRCD ({}): a row would close before it can be read",
                t.tras,
                t.trcdrd.max(t.trcdwr)
            ),
        );
    }
    if t.trrd_l < t.trrd_s {
        return fail("mem.timing.trrd_l", "tRRD_L must be at least tRRD_S");
    }
    if t.tccd_l < t.tccd_s {
        return fail("mem.timing.tccd_l", "tCCD_L must be at least tCCD_S");
    }
    if t.twtr_l < t.twtr_s {
        return fail("mem.timing.twtr_l", "tWTR_L must be at least tWTR_S");
    }
    if t.tfaw < t.trrd_s {
        return fail("mem.timing.tfaw", "tFAW must be at least tRRD_S");
    }
    if t.trefi <= t.trfc {
        return fail(
            "mem.timing.trefi",
            format!(
                "tREFI ({}) must exceed tRFC ({}): the part would only refresh",
                t.trefi, t.trfc
            ),
        );
    }
    // A refresh interval must hold the refresh and at least one row cycle
    // (ACT ... PRE): below that no bank can ever be read.
    let room = t.trfc as u64 + t.tras as u64 + t.trp as u64;
    if (t.trefi as u64) < room {
        return fail(
            "mem.timing.trefi",
            format!(
                "tREFI ({}) leaves no room for a row cycle between refreshes: needs at least tRFC + tRAS + tRP = {room}",
                t.trefi
            ),
        );
    }
    let k = &m.controller;
    range("mem.controller.read_queue", k.read_queue as u64, 1, 4096)?;
    range("mem.controller.write_queue", k.write_queue as u64, 1, 4096)?;
    range(
        "mem.controller.write_high_pct",
        k.write_high_pct as u64,
        1,
        100,
    )?;
    if k.write_low_pct >= k.write_high_pct {
        return fail(
            "mem.controller.write_low_pct",
            "the low write watermark must be below the high one",
        );
    }
    range(
        "mem.controller.frontend_latency_cycles",
        k.frontend_latency_cycles as u64,
        0,
        10_000,
    )?;
    range(
        "mem.controller.starvation_limit_cycles",
        k.starvation_limit_cycles,
        1,
        1 << 32,
    )?;
    one_of(
        "mem.controller.scheduler",
        &k.scheduler,
        crate::mem::scheduler::NAMES,
    )?;
    one_of(
        "mem.controller.arbitration",
        &k.arbitration,
        crate::mem::arbiter::NAMES,
    )?;
    one_of("mem.controller.refresh", &k.refresh, &["all-bank", "none"])?;
    one_of(
        "mem.controller.page_policy",
        &k.page_policy,
        &["open", "closed"],
    )?;
    one_of("mem.nmc.dtype", &m.nmc.dtype, &["fp16", "bf16"])?;
    range("mem.nmc.alu_cycles", m.nmc.alu_cycles as u64, 0, 1000)?;
    if let Err(msg) = crate::mem::address::AddressMap::parse(&m.mapping, m) {
        return fail("mem.mapping", msg);
    }

    let g = &c.gpu;
    range("gpu.cus", g.cus as u64, 1, 4096)?;
    range("gpu.clock_mhz", g.clock_mhz, 1, 100_000)?;
    range(
        "gpu.flops_per_cycle_per_cu",
        g.flops_per_cycle_per_cu,
        1,
        1 << 20,
    )?;
    range("gpu.wgs_per_cu", g.wgs_per_cu as u64, 1, 64)?;
    range("gpu.l2_line_bytes", g.l2_line_bytes as u64, 32, 4096)?;
    pow2("gpu.l2_line_bytes", g.l2_line_bytes as u64)?;
    range("gpu.l2_ways", g.l2_ways as u64, 1, 64)?;
    range(
        "gpu.l2_bytes",
        g.l2_bytes,
        g.l2_line_bytes as u64 * g.l2_ways as u64,
        1 << 34,
    )?;
    range(
        "gpu.l2_hit_latency_cycles",
        g.l2_hit_latency_cycles as u64,
        0,
        100_000,
    )?;
    range(
        "gpu.max_outstanding_per_cu",
        g.max_outstanding_per_cu as u64,
        1,
        1 << 16,
    )?;

    let l = &c.link;
    one_of("link.topology", &l.topology, &["ring"])?;
    if !(l.bw_gbps_per_dir.is_finite() && l.bw_gbps_per_dir > 0.0 && l.bw_gbps_per_dir <= 1e6) {
        return fail(
            "link.bw_gbps_per_dir",
            "must be a finite number in (0, 1e6] GB/s",
        );
    }
    range("link.latency_ns", l.latency_ns, 0, 1_000_000_000)?;
    range("link.packet_bytes", l.packet_bytes as u64, 16, 1 << 20)?;
    range("link.credits", l.credits as u64, 1, 1 << 24)?;

    let t3 = &c.t3;
    range("t3.tracker_entries", t3.tracker_entries as u64, 1, 1 << 16)?;
    range("t3.tracker_tag_bits", t3.tracker_tag_bits as u64, 1, 32)?;
    range(
        "t3.tracker_counter_bits",
        t3.tracker_counter_bits as u64,
        1,
        32,
    )?;
    range("t3.dma_engines", t3.dma_engines as u64, 1, 64)?;
    if t3.sw_overlap_cus >= g.cus {
        return fail(
            "t3.sw_overlap_cus",
            "must leave at least one CU to the GEMM",
        );
    }
    Ok(())
}

fn one_of(field: &str, v: &str, names: &[&str]) -> Check {
    if !names.contains(&v) {
        return fail(
            field,
            format!("unknown name `{v}`; known: {}", names.join(", ")),
        );
    }
    Ok(())
}
