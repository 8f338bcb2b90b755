use super::Ps;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A min-heap of events keyed by time, then a class (lower first), then
/// insertion order, so that runs are deterministic. Classes let a model
/// fix the order of simultaneous events that different components create
/// (for example, arrivals from another device before local events), so the
/// order does not depend on which component happened to push first.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

#[derive(Debug)]
struct Entry<E> {
    time: Ps,
    class: u8,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.time == o.time && self.class == o.class && self.seq == o.seq
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
        (o.time, o.class, o.seq).cmp(&(self.time, self.class, self.seq))
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
        self.seq += 1;
        self.heap.push(Entry {
            time,
            class,
            seq: self.seq,
            event,
        });
    }

    pub fn pop(&mut self) -> Option<(Ps, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    pub fn peek_time(&self) -> Option<Ps> {
        self.heap.peek().map(|e| e.time)
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

    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(5, 'a');
        q.push(1, 'b');
        q.push(5, 'c');
        q.push(3, 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|e| e.1)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
    }
}
