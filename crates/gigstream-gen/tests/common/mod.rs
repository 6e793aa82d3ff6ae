//! A shared 1M-event data set (generated once per test binary).

use gigstream_core::RefData;
use gigstream_gen::{generate, GenConfig, Generated};
use std::sync::OnceLock;

pub fn refdata() -> &'static RefData {
    static RD: OnceLock<RefData> = OnceLock::new();
    RD.get_or_init(RefData::builtin)
}

/// The default config (1M events, 90 days, seed 42).
pub fn big() -> &'static [Generated] {
    static OUT: OnceLock<Vec<Generated>> = OnceLock::new();
    OUT.get_or_init(|| generate(&GenConfig::default(), refdata()))
}
