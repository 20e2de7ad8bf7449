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
// Montgomery multiplication is CIOS (coarsely integrated operand scanning), its multiply and
// reduction rows fused into one pass per limb of the multiplier, with R = 2^(32·s), where the
// host picks s = ceil(bits(n)/32) + 1 limbs per item, rounded up to a multiple of 4, so that
// 4n < R. With 4n < R, Montgomery products of operands below 2n stay below 2n (Walter), so no
// conditional subtraction is needed between the 16 squarings and 2 multiplications: values are
// kept in [0, 2n) in s limbs. The conversion out
// (a multiplication by 1) lands in [0, n], and one final conditional subtraction gives [0, n).
//
// The 19 multiplications are spread over a few dispatches (`first`..`last` steps each), with x
// and b kept in `state` between them: Mesa's llvmpipe/lavapipe (gallivm) give each invocation a
// budget of 65535 loop iterations in all (LP_MAX_TGSI_LOOP_ITERATIONS, every loop's back-edges
// counted together) and silently leave every loop once it is spent (the results are then simply
// wrong). One multiplication is s(s−4)/4 + 3s + 1 iterations (4 621 for s = 132), so the host
// runs at most 10 per dispatch (about 47 000 iterations with the loads and stores).
//
// Per item the host uploads n0' = -n^-1 mod 2^32 and R^2 mod n (computed on the CPU). With
// C = params.count items and NL = 132 limbs per value (little-endian 32-bit limbs, the last four
// always zero), every array is limb-major across the batch, so neighbouring invocations touch
// neighbouring words:
//   input[2·i]                    s (limbs of R) of item i
//   input[2·i + 1]                n0' of item i
//   input[2·C + j·C + i]          limb j of n
//   input[2·C + NL·C + j·C + i]   limb j of R^2 mod n
//   input[2·C + 2·NL·C + j·C + i] limb j of the signature (< n)
//   state[j·C + i]                limb j of x between dispatches; of the result after the last
//   state[NL·C + j·C + i]         limb j of b between dispatches
//
// The steps, each one Montgomery multiplication x ← x · (x or b) · R^-1 mod n, in [0, 2n):
//   step 0       x · R²   (x = signature, b = R² mod n): into Montgomery form; then b = x
//   steps 1–16   x · x    16 squarings: s^65536 · R
//   step 17      x · b    s^65537 · R; then b = 1
//   step 18      x · 1    out of Montgomery form: s^65537 mod n in [0, n]; then the subtraction

struct Params {
    count: u32,   // items in this dispatch
    first: u32,   // first step this dispatch runs
    last: u32,    // one past the last step (19 for the final dispatch)
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<u32>;
@group(0) @binding(2) var<storage, read_write> state: array<u32>;

override WG: u32 = 64u;

// Limbs per value (s ≤ 132: 4096 bits, one more limb, rounded up to a multiple of 4).
const NL: u32 = 132u;
// Montgomery multiplications in all.
const STEPS: u32 = 19u;

// The current value (Montgomery form), the other operand of a multiplication, the accumulator
// (s + 1 limbs), and the modulus.
var<private> x: array<u32, 132>;
var<private> b: array<u32, 132>;
var<private> t: array<u32, 133>;
var<private> n: array<u32, 132>;

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

// The row state of `mont`: the multiplier limb, the reduction factor, the two carries.
var<private> bk: u32;
var<private> m: u32;
var<private> c1: u32;
var<private> c2: u32;

// One limb j ≥ 1 of a row: t[j−1] ← low word of t[j] + x[j]·bk + m·n[j] + carries.
fn limb(j: u32) {
    let u = mac(x[j], bk, t[j], c1);
    let v = mac(m, n[j], u.x, c2);
    t[j - 1u] = v.x;
    c1 = u.y;
    c2 = v.y;
}

// x ← x · (sq ? x : b) · R^-1 mod n, in [0, 2n) when both operands are below 2n.
//
// CIOS with the multiply and reduce rows fused: per limb bk of the multiplier,
// t ← (t + x·bk + m·n) / 2^32 with m = (t + x·bk)·n0' mod 2^32, so the division is exact.
// t < 2R throughout, so its top limb t[s] is 0, 1 or 2. The row is unrolled by 4 limbs (s is a
// multiple of 4): a quarter of the loop iterations, which lavapipe counts (see above).
fn mont(s: u32, n0: u32, sq: bool) {
    for (var j = 0u; j <= s; j++) {
        t[j] = 0u;
    }
    for (var k = 0u; k < s; k++) {
        bk = select(b[k], x[k], sq);
        let p = mac(x[0], bk, t[0], 0u);
        m = p.x * n0;
        c1 = p.y;
        c2 = mac(m, n[0], p.x, 0u).y; // the low word is 0
        limb(1u);
        limb(2u);
        limb(3u);
        for (var j = 4u; j < s; j += 4u) {
            limb(j);
            limb(j + 1u);
            limb(j + 2u);
            limb(j + 3u);
        }
        let top = t[s] + c1;
        let top2 = top + c2;
        t[s - 1u] = top2;
        t[s] = select(0u, 1u, top < c1) + select(0u, 1u, top2 < c2);
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
    let s = clamp(input[2u * i] & ~3u, 4u, NL);
    let n0 = input[2u * i + 1u];
    let nb = 2u * count;
    let rb = nb + NL * count;
    let sb = rb + NL * count;
    let xb = 0u;
    let bb = NL * count;
    let first = params.first;
    let last = min(params.last, STEPS);
    for (var j = 0u; j < s; j++) {
        n[j] = input[nb + j * count + i];
        if (first == 0u) {
            x[j] = input[sb + j * count + i];
            b[j] = input[rb + j * count + i];
        } else {
            x[j] = state[xb + j * count + i];
            b[j] = state[bb + j * count + i];
        }
    }
    for (var step = first; step < last; step++) {
        mont(s, n0, step >= 1u && step <= 16u);
        if (step == 0u) {
            for (var j = 0u; j < s; j++) {
                b[j] = x[j];
            }
        } else if (step == 17u) {
            for (var j = 0u; j < s; j++) {
                b[j] = 0u;
            }
            b[0] = 1u;
        }
    }
    if (last < STEPS) {
        for (var j = 0u; j < s; j++) {
            state[xb + j * count + i] = x[j];
            state[bb + j * count + i] = b[j];
        }
        return;
    }
    // The final conditional subtraction: t = x - n, kept when there was no borrow (x ≥ n).
    var borrow = 0u;
    for (var j = 0u; j < s; j++) {
        let d = x[j] - n[j];
        t[j] = d - borrow;
        borrow = select(0u, 1u, x[j] < n[j]) | select(0u, 1u, d < borrow);
    }
    let keep_x = borrow == 1u;
    for (var j = 0u; j < NL; j++) {
        var v = 0u;
        if (j < s) {
            v = select(t[j], x[j], keep_x);
        }
        state[xb + j * count + i] = v;
    }
}
