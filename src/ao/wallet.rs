//! Arweave wallets: RSA-4096 keys in JWK form (`kty`, `n`, `e`, `d`, `p`, `q`, `dp`, `dq`, `qi`,
//! base64url big-endian integers). The address is `base64url(SHA-256(n))`.

use std::path::Path;

use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::{BigUint, Pss, RsaPrivateKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{b64url, b64url_decode};

/// Arweave keys are 4096-bit: owners are exactly 512 bytes.
pub const MODULUS_BYTES: usize = 512;
/// Salt length used when signing (Arweave's browser signer uses 32; every verifier accepts it).
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

/// An Arweave wallet that can sign.
#[derive(Clone)]
pub struct Wallet {
    key: RsaPrivateKey,
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
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, MODULUS_BYTES * 8)
            .map_err(|e| WalletError::Rsa(e.to_string()))?;
        Wallet::from_key(key)
    }

    /// A wallet from a JWK.
    pub fn from_jwk(jwk: &Jwk) -> Result<Wallet, WalletError> {
        if jwk.kty != "RSA" {
            return Err(WalletError::Jwk(format!(
                "kty is `{}`, expected `RSA`",
                jwk.kty
            )));
        }
        let int = |name: &str, value: &str| {
            b64url_decode(value)
                .map(|b| BigUint::from_bytes_be(&b))
                .map_err(|_| WalletError::Jwk(format!("field `{name}` is not base64url")))
        };
        let key = RsaPrivateKey::from_components(
            int("n", &jwk.n)?,
            int("e", &jwk.e)?,
            int("d", &jwk.d)?,
            vec![int("p", &jwk.p)?, int("q", &jwk.q)?],
        )
        .map_err(|e| WalletError::Jwk(format!("inconsistent key: {e}")))?;
        key.validate()
            .map_err(|e| WalletError::Jwk(format!("invalid key: {e}")))?;
        Wallet::from_key(key)
    }

    fn from_key(mut key: RsaPrivateKey) -> Result<Wallet, WalletError> {
        key.precompute()
            .map_err(|e| WalletError::Rsa(e.to_string()))?;
        let owner = key.n().to_bytes_be();
        if owner.len() != MODULUS_BYTES {
            return Err(WalletError::Jwk(format!(
                "modulus is {} bytes; Arweave keys have {MODULUS_BYTES}",
                owner.len()
            )));
        }
        if key.e() != &BigUint::from(65_537u32) {
            return Err(WalletError::Jwk(
                "public exponent must be 65537 (AQAB)".into(),
            ));
        }
        let address = address_of(&owner);
        Ok(Wallet {
            key,
            owner,
            address,
        })
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
        let enc = |n: &BigUint| b64url(&n.to_bytes_be());
        let primes = self.key.primes();
        let none = BigUint::from(0u32);
        Jwk {
            kty: "RSA".into(),
            n: enc(self.key.n()),
            e: enc(self.key.e()),
            d: enc(self.key.d()),
            p: enc(&primes[0]),
            q: enc(&primes[1]),
            dp: enc(self.key.dp().unwrap_or(&none)),
            dq: enc(self.key.dq().unwrap_or(&none)),
            qi: enc(&self.key.crt_coefficient().unwrap_or_default()),
        }
    }

    /// The owner field of items this wallet signs: the 512-byte modulus.
    pub fn owner(&self) -> &[u8] {
        &self.owner
    }

    /// The wallet address: `base64url(SHA-256(n))`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sign `message` (a deep hash) with RSA-PSS/SHA-256, salt length [`SALT_LEN`].
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, WalletError> {
        let hashed = Sha256::digest(message);
        self.key
            .sign_with_rng(
                &mut rsa::rand_core::OsRng,
                Pss::new_with_salt::<Sha256>(SALT_LEN),
                &hashed,
            )
            .map_err(|e| WalletError::Rsa(e.to_string()))
    }
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
        assert!(format!("{wallet:?}").contains(wallet.address()));
        assert!(!format!("{wallet:?}").contains(&wallet.jwk().d));
    }
}
