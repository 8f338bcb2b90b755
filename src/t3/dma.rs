//! The DMA engines of one device: triggered tiles wait in a descriptor
//! queue; up to `engines` are read from local memory at once, and each
//! tile, once read, is handed back for sending to its destination.

use crate::engine::Ps;
use crate::stats::BusySpans;
use std::collections::VecDeque;

/// What a DMA engine asks of the simulation it runs in.
pub trait DmaEnv {
    fn now(&self) -> Ps;
    /// Reads `tile` from local memory; when the read is done the caller
    /// calls [`Dma::read_done`] with the tile and `start`.
    fn read_tile(&mut self, tile: u64, start: Ps);
}

/// The DMA engines of one device.
#[derive(Debug, Clone)]
pub struct Dma {
    engines: u32,
    queue: VecDeque<u64>,
    active: u32,
    busy: BusySpans,
}

impl Dma {
    pub fn new(engines: u32) -> Dma {
        Dma {
            engines,
            queue: VecDeque::new(),
            active: 0,
            busy: BusySpans::default(),
        }
    }

    /// A triggered tile's descriptor is ready.
    pub fn trigger(&mut self, tile: u64, env: &mut impl DmaEnv) {
        self.queue.push_back(tile);
        self.pump(env);
    }

    /// Starts reads while an engine is free.
    pub fn pump(&mut self, env: &mut impl DmaEnv) {
        while self.active < self.engines {
            let Some(tile) = self.queue.pop_front() else {
                return;
            };
            self.active += 1;
            env.read_tile(tile, env.now());
        }
    }

    /// The read of a tile started at `start` is done: the engine is free
    /// (the caller sends the tile, then calls [`Self::pump`]).
    pub fn read_done(&mut self, start: Ps, now: Ps) {
        self.busy.add(start, now);
        self.active -= 1;
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    pub fn active(&self) -> u32 {
        self.active
    }

    pub fn busy(&self) -> &BusySpans {
        &self.busy
    }
}
