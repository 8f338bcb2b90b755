//! One direction of a point-to-point link.
//!
//! Model (all times in [`Ps`]):
//!
//! - **Serialisation.** The link sends one packet at a time at a fixed rate
//!   of `rate` bytes per second. A packet offered at `now` starts at
//!   `max(now, next_free)`. Packets sent back to back (each one starts at or
//!   before the previous tail) form a *busy epoch*; a packet's tail time is
//!   `epoch_start + ceil(epoch_bytes * 10^12 / rate)` where `epoch_bytes`
//!   counts every byte of the epoch up to and including this packet. Time is
//!   rounded once per query from the exact rational, so a link kept busy for
//!   billions of bytes has no rounding drift: after `B` bytes it is exactly
//!   `ceil(B / rate)` past the epoch start.
//! - **Latency.** The packet has fully arrived at the receiver at
//!   `tail_sent + latency`. Latency is added once per packet and does not
//!   occupy the link (the link is pipelined: many packets are on the wire).
//! - **Credits.** The sender owns `credits` receive-buffer slots. Sending
//!   takes one. The receiver calls [`Link::return_credit`] at the time it
//!   frees the slot; the credit travels back over the reverse direction's
//!   sideband, which takes the same `latency` and uses no data bandwidth, so
//!   the slot is usable by the sender `latency` later. A receiver that
//!   drains on arrival returns at `arrival`, which makes a credit's round
//!   trip `ser(packet) + 2 * latency` and caps a greedy sender's steady
//!   throughput at `credits * packet / (ser(packet) + 2 * latency)` (when
//!   that is below the link rate).

use crate::engine::Ps;
use crate::error::{InputError, Location, Result};
use std::collections::VecDeque;

const PS_PER_S: u128 = 1_000_000_000_000;

/// Why a link refused a request (a caller bug or back-pressure, never a
/// config problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Every credit is in use; retry at [`Link::credit_ready_at`].
    #[error("no credit free")]
    NoCredit,
    /// A packet carries at least one byte.
    #[error("empty packet")]
    EmptyPacket,
    /// A packet is at most `packet_bytes` long; split messages first.
    #[error("packet of {bytes} B exceeds the link's {max} B packets")]
    PacketTooLarge { bytes: u32, max: u32 },
    /// More credits returned than packets outstanding at the receiver.
    #[error("credit returned with no packet outstanding")]
    NoPacketOutstanding,
}

/// When a packet sent on a link starts, finishes serialising and arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// First byte leaves the sender.
    pub start: Ps,
    /// Last byte leaves the sender; the link is free from here.
    pub tail_sent: Ps,
    /// Last byte has arrived at the receiver.
    pub arrival: Ps,
}

/// Counters for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Payload bytes sent.
    pub bytes: u64,
    /// Packets sent.
    pub packets: u64,
    /// Sends refused for lack of a credit.
    pub credit_stalls: u64,
}

/// One direction of a link: serialisation, latency and credit flow control.
#[derive(Debug, Clone)]
pub struct Link {
    rate_bytes_per_s: u64,
    latency_ps: Ps,
    packet_bytes: u32,
    credits: u32,
    free_credits: u32,
    /// Times at which credits returned by the receiver reach the sender,
    /// ascending.
    returning: VecDeque<Ps>,
    /// Packets sent whose credit the receiver has not yet returned.
    outstanding: u32,
    epoch_start: Ps,
    epoch_bytes: u64,
    /// Tail time of the epoch's last packet (= `next_free`).
    epoch_end: Ps,
    busy_before_epoch_ps: Ps,
    stats: LinkStats,
}

