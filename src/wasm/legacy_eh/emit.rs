//! Second pass over a function body: write the standardized form.
//!
//! Instructions that neither open, close nor branch are copied byte for byte. The emitter keeps
//! two control stacks: the legacy one (as the input's labels see it) and the count of frames
//! actually emitted, which grows with the blocks the translation adds. Each legacy frame
//! remembers which emitted frame its label stands for, so every branch depth is recomputed as
//! "emitted frames between here and there".

use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{Encode, InstructionSink};
use wasmparser::{BlockType, FunctionBody, Operator, ValType};

use super::analyze::{Analysis, Target, analyze};
use super::error::{LegacyEhError, Result};
use super::types::{ModuleTypes, NewTypes, Sig, val_type};

/// Where a legacy try is: in its protected body, or in catch clause `n`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Do,
    Catch(usize),
}

#[derive(Clone, Copy)]
enum Kind {
    Func,
    /// `block`, `loop` or `if`.
    Plain,
    Try {
        ord: usize,
        phase: Phase,
        /// The `exnref` local holding the caught exception, for trys targeted by `rethrow`.
        exn_local: Option<u32>,
    },
    TryTable {
        ord: usize,
    },
}

/// One frame of the legacy control stack.
#[derive(Clone, Copy)]
struct Frame {
    kind: Kind,
    /// Index (from the function frame, 0) of the emitted frame a branch to this label targets.
    label: u32,
    /// Index of the open trampoline block in this frame's body, if a delegate targets it.
    tramp: Option<u32>,
}

struct Emitter<'a> {
    func_index: u32,
    info: &'a ModuleTypes,
    types: &'a mut NewTypes,
    analysis: &'a Analysis,
    out: Vec<u8>,
    /// Number of emitted frames currently open, the function's own included.
    depth: u32,
    frames: Vec<Frame>,
    next_ord: usize,
    /// Nesting depth of open trys that are `rethrow` targets: picks their `exnref` local.
    rethrow_depth: u32,
    max_rethrow_depth: u32,
    /// Index of the first added `exnref` local.
    exn_base: u32,
    /// Offset of the instruction being translated, for errors.
    offset: usize,
}

/// Translates one function body that uses legacy exception-handling opcodes.
pub(super) fn translate_function(
    func_index: u32,
    body: &FunctionBody<'_>,
    info: &ModuleTypes,
    types: &mut NewTypes,
) -> Result<wasm_encoder::Function> {
    let analysis = analyze(func_index, body)?;
    let untranslatable = |construct: String| LegacyEhError::Untranslatable {
        func_index,
        offset: body.range().start,
        construct,
    };
    let sig = info
        .func_types
        .get(func_index as usize)
        .and_then(|&t| info.sig(t))
        .ok_or_else(|| untranslatable("a function without a function type".into()))?;

    let mut locals = Vec::new();
    let mut local_count = sig.params.len() as u64;
    for entry in body.get_locals_reader()? {
        let (count, ty) = entry?;
        local_count += u64::from(count);
        locals.push((count, val_type(ty)?));
    }
    let exn_base = u32::try_from(local_count)
        .map_err(|_| untranslatable("a function with more than 2^32 locals".into()))?;

    let mut e = Emitter {
        func_index,
        info,
        types,
        analysis: &analysis,
        out: Vec::with_capacity(body.range().len() + 64),
        depth: 1,
        frames: vec![Frame {
            kind: Kind::Func,
            label: 0,
            tramp: None,
        }],
        next_ord: 0,
        rethrow_depth: 0,
        max_rethrow_depth: 0,
        exn_base,
        offset: body.range().start,
    };
    if analysis.caller_target {
        e.open_tramp(0, &[])?;
    }

    let bytes = body.as_bytes();
    let base = body.range().start;
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset()?;
        let end = ops.original_position();
        e.offset = offset;
        let raw = bytes
            .get(offset - base..end - base)
            .ok_or_else(|| untranslatable("an instruction outside its body".into()))?;
        e.op(op, raw)?;
    }
    if !e.frames.is_empty() {
        return Err(untranslatable(
            "a body whose blocks are not all closed".into(),
        ));
    }

    if e.max_rethrow_depth > 0 {
        locals.push((e.max_rethrow_depth, wasm_encoder::ValType::EXNREF));
    }
    let mut f = wasm_encoder::Function::new(locals);
    f.raw(e.out);
    Ok(f)
}

