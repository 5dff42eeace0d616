//! A hashed timer wheel with millisecond ticks, sans-IO: one per shard, owned and driven by
//! the shard's thread, so there is no locking and no atomics.
//!
//! Why a wheel rather than a heap: JetStream arms an ack wait for every message it delivers,
//! plus heartbeats and pull-request expiries, and connections carry their own deadlines (auth
//! timeout, TLS handshake, the `handshake_first: auto` fallback, the ping interval). Those are
//! many timers, armed at message rate and nearly all made moot before they fire (the ack
//! arrives). A wheel inserts in O(1) where a heap pays O(log n), and with lazy cancellation
//! (below) an ack costs the wheel nothing at all.
//!
//! Cancellation is lazy: there is no cancel handle. A key is the caller's own small `Copy`
//! value naming what fires (say, a connection slot, its unique client id and which timer);
//! when it comes out of [`TimerWheel::expire`] the caller checks that it still means
//! something (the slot still holds that client, the message is still unacked) and drops it
//! otherwise. A timer that is re-armed is simply inserted again; the stale entry fails the
//! caller's check when it fires.
//!
//! Time is a count of whole milliseconds since the wheel's origin `Instant`. A deadline is
//! rounded up to the next tick and `now` down, so a timer never fires early: it fires at the
//! first `expire` whose `now` is at or past its deadline.

use std::time::{Duration, Instant};

/// Slots in the wheel, a power of two so a tick maps to its slot with a mask. At one slot per
/// millisecond a round is 1.024 s: the connection timers (seconds) and ack waits (30 s by
/// default in JetStream) sit a few rounds out, and an entry a later round away costs nothing
/// while its slot has nothing due (see `mins`). 1024 keeps the wheel at 32 KiB per shard and
/// the full scan for the next deadline, when nothing is due within a round, at 1024 loads.
const SLOTS: usize = 1024;
/// Tick (ms) to slot index.
const MASK: u64 = SLOTS as u64 - 1;
/// Nanoseconds in a tick: the wheel's resolution is 1 ms.
const NANOS_PER_TICK: u128 = 1_000_000;
/// `mins` of a slot with no entries, and `earliest` of an empty wheel.
const NONE: u64 = u64::MAX;

/// A per-shard timer wheel: keys `K` fire in deadline order once their deadline has passed.
pub struct TimerWheel<K> {
    origin: Instant,
    /// Slot `t & MASK` holds every pending timer whose tick is `t`, for all rounds, in
    /// insertion order, as (deadline in ms since `origin`, key). The inner `Vec`s keep their
    /// capacity when drained, so a wheel in steady use stops allocating.
    slots: Vec<Vec<(u64, K)>>,
    /// The smallest deadline (ms) in each slot, `NONE` when empty: `expire` skips a slot whose
    /// timers are all a later round away without reading them, and the next deadline is
    /// found from these alone.
    mins: Vec<u64>,
    /// The tick (ms) of the latest `expire`: every timer due at or before it has fired,
    /// except those inserted since, which wait in this tick's slot.
    cursor: u64,
    /// The exact earliest pending deadline (ms), `NONE` when empty.
    earliest: u64,
    len: usize,
    /// Scratch for one `expire`'s due timers, kept to reuse its allocation.
    fired: Vec<(u64, K)>,
}

impl<K: Copy> TimerWheel<K> {
    /// An empty wheel counting milliseconds from `origin`; times before it count as `origin`.
    pub fn new(origin: Instant) -> Self {
        TimerWheel {
            origin,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            mins: vec![NONE; SLOTS],
            cursor: 0,
            earliest: NONE,
            len: 0,
            fired: Vec::new(),
        }
    }

    /// Arms `key` to fire at `at`, in O(1). A deadline already passed fires at the next
    /// `expire`.
    pub fn insert(&mut self, at: Instant, key: K) {
        let since = at.saturating_duration_since(self.origin).as_nanos();
        // Rounded up: a tick fires when `now` reaches it, which must not be before `at`.
        let deadline = since.div_ceil(NANOS_PER_TICK) as u64;
        // A passed deadline goes in the cursor's slot, the first one the next `expire` reads;
        // it keeps its own deadline so it still comes out in deadline order.
        let i = (deadline.max(self.cursor) & MASK) as usize;
        self.slots[i].push((deadline, key));
        self.mins[i] = self.mins[i].min(deadline);
        self.earliest = self.earliest.min(deadline);
        self.len += 1;
    }

