//! Secrets (passwords): read from an environment variable or a file, never from the config file
//! or the command line, and never shown.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// A secret value. `Debug` and `Display` print `***`; the value is only reachable through
/// [`Secret::expose`], at the point where it is handed to a client library.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that came from a secret source.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the client that needs it. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads environment variable `name` from `vars`; an unset or empty variable is an error
    /// (naming the variable, never a value).
    pub fn from_env_var(
        name: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, SecretError> {
        match vars(name) {
            None => Err(SecretError::EnvUnset {
                name: name.to_string(),
            }),
            Some(v) if v.is_empty() => Err(SecretError::EnvEmpty {
                name: name.to_string(),
            }),
            Some(v) => Ok(Secret(v)),
        }
    }

    /// Reads file `path`, without its trailing line break (`\n` or `\r\n`); an empty file is an
    /// error. Errors name the path and the I/O problem, never the contents.
    pub fn from_file(path: &Path) -> Result<Secret, SecretError> {
        let bytes = std::fs::read(path).map_err(|e| SecretError::File {
            path: path.to_path_buf(),
            problem: e.kind().to_string(),
        })?;
        let mut text = String::from_utf8(bytes).map_err(|_| SecretError::File {
            path: path.to_path_buf(),
            problem: "is not UTF-8 text".to_string(),
        })?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        if text.is_empty() {
            return Err(SecretError::File {
                path: path.to_path_buf(),
                problem: "is empty".to_string(),
            });
        }
        Ok(Secret(text))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from: exactly one of an environment variable's name or a file's path.
/// The TOML form is `{ env = "NAME" }` or `{ file = "/run/secrets/name" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub file: Option<PathBuf>,
}

impl SecretSource {
    /// Reads the secret; `what` names it in errors (e.g. "[clickhouse] password").
    pub fn read(
        &self,
        what: &str,
        vars: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Secret, crate::ConfigError> {
        let wrap = |source: SecretError| crate::ConfigError::Secret {
            what: what.to_string(),
            source,
        };
        match (&self.env, &self.file) {
            (Some(name), None) => Secret::from_env_var(name, vars).map_err(wrap),
            (None, Some(path)) => Secret::from_file(path).map_err(wrap),
            (Some(_), Some(_)) => Err(wrap(SecretError::Both)),
            (None, None) => Err(wrap(SecretError::Neither)),
        }
    }
}

/// Why a secret could not be read. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {name} is not set")]
    EnvUnset { name: String },
    #[error("environment variable {name} is empty")]
    EnvEmpty { name: String },
    #[error("cannot read secret file {}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
    #[error("give either an environment variable or a file, not both")]
    Both,
    #[error("give an environment variable (env = \"NAME\") or a file (file = \"/path\")")]
    Neither,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(&s)), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn from_file_trims_one_trailing_line_break() {
        let dir = tempfile::tempdir().unwrap();
        for (content, want) in [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw", "pw"),
            ("pw \n\n", "pw \n"),
        ] {
            let p = dir.path().join("s");
            std::fs::write(&p, content).unwrap();
            assert_eq!(Secret::from_file(&p).unwrap().expose(), want, "{content:?}");
        }
    }

    #[test]
    fn file_errors_name_the_path_not_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = Secret::from_file(&missing).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let err = Secret::from_file(&empty).unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let binary = dir.path().join("binary");
        std::fs::write(&binary, [0xff, 0xfe, b's', b'3']).unwrap();
        let err = Secret::from_file(&binary).unwrap_err().to_string();
        assert!(err.contains("not UTF-8") && !err.contains("s3"), "{err}");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let vars = |k: &str| (k == "EMPTY").then(String::new);
        let err = Secret::from_env_var("NOPE", &vars).unwrap_err().to_string();
        assert_eq!(err, "environment variable NOPE is not set");
        let err = Secret::from_env_var("EMPTY", &vars)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "environment variable EMPTY is empty");
    }
}
