//! STAND-IN until the timer-wheel branch lands (not committed).
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug)]
pub struct TimerWheel<K> {
    heap: BinaryHeap<Reverse<(Instant, u64, K)>>,
    n: u64,
}

impl<K: Copy + Ord> TimerWheel<K> {
    pub fn new(_origin: Instant) -> Self {
        TimerWheel {
            heap: BinaryHeap::new(),
            n: 0,
        }
    }
    pub fn insert(&mut self, at: Instant, key: K) {
        self.n += 1;
        self.heap.push(Reverse((at, self.n, key)));
    }
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        while let Some(Reverse((at, _, k))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            out.push(k);
        }
    }
    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|r| r.0 .0)
    }
}
