use super::*;
use std::collections::BTreeSet;
use std::time::Duration;

fn vars(list: &[(&str, &str)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/gigstream/gigstream.toml"))
}

/// Writes `text` as a config file in a temp dir and loads it with `env`.
fn load(text: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gigstream.toml");
    std::fs::write(&path, text).unwrap();
    Config::load_from(Some(&path), &vars(env))
}

#[test]
fn no_file_and_no_env_gives_the_defaults() {
    let loaded = Config::load_from(None, &BTreeMap::new()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.file.is_none());
    let c = &loaded.config;
    assert!(c.kafka().is_none() && c.clickhouse().is_none() && c.schema_registry().is_none());
    assert_eq!(c.data_dir().root, PathBuf::from("data"));
    assert_eq!(c.service.commit_interval, Duration::from_secs(1));
    assert_eq!(c.service.shutdown_deadline, Duration::from_secs(20));
    assert_eq!(c.http.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(c.log.format, LogFormat::Human);
    // The defaults are the ones the runtime and clients had before this crate.
    let run = c.run_options(false);
    let old = RunOptions::default();
    assert_eq!(run.commit_interval, old.commit_interval);
    assert_eq!(run.commit_every_records, old.commit_every_records);
    assert_eq!(run.idle_wait, old.idle_wait);
    assert_eq!(c.run_options(true).commit_interval, Duration::from_secs(1));
}

#[test]
fn defaults_match_the_client_libraries() {
    let c = Config {
        kafka: KafkaSettings {
            brokers: Some("k:9092".into()),
            ..Default::default()
        },
        clickhouse: ClickHouseSettings {
            url: Some("http://ch:8123".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let k = c.kafka().unwrap();
    let k0 = KafkaConfig::new("k:9092");
    assert_eq!(k, k0);
    let ch = c.clickhouse().unwrap();
    let ch0 = ClickHouseConfig::new("http://ch:8123");
    assert_eq!(format!("{ch:?}"), format!("{ch0:?}"));
}

#[test]
fn unknown_key_is_named_with_its_section_and_file() {
    let err = parse("[service]\ncommit_interval = \"1s\"\ncomit_interval = \"2s\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "unknown key `comit_interval` in [service] of /etc/gigstream/gigstream.toml (line 3); expected one of `commit_interval`"
        ),
        "{msg}"
    );
    assert!(msg.contains("`shutdown_deadline`"), "{msg}");
    match err {
        ConfigError::UnknownKey(u) => assert_eq!(
            (u.section.as_str(), u.key.as_str()),
            ("service", "comit_interval")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_key_in_every_section_and_form() {
    let cases = [
        ("[data]\ndatadir = \"x\"\n", "data", "datadir"),
        ("[kafka]\nbroker = \"x\"\n", "kafka", "broker"),
        (
            "[clickhouse]\nuser = \"u\"\nurll = \"x\"\n",
            "clickhouse",
            "urll",
        ),
        ("[http]\nport = 1\n", "http", "port"),
        ("[log]\nlevel = \"debug\"\n", "log", "level"),
        // dotted keys at the top and inline tables
        ("service.idle = \"1s\"\n", "service", "idle"),
        ("log = { formats = \"json\" }\n", "log", "formats"),
        // nested: a secret source with a typo
        (
            "[kafka.secret_properties.\"ssl.key.password\"]\nenvv = \"X\"\n",
            "kafka.secret_properties.\"ssl.key.password\"",
            "envv",
        ),
    ];
    for (text, section, key) in cases {
        match parse(text) {
            Err(ConfigError::UnknownKey(u)) => {
                assert_eq!(
                    (u.section.as_str(), u.key.as_str()),
                    (section, key),
                    "{text}"
                )
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn unknown_section_is_named() {
    let err = parse("[servce]\ncommit_interval = \"1s\"\n").unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        msg,
        "unknown section [servce] in /etc/gigstream/gigstream.toml (line 1); expected one of [data], [kafka], [clickhouse], [schema_registry], [service], [http], [log]"
    );
}

#[test]
fn inline_passwords_are_refused_without_echoing_them() {
    let err = parse("[clickhouse]\nurl = \"http://c:8123\"\npassword = \"hunter2\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown key `password` in [clickhouse]"),
        "{err}"
    );
    assert!(err.contains("password_env"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    for text in [
        "[kafka.properties]\n\"sasl.password\" = \"hunter2\"\n",
        "[kafka.properties]\nsasl.password = \"hunter2\"\n",
        "[kafka]\nproperties = { \"sasl.password\" = \"hunter2\" }\n",
    ] {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("`sasl.password` is a secret"), "{text}: {err}");
        assert!(err.contains("sasl_password_env"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    let err = parse("[kafka.properties]\n\"ssl.key.password\" = \"pw-of-key\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("[kafka.secret_properties]"), "{err}");
    assert!(!err.contains("pw-of-key"), "{err}");
}

#[test]
fn kafka_properties_pass_through_quoted_or_dotted() {
    let c = parse(
        "[kafka]\nbrokers = \"k1:9092,k2:9092\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\nsasl.mechanism = \"SCRAM-SHA-512\"\n\"session.timeout.ms\" = 45000\n\"enable.idempotence\" = true\n\"sasl.oauthbearer.token.endpoint.url\" = \"https://idp/token\"\n",
    )
    .unwrap();
    let k = c.kafka().unwrap();
    let props: Vec<(&str, &str)> = k
        .properties
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        props,
        [
            ("enable.idempotence", "true"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            ("security.protocol", "SASL_SSL"),
            ("session.timeout.ms", "45000"),
        ]
    );
    let err = parse("[kafka.properties]\n\"bootstrap.servers\" = \"x:1\"\n").unwrap_err();
    assert!(err.to_string().contains("brokers"), "{err}");
    let err = parse("[kafka.properties]\n\"x\" = [1]\n").unwrap_err();
    assert!(
        err.to_string().contains("string, number or boolean"),
        "{err}"
    );
}

#[test]
fn durations_in_the_file() {
    let c = parse("[service]\ncommit_interval = \"250ms\"\nshutdown_deadline = \"1m30s\"\nidle_wait = \"0\"\n[kafka]\nassign_timeout = \"2h\"\n[clickhouse]\nretry_backoff_max = \"1d\"\n").unwrap();
    assert_eq!(c.service.commit_interval, Duration::from_millis(250));
    assert_eq!(c.service.shutdown_deadline, Duration::from_secs(90));
    assert_eq!(c.service.idle_wait, Duration::ZERO);
    assert_eq!(c.kafka.assign_timeout, Duration::from_secs(7200));
    assert_eq!(c.clickhouse.retry_backoff_max, Duration::from_secs(86_400));

    let err = parse("[service]\n\ncommit_interval = \"10x\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("(line 3)"), "{msg}");
    assert!(msg.contains("`10x` is not a duration"), "{msg}");
    let err = parse("[service]\ncommit_interval = 10\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("a duration is a number with a unit"), "{err}");
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let err = parse("[service]\ncommit_interval = \"1s\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("invalid config /etc/gigstream/gigstream.toml (line 2)"),
        "{msg}"
    );
}

#[test]
fn environment_overrides_the_file() {
    let loaded = load(
        "[kafka]\nbrokers = \"file:9092\"\ntopic_prefix = \"file.\"\n[clickhouse]\nurl = \"http://file:8123\"\nuser = \"file_user\"\n[service]\ncommit_interval = \"5s\"\n[log]\nformat = \"human\"\nfilter = \"warn\"\n",
        &[
            ("GIGSTREAM_KAFKA_BROKERS", "env:9092"),
            ("GIGSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("GIGSTREAM_KAFKA_WEIRD__KEY_NAME", "x"),
            ("GIGSTREAM_CLICKHOUSE_URL", "http://env:8123"),
            ("GIGSTREAM_CLICKHOUSE_USER", "env_user"),
            ("GIGSTREAM_CLICKHOUSE_DATABASE", "env_db"),
            ("GIGSTREAM_SERVICE_COMMIT_INTERVAL", "2s"),
            ("GIGSTREAM_LOG_FORMAT", "json"),
            ("GIGSTREAM_DATA_DIR", "/var/lib/gigstream"),
            ("GIGSTREAM_REFERENCE_DIR", "/etc/gigstream/reference"),
            ("GIGSTREAM_HTTP_LISTEN", "0.0.0.0:9000"),
            ("GIGSTREAM_TEST_KAFKA_DIR", "/dev/shm/k"),
            ("GIGSTREAM_CLICKHOUSE_URLL", "typo"),
            ("RUST_LOG", "debug"),
        ],
    )
    .unwrap();
    let c = &loaded.config;
    let k = c.kafka().unwrap();
    assert_eq!(k.brokers, "env:9092");
    assert_eq!(k.topic_prefix, "file.");
    assert_eq!(
        k.properties.get("security.protocol").map(String::as_str),
        Some("SASL_SSL")
    );
    assert_eq!(
        k.properties.get("weird_key.name").map(String::as_str),
        Some("x")
    );
    let ch = c.clickhouse().unwrap();
    assert_eq!(
        (ch.url.as_str(), ch.user.as_str(), ch.database.as_str()),
        ("http://env:8123", "env_user", "env_db")
    );
    assert_eq!(c.service.commit_interval, Duration::from_secs(2));
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.log.filter, "debug", "RUST_LOG over the file");
    assert_eq!(c.data.data_dir, PathBuf::from("/var/lib/gigstream"));
    assert_eq!(
        c.data.reference_dir,
        Some(PathBuf::from("/etc/gigstream/reference"))
    );
    assert_eq!(c.http.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(loaded.env_ignored, ["GIGSTREAM_CLICKHOUSE_URLL"]);
    assert!(loaded
        .env_applied
        .contains(&"GIGSTREAM_KAFKA_BROKERS".to_string()));
    assert!(!loaded.env_applied.iter().any(|n| n.contains("TEST")));
    assert!(loaded.describe().contains("GIGSTREAM_CLICKHOUSE_URL"));
}

#[test]
fn older_environment_names_keep_working() {
    let c = Config::load_from(
        None,
        &vars(&[
            ("GIGSTREAM_COMMIT_INTERVAL_MS", "1500"),
            ("GIGSTREAM_KAFKA_BROKERS", "k:9092"),
            ("GIGSTREAM_KAFKA_REPLICATION_FACTOR", "3"),
            ("GIGSTREAM_KAFKA_TOPIC_PREFIX", "t."),
            ("GIGSTREAM_CLICKHOUSE_URL", ""),
            ("GIGSTREAM_CLICKHOUSE_PASSWORD", ""),
        ]),
    )
    .unwrap()
    .config;
    assert_eq!(
        c.run_options(true).commit_interval,
        Duration::from_millis(1500)
    );
    assert_eq!(
        c.run_options(false).commit_interval,
        Duration::from_millis(1500)
    );
    assert!(c.clickhouse().is_none(), "an empty URL means no ClickHouse");
    let k = c.kafka().unwrap();
    assert_eq!(k.brokers, "k:9092");
    assert_eq!(k.replication_factor, 3);
    assert_eq!(k.topic_name(gigstream_core::Topic::Orders), "t.orders");
    // The new name wins over the old one.
    let c = Config::load_from(
        None,
        &vars(&[
            ("GIGSTREAM_COMMIT_INTERVAL_MS", "1500"),
            ("GIGSTREAM_SERVICE_COMMIT_INTERVAL", "3s"),
        ]),
    )
    .unwrap()
    .config;
    assert_eq!(c.service.commit_interval, Duration::from_secs(3));
    assert_eq!(
        c.service.catch_up_commit_interval,
        Duration::from_millis(1500)
    );
}

#[test]
fn bad_environment_values_are_named() {
    let cases = [
        (
            "GIGSTREAM_SERVICE_COMMIT_INTERVAL",
            "10x",
            "is not a duration",
        ),
        ("GIGSTREAM_SERVICE_COMIT_INTERVAL", "1s", "is not a setting"),
        ("GIGSTREAM_HTTP_PORT", "1", "GIGSTREAM_HTTP_LISTEN"),
        ("GIGSTREAM_HTTP_LISTEN", "localhost", "is not an address"),
        ("GIGSTREAM_LOG_FORMAT", "xml", "is not human or json"),
        ("GIGSTREAM_DATA_REFERENCE", "x", "GIGSTREAM_DATA_DIR"),
        ("GIGSTREAM_KAFKA_BROKERS", " ", "is empty"),
        (
            "GIGSTREAM_KAFKA_REPLICATION_FACTOR",
            "three",
            "not a whole number",
        ),
        (
            "GIGSTREAM_CLICKHOUSE_APPLY_MIGRATIONS",
            "maybe",
            "not true or false",
        ),
        ("GIGSTREAM_COMMIT_INTERVAL_MS", "1s", "milliseconds"),
    ];
    for (name, value, want) in cases {
        let err = Config::load_from(None, &vars(&[(name, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("environment variable {name}")),
            "{err}"
        );
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn clickhouse_password_from_env_var_file_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("ch-password");
    std::fs::write(&pw_file, "from-file\n").unwrap();

    // password_env names a variable
    let c = load(
        "[clickhouse]\nurl = \"http://c:8123\"\nuser = \"gigstream_writer\"\npassword_env = \"CH_PW\"\n",
        &[("CH_PW", "from-var")],
    )
    .unwrap()
    .config;
    assert_eq!(c.clickhouse().unwrap().password, "from-var");

    // password_file names a file; the trailing newline is dropped
    let text = format!(
        "[clickhouse]\nurl = \"http://c:8123\"\npassword_file = {:?}\n",
        pw_file.display().to_string()
    );
    let c = load(&text, &[]).unwrap().config;
    assert_eq!(c.clickhouse().unwrap().password, "from-file");

    // GIGSTREAM_CLICKHOUSE_PASSWORD wins over the file's source (which is then not read)
    let c = load(
        "[clickhouse]\nurl = \"http://c:8123\"\npassword_file = \"/nonexistent\"\n",
        &[("GIGSTREAM_CLICKHOUSE_PASSWORD", "from-env")],
    )
    .unwrap()
    .config;
    assert_eq!(c.clickhouse().unwrap().password, "from-env");

    // GIGSTREAM_CLICKHOUSE_PASSWORD_FILE replaces the file's password_env
    let c = load(
        "[clickhouse]\nurl = \"http://c:8123\"\npassword_env = \"UNSET\"\n",
        &[(
            "GIGSTREAM_CLICKHOUSE_PASSWORD_FILE",
            pw_file.to_str().unwrap(),
        )],
    )
    .unwrap()
    .config;
    assert_eq!(c.clickhouse().unwrap().password, "from-file");

    // errors name the variable or file, never a value
    let err = load("[clickhouse]\npassword_env = \"CH_PW\"\n", &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "cannot read the secret [clickhouse] password: environment variable CH_PW is not set"
    );
    let err = load("[clickhouse]\npassword_file = \"/nonexistent/pw\"\n", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/pw") && err.contains("not found"),
        "{err}"
    );
    let err = load(
        "[clickhouse]\npassword_env = \"A\"\npassword_file = \"/x\"\n",
        &[("A", "secret-a")],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("not both") && !err.contains("secret-a"),
        "{err}"
    );
}

#[test]
fn kafka_secrets_from_env_var_file_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key_pw = dir.path().join("key-pw");
    std::fs::write(&key_pw, "key-secret\r\n").unwrap();
    let text = format!(
        "[kafka]\nbrokers = \"k:9093\"\nsasl_password_env = \"SASL_PW\"\n[kafka.properties]\n\"security.protocol\" = \"SASL_SSL\"\n\"sasl.username\" = \"alice\"\n[kafka.secret_properties]\n\"ssl.key.password\" = {{ file = {:?} }}\n",
        key_pw.display().to_string()
    );
    let loaded = load(&text, &[("SASL_PW", "sasl-secret")]).unwrap();
    let k = loaded.config.kafka().unwrap();
    assert_eq!(k.properties["sasl.password"], "sasl-secret");
    assert_eq!(k.properties["ssl.key.password"], "key-secret");
    assert_eq!(k.properties["sasl.username"], "alice");
    for shown in [
        format!("{:?}", loaded.config),
        format!("{loaded:?}"),
        format!("{k:?}"),
    ] {
        assert!(!shown.contains("sasl-secret"), "{shown}");
        assert!(!shown.contains("key-secret"), "{shown}");
    }
    assert!(format!("{:?}", loaded.config).contains("***"));

    // GIGSTREAM_KAFKA_SASL_PASSWORD (a secret from the environment) wins and stays hidden
    let loaded = load(
        &text,
        &[
            ("SASL_PW", "sasl-secret"),
            ("GIGSTREAM_KAFKA_SASL_PASSWORD", "env-secret"),
        ],
    )
    .unwrap();
    let inline = &loaded.config.kafka.properties;
    assert!(!inline.contains_key("sasl.password"));
    assert_eq!(
        loaded.config.kafka().unwrap().properties["sasl.password"],
        "env-secret"
    );
    assert!(!format!("{:?}", loaded.config).contains("env-secret"));

    let err = load(&text, &[]).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot read the secret [kafka] sasl.password: environment variable SASL_PW is not set"
    );
    let err = load(
        "[kafka]\nsasl_password_env = \"A\"\n[kafka.secret_properties]\n\"sasl.password\" = { env = \"B\" }\n",
        &[("A", "a"), ("B", "b")],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("keep one"), "{err}");
}

#[test]
fn no_secret_in_any_error_or_debug_output() {
    const SECRET: &str = "S3cr3t-Value-xyz";
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("pw");
    std::fs::write(&secret_file, SECRET).unwrap();
    let secret_path = secret_file.display().to_string();
    let env = [
        ("GIGSTREAM_CLICKHOUSE_PASSWORD", SECRET),
        ("GIGSTREAM_KAFKA_SASL_PASSWORD", SECRET),
        ("GIGSTREAM_KAFKA_SSL_KEY_PASSWORD", SECRET),
        ("PW", SECRET),
    ];
    // Loaded configurations: Debug of every layer.
    let ok_texts = [
        "[clickhouse]\nurl = \"http://c:1\"\n[kafka]\nbrokers = \"k:1\"\n".to_string(),
        format!(
            "[clickhouse]\nurl = \"http://c:1\"\npassword_file = {secret_path:?}\n[kafka]\nbrokers = \"k:1\"\nsasl_password_env = \"PW\"\n"
        ),
    ];
    for text in &ok_texts {
        let env_only: Vec<(&str, &str)> = env[3..].to_vec();
        for env in [&env[..], &env_only[..]] {
            let loaded = load(text, env).unwrap();
            let c = &loaded.config;
            for shown in [
                format!("{loaded:?}"),
                format!("{c:?}"),
                format!("{:?}", c.kafka()),
                format!("{:?}", c.clickhouse()),
                loaded.describe(),
            ] {
                assert!(!shown.contains(SECRET), "{shown}");
            }
            if env.len() == 4 || text.contains("password_file") {
                assert_eq!(c.clickhouse().unwrap().password, SECRET);
            }
        }
    }
    // Failing configurations: the message and Debug of every error.
    let bad_texts = [
        "[clickhouse]\npassword = \"S3cr3t-Value-xyz\"\n".to_string(),
        "[kafka.properties]\n\"sasl.password\" = \"S3cr3t-Value-xyz\"\n".to_string(),
        "[kafka.properties]\n\"ssl.keystore.password\" = \"S3cr3t-Value-xyz\"\n".to_string(),
        "[kafka]\nsasl_password = \"S3cr3t-Value-xyz\"\n".to_string(),
        "[clickhouse]\npassword_env = \"PW\"\nurl = \"ftp://c\"\n".to_string(),
        format!("[clickhouse]\npassword_env = \"PW\"\npassword_file = {secret_path:?}\n"),
        "[kafka]\nbrokers = \"k:1\"\nsasl_password_env = \"UNSET\"\n".to_string(),
        "[clickhouse]\npassword_env = \"PW\"\n[service]\ncommit_interval = \"0\"\n".to_string(),
    ];
    for text in &bad_texts {
        let err = load(text, &env[3..]).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(SECRET), "{text}: {shown}");
        }
    }
}

#[test]
fn settings_that_do_not_work_are_refused() {
    let cases = [
        (
            "[clickhouse]\nurl = \"c:8123\"\n",
            "not an http:// or https:// URL",
        ),
        (
            "[clickhouse]\nbatch_bytes = 0\n",
            "batch_bytes: must be above 0",
        ),
        (
            "[clickhouse]\nretry_backoff_min = \"1m\"\nretry_backoff_max = \"1s\"\n",
            "at most retry_backoff_max (1s)",
        ),
        (
            "[service]\ncommit_interval = \"0\"\n",
            "commit_interval: must be above 0",
        ),
        ("[kafka]\nbrokers = \"\"\n", "brokers: is empty"),
        ("[log]\nfilter = \"info,=[\"\n", "is not a tracing filter"),
        ("[http]\nlisten = \"9464\"\n", "invalid socket address"),
        ("[log]\nformat = \"xml\"\n", "unknown variant `xml`"),
        (
            "[kafka]\nsasl_password_env = \"A\"\nsasl_password_file = \"/x\"\n",
            "not both",
        ),
    ];
    for (text, want) in cases {
        let err = load(text, &[("A", "a")]).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn config_file_from_gigstream_config_or_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, "[kafka]\ntopic_prefix = \"a.\"\n").unwrap();
    std::fs::write(&b, "[kafka]\ntopic_prefix = \"b.\"\n").unwrap();
    let env = vars(&[(ENV_CONFIG, a.to_str().unwrap())]);
    let from_env = Config::load_from(None, &env).unwrap();
    assert_eq!(from_env.config.kafka.topic_prefix, "a.");
    assert_eq!(from_env.file.as_deref(), Some(a.as_path()));
    let from_arg = Config::load_from(Some(&b), &env).unwrap();
    assert_eq!(from_arg.config.kafka.topic_prefix, "b.", "--config wins");
    let err = Config::load_from(Some(&dir.path().join("missing.toml")), &env)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("cannot read the config file") && err.contains("missing.toml"));
}

#[test]
fn consumer_groups_default_to_gigstream_service_and_are_configurable() {
    let c = Config::load_from(None, &vars(&[("GIGSTREAM_KAFKA_BROKERS", "k:9092")]))
        .unwrap()
        .config;
    let k = c.kafka().unwrap();
    assert_eq!(k.group_of("billing"), "gigstream-billing");
    // The names used before the setting existed, kept for their committed offsets.
    let c = Config::load_from(
        None,
        &vars(&[
            ("GIGSTREAM_KAFKA_BROKERS", "k:9092"),
            ("GIGSTREAM_KAFKA_TOPIC_PREFIX", "staging."),
            ("GIGSTREAM_KAFKA_GROUP_ID", "{service}"),
        ]),
    )
    .unwrap();
    assert!(c
        .env_applied
        .contains(&"GIGSTREAM_KAFKA_GROUP_ID".to_string()));
    let k = c.config.kafka().unwrap();
    assert_eq!(k.group_of("sla"), "staging.sla");
    // Not a librdkafka property any more.
    assert!(!k.properties.contains_key("group.id"));
    let c = load("[kafka]\ngroup_id = \"team-a-{service}\"\n", &[]).unwrap();
    assert_eq!(c.config.kafka.group_id, "team-a-{service}");
    for bad in ["shared", "{service}-{service}", "a {service}"] {
        let err = load(&format!("[kafka]\ngroup_id = \"{bad}\"\n"), &[]).unwrap_err();
        assert!(err.to_string().contains("[kafka] group_id"), "{bad}: {err}");
    }
    let err = parse("[kafka.properties]\n\"group.id\" = \"x\"\n").unwrap_err();
    assert!(err.to_string().contains("group_id"), "{err}");
}

#[test]
fn each_service_has_its_own_ports_unless_an_address_is_given() {
    let c = Config::default();
    assert!(!c.http.listen_given);
    let plan = c.http.listen_plan("sla");
    assert!(!plan.explicit);
    let ports: Vec<u16> = plan.addresses.iter().map(|a| a.port()).collect();
    assert_eq!(&ports[..3], &[9465, 9468, 9471]);
    assert_eq!(ports.len(), usize::from(PORT_ATTEMPTS));
    assert!(plan.addresses.iter().all(|a| a.ip().is_loopback()));
    let first = |s: &str| c.http.listen_plan(s).addresses[0].port();
    assert_eq!(
        (
            first("billing"),
            first("sla"),
            first("market"),
            first("run")
        ),
        (9464, 9465, 9466, 9464)
    );
    // No service's instances ever take another service's ports.
    let mut all = BTreeSet::new();
    for (s, _) in SERVICE_PORTS {
        for a in c.http.listen_plan(s).addresses {
            assert!(all.insert(a.port()), "{s} {a}");
        }
    }
    // Given in the environment or the file: that address only.
    for c in [
        Config::load_from(None, &vars(&[("GIGSTREAM_HTTP_LISTEN", "0.0.0.0:9464")]))
            .unwrap()
            .config,
        load("[http]\nlisten = \"0.0.0.0:9464\"\n", &[])
            .unwrap()
            .config,
    ] {
        let plan = c.http.listen_plan("market");
        assert!(plan.explicit);
        assert_eq!(plan.addresses, vec!["0.0.0.0:9464".parse().unwrap()]);
    }
    assert!(
        !load("[http]\nenabled = true\n", &[])
            .unwrap()
            .config
            .http
            .listen_given
    );
}

#[test]
fn colours_only_on_a_terminal_unless_asked() {
    assert!(LogColor::Auto.enabled(true, false));
    assert!(!LogColor::Auto.enabled(false, false));
    assert!(!LogColor::Auto.enabled(true, true));
    assert!(LogColor::Always.enabled(false, true));
    assert!(!LogColor::Never.enabled(true, false));
    let c = Config::load_from(None, &vars(&[("NO_COLOR", "1")]))
        .unwrap()
        .config;
    assert!(c.log.no_color && c.log.color == LogColor::Auto);
    // An empty NO_COLOR means nothing.
    let c = Config::load_from(None, &vars(&[("NO_COLOR", "")]))
        .unwrap()
        .config;
    assert!(!c.log.no_color);
    let c = Config::load_from(None, &vars(&[("GIGSTREAM_LOG_COLOR", "never")]))
        .unwrap()
        .config;
    assert_eq!(c.log.color, LogColor::Never);
    assert!(!c.log.ansi());
    assert!(Config::load_from(None, &vars(&[("GIGSTREAM_LOG_COLOR", "rainbow")])).is_err());
    let c = load("[log]\nformat = \"json\"\ncolor = \"always\"\n", &[])
        .unwrap()
        .config;
    // JSON lines never carry colour codes.
    assert!(!c.log.ansi());
    // Under `cargo test` stderr is captured, not a terminal: auto means plain.
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        assert!(!Config::default().log.ansi());
    }
}

#[test]
fn schema_registry_from_the_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("sr-password");
    std::fs::write(&pw_file, "from-file\n").unwrap();
    // Defaults: what the registry client had.
    let d = SchemaRegistrySettings::default();
    assert_eq!(d.timeout, DEFAULT_REGISTRY_TIMEOUT);
    assert_eq!(d.subject_strategy, SubjectStrategy::TopicName);
    let c = SchemaRegistryConfig::new("http://sr:8081");
    let loaded = Config::load_from(
        None,
        &vars(&[("GIGSTREAM_SCHEMA_REGISTRY_URL", "http://sr:8081")]),
    )
    .unwrap();
    assert_eq!(loaded.config.schema_registry(), Some(c));

    // The file: every key; the password from a variable named there.
    let text = "[schema_registry]\nurl = \"https://sr.example:8081/apis/ccompat/v7\"\nusername = \"key\"\npassword_env = \"SR_PW\"\nca_location = \"/etc/ssl/sr-ca.pem\"\ntimeout = \"1500ms\"\nsubject_strategy = \"topic_record_name\"\n";
    let loaded = load(text, &[("SR_PW", "from-var")]).unwrap();
    let r = loaded.config.schema_registry().unwrap();
    assert_eq!(r.url, "https://sr.example:8081/apis/ccompat/v7");
    assert_eq!(r.username.as_deref(), Some("key"));
    assert_eq!(r.password.as_ref().map(Secret::expose), Some("from-var"));
    assert_eq!(r.ca_location, Some(PathBuf::from("/etc/ssl/sr-ca.pem")));
    assert_eq!(r.timeout, Duration::from_millis(1500));
    assert_eq!(r.subject_strategy, SubjectStrategy::TopicRecordName);
    for shown in [format!("{loaded:?}"), format!("{r:?}"), loaded.describe()] {
        assert!(!shown.contains("from-var"), "{shown}");
    }

    // The environment over the file; GIGSTREAM_SCHEMA_REGISTRY_PASSWORD wins over the file's
    // source (which is then not read), _PASSWORD_FILE replaces its password_env.
    let loaded = load(
        text,
        &[
            ("GIGSTREAM_SCHEMA_REGISTRY_URL", "http://env:8081"),
            ("GIGSTREAM_SCHEMA_REGISTRY_USERNAME", "env-user"),
            ("GIGSTREAM_SCHEMA_REGISTRY_PASSWORD", "env-secret"),
            ("GIGSTREAM_SCHEMA_REGISTRY_CA_LOCATION", "/env/ca.pem"),
            ("GIGSTREAM_SCHEMA_REGISTRY_TIMEOUT", "3s"),
            (
                "GIGSTREAM_SCHEMA_REGISTRY_SUBJECT_STRATEGY",
                "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            ),
        ],
    )
    .unwrap();
    let r = loaded.config.schema_registry().unwrap();
    assert_eq!(
        (r.url.as_str(), r.username.as_deref()),
        ("http://env:8081", Some("env-user"))
    );
    assert_eq!(r.password.as_ref().map(Secret::expose), Some("env-secret"));
    assert_eq!(r.ca_location, Some(PathBuf::from("/env/ca.pem")));
    assert_eq!(r.timeout, Duration::from_secs(3));
    assert_eq!(r.subject_strategy, SubjectStrategy::RecordName);
    assert!(!format!("{loaded:?}").contains("env-secret"));
    assert!(loaded
        .env_applied
        .contains(&"GIGSTREAM_SCHEMA_REGISTRY_PASSWORD".to_string()));
    let r = load(
        text,
        &[(
            "GIGSTREAM_SCHEMA_REGISTRY_PASSWORD_FILE",
            pw_file.to_str().unwrap(),
        )],
    )
    .unwrap()
    .config
    .schema_registry()
    .unwrap();
    assert_eq!(r.password.unwrap().expose(), "from-file");
    // An empty URL: no registry, as for ClickHouse.
    let c = load(
        text,
        &[("GIGSTREAM_SCHEMA_REGISTRY_URL", ""), ("SR_PW", "x")],
    )
    .unwrap()
    .config;
    assert!(c.schema_registry().is_none());
}

#[test]
fn schema_registry_settings_that_do_not_work_are_refused() {
    let cases = [
        (
            "[schema_registry]\nurl = \"sr:8081\"\n",
            "not an http:// or https:// URL",
        ),
        (
            "[schema_registry]\nurl = \"https://key:pw-in-url@sr:8081\"\n",
            "carries credentials",
        ),
        (
            "[schema_registry]\nusername = \"u\"\npassword_env = \"A\"\npassword_file = \"/x\"\n",
            "not both",
        ),
        (
            "[schema_registry]\npassword_env = \"A\"\n",
            "without a username",
        ),
        (
            "[schema_registry]\ntimeout = \"0\"\n",
            "timeout: must be above 0",
        ),
        (
            "[schema_registry]\nsubject_strategy = \"topic\"\n",
            "expected topic_name, record_name or topic_record_name",
        ),
        (
            "[schema_registry]\npassword = \"pw-inline\"\n",
            "GIGSTREAM_SCHEMA_REGISTRY_PASSWORD",
        ),
        (
            "[schema_registry]\nsubject_name_strategy = \"x\"\n",
            "subject_strategy",
        ),
    ];
    for (text, want) in cases {
        let err = load(text, &[("A", "a")]).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert!(!err.contains("pw-in"), "{text}: {err}");
    }
    let env_cases = [
        (
            "GIGSTREAM_SCHEMA_REGISTRY_TIMEOUT",
            "soon",
            "is not a duration",
        ),
        (
            "GIGSTREAM_SCHEMA_REGISTRY_SUBJECT_STRATEGY",
            "topic",
            "topic_name",
        ),
        (
            "GIGSTREAM_SCHEMA_REGISTRY_URLL",
            "http://x",
            "GIGSTREAM_SCHEMA_REGISTRY_URL, GIGSTREAM_SCHEMA_REGISTRY_USERNAME",
        ),
    ];
    for (name, value, want) in env_cases {
        let err = Config::load_from(None, &vars(&[(name, value)]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("environment variable {name}")),
            "{err}"
        );
        assert!(err.contains(want), "{name}: {err}");
    }
    // The password's variable unset: named, never a value.
    let err = load(
        "[schema_registry]\nurl = \"http://sr:1\"\nusername = \"u\"\npassword_env = \"SR_PW\"\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "cannot read the secret [schema_registry] password: environment variable SR_PW is not set"
    );
}
