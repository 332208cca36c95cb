//! deploy/: the KubeBlocks manifests, as `kubectl apply -k` renders them for KubeBlocks 1.0.2 and
//! 1.2, validate strictly against that version's CRD schemas and the Prometheus Operator's with
//! kubeconform (a broken copy fails; the 1.0 files do not pass as 1.2 ones); the ParametersDefinitions'
//! lists are the sidecar's catalog; the commands, flags, env names, endpoints and
//! ports the manifests use are the ones the binary accepts; the static (musl) binary runs with no
//! shared libraries; the Dockerfile follows the rules its image relies on.
//!
//! kubeconform and the musl target are installed by scripts/test.sh (KUBECONFORM points at it).
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::kb::{rendered, yaml_documents};
use common::root;
use serde_yaml::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rocketmq-sidecar");

/// The KubeBlocks versions deploy/ supports, each with the kustomizations a user applies on it.
const SETS: [(&str, &[&str]); 2] = [("1.0.2", &["exec", "http"]), ("1.2.0-alpha.3", &["kb-1.2/exec", "kb-1.2/http"])];

/// Files applied as they are, on every version.
const PLAIN: [&str; 3] = ["cluster-example.yaml", "podmonitor.yaml", "prometheusrule.yaml"];

fn kubeconform(kb_version: &str, paths: &[&Path]) -> Output {
    let tool =
        std::env::var("KUBECONFORM").unwrap_or_else(|_| root().join(".cache/bin/kubeconform").display().to_string());
    let layout = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json";
    let schemas = root().join("tests/data/schemas");
    Command::new(&tool)
        .args(["-strict", "-summary", "-output", "text", "-schema-location"])
        .arg(schemas.join(format!("kubeblocks-{kb_version}/{layout}")))
        .arg("-schema-location")
        .arg(schemas.join(format!("shared/{layout}")))
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubeconform ({tool}): {e}; scripts/test.sh installs it"))
}

/// Every file a user applies on `kb_version`: the rendered kustomizations and the plain files.
fn manifests(kb_version: &str) -> Vec<PathBuf> {
    let (_, dirs) = SETS.iter().find(|(v, _)| *v == kb_version).unwrap();
    let mut out: Vec<PathBuf> = dirs.iter().map(|d| rendered(d)).collect();
    out.extend(PLAIN.iter().map(|f| root().join("deploy/kubeblocks").join(f)));
    out
}

fn documents() -> Vec<(PathBuf, Value)> {
    SETS.iter()
        .flat_map(|(v, _)| manifests(v))
        .flat_map(|path| yaml_documents(&path).into_iter().map(move |v| (path.clone(), v)))
        .collect()
}

#[test]
fn every_manifest_validates_against_the_crd_schemas_of_each_kubeblocks_version() {
    for (version, _) in SETS {
        let paths = manifests(version);
        let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        let out = kubeconform(version, &refs);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "KubeBlocks {version}: {text}");
        let docs: usize = paths.iter().map(|p| yaml_documents(p).len()).sum();
        assert!(docs >= 9, "{docs}");
        let valid = format!("Valid: {docs}, Invalid: 0, Errors: 0, Skipped: 0");
        assert!(text.contains(&valid), "KubeBlocks {version}: {docs} documents: {text}");
    }
}

