//! DRAM bandwidth over time, per stream and per channel, binned as
//! completions arrive. The bin width doubles whenever the run outgrows the
//! bin budget, so memory stays bounded whatever the run's length.

use super::BandwidthSeries;
use crate::engine::Ps;
use crate::mem::Stream;

const MAX_BINS: usize = 512;

#[derive(Debug, Clone)]
pub struct BandwidthBins {
    width_ps: Ps,
    streams: Vec<[u64; Stream::COUNT]>,
    channels: Vec<Vec<u64>>,
    nch: usize,
}

impl BandwidthBins {
    pub fn new(channels: usize) -> Self {
        BandwidthBins {
            width_ps: 1_000_000,
            streams: Vec::new(),
            channels: Vec::new(),
            nch: channels,
        }
    }

    pub fn add(&mut self, t: Ps, stream: Stream, channel: u32, bytes: u64) {
        let mut i = (t / self.width_ps) as usize;
        while i >= MAX_BINS {
            self.coarsen();
            i = (t / self.width_ps) as usize;
        }
        if i >= self.streams.len() {
            self.streams.resize(i + 1, [0; Stream::COUNT]);
            self.channels.resize(i + 1, vec![0; self.nch]);
        }
        self.streams[i][stream.index()] += bytes;
        if let Some(c) = self.channels[i].get_mut(channel as usize) {
            *c += bytes;
        }
    }

    fn coarsen(&mut self) {
        self.width_ps *= 2;
        let pair = |k: usize| 2 * k..(2 * k + 2);
        let n = self.streams.len().div_ceil(2);
        self.streams = (0..n)
            .map(|k| {
                let mut s = [0; Stream::COUNT];
                for b in self.streams.get(pair(k)).into_iter().flatten() {
                    for (x, y) in s.iter_mut().zip(b) {
                        *x += y;
                    }
                }
                s
            })
            .collect();
        self.channels = (0..n)
            .map(|k| {
                let mut c = vec![0; self.nch];
                for b in self.channels.get(pair(k)).into_iter().flatten() {
                    for (x, y) in c.iter_mut().zip(b) {
                        *x += y;
                    }
                }
                c
            })
            .collect();
    }

    fn gbps(&self, bytes: u64) -> f64 {
        bytes as f64 / (self.width_ps as f64 / 1000.0)
    }

    fn t_us(&self, i: usize) -> f64 {
        i as f64 * self.width_ps as f64 / 1e6
    }

    /// One series per stream that moved any bytes, plus `total`.
    pub fn streams(&self) -> Vec<BandwidthSeries> {
        let mut out = Vec::new();
        for s in Stream::ALL {
            if self.streams.iter().any(|b| b[s.index()] > 0) {
                out.push(BandwidthSeries {
                    stream: s.name().to_string(),
                    points: (0..self.streams.len())
                        .map(|i| (self.t_us(i), self.gbps(self.streams[i][s.index()])))
                        .collect(),
                });
            }
        }
        out.push(BandwidthSeries {
            stream: "total".into(),
            points: (0..self.streams.len())
                .map(|i| (self.t_us(i), self.gbps(self.streams[i].iter().sum())))
                .collect(),
        });
        out
    }

    /// One series per channel (`ch N`).
    pub fn channels(&self) -> Vec<BandwidthSeries> {
        (0..self.nch)
            .map(|c| BandwidthSeries {
                stream: format!("ch {c}"),
                points: (0..self.channels.len())
                    .map(|i| (self.t_us(i), self.gbps(self.channels[i][c])))
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarsening_keeps_every_byte() {
        let mut b = BandwidthBins::new(2);
        let mut total = 0;
        for k in 0..5000u64 {
            b.add(k * 700_000, Stream::GemmRead, (k % 2) as u32, 64);
            total += 64;
        }
        assert!(b.streams.len() <= MAX_BINS);
        let sum: u64 = b.streams.iter().map(|s| s[Stream::GemmRead.index()]).sum();
        assert_eq!(sum, total);
        let ch: u64 = b.channels.iter().flatten().sum();
        assert_eq!(ch, total);
    }
}
