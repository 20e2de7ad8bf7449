//! HTTP message signatures (RFC 9421) as AO-Core's `httpsig@1.0` codec and its JavaScript
//! signers (`@permaweb/ao-core-libs`, aoconnect) make them: `rsa-pss-sha512` over the covered
//! components, `keyid` the signer's RSA modulus in base64url, the body covered through a
//! `content-digest` header. `docs/httpsig.md` has the facts and where they were read.
//!
//! [`verify`] checks every signature a request carries and names its signers (Arweave
//! addresses, `base64url(SHA-256(n))`); it says nothing about who may do what, which is the
//! caller's (`crate::operator`). [`sign`] makes the headers for a request aocu sends.
//!
//! The PSS salt length is read from the padding: HyperBEAM signs with 64 bytes, Node's
//! `crypto.sign` with the longest salt that fits, and both verify.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::HeaderMap;
use rsa::BigUint;
use sfv::{BareItem, Dictionary, InnerList, Item, ListEntry, Parser, SerializeValue as _};
use sha2::{Digest as _, Sha256, Sha512};

use crate::ao::Wallet;

/// The only algorithm AO-Core's RSA wallets sign HTTP messages with.
pub const ALG: &str = "rsa-pss-sha512";
/// The exponent of every Arweave key.
const EXPONENT: u32 = 65_537;
/// Fewest modulus bits accepted: PSS-SHA-512 needs 8·(64 + 64 + 2) at the least; keys of
/// fewer than 2048 bits are refused as a matter of policy.
const MIN_MODULUS_BITS: usize = 2048;
/// Most modulus bits accepted (Arweave keys are 4096): bounds the public operation's cost.
const MAX_MODULUS_BITS: usize = 8192;
/// Most signatures one request may carry: each costs a public RSA operation.
pub const MAX_SIGNATURES: usize = 8;

/// Why a request's signatures were not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpSigError {
    /// There is no `signature` / `signature-input` pair.
    #[error("the request is not signed: it has no Signature and Signature-Input headers")]
    Unsigned,
    /// A signature header is not a structured-field dictionary of the expected shape.
    #[error("the {header} header is malformed: {why}")]
    Malformed {
        /// `signature` or `signature-input`.
        header: &'static str,
        /// What is wrong.
        why: String,
    },
    /// More signatures than [`MAX_SIGNATURES`].
    #[error("the request carries {0} signatures; at most {MAX_SIGNATURES} are checked")]
    TooMany(usize),
    /// A signature's `keyid` is not an RSA modulus this node accepts.
    #[error(
        "signature `{label}`: keyid is not a base64 RSA modulus of {MIN_MODULUS_BITS}–{MAX_MODULUS_BITS} bits"
    )]
    KeyId {
        /// The signature's label.
        label: String,
    },
    /// A covered component the signature base needs is missing or unsupported.
    #[error("signature `{label}`: covered component `{component}` {why}")]
    Component {
        /// The signature's label.
        label: String,
        /// The component identifier.
        component: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The signature does not verify over the signature base.
    #[error(
        "signature `{label}` does not verify: the request was changed or signed by another key"
    )]
    Mismatch {
        /// The signature's label.
        label: String,
    },
    /// The body is not the one the signed `content-digest` names.
    #[error("content-digest: {0}")]
    ContentDigest(String),
    /// The request has a body that no signature covers.
    #[error("the body is not covered by the signature: sign a content-digest header with it")]
    BodyNotCovered,
}

/// One verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The signer's Arweave address, `base64url(SHA-256(n))`.
    pub address: String,
    /// The signature's label in the dictionaries.
    pub label: String,
    /// `SHA-256` of the signature bytes (AO-Core's commitment ID), for replay detection.
    pub commitment: [u8; 32],
    /// The covered component identifiers, in the signed order.
    pub covered: Vec<String>,
    /// The `created` parameter, seconds since the epoch, when signed.
    pub created: Option<i64>,
    /// The `expires` parameter, when signed.
    pub expires: Option<i64>,
    /// The `nonce` parameter, when signed.
    pub nonce: Option<String>,
}

