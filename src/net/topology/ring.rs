//! The ring of `n` devices and the index of every link direction in it.
//!
//! Every device has two outgoing link directions: [`Dir::Prev`] to
//! `i - 1 mod n`, which the ring reduce-scatter uses (DESIGN.md §1), and
//! [`Dir::Next`] to `i + 1 mod n`, free for an all-gather or a
//! bidirectional algorithm. Link `2 * i + dir` leaves device `i`, so a
//! `Vec<Link>` indexed by [`Ring::link`] holds the whole ring.
//!
//! Device indices at or above `n` are taken modulo `n` rather than
//! rejected, so that index arithmetic in callers cannot panic here. A
//! one-device ring has two self-loop links that carry nothing; with two
//! devices both directions of a device reach the same peer over separate
//! links.

use super::Topology;
use crate::engine::Ps;
use crate::error::{InputError, Location, Result};
use crate::net::link::Link;

/// Which neighbour a link direction leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dir {
    /// `i -> i - 1 mod n`, the reduce-scatter direction.
    Prev = 0,
    /// `i -> i + 1 mod n`.
    Next = 1,
}

/// A ring of devices with a bandwidth scale per device.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    n: u32,
    device_bw_scale: Vec<f64>,
}

impl Ring {
    /// A ring of `n` identical devices.
    pub fn new(n: u32) -> Result<Ring> {
        Ring::with_device_bw_scales(vec![1.0; n as usize])
    }

    /// A ring with one link bandwidth scale per device (skew studies). A
    /// link runs at the lower scale of its two ends: both ports must agree
    /// on a rate, as real links train to the slower side.
    pub fn with_device_bw_scales(scales: Vec<f64>) -> Result<Ring> {
        let n = u32::try_from(scales.len())
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                InputError::new(
                    Location::file("config"),
                    "link.device_bw_scale",
                    format!("a ring needs 1..=2^32-1 devices, got {}", scales.len()),
                )
            })?;
        if let Some((i, s)) = scales
            .iter()
            .enumerate()
            .find(|(_, s)| !(s.is_finite() && **s > 0.0))
        {
            return Err(InputError::new(
                Location::file("config"),
                format!("link.device_bw_scale[{i}]"),
                format!("{s} must be a finite number greater than 0"),
            )
            .into());
        }
        Ok(Ring {
            n,
            device_bw_scale: scales,
        })
    }

    /// Number of devices.
    pub fn devices(&self) -> u32 {
        self.n
    }

    /// `i + 1 mod n`.
    pub fn next(&self, i: u32) -> u32 {
        let i = i % self.n;
        if i + 1 == self.n { 0 } else { i + 1 }
    }

    /// `i - 1 mod n`, where the reduce-scatter sends.
    pub fn prev(&self, i: u32) -> u32 {
        let i = i % self.n;
        if i == 0 { self.n - 1 } else { i - 1 }
    }

    /// The device that `i`'s `dir` link leads to.
    pub fn neighbour(&self, i: u32, dir: Dir) -> u32 {
        match dir {
            Dir::Prev => self.prev(i),
            Dir::Next => self.next(i),
        }
    }

    /// Number of link directions (two per device).
    pub fn link_count(&self) -> usize {
        2 * self.n as usize
    }

    /// Index of the link leaving `i` towards `dir`.
    pub fn link(&self, i: u32, dir: Dir) -> usize {
        2 * (i % self.n) as usize + dir as usize
    }

    /// `(source, destination)` of a link index (taken modulo the count).
    pub fn endpoints(&self, link: usize) -> (u32, u32) {
        let link = link % self.link_count();
        let src = (link / 2) as u32;
        let dir = if link.is_multiple_of(2) {
            Dir::Prev
        } else {
            Dir::Next
        };
        (src, self.neighbour(src, dir))
    }

    /// The link carrying `i -> j`, if they are neighbours. With two devices
    /// both directions qualify; the reduce-scatter one ([`Dir::Prev`]) wins.
    pub fn link_between(&self, i: u32, j: u32) -> Option<usize> {
        let (i, j) = (i % self.n, j % self.n);
        if self.prev(i) == j {
            Some(self.link(i, Dir::Prev))
        } else if self.next(i) == j {
            Some(self.link(i, Dir::Next))
        } else {
            None
        }
    }

    /// Bandwidth scale of a link: the lower of its two devices' scales.
    pub fn link_bw_scale(&self, link: usize) -> f64 {
        let (s, d) = self.endpoints(link);
        self.device_bw_scale[s as usize].min(self.device_bw_scale[d as usize])
    }
}

impl Topology for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn devices(&self) -> u32 {
        self.n
    }

    fn ports(&self, _dev: u32) -> u32 {
        2
    }

    fn link(&self, dev: u32, port: u32) -> usize {
        Ring::link(self, dev, if port == 0 { Dir::Prev } else { Dir::Next })
    }

    fn link_count(&self) -> usize {
        Ring::link_count(self)
    }

    fn endpoints(&self, link: usize) -> (u32, u32) {
        Ring::endpoints(self, link)
    }

    fn port_to(&self, src: u32, dst: u32) -> Option<u32> {
        self.link_between(src, dst).map(|l| (l % 2) as u32)
    }

    fn link_bw_scale(&self, link: usize) -> f64 {
        Ring::link_bw_scale(self, link)
    }
}