    /// Appends to `out` the keys of every timer due at `now`, in deadline order (ties in
    /// insertion order), and removes them. Reads each slot between the previous call and
    /// `now` once, at most once around the wheel however far `now` has jumped, and only the
    /// entries of slots that have something due.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<K>) {
        let now_ms = self.ms(now);
        // The cursor's own slot is read again: timers inserted past due since the last call
        // wait there. A `now` behind the cursor reads only that slot, firing what is due.
        let last = now_ms.max(self.cursor).min(self.cursor + MASK);
        let fired = &mut self.fired;
        for tick in self.cursor..=last {
            let i = (tick & MASK) as usize;
            if self.mins[i] > now_ms {
                continue;
            }
            let mut min = NONE;
            self.slots[i].retain(|&(deadline, key)| {
                let due = deadline <= now_ms;
                if due {
                    fired.push((deadline, key));
                } else {
                    min = min.min(deadline);
                }
                !due
            });
            self.mins[i] = min;
        }
        self.cursor = self.cursor.max(now_ms);
        if fired.is_empty() {
            return;
        }
        self.len -= fired.len();
        // Slots were read in tick order, so this is already sorted except after a jump of a
        // round or more, or past-due inserts; equal deadlines share a slot, and a stable sort
        // keeps their insertion order.
        fired.sort_by_key(|&(deadline, _)| deadline);
        out.extend(fired.drain(..).map(|(_, key)| key));
        if self.earliest <= now_ms {
            self.earliest = self.find_earliest();
        }
    }

    /// The earliest pending deadline, exact, rounded up to the millisecond: an `expire` at or
    /// after it fires that timer. `None` when nothing is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.earliest != NONE).then(|| self.origin + Duration::from_millis(self.earliest))
    }

    /// Pending timers, stale ones included (cancellation is the caller's check at firing).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whole milliseconds from the origin to `now`, rounded down so nothing fires early.
    fn ms(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_millis() as u64
    }

    /// The earliest deadline after an `expire` (nothing left at or before the cursor). Walks
    /// the slots from the cursor on: the first whose smallest deadline falls in this round
    /// holds the earliest, as every deadline in a slot is its tick plus whole rounds. Mostly
    /// the walk stops at the next timer, slots the cursor will pass anyway; with nothing due
    /// within a round it reads all of `mins`.
    fn find_earliest(&self) -> u64 {
        if self.len == 0 {
            return NONE;
        }
        let mut earliest = NONE;
        for tick in self.cursor + 1..=self.cursor + SLOTS as u64 {
            let min = self.mins[(tick & MASK) as usize];
            if min <= tick {
                return min;
            }
            earliest = earliest.min(min);
        }
        earliest
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn expire(w: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        w.expire(now, &mut out);
        out
    }

    #[test]
    fn never_early_and_fires_at_the_deadline() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + ms(10), 1);
        // A deadline between ticks is rounded up to the next one.
        w.insert(t0 + ms(20) + Duration::from_micros(1), 2);
        assert_eq!(w.len(), 2);
        assert!(expire(&mut w, t0 + ms(10) - Duration::from_nanos(1)).is_empty());
        assert_eq!(expire(&mut w, t0 + ms(10)), [1]);
        assert!(expire(&mut w, t0 + ms(20) + Duration::from_micros(999)).is_empty());
        assert_eq!(expire(&mut w, t0 + ms(21)), [2]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn deadline_order_ties_in_insertion_order() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        for (i, d) in [5u64, 3, 5, 1, 3, 4].into_iter().enumerate() {
            w.insert(t0 + ms(d), i as u32);
        }
        assert_eq!(expire(&mut w, t0 + ms(5)), [3, 1, 4, 5, 0, 2]);
    }

    #[test]
    fn far_future_waits_its_round() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        let far = 10 * SLOTS as u64 + 7;
        w.insert(t0 + ms(far), 1);
        // Same slot, earlier rounds: each fires in its own round only.
        w.insert(t0 + ms(7), 2);
        w.insert(t0 + ms(SLOTS as u64 + 7), 3);
        let mut got = Vec::new();
        for step in 1..=far {
            let now = t0 + ms(step);
            let fired = expire(&mut w, now);
            if !fired.is_empty() {
                got.push((step, fired));
            }
        }
        assert_eq!(
            got,
            [(7, vec![2]), (SLOTS as u64 + 7, vec![3]), (far, vec![1])]
        );
    }

    #[test]
    fn now_jumping_many_rounds() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        for i in 0..5000u32 {
            w.insert(t0 + ms(u64::from(i * 7 % 5000)), i);
        }
        let fired = expire(&mut w, t0 + ms(3000));
        assert_eq!(fired.len(), 3001);
        let deadlines: Vec<u32> = fired.iter().map(|i| i * 7 % 5000).collect();
        assert!(deadlines.windows(2).all(|p| p[0] < p[1]));
        assert_eq!(w.len(), 1999);
        assert_eq!(w.next_deadline(), Some(t0 + ms(3001)));
        assert_eq!(expire(&mut w, t0 + ms(100_000)).len(), 1999);
        assert!(w.is_empty());
    }

    #[test]
    fn next_deadline_is_exact() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        assert_eq!(w.next_deadline(), None);
        w.insert(t0 + ms(5000), 1);
        assert_eq!(w.next_deadline(), Some(t0 + ms(5000)));
        w.insert(t0 + Duration::from_micros(2500), 2);
        assert_eq!(w.next_deadline(), Some(t0 + ms(3)));
        assert_eq!(expire(&mut w, t0 + ms(3)), [2]);
        // Nothing within a round: found by the full walk.
        assert_eq!(w.next_deadline(), Some(t0 + ms(5000)));
        w.insert(t0 + ms(4000), 3);
        w.insert(t0 + ms(4000 - SLOTS as u64), 4);
        assert_eq!(w.next_deadline(), Some(t0 + ms(4000 - SLOTS as u64)));
        assert_eq!(expire(&mut w, t0 + ms(4000 - SLOTS as u64)), [4]);
        assert_eq!(w.next_deadline(), Some(t0 + ms(4000)));
    }

    #[test]
    fn past_deadline_fires_on_next_expire() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        assert!(expire(&mut w, t0 + ms(100)).is_empty());
        w.insert(t0 + ms(50), 1);
        w.insert(t0 + ms(100), 2);
        w.insert(t0 + ms(40), 3);
        w.insert(t0 - ms(1), 4);
        assert_eq!(w.next_deadline(), Some(t0));
        // Same `now` as the last call: all are due, in deadline order.
        assert_eq!(expire(&mut w, t0 + ms(100)), [4, 3, 1, 2]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Insert at `now` plus this many µs (negative: already past).
        Insert(i64),
        /// Expire at `now` advanced by this many µs.
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let round_us = SLOTS as i64 * 1000;
        prop_oneof![
            4 => (-5000i64..3 * round_us).prop_map(Op::Insert),
            1 => (-5000i64..100).prop_map(|us| Op::Insert(us * 1000)),
            3 => (0u64..3000).prop_map(Op::Advance),
            1 => (0u64..3 * round_us as u64).prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn matches_sorted_model(ops in prop::collection::vec(op(), 1..200)) {
            let t0 = Instant::now();
            let mut w = TimerWheel::new(t0);
            // Pending timers by (deadline tick, insertion number): deadline order, ties in
            // insertion order.
            let mut model = BTreeMap::new();
            let mut now = t0 + ms(3);
            for (seq, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Insert(us) => {
                        let at = if us < 0 {
                            let back = Duration::from_micros(us.unsigned_abs());
                            now.checked_sub(back).map_or(t0, |at| at.max(t0))
                        } else {
                            now + Duration::from_micros(us as u64)
                        };
                        let tick = (at - t0).as_nanos().div_ceil(1_000_000) as u64;
                        model.insert((tick, seq), seq as u32);
                        w.insert(at, seq as u32);
                    }
                    Op::Advance(us) => {
                        now += Duration::from_micros(us);
                        let now_ms = (now - t0).as_millis() as u64;
                        let mut want = Vec::new();
                        while let Some(e) = model.first_entry() {
                            if e.key().0 > now_ms {
                                break;
                            }
                            want.push(e.remove());
                        }
                        let mut got = Vec::new();
                        w.expire(now, &mut got);
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(w.len(), model.len());
                let next = model.keys().next().map(|&(tick, _)| t0 + ms(tick));
                prop_assert_eq!(w.next_deadline(), next);
            }
        }
    }
}
