//! One contract suite per port. Every case takes a runtime wired with [`crate::routes`] and
//! asserts behaviour that must hold on every backend.

mod cache;
mod counter;
mod idempotency;
mod limiter;
mod lock;

pub use cache::*;
pub use counter::*;
pub use idempotency::*;
pub use limiter::*;
pub use lock::*;

/// Inputs that try to escape their key part.
pub const HOSTILE: &[&str] = &[
    "/",
    "a/b",
    "../t:c",
    "{tag}",
    "}",
    "*",
    "?",
    "[a-z]",
    ":",
    "a:b",
    "",
    " ",
    "%2F",
    "~",
    "\n",
    "\u{0}",
    "é",
    "日本",
    "tenant/x",
    "cache/kv/x",
];

/// A very long input.
pub fn very_long() -> String {
    "k".repeat(10_000)
}