/// What a signature covers: the request line's parts and its headers and body.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// `http` or `https`.
    pub scheme: &'a str,
    /// `host[:port]` as the client addressed it.
    pub authority: &'a str,
    /// The path, percent-encoded as sent.
    pub path: &'a str,
    /// The query without its `?`, if any.
    pub query: Option<&'a str>,
    /// The header fields.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

/// Verify every `rsa-pss-sha512` signature of `message`, and its `content-digest` when one is
/// covered; the signers, in the order of the `signature-input` dictionary. Members of another
/// algorithm (AO-Core's `hmac-sha256` ID commitment) are not signatures of a key and are
/// skipped. A request with a body must cover a `content-digest`.
pub fn verify(message: &Message<'_>) -> Result<Vec<Signer>, HttpSigError> {
    let inputs = dictionary(message.headers, "signature-input")?;
    let signatures = dictionary(message.headers, "signature")?;
    let (Some(inputs), Some(signatures)) = (inputs, signatures) else {
        return Err(HttpSigError::Unsigned);
    };
    if inputs.len() > MAX_SIGNATURES {
        return Err(HttpSigError::TooMany(inputs.len()));
    }
    let mut signers = Vec::new();
    for (label, entry) in &inputs {
        let ListEntry::InnerList(input) = entry else {
            return Err(malformed(
                "signature-input",
                format!("`{label}` is not an inner list"),
            ));
        };
        if input.params.get("alg").and_then(BareItem::as_str) != Some(ALG) {
            continue;
        }
        let signature = match signatures.get(label) {
            Some(ListEntry::Item(Item {
                bare_item: BareItem::ByteSeq(bytes),
                ..
            })) => bytes.as_slice(),
            _ => {
                return Err(malformed(
                    "signature",
                    format!("no byte sequence for `{label}`"),
                ));
            }
        };
        signers.push(verify_one(message, label, input, signature)?);
    }
    if signers.is_empty() {
        return Err(HttpSigError::Unsigned);
    }
    check_body(message, &signers)?;
    Ok(signers)
}

/// One signature: its key, its base, the RSA check.
fn verify_one(
    message: &Message<'_>,
    label: &str,
    input: &InnerList,
    signature: &[u8],
) -> Result<Signer, HttpSigError> {
    let n = input
        .params
        .get("keyid")
        .and_then(BareItem::as_str)
        .and_then(decode_base64)
        .filter(|n| (MIN_MODULUS_BITS..=MAX_MODULUS_BITS).contains(&bits(n)))
        .ok_or_else(|| HttpSigError::KeyId {
            label: label.to_string(),
        })?;
    let base = signature_base(message, label, input)?;
    if !pss_sha512_verifies(&n, base.as_bytes(), signature) {
        return Err(HttpSigError::Mismatch {
            label: label.to_string(),
        });
    }
    let int = |name: &str| input.params.get(name).and_then(BareItem::as_int);
    Ok(Signer {
        address: crate::ao::wallet::address_of(strip_zeros(&n)),
        label: label.to_string(),
        commitment: Sha256::digest(signature).into(),
        covered: covered(input),
        created: int("created"),
        expires: int("expires"),
        nonce: input
            .params
            .get("nonce")
            .and_then(BareItem::as_str)
            .map(str::to_string),
    })
}

/// The covered component identifiers of a signature input.
fn covered(input: &InnerList) -> Vec<String> {
    input
        .items
        .iter()
        .filter_map(|item| item.bare_item.as_str().map(str::to_string))
        .collect()
}

