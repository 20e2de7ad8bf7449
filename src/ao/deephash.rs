//! Arweave's deep hash (SHA-384), the message an ANS-104 signature signs.
//!
//! A blob hashes as `SHA-384(SHA-384("blob" ‖ len) ‖ SHA-384(bytes))`; a list starts from
//! `SHA-384("list" ‖ count)` and folds each element in as `acc = SHA-384(acc ‖ deep(elem))`.
//! Lengths and counts are written as decimal ASCII.

use sha2::{Digest as _, Sha384};

/// A SHA-384 digest.
pub type Hash384 = [u8; 48];

/// One node of a deep-hash tree.
#[derive(Debug, Clone, Copy)]
pub enum Chunk<'a> {
    /// A byte string.
    Blob(&'a [u8]),
    /// A list of nodes.
    List(&'a [Chunk<'a>]),
}

/// The deep hash of `chunk`.
pub fn deep_hash(chunk: Chunk<'_>) -> Hash384 {
    match chunk {
        Chunk::Blob(bytes) => {
            let tag = sha384(&[b"blob", bytes.len().to_string().as_bytes()]);
            let data = sha384(&[bytes]);
            sha384(&[&tag, &data])
        }
        Chunk::List(items) => {
            let mut acc = sha384(&[b"list", items.len().to_string().as_bytes()]);
            for item in items {
                let child = deep_hash(*item);
                acc = sha384(&[&acc, &child]);
            }
            acc
        }
    }
}

fn sha384(parts: &[&[u8]]) -> Hash384 {
    let mut hasher = Sha384::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_and_list_follow_the_definition() {
        let blob = deep_hash(Chunk::Blob(b"abc"));
        let tag: [u8; 48] = Sha384::digest(b"blob3").into();
        let data: [u8; 48] = Sha384::digest(b"abc").into();
        let expected: [u8; 48] = Sha384::digest([tag, data].concat()).into();
        assert_eq!(blob, expected);

        let list = deep_hash(Chunk::List(&[Chunk::Blob(b"abc")]));
        let acc: [u8; 48] = Sha384::digest(b"list1").into();
        let expected: [u8; 48] = Sha384::digest([acc, blob].concat()).into();
        assert_eq!(list, expected);
        assert_ne!(
            deep_hash(Chunk::List(&[])),
            deep_hash(Chunk::Blob(b"")),
            "an empty list and an empty blob differ"
        );
    }
}
