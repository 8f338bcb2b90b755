use super::Ps;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A min-heap of events keyed by time, then a class (lower first), then
/// insertion order, so that runs are deterministic. Classes let a model
/// fix the order of simultaneous events that different components create
/// (for example, arrivals from another device before local events), so the
/// order does not depend on which component happened to push first.
#[derive(Debug, Clone)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

/// An event with its order packed into one integer: time in the high 64
/// bits, then the class (8 bits), then the insertion number (56 bits), so
/// the heap compares one `u128` instead of three fields (the queue's
/// hottest operation). 2^56 insertions outlast any run.
#[derive(Debug, Clone)]
struct Entry<E> {
    key: u128,
    event: E,
}

const SEQ_BITS: u32 = 56;

/// The order of an event in an [`EventQueue`] (see [`EventQueue::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventKey(u128);

impl<E> Entry<E> {
    fn time(&self) -> Ps {
        (self.key >> 64) as Ps
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        o.key.cmp(&self.key)
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, time: Ps, event: E) {
        self.push_class(time, 1, event);
    }

    /// Pushes with an explicit class: at equal times, lower classes pop
    /// first ([`Self::push`] uses class 1).
    pub fn push_class(&mut self, time: Ps, class: u8, event: E) {
        let key = self.key(time, class);
        self.push_keyed(key, event);
    }

    /// The order an event pushed now at (`time`, `class`) would take,
    /// consuming its insertion number, without pushing it. A caller with a
    /// stream of events already in this order (say, a link's arrivals) can
    /// hold them outside the heap and keep only the next one in it
    /// ([`Self::push_keyed`]): the events pop exactly as if all had been
    /// pushed, from a smaller heap.
    pub fn key(&mut self, time: Ps, class: u8) -> EventKey {
        self.seq += 1;
        let seq = (self.seq & ((1u64 << SEQ_BITS) - 1)) as u128;
        EventKey(((time as u128) << 64) | ((class as u128) << SEQ_BITS) | seq)
    }

    /// Pushes an event in the order [`Self::key`] gave it.
    pub fn push_keyed(&mut self, key: EventKey, event: E) {
        self.heap.push(Entry { key: key.0, event });
    }

    pub fn pop(&mut self) -> Option<(Ps, E)> {
        self.heap.pop().map(|e| (e.time(), e.event))
    }

    pub fn peek_time(&self) -> Option<Ps> {
        self.heap.peek().map(|e| e.time())
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events in the order they pop.
    fn drain(q: &mut EventQueue<char>) -> Vec<char> {
        std::iter::from_fn(|| q.pop().map(|e| e.1)).collect()
    }

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(5, 'a');
        q.push(1, 'b');
        q.push(5, 'c');
        q.push(3, 'd');
        let order = drain(&mut q);
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }

    #[test]
    fn keyed_events_pop_as_if_pushed_when_keyed() {
        let mut q = EventQueue::new();
        q.push(5, 'a');
        let k = q.key(5, 1);
        q.push(5, 'c');
        let k0 = q.key(2, 0);
        q.push_keyed(k, 'b');
        q.push_keyed(k0, 'z');
        let order = drain(&mut q);
        assert_eq!(order, vec!['z', 'a', 'b', 'c']);
    }

    #[test]
    fn lower_classes_pop_first_at_equal_times() {
        let mut q = EventQueue::new();
        q.push(7, 'a');
        q.push_class(7, 0, 'b');
        q.push_class(6, 2, 'c');
        q.push_class(7, 0, 'd');
        let order = drain(&mut q);
        assert_eq!(order, vec!['c', 'b', 'd', 'a']);
    }
}