#[test]
fn the_1_0_manifests_do_not_pass_as_1_2_ones() {
    // 1.2 renamed systemAccounts[].passwordGenerationPolicy: the overlays exist for a reason.
    let out = kubeconform("1.2.0-alpha.3", &[&rendered("http")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success() && text.contains("passwordGenerationPolicy"), "{text}");
    // Nor the 1.2 ones as 1.0 ones: 1.0.2 has neither passwordConfig nor configs[].reconfigure.
    let out = kubeconform("1.0.2", &[&rendered("kb-1.2/exec")]);
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let has_reconfigure = |version: &str| {
        let path = format!("tests/data/schemas/kubeblocks-{version}/apps.kubeblocks.io/componentdefinition_v1.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(path)).unwrap()).unwrap();
        !schema["properties"]["spec"]["properties"]["configs"]["items"]["properties"]["reconfigure"].is_null()
    };
    assert!(!has_reconfigure("1.0.2") && has_reconfigure("1.2.0-alpha.3"));
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
        for (version, _) in SETS {
            let out = kubeconform(version, &[&broken]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{what}: a broken copy passed on {version}:\n{text}");
        }
    }
}

/// The ParametersDefinitions' lists are the sidecar's own catalog of 4.9.6: dynamic = what 4.9.6
/// really applies live and the sidecar sends; immutable = the per-broker identity keys of the addon's
/// schema; static = every other key 4.9.6 has (a change restarts the pods).
#[test]
fn the_parameters_definitions_lists_are_the_catalogs() {
    let out = Command::new(BIN).args(["config", "params", "--release", "4.9.6", "--json"]).output().unwrap();
    let catalog: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let field = |p: &serde_json::Value, k: &str| p[k].as_str().unwrap_or_default().to_string();
    let present: Vec<&serde_json::Value> = catalog.iter().filter(|p| field(p, "effect") != "absent").collect();
    let immutable: Vec<String> = present
        .iter()
        .filter(|p| field(p, "scope") == "static" && p["inAddonSchema"] == true)
        .map(|p| field(p, "name"))
        .collect();
    let dynamic: Vec<String> = present
        .iter()
        .filter(|p| field(p, "effect") == "live" && field(p, "reloader") == "sent live")
        .map(|p| field(p, "name"))
        .collect();
    let fixed: Vec<String> =
        present.iter().map(|p| field(p, "name")).filter(|n| !immutable.contains(n) && !dynamic.contains(n)).collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    // The table's "kb" column (`kbScope`) says the same as the lists.
    for p in &present {
        let name = field(p, "name");
        let list = if dynamic.contains(&name) {
            "dynamic"
        } else if immutable.contains(&name) {
            "immutable"
        } else {
            "static"
        };
        assert_eq!(field(p, "kbScope"), list, "{name}");
    }
    let mut checked = 0;
    for (path, doc) in documents() {
        if doc["kind"] != "ParametersDefinition" {
            continue;
        }
        let file = path.display();
        assert_eq!(sorted(strs(&doc["spec"]["dynamicParameters"])), sorted(dynamic.clone()), "{file}: dynamic");
        assert_eq!(sorted(strs(&doc["spec"]["immutableParameters"])), sorted(immutable.clone()), "{file}");
        assert_eq!(sorted(strs(&doc["spec"]["staticParameters"])), sorted(fixed.clone()), "{file}: static");
        for hazard in ["flushDiskType", "brokerRole", "mappedFileSizeCommitLog", "transientStorePoolEnable"] {
            assert!(!dynamic.contains(&hazard.to_string()), "{hazard} must never be dynamic");
        }
        checked += 1;
    }
    assert_eq!(checked, 4, "one ParametersDefinition per variant and version");
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

/// Every action of a definition with its name: lifecycleActions and the config templates' own
/// `reconfigure` (KubeBlocks 1.2).
fn actions(doc: &Value) -> Vec<(String, &Value)> {
    let mut out: Vec<(String, &Value)> = Vec::new();
    if let Some(map) = doc["spec"]["lifecycleActions"].as_mapping() {
        out.extend(map.iter().map(|(k, v)| (k.as_str().unwrap().to_string(), v)));
    }
    for tpl in seq(&doc["spec"]["configs"]) {
        if !tpl["reconfigure"].is_null() {
            out.push((format!("configs[{}].reconfigure", tpl["name"].as_str().unwrap_or("?")), &tpl["reconfigure"]));
        }
    }
    out
}

/// `GET <route>` is in the endpoint list, followed by a space, `[` or `?` (not a longer path).
fn served(help: &str, route: &str) -> bool {
    served_as(help, "GET", route)
}

fn served_as(help: &str, method: &str, route: &str) -> bool {
    help.match_indices(&format!("{method} {route}"))
        .any(|(i, m)| matches!(help[i + m.len()..].chars().next(), Some(' ' | '[' | '?')))
}

/// The loopback-only port the HTTP variant's sidecar serves `POST /pre-terminate` on.
const LOCAL_LISTEN: &str = "127.0.0.1:9898";

#[test]
fn the_commands_flags_env_and_endpoints_in_the_manifests_are_the_binarys() {
    let serve_help = help(&["serve"]);
    let (mut checked, mut local_posts, mut local_listeners) = (0, 0, 0);
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
                let method = action["http"]["method"].as_str().unwrap_or("GET");
                assert!(served_as(&serve_help, method, route), "{file}: {name} calls {method} {route}, not served");
                // What changes the broker is served only on the loopback listener; the rest on 9897.
                let port = if method == "GET" { "9897" } else { LOCAL_LISTEN.rsplit(':').next().unwrap() };
                assert_eq!(action["http"]["port"].as_str(), Some(port), "{file}: {name}");
                if method != "GET" {
                    assert!(action["http"]["host"].is_null(), "{file}: {name}: kbagent's default host is 127.0.0.1");
                    local_posts += 1;
                }
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
                if name == "ROCKETMQ_SIDECAR_LOCAL_LISTEN" {
                    assert_eq!(e["value"].as_str(), Some(LOCAL_LISTEN), "{file}: loopback only");
                    local_listeners += 1;
                }
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
    // Every HTTP ComponentDefinition (1.0 and 1.2 sets) opens the loopback listener its POSTs need.
    assert!(local_posts >= 2 && local_listeners >= 2, "{local_posts} POST actions, {local_listeners} listeners");
    // The ports the manifests open are the binary's defaults / the addon's agent port.
    assert!(serve_help.contains("[default: 0.0.0.0:9897]"), "{serve_help}");
}

#[test]
fn the_static_musl_binary_runs_with_no_shared_libraries() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = "x86_64-unknown-linux-musl";
    let mut build = Command::new(cargo);
    // The release build's settings, unoptimized and without LTO (Cargo.toml says why).
    let profile = "static-check";
    let bin_args = ["--bin", "rocketmq-sidecar", "--target", target];
    build.current_dir(root()).args(["build", "--profile", profile, "--locked"]).args(bin_args);
    // Without the variables cargo sets for a test process: ring's build script is fingerprinted on
    // CARGO_MANIFEST_DIR, so with them this build would redo the one scripts/test.sh just made.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            build.env_remove(key);
        }
    }
    let build = build.output().unwrap();
    assert!(
        build.status.success(),
        "musl build failed (scripts/test.sh adds the target with rustup):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let bin = target_dir.join(format!("{target}/{profile}/rocketmq-sidecar"));
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
    // The image is the release build of this binary on scratch, about half this unoptimized one's size.
    assert!(size < 20 << 20, "the image is this binary on scratch; {size} bytes unoptimized is over 20 MiB");
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

/// The alerts in deploy/kubeblocks/prometheusrule.yaml parse as Prometheus rules (`promtool check
/// rules`) and fire exactly when their unit tests say (`promtool test rules` with
/// tests/data/prometheus/rules_test.yaml: each alert fed the series it is for, silent before its
/// `for`, firing after, with its labels and rendered annotations).
#[test]
fn the_prometheus_rules_pass_promtool_check_and_their_unit_tests() {
    let tool = std::env::var("PROMTOOL").unwrap_or_else(|_| root().join(".cache/bin/promtool").display().to_string());
    let rule: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root().join("deploy/kubeblocks/prometheusrule.yaml")).unwrap())
            .unwrap();
    let dir = common::scratch("promtool");
    let mut groups = serde_yaml::Mapping::new();
    groups.insert("groups".into(), rule["spec"]["groups"].clone());
    std::fs::write(dir.join("rules.yaml"), serde_yaml::to_string(&groups).unwrap()).unwrap();
    std::fs::copy(root().join("tests/data/prometheus/rules_test.yaml"), dir.join("rules_test.yaml")).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&tool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run promtool ({tool}): {e}; scripts/tools.sh builds it"));
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {args:?}: {text}");
        text
    };
    let checked = run(&["check", "rules", "rules.yaml"]);
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
    let tested = run(&["test", "rules", "rules_test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // Every alert has a unit test.
    let tests = std::fs::read_to_string(dir.join("rules_test.yaml")).unwrap();
    for r in seq(&groups["groups"]).iter().flat_map(|g| seq(&g["rules"])) {
        let name = r["alert"].as_str().unwrap();
        assert!(tests.contains(&format!("alertname: {name}\n")), "{name} has no unit test");
    }
}
