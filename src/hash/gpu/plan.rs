//! Host-side planning, with no GPU involved: how a batch is cut into sub-batches that fit the
//! device, and the tables each sub-batch uploads (message entries, BLAKE3 tree segments, one
//! parameter block per dispatch).

use std::ops::Range;

use bytemuck::{Pod, Zeroable};

use super::GpuError;
use crate::hash::Algorithm;

/// BLAKE3 chunk length in bytes.
pub(crate) const CHUNK_LEN: u64 = 1024;

/// Most 64-byte blocks one SHA-256 invocation processes per dispatch (1 MiB of one message), so
/// no single dispatch runs long enough to trip a driver watchdog, however long a message is. It
/// also keeps the kernel's block loop far below the 65535 iterations after which Mesa's
/// llvmpipe/lavapipe silently ends a shader loop.
pub(crate) const SHA_BLOCKS_PER_PASS: u32 = 1 << 14;

/// Bytes reserved in the upload buffer for the per-dispatch parameter blocks (at most a few
/// hundred dispatches of 256 bytes each for the largest sub-batch).
pub(crate) const PARAMS_RESERVE: u64 = 1 << 20;

/// Every buffer region starts at a multiple of this (the largest offset alignment WebGPU asks of
/// uniform and storage bindings, and a multiple of the map and copy alignments).
pub(crate) const REGION_ALIGN: u64 = 256;

/// One message of a sub-batch, as the shaders read it (`struct Msg` in both WGSL files).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct MsgEntry {
    /// Byte offset of the message in the packed data (a multiple of 4).
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
    /// Index of the message's first BLAKE3 chunk in the sub-batch.
    pub first_chunk: u32,
    /// BLAKE3 chunks: `max(1, ceil(len / 1024))`.
    pub chunks: u32,
}

/// One message's run of nodes at one BLAKE3 tree level (`struct Seg` in `blake3.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct SegEntry {
    /// Message index in the sub-batch.
    pub msg: u32,
    /// Node slot of the message's first node (its first chunk index: levels shrink in place).
    pub base: u32,
    /// Nodes at this level (at least 2).
    pub count: u32,
    /// Index of the segment's first output among all outputs of the level.
    pub out_start: u32,
}

/// The uniform block of one dispatch (`struct Params` in both WGSL files).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub(crate) struct Params {
    pub count: u32,
    pub stride: u32,
    pub n_msgs: u32,
    pub seg_start: u32,
    pub seg_count: u32,
    pub src: u32,
    pub dst: u32,
    pub block_start: u32,
    pub block_count: u32,
    pub pad: [u32; 3],
}

/// Size of [`Params`] in bytes, as bound.
pub(crate) const PARAMS_SIZE: u64 = std::mem::size_of::<Params>() as u64;

/// Which entry point a dispatch runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kernel {
    Sha256,
    Blake3Chunks,
    Blake3Merge,
}

/// One dispatch: its kernel, its uniform block and its grid of workgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dispatch {
    pub kernel: Kernel,
    pub params: Params,
    pub groups: [u32; 2],
}

/// What the device allows, in the terms the planner needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Caps {
    /// Target data bytes of one sub-batch (smaller sub-batches overlap better, larger ones
    /// amortize dispatch overhead); a single larger message still gets a sub-batch of its own.
    pub data_soft: u64,
    /// Target messages in one sub-batch.
    pub msgs_soft: u64,
    /// Largest storage binding in bytes (a multiple of [`REGION_ALIGN`], below 2^31 so that
    /// every byte offset fits a u32 with room to spare).
    pub binding: u64,
    /// Largest buffer in bytes (a multiple of [`REGION_ALIGN`]).
    pub buffer: u64,
    /// Invocations per workgroup.
    pub workgroup: u32,
    /// Most workgroups per dispatch dimension.
    pub groups_per_dim: u32,
}

impl Caps {
    /// Caps from device limits, with `sub_batch_bytes` as the data target.
    pub fn new(limits: &wgpu::Limits, sub_batch_bytes: u64, workgroup: u32) -> Caps {
        let binding = round_down(
            limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size)
                .min(1 << 31),
            REGION_ALIGN,
        );
        let buffer = round_down(limits.max_buffer_size, REGION_ALIGN);
        Caps {
            data_soft: sub_batch_bytes.max(REGION_ALIGN).min(binding),
            msgs_soft: 1 << 20,
            binding,
            buffer,
            workgroup,
            groups_per_dim: limits.max_compute_workgroups_per_dimension,
        }
    }
}

