//! The host side of a batch: checking each input, the per-modulus Montgomery constants, packing
//! a sub-batch into the shader's limb-major layout, and unpacking the results.

use rsa::BigUint;

use super::{GpuRsaError, RsaInput};

/// Bytes of the largest modulus (4096 bits).
pub(super) const MAX_BYTES: usize = 512;
/// Limbs per value in the input buffer (`NL` in `shaders/rsa.wgsl`): a 4096-bit modulus works
/// with R = 2^(32·132) (one more limb than it has, rounded up to the shader's unroll of 4).
pub(super) const NL: usize = 132;
/// Limbs per result (4096 bits); the shader leaves NL, the last always zero.
const OUT_LIMBS: usize = 128;
/// State words per item on the device between dispatches: x and b.
pub(super) const STATE_WORDS: usize = 2 * NL;
/// Words of per-item constants before the limb regions: s (limbs of R) and n0'.
const META_WORDS: usize = 2;
/// Input words per item.
pub(super) const IN_WORDS: usize = META_WORDS + 3 * NL;

/// `bytes` without its leading zero bytes.
fn trim(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Whether the big-endian numbers `a` and `b` (no leading zeros) satisfy `a < b`.
fn less(a: &[u8], b: &[u8]) -> bool {
    a.len() < b.len() || (a.len() == b.len() && a < b)
}

/// Checks the preconditions of every input, naming the first that fails.
pub(super) fn check(inputs: &[RsaInput<'_>]) -> Result<(), GpuRsaError> {
    for (index, input) in inputs.iter().enumerate() {
        if input.modulus.len() > MAX_BYTES {
            return Err(GpuRsaError::ModulusTooLong {
                index,
                len: input.modulus.len(),
            });
        }
        if input.signature.len() > MAX_BYTES {
            return Err(GpuRsaError::SignatureTooLong {
                index,
                len: input.signature.len(),
            });
        }
        let n = trim(input.modulus);
        if n.is_empty() || n == [1] {
            return Err(GpuRsaError::ModulusTooSmall { index });
        }
        if n.last().is_some_and(|b| b & 1 == 0) {
            return Err(GpuRsaError::ModulusEven { index });
        }
        if !less(trim(input.signature), n) {
            return Err(GpuRsaError::SignatureNotBelowModulus { index });
        }
    }
    Ok(())
}

/// Little-endian 32-bit limbs of the big-endian `bytes`, each passed to `put(j, limb)`, for
/// `j` below `limbs` (zeros past the number's end).
fn limbs(bytes: &[u8], limbs: usize, mut put: impl FnMut(usize, u32)) {
    let mut words = bytes.rchunks(4);
    for j in 0..limbs {
        let limb = words.next().map_or(0, |w| {
            w.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
        });
        put(j, limb);
    }
}

/// -n^-1 mod 2^32 for an odd lowest limb `n0` (Newton's iteration: each step doubles the
/// correct low bits, from 3).
fn neg_inverse(n0: u32) -> u32 {
    let mut inv = n0;
    for _ in 0..4 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// Packs checked inputs into the shader's input layout (see `shaders/rsa.wgsl`): per item s and
/// n0', then the limbs of n, R² mod n and the signature, limb-major across the sub-batch.
pub(super) fn pack(inputs: &[RsaInput<'_>]) -> Vec<u32> {
    let count = inputs.len();
    let mut words = vec![0u32; IN_WORDS * count];
    let (meta, regions) = words.split_at_mut(META_WORDS * count);
    let (n_region, rest) = regions.split_at_mut(NL * count);
    let (rr_region, sig_region) = rest.split_at_mut(NL * count);
    for (i, input) in inputs.iter().enumerate() {
        let n_bytes = trim(input.modulus);
        let n = BigUint::from_bytes_be(n_bytes);
        // s = ceil(bits/32) + 1 limbs, so that 4n < R = 2^(32·s), rounded up to a multiple of
        // 4 (the shader's rows are unrolled by 4).
        let s = (n.bits().div_ceil(32) + 1).next_multiple_of(4);
        let rr = (BigUint::from(1u32) << (64 * s)) % &n;
        let mut low = 1;
        limbs(n_bytes, NL, |j, limb| {
            if j == 0 {
                low = limb;
            }
            n_region[j * count + i] = limb;
        });
        limbs(&rr.to_bytes_be(), NL, |j, limb| {
            rr_region[j * count + i] = limb
        });
        limbs(input.signature, NL, |j, limb| {
            sig_region[j * count + i] = limb
        });
        // s ≤ 132 = NL since n has at most 4096 bits (checked).
        meta[META_WORDS * i] = s as u32;
        meta[META_WORDS * i + 1] = neg_inverse(low);
    }
    words
}

/// Writes the results of a sub-batch of `count` items (limb-major words from the shader, `NL`
/// limbs each) as 512 big-endian bytes each.
pub(super) fn unpack(words: &[u32], count: usize, out: &mut [[u8; MAX_BYTES]]) {
    for (i, result) in out.iter_mut().enumerate().take(count) {
        for j in 0..OUT_LIMBS {
            let limb = words.get(j * count + i).copied().unwrap_or(0);
            let end = MAX_BYTES - 4 * j;
            result[end - 4..end].copy_from_slice(&limb.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neg_inverse_inverts() {
        for n0 in [1u32, 3, 0xffff_ffff, 0x8000_0001, 0x1234_5677] {
            assert_eq!(n0.wrapping_mul(neg_inverse(n0)), u32::MAX, "{n0:#x}");
        }
    }

    #[test]
    fn limbs_are_little_endian_words() {
        let mut got = Vec::new();
        limbs(&[1, 2, 3, 4, 5], 3, |j, l| got.push((j, l)));
        assert_eq!(got, [(0, 0x0203_0405), (1, 1), (2, 0)]);
    }
}
