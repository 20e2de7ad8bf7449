//! [`Id`]: the 32 bytes that name a data item, process, module, assignment or hash-chain
//! link, written on the wire as 43 characters of unpadded base64url.
//!
//! Text becomes an `Id` once, where it enters the node (an HTTP path or query, an SU page, a
//! config key); past that edge the bytes are known to be well formed.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte AO/Arweave identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 32]);

/// Text that is not 43 characters of base64url encoding 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a 43-character base64url ID of 32 bytes")]
pub struct IdError {
    /// The offending text (cut to 64 characters, so an error never echoes a huge input).
    pub value: String,
}

impl Id {
    /// The ID with these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Id {
        Id(bytes)
    }

    /// Its bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Its bytes, by value.
    pub const fn into_bytes(self) -> [u8; 32] {
        self.0
    }
}

impl From<[u8; 32]> for Id {
    fn from(bytes: [u8; 32]) -> Id {
        Id(bytes)
    }
}

impl From<Id> for [u8; 32] {
    fn from(id: Id) -> [u8; 32] {
        id.0
    }
}

impl FromStr for Id {
    type Err = IdError;

    /// Exactly 43 base64url characters (no padding) whose unused low bits are zero, as every
    /// encoder writes them: one text per ID.
    fn from_str(text: &str) -> Result<Id, IdError> {
        let bad = || IdError {
            value: text.chars().take(64).collect(),
        };
        if text.len() != 43 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        bytes.try_into().map(Id).map_err(|_| bad())
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; 43];
        let written = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut text)
            .map_err(|_| fmt::Error)?;
        let text = std::str::from_utf8(&text[..written]).map_err(|_| fmt::Error)?;
        f.write_str(text)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        for seed in 0..=255u8 {
            let bytes: [u8; 32] =
                std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8));
            let id = Id::from(bytes);
            let text = id.to_string();
            assert_eq!(text.len(), 43);
            assert_eq!(text.parse::<Id>().unwrap(), id);
            assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(text));
            assert_eq!(
                serde_json::from_value::<Id>(serde_json::json!(text)).unwrap(),
                id
            );
        }
    }

    #[test]
    fn malformed_text_is_refused() {
        let good = Id::from([7; 32]).to_string();
        assert!(good[..42].parse::<Id>().is_err());
        assert!(format!("{good}=").parse::<Id>().is_err());
        assert!(format!("{}!", &good[..42]).parse::<Id>().is_err());
        assert!(
            format!("{}+", &good[..42]).parse::<Id>().is_err(),
            "standard alphabet"
        );
        // The last character carries two unused bits: only one text per ID is accepted.
        assert!(format!("{}B", &good[..42]).parse::<Id>().is_err());
        let long = "A".repeat(10_000);
        assert_eq!(long.parse::<Id>().unwrap_err().value.len(), 64);
    }
}
