//! `docker-compose.yml`, `Dockerfile` and `.env.example` checked without a Docker engine: the
//! official images, ports on 127.0.0.1 only, services built from the Dockerfile running
//! binaries the workspace has, mounted host paths that exist, secrets only from `.env`.

use std::collections::BTreeSet;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

fn read(rel: &str) -> String {
    std::fs::read_to_string(crate::repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Resolves YAML merge keys (`<<: *anchor`), which the YAML parser leaves as plain keys.
fn merged(y: &Yaml) -> Yaml {
    match y {
        Yaml::Hash(h) => {
            let mut out = yaml_rust2::yaml::Hash::new();
            let merge_key = Yaml::String("<<".into());
            for (k, v) in h {
                if *k != merge_key {
                    out.insert(k.clone(), merged(v));
                }
            }
            if let Some(m) = h.get(&merge_key) {
                let sources = match m {
                    Yaml::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                for s in sources {
                    if let Yaml::Hash(sh) = merged(&s) {
                        for (k, v) in sh {
                            out.entry(k).or_insert(v);
                        }
                    }
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(a) => Yaml::Array(a.iter().map(merged).collect()),
        other => other.clone(),
    }
}

fn compose() -> Yaml {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    merged(&docs[0])
}

fn services(c: &Yaml) -> Vec<(String, Yaml)> {
    c["services"]
        .as_hash()
        .expect("services")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v.clone()))
        .collect()
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(a) => a
            .iter()
            .map(|v| match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                other => panic!("not a string: {other:?}"),
            })
            .collect(),
        Yaml::BadValue | Yaml::Null => Vec::new(),
        Yaml::String(s) => vec![s.clone()],
        other => panic!("not a list: {other:?}"),
    }
}

/// `(name, value)` of a service's environment, in map or list form.
fn environment(svc: &Yaml) -> Vec<(String, String)> {
    match &svc["environment"] {
        Yaml::Hash(h) => h
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Null => String::new(),
                    other => panic!("{other:?}"),
                };
                (k.as_str().unwrap().to_string(), v)
            })
            .collect(),
        Yaml::Array(_) => strings(&svc["environment"])
            .into_iter()
            .map(|e| {
                let (k, v) = e.split_once('=').unwrap_or((&e, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn built_from_dockerfile(svc: &Yaml) -> bool {
    !svc["build"].is_badvalue()
}

/// Binaries the workspace builds: `[[bin]]` names, and the package name of members with a
/// `src/main.rs` not claimed by a `[[bin]]`.
fn workspace_binaries() -> BTreeSet<String> {
    let repo = crate::repo();
    let root: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let members = root["workspace"]["members"].as_array().unwrap();
    let mut bins = BTreeSet::new();
    for m in members {
        let dir = repo.join(m.as_str().unwrap());
        let manifest: toml::Table =
            toml::from_str(&std::fs::read_to_string(dir.join("Cargo.toml")).unwrap()).unwrap();
        let mut main_claimed = false;
        if let Some(list) = manifest.get("bin").and_then(|b| b.as_array()) {
            for b in list {
                bins.insert(b["name"].as_str().unwrap().to_string());
                main_claimed |= b.get("path").and_then(|p| p.as_str()) == Some("src/main.rs");
            }
        }
        if !main_claimed && dir.join("src/main.rs").exists() {
            bins.insert(manifest["package"]["name"].as_str().unwrap().to_string());
        }
        // Cargo's auto-discovered binaries: src/bin/<name>.rs.
        if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "rs") {
                    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                    bins.insert(stem);
                }
            }
        }
    }
    bins
}

/// The `--bin` names of the Dockerfile's cargo build.
fn dockerfile_bins(dockerfile: &str) -> BTreeSet<String> {
    let words: Vec<&str> = dockerfile.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "--bin")
        .map(|w| w[1].to_string())
        .collect()
}

#[test]
fn official_images_are_named() {
    let c = compose();
    let mut seen = BTreeSet::new();
    for (name, svc) in services(&c) {
        let image = svc["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no image"));
        if built_from_dockerfile(&svc) {
            assert_eq!(image, "gigstream:local", "{name}");
            continue;
        }
        let (repo, tag) = image
            .split_once(':')
            .unwrap_or_else(|| panic!("{name}: untagged {image}"));
        let version: Vec<u32> = tag
            .trim_start_matches('v')
            .split(['.', '-'])
            .map_while(|p| p.parse().ok())
            .collect();
        match repo {
            "apache/kafka" => assert!(version >= vec![3, 9], "{image}"),
            "clickhouse/clickhouse-server" => assert!(version >= vec![24], "{image}"),
            // The ClickHouse plugin 4.20 needs Grafana 11.6; GF_PLUGINS_PREINSTALL_SYNC with
            // id@version needs 12.1.
            "grafana/grafana" => assert!(version >= vec![12, 1], "{image}"),
            "prom/prometheus" => assert!(
                tag.starts_with('v') && tag[1..].split('.').count() == 3,
                "{image}: an exact vX.Y.Z"
            ),
            // Apicurio Registry 3 (the registry the tests run, from Maven Central): its
            // Confluent API under /apis/ccompat/v7; kafkasql storage from 3.0.
            "apicurio/apicurio-registry" => assert!(
                version >= vec![3, 3] && tag.split('.').count() == 3,
                "{image}: an exact 3.3.x or later"
            ),
            other => panic!("{name}: {other} is not one of the official images"),
        }
        seen.insert(repo.to_string());
    }
    let want: BTreeSet<String> = [
        "apache/kafka",
        "apicurio/apicurio-registry",
        "clickhouse/clickhouse-server",
        "grafana/grafana",
        "prom/prometheus",
    ]
    .map(String::from)
    .into();
    assert_eq!(seen, want);

    // The plugin at an exact version, installed before Grafana starts; not the deprecated
    // GF_INSTALL_PLUGINS, which takes the latest.
    let grafana_env = environment(&c["services"]["grafana"]);
    let get = |k: &str| {
        grafana_env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("GF_INSTALL_PLUGINS"), None);
    let pin = get("GF_PLUGINS_PREINSTALL_SYNC").expect("GF_PLUGINS_PREINSTALL_SYNC");
    let version = pin
        .strip_prefix("grafana-clickhouse-datasource@")
        .unwrap_or_else(|| panic!("{pin}: not grafana-clickhouse-datasource@VERSION"));
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "{pin}: an exact X.Y.Z"
    );
    assert_eq!(
        get("GF_PLUGINS_PREINSTALL_AUTO_UPDATE").as_deref(),
        Some("false")
    );
    // The dashboards say the version they were written for.
    for d in ["billing", "sla", "market", "pipeline"] {
        let text = read(&format!("dashboards/{d}.json"));
        assert!(
            text.contains(&format!("\"pluginVersion\": \"{version}\"")),
            "dashboards/{d}.json is not written for plugin {version}"
        );
    }
    // Kafka runs in KRaft mode: no ZooKeeper anywhere.
    let kafka_env = environment(&c["services"]["kafka"]);
    assert!(kafka_env
        .iter()
        .any(|(k, v)| k == "KAFKA_PROCESS_ROLES" && v.contains("controller")));
    assert!(!read("docker-compose.yml")
        .to_ascii_lowercase()
        .contains("zookeeper"));
}