/// The signature base (RFC 9421 § 2.5): a `"name": value` line per covered component, then the
/// `@signature-params` line, joined by LF with none at the end.
pub fn signature_base(
    message: &Message<'_>,
    label: &str,
    input: &InnerList,
) -> Result<String, HttpSigError> {
    let mut base = String::new();
    for item in &input.items {
        let component_err = |component: &str, why| HttpSigError::Component {
            label: label.to_string(),
            component: component.to_string(),
            why,
        };
        let Some(name) = item.bare_item.as_str() else {
            return Err(component_err("?", "is not a string"));
        };
        if !item.params.is_empty() {
            return Err(component_err(
                name,
                "has parameters, which aocu does not support",
            ));
        }
        let value = component_value(message, name).map_err(|why| component_err(name, why))?;
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!(
        "\"@signature-params\": {}",
        serialize_inner_list(input)
    ));
    Ok(base)
}

/// The value of one covered component: a derived one (`@method`, `@path`, …) or the header
/// field's values, each trimmed, joined by `, `.
fn component_value(message: &Message<'_>, name: &str) -> Result<String, &'static str> {
    let target = || match message.query {
        Some(query) => format!("{}?{query}", message.path),
        None => message.path.to_string(),
    };
    let value = match name {
        "@method" => message.method.to_string(),
        "@scheme" => message.scheme.to_ascii_lowercase(),
        "@authority" => message.authority.to_ascii_lowercase(),
        "@path" => message.path.to_string(),
        "@query" => format!("?{}", message.query.unwrap_or("")),
        "@request-target" => target(),
        "@target-uri" => format!(
            "{}://{}{}",
            message.scheme.to_ascii_lowercase(),
            message.authority.to_ascii_lowercase(),
            target()
        ),
        derived if derived.starts_with('@') => {
            return Err("is a derived component aocu does not support");
        }
        header => {
            let values: Vec<&str> = message
                .headers
                .get_all(header)
                .iter()
                .map(|v| v.to_str().map(str::trim))
                .collect::<Result<_, _>>()
                .map_err(|_| "is not visible ASCII")?;
            if values.is_empty() {
                return Err("is not in the request");
            }
            values.join(", ")
        }
    };
    Ok(value)
}

/// `(…);params` as RFC 8941 serializes it, the `@signature-params` value.
fn serialize_inner_list(input: &InnerList) -> String {
    let mut one = Dictionary::new();
    one.insert("l".to_string(), ListEntry::InnerList(input.clone()));
    let text = one.serialize_value().unwrap_or_default();
    text.strip_prefix("l=").unwrap_or(&text).to_string()
}

/// A request with a body must cover `content-digest`, and the digest must name the body.
fn check_body(message: &Message<'_>, signers: &[Signer]) -> Result<(), HttpSigError> {
    let digest_covered = signers
        .iter()
        .all(|s| s.covered.iter().any(|c| c == "content-digest"));
    if digest_covered {
        return check_content_digest(message.headers, message.body);
    }
    if message.body.is_empty() {
        Ok(())
    } else {
        Err(HttpSigError::BodyNotCovered)
    }
}

/// `content-digest` (RFC 9530) names `body`: every `sha-256`/`sha-512` member matches and at
/// least one is there. Its byte sequences are read in either base64 alphabet, as signers write
/// both.
pub fn check_content_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), HttpSigError> {
    let err = |why: &str| HttpSigError::ContentDigest(why.to_string());
    let value = headers
        .get("content-digest")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| err("the header is missing or not ASCII"))?;
    let mut checked = 0;
    for member in value.split(',') {
        let (alg, encoded) = member
            .trim()
            .split_once('=')
            .ok_or_else(|| err("a member is not `alg=:base64:`"))?;
        let encoded = encoded
            .strip_prefix(':')
            .and_then(|e| e.strip_suffix(':'))
            .ok_or_else(|| err("a digest is not a byte sequence"))?;
        let digest = decode_base64(encoded).ok_or_else(|| err("a digest is not base64"))?;
        let expected: Vec<u8> = match alg.trim() {
            "sha-256" => Sha256::digest(body).to_vec(),
            "sha-512" => Sha512::digest(body).to_vec(),
            _ => continue,
        };
        if digest != expected {
            return Err(err("the body does not match the signed digest"));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(err("no sha-256 or sha-512 digest"));
    }
    Ok(())
}