/// Rounds `x` up to a multiple of `to` (a power of two).
pub(crate) fn round_up(x: u64, to: u64) -> u64 {
    x.div_ceil(to) * to
}

fn round_down(x: u64, to: u64) -> u64 {
    x / to * to
}

/// BLAKE3 chunks of a message of `len` bytes (an empty message still has one).
pub(crate) fn chunks_of(len: u64) -> u64 {
    len.div_ceil(CHUNK_LEN).max(1)
}

/// Tree levels above the chunks: `ceil(log2(chunks))`.
fn levels_of(chunks: u64) -> u64 {
    if chunks < 2 {
        0
    } else {
        u64::from(64 - (chunks - 1).leading_zeros())
    }
}

/// Running totals of a sub-batch being filled.
#[derive(Clone, Copy, Default)]
struct Totals {
    data: u64,
    msgs: u64,
    chunks: u64,
    segs: u64,
}

impl Totals {
    fn with(self, len: u64) -> Totals {
        let chunks = chunks_of(len);
        Totals {
            data: self.data + round_up(len, 4),
            msgs: self.msgs + 1,
            chunks: self.chunks + chunks,
            segs: self.segs + levels_of(chunks),
        }
    }

    /// The first hard device limit these totals break, if any, as a readable reason.
    fn breaks(&self, caps: &Caps) -> Option<String> {
        let binding = caps.binding;
        let needs = [
            ("packed input", self.data),
            ("message table", 16 * self.msgs),
            ("chaining values", (64 * self.chunks).max(32 * self.msgs)),
            ("tree table", 16 * self.segs),
        ];
        for (what, bytes) in needs {
            if bytes > binding {
                return Some(format!(
                    "its {what} needs {bytes} bytes, the device binds at most {binding}"
                ));
            }
        }
        let upload = PARAMS_RESERVE
            + round_up(16 * self.msgs, REGION_ALIGN)
            + round_up(16 * self.segs, REGION_ALIGN)
            + round_up(self.data, REGION_ALIGN);
        if upload > caps.buffer {
            return Some(format!(
                "its upload needs {upload} bytes, the device's largest buffer is {}",
                caps.buffer
            ));
        }
        None
    }

    fn over_target(&self, caps: &Caps) -> bool {
        self.data > caps.data_soft || self.msgs > caps.msgs_soft
    }
}

/// Cuts messages of the given lengths into consecutive sub-batches that fit the device.
///
/// A message that cannot fit even alone is an error naming it.
pub(crate) fn split(lens: &[u64], caps: &Caps) -> Result<Vec<Range<usize>>, GpuError> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut totals = Totals::default();
    for (i, &len) in lens.iter().enumerate() {
        let grown = totals.with(len);
        let fits = grown.breaks(caps).is_none() && !grown.over_target(caps);
        if fits || i == start {
            totals = grown;
            continue;
        }
        out.push(start..i);
        start = i;
        totals = Totals::default().with(len);
    }
    if start < lens.len() {
        out.push(start..lens.len());
    }
    // Only a sub-batch of one message can break a hard limit (a larger one would have been cut).
    for range in &out {
        let mut alone = Totals::default();
        for &len in &lens[range.clone()] {
            alone = alone.with(len);
        }
        if let Some(reason) = alone.breaks(caps) {
            return Err(GpuError::ItemTooLarge {
                index: range.start,
                len: lens[range.start],
                reason,
            });
        }
    }
    Ok(out)
}

/// The message table of one sub-batch and the packed size of its data.
pub(crate) fn msg_table(lens: &[u64]) -> (Vec<MsgEntry>, u64) {
    let mut entries = Vec::with_capacity(lens.len());
    let mut offset = 0u64;
    let mut first_chunk = 0u64;
    for &len in lens {
        let chunks = chunks_of(len);
        // `split` keeps every total below 2^31, so these fit in u32.
        entries.push(MsgEntry {
            offset: offset as u32,
            len: len as u32,
            first_chunk: first_chunk as u32,
            chunks: chunks as u32,
        });
        offset += round_up(len, 4);
        first_chunk += chunks;
    }
    (entries, offset)
}

/// Total chunks of a message table.
pub(crate) fn total_chunks(msgs: &[MsgEntry]) -> u32 {
    msgs.last().map_or(0, |m| m.first_chunk + m.chunks)
}

/// One BLAKE3 tree level: where its segments are and how many output nodes it makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub seg_start: u32,
    pub seg_count: u32,
    pub outputs: u32,
}

