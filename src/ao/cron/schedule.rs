//! The cron messages between two scheduled messages, generated as AO's Node CU generates them
//! (`cronMessagesBetweenWith` in `servers/cu/src/domain/lib/loadMessages.js`; the rules are in
//! `docs/node-cu-cron.md`).
//!
//! The Node CU walks the span one second at a time. [`Span`] yields the same messages in the
//! same order but jumps from one firing to the next, so a process idle for a year costs its
//! firings, not 31 million steps.

use std::cmp::Ordering;
use std::collections::VecDeque;

use super::interval::{Cron, Every};
use crate::ao::Tags;

/// A block as the SU and the gateway describe it: height and timestamp (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    /// Block height.
    pub height: i64,
    /// Block timestamp, milliseconds since the epoch.
    pub timestamp: i64,
}

/// One generated cron message.
#[derive(Debug, Clone, PartialEq)]
pub struct CronMessage {
    /// The cron's identifier, `<index>-<interval>` (the index among the crons of its kind).
    pub cron: String,
    /// The message's timestamp, milliseconds.
    pub timestamp: i64,
    /// The message's block height.
    pub block_height: i64,
    /// The cron's tags.
    pub tags: Tags,
}

/// A cron with its identifier and its period as an integer, `None` where it never fires.
#[derive(Debug, Clone)]
struct Armed {
    id: String,
    period: Option<i64>,
    tags: Tags,
}

/// The crons of one process, ready to generate messages relative to its origin block.
#[derive(Debug, Clone)]
pub struct Schedule {
    origin: Block,
    /// Block crons in tag order.
    blocks: Vec<Armed>,
    /// Time crons, shortest period first (ties and NaN as V8's `Array.prototype.sort` leaves them).
    times: Vec<Armed>,
}

impl Schedule {
    /// The schedule of `crons` for a process whose own message is in block `origin`.
    pub fn new(crons: &[Cron], origin: Block) -> Schedule {
        let mut blocks = Vec::new();
        let mut times: Vec<(f64, &Cron)> = Vec::new();
        for cron in crons {
            match cron.every {
                Every::Blocks(n) => blocks.push((n, cron)),
                Every::Seconds(s) => times.push((s, cron)),
            }
        }
        js_sort_by(&mut times, |a, b| js_ascend(a.0, b.0));
        let arm = |i: usize, (value, cron): (f64, &Cron)| Armed {
            id: format!("{i}-{}", cron.interval),
            period: integral_period(value),
            tags: cron.tags.clone(),
        };
        Schedule {
            origin,
            blocks: blocks
                .into_iter()
                .enumerate()
                .map(|(i, c)| arm(i, c))
                .collect(),
            times: times
                .into_iter()
                .enumerate()
                .map(|(i, c)| arm(i, c))
                .collect(),
        }
    }

    /// Whether any cron counts blocks (the span then needs the blocks between its ends).
    pub fn has_block_crons(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Whether the process has no crons.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.times.is_empty()
    }

    /// The cron messages after the message (or origin) at `left` and before `right_timestamp`;
    /// `blocks` are the known blocks (any order of heights as the gateway gave them), of which
    /// those strictly between the two timestamps count.
    pub fn between(&self, left: Block, right_timestamp: i64, blocks: &[Block]) -> Span<'_> {
        let in_range = blocks
            .iter()
            .filter(|b| b.timestamp > left.timestamp && b.timestamp < right_timestamp)
            .copied()
            .collect();
        let span = right_timestamp.saturating_sub(left.timestamp);
        Span {
            schedule: self,
            left_ms: left.timestamp,
            left_s: left.timestamp.div_euclid(1000),
            steps: if span > 0 { (span + 999) / 1000 } else { 0 },
            next_step: 0,
            current: left,
            pending_blocks: in_range,
            ready: VecDeque::new(),
        }
    }
}

/// A period the modulo test can ever satisfy: a non-zero integer small enough to be exact in a
/// JavaScript number. Larger ones never divide a difference of real timestamps or heights other
/// than zero, and zero differences are excluded by the rules.
fn integral_period(value: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (value.is_finite() && value != 0.0 && value.abs() < EXACT).then(|| value.abs() as i64)
}

/// The messages of one span, in the Node CU's order.
#[derive(Debug)]
pub struct Span<'a> {
    schedule: &'a Schedule,
    left_ms: i64,
    left_s: i64,
    /// Tick `k` is the timestamp `left_ms + 1000 k`; ticks `0..steps` lie before the right end.
    steps: i64,
    next_step: i64,
    current: Block,
    pending_blocks: VecDeque<Block>,
    ready: VecDeque<CronMessage>,
}

