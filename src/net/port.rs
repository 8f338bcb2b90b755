//! A device's output port on one link: the transfers queued for that link,
//! sent packet by packet while the link has credits. What a transfer is
//! (`U`) belongs to whoever queued it: a collective's slice, a T3 tile.

use super::link::{Delivery, Link, LinkError};
use crate::engine::Ps;
use crate::stats::BusySpans;
use std::collections::VecDeque;

/// A transfer being sent, packet by packet.
#[derive(Debug, Clone)]
struct Tx<U> {
    unit: U,
    sent: u64,
    bytes: u64,
    vals: Vec<u64>,
}

/// One packet on the wire.
#[derive(Debug, Clone)]
pub struct Packet<U> {
    /// The receiving device.
    pub dst: u32,
    /// The link it crossed (its credit goes back there).
    pub link: u32,
    pub unit: U,
    /// Byte offset within the transfer.
    pub offset: u64,
    pub bytes: u32,
    /// The transfer's values (functional check) ride on its last packet.
    pub vals: Option<Vec<u64>>,
}

impl<U> Packet<U> {
    /// True for the last packet of its transfer.
    pub fn is_last(&self) -> bool {
        self.vals.is_some()
    }
}

/// A device's output port on one link.
#[derive(Debug, Clone)]
pub struct Port<U> {
    link: u32,
    dst: u32,
    tx: VecDeque<Tx<U>>,
    retry_at: Option<Ps>,
    /// Every credit is with the receiver: only a returned credit lets the
    /// port send again.
    awaiting_credit: bool,
    busy: BusySpans,
    first_send: Option<Ps>,
}

impl<U: Copy> Port<U> {
    /// The port onto `link`, whose packets are delivered to `dst`.
    pub fn new(link: u32, dst: u32) -> Port<U> {
        Port {
            link,
            dst,
            tx: VecDeque::new(),
            retry_at: None,
            awaiting_credit: false,
            busy: BusySpans::default(),
            first_send: None,
        }
    }

    pub fn link(&self) -> usize {
        self.link as usize
    }

    /// Queues a transfer of `bytes` carrying `vals`.
    pub fn queue(&mut self, unit: U, bytes: u64, vals: Vec<u64>) {
        self.tx.push_back(Tx {
            unit,
            sent: 0,
            bytes,
            vals,
        });
    }

    /// Transfers queued or partly sent.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// Sends packets of the queued transfers while `link` has credits,
    /// handing each to `sent` with its delivery times. Returns a time to
    /// call again when the link ran out of credits and no earlier call is
    /// already due.
    pub fn pump(
        &mut self,
        now: Ps,
        link: &mut Link,
        mut sent: impl FnMut(Delivery, Packet<U>),
    ) -> Option<Ps> {
        let pkt = link.packet_bytes() as u64;
        loop {
            let tx = self.tx.front_mut()?;
            let bytes = pkt.min(tx.bytes - tx.sent) as u32;
            match link.send(now, bytes) {
                Ok(del) => {
                    self.busy.add(del.start, del.tail_sent);
                    let offset = tx.sent;
                    tx.sent += bytes as u64;
                    let last = tx.sent == tx.bytes;
                    let vals = last.then(|| std::mem::take(&mut tx.vals));
                    let unit = tx.unit;
                    if last {
                        self.tx.pop_front();
                    }
                    self.first_send.get_or_insert(now);
                    let p = Packet {
                        dst: self.dst,
                        link: self.link,
                        unit,
                        offset,
                        bytes,
                        vals,
                    };
                    sent(del, p);
                }
                Err(LinkError::NoCredit) => {
                    let Some(t) = link.credit_ready_at(now) else {
                        self.awaiting_credit = true;
                        return None;
                    };
                    if self.retry_at.is_none_or(|r| t < r) {
                        self.retry_at = Some(t);
                        return Some(t);
                    }
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// The receiver returned a credit that reaches the sender at `at`: a
    /// port that waited for one returns the time to call [`Self::pump`].
    pub fn credit_returned(&mut self, at: Ps) -> Option<Ps> {
        if !std::mem::take(&mut self.awaiting_credit) {
            return None;
        }
        if self.retry_at.is_none_or(|r| at < r) {
            self.retry_at = Some(at);
            return Some(at);
        }
        None
    }

    /// The retry [`Self::pump`] asked for is due.
    pub fn retry_due(&mut self) {
        self.retry_at = None;
    }

    /// When the link was busy with this port's packets.
    pub fn busy(&self) -> &BusySpans {
        &self.busy
    }

    /// When the first packet left.
    pub fn first_send(&self) -> Option<Ps> {
        self.first_send
    }
}
