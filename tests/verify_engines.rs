//! The verification engines against the reference crates on fresh random inputs (the seed
//! is printed): RSA-PSS-4096 verdicts of the CPU engine and of the GPU engine (on whatever
//! adapter the machine has: lavapipe in CI) equal the `rsa` crate's for valid signatures with
//! salt lengths 0, 32 and 478 and for copies with one bit flipped in the signature, the modulus
//! or the digest, and a GPU verifier meters what it did; the public operation of every CPU backend equals `BigUint::modpow` on random
//! moduli and on the top-bit patterns that stress the final subtraction; ed25519 verdicts equal
//! `ed25519-dalek`'s `verify` on valid, flipped, non-canonical and small-order inputs; and
//! batches give the verdicts of single checks.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure.

mod prereq;

use aocu::ao::{DataItem, SignatureType, Signer, Tag};
use aocu::verify::rsa::{Backend, Input, Modulus, limbs};
use aocu::verify::{Engine, Failure, Item, Verifier};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

fn rng() -> StdRng {
    let seed = rand::rng().next_u64();
    eprintln!("seed {seed}");
    StdRng::seed_from_u64(seed)
}

/// One RSA case: modulus, digest, signature, and the `rsa` crate's verdict.
struct RsaCase {
    n: Vec<u8>,
    digest: [u8; 32],
    sig: Vec<u8>,
    reference: bool,
    what: String,
}

fn rsa_crate_verdict(n: &[u8], digest: &[u8; 32], sig: &[u8], salt: usize) -> bool {
    RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from(65_537u32)).is_ok_and(|k| {
        k.verify(Pss::new_with_salt::<Sha256>(salt), digest, sig)
            .is_ok()
    })
}

fn flip(bytes: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let bit = rng.random_range(0..8 * out.len());
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

fn rsa_cases(rng: &mut StdRng) -> Vec<RsaCase> {
    let keys: Vec<RsaPrivateKey> = (0..2)
        .map(|_| RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 4096).unwrap())
        .collect();
    let mut cases = Vec::new();
    for (k, key) in keys.iter().enumerate() {
        let n = key.n().to_bytes_be();
        for salt in [0usize, 32, 478] {
            let mut digest = [0u8; 32];
            rng.fill_bytes(&mut digest);
            let sig = key
                .sign_with_rng(
                    &mut rsa::rand_core::OsRng,
                    Pss::new_with_salt::<Sha256>(salt),
                    &digest,
                )
                .unwrap();
            let mut bad_digest = digest;
            bad_digest[rng.random_range(0..32)] ^= 1 << rng.random_range(0..8);
            let variants = [
                ("valid", n.clone(), digest, sig.clone()),
                ("signature bit", n.clone(), digest, flip(&sig, rng)),
                ("modulus bit", flip(&n, rng), digest, sig.clone()),
                ("digest bit", n.clone(), bad_digest, sig.clone()),
            ];
            for (what, n, digest, sig) in variants {
                cases.push(RsaCase {
                    reference: rsa_crate_verdict(&n, &digest, &sig, salt),
                    what: format!("key {k}, salt {salt}, {what}"),
                    n,
                    digest,
                    sig,
                });
            }
        }
    }
    cases
}

#[test]
fn rsa_verdicts_equal_the_rsa_crates() {
    let mut rng = rng();
    let cases = rsa_cases(&mut rng);
    assert!(
        cases.iter().filter(|c| c.reference).count() >= 6,
        "the valid ones hold"
    );
    let items: Vec<Item<'_>> = cases
        .iter()
        .map(|c| Item::RsaPss {
            modulus: &c.n,
            digest: c.digest,
            signature: &c.sig,
        })
        .collect();
    let verifier = Verifier::cpu();
    // One batch (lanes), and each item alone (the single path).
    let batch = verifier.verify_batch(&items, Engine::Cpu).unwrap();
    for (i, (case, verdict)) in cases.iter().zip(&batch).enumerate() {
        assert_eq!(
            verdict.is_ok(),
            case.reference,
            "{}: {verdict:?}",
            case.what
        );
        let alone = verifier.verify_batch(&items[i..=i], Engine::Cpu).unwrap();
        assert_eq!(&alone[0], verdict, "{}", case.what);
    }
    let stats = verifier.stats();
    let rsa = &stats.cpu.schemes[0];
    assert_eq!(rsa.checked, 2 * cases.len() as u64);
    assert_eq!(
        rsa.failed,
        2 * cases.iter().filter(|c| !c.reference).count() as u64
    );
    on_the_gpu(&items, &batch);
    // Malformed inputs are verdicts with a reason, never a panic.
    let n = &cases[0].n;
    let short = Item::RsaPss {
        modulus: n,
        digest: [0; 32],
        signature: &n[1..],
    };
    let above = Item::RsaPss {
        modulus: n,
        digest: [0; 32],
        signature: n,
    };
    let tiny = Item::RsaPss {
        modulus: &[0, 0, 7],
        digest: [0; 32],
        signature: &[1],
    };
    let out = verifier.verify(&[short, above, tiny]);
    assert!(
        matches!(out[0], Err(Failure::SignatureLength { .. })),
        "{:?}",
        out[0]
    );
    assert_eq!(out[1], Err(Failure::SignatureNotBelowModulus));
    assert!(
        matches!(out[2], Err(Failure::ModulusTooSmall { .. })),
        "{:?}",
        out[2]
    );
}

