//! Configuration errors. None of them carries a secret's value.

use crate::secret::SecretError;
use std::fmt;
use std::path::PathBuf;

/// An unknown key: where it is and what the section takes instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey {
    pub path: PathBuf,
    pub line: Option<usize>,
    /// The section as written (`service`, or `kafka.secret_properties."x"` for a nested table).
    pub section: String,
    pub key: String,
    /// The keys the section has.
    pub expected: Vec<String>,
    pub hint: Option<String>,
}

/// Why the configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The config file could not be read.
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A section name the format does not have.
    UnknownSection {
        path: PathBuf,
        line: Option<usize>,
        section: String,
        expected: Vec<String>,
    },
    /// A key the section does not have (a typo, or a setting that does not exist).
    UnknownKey(Box<UnknownKey>),
    /// The file is not valid TOML, or a value has the wrong type or form.
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// An environment variable that overrides a setting has a value that does not fit it.
    Env { name: String, message: String },
    /// A secret could not be read from its variable or file.
    Secret { what: String, source: SecretError },
    /// Settings that are each well-formed but do not work (together).
    Setting { what: String, message: String },
}

fn at(path: &std::path::Path, line: Option<usize>) -> String {
    match line {
        Some(l) => format!("{} (line {l})", path.display()),
        None => path.display().to_string(),
    }
}

fn one_of(names: &[String], wrap: (&str, &str)) -> String {
    names
        .iter()
        .map(|n| format!("{}{n}{}", wrap.0, wrap.1))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(
                    f,
                    "cannot read the config file {}: {source}",
                    path.display()
                )
            }
            ConfigError::UnknownSection {
                path,
                line,
                section,
                expected,
            } => write!(
                f,
                "unknown section [{section}] in {}; expected one of {}",
                at(path, *line),
                one_of(expected, ("[", "]"))
            ),
            ConfigError::UnknownKey(u) => {
                let UnknownKey {
                    path,
                    line,
                    section,
                    key,
                    expected,
                    hint,
                } = &**u;
                write!(
                    f,
                    "unknown key `{key}` in [{section}] of {}",
                    at(path, *line)
                )?;
                if expected.is_empty() {
                    write!(f, "; this section takes no keys")?;
                } else {
                    write!(f, "; expected one of {}", one_of(expected, ("`", "`")))?;
                }
                if let Some(h) = hint {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            ConfigError::Invalid {
                path,
                line,
                message,
            } => write!(f, "invalid config {}: {message}", at(path, *line)),
            ConfigError::Env { name, message } => {
                write!(f, "environment variable {name}: {message}")
            }
            ConfigError::Secret { what, source } => {
                write!(f, "cannot read the secret {what}: {source}")
            }
            ConfigError::Setting { what, message } => write!(f, "{what}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::Secret { source, .. } => Some(source),
            _ => None,
        }
    }
}
