//! The ambient runtime that annotated functions use when no `via = ...` names one: the
//! task-scoped runtime if set ([`Forze::scope`]), else the process-wide one ([`Forze::install`]).

use std::future::Future;
use std::sync::OnceLock;

use super::Forze;
use crate::error::Error;

static GLOBAL: OnceLock<Forze> = OnceLock::new();

tokio::task_local! {
    static SCOPED: Forze;
}

impl Forze {
    /// Makes this runtime the process-wide one (once per process).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// let forze = forze_runtime::Forze::builder().build().await?;
    /// forze.install()?;
    /// assert!(forze_runtime::Forze::current().is_some());
    /// assert!(forze.install().is_err()); // only once
    /// # Ok(()) }
    /// ```
    pub fn install(&self) -> Result<(), Error> {
        GLOBAL.set(self.clone()).map_err(|_| Error::Config {
            problems: vec![
                "a process-wide forze runtime is already installed; use Forze::scope for more"
                    .into(),
            ],
        })
    }

    /// Runs `fut` with this runtime as the ambient one for the current task (tasks spawned from
    /// it do not inherit it: scope them too).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), forze_runtime::Error> {
    /// let forze = forze_runtime::Forze::builder().build().await?;
    /// let seen = forze.scope(async { forze_runtime::Forze::current().is_some() }).await;
    /// assert!(seen);
    /// # Ok(()) }
    /// ```
    pub async fn scope<F: Future>(&self, fut: F) -> F::Output {
        SCOPED.scope(self.clone(), fut).await
    }

    /// The ambient runtime: the task's, else the process-wide one.
    pub fn current() -> Option<Forze> {
        SCOPED
            .try_with(Forze::clone)
            .ok()
            .or_else(|| GLOBAL.get().cloned())
    }
}

/// `f` applied to the ambient runtime (the task's, else the process-wide one) without cloning
/// the runtime: what annotated calls use to find their route. `None` when there is none.
pub(crate) fn with_ambient<T>(f: impl FnOnce(&Forze) -> T) -> Option<T> {
    let mut f = Some(f);
    if let Ok(Some(out)) = SCOPED.try_with(|rt| f.take().map(|f| f(rt))) {
        return Some(out);
    }
    let f = f.take()?;
    GLOBAL.get().map(f)
}

impl AsRef<Forze> for Forze {
    fn as_ref(&self) -> &Forze {
        self
    }
}