impl Span<'_> {
    /// The first tick at or after `next_step` where the next pending block is taken: the first
    /// whose second reaches the block's (one block per tick, as the Node CU's loop does).
    fn block_step(&self) -> Option<i64> {
        let block = self.pending_blocks.front()?;
        Some(
            self.next_step
                .max(block.timestamp.div_euclid(1000) - self.left_s),
        )
    }

    /// The first tick at or after `next_step` where the time cron of `period` fires: its second
    /// differs from the origin's by a non-zero multiple of the period.
    fn time_step(&self, period: i64) -> i64 {
        let origin_s = self.schedule.origin.timestamp.div_euclid(1000);
        let second = self.left_s + self.next_step;
        let late = (second - origin_s).rem_euclid(period);
        let mut step = self.next_step + if late == 0 { 0 } else { period - late };
        if self.left_s + step == origin_s {
            step += period;
        }
        step
    }

    /// Runs tick `step`: the block it takes (if any) with its block crons, then its time crons.
    fn tick(&mut self, step: i64, takes_block: bool) {
        if takes_block && let Some(block) = self.pending_blocks.pop_front() {
            self.current = block;
            let origin_height = self.schedule.origin.height;
            for cron in &self.schedule.blocks {
                let fires = cron.period.is_some_and(|p| {
                    block.height != origin_height && (block.height - origin_height) % p == 0
                });
                if fires {
                    self.ready
                        .push_back(message(cron, block.timestamp, block.height));
                }
            }
        }
        let timestamp = self.left_ms + 1000 * step;
        for cron in &self.schedule.times {
            if cron.period.is_some_and(|p| self.time_step(p) == step) {
                self.ready
                    .push_back(message(cron, timestamp, self.current.height));
            }
        }
        self.next_step = step + 1;
    }
}

impl Iterator for Span<'_> {
    type Item = CronMessage;

    fn next(&mut self) -> Option<CronMessage> {
        while self.ready.is_empty() {
            let block_step = self.block_step();
            let time_step = (self.schedule.times.iter())
                .filter_map(|c| c.period)
                .map(|p| self.time_step(p))
                .min();
            let step = match (block_step, time_step) {
                (Some(b), Some(t)) => b.min(t),
                (Some(b), None) => b,
                (None, Some(t)) => t,
                (None, None) => return None,
            };
            if step >= self.steps {
                return None;
            }
            self.tick(step, block_step == Some(step));
        }
        self.ready.pop_front()
    }
}

fn message(cron: &Armed, timestamp: i64, block_height: i64) -> CronMessage {
    CronMessage {
        cron: cron.id.clone(),
        timestamp,
        block_height,
        tags: cron.tags.clone(),
    }
}

/// ramda's `ascend`: `a < b ? -1 : a > b ? 1 : 0` (NaN compares "equal" to everything).
fn js_ascend(a: f64, b: f64) -> Ordering {
    if a < b {
        Ordering::Less
    } else if a > b {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// `Array.prototype.sort` as V8 runs it on short arrays (under 64 elements, the whole array
/// is one TimSort run): the leading run is found (a strictly descending one is reversed), then
/// binary insertion sort extends it. With a consistent comparator any stable sort agrees; this
/// reproduces V8 also for the inconsistent one NaN periods make. Longer arrays (no real process
/// has 64 crons) are sorted stably, which can differ from V8 only when NaN is among them.
fn js_sort_by<T>(items: &mut [T], cmp: impl Fn(&T, &T) -> Ordering) {
    let n = items.len();
    if n < 2 {
        return;
    }
    if n >= 64 {
        items.sort_by(cmp);
        return;
    }
    let mut run = 2;
    if cmp(&items[1], &items[0]) == Ordering::Less {
        while run < n && cmp(&items[run], &items[run - 1]) == Ordering::Less {
            run += 1;
        }
        items[..run].reverse();
    } else {
        while run < n && cmp(&items[run], &items[run - 1]) != Ordering::Less {
            run += 1;
        }
    }
    for start in run..n {
        let (mut left, mut right) = (0, start);
        while left < right {
            let mid = left + (right - left) / 2;
            if cmp(&items[start], &items[mid]) == Ordering::Less {
                right = mid;
            } else {
                left = mid + 1;
            }
        }
        items[left..=start].rotate_right(1);
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
