//! Cron on the CU: a held process' crons (read once from its tags), and the evaluation of the
//! cron messages of one span, after slot `n` and before the next scheduled message or a
//! horizon in time (see [`crate::ao::cron`] for how the messages are generated, and
//! `docs/node-cu-cron.md` for the Node CU's rules).
//!
//! Each span's messages are numbered from 0 in evaluation order; their results are stored under
//! (process, n, number). `done` counts how many of the span after the held state's last slot
//! are already in its memory, so a span evaluated up to "now" and later extended to the next
//! message continues where it stopped. Generation is deterministic, so evaluating a span again
//! after a restart (from a checkpoint taken at a slot) gives the same results, which are then
//! found stored and not pushed twice.

use serde_json::{Value, json};

use super::output::answer;
use super::{CuError, Outbox};
use crate::ao::cron::{self, Block, CronMessage, Schedule};
use crate::store::{Charge, CronResult, ProcessRecord, ScheduledMessage};
use crate::wasm::{MessageInput, Process};

/// How many cron messages are evaluated between two store writes.
const BATCH: usize = 256;

/// The crons of one held process.
#[derive(Debug, Clone)]
pub struct Crons {
    schedule: Schedule,
    owner: String,
    /// Messages of the span after the held state's last slot already evaluated into it.
    done: u64,
}

/// Where a span's evaluation runs and reports.
#[derive(Debug, Clone, Copy)]
pub struct SpanAt<'a> {
    /// The node's evaluation context.
    pub ctx: &'a super::Context,
    /// The process.
    pub process_id: &'a str,
    /// The executor (and its CPU) it runs on.
    pub executor: (usize, Option<usize>),
}

/// One span: after `slot` (whose message is in `left`), before `right` (milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// The slot the span follows.
    pub slot: u64,
    /// That slot's block (height and timestamp).
    pub left: Block,
    /// The exclusive right end, milliseconds.
    pub right: i64,
}

impl Crons {
    /// The crons of `record`, whose own message (slot 0) is `origin`; `None` when it has none.
    /// Cron tags the Node CU refuses make the process unusable, as there.
    pub fn of(record: &ProcessRecord, origin: &ScheduledMessage) -> Result<Option<Crons>, CuError> {
        let crons = cron::crons(&record.tags)
            .map_err(|e| CuError::Schedule(format!("process {}: {e}", record.id)))?;
        if crons.is_empty() {
            return Ok(None);
        }
        let origin = block_of(origin);
        Ok(Some(Crons {
            schedule: Schedule::new(&crons, origin),
            owner: record.owner.clone(),
            done: 0,
        }))
    }

    /// A new slot was evaluated: the next span starts empty.
    pub fn slot_done(&mut self) {
        self.done = 0;
    }

    /// Whether the held state holds cron messages past its last slot (a checkpoint taken now
    /// would not be "the state after that slot").
    pub fn past_slot(&self) -> bool {
        self.done > 0
    }

    /// Evaluate the messages of `span` not yet in the state, storing their results; the
    /// newly stored ones' outboxes go to `outboxes`.
    pub fn run(
        &mut self,
        process: &mut Process,
        env: &Value,
        at: SpanAt<'_>,
        span: Span,
        outboxes: &mut Vec<Outbox>,
    ) -> Result<(), CuError> {
        // A copy, so the generator does not borrow `self` while `done` moves on.
        let schedule = self.schedule.clone();
        let blocks = self.blocks_of(at, &span)?;
        let mut messages = schedule
            .between(span.left, span.right, &blocks)
            .skip(self.done as usize);
        loop {
            let mut batch = Vec::with_capacity(BATCH);
            for message in messages.by_ref().take(BATCH) {
                let (result, charge) = self.evaluate(process, env, at, &message);
                batch.push((self.done + batch.len() as u64, result, charge));
            }
            if batch.is_empty() {
                return Ok(());
            }
            let fresh = at
                .ctx
                .store
                .put_cron_results(at.process_id, span.slot, &batch)?;
            self.done += batch.len() as u64;
            for ((_, stored, _), fresh) in batch.into_iter().zip(fresh) {
                if fresh {
                    outboxes.push(Outbox {
                        process: at.process_id.to_string(),
                        message: String::new(),
                        slot: span.slot,
                        cron: Some(stored.cron),
                        result: stored.result,
                    });
                }
            }
        }
    }

    /// The blocks `span` covers, for block-based crons (none needed: none read).
    fn blocks_of(&self, at: SpanAt<'_>, span: &Span) -> Result<Vec<Block>, CuError> {
        if !self.schedule.has_block_crons() {
            return Ok(Vec::new());
        }
        let Some(source) = at.ctx.blocks.as_ref() else {
            tracing::debug!(process = at.process_id, "block-based crons need a gateway");
            return Ok(Vec::new());
        };
        source
            .between(span.left.height, span.right)
            .map_err(|e| CuError::Schedule(format!("process {}: {e}", at.process_id)))
    }

    fn evaluate(
        &self,
        process: &mut Process,
        env: &Value,
        at: SpanAt<'_>,
        message: &CronMessage,
    ) -> (CronResult, Charge) {
        let fields = self.fields(at.process_id, message);
        let evaluation = process.evaluate(MessageInput::new(&fields, env));
        let name = format!("cron {}@{}", message.cron, message.timestamp);
        let (executor, cpu) = at.executor;
        let cost = super::Cost::of_evaluation(at.process_id, &name, &evaluation, executor, cpu);
        if let Some(meter) = &at.ctx.meter {
            meter(&cost);
        }
        // A cron message is the process' own: its owner pays for it.
        let charge = at.ctx.charge(&cost, &self.owner, false);
        let result = CronResult {
            cron: message.cron.clone(),
            timestamp: message.timestamp,
            block_height: message.block_height,
            result: answer(&evaluation),
        };
        (result, charge)
    }

    /// A cron message as the Node CU hands it to the process: the owner as `Owner` and
    /// `From`, the process as `Target`, the cron's tags, its timestamp and height, `Cron: true`,
    /// and no `Id`, signature or data.
    fn fields(&self, process_id: &str, message: &CronMessage) -> Value {
        json!({
            "Owner": self.owner,
            "Target": process_id,
            "From": self.owner,
            "Tags": message.tags.to_json(),
            "Timestamp": message.timestamp,
            "Block-Height": message.block_height,
            "Cron": true,
        })
    }
}

/// The block of a scheduled message: its assignment's height and timestamp.
pub fn block_of(scheduled: &ScheduledMessage) -> Block {
    Block {
        height: scheduled.assignment.block_height as i64,
        timestamp: scheduled.assignment.timestamp as i64,
    }
}

/// The right end of a span evaluated "up to now": the current whole second. Whole seconds
/// keep such a span a prefix of the longer one that later ends at the next message (a block in
/// the same second as the horizon would otherwise be taken on different ticks).
pub fn horizon(now_ms: u64) -> i64 {
    (now_ms / 1000 * 1000) as i64
}
