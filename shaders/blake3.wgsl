// BLAKE3 for many messages per dispatch (hash mode only, 32-byte output).
//
// Two entry points share one bind group layout with sha256.wgsl (see src/hash/gpu/pipelines.rs):
//   chunk_cvs      one invocation per 1024-byte chunk across the whole batch; a message of one
//                  chunk is finished here (ROOT flag), longer ones leave their chunk chaining values
//                  in `cvs`.
//   merge_parents  one invocation per output node of one tree level across the whole batch. Each
//                  level pairs neighbours (0,1), (2,3), ... and carries an odd last node up
//                  unchanged, which is exactly the tree BLAKE3 defines (the left subtree holds the
//                  largest power of two of chunks that leaves at least one for the right). The last
//                  pair of a message is compressed with ROOT and written as its digest.
// u32 arithmetic only: no u64, no subgroup operations, so the module runs on every backend.

struct Params {
    count: u32,        // invocations that have work in this dispatch
    stride: u32,       // invocations per row of the 2-D dispatch grid
    n_msgs: u32,       // messages in this sub-batch
    seg_start: u32,    // merge: first segment of this level in `segs`
    seg_count: u32,    // merge: segments at this level
    src: u32,          // merge: word offset of this level's input nodes in `cvs`
    dst: u32,          // merge: word offset of this level's output nodes in `cvs`
    block_start: u32,  // sha256 only
    block_count: u32,  // sha256 only
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Msg {
    offset: u32,       // byte offset in `data` (a multiple of 4)
    len: u32,          // length in bytes
    first_chunk: u32,  // index of the message's first chunk in the sub-batch
    chunks: u32,       // max(1, ceil(len / 1024))
}

// One message's run of nodes at one tree level.
struct Seg {
    msg: u32,          // message index
    base: u32,         // node index (in 8-word units) of the message's first node at this level
    count: u32,        // nodes at this level (at least 2)
    out_start: u32,    // index of the segment's first output among the level's outputs
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> msgs: array<Msg>;
@group(0) @binding(3) var<storage, read> segs: array<Seg>;
@group(0) @binding(4) var<storage, read_write> cvs: array<u32>;
@group(0) @binding(5) var<storage, read_write> digests: array<u32>;

override WG: u32 = 64u;

const CHUNK_START: u32 = 1u;
const CHUNK_END: u32 = 2u;
const PARENT: u32 = 4u;
const ROOT: u32 = 8u;

const IV_LO: vec4<u32> = vec4<u32>(0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au);
const IV_HI: vec4<u32> = vec4<u32>(0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u);

// A chaining value: words 0..3 and 4..7.
struct Cv {
    lo: vec4<u32>,
    hi: vec4<u32>,
}

// The 4x4 compression state as rows, so one G step mixes four columns at once.
struct Rows {
    a: vec4<u32>,
    b: vec4<u32>,
    c: vec4<u32>,
    d: vec4<u32>,
}

fn rotr(x: vec4<u32>, n: u32) -> vec4<u32> {
    return (x >> vec4<u32>(n)) | (x << vec4<u32>(32u - n));
}

fn g(r: Rows, mx: vec4<u32>, my: vec4<u32>) -> Rows {
    var a = r.a;
    var b = r.b;
    var c = r.c;
    var d = r.d;
    a = a + b + mx;
    d = rotr(d ^ a, 16u);
    c = c + d;
    b = rotr(b ^ c, 12u);
    a = a + b + my;
    d = rotr(d ^ a, 8u);
    c = c + d;
    b = rotr(b ^ c, 7u);
    return Rows(a, b, c, d);
}

fn round(r: Rows, m: array<u32, 16>) -> Rows {
    // Columns (0,4,8,12) (1,5,9,13) (2,6,10,14) (3,7,11,15).
    var s = g(r, vec4<u32>(m[0], m[2], m[4], m[6]), vec4<u32>(m[1], m[3], m[5], m[7]));
    // Diagonals (0,5,10,15) (1,6,11,12) (2,7,8,13) (3,4,9,14): rotate rows into columns and back.
    s = Rows(s.a, s.b.yzwx, s.c.zwxy, s.d.wxyz);
    s = g(s, vec4<u32>(m[8], m[10], m[12], m[14]), vec4<u32>(m[9], m[11], m[13], m[15]));
    return Rows(s.a, s.b.wxyz, s.c.zwxy, s.d.yzwx);
}

fn permute(m: array<u32, 16>) -> array<u32, 16> {
    return array<u32, 16>(
        m[2], m[6], m[3], m[10], m[7], m[0], m[4], m[13],
        m[1], m[11], m[12], m[5], m[9], m[14], m[15], m[8],
    );
}

// The compression function, truncated to the 8 words a chaining value or a 32-byte hash needs.
// The block counter's high word is always 0 here: a sub-batch never holds 2^32 chunks.
fn compress(cv: Cv, block: array<u32, 16>, counter: u32, block_len: u32, flags: u32) -> Cv {
    var r = Rows(cv.lo, cv.hi, IV_LO, vec4<u32>(counter, 0u, block_len, flags));
    var m = block;
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    m = permute(m);
    r = round(r, m);
    return Cv(r.a ^ r.c, r.b ^ r.d);
}

// Invocation index in the 2-D grid the host dispatches when one dimension is not enough.
fn invocation(gid: vec3<u32>) -> u32 {
    return gid.y * params.stride + gid.x;
}

// Word k of a block of `block_len` bytes starting at byte `at` (4-aligned), zero past the end.
fn block_word(at: u32, k: u32, block_len: u32) -> u32 {
    let byte = k * 4u;
    if (byte + 4u <= block_len) {
        return data[at / 4u + k];
    }
    if (byte < block_len) {
        let keep = block_len - byte; // 1..3 bytes, little-endian: the low ones
        return data[at / 4u + k] & ((1u << (8u * keep)) - 1u);
    }
    return 0u;
}

fn load_block(at: u32, block_len: u32) -> array<u32, 16> {
    var w: array<u32, 16>;
    for (var k = 0u; k < 16u; k = k + 1u) {
        w[k] = block_word(at, k, block_len);
    }
    return w;
}

fn store_digest(m: u32, cv: Cv) {
    let o = m * 8u;
    digests[o + 0u] = cv.lo.x;
    digests[o + 1u] = cv.lo.y;
    digests[o + 2u] = cv.lo.z;
    digests[o + 3u] = cv.lo.w;
    digests[o + 4u] = cv.hi.x;
    digests[o + 5u] = cv.hi.y;
    digests[o + 6u] = cv.hi.z;
    digests[o + 7u] = cv.hi.w;
}

fn store_cv(word: u32, cv: Cv) {
    cvs[word + 0u] = cv.lo.x;
    cvs[word + 1u] = cv.lo.y;
    cvs[word + 2u] = cv.lo.z;
    cvs[word + 3u] = cv.lo.w;
    cvs[word + 4u] = cv.hi.x;
    cvs[word + 5u] = cv.hi.y;
    cvs[word + 6u] = cv.hi.z;
    cvs[word + 7u] = cv.hi.w;
}

fn load_cv(word: u32) -> Cv {
    return Cv(
        vec4<u32>(cvs[word], cvs[word + 1u], cvs[word + 2u], cvs[word + 3u]),
        vec4<u32>(cvs[word + 4u], cvs[word + 5u], cvs[word + 6u], cvs[word + 7u]),
    );
}

// The message owning global chunk `t`: the last one whose first chunk is <= t.
fn find_msg(t: u32) -> u32 {
    var lo = 0u;
    var hi = params.n_msgs;
    while (hi - lo > 1u) {
        let mid = lo + (hi - lo) / 2u;
        if (msgs[mid].first_chunk <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// The segment of this level owning output node `t`.
fn find_seg(t: u32) -> u32 {
    var lo = params.seg_start;
    var hi = params.seg_start + params.seg_count;
    while (hi - lo > 1u) {
        let mid = lo + (hi - lo) / 2u;
        if (segs[mid].out_start <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

@compute @workgroup_size(WG)
fn chunk_cvs(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = invocation(gid);
    if (t >= params.count) {
        return;
    }
    let m = find_msg(t);
    let msg = msgs[m];
    let c = t - msg.first_chunk;
    let start = c * 1024u;
    let chunk_len = min(msg.len - start, 1024u);
    let blocks = max(1u, (chunk_len + 63u) / 64u);
    var cv = Cv(IV_LO, IV_HI);
    for (var b = 0u; b < blocks; b = b + 1u) {
        let block_len = min(chunk_len - b * 64u, 64u);
        var flags = 0u;
        if (b == 0u) {
            flags = flags | CHUNK_START;
        }
        if (b + 1u == blocks) {
            flags = flags | CHUNK_END;
            if (msg.chunks == 1u) {
                flags = flags | ROOT;
            }
        }
        cv = compress(cv, load_block(msg.offset + start + b * 64u, block_len), c, block_len, flags);
    }
    if (msg.chunks == 1u) {
        store_digest(m, cv);
    } else {
        store_cv(t * 8u, cv);
    }
}

@compute @workgroup_size(WG)
fn merge_parents(@builtin(global_invocation_id) gid: vec3<u32>) {
    let t = invocation(gid);
    if (t >= params.count) {
        return;
    }
    let seg = segs[find_seg(t)];
    let j = t - seg.out_start;
    let left = seg.base + 2u * j;
    let out = params.dst + (seg.base + j) * 8u;
    if (2u * j + 1u == seg.count) {
        // An odd node out: it moves up a level unchanged.
        store_cv(out, load_cv(params.src + left * 8u));
        return;
    }
    let l = load_cv(params.src + left * 8u);
    let r = load_cv(params.src + (left + 1u) * 8u);
    let block = array<u32, 16>(
        l.lo.x, l.lo.y, l.lo.z, l.lo.w, l.hi.x, l.hi.y, l.hi.z, l.hi.w,
        r.lo.x, r.lo.y, r.lo.z, r.lo.w, r.hi.x, r.hi.y, r.hi.z, r.hi.w,
    );
    if (seg.count == 2u) {
        store_digest(seg.msg, compress(Cv(IV_LO, IV_HI), block, 0u, 64u, PARENT | ROOT));
    } else {
        store_cv(out, compress(Cv(IV_LO, IV_HI), block, 0u, 64u, PARENT));
    }
}