/// The GPU engine's verdicts on `items` equal the CPU's (`expected`), alone and mixed with
/// ed25519 items; RSA is counted on the GPU, ed25519 on the CPU.
fn on_the_gpu(items: &[Item<'_>], expected: &[aocu::verify::Verdict]) {
    if !prereq::gpu_adapter() {
        return;
    }
    let hasher = aocu::hash::gpu::GpuHasher::new().unwrap();
    let verifier = Verifier::on_gpu(Engine::Gpu, &hasher, None).unwrap();
    eprintln!("GPU verifier on {:?}", verifier.gpu_adapter());
    let gpu = verifier.verify_batch(items, Engine::Gpu).unwrap();
    assert_eq!(gpu, expected);
    // `verify` follows the verifier's engine; Auto never picks a software adapter.
    assert_eq!(verifier.verify(items), expected);
    let key = [0u8; 32];
    let mut mixed = items.to_vec();
    mixed.push(Item::Ed25519 {
        key: &key,
        message: b"m",
        signature: &[0; 64],
    });
    let out = verifier.verify_batch(&mixed, Engine::Gpu).unwrap();
    assert_eq!(&out[..items.len()], expected);
    assert!(out[items.len()].is_err());
    let stats = verifier.stats();
    assert_eq!(stats.gpu.schemes[0].checked, 3 * items.len() as u64);
    assert_eq!(stats.cpu.schemes[1].checked, 1);
    assert!(stats.gpu_busy_ms > 0.0);
    let auto = Verifier::on_gpu(Engine::Auto, &hasher, Some(1)).unwrap();
    assert_eq!(auto.verify(items), expected);
    let picked_gpu = auto.stats().gpu.schemes[0].checked > 0;
    assert_eq!(
        picked_gpu,
        !hasher.is_software(),
        "auto takes only a hardware adapter"
    );
}

fn reference_op(s: &[u8], n: &[u8]) -> [u8; 512] {
    let r = BigUint::from_bytes_be(s)
        .modpow(&BigUint::from(65_537u32), &BigUint::from_bytes_be(n))
        .to_bytes_be();
    let mut out = [0u8; 512];
    out[512 - r.len()..].copy_from_slice(&r);
    out
}

#[test]
fn every_backend_equals_modpow_on_random_and_extreme_moduli() {
    let mut rng = rng();
    let mut moduli: Vec<Vec<u8>> = Vec::new();
    for _ in 0..20 {
        let mut n = vec![0u8; 512];
        rng.fill_bytes(&mut n);
        n[0] |= 0x80;
        n[511] |= 1;
        moduli.push(n);
    }
    // All ones; 2^4095 + 1; top limbs all ones or all zeros but one bit; short moduli.
    moduli.push(vec![0xff; 512]);
    let mut m = vec![0u8; 512];
    m[0] = 0x80;
    m[511] = 1;
    moduli.push(m.clone());
    let mut ones_then_random = vec![0xff; 512];
    rng.fill_bytes(&mut ones_then_random[64..]);
    ones_then_random[511] |= 1;
    moduli.push(ones_then_random);
    let mut one_bit_then_random = vec![0u8; 512];
    one_bit_then_random[0] = 0x80;
    rng.fill_bytes(&mut one_bit_then_random[64..]);
    one_bit_then_random[511] |= 1;
    moduli.push(one_bit_then_random);
    for len in [256usize, 125, 40] {
        let mut n = vec![0u8; len];
        rng.fill_bytes(&mut n);
        n[0] |= 0x80;
        n[len - 1] |= 1;
        moduli.push(n);
    }
    let prepared: Vec<Modulus> = moduli.iter().map(|n| Modulus::new(n).unwrap()).collect();
    let sigs: Vec<Vec<u8>> = moduli
        .iter()
        .enumerate()
        .map(|(i, n)| match i % 5 {
            0 => vec![0],
            1 => vec![1],
            2 => {
                // n - 1
                let mut s = n.clone();
                *s.last_mut().unwrap() &= 0xfe;
                s
            }
            _ => {
                let mut s = vec![0u8; n.len()];
                rng.fill_bytes(&mut s);
                s[0] &= 0x7f;
                s
            }
        })
        .collect();
    let limbs: Vec<limbs::Limbs> = sigs.iter().map(|s| limbs::from_be(s).unwrap()).collect();
    let inputs: Vec<Input<'_>> = limbs
        .iter()
        .zip(&prepared)
        .map(|(s, modulus)| Input { s, modulus })
        .collect();
    for backend in Backend::all() {
        let out = aocu::verify::rsa::public_ops_on(backend, &inputs);
        for (i, x) in out.iter().enumerate() {
            assert_eq!(
                limbs::to_be(x),
                reference_op(&sigs[i], &moduli[i]),
                "{} modulus {i}",
                backend.name()
            );
        }
    }
}

/// Key, message, signature, and what the case is.
type Ed25519Case = ([u8; 32], Vec<u8>, [u8; 64], String);

#[test]
fn ed25519_verdicts_equal_dalek_verify() {
    use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
    let mut rng = rng();
    let mut cases: Vec<Ed25519Case> = Vec::new();
    for k in 0..4 {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        let mut message = vec![0u8; 48];
        rng.fill_bytes(&mut message);
        let sig = key.sign(&message).to_bytes();
        cases.push((public, message.clone(), sig, format!("key {k} valid")));
        let mut bad = sig;
        bad[rng.random_range(0..64)] ^= 1 << rng.random_range(0..8);
        cases.push((
            public,
            message.clone(),
            bad,
            format!("key {k} signature bit"),
        ));
        let mut other = message.clone();
        other[0] ^= 1;
        cases.push((public, other, sig, format!("key {k} message bit")));
        // S + L: the same scalar, not canonical.
        let mut s_plus_l = sig;
        add_l(&mut s_plus_l[32..]);
        cases.push((public, message.clone(), s_plus_l, format!("key {k} S + L")));
    }
    // Small-order keys and R: the identity and a point of order 2 (y = -1).
    let identity = {
        let mut p = [0u8; 32];
        p[0] = 1;
        p
    };
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    for (name, point) in [("identity", identity), ("order 2", minus_one)] {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&point);
        cases.push((
            point,
            b"small order".to_vec(),
            sig,
            format!("{name} key and R, S = 0"),
        ));
    }
    let items: Vec<Item<'_>> = cases
        .iter()
        .map(|(key, message, signature, _)| Item::Ed25519 {
            key,
            message,
            signature,
        })
        .collect();
    let verdicts = Verifier::cpu().verify_batch(&items, Engine::Cpu).unwrap();
    for ((key, message, sig, what), verdict) in cases.iter().zip(&verdicts) {
        let reference = VerifyingKey::from_bytes(key).is_ok_and(|k| {
            k.verify(message, &ed25519_dalek::Signature::from_bytes(sig))
                .is_ok()
        });
        assert_eq!(verdict.is_ok(), reference, "{what}: {verdict:?}");
    }
    assert!(verdicts[0].is_ok());
}

/// `s += L` for a little-endian 32-byte scalar (L = 2^252 + 27742317777372353535851937790883648493).
fn add_l(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let v = u16::from(*b) + u16::from(l) + carry;
        *b = v as u8;
        carry = v >> 8;
    }
}

#[test]
fn item_batches_give_the_verdicts_of_single_checks() {
    let mut items = Vec::new();
    for t in [
        SignatureType::Ed25519,
        SignatureType::Solana,
        SignatureType::Ethereum,
        SignatureType::TypedEthereum,
    ] {
        let signer = Signer::generate(t).unwrap().unwrap();
        for i in 0..3u8 {
            let mut item = DataItem::signed_by(
                &signer,
                None,
                None,
                vec![Tag::new("N", i.to_string())],
                vec![i; 10],
            )
            .unwrap();
            if i == 1 {
                item.data[0] ^= 1;
            }
            items.push(item);
        }
    }
    let refs: Vec<&DataItem> = items.iter().collect();
    let batch = DataItem::verify_batch(&refs);
    for (item, verdict) in items.iter().zip(&batch) {
        assert_eq!(*verdict, item.verify(), "{:?}", item.signature_type);
    }
    assert_eq!(batch.iter().filter(|v| v.is_err()).count(), 4);
}
