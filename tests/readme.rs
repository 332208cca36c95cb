//! README's configuration reference is generated from the command line's own definitions; this
//! test fails when they drift. `UPDATE_README=1 cargo test --test readme` rewrites the section.
use rocketmq_sidecar::cli::reference_markdown;

const START: &str = "<!-- config-reference:start (generated: UPDATE_README=1 cargo test --test readme) -->\n";
const END: &str = "<!-- config-reference:end -->";

#[test]
fn the_configuration_reference_in_readme_is_the_binarys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (a, b) =
        (readme.find(START).expect("README has the reference start marker"), readme.find(END).expect("end marker"));
    let current = &readme[a + START.len()..b];
    let generated = reference_markdown();
    if current == generated {
        return;
    }
    if std::env::var("UPDATE_README").as_deref() == Ok("1") {
        std::fs::write(path, format!("{}{START}{generated}{}", &readme[..a], &readme[b..])).unwrap();
        return;
    }
    panic!("README's configuration reference is out of date; run UPDATE_README=1 cargo test --test readme");
}

#[test]
fn every_flag_and_env_var_of_every_command_is_in_the_reference() {
    let reference = reference_markdown();
    for needle in [
        "`rocketmq-sidecar scale-in check`",
        "`--quiet-window`",
        "`ROCKETMQ_SIDECAR_QUIET_WINDOW`",
        "`--accept-offline-broadcast-loss`",
        "`rocketmq-sidecar install`",
        "`rocketmq-sidecar seed`",
        "`--from`",
        "`NAMESRV_ADDR`",
        "`ROCKETMQ_SIDECAR_LOG`",
        "`--metrics-max-series`",
    ] {
        assert!(reference.contains(needle), "missing {needle}");
    }
    assert!(!reference.contains("--secret-key`"), "the refused --secret-key flag is not advertised");
}
