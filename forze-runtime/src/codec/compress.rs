//! Compression of large cache values (feature `compression`): a value above a route's threshold
//! is stored as a zstd frame of its JSON form.
//!
//! A zstd frame starts with the bytes `28 B5 2F FD`, and no JSON text starts with `(`: a reader
//! tells the two apart by the first four bytes, so entries written before compression was
//! turned on (or after it was turned off, or by a process with another threshold) are read
//! as they are. Other languages read a compressed entry with any zstd library.

use std::borrow::Cow;

/// The first bytes of a zstd frame (RFC 8878 §3.1.1, little-endian `0xFD2FB528`).
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// The largest value a compressed entry may expand to (Redis's own limit of a string, 512 MiB):
/// a frame that says it is larger, or does not say, is refused as corrupt rather than inflated.
pub const MAX_EXPANDED: u64 = 512 << 20;

/// How a cache route compresses: values whose JSON form is longer than `above` bytes are
/// stored as a zstd frame at `level` when that is smaller (feature `compression`).
///
/// ```
/// use forze_runtime::{codec::Compression, CacheRoute};
/// let route = CacheRoute::new("app:reports").compress_above(4096);
/// assert_eq!(route.compress, Some(Compression { above: 4096, level: 3 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Values up to this many bytes are stored as they are.
    pub above: usize,
    /// The zstd level (1 fastest … 22 smallest; 3, zstd's default, is the default here).
    pub level: i32,
}

impl Compression {
    /// Compression above `above` bytes at zstd's default level, 3.
    pub fn above(above: usize) -> Self {
        Self { above, level: 3 }
    }

    /// The bytes to store for `plain`: a zstd frame when `plain` is above the threshold and the
    /// frame is smaller, else `plain` itself.
    ///
    /// ```
    /// use forze_runtime::codec::{compress, Compression};
    /// let json = serde_json::to_vec(&vec!["forze"; 100]).unwrap();
    /// let stored = Compression::above(64).pack(&json);
    /// assert_eq!(compress::is_compressed(&stored), cfg!(feature = "compression"));
    /// assert_eq!(compress::unpack(&stored).unwrap(), json);
    /// ```
    pub fn pack<'a>(&self, plain: &'a [u8]) -> Cow<'a, [u8]> {
        if plain.len() <= self.above {
            return Cow::Borrowed(plain);
        }
        match compress(plain, self.level) {
            Some(packed) if packed.len() < plain.len() => Cow::Owned(packed),
            _ => Cow::Borrowed(plain),
        }
    }
}

/// Whether `stored` is a compressed entry.
pub fn is_compressed(stored: &[u8]) -> bool {
    stored.starts_with(&ZSTD_MAGIC)
}

/// The JSON form of a stored value: the value itself, or its compressed frame expanded.
pub fn unpack(stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    if !is_compressed(stored) {
        return Ok(Cow::Borrowed(stored));
    }
    expand(stored).map(Cow::Owned)
}

/// The length of the JSON form of a stored value (what it weighs once decoded), read from the
/// frame's header for a compressed one.
pub fn plain_len(stored: &[u8]) -> usize {
    if !is_compressed(stored) {
        return stored.len();
    }
    content_size(stored)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(stored.len())
}

#[cfg(feature = "compression")]
fn compress(plain: &[u8], level: i32) -> Option<Vec<u8>> {
    // The content size goes into the frame header (read back on expand), and a checksum of
    // the content at its end, so a corrupt entry is an error, never a wrong value.
    let mut c = zstd::bulk::Compressor::new(level).ok()?;
    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
        .ok()?;
    c.compress(plain).ok()
}

#[cfg(not(feature = "compression"))]
fn compress(_plain: &[u8], _level: i32) -> Option<Vec<u8>> {
    // The wiring refuses a compressing route without the feature; nothing reaches here.
    None
}

#[cfg(feature = "compression")]
fn content_size(stored: &[u8]) -> Option<u64> {
    zstd::zstd_safe::get_frame_content_size(stored)
        .ok()
        .flatten()
}

#[cfg(not(feature = "compression"))]
fn content_size(_stored: &[u8]) -> Option<u64> {
    None
}

#[cfg(feature = "compression")]
fn expand(stored: &[u8]) -> Result<Vec<u8>, String> {
    let size = content_size(stored)
        .ok_or("a compressed entry without its size in the frame header (corrupt)")?;
    if size > MAX_EXPANDED {
        return Err(format!(
            "a compressed entry says it expands to {size} bytes, above {MAX_EXPANDED} (corrupt)"
        ));
    }
    let capacity = usize::try_from(size).map_err(|e| e.to_string())?;
    let plain = zstd::bulk::decompress(stored, capacity)
        .map_err(|e| format!("a compressed entry does not expand: {e}"))?;
    if plain.len() as u64 != size {
        return Err("a compressed entry expands to another size than its header says".into());
    }
    Ok(plain)
}

#[cfg(not(feature = "compression"))]
fn expand(_stored: &[u8]) -> Result<Vec<u8>, String> {
    Err(
        "the entry is compressed (zstd); build forze-runtime with the feature `compression` \
         to read it"
            .into(),
    )
}

#[cfg(all(test, feature = "compression"))]
mod tests {
    use super::*;

    #[test]
    fn values_above_the_threshold_are_frames_and_come_back() {
        let c = Compression::above(64);
        let small = br#"{"a":1}"#;
        assert!(matches!(c.pack(small), Cow::Borrowed(_)));
        let big = serde_json::to_vec(&vec!["forze"; 200]).unwrap();
        let packed = c.pack(&big).into_owned();
        assert!(is_compressed(&packed) && packed.len() < big.len() / 4);
        assert_eq!(plain_len(&packed), big.len());
        assert_eq!(unpack(&packed).unwrap(), big);
        // Plain entries are read as they are.
        assert_eq!(unpack(&big).unwrap(), big);
    }

    #[test]
    fn incompressible_values_are_stored_plain() {
        let noise: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        assert!(matches!(
            Compression::above(0).pack(&noise),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        let big = serde_json::to_vec(&vec!["forze"; 200]).unwrap();
        let packed = Compression::above(0).pack(&big).into_owned();
        for cut in [4, 6, packed.len() / 2, packed.len() - 1] {
            assert!(unpack(&packed[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = packed.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 0xff;
        assert!(
            unpack(&flipped).is_err(),
            "the checksum catches a flipped byte"
        );
        // A header claiming a huge size is refused before any allocation.
        let mut bomb = ZSTD_MAGIC.to_vec();
        bomb.extend_from_slice(&[0xE0]); // single segment, 8-byte content size
        bomb.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(unpack(&bomb).is_err());
    }
}
