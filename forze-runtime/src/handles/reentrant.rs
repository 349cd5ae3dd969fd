//! What the current task is computing or running: the storage keys whose single-flight (or
//! idempotency claim) it leads, so that a computation that asks for its own key again — another
//! function with the same template, a recursive call, a stacked annotation — does not wait on
//! itself.
//!
//! The chain is task-local: a task spawned inside a computation starts with an empty one (a
//! spawned task that waits for its parent's own key would still wait for the parent).

use std::future::Future;
use std::sync::Arc;

struct Node {
    key: String,
    parent: Option<Arc<Node>>,
}

tokio::task_local! {
    static HELD: Option<Arc<Node>>;
}

/// Whether the current task is inside the computation of `key`.
pub(crate) fn holds(key: &str) -> bool {
    HELD.try_with(|held| {
        let mut node = held.as_deref();
        while let Some(n) = node {
            if n.key == key {
                return true;
            }
            node = n.parent.as_deref();
        }
        false
    })
    .unwrap_or(false)
}

/// Runs `fut` as the computation of `key` (nested inside the current one, if any).
pub(crate) async fn holding<F: Future>(key: &str, fut: F) -> F::Output {
    let parent = HELD.try_with(Option::clone).ok().flatten();
    let node = Arc::new(Node {
        key: key.to_owned(),
        parent,
    });
    HELD.scope(Some(node), fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nested_computations_see_every_key_above_them() {
        assert!(!holds("a"));
        holding("a", async {
            assert!(holds("a"));
            holding("b", async {
                assert!(holds("a") && holds("b") && !holds("c"));
            })
            .await;
            assert!(!holds("b"));
        })
        .await;
        assert!(!holds("a"));
    }
}