impl Emitter<'_> {
    fn fail(&self, construct: impl Into<String>) -> LegacyEhError {
        LegacyEhError::Untranslatable {
            func_index: self.func_index,
            offset: self.offset,
            construct: construct.into(),
        }
    }

    fn sink(&mut self) -> InstructionSink<'_> {
        InstructionSink::new(&mut self.out)
    }

    /// Opens an emitted frame (the instruction is written by the caller); returns its index.
    fn open(&mut self) -> u32 {
        self.depth += 1;
        self.depth - 1
    }

    /// Writes `end` and closes the innermost emitted frame.
    fn end(&mut self) {
        self.sink().end();
        self.depth -= 1;
    }

    /// The relative depth, from here, of the emitted frame with index `abs`.
    fn rel(&self, abs: u32) -> Result<u32> {
        (self.depth - 1)
            .checked_sub(abs)
            .ok_or_else(|| self.fail("a branch to a closed block"))
    }

    /// Translates a legacy relative label depth into an emitted one.
    fn label(&self, relative_depth: u32) -> Result<u32> {
        let idx = self
            .frames
            .len()
            .checked_sub(1 + relative_depth as usize)
            .ok_or_else(|| {
                self.fail(format!("a branch to label {relative_depth}, out of range"))
            })?;
        self.rel(self.frames[idx].label)
    }

    /// The signature of a block type.
    fn block_sig(&self, bt: BlockType) -> Result<Sig> {
        Ok(match bt {
            BlockType::Empty => Sig {
                params: vec![],
                results: vec![],
            },
            BlockType::Type(t) => Sig {
                params: vec![],
                results: vec![t],
            },
            BlockType::FuncType(i) => self
                .info
                .sig(i)
                .cloned()
                .ok_or_else(|| self.fail(format!("block type {i}, not a function type")))?,
        })
    }

    /// The original block type, in wasm-encoder's form.
    fn block_type(&self, bt: BlockType) -> Result<wasm_encoder::BlockType> {
        RoundtripReencoder
            .block_type(bt)
            .map_err(|e| self.fail(format!("block type {bt:?}: {e}")))
    }

    /// A block type for a new block, adding a function type when it needs one.
    fn new_block_type(&mut self, sig: Sig) -> Result<wasm_encoder::BlockType> {
        match (sig.params.is_empty(), sig.results.as_slice()) {
            (true, []) => Ok(wasm_encoder::BlockType::Empty),
            (true, [t]) => Ok(wasm_encoder::BlockType::Result(val_type(*t)?)),
            _ => Ok(wasm_encoder::BlockType::FunctionType(
                self.types.intern(sig),
            )),
        }
    }

    /// Opens the trampoline block inside the body of the innermost frame (or the function).
    fn open_tramp(&mut self, frame: usize, params: &[ValType]) -> Result<()> {
        let bt = self.new_block_type(Sig {
            params: params.to_vec(),
            results: vec![ValType::EXNREF],
        })?;
        self.sink().block(bt);
        let idx = self.open();
        self.frames[frame].tramp = Some(idx);
        Ok(())
    }

    /// Closes a trampoline: the body's normal exit leaves the enclosing frame (`br 1`, with the
    /// results), an exception delegated here lands after the block and is re-thrown in place.
    fn close_tramp(&mut self, tramp: Option<u32>) {
        if tramp.is_some() {
            self.sink().br(1);
            self.end();
            self.sink().throw_ref();
        }
    }

    /// The relative depth of the trampoline a delegate target names.
    fn tramp_depth(&self, target: Target) -> Result<u32> {
        let tramp = match target {
            Target::Caller => self.frames.first().and_then(|f| f.tramp),
            Target::Frame(ord) => self
                .frames
                .iter()
                .rev()
                .find(|f| match f.kind {
                    Kind::Try { ord: o, .. } | Kind::TryTable { ord: o } => o == ord,
                    _ => false,
                })
                .and_then(|f| f.tramp),
        };
        let tramp = tramp.ok_or_else(|| self.fail("a `delegate` whose target is not open"))?;
        self.rel(tramp)
    }

    fn op(&mut self, op: Operator<'_>, raw: &[u8]) -> Result<()> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                self.out.extend_from_slice(raw);
                let label = self.open();
                self.frames.push(Frame {
                    kind: Kind::Plain,
                    label,
                    tramp: None,
                });
            }
            Operator::Try { blockty } => self.try_(blockty)?,
            Operator::Catch { tag_index } => self.catch(Some(tag_index))?,
            Operator::CatchAll => self.catch(None)?,
            Operator::Delegate { .. } => self.delegate()?,
            Operator::Rethrow { relative_depth } => self.rethrow(relative_depth)?,
            Operator::TryTable { try_table } => self.try_table(try_table)?,
            Operator::End => self.end_op(raw)?,
            Operator::Br { relative_depth } => {
                let l = self.label(relative_depth)?;
                self.sink().br(l);
            }
            Operator::BrIf { relative_depth } => {
                let l = self.label(relative_depth)?;
                self.sink().br_if(l);
            }
            Operator::BrOnNull { relative_depth } => {
                let l = self.label(relative_depth)?;
                self.sink().br_on_null(l);
            }
            Operator::BrOnNonNull { relative_depth } => {
                let l = self.label(relative_depth)?;
                self.sink().br_on_non_null(l);
            }
            Operator::BrTable { targets } => {
                let mut ls = Vec::with_capacity(targets.len() as usize);
                for t in targets.targets() {
                    ls.push(self.label(t?)?);
                }
                let default = self.label(targets.default())?;
                self.sink().br_table(ls, default);
            }
            Operator::BrOnCast {
                relative_depth,
                from_ref_type,
                to_ref_type,
            } => {
                let relative_depth = self.label(relative_depth)?;
                self.reencode(Operator::BrOnCast {
                    relative_depth,
                    from_ref_type,
                    to_ref_type,
                })?
            }
            Operator::BrOnCastFail {
                relative_depth,
                from_ref_type,
                to_ref_type,
            } => {
                let relative_depth = self.label(relative_depth)?;
                self.reencode(Operator::BrOnCastFail {
                    relative_depth,
                    from_ref_type,
                    to_ref_type,
                })?
            }
            Operator::BrOnCastDescEq {
                relative_depth,
                from_ref_type,
                to_ref_type,
            } => {
                let relative_depth = self.label(relative_depth)?;
                self.reencode(Operator::BrOnCastDescEq {
                    relative_depth,
                    from_ref_type,
                    to_ref_type,
                })?
            }
            Operator::BrOnCastDescEqFail {
                relative_depth,
                from_ref_type,
                to_ref_type,
            } => {
                let relative_depth = self.label(relative_depth)?;
                self.reencode(Operator::BrOnCastDescEqFail {
                    relative_depth,
                    from_ref_type,
                    to_ref_type,
                })?
            }
            Operator::Resume { .. }
            | Operator::ResumeThrow { .. }
            | Operator::ResumeThrowRef { .. } => {
                return Err(self.fail("a stack-switching handler table next to legacy exceptions"));
            }
            _ => self.out.extend_from_slice(raw),
        }
        Ok(())
    }

    fn reencode(&mut self, op: Operator<'_>) -> Result<()> {
        let ins = RoundtripReencoder
            .instruction(op)
            .map_err(|e| self.fail(format!("a branch instruction: {e}")))?;
        ins.encode(&mut self.out);
        Ok(())
    }
}

