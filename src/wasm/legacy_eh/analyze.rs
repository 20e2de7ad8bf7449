//! First pass over a function body: what each `try` turns into.
//!
//! The emitter writes a `try` before it has seen how the try ends (catches or `delegate`), which
//! catch clauses need the exception reference (because a `rethrow` in them targets the try), and
//! whether some inner `delegate` targets it. This pass walks the body once with a control stack
//! and records those facts per try, numbered in order of appearance (`try` and `try_table`
//! share one numbering, since both can be delegate targets).

use wasmparser::{FunctionBody, Operator};

use super::error::{LegacyEhError, Result};

/// Where a `delegate` sends its exception.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// Into the body of the handler frame (legacy `try` or `try_table`) with this ordinal.
    Frame(usize),
    /// Out of the function, to the caller.
    Caller,
}

/// One catch clause of a legacy try.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clause {
    /// The tag for `catch`, `None` for `catch_all`.
    pub tag: Option<u32>,
    /// Whether a `rethrow` inside this clause targets the try: the clause then needs the
    /// exception reference (`catch_ref`/`catch_all_ref`).
    pub needs_ref: bool,
}

/// What the analysis found about one `try` (or `try_table`).
#[derive(Clone, Debug, Default)]
pub(super) struct TryInfo {
    /// Catch clauses in order (empty for `try … delegate` and catch-less `try … end`).
    pub clauses: Vec<Clause>,
    /// The effective target, when the try ends with `delegate`.
    pub delegate: Option<Target>,
    /// Whether some `delegate` resolves into this try's body (it then gets a trampoline).
    pub delegate_target: bool,
    /// Whether some `rethrow` targets this try (it then gets an `exnref` local).
    pub rethrow_target: bool,
}

/// The analysis of one function body.
#[derive(Debug, Default)]
pub(super) struct Analysis {
    /// Per try/try_table ordinal.
    pub trys: Vec<TryInfo>,
    /// Whether some `delegate` targets the caller.
    pub caller_target: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the protected body.
    Do,
    /// In a catch clause (after `catch`/`catch_all`).
    Catch,
}

#[derive(Clone, Copy)]
enum Frame {
    /// The function body, a `block`, `loop` or `if`.
    Plain,
    /// A legacy try with its ordinal.
    Try(usize, Phase),
    /// A standard `try_table` with its ordinal.
    TryTable(usize),
}

/// Walks a function body and records what each try becomes.
pub(super) fn analyze(func_index: u32, body: &FunctionBody<'_>) -> Result<Analysis> {
    let mut a = Analysis::default();
    let mut stack = vec![Frame::Plain];
    let mut ops = body.get_operators_reader()?;
    let fail = |offset: usize, construct: &str| LegacyEhError::Untranslatable {
        func_index,
        offset,
        construct: construct.to_string(),
    };
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset()?;
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                stack.push(Frame::Plain)
            }
            Operator::Try { .. } => {
                stack.push(Frame::Try(a.trys.len(), Phase::Do));
                a.trys.push(TryInfo::default());
            }
            Operator::TryTable { .. } => {
                stack.push(Frame::TryTable(a.trys.len()));
                a.trys.push(TryInfo::default());
            }
            Operator::Catch { tag_index } => catch_clause(&mut a, &mut stack, Some(tag_index))
                .ok_or_else(|| fail(offset, "`catch` outside a try"))?,
            Operator::CatchAll => catch_clause(&mut a, &mut stack, None)
                .ok_or_else(|| fail(offset, "`catch_all` outside a try"))?,
            Operator::Rethrow { relative_depth } => {
                let target = frame_at(&stack, relative_depth);
                let Some(Frame::Try(ord, Phase::Catch)) = target else {
                    return Err(fail(offset, "`rethrow` whose label is not a catch clause"));
                };
                let info = &mut a.trys[ord];
                info.rethrow_target = true;
                match info.clauses.last_mut() {
                    Some(clause) => clause.needs_ref = true,
                    None => return Err(fail(offset, "`rethrow` outside a catch clause")),
                }
            }
            Operator::Delegate { relative_depth } => {
                let Some(Frame::Try(ord, Phase::Do)) = stack.pop() else {
                    return Err(fail(offset, "`delegate` that does not end a try body"));
                };
                let target = resolve_delegate(&stack, relative_depth)
                    .ok_or_else(|| fail(offset, "`delegate` to a label out of range"))?;
                match target {
                    Target::Frame(t) => a.trys[t].delegate_target = true,
                    Target::Caller => a.caller_target = true,
                }
                a.trys[ord].delegate = Some(target);
            }
            Operator::End => {
                stack
                    .pop()
                    .ok_or_else(|| fail(offset, "`end` without an open block"))?;
            }
            _ => {}
        }
    }
    Ok(a)
}

/// Starts a catch clause on the try at the top of the stack; `None` if there is none.
fn catch_clause(a: &mut Analysis, stack: &mut [Frame], tag: Option<u32>) -> Option<()> {
    let top = stack.last_mut()?;
    let Frame::Try(ord, phase) = top else {
        return None;
    };
    *phase = Phase::Catch;
    a.trys[*ord].clauses.push(Clause {
        tag,
        needs_ref: false,
    });
    Some(())
}

/// The frame a relative label depth names, if it exists.
fn frame_at(stack: &[Frame], relative_depth: u32) -> Option<Frame> {
    let idx = stack.len().checked_sub(1 + relative_depth as usize)?;
    stack.get(idx).copied()
}

/// Where a `delegate l` (the delegating try already popped) sends its exception: into the
/// first handler frame at or outside label `l` whose protected body is still open, else to the
/// caller. Frames in between have no handler for it (a catch clause does not protect itself),
/// so re-throwing at that frame's body level behaves as the legacy semantics say.
fn resolve_delegate(stack: &[Frame], relative_depth: u32) -> Option<Target> {
    let idx = stack.len().checked_sub(1 + relative_depth as usize)?;
    for frame in stack[..=idx].iter().rev() {
        match *frame {
            Frame::Try(ord, Phase::Do) | Frame::TryTable(ord) => return Some(Target::Frame(ord)),
            _ => {}
        }
    }
    Some(Target::Caller)
}
