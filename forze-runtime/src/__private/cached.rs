//! Glue of `#[cached]` and `#[cache_invalidate]`: the site's facts, the return-type modes, and
//! the calls into [`Cache::get_or_compute_with`] and [`Cache::invalidate_entries`].

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::bounds::Cacheable;
use super::{warn_once, with_runtime};
use crate::handles::{Cache, Fill, FillLock, Look, ValueCodec};
use crate::{Forze, Locks};

/// One annotated function's static facts.
#[derive(Debug)]
pub struct Site {
    /// The cache route's name.
    pub cache: &'static str,
    /// The TTL from the annotation (`None`: the route's).
    pub ttl: Option<Duration>,
    /// `module::path::function`.
    pub function: &'static str,
    /// The lock route that guards cache fills across processes, if any.
    pub lock: Option<&'static str>,
    warned: AtomicBool,
    warned_near: AtomicBool,
}

impl Site {
    /// The facts of one annotation.
    pub const fn new(cache: &'static str, ttl: Option<Duration>, function: &'static str) -> Self {
        Self {
            cache,
            ttl,
            function,
            lock: None,
            warned: AtomicBool::new(false),
            warned_near: AtomicBool::new(false),
        }
    }

    /// The same, with fills guarded across processes by the lock route `lock`.
    pub const fn with_lock(mut self, lock: &'static str) -> Self {
        self.lock = Some(lock);
        self
    }

    /// The cache to use, or `None` (a `warn` once per site) to call straight through.
    fn resolve(&self, via: Option<&Forze>) -> Option<Arc<Cache>> {
        match with_runtime(via, |rt| rt.cache_shared(self.cache)) {
            Some(Ok(cache)) => Some(cache),
            Some(Err(e)) => {
                self.unresolved(Some(e));
                None
            }
            None => {
                self.unresolved(None);
                None
            }
        }
    }

    /// No cache to use (`error`, or no runtime): a `warn` once per site.
    fn unresolved(&self, error: Option<crate::Error>) {
        let e = error.unwrap_or_else(|| crate::Error::NoRuntime {
            function: self.function.to_owned(),
        });
        warn_once(
            &self.warned,
            self.function,
            &format_args!("{e}; calling through without caching"),
        );
    }
}

/// A `#[cached]` call's first look, with the route borrowed from the runtime.
enum Looked<R> {
    /// A near hit: the answer.
    Hit(R),
    /// Anything else: the route, and what the look found.
    Go(Arc<Cache>, Look),
}

/// The fill lock of a site, looked up only when a miss needs it.
struct SiteLock<'a> {
    site: &'static Site,
    via: Option<&'a Forze>,
}

impl FillLock for SiteLock<'_> {
    fn fill_locks(&self) -> Option<Locks> {
        let name = self.site.lock?;
        match with_runtime(self.via, |rt| rt.lock(name))? {
            Ok(locks) => Some(locks),
            Err(e) => {
                tracing::warn!(function = self.site.function, error = %e, "fill lock unavailable; filling without it");
                None
            }
        }
    }
}

/// How a return type is cached: which part is stored, and how a stored value becomes a return
/// value again.
#[diagnostic::on_unimplemented(
    message = "#[cached]: the return type `{R}` does not fit its `returns` mode",
    label = "`returns = \"result\"` needs a `Result`, `returns = \"option\"` an `Option`"
)]
pub trait Mode<R> {
    /// The stored part.
    type Value;
    /// The part of `r` to store, if `r` is to be stored.
    fn cacheable(r: &R) -> Option<&Self::Value>;
    /// A return value from a stored part.
    fn rebuild(v: Self::Value) -> R;
}

/// `Result<T, E>`: `Ok` values are cached, errors never.
#[derive(Debug, Clone, Copy)]
pub struct ResultMode;
/// `Option<T>`: `Some` values are cached.
#[derive(Debug, Clone, Copy)]
pub struct OptionMode;
/// Any value is cached as it is.
#[derive(Debug, Clone, Copy)]
pub struct PlainMode;

