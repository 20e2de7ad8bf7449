// SHA-256 for many messages per dispatch: one invocation per message.
//
// SHA-256 is sequential within a message, so a long message is processed over several dispatches
// of at most `block_count` 64-byte blocks each (the host issues them), its state carried in `cvs`
// between them; this keeps every dispatch short however long a message is. Padding is done here:
// the 0x80 byte, zeros, and the bit length as two big-endian u32 words (no u64 in WGSL).
// Words are read little-endian from the packed input and byte-swapped to SHA-256's big-endian;
// the digest is byte-swapped back so the host reads it as plain bytes.

// Same layout as in blake3.wgsl: one bind group layout serves both modules.
struct Params {
    count: u32,        // messages with work in this dispatch (= n_msgs)
    stride: u32,       // invocations per row of the 2-D dispatch grid
    n_msgs: u32,
    seg_start: u32,    // blake3 only
    seg_count: u32,    // blake3 only
    src: u32,          // blake3 only
    dst: u32,          // blake3 only
    block_start: u32,  // first block index this dispatch processes in every message
    block_count: u32,  // most blocks one message advances in this dispatch
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Msg {
    offset: u32,       // byte offset in `data` (a multiple of 4)
    len: u32,          // length in bytes
    first_chunk: u32,  // blake3 only
    chunks: u32,       // blake3 only
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read> msgs: array<Msg>;
@group(0) @binding(4) var<storage, read_write> cvs: array<u32>;
@group(0) @binding(5) var<storage, read_write> digests: array<u32>;

override WG: u32 = 64u;

// Round constants, a quarter per 16 rounds.
const K0: array<u32, 16> = array<u32, 16>(
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
);

const K1: array<u32, 16> = array<u32, 16>(
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
);

const K2: array<u32, 16> = array<u32, 16>(
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
);

const K3: array<u32, 16> = array<u32, 16>(
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
);

const H0: array<u32, 8> = array<u32, 8>(
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au, 0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
);

fn rotr(x: u32, n: u32) -> u32 {
    return (x >> n) | (x << (32u - n));
}

fn bswap(x: u32) -> u32 {
    return (x << 24u) | ((x & 0xff00u) << 8u) | ((x >> 8u) & 0xff00u) | (x >> 24u);
}

fn small_s0(x: u32) -> u32 {
    return rotr(x, 7u) ^ rotr(x, 18u) ^ (x >> 3u);
}

fn small_s1(x: u32) -> u32 {
    return rotr(x, 17u) ^ rotr(x, 19u) ^ (x >> 10u);
}

// One round; `kw` is K[i] + W[i]. The working variables a..h are s[0]..s[7].
fn step(s: array<u32, 8>, kw: u32) -> array<u32, 8> {
    let big_s1 = rotr(s[4], 6u) ^ rotr(s[4], 11u) ^ rotr(s[4], 25u);
    let ch = (s[4] & s[5]) ^ (~s[4] & s[6]);
    let t1 = s[7] + big_s1 + ch + kw;
    let big_s0 = rotr(s[0], 2u) ^ rotr(s[0], 13u) ^ rotr(s[0], 22u);
    let maj = (s[0] & s[1]) ^ (s[0] & s[2]) ^ (s[1] & s[2]);
    return array<u32, 8>(t1 + big_s0 + maj, s[0], s[1], s[2], s[3] + t1, s[4], s[5], s[6]);
}

// Rounds and schedule are written out, not looped: Mesa's llvmpipe/lavapipe stops any shader
// loop after 65535 iterations per invocation, and a loop per round would cap one dispatch at
// about 990 blocks. Unrolled, a block costs one loop iteration.

// Sixteen rounds with constant indices.
fn rounds16(s_in: array<u32, 8>, w: array<u32, 16>, k: array<u32, 16>) -> array<u32, 8> {
    var s = s_in;
    s = step(s, k[0] + w[0]);
    s = step(s, k[1] + w[1]);
    s = step(s, k[2] + w[2]);
    s = step(s, k[3] + w[3]);
    s = step(s, k[4] + w[4]);
    s = step(s, k[5] + w[5]);
    s = step(s, k[6] + w[6]);
    s = step(s, k[7] + w[7]);
    s = step(s, k[8] + w[8]);
    s = step(s, k[9] + w[9]);
    s = step(s, k[10] + w[10]);
    s = step(s, k[11] + w[11]);
    s = step(s, k[12] + w[12]);
    s = step(s, k[13] + w[13]);
    s = step(s, k[14] + w[14]);
    s = step(s, k[15] + w[15]);
    return s;
}

// The next 16 schedule words: W[i] = s1(W[i-2]) + W[i-7] + s0(W[i-15]) + W[i-16], where
// `w` holds W[i-16..i) and `n` the words made so far.
fn expand(w: array<u32, 16>) -> array<u32, 16> {
    var n: array<u32, 16>;
    n[0] = small_s1(w[14]) + w[9] + small_s0(w[1]) + w[0];
    n[1] = small_s1(w[15]) + w[10] + small_s0(w[2]) + w[1];
    n[2] = small_s1(n[0]) + w[11] + small_s0(w[3]) + w[2];
    n[3] = small_s1(n[1]) + w[12] + small_s0(w[4]) + w[3];
    n[4] = small_s1(n[2]) + w[13] + small_s0(w[5]) + w[4];
    n[5] = small_s1(n[3]) + w[14] + small_s0(w[6]) + w[5];
    n[6] = small_s1(n[4]) + w[15] + small_s0(w[7]) + w[6];
    n[7] = small_s1(n[5]) + n[0] + small_s0(w[8]) + w[7];
    n[8] = small_s1(n[6]) + n[1] + small_s0(w[9]) + w[8];
    n[9] = small_s1(n[7]) + n[2] + small_s0(w[10]) + w[9];
    n[10] = small_s1(n[8]) + n[3] + small_s0(w[11]) + w[10];
    n[11] = small_s1(n[9]) + n[4] + small_s0(w[12]) + w[11];
    n[12] = small_s1(n[10]) + n[5] + small_s0(w[13]) + w[12];
    n[13] = small_s1(n[11]) + n[6] + small_s0(w[14]) + w[13];
    n[14] = small_s1(n[12]) + n[7] + small_s0(w[15]) + w[14];
    n[15] = small_s1(n[13]) + n[8] + small_s0(n[0]) + w[15];
    return n;
}

fn compress(state: array<u32, 8>, block: array<u32, 16>) -> array<u32, 8> {
    var w = block;
    var s = rounds16(state, w, K0);
    w = expand(w);
    s = rounds16(s, w, K1);
    w = expand(w);
    s = rounds16(s, w, K2);
    w = expand(w);
    s = rounds16(s, w, K3);
    return array<u32, 8>(
        state[0] + s[0], state[1] + s[1], state[2] + s[2], state[3] + s[3],
        state[4] + s[4], state[5] + s[5], state[6] + s[6], state[7] + s[7],
    );
}

// Big-endian word at byte `p` of the padded message: data, then 0x80, then zeros.
fn message_word(offset: u32, len: u32, p: u32) -> u32 {
    if (p + 4u <= len) {
        return bswap(data[(offset + p) / 4u]);
    }
    if (p < len) {
        let keep = len - p; // 1..3 bytes, little-endian: the low ones, then the 0x80 byte
        let v = (data[(offset + p) / 4u] & ((1u << (8u * keep)) - 1u)) | (0x80u << (8u * keep));
        return bswap(v);
    }
    if (p == len) {
        return 0x80000000u;
    }
    return 0u;
}

@compute @workgroup_size(WG)
fn sha256_blocks(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = gid.y * params.stride + gid.x;
    if (m >= params.count) {
        return;
    }
    let msg = msgs[m];
    // ceil((len + 1 + 8) / 64) blocks: the data, the 0x80 byte and the 8-byte length.
    let total = (msg.len + 72u) / 64u;
    if (params.block_start >= total) {
        return;
    }
    let end = min(total, params.block_start + params.block_count);
    var state = H0;
    if (params.block_start > 0u) {
        for (var i = 0u; i < 8u; i = i + 1u) {
            state[i] = cvs[m * 8u + i];
        }
    }
    for (var b = params.block_start; b < end; b = b + 1u) {
        let at = b * 64u;
        var w = array<u32, 16>(
            message_word(msg.offset, msg.len, at + 0u),
            message_word(msg.offset, msg.len, at + 4u),
            message_word(msg.offset, msg.len, at + 8u),
            message_word(msg.offset, msg.len, at + 12u),
            message_word(msg.offset, msg.len, at + 16u),
            message_word(msg.offset, msg.len, at + 20u),
            message_word(msg.offset, msg.len, at + 24u),
            message_word(msg.offset, msg.len, at + 28u),
            message_word(msg.offset, msg.len, at + 32u),
            message_word(msg.offset, msg.len, at + 36u),
            message_word(msg.offset, msg.len, at + 40u),
            message_word(msg.offset, msg.len, at + 44u),
            message_word(msg.offset, msg.len, at + 48u),
            message_word(msg.offset, msg.len, at + 52u),
            message_word(msg.offset, msg.len, at + 56u),
            message_word(msg.offset, msg.len, at + 60u),
        );
        if (b + 1u == total) {
            // Bit length = len * 8 as a 64-bit big-endian number in two words.
            w[14] = msg.len >> 29u;
            w[15] = msg.len << 3u;
        }
        state = compress(state, w);
    }
    if (end == total) {
        for (var i = 0u; i < 8u; i = i + 1u) {
            digests[m * 8u + i] = bswap(state[i]);
        }
    } else {
        for (var i = 0u; i < 8u; i = i + 1u) {
            cvs[m * 8u + i] = state[i];
        }
    }
}
