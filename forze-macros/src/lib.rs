//! Procedural macros of forze. Use them through `forze-runtime`, which re-exports them.
