//! From the settings ([`KafkaConfig`], read by `gigstream-config`) to librdkafka configurations.

use rdkafka::ClientConfig;

pub use gigstream_config::{dlq_of, is_secret, KafkaConfig};

/// A raw librdkafka configuration (brokers and the user's properties), for clients this crate
/// does not wrap.
pub fn rdkafka_config(config: &KafkaConfig) -> ClientConfig {
    client_config(config, &[], &[])
}

/// librdkafka configuration: `defaults`, then the user's properties, then `enforced`.
pub(crate) fn client_config(
    config: &KafkaConfig,
    defaults: &[(&str, &str)],
    enforced: &[(&str, &str)],
) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers);
    for (k, v) in defaults {
        c.set(*k, *v);
    }
    for (k, v) in &config.properties {
        c.set(k, v);
    }
    for (k, v) in enforced {
        c.set(*k, *v);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforced_properties_win_over_user_ones() {
        let cfg = KafkaConfig::new("k:9092")
            .with_property("enable.auto.commit", "true")
            .with_property("fetch.min.bytes", "10");
        let c = client_config(
            &cfg,
            &[("fetch.min.bytes", "1")],
            &[("enable.auto.commit", "false")],
        );
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("fetch.min.bytes"), Some("10"));
        assert_eq!(c.get("bootstrap.servers"), Some("k:9092"));
    }
}
