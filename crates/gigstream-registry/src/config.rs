//! What the client needs to know: the registry's URL, credentials, CA, timeout and how topics
//! map to subjects. The settings are `gigstream-config`'s ([`SchemaRegistryConfig`], built by
//! `Config::schema_registry` from `[schema_registry]` and the `GIGSTREAM_SCHEMA_REGISTRY_*`
//! variables): the one place they are read. This crate only names them.

pub use gigstream_config::{
    SchemaRegistryConfig as RegistryConfig, Secret, SubjectStrategy,
    DEFAULT_REGISTRY_TIMEOUT as DEFAULT_TIMEOUT,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_password() {
        let c = RegistryConfig::new("https://sr.example:8081")
            .with_basic_auth("api-key", "hunter2-very-secret");
        let text = format!("{c:?} {:?} {}", c.password, c.password.as_ref().unwrap());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("api-key") && text.contains("***"), "{text}");
    }

    #[test]
    fn settings_come_from_gigstream_config() {
        let vars: std::collections::BTreeMap<String, String> = [
            ("GIGSTREAM_SCHEMA_REGISTRY_URL", "https://sr:8081"),
            ("GIGSTREAM_SCHEMA_REGISTRY_USERNAME", "u"),
            ("GIGSTREAM_SCHEMA_REGISTRY_PASSWORD", "p"),
            ("GIGSTREAM_SCHEMA_REGISTRY_SUBJECT_STRATEGY", "record_name"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c: RegistryConfig = gigstream_config::Config::load_from(None, &vars)
            .unwrap()
            .config
            .schema_registry()
            .unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("p"));
        assert_eq!(c.subject_strategy, SubjectStrategy::RecordName);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    }
}
