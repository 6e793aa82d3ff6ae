//! The README opens with the two commands a newcomer runs, and CI runs the second one.

fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .nth(1)
        .expect("README starts with a sh block")
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(|l| l.split('#').next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

pub(crate) fn readme_opens_with_demo_and_test_commands() {
    let cmds = readme_commands();
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert!(
        cmds[0].contains("gigstream") && cmds[0].ends_with("demo"),
        "{}",
        cmds[0]
    );
    assert!(cmds[1].starts_with("cargo test"), "{}", cmds[1]);
}

pub(crate) fn ci_runs_the_readme_test_command() {
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run")).unwrap();
    let test_cmd = &readme_commands()[1];
    assert!(
        ci.lines().any(|l| l.trim().starts_with(test_cmd.as_str())),
        "{test_cmd} not in .ci/run"
    );
}
