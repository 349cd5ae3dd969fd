//! What the macros require of the user's types, one trait per requirement. Each trait's
//! `on_unimplemented` says, in the macro's words, what is missing and how to fix it; each has a
//! single blanket impl marked `do_not_recommend`, so that rustc reports the requirement itself
//! (one error, on the user's type as written, where generated code names it) instead of
//! serde's bounds, forze's internal traits or a list of other types that would do.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::handles::Recorded;
use crate::keys::{KeyPart, KeyWriter};
use crate::{Forze, IdempotencyError, RateLimited};

/// A value `#[cached]` stores.
#[diagnostic::on_unimplemented(
    message = "#[cached]: `{Self}` cannot be stored in a cache",
    label = "needs `serde::Serialize` and `serde::Deserialize`",
    note = "derive `serde::Serialize` and `serde::Deserialize` for it (serde's `derive` feature), or cache a type that has them; of a `Result<T, E>` only `T` is stored, of an `Option<T>` only `T` (unless `cache_none`)"
)]
pub trait Cacheable: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> Cacheable for T {}

/// The `Ok` value an `#[idempotent]` call records and replays.
#[diagnostic::on_unimplemented(
    message = "#[idempotent]: `{Self}` cannot be recorded for replay",
    label = "needs `serde::Serialize` and `serde::Deserialize`",
    note = "the `Ok` value is recorded and a duplicate call gets it back: derive `serde::Serialize` and `serde::Deserialize` for it (serde's `derive` feature)"
)]
pub trait Replayable: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> Replayable for T {}

/// The return type of an `#[idempotent]` function that the syntax does not show as a `Result`
/// (an alias, or not a `Result` at all).
#[diagnostic::on_unimplemented(
    message = "#[idempotent]: `{Self}` is not a `Result` that can be recorded",
    label = "an idempotent function returns `Result<T, E>`",
    note = "`T` is recorded and replayed (`serde::Serialize` + `serde::Deserialize`); `E` carries a call that does not run (`From<forze_runtime::IdempotencyError>`)"
)]
pub trait IdempotentResult: Recorded {}

#[diagnostic::do_not_recommend]
impl<R: Recorded> IdempotentResult for R {}

/// The error type of an `#[idempotent]` function.
#[diagnostic::on_unimplemented(
    message = "#[idempotent]: the error type `{Self}` has no `From<IdempotencyError>`",
    label = "a call that does not run (a duplicate in progress, another payload, no store) returns this error",
    note = "add `impl From<forze_runtime::IdempotencyError> for {Self}`"
)]
pub trait TakesRefusal: From<IdempotencyError> {}

#[diagnostic::do_not_recommend]
impl<E: From<IdempotencyError>> TakesRefusal for E {}

/// An argument that goes into an `#[idempotent]` call's fingerprint.
#[diagnostic::on_unimplemented(
    message = "#[idempotent]: the argument type `{Self}` cannot be fingerprinted",
    label = "needs `serde::Serialize`",
    note = "every argument but the key is part of the request's fingerprint: derive `serde::Serialize` for it, or leave it out with `skip(name)`"
)]
pub trait Fingerprinted: Serialize {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + ?Sized> Fingerprinted for T {}

/// The error type of a `#[rate_limited]` function.
#[diagnostic::on_unimplemented(
    message = "#[rate_limited]: the error type `{Self}` has no `From<RateLimited>`",
    label = "a refused call returns this error",
    note = "add `impl From<forze_runtime::RateLimited> for {Self}`"
)]
pub trait TakesLimit: From<RateLimited> {}

#[diagnostic::do_not_recommend]
impl<E: From<RateLimited>> TakesLimit for E {}

/// A value that is part of a generated key.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a key",
    label = "this value has no key form",
    note = "implement `forze_runtime::keys::KeyPart` for it (see its docs), or build the key from other values (`skip(name)`, a `key` template)"
)]
pub trait KeyValue: KeyPart {}

#[diagnostic::do_not_recommend]
impl<T: KeyPart + ?Sized> KeyValue for T {}

/// [`KeyWriter::push_part`] for generated code.
pub fn key_part<T: KeyValue + ?Sized>(w: &mut KeyWriter, value: &T) {
    w.push_part(value);
}

/// [`KeyWriter::push_inner`] for generated code.
pub fn key_inner<T: KeyValue + ?Sized>(w: &mut KeyWriter, value: &T) {
    w.push_inner(value);
}

/// The value of `via = ...`.
#[diagnostic::on_unimplemented(
    message = "`via` takes the runtime (a `Forze`, `&Forze` or `Arc<Forze>`), not `{Self}`",
    label = "not a forze runtime",
    note = "write `via = state.forze` with a field or expression of type `Forze`, or leave `via` out to use the ambient runtime"
)]
pub trait Runtime: AsRef<Forze> {}

#[diagnostic::do_not_recommend]
impl<T: AsRef<Forze> + ?Sized> Runtime for T {}
