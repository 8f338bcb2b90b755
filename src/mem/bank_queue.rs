//! One bank's queued requests, oldest first.

/// A bank's queued requests as (slab slot, row), oldest first. Requests
/// mostly leave from the front (the oldest row hit goes first), so the
/// front is an offset and removing it moves nothing; the space before it
/// is reclaimed when the queue empties or the buffer is full.
#[derive(Debug, Clone, Default)]
pub(crate) struct BankQueue {
    items: Vec<(u16, u32)>,
    head: usize,
}

impl BankQueue {
    #[inline]
    pub fn as_slice(&self) -> &[(u16, u32)] {
        &self.items[self.head..]
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }

    #[inline]
    pub fn push(&mut self, slot: u16, row: u32) {
        if self.head > 0 && self.items.len() == self.items.capacity() {
            self.items.drain(..self.head);
            self.head = 0;
        }
        self.items.push((slot, row));
    }

    /// Removes the request in `slot`, if queued here.
    #[inline]
    pub fn remove(&mut self, slot: u16) {
        match self.as_slice().iter().position(|&(s, _)| s == slot) {
            Some(0) => self.head += 1,
            Some(pos) => {
                self.items.remove(self.head + pos);
            }
            None => {}
        }
        if self.is_empty() {
            self.items.clear();
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Behaves as a plain list under any mix of pushes and removals.
        #[test]
        fn matches_a_plain_list(ops in proptest::collection::vec((0u8..3, 0u16..12), 0..300)) {
            let mut q = BankQueue::default();
            let mut model: Vec<(u16, u32)> = Vec::new();
            let mut next = 0u16;
            for (op, k) in ops {
                if op == 0 || model.is_empty() {
                    q.push(next, next as u32 * 7);
                    model.push((next, next as u32 * 7));
                    next += 1;
                } else {
                    // Mostly the front, as the scheduler does, else any.
                    let slot = if op == 1 { model[0].0 } else { model[k as usize % model.len()].0 };
                    q.remove(slot);
                    model.retain(|&(s, _)| s != slot);
                }
                proptest::prop_assert_eq!(q.as_slice(), &model[..]);
                proptest::prop_assert_eq!(q.is_empty(), model.is_empty());
            }
        }
    }
}
