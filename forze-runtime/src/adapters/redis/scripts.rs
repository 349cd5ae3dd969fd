//! The Lua scripts (one round trip, atomic), loaded at start-up and reloaded after `NOSCRIPT`.

use redis::Script;

pub(super) struct Scripts {
    pub(super) set_version: Script,
    pub(super) fence: Script,
    pub(super) unfence: Script,
    pub(super) idem_begin: Script,
    pub(super) idem_commit: Script,
    pub(super) idem_release: Script,
    pub(super) idem_extend: Script,
    pub(super) set_tagged: Script,
    pub(super) invalidate_tags: Script,
    pub(super) lock_extend: Script,
    pub(super) lock_release: Script,
    pub(super) fixed_window_weighted: Script,
    pub(super) sliding_window: Script,
    pub(super) gcra: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            set_version: Script::new(include_str!("scripts/cache_set_version.lua")),
            fence: Script::new(include_str!("scripts/cache_fence.lua")),
            unfence: Script::new(include_str!("scripts/cache_unfence.lua")),
            idem_begin: Script::new(include_str!("scripts/idempotency_begin.lua")),
            idem_commit: Script::new(include_str!("scripts/idempotency_commit.lua")),
            idem_release: Script::new(include_str!("scripts/idempotency_release.lua")),
            idem_extend: Script::new(include_str!("scripts/idempotency_extend.lua")),
            set_tagged: Script::new(include_str!("scripts/cache_set_tagged.lua")),
            invalidate_tags: Script::new(include_str!("scripts/cache_invalidate_tags.lua")),
            lock_extend: Script::new(include_str!("scripts/lock_extend.lua")),
            lock_release: Script::new(include_str!("scripts/lock_release.lua")),
            fixed_window_weighted: Script::new(include_str!(
                "scripts/rate_fixed_window_weighted.lua"
            )),
            sliding_window: Script::new(include_str!("scripts/rate_sliding_window.lua")),
            gcra: Script::new(include_str!("scripts/rate_gcra.lua")),
        }
    }

    pub(super) fn all(&self) -> [&Script; 14] {
        [
            &self.set_tagged,
            &self.invalidate_tags,
            &self.set_version,
            &self.fence,
            &self.unfence,
            &self.idem_begin,
            &self.idem_commit,
            &self.idem_release,
            &self.idem_extend,
            &self.lock_extend,
            &self.lock_release,
            &self.fixed_window_weighted,
            &self.sliding_window,
            &self.gcra,
        ]
    }
}
