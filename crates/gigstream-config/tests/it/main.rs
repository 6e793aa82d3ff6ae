//! Integration tests of gigstream-config and of the deployment files it describes (one test
//! binary for the crate).

mod compose;
mod example;

use std::path::PathBuf;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}