/// `sha-256=:<base64>:` for `body`.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// The `signature-input` and `signature` header values that sign `message` with `wallet` over
/// `covered` (header names in lower case, or derived components), under the label AO-Core
/// gives the wallet (`http-sig-` and the hex of bytes 1..9 of its address).
pub fn sign(
    wallet: &Wallet,
    message: &Message<'_>,
    covered: &[&str],
) -> Result<(String, String), SignError> {
    let label = label_of(wallet);
    let mut params = sfv::Parameters::new();
    params.insert("alg".into(), BareItem::String(ALG.into()));
    params.insert(
        "keyid".into(),
        BareItem::String(URL_SAFE_NO_PAD.encode(wallet.owner())),
    );
    let items = covered
        .iter()
        .map(|c| Item::new(BareItem::String(c.to_string())))
        .collect();
    let input = InnerList::with_params(items, params);
    let base = signature_base(message, &label, &input).map_err(SignError::Base)?;
    let signature = wallet
        .sign_pss_sha512(base.as_bytes())
        .map_err(|e| SignError::Rsa(e.to_string()))?;
    let mut inputs = Dictionary::new();
    inputs.insert(label.clone(), ListEntry::InnerList(input));
    let mut signatures = Dictionary::new();
    signatures.insert(
        label,
        ListEntry::Item(Item::new(BareItem::ByteSeq(signature))),
    );
    let serialize = |d: &Dictionary| {
        d.serialize_value()
            .map_err(|e| SignError::Rsa(e.to_string()))
    };
    Ok((serialize(&inputs)?, serialize(&signatures)?))
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A covered component is not in the request.
    #[error("{0}")]
    Base(HttpSigError),
    /// The RSA operation or the serialization failed.
    #[error("signing failed: {0}")]
    Rsa(String),
}

/// AO-Core's label for a wallet's signature: `http-sig-<hex of address bytes 1..9>`.
pub fn label_of(wallet: &Wallet) -> String {
    let address: [u8; 32] = Sha256::digest(wallet.owner()).into();
    format!("http-sig-{}", hex::encode(&address[1..9]))
}

/// Whether `signature` is an RSASSA-PSS-SHA-512 (MGF1-SHA-512, any salt) signature of
/// `message` by the key with modulus `n` and exponent 65537.
fn pss_sha512_verifies(n: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let n = strip_zeros(n);
    let mod_bits = bits(n);
    if signature.len() != n.len() || signature >= n {
        return false;
    }
    let m = BigUint::from_bytes_be(signature)
        .modpow(&BigUint::from(EXPONENT), &BigUint::from_bytes_be(n))
        .to_bytes_be();
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let m = strip_zeros(&m);
    if m.len() > em_len {
        return false;
    }
    let mut em = vec![0u8; em_len];
    em[em_len - m.len()..].copy_from_slice(m);
    let digest = Sha512::digest(message);
    crate::verify::pss::check_with::<Sha512>(&digest, &mut em, em_bits).is_ok()
}

/// The header `name` as a dictionary; `None` when absent.
fn dictionary(headers: &HeaderMap, name: &'static str) -> Result<Option<Dictionary>, HttpSigError> {
    let values: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
    if values.is_empty() {
        return Ok(None);
    }
    // Several fields of one name are one list, comma-joined (RFC 9110 § 5.3).
    let joined = values.join(&b", "[..]);
    Parser::parse_dictionary(&joined)
        .map(Some)
        .map_err(|e| malformed(name, e.to_string()))
}

fn malformed(header: &'static str, why: String) -> HttpSigError {
    HttpSigError::Malformed { header, why }
}

/// Base64 in either alphabet, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let url: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(url).ok()
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// Bits of a big-endian integer.
fn bits(n: &[u8]) -> usize {
    let n = strip_zeros(n);
    n.first()
        .map_or(0, |&top| 8 * n.len() - top.leading_zeros() as usize)
}

#[cfg(test)]
mod tests;