impl<T, E> Mode<Result<T, E>> for ResultMode {
    type Value = T;
    fn cacheable(r: &Result<T, E>) -> Option<&T> {
        r.as_ref().ok()
    }
    fn rebuild(v: T) -> Result<T, E> {
        Ok(v)
    }
}

impl<T> Mode<Option<T>> for OptionMode {
    type Value = T;
    fn cacheable(r: &Option<T>) -> Option<&T> {
        r.as_ref()
    }
    fn rebuild(v: T) -> Option<T> {
        Some(v)
    }
}

impl<T> Mode<T> for PlainMode {
    type Value = T;
    fn cacheable(r: &T) -> Option<&T> {
        Some(r)
    }
    fn rebuild(v: T) -> T {
        v
    }
}

/// Whether a returned value counts as success (for invalidation after the call).
pub trait Success<R> {
    /// True when the call succeeded.
    fn succeeded(r: &R) -> bool;
}

impl<T, E> Success<Result<T, E>> for ResultMode {
    fn succeeded(r: &Result<T, E>) -> bool {
        r.is_ok()
    }
}

impl<T> Success<Option<T>> for OptionMode {
    fn succeeded(_: &Option<T>) -> bool {
        true
    }
}

impl<T> Success<T> for PlainMode {
    fn succeeded(_: &T) -> bool {
        true
    }
}

/// Picks the mode of a return type the syntax does not reveal (an alias, a user type), by
/// method resolution: `(&&&Probe::<R>::new()).forze_mode()` is [`ResultMode`] when `R` is a
/// `Result` (aliases included), [`OptionMode`] for an `Option`, [`PlainMode`] otherwise.
pub struct Probe<R>(PhantomData<fn() -> R>);