#[test]
fn every_port_is_bound_to_127_0_0_1() {
    let c = compose();
    let mut ports = 0;
    for (name, svc) in services(&c) {
        match &svc["ports"] {
            Yaml::Array(list) => {
                for p in list {
                    match p {
                        Yaml::String(s) => {
                            assert!(s.starts_with("127.0.0.1:"), "{name}: {s}");
                            assert_eq!(s.split(':').count(), 3, "{name}: {s}");
                        }
                        Yaml::Hash(_) => {
                            assert_eq!(p["host_ip"].as_str(), Some("127.0.0.1"), "{name}: {p:?}")
                        }
                        other => panic!("{name}: port {other:?} has no host address"),
                    }
                    ports += 1;
                }
            }
            Yaml::BadValue => {}
            other => panic!("{name}: {other:?}"),
        }
        assert!(svc["network_mode"].as_str() != Some("host"), "{name}");
    }
    assert!(ports >= 6, "{ports}");
}

#[test]
fn services_built_from_the_dockerfile_run_workspace_binaries() {
    let c = compose();
    let dockerfile = read("Dockerfile");
    let workspace = workspace_binaries();
    let built = dockerfile_bins(&dockerfile);
    assert!(!built.is_empty());
    for b in &built {
        assert!(
            workspace.contains(b),
            "Dockerfile builds {b}, not a workspace binary: {workspace:?}"
        );
    }
    let mut commands = BTreeSet::new();
    for (name, svc) in services(&c) {
        if !built_from_dockerfile(&svc) {
            continue;
        }
        assert_eq!(
            svc["build"]["dockerfile"].as_str(),
            Some("Dockerfile"),
            "{name}"
        );
        assert_eq!(svc["build"]["context"].as_str(), Some("."), "{name}");
        let cmd = strings(&svc["command"]);
        let bin = cmd.first().unwrap_or_else(|| panic!("{name}: no command"));
        assert!(
            built.contains(bin),
            "{name}: {bin} is not built by the Dockerfile ({built:?})"
        );
        commands.insert(cmd.join(" "));
    }
    for svc in ["gigstream-billing", "gigstream-sla", "gigstream-market"] {
        assert!(
            commands.contains(&format!("{svc} --follow")),
            "{svc} --follow missing: {commands:?}"
        );
    }
}