/// Analytic time of a ring reduce-scatter of `bytes` per device over `n`
/// devices on identical links: `(n-1)/n * bytes / bw + (n-1) * latency`.
/// Each of the `n - 1` steps moves one `bytes / n` chunk and pays the
/// latency once (store and forward per step, packets pipelined within a
/// step); credits and compute are ignored. The bandwidth term is exact and
/// rounded up once.
pub fn ring_reduce_scatter_ps(n: u32, bytes: u64, link: &Link) -> Ps {
    if n < 2 {
        return 0;
    }
    let steps = (n - 1) as u128;
    let ser = (steps * bytes as u128 * 1_000_000_000_000)
        .div_ceil(n as u128 * link.rate_bytes_per_s() as u128);
    let lat = steps * link.latency_ps() as u128;
    Ps::try_from(ser + lat).unwrap_or(Ps::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LinkConfig;

    #[test]
    fn ring_neighbours_wrap_around() {
        let r = Ring::new(4).unwrap();
        assert_eq!((0..4).map(|i| r.next(i)).collect::<Vec<_>>(), [1, 2, 3, 0]);
        assert_eq!((0..4).map(|i| r.prev(i)).collect::<Vec<_>>(), [3, 0, 1, 2]);
        assert_eq!(r.next(u32::MAX), r.next(u32::MAX % 4));
        let one = Ring::new(1).unwrap();
        assert_eq!((one.next(0), one.prev(0)), (0, 0));
    }

    #[test]
    fn reduce_scatter_link_goes_to_previous_device() {
        let r = Ring::new(8).unwrap();
        assert_eq!(r.link_count(), 16);
        for i in 0..8 {
            let l = r.link(i, Dir::Prev);
            assert_eq!(r.endpoints(l), (i, (i + 7) % 8));
            assert_eq!(r.link_between(i, (i + 7) % 8), Some(l));
            let m = r.link(i, Dir::Next);
            assert_eq!(r.endpoints(m), (i, (i + 1) % 8));
            assert_eq!(r.link_between(i, (i + 1) % 8), Some(m));
            assert_eq!(r.link_between(i, (i + 4) % 8), None);
        }
        let mut all: Vec<usize> = (0..8)
            .flat_map(|i| [r.link(i, Dir::Prev), r.link(i, Dir::Next)])
            .collect();
        all.sort();
        assert_eq!(all, (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn two_device_ring_prefers_reduce_scatter_link() {
        let r = Ring::new(2).unwrap();
        assert_eq!(r.link_between(0, 1), Some(r.link(0, Dir::Prev)));
        assert_eq!(r.endpoints(r.link(0, Dir::Next)), (0, 1));
    }

    #[test]
    fn link_runs_at_slower_device_scale() {
        let r = Ring::with_device_bw_scales(vec![1.0, 0.5, 1.0, 1.0]).unwrap();
        let links = r.build_links(&LinkConfig::default()).unwrap();
        let rate = |i, d| links[r.link(i, d)].rate_bytes_per_s();
        assert_eq!(rate(1, Dir::Prev), 37_500_000_000);
        assert_eq!(rate(2, Dir::Prev), 37_500_000_000);
        assert_eq!(rate(0, Dir::Next), 37_500_000_000);
        assert_eq!(rate(3, Dir::Prev), 75_000_000_000);
        assert_eq!(rate(0, Dir::Prev), 75_000_000_000);
    }

    #[test]
    fn bad_ring_is_rejected_with_field() {
        assert!(Ring::new(0).is_err());
        let e = Ring::with_device_bw_scales(vec![1.0, -2.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("link.device_bw_scale[1]"), "{e}");
    }

    #[test]
    fn analytic_reduce_scatter_matches_textbook_formula() {
        let l = Link::new(&LinkConfig::default(), 1.0).unwrap();
        // 8 devices, 96 MB each: 7/8 * 96e6 / 75e9 s = 1.12 ms, + 7 * 500 ns.
        assert_eq!(
            ring_reduce_scatter_ps(8, 96_000_000, &l),
            1_120_000_000 + 3_500_000
        );
        assert_eq!(ring_reduce_scatter_ps(1, 96_000_000, &l), 0);
    }

    #[test]
    fn stepwise_ring_simulation_matches_analytic_time() {
        // Every device sends one chunk per step to i-1 over its own link;
        // a step ends when the slowest chunk has fully arrived.
        let cfg = LinkConfig {
            bw_gbps_per_dir: 64.0,
            ..LinkConfig::default()
        };
        let n = 8u32;
        let bytes: u64 = 8 * 256 * 1000;
        let r = Ring::new(n).unwrap();
        let mut links = r.build_links(&cfg).unwrap();
        let mut t: Ps = 0;
        for _step in 1..n {
            let mut end = t;
            for i in 0..n {
                let link = &mut links[r.link(i, Dir::Prev)];
                for _ in 0..link.packets_for(bytes / n as u64) {
                    let d = link.send(t, 256).unwrap();
                    link.return_credit(d.arrival).unwrap();
                    end = end.max(d.arrival);
                }
            }
            t = end;
        }
        assert_eq!(t, ring_reduce_scatter_ps(n, bytes, &links[0]));
        assert_eq!(links[r.link(0, Dir::Next)].stats().bytes, 0);
    }
}