impl Link {
    /// A link direction from `cfg`, its bandwidth multiplied by `bw_scale`
    /// (per-device or per-link skew; 1.0 for the configured link).
    pub fn new(cfg: &crate::config::LinkConfig, bw_scale: f64) -> Result<Link> {
        let bad = |field: &str, msg: String| InputError::new(Location::file("config"), field, msg);
        if !(bw_scale.is_finite() && bw_scale > 0.0) {
            return Err(bad(
                "link.bw_scale",
                format!("{bw_scale} must be a finite number greater than 0"),
            )
            .into());
        }
        let gbps = cfg.bw_gbps_per_dir * bw_scale;
        if !(gbps.is_finite() && gbps > 0.0 && gbps <= 1e6) {
            return Err(bad(
                "link.bw_gbps_per_dir",
                format!(
                    "{} GB/s x scale {bw_scale} must be a finite number in (0, 1e6] GB/s",
                    cfg.bw_gbps_per_dir
                ),
            )
            .into());
        }
        // Rounded once to whole bytes per second (1e-9 of a GB/s): every later
        // time is exact arithmetic on this integer.
        let rate_bytes_per_s = (gbps * 1e9).round() as u64;
        if rate_bytes_per_s == 0 {
            return Err(bad(
                "link.bw_gbps_per_dir",
                "rounds to 0 bytes per second".into(),
            )
            .into());
        }
        let latency_ps = cfg.latency_ns.checked_mul(1000).ok_or_else(|| {
            bad(
                "link.latency_ns",
                format!("{} ns overflows the time base", cfg.latency_ns),
            )
        })?;
        if cfg.packet_bytes == 0 {
            return Err(bad("link.packet_bytes", "must be greater than 0".into()).into());
        }
        if cfg.credits == 0 {
            return Err(bad("link.credits", "must be greater than 0".into()).into());
        }
        Ok(Link {
            rate_bytes_per_s,
            latency_ps,
            packet_bytes: cfg.packet_bytes,
            credits: cfg.credits,
            free_credits: cfg.credits,
            returning: VecDeque::new(),
            outstanding: 0,
            epoch_start: 0,
            epoch_bytes: 0,
            epoch_end: 0,
            busy_before_epoch_ps: 0,
            stats: LinkStats::default(),
        })
    }

    /// Bandwidth after scaling, bytes per second.
    pub fn rate_bytes_per_s(&self) -> u64 {
        self.rate_bytes_per_s
    }

    /// One-way latency, ps.
    pub fn latency_ps(&self) -> Ps {
        self.latency_ps
    }

    /// Largest packet payload, bytes.
    pub fn packet_bytes(&self) -> u32 {
        self.packet_bytes
    }

    /// Receive-buffer slots (credits) in total.
    pub fn credits(&self) -> u32 {
        self.credits
    }

