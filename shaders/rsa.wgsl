// The RSA public operation s^65537 mod n for many (s, n) pairs per dispatch: one invocation per
// signature, moduli up to 4096 bits, each item with its own modulus.
//
// Products. WGSL has no 64-bit integers and no "multiply high", so limbs are 32 bits (u32) and
// a 32×32 → 64-bit product is built from four 16×16 → 32-bit products of the halves (each fits a
// u32 exactly; the middle sums cannot overflow: (2^16-1)^2 + 2^16-1 < 2^32), giving the low and
// high words. 32-bit limbs rather than 16-bit ones: the product costs the same four u32
// multiplies per 32×32 bits either way, but 32-bit limbs need a quarter of the limb pairs, half
// the memory traffic, and a plain word carry chain (t + a·b + c + d < 2^64 always fits two words)
// instead of split accumulators that must be normalized.
//
// Montgomery multiplication is CIOS (coarsely integrated operand scanning: one multiply row, then
// one reduction row, per limb of the multiplier) with R = 2^(32·s), where the host picks
// s = ceil(bits(n)/32) + 1 limbs per item so that 4n < R. With 4n < R, Montgomery products of
// operands below 2n stay below 2n (Walter), so no conditional subtraction is needed between the
// 16 squarings and 2 multiplications: values are kept in [0, 2n) in s limbs. The conversion out
// (a multiplication by 1) lands in [0, n], and one final conditional subtraction gives [0, n).
//
// Per item the host uploads n0' = -n^-1 mod 2^32 and R^2 mod n (computed on the CPU). Layout of
// `input`, with C = params.count items and NL = 129 limbs per value (little-endian limbs, the
// 129th always zero), limb-major across the batch so neighbouring invocations read neighbouring
// words:
//   [2·i]                 s (limbs of R) of item i
//   [2·i + 1]             n0' of item i
//   [2·C + j·C + i]       limb j of n
//   [2·C + NL·C + j·C + i]   limb j of R^2 mod n
//   [2·C + 2·NL·C + j·C + i] limb j of s (the signature, < n)
// `output[j·C + i]` is limb j (of 128) of the result s^65537 mod n.

struct Params {
    count: u32,   // items in this dispatch
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> output: array<u32>;

override WG: u32 = 64u;

// Limbs per value in `input` (4096 bits plus one zero limb: s may be 129).
const NL: u32 = 129u;
// Limbs per result in `output` (4096 bits).
const OUT_LIMBS: u32 = 128u;

// The current value (Montgomery form), the other operand of a multiplication, the CIOS
// accumulator (s + 2 limbs), and the modulus.
var<private> x: array<u32, 129>;
var<private> b: array<u32, 129>;
var<private> t: array<u32, 131>;
var<private> n: array<u32, 129>;

// a·b as (low word, high word).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = p01 + (p00 >> 16u);
    let mid2 = p10 + (mid & 0xffffu);
    let lo = (mid2 << 16u) | (p00 & 0xffffu);
    let hi = p11 + (mid >> 16u) + (mid2 >> 16u);
    return vec2<u32>(lo, hi);
}

// a·b + c + d as (low word, high word); never overflows 64 bits.
fn mac(a: u32, b: u32, c: u32, d: u32) -> vec2<u32> {
    let p = mul_wide(a, b);
    let lo = p.x + c;
    var hi = p.y + select(0u, 1u, lo < c);
    let lo2 = lo + d;
    hi = hi + select(0u, 1u, lo2 < d);
    return vec2<u32>(lo2, hi);
}

// x ← x · (sq ? x : b) · R^-1 mod n, in [0, 2n) when both operands are below 2n.
fn mont(s: u32, n0: u32, sq: bool) {
    for (var j = 0u; j < s + 2u; j++) {
        t[j] = 0u;
    }
    for (var i = 0u; i < s; i++) {
        let bi = select(b[i], x[i], sq);
        // t += x · bi
        var c = 0u;
        for (var j = 0u; j < s; j++) {
            let r = mac(x[j], bi, t[j], c);
            t[j] = r.x;
            c = r.y;
        }
        let top = t[s] + c;
        t[s + 1u] = select(0u, 1u, top < c);
        t[s] = top;
        // t = (t + m·n) / 2^32
        let m = t[0] * n0;
        var r = mac(m, n[0], t[0], 0u);
        c = r.y;
        for (var j = 1u; j < s; j++) {
            r = mac(m, n[j], t[j], c);
            t[j - 1u] = r.x;
            c = r.y;
        }
        let top2 = t[s] + c;
        t[s - 1u] = top2;
        t[s] = t[s + 1u] + select(0u, 1u, top2 < c);
    }
    for (var j = 0u; j < s; j++) {
        x[j] = t[j];
    }
}

@compute @workgroup_size(WG)
fn rsa_public(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let count = params.count;
    if (i >= count) {
        return;
    }
    let s = clamp(input[2u * i], 2u, NL);
    let n0 = input[2u * i + 1u];
    let nb = 2u * count;
    let rb = nb + NL * count;
    let sb = rb + NL * count;
    for (var j = 0u; j < s; j++) {
        n[j] = input[nb + j * count + i];
        b[j] = input[rb + j * count + i];
        x[j] = input[sb + j * count + i];
    }
    // Into Montgomery form: x = s · R^2 · R^-1 = s·R.
    mont(s, n0, false);
    for (var j = 0u; j < s; j++) {
        b[j] = x[j];
    }
    // 16 squarings: s^65536 · R, then one multiplication: s^65537 · R.
    for (var k = 0u; k < 16u; k++) {
        mont(s, n0, true);
    }
    mont(s, n0, false);
    // Out of Montgomery form: multiply by 1, giving a value in [0, n].
    for (var j = 0u; j < s; j++) {
        b[j] = 0u;
    }
    b[0] = 1u;
    mont(s, n0, false);
    // The final conditional subtraction: t = x - n; keep it when there was no borrow (x ≥ n).
    var borrow = 0u;
    for (var j = 0u; j < s; j++) {
        let d = x[j] - n[j];
        let d2 = d - borrow;
        borrow = select(0u, 1u, x[j] < n[j]) | select(0u, 1u, d < borrow);
        t[j] = d2;
    }
    let keep_x = borrow == 1u;
    for (var j = 0u; j < OUT_LIMBS; j++) {
        var v = 0u;
        if (j < s) {
            v = select(t[j], x[j], keep_x);
        }
        output[j * count + i] = v;
    }
}