#[test]
fn the_dockerfile_builds_locked_and_runs_unprivileged() {
    let d = read("Dockerfile");
    let froms: Vec<&str> = d
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    let rust = froms[0]
        .strip_prefix("rust:")
        .and_then(|t| t.strip_suffix("-bookworm"))
        .unwrap_or_else(|| panic!("builder {}", froms[0]));
    let root: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let msrv = root["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let v = |s: &str| -> Vec<u32> { s.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(
        v(rust) >= v(msrv),
        "builder rust {rust} < rust-version {msrv}"
    );
    assert_eq!(froms[1], "debian:bookworm-slim");
    assert!(d.contains("cargo build --release --locked"));
    for dir in ["reference/", "schemas/"] {
        assert!(
            d.lines()
                .any(|l| l.starts_with("COPY ") && !l.contains("--from") && l.contains(dir)),
            "{dir} not copied into the runtime image"
        );
    }
    let user = d
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "{user}"
    );
    // What the build context leaves out must not be needed by the build.
    let ignore = read(".dockerignore");
    for needed in ["reference", "schemas", "crates", "services", "Cargo.lock"] {
        assert!(
            !ignore
                .lines()
                .any(|l| l.trim().trim_end_matches('/') == needed),
            "{needed} is in .dockerignore"
        );
    }
}

