//! Pushing outbox messages to processes on this node, as AO's Messenger Unit does
//! (`servers/mu/src/domain/lib/build-tx.js`): each message a process sends to a process this
//! node schedules becomes a data item signed by the node wallet, with the sender's tags (less
//! `Data-Protocol`, `Type`, `From-Process`, `From-Module`, `Assignments`) followed by
//! `Data-Protocol: ao`, `Type: Message`, `From-Process: <sender>`, `From-Module: <its module>`
//! and `Pushed-For: <the message that started the chain>`, the sender's `Anchor` and `Data`;
//! then it is scheduled on its target.
//!
//! Pushes happen once per evaluated message: results evaluated again after a restart (identical
//! by determinism) are not pushed again. Messages to processes this node does not schedule are
//! left for an external MU (they stay in the result's outbox).

use std::sync::{Arc, Weak};

use serde_json::Value;
use tokio::sync::mpsc;

use super::{ComputeUnit, Outbox};
use crate::ao::Tag;
use crate::ao::{DataItem, Id};
use crate::sched::{NodeScheduler, Scheduler};
use crate::store::Store;

/// Tags of an outbox message that the messenger replaces.
const REPLACED_TAGS: [&str; 5] = [
    "Data-Protocol",
    "Type",
    "From-Process",
    "From-Module",
    "Assignments",
];

/// Start the messenger of `cu`: the outboxes sent to the returned sink are pushed to the node
/// scheduler until the CU is dropped.
pub fn start(
    cu: Weak<ComputeUnit>,
    scheduler: Arc<NodeScheduler>,
) -> mpsc::UnboundedSender<Outbox> {
    let (sink, mut outboxes) = mpsc::unbounded_channel::<Outbox>();
    tokio::spawn(async move {
        while let Some(outbox) = outboxes.recv().await {
            let sched = match scheduler.get().await {
                Ok(s) => s.clone(),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot push outbox messages without the node wallet");
                    continue;
                }
            };
            let Some(cu) = cu.upgrade() else { break };
            let store = cu.store().clone();
            let pushed = tokio::task::spawn_blocking(move || push(&sched, &store, &outbox)).await;
            match pushed {
                Ok(targets) => {
                    for target in targets {
                        cu.notify(&target);
                    }
                }
                Err(e) => tracing::error!(error = %e, "outbox push failed"),
            }
        }
    });
    sink
}

/// Push the messages of one outbox that go to processes on this node; returns their targets.
pub fn push(sched: &Scheduler, store: &Store, outbox: &Outbox) -> Vec<String> {
    let Some(messages) = outbox.result.get("Messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    if messages.is_empty() {
        return Vec::new();
    }
    let (from_module, pushed_for) = match origin(store, outbox) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(process = %outbox.process, error = %e, "cannot push the outbox");
            return Vec::new();
        }
    };
    let mut targets = Vec::new();
    for message in messages {
        let Some(target) = message.get("Target").and_then(Value::as_str) else {
            continue;
        };
        let Ok(raw_target) = target.parse::<Id>() else {
            continue;
        };
        match store.process(target) {
            Ok(Some(_)) => {}
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "outbox push: reading the target failed");
                continue;
            }
        }
        let item = match item_for(
            sched,
            message,
            raw_target.into_bytes(),
            &outbox.process,
            &from_module,
            pushed_for.as_deref(),
        ) {
            Ok(item) => item,
            Err(e) => {
                tracing::warn!(process = %outbox.process, target, error = %e, "outbox message not pushed");
                continue;
            }
        };
        match sched.submit(&item) {
            Ok(scheduled) => {
                tracing::debug!(from = %outbox.process, target, slot = scheduled.assignment.slot, "pushed");
                targets.push(target.to_string());
            }
            Err(e) => {
                tracing::warn!(from = %outbox.process, target, error = %e, "outbox push refused")
            }
        }
    }
    targets
}

/// The sender's module and the `Pushed-For` of this outbox: the evaluated message's own
/// `Pushed-For` when it was itself pushed, else its ID; none for a cron message, which AO's MU
/// pushes without one (it has no initial message).
fn origin(store: &Store, outbox: &Outbox) -> Result<(String, Option<String>), PushError> {
    let record = store
        .process(&outbox.process)?
        .ok_or_else(|| PushError::ProcessGone(outbox.process.clone()))?;
    let module = record
        .tags
        .get("Module")
        .map(str::to_string)
        .unwrap_or(record.module);
    if outbox.cron.is_some() {
        return Ok((module, None));
    }
    let evaluated = store.messages(&outbox.process, outbox.slot, outbox.slot, 1)?;
    let tags: crate::ao::Tags = evaluated
        .first()
        .and_then(|m| m.message.get("Tags"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    let pushed_for = tags
        .get("Pushed-For")
        .map(str::to_string)
        .unwrap_or_else(|| outbox.message.clone());
    Ok((module, Some(pushed_for)))
}

fn item_for(
    sched: &Scheduler,
    message: &Value,
    target: [u8; 32],
    from_process: &str,
    from_module: &str,
    pushed_for: Option<&str>,
) -> Result<DataItem, crate::ao::ItemError> {
    let mut tags: Vec<Tag> = message
        .get("Tags")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|t| {
                    let name = t.get("name")?.as_str()?;
                    let value = match t.get("value")? {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    Some(Tag::new(name, value))
                })
                .filter(|t| !REPLACED_TAGS.contains(&t.name.as_str()))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in [
        ("Data-Protocol", "ao"),
        ("Type", "Message"),
        ("From-Process", from_process),
        ("From-Module", from_module),
    ] {
        tags.push(Tag::new(name, value));
    }
    if let Some(pushed_for) = pushed_for {
        tags.push(Tag::new("Pushed-For", pushed_for));
    }
    let anchor = message.get("Anchor").and_then(Value::as_str).and_then(|a| {
        a.as_bytes()
            .first_chunk::<32>()
            .copied()
            .filter(|_| a.len() == 32)
    });
    let data = match message.get("Data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => other.to_string().into_bytes(),
    };
    DataItem::signed(sched.wallet(), Some(target), anchor, tags, data)
}

/// Why an outbox could not be pushed.
#[derive(Debug, thiserror::Error)]
enum PushError {
    /// The sender's record is no longer in the store.
    #[error("process {0} is gone")]
    ProcessGone(String),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