/// The parent levels of every multi-chunk message of a sub-batch, merged level by level.
///
/// At each level a message's nodes are paired (0,1), (2,3), ... and an odd last node moves up
/// unchanged: for `n` chunks this builds the tree whose left subtree holds the largest power of
/// two of chunks below `n`, as BLAKE3 defines it. The level where a message has 2 nodes left is
/// its root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tree {
    pub segs: Vec<SegEntry>,
    pub levels: Vec<Level>,
}

/// Builds the tree plan of a message table.
pub(crate) fn tree(msgs: &[MsgEntry]) -> Tree {
    let mut live: Vec<SegEntry> = msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m.chunks >= 2)
        .map(|(i, m)| SegEntry {
            msg: i as u32,
            base: m.first_chunk,
            count: m.chunks,
            out_start: 0,
        })
        .collect();
    let mut plan = Tree::default();
    while !live.is_empty() {
        let seg_start = plan.segs.len() as u32;
        let mut outputs = 0u32;
        for seg in &mut live {
            seg.out_start = outputs;
            outputs += seg.count.div_ceil(2);
            plan.segs.push(*seg);
        }
        plan.levels.push(Level {
            seg_start,
            seg_count: plan.segs.len() as u32 - seg_start,
            outputs,
        });
        for seg in &mut live {
            seg.count = seg.count.div_ceil(2);
        }
        live.retain(|seg| seg.count >= 2);
    }
    plan
}

/// The dispatches that hash one sub-batch with `alg`.
pub(crate) fn dispatches(
    alg: Algorithm,
    msgs: &[MsgEntry],
    tree: &Tree,
    caps: &Caps,
) -> Result<Vec<Dispatch>, GpuError> {
    let n_msgs = msgs.len() as u32;
    let mut out = Vec::new();
    match alg {
        Algorithm::Sha256 => {
            let most_blocks = msgs.iter().map(|m| (m.len + 72) / 64).max().unwrap_or(0);
            let passes = most_blocks.div_ceil(SHA_BLOCKS_PER_PASS);
            for pass in 0..passes {
                let params = Params {
                    n_msgs,
                    block_start: pass * SHA_BLOCKS_PER_PASS,
                    block_count: SHA_BLOCKS_PER_PASS,
                    ..Params::default()
                };
                out.push(grid(Kernel::Sha256, n_msgs, params, caps)?);
            }
        }
        Algorithm::Blake3 => {
            let chunks = total_chunks(msgs);
            if chunks > 0 {
                let params = Params {
                    n_msgs,
                    ..Params::default()
                };
                out.push(grid(Kernel::Blake3Chunks, chunks, params, caps)?);
            }
            // Levels ping-pong between two halves of the chaining-value buffer.
            let halves = [0, chunks * 8];
            for (l, level) in tree.levels.iter().enumerate() {
                let params = Params {
                    n_msgs,
                    seg_start: level.seg_start,
                    seg_count: level.seg_count,
                    src: halves[l % 2],
                    dst: halves[(l + 1) % 2],
                    ..Params::default()
                };
                out.push(grid(Kernel::Blake3Merge, level.outputs, params, caps)?);
            }
        }
    }
    Ok(out)
}

