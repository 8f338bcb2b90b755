//! Memory-system statistics: plain data, summed as the run goes (nothing per
//! request is kept).

use super::request::{Op, Stream, StreamClass};
use serde::{Deserialize, Serialize};

/// Per-stream counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    pub requests: u64,
    pub bytes: u64,
    /// Sum over requests of arrival-to-completion cycles.
    pub latency_cycles_sum: u64,
    /// Sum over requests of arrival-to-column-command cycles.
    pub queue_delay_cycles_sum: u64,
}

impl StreamStats {
    pub fn add(&mut self, o: &StreamStats) {
        self.requests += o.requests;
        self.bytes += o.bytes;
        self.latency_cycles_sum += o.latency_cycles_sum;
        self.queue_delay_cycles_sum += o.queue_delay_cycles_sum;
    }
}

/// Exact histogram of read latencies in DRAM cycles (1-cycle bins up to a
/// bound, then one overflow bin), so percentiles are exact below the bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    bins: Vec<u64>,
    overflow: u64,
    max: u64,
    count: u64,
    sum: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            bins: vec![0; Self::BOUND],
            overflow: 0,
            max: 0,
            count: 0,
            sum: 0,
        }
    }
}

impl LatencyHistogram {
    const BOUND: usize = 1 << 14;

    #[inline]
    pub fn record(&mut self, cycles: u64) {
        match self.bins.get_mut(cycles as usize) {
            Some(b) => *b += 1,
            None => self.overflow += 1,
        }
        self.max = self.max.max(cycles);
        self.count += 1;
        self.sum += cycles;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The smallest latency that at least `q` of the samples do not exceed
    /// (nearest rank). Samples beyond the bound report the maximum.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &b) in self.bins.iter().enumerate() {
            seen += b;
            if seen >= rank {
                return i as u64;
            }
        }
        self.max
    }

    pub fn merge(&mut self, o: &LatencyHistogram) {
        for (a, b) in self.bins.iter_mut().zip(&o.bins) {
            *a += b;
        }
        self.overflow += o.overflow;
        self.max = self.max.max(o.max);
        self.count += o.count;
        self.sum += o.sum;
    }
}

/// Per-channel counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub reads: u64,
    pub writes: u64,
    pub updates: u64,
    pub activates: u64,
    pub precharges: u64,
    pub refreshes: u64,
    /// Requests whose first command was a column access.
    pub row_hits: u64,
    /// Requests that found their bank closed.
    pub row_misses: u64,
    /// Requests that found another row open.
    pub row_conflicts: u64,
    pub bytes: u64,
    /// Cycles the data bus carried data.
    pub bus_busy_cycles: u64,
    /// Cycles a ready communication request was held back by arbitration.
    pub arb_stall_cycles: u64,
    /// Time integral of queue occupancy (requests x cycles), per class.
    pub occupancy_compute_cycles: u64,
    pub occupancy_comm_cycles: u64,
    /// The last cycle this channel did anything.
    pub last_cycle: u64,
}

impl ChannelStats {
    pub fn row_hit_rate(&self) -> f64 {
        let n = self.row_hits + self.row_misses + self.row_conflicts;
        if n == 0 {
            0.0
        } else {
            self.row_hits as f64 / n as f64
        }
    }

    pub fn add(&mut self, o: &ChannelStats) {
        self.reads += o.reads;
        self.writes += o.writes;
        self.updates += o.updates;
        self.activates += o.activates;
        self.precharges += o.precharges;
        self.refreshes += o.refreshes;
        self.row_hits += o.row_hits;
        self.row_misses += o.row_misses;
        self.row_conflicts += o.row_conflicts;
        self.bytes += o.bytes;
        self.bus_busy_cycles += o.bus_busy_cycles;
        self.arb_stall_cycles += o.arb_stall_cycles;
        self.occupancy_compute_cycles += o.occupancy_compute_cycles;
        self.occupancy_comm_cycles += o.occupancy_comm_cycles;
        self.last_cycle = self.last_cycle.max(o.last_cycle);
    }
}

/// Everything one memory system counted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemStats {
    pub channels: Vec<ChannelStats>,
    /// Indexed by [`Stream::index`] (an array: counting needs no bounds
    /// check).
    pub streams: [StreamStats; Stream::COUNT],
    pub read_latency: LatencyHistogram,
}

impl MemStats {
    pub fn new(channels: usize) -> Self {
        MemStats {
            channels: vec![ChannelStats::default(); channels],
            streams: Default::default(),
            read_latency: LatencyHistogram::default(),
        }
    }

    pub fn stream(&self, s: Stream) -> &StreamStats {
        &self.streams[s.index()]
    }

    pub fn total(&self) -> ChannelStats {
        let mut t = ChannelStats::default();
        for c in &self.channels {
            t.add(c);
        }
        t
    }

    /// Bytes moved by one class of streams.
    pub fn class_bytes(&self, class: StreamClass) -> u64 {
        Stream::ALL
            .iter()
            .filter(|s| s.class() == class)
            .map(|s| self.streams[s.index()].bytes)
            .sum()
    }

    /// Adds another system's per-stream counts and read latencies (not its
    /// channels).
    pub(crate) fn add_requests(&mut self, o: &MemStats) {
        for (a, b) in self.streams.iter_mut().zip(&o.streams) {
            a.add(b);
        }
        self.read_latency.merge(&o.read_latency);
    }

    #[inline]
    pub(crate) fn count_served(&mut self, stream: Stream, bytes: u64, queue_delay: u64) {
        let s = &mut self.streams[stream.index()];
        s.requests += 1;
        s.bytes += bytes;
        s.queue_delay_cycles_sum += queue_delay;
    }

    #[inline]
    pub(crate) fn count_done(&mut self, stream: Stream, op: Op, latency: u64) {
        self.streams[stream.index()].latency_cycles_sum += latency;
        if op == Op::Read {
            self.read_latency.record(latency);
        }
    }
}
