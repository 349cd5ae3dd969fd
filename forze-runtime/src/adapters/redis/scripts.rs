//! The Lua scripts (one round trip, atomic), loaded at start-up and reloaded after `NOSCRIPT`.

use redis::Script;

pub(super) struct Scripts {
    pub(super) set_version: Script,
    pub(super) fence: Script,
    pub(super) unfence: Script,
    pub(super) idem_heal: Script,
    pub(super) idem_commit: Script,
    pub(super) set_tagged: Script,
    pub(super) tag_register: Script,
    pub(super) invalidate_tags: Script,
    pub(super) if_equal_expire: Script,
    pub(super) if_equal_delete: Script,
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
            idem_heal: Script::new(include_str!("scripts/idempotency_heal.lua")),
            idem_commit: Script::new(include_str!("scripts/idempotency_commit.lua")),
            set_tagged: Script::new(include_str!("scripts/cache_set_tagged.lua")),
            tag_register: Script::new(include_str!("scripts/cache_tag_register.lua")),
            invalidate_tags: Script::new(include_str!("scripts/cache_invalidate_tags.lua")),
            if_equal_expire: Script::new(include_str!("scripts/if_equal_expire.lua")),
            if_equal_delete: Script::new(include_str!("scripts/if_equal_delete.lua")),
            fixed_window_weighted: Script::new(include_str!(
                "scripts/rate_fixed_window_weighted.lua"
            )),
            sliding_window: Script::new(include_str!("scripts/rate_sliding_window.lua")),
            gcra: Script::new(include_str!("scripts/rate_gcra.lua")),
        }
    }

    pub(super) fn all(&self) -> [&Script; 13] {
        [
            &self.set_tagged,
            &self.tag_register,
            &self.invalidate_tags,
            &self.set_version,
            &self.fence,
            &self.unfence,
            &self.idem_heal,
            &self.idem_commit,
            &self.if_equal_expire,
            &self.if_equal_delete,
            &self.fixed_window_weighted,
            &self.sliding_window,
            &self.gcra,
        ]
    }
}