/// Lays `count` invocations out on a grid no dimension of which exceeds the device's limit.
fn grid(kernel: Kernel, count: u32, mut params: Params, caps: &Caps) -> Result<Dispatch, GpuError> {
    let groups = count.div_ceil(caps.workgroup).max(1);
    let x = groups.min(caps.groups_per_dim).max(1);
    let y = groups.div_ceil(x);
    if y > caps.groups_per_dim {
        return Err(GpuError::Device(format!(
            "{count} invocations need {y} rows of {x} workgroups, the device allows {}",
            caps.groups_per_dim
        )));
    }
    params.count = count;
    params.stride = x * caps.workgroup;
    Ok(Dispatch {
        kernel,
        params,
        groups: [x, y],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(binding: u64, soft: u64) -> Caps {
        Caps {
            data_soft: soft,
            msgs_soft: 1 << 20,
            binding,
            buffer: binding * 4,
            workgroup: 64,
            groups_per_dim: 65535,
        }
    }

    /// The BLAKE3 tree by its definition: the left subtree holds the largest power of two of
    /// chunks that leaves at least one chunk to the right.
    fn reference_tree(first: u64, n: u64) -> String {
        if n == 1 {
            return format!("{first}");
        }
        let left = 1u64 << (63 - (n - 1).leading_zeros());
        format!(
            "({} {})",
            reference_tree(first, left),
            reference_tree(first + left, n - left)
        )
    }

    /// Runs a tree plan symbolically, node names standing for chaining values.
    fn run_plan(msgs: &[MsgEntry], plan: &Tree) -> Vec<String> {
        let total = total_chunks(msgs) as usize;
        let mut halves = [
            (0..total).map(|i| i.to_string()).collect::<Vec<_>>(),
            vec![String::new(); total],
        ];
        let mut roots: Vec<String> = msgs
            .iter()
            .map(|m| {
                if m.chunks == 1 {
                    m.first_chunk.to_string()
                } else {
                    String::new()
                }
            })
            .collect();
        for (l, level) in plan.levels.iter().enumerate() {
            let (src, dst) = (l % 2, (l + 1) % 2);
            let segs = &plan.segs[level.seg_start as usize..][..level.seg_count as usize];
            for t in 0..level.outputs {
                let seg = segs.iter().rev().find(|s| s.out_start <= t).unwrap();
                let j = (t - seg.out_start) as usize;
                let left = seg.base as usize + 2 * j;
                let out = seg.base as usize + j;
                let node = if 2 * j + 1 == seg.count as usize {
                    halves[src][left].clone()
                } else {
                    format!("({} {})", halves[src][left], halves[src][left + 1])
                };
                if seg.count == 2 {
                    roots[seg.msg as usize] = node;
                } else {
                    halves[dst][out] = node;
                }
            }
        }
        roots
    }

    #[test]
    fn tree_plan_matches_the_blake3_tree() {
        let lens: Vec<u64> = [
            0,
            1,
            1024,
            1025,
            2048,
            2049,
            3072,
            3073,
            4096,
            4097,
            5 * 1024,
            7 * 1024 + 1,
            8192,
            8193,
            9 * 1024,
            16384,
            31744,
            33 * 1024 + 5,
            102400,
        ]
        .to_vec();
        let (msgs, _) = msg_table(&lens);
        let roots = run_plan(&msgs, &tree(&msgs));
        for (m, root) in msgs.iter().zip(roots) {
            let want = reference_tree(u64::from(m.first_chunk), u64::from(m.chunks));
            assert_eq!(root, want, "len {}", m.len);
        }
    }

    #[test]
    fn tables_pack_at_word_offsets() {
        let (msgs, bytes) = msg_table(&[3, 0, 1024, 1025, 5]);
        let offsets: Vec<u32> = msgs.iter().map(|m| m.offset).collect();
        assert_eq!(offsets, [0, 4, 4, 1028, 2056]);
        let chunks: Vec<u32> = msgs.iter().map(|m| m.chunks).collect();
        assert_eq!(chunks, [1, 1, 1, 2, 1]);
        assert_eq!(total_chunks(&msgs), 6);
        assert_eq!(bytes, 2064);
    }

    #[test]
    fn split_respects_the_target_and_keeps_order() {
        let lens = vec![400u64; 10];
        let parts = split(&lens, &caps(1 << 20, 1000)).unwrap();
        assert_eq!(parts, [0..2, 2..4, 4..6, 6..8, 8..10]);
        // A message above the target but within the device's limits goes alone.
        let parts = split(&[10, 5000, 10], &caps(1 << 20, 1000)).unwrap();
        assert_eq!(parts, [0..1, 1..2, 2..3]);
    }

    #[test]
    fn split_names_a_message_too_large_for_the_device() {
        let err = split(&[10, 2 << 20, 10], &caps(1 << 20, 1 << 20)).unwrap_err();
        match err {
            GpuError::ItemTooLarge { index, len, .. } => assert_eq!((index, len), (1, 2 << 20)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn sha_passes_cover_the_longest_message() {
        let (msgs, _) = msg_table(&[0, 55, 56, 64 * u64::from(SHA_BLOCKS_PER_PASS)]);
        let plan = dispatches(
            Algorithm::Sha256,
            &msgs,
            &Tree::default(),
            &caps(1 << 30, 1 << 30),
        );
        let plan = plan.unwrap();
        // 2^16 full blocks plus one padding block take two passes.
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[1].params.block_start, SHA_BLOCKS_PER_PASS);
    }

    #[test]
    fn grid_splits_over_two_dimensions() {
        let mut c = caps(1 << 30, 1 << 30);
        c.groups_per_dim = 100;
        let d = grid(Kernel::Sha256, 64 * 250 + 1, Params::default(), &c).unwrap();
        assert_eq!(d.groups, [100, 3]);
        assert_eq!(d.params.stride, 6400);
        assert!(grid(Kernel::Sha256, 64 * 100 * 100 + 1, Params::default(), &c).is_err());
    }
}
