//! Arweave wallets: RSA-4096 keys in JWK form (`kty`, `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`,
//! base64url big-endian integers). The address is `base64url(SHA-256(n))`.
//!
//! Signing uses `ring` (RSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt), whose
//! private-key arithmetic is constant-time: the node signs assignments for anyone who sends a
//! message, so a timing side channel there would be observable over the network (the `rsa`
//! crate's is, RUSTSEC-2023-0071). The `rsa` crate only generates a fresh key, once, before
//! the node has ever signed.

use std::path::Path;
use std::sync::Arc;

use ring::rand::SystemRandom;
use ring::signature::{RSA_PSS_SHA256, RSA_PSS_SHA512, RsaKeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{b64url, b64url_decode};

/// Arweave keys are 4096-bit: owners are exactly 512 bytes.
pub const MODULUS_BYTES: usize = 512;
/// Salt length used when signing: `ring` uses the digest length (32 bytes, as Arweave's
/// browser signer does); every verifier accepts it.
pub const SALT_LEN: usize = 32;

/// A wallet could not be loaded, generated, saved or used.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The file could not be read or written.
    #[error("wallet file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The JWK is malformed (names the field).
    #[error("wallet JWK: {0}")]
    Jwk(String),
    /// The RSA operation failed.
    #[error("RSA: {0}")]
    Rsa(String),
}

/// An Arweave JWK (private key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: String,
    /// Modulus.
    pub n: String,
    /// Public exponent (`AQAB`).
    pub e: String,
    /// Private exponent.
    pub d: String,
    /// First prime.
    pub p: String,
    /// Second prime.
    pub q: String,
    /// `d mod (p-1)`.
    pub dp: String,
    /// `d mod (q-1)`.
    pub dq: String,
    /// `q^-1 mod p`.
    pub qi: String,
}

/// An Arweave wallet that can sign. Cloning shares the key.
#[derive(Clone)]
pub struct Wallet {
    key: Arc<RsaKeyPair>,
    jwk: Arc<Jwk>,
    rng: SystemRandom,
    owner: Vec<u8>,
    address: String,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("Wallet")
            .field("address", &self.address)
            .finish()
    }
}

