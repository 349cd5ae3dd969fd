//! Redis Cluster hash slots: which slot a key is in, hash tags, and a short string per slot.
//!
//! A cluster runs a multi-key command or script only when all its keys are in one slot. The
//! layout arranges that where forze needs it: a document's keys carry the entity as a hash tag
//! ([`entity_tag`]), and a tag's entries in one slot are recorded in a set whose hash tag is a
//! string of that slot ([`slot_tag`]).

use std::borrow::Cow;
use std::sync::OnceLock;

use super::escape_part;

/// Number of hash slots of a Redis Cluster.
pub const HASH_SLOTS: u16 = 16_384;

/// The hash slot of `key`, as Redis Cluster computes it: CRC16 (XMODEM) of the key's hash tag
/// — what stands between the first `{` and the next `}`, when that is not empty — or of the
/// whole key, modulo 16 384.
///
/// ```
/// use forze_runtime::keys::hash_slot;
/// assert_eq!(hash_slot(b"123456789"), 0x31C3 % 16_384);
/// assert_eq!(hash_slot(b"a/{user:1}/x"), hash_slot(b"user:1"));
/// assert_eq!(hash_slot(b"a{}b"), hash_slot(b"a{}b")); // an empty tag is no tag
/// ```
pub fn hash_slot(key: &[u8]) -> u16 {
    let hashed = match key.iter().position(|&b| b == b'{') {
        Some(open) => match key[open + 1..].iter().position(|&b| b == b'}') {
            Some(len) if len > 0 => &key[open + 1..open + 1 + len],
            _ => key,
        },
        None => key,
    };
    crc16::State::<crc16::XMODEM>::calculate(hashed) % HASH_SLOTS
}

/// `{` + the escaped entity + `}`: a versioned entry's part of its keys, a hash tag, so that its
/// pointer, bodies and current copy share a slot. An escaped part never holds a brace, so the
/// tag is exactly the entity; the empty entity is written `{%}` (no escaped part is a lone `%`),
/// as `{}` would be no hash tag.
///
/// ```
/// use forze_runtime::keys::entity_tag;
/// assert_eq!(entity_tag("projects:7"), "{projects:7}");
/// assert_eq!(entity_tag("a/b"), "{a%2Fb}");
/// assert_eq!(entity_tag(""), "{%}");
/// ```
pub fn entity_tag(raw: &str) -> Cow<'static, str> {
    let part = escape_part(raw);
    if part.is_empty() {
        return Cow::Borrowed("{%}");
    }
    let mut out = String::with_capacity(part.len() + 2);
    out.push('{');
    out.push_str(&part);
    out.push('}');
    Cow::Owned(out)
}

/// A short string (1 to 4 of `0-9 A-Z a-z`) whose hash slot is `slot`, the same on every run:
/// a key with `{slot_tag(s)}` in it is in slot `s`. A slot above 16 383 is taken modulo 16 384.
///
/// ```
/// use forze_runtime::keys::{hash_slot, slot_tag};
/// for slot in [0, 1, 866, 16_383] {
///     assert_eq!(hash_slot(slot_tag(slot).as_bytes()), slot);
/// }
/// ```
pub fn slot_tag(slot: u16) -> &'static str {
    static TABLE: OnceLock<Vec<String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut table: Vec<Option<String>> = vec![None; HASH_SLOTS as usize];
        let mut missing = HASH_SLOTS as usize;
        let mut word: Vec<u8> = Vec::with_capacity(4);
        // Every word of 1, 2, 3, then 4 letters, in order, until each slot has its first one.
        'lengths: for len in 1..=4u32 {
            for n in 0..(ALPHABET.len() as u64).pow(len) {
                word.clear();
                let mut rest = n;
                for _ in 0..len {
                    word.push(ALPHABET[(rest % ALPHABET.len() as u64) as usize]);
                    rest /= ALPHABET.len() as u64;
                }
                let s = hash_slot(&word) as usize;
                if table[s].is_none() {
                    table[s] = Some(String::from_utf8_lossy(&word).into_owned());
                    missing -= 1;
                    if missing == 0 {
                        break 'lengths;
                    }
                }
            }
        }
        // 62^4 words cover every slot (checked by a test), so no entry is left empty.
        table.into_iter().map(Option::unwrap_or_default).collect()
    });
    &table[(slot % HASH_SLOTS) as usize]
}
