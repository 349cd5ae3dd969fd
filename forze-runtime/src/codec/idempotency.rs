//! The idempotency record: one string per key, so that claiming a key, or finding its result,
//! is one plain `SET key claim NX PX lease GET`.
//!
//! - a claim in flight: `c`, the fingerprint's length in decimal, `:`, the fingerprint, the
//!   owner's token;
//! - a committed result: `d`, the fingerprint's length, `:`, the fingerprint, the snapshot.
//!
//! Commit, extend and release compare the whole claim (`SET … IFEQ`, `DELIFEQ` where the server
//! has them, a script elsewhere), so no script needs to read the format.

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A claim in flight.
    Claim {
        /// The request's fingerprint.
        fingerprint: &'a str,
        /// The owner's token.
        token: &'a str,
    },
    /// A committed result.
    Done {
        /// The request's fingerprint.
        fingerprint: &'a str,
        /// The recorded result.
        snapshot: &'a [u8],
    },
}

fn encode(kind: u8, fingerprint: &str, rest: &[u8]) -> Vec<u8> {
    let len = itoa::Buffer::new().format(fingerprint.len()).to_owned();
    let mut out = Vec::with_capacity(2 + len.len() + fingerprint.len() + rest.len());
    out.push(kind);
    out.extend_from_slice(len.as_bytes());
    out.push(b':');
    out.extend_from_slice(fingerprint.as_bytes());
    out.extend_from_slice(rest);
    out
}

/// The claim of `token` for a request with `fingerprint`.
///
/// ```
/// use forze_runtime::codec::idempotency::{decode_record, encode_claim, Record};
/// let claim = encode_claim("ab12", "t0k");
/// assert_eq!(claim, b"c4:ab12t0k");
/// assert_eq!(decode_record(&claim), Some(Record::Claim { fingerprint: "ab12", token: "t0k" }));
/// ```
pub fn encode_claim(fingerprint: &str, token: &str) -> Vec<u8> {
    encode(b'c', fingerprint, token.as_bytes())
}

/// The committed result `snapshot` of a request with `fingerprint`.
///
/// ```
/// use forze_runtime::codec::idempotency::{decode_record, encode_done, Record};
/// let done = encode_done("ab12", b"{\"id\":7}");
/// assert_eq!(decode_record(&done), Some(Record::Done { fingerprint: "ab12", snapshot: b"{\"id\":7}" }));
/// ```
pub fn encode_done(fingerprint: &str, snapshot: &[u8]) -> Vec<u8> {
    encode(b'd', fingerprint, snapshot)
}

/// The record in `value`, or `None` when it is no record of this format.
pub fn decode_record(value: &[u8]) -> Option<Record<'_>> {
    let (&kind, rest) = value.split_first()?;
    let colon = rest.iter().position(|&b| b == b':')?;
    let digits = &rest[..colon];
    if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let len: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let body = &rest[colon + 1..];
    if body.len() < len {
        return None;
    }
    let fingerprint = std::str::from_utf8(&body[..len]).ok()?;
    let tail = &body[len..];
    match kind {
        b'c' => Some(Record::Claim {
            fingerprint,
            token: std::str::from_utf8(tail).ok()?,
        }),
        b'd' => Some(Record::Done {
            fingerprint,
            snapshot: tail,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_foreign_values_are_refused() {
        let fp = "f".repeat(64);
        let claim = encode_claim(&fp, "0123");
        assert_eq!(
            decode_record(&claim),
            Some(Record::Claim {
                fingerprint: &fp,
                token: "0123"
            })
        );
        // A fingerprint may hold the separator; the length says where it ends.
        let done = encode_done("a:b", b"c4:x");
        assert_eq!(
            decode_record(&done),
            Some(Record::Done {
                fingerprint: "a:b",
                snapshot: b"c4:x"
            })
        );
        assert_eq!(
            decode_record(&encode_done("", b"")),
            Some(Record::Done {
                fingerprint: "",
                snapshot: b""
            })
        );
        for foreign in [
            &b""[..],
            b"c",
            b"c:ab",
            b"x2:abz",
            b"c9:ab",
            b"c-1:ab",
            b"{\"a\":1}",
            b"c9999999:x",
        ] {
            assert_eq!(decode_record(foreign), None, "{foreign:?}");
        }
    }
}
