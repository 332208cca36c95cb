//! deploy/: the KubeBlocks manifests validate against the KubeBlocks and Prometheus Operator CRD
//! schemas with kubeconform (a broken copy fails); the commands, flags, env names, endpoints and
//! ports the manifests use are the ones the binary accepts; the static (musl) binary runs with no
//! shared libraries; the Dockerfile follows the rules its image relies on.
//!
//! kubeconform and the musl target are installed by scripts/test.sh (KUBECONFORM points at it).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::root;
use serde::Deserialize;
use serde_yaml::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rocketmq-sidecar");

fn kubeconform(paths: &[&Path]) -> Output {
    let tool =
        std::env::var("KUBECONFORM").unwrap_or_else(|_| root().join(".cache/bin/kubeconform").display().to_string());
    let schemas = root().join("tests/data/schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json");
    Command::new(&tool)
        .args(["-strict", "-summary", "-output", "text", "-schema-location"])
        .arg(schemas)
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubeconform ({tool}): {e}; scripts/test.sh installs it"))
}

fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root().join("deploy/kubeblocks")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(out.len() >= 6, "{out:?}");
    out
}

fn documents() -> Vec<(PathBuf, Value)> {
    manifests()
        .into_iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            serde_yaml::Deserializer::from_str(&text)
                .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
                .map(|v| (path.clone(), v))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_manifest_validates_against_the_crd_schemas() {
    let paths = manifests();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let out = kubeconform(&refs);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let docs = documents().len();
    assert!(text.contains(&format!("Valid: {docs}, Invalid: 0, Errors: 0, Skipped: 0")), "{docs} documents: {text}");
}

#[test]
fn a_broken_copy_fails_validation() {
    let dir = common::scratch("deploy-broken");
    let original = std::fs::read_to_string(root().join("deploy/kubeblocks/exec/componentdefinition.yaml")).unwrap();
    for (what, from, to) in [
        ("wrong type", "periodSeconds: 2\n", "periodSeconds: two\n"),
        ("unknown field", "      exec:\n", "      exec:\n        commandz: [x]\n"),
        ("wrong enum", "updateStrategy: BestEffortParallel", "updateStrategy: Sometimes"),
    ] {
        assert!(original.contains(from), "{what}: {from:?} not in the manifest");
        let broken = dir.join(format!("{}.yaml", what.replace(' ', "-")));
        std::fs::write(&broken, original.replacen(from, to, 1)).unwrap();
        let out = kubeconform(&[&broken]);
        assert!(!out.status.success(), "{what}: a broken copy passed:\n{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// `serve --help` (flags, env names, endpoints) and each subcommand's `--help`.
fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?} --help: {}{text}", String::from_utf8_lossy(&out.stderr));
    text
}

fn seq(v: &Value) -> Vec<&Value> {
    v.as_sequence().map(|s| s.iter().collect()).unwrap_or_default()
}

fn strs(v: &Value) -> Vec<String> {
    seq(v).iter().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// Every action in a lifecycleActions map, with its name.
fn actions(doc: &Value) -> Vec<(String, &Value)> {
    let Some(map) = doc["spec"]["lifecycleActions"].as_mapping() else { return Vec::new() };
    map.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v)).collect()
}

/// `GET <route>` is in the endpoint list, followed by a space, `[` or `?` (not a longer path).
fn served(help: &str, route: &str) -> bool {
    help.match_indices(&format!("GET {route}"))
        .any(|(i, m)| matches!(help[i + m.len()..].chars().next(), Some(' ' | '[' | '?')))
}

#[test]
fn the_commands_flags_env_and_endpoints_in_the_manifests_are_the_binarys() {
    let serve_help = help(&["serve"]);
    let mut checked = 0;
    for (path, doc) in documents() {
        let file = path.display().to_string();
        // Exec actions and container commands: the binary parses them (unknown flags fail before --help).
        let mut commands: Vec<Vec<String>> = Vec::new();
        for (name, action) in actions(&doc) {
            if !action["exec"].is_null() {
                commands.push(strs(&action["exec"]["command"]));
            }
            if !action["http"].is_null() {
                let target = action["http"]["path"].as_str().unwrap();
                let route = target.split('?').next().unwrap();
                assert!(served(&serve_help, route), "{file}: {name} calls {route}, not served");
                assert_eq!(action["http"]["port"].as_str(), Some("9897"), "{file}: {name}");
                if let Some(query) = target.split_once('?').map(|(_, q)| q) {
                    for param in query.split('&').map(|p| p.split('=').next().unwrap()) {
                        assert!(serve_help.contains(param), "{file}: {name}: query parameter {param} undocumented");
                    }
                }
                checked += 1;
            }
        }
        let runtime = &doc["spec"]["runtime"];
        for c in seq(&runtime["containers"]).into_iter().chain(seq(&runtime["initContainers"])) {
            let command = strs(&c["command"]);
            if !command.first().is_some_and(|c| c.ends_with("rocketmq-sidecar")) {
                continue;
            }
            for e in seq(&c["env"]) {
                let name = e["name"].as_str().unwrap();
                assert!(serve_help.contains(&format!("[env: {name}=")), "{file}: env {name} is not read by serve");
                checked += 1;
            }
            for probe in ["livenessProbe", "readinessProbe"] {
                if let Some(p) = c[probe]["httpGet"]["path"].as_str() {
                    assert!(served(&serve_help, p), "{file}: {probe} {p} not served");
                }
            }
            commands.push(command);
        }
        for command in commands {
            let (program, args) = command.split_first().unwrap();
            assert!(program.ends_with("/rocketmq-sidecar"), "{file}: {program}");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            help(&args);
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} things checked");
    // The ports the manifests open are the binary's defaults / the addon's agent port.
    assert!(serve_help.contains("[default: 0.0.0.0:9897]"), "{serve_help}");
}

#[test]
fn the_static_musl_binary_runs_with_no_shared_libraries() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = "x86_64-unknown-linux-musl";
    let build = Command::new(cargo)
        .current_dir(root())
        .args(["build", "--release", "--locked", "--bin", "rocketmq-sidecar", "--target", target])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "musl build failed (scripts/test.sh adds the target with rustup):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let bin = root().join(format!("target/{target}/release/rocketmq-sidecar"));
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    assert!(said.contains("not a dynamic executable") || said.contains("statically linked"), "ldd: {said}");
    // No environment, no library path, from an empty directory: it still runs.
    let empty = common::scratch("deploy-bare");
    let out = Command::new(&bin).arg("--version").env_clear().current_dir(&empty).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rocketmq-sidecar "));
    // `install` (the init container's job) copies it into a shared directory, still runnable.
    let shared = common::scratch("deploy-install");
    let out = Command::new(&bin).args(["install", shared.to_str().unwrap()]).env_clear().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = Command::new(shared.join("rocketmq-sidecar")).arg("--version").env_clear().output().unwrap();
    assert_eq!(copy.stdout, Command::new(&bin).arg("--version").output().unwrap().stdout);
    let size = std::fs::metadata(&bin).unwrap().len();
    assert!(size < 20 << 20, "the image is this binary on scratch; {size} bytes is over 20 MiB");
    eprintln!("static binary: {size} bytes; ldd: {}", said.trim());
}

#[test]
fn the_dockerfile_builds_a_static_non_root_image_from_pinned_bases() {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let froms: Vec<&str> = lines.iter().filter(|l| l.starts_with("FROM ")).copied().collect();
    assert_eq!(froms.len(), 2, "multi-stage: a build stage and a runtime stage");
    for from in &froms {
        let image = from.split_whitespace().nth(1).unwrap();
        assert!(image == "scratch" || (image.contains(':') && !image.ends_with(":latest")), "unpinned base {image}");
    }
    assert_eq!(froms[1], "FROM scratch", "the runtime image has nothing but the binary");
    let runtime = &lines[lines.iter().position(|l| *l == "FROM scratch").unwrap()..];
    let user = runtime.iter().find_map(|l| l.strip_prefix("USER ")).expect("USER in the runtime stage");
    let uid: u32 = user.split(':').next().unwrap().parse().expect("numeric USER (no passwd file in scratch)");
    assert_ne!(uid, 0, "non-root");
    assert!(!lines.iter().any(|l| l.starts_with("ADD ")), "COPY, not ADD");
    assert!(runtime.iter().any(|l| l.starts_with("ENTRYPOINT [\"/rocketmq-sidecar\"]")), "exec-form entrypoint");
    assert!(text.contains("--locked"), "reproducible dependency versions");
    // The manifests run the path the image puts the binary at.
    for (path, doc) in documents() {
        for c in
            seq(&doc["spec"]["runtime"]["containers"]).into_iter().chain(seq(&doc["spec"]["runtime"]["initContainers"]))
        {
            if c["image"].as_str().is_some_and(|i| i.contains("rocketmq-sidecar")) {
                assert_eq!(
                    strs(&c["command"]).first().map(String::as_str),
                    Some("/rocketmq-sidecar"),
                    "{}",
                    path.display()
                );
                assert_eq!(c["securityContext"]["runAsNonRoot"].as_bool(), Some(true), "{}", path.display());
                assert_eq!(c["securityContext"]["readOnlyRootFilesystem"].as_bool(), Some(true), "{}", path.display());
            }
        }
    }
}
