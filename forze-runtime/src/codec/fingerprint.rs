//! The canonical fingerprint of a payload: SHA-256 (hex) of its compact JSON form with the keys
//! of every object in byte order, written straight into the hash (no JSON text is built).
//!
//! The keys are ordered here, not by `serde_json::Map`: a build in which some crate turns on
//! `serde_json`'s `preserve_order` (an insertion-ordered map) gives the same fingerprints.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A canonical fingerprint of a payload: SHA-256 (hex) of its JSON form with object keys sorted,
/// so that equal payloads give equal fingerprints in every process and across releases.
///
/// ```
/// use std::collections::HashMap;
/// let a: HashMap<&str, u32> = [("x", 1), ("y", 2)].into();
/// let b: HashMap<&str, u32> = [("y", 2), ("x", 1)].into();
/// let fa = forze_runtime::codec::fingerprint(&a).unwrap();
/// assert_eq!(fa, forze_runtime::codec::fingerprint(&b).unwrap());
/// assert_eq!(fa.len(), 64);
/// ```
pub fn fingerprint<T: Serialize + ?Sized>(payload: &T) -> Result<String, String> {
    let value = serde_json::to_value(payload).map_err(|e| e.to_string())?;
    let mut hash = Hash(Sha256::new());
    canonical(&mut hash, &value);
    Ok(hash.finish())
}

/// The fingerprint of the object of `fields` (name, value): the same as [`fingerprint`] of
/// that object, without building it. Names are distinct (an `#[idempotent]` function's
/// arguments).
pub(crate) fn fingerprint_fields(fields: &mut [(&str, Value)]) -> String {
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut hash = Hash(Sha256::new());
    object(&mut hash, fields.iter().map(|(k, v)| (*k, v)));
    hash.finish()
}

/// The hash being fed; a writer for `serde_json`'s scalars.
struct Hash(Sha256);

impl Hash {
    fn put(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(self) -> String {
        super::hex(&self.0.finalize())
    }
}

impl std::io::Write for Hash {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.put(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value`'s compact JSON, object keys in byte order.
fn canonical(hash: &mut Hash, value: &Value) {
    match value {
        Value::Array(items) => {
            hash.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hash.put(b",");
                }
                canonical(hash, item);
            }
            hash.put(b"]");
        }
        Value::Object(map) => {
            let mut keys = map.keys();
            let sorted = keys.next().is_none_or(|first| {
                keys.try_fold(first, |prev, k| (prev < k).then_some(k))
                    .is_some()
            });
            if sorted {
                object(hash, map.iter().map(|(k, v)| (k.as_str(), v)));
            } else {
                let mut entries: Vec<(&str, &Value)> =
                    map.iter().map(|(k, v)| (k.as_str(), v)).collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                object(hash, entries.into_iter());
            }
        }
        // Writing into the hash cannot fail, nor can serializing a scalar.
        scalar => {
            let _ = serde_json::to_writer(&mut *hash, scalar);
        }
    }
}

/// Writes an object of `entries`, which come in key order.
fn object<'a>(hash: &mut Hash, entries: impl Iterator<Item = (&'a str, &'a Value)>) {
    hash.put(b"{");
    for (i, (key, value)) in entries.enumerate() {
        if i > 0 {
            hash.put(b",");
        }
        let _ = serde_json::to_writer(&mut *hash, key);
        hash.put(b":");
        canonical(hash, value);
    }
    hash.put(b"}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The form the fingerprint hashes, as `serde_json` writes it with sorted maps.
    fn reference(value: &Value) -> String {
        super::super::hex(&Sha256::digest(serde_json::to_vec(value).unwrap()))
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        #[derive(Serialize)]
        struct P {
            b: u32,
            a: &'static str,
        }
        let f1 = fingerprint(&P { b: 1, a: "x" }).unwrap();
        // Field order of the struct does not matter; the value does.
        let f2 = fingerprint(&serde_json::json!({"a": "x", "b": 1})).unwrap();
        assert_eq!(f1, f2);
        assert_ne!(f1, fingerprint(&P { b: 2, a: "x" }).unwrap());
        // Known value: a change of canonical form must be a deliberate, visible change.
        assert_eq!(
            fingerprint(&serde_json::json!({"a": 1})).unwrap(),
            super::super::hex(&Sha256::digest(br#"{"a":1}"#))
        );
        assert_eq!(
            fingerprint(&serde_json::json!({"a": 1})).unwrap(),
            "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
        );
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Written into the hash piece by piece, the form is the one `serde_json` writes.
        #[test]
        fn streamed_form_is_serde_jsons(value in json()) {
            prop_assert_eq!(fingerprint(&value).unwrap(), reference(&value));
        }

        /// Named fields give the fingerprint of their object, whatever order they come in.
        #[test]
        fn fields_are_their_object(
            fields in prop::collection::btree_map("[a-z_]{1,6}", json(), 0..5),
            rotate in 0usize..5,
        ) {
            let object = Value::Object(fields.clone().into_iter().collect());
            let mut named: Vec<(&str, Value)> =
                fields.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            if !named.is_empty() {
                let n = rotate % named.len();
                named.rotate_left(n);
            }
            prop_assert_eq!(fingerprint_fields(&mut named), reference(&object));
        }
    }
}