impl Wallet {
    /// Generate a fresh RSA-4096 wallet (takes a few seconds).
    pub fn generate() -> Result<Wallet, WalletError> {
        use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
        let mut key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, MODULUS_BYTES * 8)
            .map_err(|e| WalletError::Rsa(e.to_string()))?;
        key.precompute()
            .map_err(|e| WalletError::Rsa(e.to_string()))?;
        let enc = |n: &rsa::BigUint| b64url(&n.to_bytes_be());
        let missing = || WalletError::Rsa("precomputed CRT values missing".into());
        let primes = key.primes();
        let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else {
            return Err(WalletError::Rsa("a generated key needs two primes".into()));
        };
        let jwk = Jwk {
            kty: "RSA".into(),
            n: enc(key.n()),
            e: enc(key.e()),
            d: enc(key.d()),
            p: enc(p),
            q: enc(q),
            dp: enc(key.dp().ok_or_else(missing)?),
            dq: enc(key.dq().ok_or_else(missing)?),
            qi: enc(&key.crt_coefficient().ok_or_else(missing)?),
        };
        Wallet::from_jwk(&jwk)
    }

    /// A wallet from a JWK. `ring` checks that the parts form one consistent RSA key.
    pub fn from_jwk(jwk: &Jwk) -> Result<Wallet, WalletError> {
        if jwk.kty != "RSA" {
            return Err(WalletError::Jwk(format!(
                "kty is `{}`, expected `RSA`",
                jwk.kty
            )));
        }
        let int = |name: &str, value: &str| {
            b64url_decode(value)
                .map(|b| minimal(&b).to_vec())
                .map_err(|_| WalletError::Jwk(format!("field `{name}` is not base64url")))
        };
        let n = int("n", &jwk.n)?;
        let e = int("e", &jwk.e)?;
        if n.len() != MODULUS_BYTES {
            return Err(WalletError::Jwk(format!(
                "modulus is {} bytes; Arweave keys have {MODULUS_BYTES}",
                n.len()
            )));
        }
        if e != [1, 0, 1] {
            return Err(WalletError::Jwk(
                "public exponent must be 65537 (AQAB)".into(),
            ));
        }
        let components = ring::rsa::KeyPairComponents {
            public_key: ring::rsa::PublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            },
            d: int("d", &jwk.d)?,
            p: int("p", &jwk.p)?,
            q: int("q", &jwk.q)?,
            dP: int("dp", &jwk.dp)?,
            dQ: int("dq", &jwk.dq)?,
            qInv: int("qi", &jwk.qi)?,
        };
        let key = RsaKeyPair::from_components(&components)
            .map_err(|e| WalletError::Jwk(format!("invalid key: {e}")))?;
        let address = address_of(&n);
        let wallet = Wallet {
            key: Arc::new(key),
            jwk: Arc::new(jwk.clone()),
            rng: SystemRandom::new(),
            owner: n,
            address,
        };
        // `ring` checks `d` and the CRT parts against `n` and `e` only when it signs: sign
        // once now, so that an inconsistent key is refused here and not at the first message.
        // The probe is checked with ring's own public operation, not the node's shared verifier:
        // it is not a message signature and must not show in the verification metering.
        let probe = b"aocu wallet check";
        let public = ring::rsa::PublicKeyComponents {
            n: wallet.owner.as_slice(),
            e: [1u8, 0, 1].as_slice(),
        };
        let consistent = wallet.sign(probe).is_ok_and(|sig| {
            public
                .verify(&ring::signature::RSA_PSS_2048_8192_SHA256, probe, &sig)
                .is_ok()
        });
        if !consistent {
            return Err(WalletError::Jwk(
                "inconsistent key: its private parts do not sign for its modulus".into(),
            ));
        }
        Ok(wallet)
    }

    /// Load a JWK file.
    pub fn load(path: &Path) -> Result<Wallet, WalletError> {
        let io = |message: String| WalletError::Io {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        let jwk: Jwk = serde_json::from_str(&text).map_err(|e| WalletError::Jwk(e.to_string()))?;
        Wallet::from_jwk(&jwk)
    }

    /// Load the JWK at `path`, or generate one and write it there (mode 0600) when missing.
    pub fn load_or_generate(path: &Path) -> Result<Wallet, WalletError> {
        if path.exists() {
            return Wallet::load(path);
        }
        let wallet = Wallet::generate()?;
        wallet.save(path)?;
        Ok(wallet)
    }

    /// Write the JWK to a new file readable by its owner only; refuses to overwrite.
    pub fn save(&self, path: &Path) -> Result<(), WalletError> {
        use std::io::Write as _;
        let io = |message: String| WalletError::Io {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        }
        let text = serde_json::to_string(&self.jwk()).map_err(|e| io(e.to_string()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| io(e.to_string()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io(e.to_string()))
    }

    /// The JWK of this wallet.
    pub fn jwk(&self) -> Jwk {
        (*self.jwk).clone()
    }

    /// The owner field of items this wallet signs: the 512-byte modulus.
    pub fn owner(&self) -> &[u8] {
        &self.owner
    }

    /// The wallet address: `base64url(SHA-256(n))`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sign `message` (a deep hash) with RSA-PSS/SHA-256, salt length [`SALT_LEN`]: the PSS
    /// input is `SHA-256(message)`, as Arweave signs.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, WalletError> {
        self.sign_with(&RSA_PSS_SHA256, message)
    }

    /// Sign `message` with RSA-PSS/SHA-512 (MGF1-SHA-512, 64-byte salt), as AO-Core signs
    /// HTTP messages (`rsa-pss-sha512`, [`crate::httpsig`]).
    pub fn sign_pss_sha512(&self, message: &[u8]) -> Result<Vec<u8>, WalletError> {
        self.sign_with(&RSA_PSS_SHA512, message)
    }

    fn sign_with(
        &self,
        padding: &'static dyn ring::signature::RsaEncoding,
        message: &[u8],
    ) -> Result<Vec<u8>, WalletError> {
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(padding, &self.rng, message, &mut signature)
            .map_err(|e| WalletError::Rsa(format!("signing failed: {e}")))?;
        Ok(signature)
    }
}

/// A big-endian integer without its leading zero bytes (JWKs may carry them; `ring` wants
/// the minimal encoding).
fn minimal(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The address of an owner (public modulus bytes).
pub fn address_of(owner: &[u8]) -> String {
    let digest: [u8; 32] = Sha256::digest(owner).into();
    b64url(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_save_load_sign_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w/wallet.json");
        let wallet = Wallet::load_or_generate(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = Wallet::load_or_generate(&path).unwrap();
        assert_eq!(again.address(), wallet.address());
        assert_eq!(again.jwk(), wallet.jwk());
        assert_eq!(wallet.address().len(), 43);
        assert_eq!(wallet.address(), address_of(wallet.owner()));
        let sig = wallet.sign(b"message").unwrap();
        assert_eq!(sig.len(), MODULUS_BYTES);
        assert!(super::super::signature::arweave::verify(
            wallet.owner(),
            b"message",
            &sig
        ));
        assert!(!super::super::signature::arweave::verify(
            wallet.owner(),
            b"other",
            &sig
        ));
        assert!(wallet.save(&path).is_err(), "never overwrites a key");

        let mut jwk = wallet.jwk();
        jwk.kty = "EC".into();
        assert!(
            Wallet::from_jwk(&jwk)
                .unwrap_err()
                .to_string()
                .contains("kty")
        );
        let mut jwk = wallet.jwk();
        jwk.d = "!!".into();
        assert!(
            Wallet::from_jwk(&jwk)
                .unwrap_err()
                .to_string()
                .contains("`d`")
        );
        // Parts of one key that do not belong together are refused at load, not at signing.
        let mut jwk = wallet.jwk();
        std::mem::swap(&mut jwk.dp, &mut jwk.dq);
        let err = Wallet::from_jwk(&jwk).unwrap_err().to_string();
        assert!(
            err.contains("invalid key") || err.contains("inconsistent"),
            "{err}"
        );
        let mut jwk = wallet.jwk();
        jwk.n = b64url(&[0xff; 256]);
        assert!(
            Wallet::from_jwk(&jwk)
                .unwrap_err()
                .to_string()
                .contains("512")
        );
        assert!(format!("{wallet:?}").contains(wallet.address()));
        assert!(!format!("{wallet:?}").contains(&wallet.jwk().d));
    }
}