    /// Packets a message of `bytes` is split into.
    pub fn packets_for(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.packet_bytes as u64)
    }

    /// Time to serialise `bytes` on an idle link, ps (rounded up).
    pub fn serialise_ps(&self, bytes: u64) -> Ps {
        ceil_ps(bytes, self.rate_bytes_per_s)
    }

    /// Whether a credit is available to a send at `now`.
    pub fn can_send(&self, now: Ps) -> bool {
        self.free_credits > 0 || self.returning.front().is_some_and(|&t| t <= now)
    }

    /// The earliest time at or after `now` that a send finds a credit;
    /// `None` while every credit waits for the receiver to call
    /// [`Link::return_credit`].
    pub fn credit_ready_at(&self, now: Ps) -> Option<Ps> {
        if self.free_credits > 0 {
            Some(now)
        } else {
            self.returning.front().map(|&t| t.max(now))
        }
    }

    /// When the link finishes serialising what it has been given.
    pub fn next_free(&self) -> Ps {
        self.epoch_end
    }

    /// Sends one packet of `bytes` (1..=`packet_bytes`) offered at `now`,
    /// taking a credit. Refused, with no state change, when no credit is
    /// free at `now`. Callers offer packets in non-decreasing `now`.
    pub fn send(&mut self, now: Ps, bytes: u32) -> Result<Delivery, LinkError> {
        if bytes == 0 {
            return Err(LinkError::EmptyPacket);
        }
        if bytes > self.packet_bytes {
            return Err(LinkError::PacketTooLarge {
                bytes,
                max: self.packet_bytes,
            });
        }
        self.collect_credits(now);
        if self.free_credits == 0 {
            self.stats.credit_stalls += 1;
            return Err(LinkError::NoCredit);
        }
        self.free_credits -= 1;
        self.outstanding += 1;

        let start = if now <= self.epoch_end && self.epoch_bytes > 0 {
            // Back to back: continue the epoch so the exact rational carries
            // over instead of the rounded tail.
            self.epoch_end
        } else {
            self.busy_before_epoch_ps += self.epoch_end - self.epoch_start;
            self.epoch_start = now;
            self.epoch_bytes = 0;
            now
        };
        self.epoch_bytes += bytes as u64;
        let tail_sent = self
            .epoch_start
            .saturating_add(ceil_ps(self.epoch_bytes, self.rate_bytes_per_s));
        self.epoch_end = tail_sent;
        self.stats.bytes += bytes as u64;
        self.stats.packets += 1;
        Ok(Delivery {
            start,
            tail_sent,
            arrival: tail_sent.saturating_add(self.latency_ps),
        })
    }

    /// The receiver frees one buffer slot at `now`; the credit reaches the
    /// sender at `now + latency`.
    pub fn return_credit(&mut self, now: Ps) -> Result<(), LinkError> {
        if self.outstanding == 0 {
            return Err(LinkError::NoPacketOutstanding);
        }
        self.outstanding -= 1;
        let at = now.saturating_add(self.latency_ps);
        // Receivers return in time order almost always; keep the queue
        // sorted for the rare caller that does not.
        let mut i = self.returning.len();
        while i > 0 && self.returning[i - 1] > at {
            i -= 1;
        }
        self.returning.insert(i, at);
        Ok(())
    }

    /// Packets sent whose credit the receiver has not returned.
    pub fn outstanding(&self) -> u32 {
        self.outstanding
    }

    /// Counters so far.
    pub fn stats(&self) -> LinkStats {
        self.stats
    }

    /// Time spent serialising, ps, over the whole run (utilisation is this
    /// divided by elapsed time).
    pub fn busy_ps(&self) -> Ps {
        self.busy_before_epoch_ps + (self.epoch_end - self.epoch_start)
    }

    fn collect_credits(&mut self, now: Ps) {
        while let Some(&t) = self.returning.front() {
            if t > now {
                break;
            }
            self.returning.pop_front();
            self.free_credits += 1;
        }
    }
}