#[test]
fn mounted_host_paths_exist_and_named_volumes_are_declared() {
    let c = compose();
    let repo = crate::repo();
    let declared: BTreeSet<String> = c["volumes"]
        .as_hash()
        .map(|h| h.keys().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut mounts = 0;
    for (name, svc) in services(&c) {
        for v in strings(&svc["volumes"]) {
            let host = v.split(':').next().unwrap();
            if host.starts_with("./") || host.starts_with("../") || host.starts_with('/') {
                assert!(!host.starts_with('/'), "{name}: absolute host path {host}");
                let path = repo.join(host);
                assert!(
                    path.exists(),
                    "{name}: {host} does not exist in the repository"
                );
                mounts += 1;
            } else {
                assert!(
                    declared.contains(host),
                    "{name}: volume {host} is not declared"
                );
            }
        }
        if built_from_dockerfile(&svc) {
            assert!(Path::new(&repo.join("Dockerfile")).exists());
        }
    }
    assert!(mounts >= 4, "{mounts}");
    // The entry point mounted into the ClickHouse container must be executable.
    use std::os::unix::fs::PermissionsExt;
    let ep = repo.join("infra/clickhouse/hash-passwords-entrypoint.sh");
    assert!(std::fs::metadata(&ep).unwrap().permissions().mode() & 0o111 != 0);
}

/// `${NAME...}` references in `text`.
fn interpolations(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            rest = &rest[i + 2..]; // `$${...}` is an escaped `$`, for the container's shell
            continue;
        }
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        out.insert(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

#[test]
fn secrets_come_from_the_environment_file_only() {
    let c = compose();
    let text = read("docker-compose.yml");
    let example = read(".env.example");
    let listed: BTreeSet<String> = example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect();
    // Every variable the compose file reads is in .env.example.
    let uncommented: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let vars = interpolations(&uncommented);
    assert!(vars.len() >= 6, "{vars:?}");
    for var in vars {
        assert!(listed.contains(&var), "${{{var}}} is not in .env.example");
    }
    // .env.example sets no password.
    for line in example.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if let Some((k, v)) = line.split_once('=') {
            if k.contains("PASSWORD") {
                assert!(v.trim().is_empty(), "{k} has a value in .env.example");
            }
        }
    }
    // Every password-like value is a required interpolation, never a literal.
    let mut secrets = 0;
    for (name, svc) in services(&c) {
        for (k, v) in environment(&svc) {
            if k.contains("PASSWORD") || k.contains("SECRET") {
                assert!(
                    v.starts_with("${") && v.contains(":?") && v.ends_with('}'),
                    "{name}: {k} is not a required ${{VAR:?...}} from .env"
                );
                secrets += 1;
            }
        }
        assert!(
            svc["env_file"].is_badvalue(),
            "{name}: env_file hands every secret to it"
        );
    }
    assert!(secrets >= 7, "{secrets}");
    // The services write as the writer; only the migration step is the admin.
    for (name, svc) in services(&c) {
        let env = environment(&svc);
        let user = env.iter().find(|(k, _)| k == "GIGSTREAM_CLICKHOUSE_USER");
        if let Some((_, user)) = user {
            let want = if name == "clickhouse-migrate" {
                "gigstream_admin"
            } else {
                "gigstream_writer"
            };
            assert_eq!(user, want, "{name}");
        }
    }
}

#[test]
fn services_start_after_the_init_steps() {
    let c = compose();
    for svc in ["billing", "sla", "market"] {
        let deps = &c["services"][svc]["depends_on"];
        for (dep, cond) in [
            ("kafka-init", "service_completed_successfully"),
            ("clickhouse-migrate", "service_completed_successfully"),
            ("schemas-register", "service_completed_successfully"),
            ("kafka", "service_healthy"),
            ("clickhouse", "service_healthy"),
        ] {
            assert_eq!(
                deps[dep]["condition"].as_str(),
                Some(cond),
                "{svc} -> {dep}"
            );
        }
        assert!(
            !c["services"][svc]["healthcheck"]["test"].is_badvalue(),
            "{svc}"
        );
    }
    for svc in ["kafka", "clickhouse", "grafana"] {
        assert!(
            !c["services"][svc]["healthcheck"]["test"].is_badvalue(),
            "{svc}"
        );
    }
    // kafka-init creates each topic and its .dlq twin.
    let init = strings(&c["services"]["kafka-init"]["command"]).join("\n");
    for t in ["orders", "usage", "telemetry", ".dlq", "--if-not-exists"] {
        assert!(init.contains(t), "kafka-init does not mention {t}");
    }
}

/// The port of an `ADDR:PORT` text.
fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

/// The compose services running a service binary, with the gigstream service name.
fn gigstream_services(c: &Yaml) -> Vec<(String, String, Yaml)> {
    services(c)
        .into_iter()
        .filter_map(|(name, svc)| {
            let cmd = strings(&svc["command"]);
            let service = cmd.first()?.strip_prefix("gigstream-")?.to_string();
            Some((name, service, svc))
        })
        .collect()
}

#[test]
fn prometheus_scrapes_every_service_where_it_listens() {
    let c = compose();
    let prom = &c["services"]["prometheus"];
    let vols = strings(&prom["volumes"]);
    assert!(
        vols.iter()
            .any(|v| v
                .starts_with("./infra/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml")),
        "{vols:?}"
    );
    let cmd = strings(&prom["command"]);
    assert!(
        cmd.contains(&"--config.file=/etc/prometheus/prometheus.yml".to_string()),
        "{cmd:?}"
    );
    assert!(!prom["healthcheck"]["test"].is_badvalue());
    let docs = YamlLoader::load_from_str(&read("infra/prometheus/prometheus.yml")).unwrap();
    let cfg = &docs[0];
    let jobs = cfg["scrape_configs"].as_vec().expect("scrape_configs");
    let job = jobs
        .iter()
        .find(|j| j["job_name"].as_str() == Some("gigstream"))
        .expect("job gigstream");
    assert_eq!(job["metrics_path"].as_str(), Some("/metrics"));
    let sd = &job["dns_sd_configs"][0];
    assert_eq!(sd["type"].as_str(), Some("A"));
    let names: BTreeSet<String> = strings(&sd["names"]).into_iter().collect();
    let scraped_port = sd["port"].as_i64().expect("port") as u16;
    let mut found = BTreeSet::new();
    for (name, service, svc) in gigstream_services(&c) {
        assert!(names.contains(&name), "Prometheus does not look up {name}");
        // Where the container listens: GIGSTREAM_HTTP_LISTEN, its healthcheck and the port
        // Prometheus scrapes agree.
        let env = environment(&svc);
        let listen = env
            .iter()
            .find(|(k, _)| k == "GIGSTREAM_HTTP_LISTEN")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name}: no GIGSTREAM_HTTP_LISTEN"));
        assert!(
            listen.starts_with("0.0.0.0:"),
            "{name}: {listen} is unreachable from Prometheus"
        );
        assert_eq!(port_of(&listen), scraped_port, "{name}");
        let health = strings(&svc["healthcheck"]["test"]).join(" ");
        assert!(
            health.contains(&format!(":{scraped_port}/health")),
            "{name}: {health}"
        );
        // The host port is the service's own default port, where the docs' Prometheus finds
        // a binary started on the host.
        let ports = strings(&svc["ports"]);
        let host: Vec<u16> = ports
            .iter()
            .map(|p| p.split(':').nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            host,
            vec![gigstream_config::service_port(&service)],
            "{name}: {ports:?}"
        );
        assert!(
            ports[0].ends_with(&format!(":{scraped_port}")),
            "{name}: {ports:?}"
        );
        found.insert(service);
    }
    assert_eq!(found.len(), 3, "{found:?}");
    // Grafana's second data source is this Prometheus.
    let ds = read("infra/grafana/provisioning/datasources/prometheus.yaml");
    let ds = &YamlLoader::load_from_str(&ds).unwrap()[0]["datasources"][0];
    assert_eq!(ds["type"].as_str(), Some("prometheus"));
    assert_eq!(ds["uid"].as_str(), Some("gigstream-prometheus"));
    let prom_port = strings(&prom["ports"])[0]
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        ds["url"].as_str(),
        Some(format!("http://prometheus:{prom_port}").as_str())
    );
    let grafana_deps = &c["services"]["grafana"]["depends_on"];
    assert!(!grafana_deps["prometheus"].is_badvalue());
    assert!(strings(&c["services"]["grafana"]["volumes"])
        .iter()
        .any(|v| v.starts_with("./infra/grafana/provisioning:")));
}

