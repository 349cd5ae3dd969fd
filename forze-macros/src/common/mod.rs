//! Pieces every macro shares: durations, key templates, the analysis of an async fn, suggestions.

pub mod args;
pub mod duration;
pub mod entry;
pub mod errors;
pub mod sig;
pub mod suggest;
pub mod template;
pub mod types;
