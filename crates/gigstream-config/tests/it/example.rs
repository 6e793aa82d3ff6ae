//! `infra/gigstream.example.toml` cannot drift from the format: it parses (unknown keys are
//! errors), its values are the defaults, every commented-out example line parses on its own,
//! and every key of every section is in it.

use gigstream_config::{Config, ConfigError, SECTIONS};
use std::path::{Path, PathBuf};

fn example() -> (PathBuf, String) {
    let path = crate::repo().join("infra/gigstream.example.toml");
    let text = std::fs::read_to_string(&path).expect("infra/gigstream.example.toml");
    (path, text)
}

/// `(section header, key, line, commented out)` of every setting line.
fn settings(text: &str) -> Vec<(String, String, String, bool)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let (body, commented) = match line.strip_prefix('#') {
            Some(rest) => (rest.trim(), true),
            None => (line, false),
        };
        let Some((key, _)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_key = !key.is_empty()
            && key
                .trim_matches('"')
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if is_key {
            out.push((
                section.clone(),
                key.to_string(),
                body.to_string(),
                commented,
            ));
        }
    }
    out
}

#[test]
fn the_example_parses_to_the_defaults() {
    let (path, _) = example();
    let parsed = Config::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed, Config::default());
}

#[test]
fn every_commented_example_line_parses_in_its_section() {
    let (_, text) = example();
    let commented: Vec<_> = settings(&text).into_iter().filter(|s| s.3).collect();
    assert!(commented.len() >= 10, "{commented:?}");
    for (section, key, line, _) in commented {
        let doc = format!("[{section}]\n{line}\n");
        let c = Config::parse(&doc, Path::new("example line"))
            .unwrap_or_else(|e| panic!("[{section}] {key}: {e}"));
        assert_ne!(c, Config::default(), "[{section}] {line} changes nothing");
    }
}

/// The keys of a section, from the error naming an unknown one.
fn keys_of(section: &str) -> Vec<String> {
    let doc = format!("[{section}]\nno_such_key_probe = 1\n");
    match Config::parse(&doc, Path::new("probe")) {
        Err(ConfigError::UnknownKey(u)) => u.expected,
        other => panic!("{section}: {other:?}"),
    }
}

#[test]
fn every_key_of_every_section_is_in_the_example() {
    let (_, text) = example();
    let present = settings(&text);
    let mut checked = 0;
    for section in SECTIONS {
        let keys = keys_of(section);
        assert!(!keys.is_empty(), "{section}");
        for key in keys {
            let found = present.iter().any(|(s, k, _, _)| s == section && *k == key)
                || text.contains(&format!("[{section}.{key}]"));
            assert!(found, "[{section}] {key} is missing from the example");
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}
