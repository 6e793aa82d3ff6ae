//! A blocking client for the Confluent Schema Registry REST API, which Confluent's registry,
//! Apicurio Registry's `ccompat` API (`.../apis/ccompat/v7`), Karapace and Redpanda serve.
//!
//! - [`SchemaRegistry::schema_by_id`] (`GET /schemas/ids/{id}`), cached for good, and the
//!   [`gigstream_avro::WriterSchemas`] implementation on top of it: give the client to
//!   [`gigstream_avro::Codec::with_writer_schemas`] and Confluent-framed records carrying the
//!   ids producers got from this registry decode.
//! - [`SchemaRegistry::register`], [`lookup`](SchemaRegistry::lookup),
//!   [`latest`](SchemaRegistry::latest), [`versions`](SchemaRegistry::versions),
//!   [`set_compatibility`](SchemaRegistry::set_compatibility),
//!   [`check_compatibility`](SchemaRegistry::check_compatibility) (the registry's verdict) and
//!   [`check_all_versions`](SchemaRegistry::check_all_versions) (BACKWARD_TRANSITIVE checked
//!   here, with gigstream's resolution rules, saying which version, field and type do not
//!   fit: registries such as Apicurio give no messages).
//! - Subjects by [`SubjectStrategy`]: `<topic>-value` (default), `<record>`,
//!   `<topic>-<record>`.
//! - Basic auth (`username`, [`Secret`] password, never printed) and `https` with the
//!   system's CAs or a PEM bundle of one's own (`ca_location`, which then is the only trust).
//! - Settings: [`RegistryConfig`] is `gigstream-config`'s `SchemaRegistryConfig`; a service
//!   gets it from `Config::schema_registry()` (`[schema_registry]` of the config file and the
//!   `GIGSTREAM_SCHEMA_REGISTRY_*` variables), which is the one reader of those settings.
//! - Errors ([`RegistryError`]) name the request (method and URL, no credential) and what to
//!   check; [`RegistryError::is_retryable`] for connection failures, timeouts, 5xx, 408, 429.
//!
//! ```no_run
//! use gigstream_registry::{RegistryConfig, SchemaRegistry};
//! use std::sync::Arc;
//! let registry = Arc::new(SchemaRegistry::new(
//!     RegistryConfig::new("http://127.0.0.1:8081").with_basic_auth("key", "secret"),
//! )?);
//! let codec = gigstream_avro::Codec::new(gigstream_avro::Registry::builtin())
//!     .with_writer_schemas(registry.clone());
//! # Ok::<(), gigstream_registry::RegistryError>(())
//! ```
//!
//! ## Why hyper + OpenSSL, blocking
//!
//! The runtime is synchronous and registry calls are rare (one per writer schema id, then
//! cached), so the client is blocking: each call runs one HTTP/1.1 exchange on a private
//! current-thread tokio runtime (from async code, on a scoped thread instead, since a runtime
//! cannot block inside another). The pieces are what the workspace already builds: `hyper` 1
//! and `hyper-util` (gigstream-clickhouse's HTTP stack), `tokio`, `base64`, and the system
//! OpenSSL that librdkafka links (`openssl-sys`); new are only the thin `openssl` and
//! `tokio-openssl` bindings (and `openssl-macros`, `foreign-types`). `ureq` would have brought
//! its own HTTP stack plus `rustls` and `ring` (a second TLS library and its C/asm build) or
//! `native-tls`; `reqwest` a connection pool, `tower` and more. OpenSSL also gives the same
//! trust semantics and error texts as librdkafka's `ssl.ca.location`.
//!
//! Each request opens its own connection (`Connection: close`): no pool, no background task.
//! The whole exchange (DNS, connect, TLS, request, answer) has one deadline, `timeout`.

mod client;
mod config;
mod error;
mod http;

pub use client::{
    CheckedBy, CompatReport, CompatibilityLevel, Registered, SchemaRegistry, SubjectVersion,
    VersionSelector,
};
pub use config::{RegistryConfig, Secret, SubjectStrategy, DEFAULT_TIMEOUT};
pub use error::RegistryError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SchemaRegistry>();
        check::<RegistryError>();
        check::<RegistryConfig>();
    }

    #[test]
    fn schema_bodies_escape_the_text() {
        let text = "{\"type\":\"record\",\"name\":\"R\",\"doc\":\"a \\\"quoted\\\" doc\\nwith é, \\u0001 and \\\\\",\"fields\":[]}";
        let body = client::schema_body(text);
        let back: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(back["schema"].as_str(), Some(text));
        assert_eq!(back.as_object().unwrap().len(), 1);
    }

    #[test]
    fn compatibility_levels() {
        for l in CompatibilityLevel::ALL {
            assert_eq!(l.name().parse::<CompatibilityLevel>(), Ok(l));
        }
        assert_eq!(
            "backward_transitive".parse::<CompatibilityLevel>(),
            Ok(CompatibilityLevel::BackwardTransitive)
        );
        assert!("SIDEWAYS".parse::<CompatibilityLevel>().is_err());
    }

    #[test]
    fn settings_are_checked() {
        let e = SchemaRegistry::new(RegistryConfig::new("localhost:8081")).unwrap_err();
        assert!(matches!(e, RegistryError::Config { .. }), "{e}");
        let mut c = RegistryConfig::new("http://h:1");
        c.password = Some(Secret::new("p"));
        assert!(SchemaRegistry::new(c)
            .unwrap_err()
            .to_string()
            .contains("username"));
        let e = SchemaRegistry::new(
            RegistryConfig::new("https://h:1").with_ca_location("/nonexistent/ca.pem"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let r = SchemaRegistry::new(
            RegistryConfig::new("http://h:1/base/").with_basic_auth("u", "pw-123456"),
        )
        .unwrap();
        assert_eq!(r.url(), "http://h:1/base");
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("pw-123456") && dbg.contains("***"), "{dbg}");
    }
}
