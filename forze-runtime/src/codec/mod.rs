//! How values are written to and read from storage, and how payloads are fingerprinted.
//!
//! Values are stored as JSON (readable in `redis-cli`, stable across releases and languages).
//! A stored value that does not decode as the requested type — corrupt bytes, an entry written
//! by an older shape of the type — is reported as an error by [`decode`]; the cache handles turn
//! that into a miss, never a panic.
//!
//! A cache route may store values above a threshold compressed ([`Compression`], feature
//! `compression`): a zstd frame of the JSON, told apart by its first four bytes, so that
//! [`decode`] reads plain and compressed entries alike.
//!
//! The idempotency record's format is in [`idempotency`].

pub mod compress;
mod fingerprint;
pub mod idempotency;

pub use compress::Compression;
pub use fingerprint::fingerprint;
pub(crate) use fingerprint::fingerprint_fields;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Serializes `value` to the stored form.
///
/// ```
/// let bytes = forze_runtime::codec::encode(&vec![1, 2]).unwrap();
/// assert_eq!(bytes, b"[1,2]");
/// ```
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    serde_json::to_vec(value).map_err(|e| e.to_string())
}

/// Reads a stored value back.
///
/// ```
/// let v: Vec<u32> = forze_runtime::codec::decode(b"[1,2]").unwrap();
/// assert_eq!(v, [1, 2]);
/// assert!(forze_runtime::codec::decode::<Vec<u32>>(b"\xff garbage").is_err());
/// ```
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if compress::is_compressed(bytes) {
        let plain = compress::unpack(bytes)?;
        return serde_json::from_slice(&plain).map_err(|e| e.to_string());
    }
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Bytes first, then one UTF-8 check: pushing `char`s one by one costs several times more
    // (this runs twice on every idempotent call: the fingerprint and the claim's token).
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A fresh random token (128 bits, hex) naming the owner of a claim or a lock.
pub(crate) fn random_token() -> String {
    hex(&rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(), random_token());
        assert_eq!(random_token().len(), 32);
    }
}

/// The value of a versioned entry's `current` key: the version in decimal, `:`, the body (the
/// one place this format is written; the Redis script stores it as it comes).
///
/// ```
/// use forze_runtime::codec::{decode_current, encode_current};
/// let v = encode_current(42, b"{}");
/// assert_eq!(v, b"42:{}");
/// assert_eq!(decode_current(&v), Some((42, 3)));
/// ```
pub fn encode_current(version: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 21);
    out.extend_from_slice(itoa::Buffer::new().format(version).as_bytes());
    out.push(b':');
    out.extend_from_slice(body);
    out
}

/// Splits the value of a `current` key into the version and where the body starts; `None` when
/// it was not written by [`encode_current`] (no decimal version before the first `:`).
pub fn decode_current(value: &[u8]) -> Option<(u64, usize)> {
    let colon = value.iter().position(|&b| b == b':')?;
    if colon == 0 {
        return None;
    }
    let mut version: u64 = 0;
    for &b in &value[..colon] {
        if !b.is_ascii_digit() {
            return None;
        }
        version = version.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some((version, colon + 1))
}

#[cfg(test)]
mod current_tests {
    use super::*;

    #[test]
    fn current_values_round_trip_and_foreign_values_are_refused() {
        let v = encode_current(42, b"{\"a\":1}");
        assert_eq!(v, b"42:{\"a\":1}");
        assert_eq!(decode_current(&v), Some((42, 3)));
        assert_eq!(decode_current(b"7:"), Some((7, 2)));
        assert_eq!(
            decode_current(&encode_current(u64::MAX, b"x")),
            Some((u64::MAX, 21))
        );
        assert_eq!(decode_current(b"{\"a\":1}"), None);
        assert_eq!(decode_current(b":x"), None);
        assert_eq!(decode_current(b"-1:x"), None);
        assert_eq!(decode_current(b"99999999999999999999999:x"), None);
        assert_eq!(decode_current(b"12"), None);
    }
}