impl<R> Probe<R> {
    /// A probe for `R`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> Default for Probe<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// See [`Probe`].
pub trait ProbeResult {
    /// See [`Probe`].
    fn forze_mode(&self) -> ResultMode {
        ResultMode
    }
}
impl<T, E> ProbeResult for &&Probe<Result<T, E>> {}

/// See [`Probe`].
pub trait ProbeOption {
    /// See [`Probe`].
    fn forze_mode(&self) -> OptionMode {
        OptionMode
    }
}
impl<T> ProbeOption for &Probe<Option<T>> {}

/// See [`Probe`].
pub trait ProbePlain {
    /// See [`Probe`].
    fn forze_mode(&self) -> PlainMode {
        PlainMode
    }
}
impl<R> ProbePlain for Probe<R> {}

/// The [`ValueCodec`] of return type `R` in mode `M`, when the stored type is not visible in
/// the syntax (generated code makes it at the span of the return type, so that a type that
/// cannot be cached gives one error there).
pub fn codec<R, M: Mode<R>>(_mode: M) -> ValueCodec<R>
where
    M::Value: Cacheable,
{
    ValueCodec::new(
        |r| M::cacheable(r).map(crate::codec::encode),
        |b| crate::codec::decode::<M::Value>(b).map(M::rebuild),
    )
}

/// [`codec`] with the stored type `V` as the user wrote it (the `T` of a `Result<T, E>`):
/// generated code names it, so that a type that cannot be cached gives one error on it.
pub fn stored<R, M: Mode<R, Value = V>, V: Cacheable>(mode: M) -> ValueCodec<R> {
    codec::<R, M>(mode)
}

/// The body of every `#[cached]` function: [`Cache::get_or_compute_with`] on the site's cache,
/// or the body alone when there is no cache to use.
pub async fn cached<R, F>(
    site: &'static Site,
    via: Option<Forze>,
    key: String,
    tags: Vec<String>,
    codec: ValueCodec<R>,
    body: F,
) -> R
where
    F: Future<Output = R>,
{
    // The first look borrows the route: a near hit takes no reference count on it (at 64 tasks
    // on two threads, that one count written by every call bounced between the cores).
    let looked = with_runtime(via.as_ref(), |rt| {
        rt.cache_ref(site.cache)
            .map(|cache| match cache.first_look(&key, &codec) {
                Ok(r) => Looked::Hit(r),
                Err(probe) => Looked::Go(Arc::clone(cache), probe),
            })
    });
    let (cache, probe) = match looked {
        Some(Ok(Looked::Hit(r))) => {
            super::key_pool::recycle(key);
            return r;
        }
        Some(Ok(Looked::Go(cache, probe))) => (cache, probe),
        Some(Err(e)) => {
            site.unresolved(Some(e));
            return body.await;
        }
        None => {
            site.unresolved(None);
            return body.await;
        }
    };
    if cache.near.is_some() && !codec.keeps_near() {
        warn_once(
            &site.warned_near,
            site.function,
            &format_args!(
                "cache {:?} has a near cache, but this function's stored type is not `Clone + \
                 Send + Sync + 'static`: its values are read from the backend every time",
                site.cache
            ),
        );
    }
    let lock = SiteLock {
        site,
        via: via.as_ref(),
    };
    let mut fill = Fill::new().ttl(site.ttl).tags(&tags);
    if site.lock.is_some() {
        fill = fill.lock(&lock);
    }
    let result = cache.after_look(&key, probe, &codec, fill, || body).await;
    super::key_pool::recycle(key);
    result
}

/// The body of every `#[cache_invalidate]` function: runs it, then, if it succeeded, drops the
/// entries at `keys` and every entry tagged with one of `tags`
/// ([`Cache::invalidate_entries`]). Invalidation failures are logged at `error`; they never
/// change the function's result.
pub async fn invalidate_after<R, M, F>(
    site: &'static Site,
    via: Option<Forze>,
    keys: Vec<String>,
    tags: Vec<String>,
    _mode: M,
    body: F,
) -> R
where
    M: Success<R>,
    F: Future<Output = R>,
{
    let result = body.await;
    if M::succeeded(&result) {
        if let Some(cache) = site.resolve(via.as_ref()) {
            if let Err(e) = cache.invalidate_entries(&keys, &tags).await {
                tracing::error!(function = site.function, keys = ?keys, tags = ?tags, error = %e, "cache invalidation failed; entries may be stale until their TTL");
            }
        }
    }
    result
}

/// Gives a `#[cached]` site's codec a near tier when its stored type can be shared
/// (`Clone + Send + Sync + 'static`), by method resolution:
/// `(&&near_probe(codec, mode)).forze_near()` is [`NearClone`]'s when it can, [`NearNone`]'s
/// (the codec as it is) otherwise.
pub struct NearProbe<R, M>(ValueCodec<R>, PhantomData<fn() -> M>);

/// See [`NearProbe`].
pub fn near_probe<R, M: Mode<R>>(codec: ValueCodec<R>, _mode: M) -> NearProbe<R, M> {
    NearProbe(codec, PhantomData)
}

/// See [`NearProbe`].
pub trait NearClone<R> {
    /// See [`NearProbe`].
    fn forze_near(&self) -> ValueCodec<R>;
}

impl<R, M: Mode<R>> NearClone<R> for &NearProbe<R, M>
where
    M::Value: Clone + Send + Sync + 'static,
{
    fn forze_near(&self) -> ValueCodec<R> {
        self.0.with_near(keep::<R, M>, load::<R, M>)
    }
}

/// See [`NearProbe`].
pub trait NearNone<R> {
    /// See [`NearProbe`].
    fn forze_near(&self) -> ValueCodec<R>;
}

impl<R, M> NearNone<R> for NearProbe<R, M> {
    fn forze_near(&self) -> ValueCodec<R> {
        self.0
    }
}

fn keep<R, M: Mode<R>>(r: &R) -> Option<Arc<dyn std::any::Any + Send + Sync>>
where
    M::Value: Clone + Send + Sync + 'static,
{
    M::cacheable(r).map(|v| Arc::new(v.clone()) as Arc<dyn std::any::Any + Send + Sync>)
}

fn load<R, M: Mode<R>>(v: &(dyn std::any::Any + Send + Sync)) -> Option<R>
where
    M::Value: Clone + Send + Sync + 'static,
{
    v.downcast_ref::<M::Value>().cloned().map(M::rebuild)
}