/// The structural instructions: `try` and its clauses, `try_table`, `end`.
impl Emitter<'_> {
    /// Takes the next try ordinal (legacy `try` and `try_table` share the numbering).
    fn next_try(&mut self) -> Result<usize> {
        let ord = self.next_ord;
        if ord >= self.analysis.trys.len() {
            return Err(self.fail("a try the analysis did not see"));
        }
        self.next_ord += 1;
        Ok(ord)
    }

    /// `try bt`: see the module documentation for the shapes written.
    fn try_(&mut self, blockty: BlockType) -> Result<()> {
        let ord = self.next_try()?;
        let analysis = self.analysis;
        let info = &analysis.trys[ord];
        let sig = self.block_sig(blockty)?;
        let bt = self.block_type(blockty)?;
        let exn_local = if info.rethrow_target {
            self.rethrow_depth += 1;
            self.max_rethrow_depth = self.max_rethrow_depth.max(self.rethrow_depth);
            let local = self
                .exn_base
                .checked_add(self.rethrow_depth - 1)
                .ok_or_else(|| self.fail("a try needing a local beyond 2^32"))?;
            Some(local)
        } else {
            None
        };

        let label = if let Some(target) = info.delegate {
            let d = self.tramp_depth(target)?;
            self.sink()
                .try_table(bt, [wasm_encoder::Catch::AllRef { label: d }]);
            self.open()
        } else if info.clauses.is_empty() {
            // A catch-less try is a plain block, unless a delegate needs a body to land in.
            if info.delegate_target {
                self.sink().try_table(bt, []);
            } else {
                self.sink().block(bt);
            }
            self.open()
        } else {
            self.sink().block(bt);
            let outer = self.open();
            for clause in info.clauses.iter().rev() {
                let mut results = match clause.tag {
                    Some(tag) => self.tag_params(tag)?,
                    None => vec![],
                };
                if clause.needs_ref {
                    results.push(ValType::EXNREF);
                }
                let cbt = self.new_block_type(Sig {
                    params: sig.params.clone(),
                    results,
                })?;
                self.sink().block(cbt);
                self.open();
            }
            let catches = info.clauses.iter().enumerate().map(|(i, c)| {
                let label = i as u32;
                match (c.tag, c.needs_ref) {
                    (Some(tag), false) => wasm_encoder::Catch::One { tag, label },
                    (Some(tag), true) => wasm_encoder::Catch::OneRef { tag, label },
                    (None, false) => wasm_encoder::Catch::All { label },
                    (None, true) => wasm_encoder::Catch::AllRef { label },
                }
            });
            let catches: Vec<_> = catches.collect();
            self.sink().try_table(bt, catches);
            self.open();
            outer
        };
        self.frames.push(Frame {
            kind: Kind::Try {
                ord,
                phase: Phase::Do,
                exn_local,
            },
            label,
            tramp: None,
        });
        if info.delegate_target {
            let top = self.frames.len() - 1;
            self.open_tramp(top, &sig.params)?;
        }
        Ok(())
    }

    /// The value types a tag carries.
    fn tag_params(&self, tag: u32) -> Result<Vec<ValType>> {
        self.info
            .tag_types
            .get(tag as usize)
            .and_then(|&t| self.info.sig(t))
            .map(|s| s.params.clone())
            .ok_or_else(|| self.fail(format!("tag {tag}, unknown or without a function type")))
    }

    /// `catch tag` / `catch_all`: end the previous part, open the next clause's body.
    fn catch(&mut self, tag: Option<u32>) -> Result<()> {
        let Some(&Frame {
            kind:
                Kind::Try {
                    ord,
                    phase,
                    exn_local,
                },
            label,
            tramp,
        }) = self.frames.last()
        else {
            return Err(self.fail("a catch clause outside a try"));
        };
        let next = match phase {
            Phase::Do => {
                self.close_tramp(tramp);
                self.end(); // the try_table
                let out = self.rel(label)?;
                self.sink().br(out);
                self.end(); // the first clause's block
                0
            }
            Phase::Catch(i) => {
                let out = self.rel(label)?;
                self.sink().br(out);
                self.end(); // the next clause's block
                i + 1
            }
        };
        let clause = self.analysis.trys[ord]
            .clauses
            .get(next)
            .copied()
            .filter(|c| c.tag == tag)
            .ok_or_else(|| self.fail("a catch clause the analysis did not see"))?;
        if clause.needs_ref {
            let local = exn_local.ok_or_else(|| self.fail("a rethrow target without a local"))?;
            self.sink().local_set(local);
        }
        if let Some(top) = self.frames.last_mut() {
            top.kind = Kind::Try {
                ord,
                phase: Phase::Catch(next),
                exn_local,
            };
            top.tramp = None;
        }
        Ok(())
    }

    /// `delegate l`: the target was fixed when the try was opened; close the try_table.
    fn delegate(&mut self) -> Result<()> {
        let Some(Frame {
            kind:
                Kind::Try {
                    phase: Phase::Do,
                    exn_local,
                    ..
                },
            tramp,
            ..
        }) = self.frames.pop()
        else {
            return Err(self.fail("a `delegate` that does not end a try body"));
        };
        self.close_tramp(tramp);
        self.end();
        self.leave_try(exn_local);
        Ok(())
    }

    fn leave_try(&mut self, exn_local: Option<u32>) {
        if exn_local.is_some() {
            self.rethrow_depth -= 1;
        }
    }

    /// `rethrow l`: throw the exnref saved by the targeted try's current clause.
    fn rethrow(&mut self, relative_depth: u32) -> Result<()> {
        let frame = self
            .frames
            .len()
            .checked_sub(1 + relative_depth as usize)
            .and_then(|i| self.frames.get(i));
        let Some(Frame {
            kind:
                Kind::Try {
                    ord,
                    phase: Phase::Catch(i),
                    exn_local: Some(local),
                },
            ..
        }) = frame.copied()
        else {
            return Err(self.fail("a `rethrow` whose label is not a catch clause"));
        };
        let saved = self.analysis.trys[ord]
            .clauses
            .get(i)
            .is_some_and(|c| c.needs_ref);
        if !saved {
            return Err(self.fail("a `rethrow` the analysis did not see"));
        }
        self.sink().local_get(local).throw_ref();
        Ok(())
    }

    /// A standard `try_table`: its catch labels are branches like any other.
    fn try_table(&mut self, tt: wasmparser::TryTable) -> Result<()> {
        let ord = self.next_try()?;
        let sig = self.block_sig(tt.ty)?;
        let bt = self.block_type(tt.ty)?;
        let mut catches = Vec::with_capacity(tt.catches.len());
        for c in tt.catches {
            catches.push(match c {
                wasmparser::Catch::One { tag, label } => wasm_encoder::Catch::One {
                    tag,
                    label: self.label(label)?,
                },
                wasmparser::Catch::OneRef { tag, label } => wasm_encoder::Catch::OneRef {
                    tag,
                    label: self.label(label)?,
                },
                wasmparser::Catch::All { label } => wasm_encoder::Catch::All {
                    label: self.label(label)?,
                },
                wasmparser::Catch::AllRef { label } => wasm_encoder::Catch::AllRef {
                    label: self.label(label)?,
                },
            });
        }
        self.sink().try_table(bt, catches);
        let label = self.open();
        self.frames.push(Frame {
            kind: Kind::TryTable { ord },
            label,
            tramp: None,
        });
        if self.analysis.trys[ord].delegate_target {
            let top = self.frames.len() - 1;
            self.open_tramp(top, &sig.params)?;
        }
        Ok(())
    }

    /// `end` of any frame.
    fn end_op(&mut self, raw: &[u8]) -> Result<()> {
        let frame = self
            .frames
            .pop()
            .ok_or_else(|| self.fail("an `end` without an open block"))?;
        match frame.kind {
            Kind::Func => {
                if frame.tramp.is_some() {
                    // Normal completion returns; a delegated exception goes to the caller.
                    self.sink().return_();
                    self.end();
                    self.sink().throw_ref();
                }
                self.end();
            }
            Kind::Plain => {
                self.out.extend_from_slice(raw);
                self.depth -= 1;
            }
            Kind::TryTable { .. } => {
                self.close_tramp(frame.tramp);
                self.end();
            }
            Kind::Try {
                ord,
                phase,
                exn_local,
            } => {
                match phase {
                    // A catch-less try (a block or a try_table without clauses).
                    Phase::Do => self.close_tramp(frame.tramp),
                    Phase::Catch(i) if i + 1 == self.analysis.trys[ord].clauses.len() => {}
                    Phase::Catch(_) => return Err(self.fail("a try ending before its clauses")),
                }
                self.end();
                self.leave_try(exn_local);
            }
        }
        Ok(())
    }
}