#[test]
fn the_host_example_of_prometheus_lists_the_ports_the_binaries_take() {
    let docs = YamlLoader::load_from_str(&read("infra/prometheus/prometheus.host.yml")).unwrap();
    let job = &docs[0]["scrape_configs"][0];
    assert_eq!(job["job_name"].as_str(), Some("gigstream"));
    let defaults = gigstream_config::Config::default();
    let mut listed = 0;
    for group in job["static_configs"].as_vec().unwrap() {
        let service = group["labels"]["port_of"].as_str().unwrap();
        let targets = strings(&group["targets"]);
        let plan = defaults.http.listen_plan(service);
        let want: Vec<String> = plan
            .addresses
            .iter()
            .take(targets.len())
            .map(|a| a.to_string())
            .collect();
        assert_eq!(targets, want, "{service}");
        assert!(targets.len() >= 2, "{service}: room for a second instance");
        listed += 1;
    }
    assert_eq!(listed, 3);
}

#[test]
fn the_producer_loads_the_demo_data_from_the_image_on_demand() {
    let c = compose();
    let p = &c["services"]["producer"];
    assert_eq!(strings(&p["profiles"]), vec!["producer".to_string()]);
    assert!(built_from_dockerfile(p));
    let cmd = strings(&p["command"]);
    assert_eq!(
        &cmd[..2],
        &["gigstream".to_string(), "produce".to_string()],
        "{cmd:?}"
    );
    assert_eq!(p["restart"].as_str(), Some("no"));
    assert_eq!(
        p["depends_on"]["kafka-init"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
    let env = environment(p);
    assert!(env
        .iter()
        .any(|(k, v)| k == "GIGSTREAM_KAFKA_BROKERS" && v == "kafka:19092"));
    assert!(env.iter().any(|(k, _)| k == "GIGSTREAM_KAFKA_TOPIC_PREFIX"));
}

#[test]
fn topics_keep_backdated_records_and_groups_are_named() {
    let c = compose();
    let init = strings(&c["services"]["kafka-init"]["command"]).join("\n");
    for want in [
        "--config retention.ms=-1",
        "--config retention.bytes=-1",
        "kafka-configs.sh",
        "--add-config",
    ] {
        assert!(init.contains(want), "kafka-init does not set {want}");
    }
    let env = environment(&c["services"]["kafka-init"]);
    assert!(env
        .iter()
        .any(|(k, v)| k == "RETENTION" && v == "retention.ms=-1,retention.bytes=-1"));
    for (name, _, svc) in gigstream_services(&c) {
        let env = environment(&svc);
        let group = env
            .iter()
            .find(|(k, _)| k == "GIGSTREAM_KAFKA_GROUP_ID")
            .unwrap_or_else(|| panic!("{name}: no GIGSTREAM_KAFKA_GROUP_ID"));
        assert_eq!(group.1, "${GIGSTREAM_KAFKA_GROUP_ID:-}", "{name}");
    }
    // Empty means the default group names.
    let vars = [
        (
            "GIGSTREAM_KAFKA_BROKERS".to_string(),
            "kafka:19092".to_string(),
        ),
        ("GIGSTREAM_KAFKA_GROUP_ID".to_string(), String::new()),
    ]
    .into();
    let k = gigstream_config::Config::load_from(None, &vars)
        .unwrap()
        .config
        .kafka()
        .unwrap();
    assert_eq!(k.group_of("sla"), "gigstream-sla");
}

/// The services, the producer and the registration step use the compose registry, at the
/// path of its Confluent API; the registry keeps its data in Kafka (ids survive restarts), and
/// the registration checks BACKWARD_TRANSITIVE before the services start.
#[test]
fn the_schema_registry_is_used_by_the_services_the_producer_and_the_init_step() {
    let c = compose();
    let reg = &c["services"]["schema-registry"];
    let env = environment(reg);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("APICURIO_STORAGE_KIND").as_deref(), Some("kafkasql"));
    assert_eq!(
        get("APICURIO_KAFKASQL_BOOTSTRAP_SERVERS").as_deref(),
        Some("kafka:19092")
    );
    assert!(!reg["healthcheck"]["test"].is_badvalue());
    let url = "http://schema-registry:8080/apis/ccompat/v7";
    for svc in ["billing", "sla", "market", "producer", "schemas-register"] {
        let env = environment(&c["services"][svc]);
        assert!(
            env.iter()
                .any(|(k, v)| k == "GIGSTREAM_SCHEMA_REGISTRY_URL" && v == url),
            "{svc} does not read the registry at {url}: {env:?}"
        );
    }
    let init = &c["services"]["schemas-register"];
    assert_eq!(
        strings(&init["command"]),
        ["gigstream", "schemas", "register", "--set-compatibility"].map(String::from)
    );
    assert_eq!(
        init["depends_on"]["schema-registry"]["condition"].as_str(),
        Some("service_healthy")
    );
    assert_eq!(
        c["services"]["producer"]["depends_on"]["schemas-register"]["condition"].as_str(),
        Some("service_completed_successfully")
    );
}