/// `ceil(bytes * 10^12 / rate)` in ps, saturating at the end of time.
fn ceil_ps(bytes: u64, rate_bytes_per_s: u64) -> Ps {
    let ps = (bytes as u128 * PS_PER_S).div_ceil(rate_bytes_per_s.max(1) as u128);
    Ps::try_from(ps).unwrap_or(Ps::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LinkConfig;

    fn cfg(bw_gbps: f64, latency_ns: u64, packet_bytes: u32, credits: u32) -> LinkConfig {
        LinkConfig {
            bw_gbps_per_dir: bw_gbps,
            latency_ns,
            packet_bytes,
            credits,
            ..LinkConfig::default()
        }
    }

    #[test]
    fn link_reaches_configured_bandwidth_without_drift() {
        // 75 GB/s: a 256 B packet takes 3413.33 ps, never a whole number.
        let mut l = Link::new(&LinkConfig::default(), 1.0).unwrap();
        let packets: u64 = 20_000_000; // 5.12 GB
        let mut now = 0;
        let mut last = None;
        for k in 1..=packets {
            let d = l.send(now, 256).unwrap();
            assert_eq!(
                d.tail_sent,
                (k as u128 * 256_000_000_000_000).div_ceil(75_000_000_000) as u64
            );
            l.return_credit(d.arrival).unwrap();
            // The sender reacts to each tail: the rounded time feeds back.
            now = d.tail_sent;
            last = Some(d);
        }
        let bytes = packets * 256;
        // Exactly ceil(bytes / 75e9 s) = 68.2666..ms rounded up once.
        let expect = (bytes as u128 * 1_000_000_000_000).div_ceil(75_000_000_000) as u64;
        assert_eq!(expect, 68_266_666_667);
        let d = last.unwrap();
        assert_eq!(d.tail_sent, expect);
        assert_eq!(d.arrival, expect + 500_000);
        assert_eq!(l.busy_ps(), expect);
        // Rounding each packet to whole ps would have drifted by 13.3 us.
        assert_eq!(packets * l.serialise_ps(256) - expect, 13_333_333);
        assert_eq!(l.stats().bytes, bytes);
        assert_eq!(l.stats().packets, packets);
    }

    #[test]
    fn packets_offered_early_queue_behind_the_link() {
        let mut l = Link::new(&cfg(64.0, 100, 256, 16), 1.0).unwrap();
        // 256 B at 64 GB/s = 4 ns.
        let a = l.send(0, 256).unwrap();
        let b = l.send(0, 256).unwrap();
        let c = l.send(1_000, 128).unwrap();
        assert_eq!((a.start, a.tail_sent, a.arrival), (0, 4_000, 104_000));
        assert_eq!((b.start, b.tail_sent, b.arrival), (4_000, 8_000, 108_000));
        assert_eq!((c.start, c.tail_sent, c.arrival), (8_000, 10_000, 110_000));
        assert_eq!(l.next_free(), 10_000);
    }

    #[test]
    fn latency_is_added_once_per_packet() {
        let mut l = Link::new(&cfg(64.0, 500, 256, 16), 1.0).unwrap();
        for i in 0..10u64 {
            let d = l.send(0, 256).unwrap();
            assert_eq!(d.tail_sent, (i + 1) * 4_000);
            assert_eq!(d.arrival - d.tail_sent, 500_000);
        }
    }

    #[test]
    fn idle_gap_starts_a_new_epoch_and_is_not_busy_time() {
        let mut l = Link::new(&cfg(64.0, 0, 256, 16), 1.0).unwrap();
        l.send(0, 256).unwrap();
        let d = l.send(1_000_000, 256).unwrap();
        assert_eq!((d.start, d.tail_sent), (1_000_000, 1_004_000));
        assert_eq!(l.busy_ps(), 8_000);
    }

    #[test]
    fn credits_limit_in_flight_packets_to_the_documented_round_trip() {
        // 4 credits, 256 B packets, 4 ns serialisation, 500 ns latency: a
        // credit comes back 4 ns + 2 * 500 ns after its packet started, so a
        // greedy sender moves 4 * 256 B every 1004 ns.
        let mut l = Link::new(&cfg(64.0, 500, 256, 4), 1.0).unwrap();
        let period: Ps = 4_000 + 2 * 500_000;
        let mut now = 0;
        let mut sent = 0u64;
        let mut last_arrival = 0;
        let rounds = 1000u64;
        while sent < rounds * 4 {
            match l.send(now, 256) {
                Ok(d) => {
                    // The receiver drains each packet the moment it arrives.
                    l.return_credit(d.arrival).unwrap();
                    last_arrival = d.arrival;
                    now = d.tail_sent;
                    sent += 1;
                }
                Err(LinkError::NoCredit) => now = l.credit_ready_at(now).unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
        // The last burst starts at (rounds - 1) * period; its 4th packet's
        // tail is 16 ns later.
        assert_eq!(last_arrival, (rounds - 1) * period + 16_000 + 500_000);
        assert_eq!(l.stats().credit_stalls, rounds - 1);
        // Throughput is far below the 64 GB/s link: 1024 B / 1004 ns.
        let gbps = (rounds * 1024) as f64 / ((rounds - 1) * period + 16_000) as f64 * 1000.0;
        assert!((gbps - 1024.0 / 1004.0).abs() < 0.01, "{gbps}");
    }

    #[test]
    fn send_without_credit_is_refused_and_changes_nothing() {
        let mut l = Link::new(&cfg(64.0, 500, 256, 2), 1.0).unwrap();
        let a = l.send(0, 256).unwrap();
        l.send(0, 256).unwrap();
        assert!(!l.can_send(0));
        assert_eq!(l.credit_ready_at(0), None);
        assert_eq!(l.send(0, 256), Err(LinkError::NoCredit));
        assert_eq!(l.stats().packets, 2);
        assert_eq!(l.next_free(), 8_000);
        l.return_credit(a.arrival).unwrap();
        let back = a.arrival + 500_000;
        assert_eq!(l.credit_ready_at(0), Some(back));
        assert_eq!(l.credit_ready_at(back + 7), Some(back + 7));
        assert!(!l.can_send(back - 1));
        assert!(l.can_send(back));
        assert_eq!(l.send(back - 1, 256), Err(LinkError::NoCredit));
        assert_eq!(l.send(back, 256).unwrap().start, back);
    }

    #[test]
    fn bad_packets_and_extra_credits_are_errors() {
        let mut l = Link::new(&cfg(64.0, 500, 256, 2), 1.0).unwrap();
        assert_eq!(l.send(0, 0), Err(LinkError::EmptyPacket));
        assert_eq!(
            l.send(0, 257),
            Err(LinkError::PacketTooLarge {
                bytes: 257,
                max: 256
            })
        );
        assert_eq!(l.return_credit(0), Err(LinkError::NoPacketOutstanding));
        assert_eq!(l.packets_for(513), 3);
        assert_eq!(l.packets_for(0), 0);
    }

    #[test]
    fn out_of_order_credit_returns_are_sorted() {
        let mut l = Link::new(&cfg(64.0, 10, 256, 2), 1.0).unwrap();
        l.send(0, 256).unwrap();
        l.send(0, 256).unwrap();
        l.return_credit(50_000).unwrap();
        l.return_credit(20_000).unwrap();
        assert_eq!(l.credit_ready_at(0), Some(30_000));
        assert!(l.can_send(30_000));
    }

    #[test]
    fn bandwidth_scale_multiplies_rate() {
        let half = Link::new(&cfg(64.0, 0, 256, 1), 0.5).unwrap();
        assert_eq!(half.rate_bytes_per_s(), 32_000_000_000);
        assert_eq!(half.serialise_ps(256), 8_000);
        let third = Link::new(&cfg(75.0, 0, 256, 1), 1.0 / 3.0).unwrap();
        assert_eq!(third.rate_bytes_per_s(), 25_000_000_000);
    }

    #[test]
    fn invalid_config_names_the_field() {
        for (c, scale, field) in [
            (cfg(64.0, 0, 256, 1), 0.0, "link.bw_scale"),
            (cfg(64.0, 0, 256, 1), f64::NAN, "link.bw_scale"),
            (cfg(-1.0, 0, 256, 1), 1.0, "link.bw_gbps_per_dir"),
            (cfg(64.0, 0, 0, 1), 1.0, "link.packet_bytes"),
            (cfg(64.0, 0, 256, 0), 1.0, "link.credits"),
            (cfg(64.0, u64::MAX, 256, 1), 1.0, "link.latency_ns"),
        ] {
            let e = Link::new(&c, scale).unwrap_err().to_string();
            assert!(e.starts_with("config: "), "{e}");
            assert!(e.contains(&format!("`{field}`")), "{e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn packets_never_overlap_and_take_their_exact_share_of_time(
            gbps in 1.0f64..500.0,
            ops in proptest::collection::vec((0u64..20_000, 1u32..=256), 1..300),
        ) {
            let mut l = Link::new(&cfg(gbps, 100, 256, 1 << 20), 1.0).unwrap();
            let rate = l.rate_bytes_per_s() as u128;
            let (mut now, mut prev_tail, mut bytes) = (0u64, 0u64, 0u64);
            let (mut lo, mut hi) = (0u128, 0u128);
            for (gap, b) in ops {
                now += gap;
                let d = l.send(now, b).unwrap();
                let exact_lo = b as u128 * 1_000_000_000_000 / rate;
                proptest::prop_assert!(d.start >= now && d.start >= prev_tail);
                proptest::prop_assert_eq!(d.start, now.max(prev_tail));
                let took = (d.tail_sent - d.start) as u128;
                // Rounded once per epoch: each packet is within 1 ps of exact.
                proptest::prop_assert!(took >= exact_lo && took <= exact_lo + 1);
                proptest::prop_assert_eq!(d.arrival, d.tail_sent + 100_000);
                lo += exact_lo;
                hi += exact_lo + 1;
                prev_tail = d.tail_sent;
                bytes += b as u64;
            }
            let busy = l.busy_ps() as u128;
            proptest::prop_assert!(busy >= lo && busy <= hi);
            proptest::prop_assert_eq!(l.stats().bytes, bytes);
        }
    }
}
