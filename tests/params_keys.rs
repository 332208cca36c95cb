//! The per-release parameter lists (src/params/keys/*.tsv) are what the official jars say: each
//! is generated again from that release's jars (scripts/param-keys.sh, reflection in
//! scripts/java/ParamKeys.java) and compared line by line. The hand-verified 4.9.6 catalog's
//! Java types must agree with the 4.9.6 list.

use std::collections::BTreeMap;
use std::process::Command;

use rocketmq_sidecar::params::{JavaType, Release, CATALOG, EXTRA};

mod common;

fn from_jars(release: Release) -> String {
    let out = Command::new("bash")
        .arg(common::root().join("scripts/param-keys.sh"))
        .args(["--check", release.name()])
        .output()
        .expect("run scripts/param-keys.sh");
    assert!(out.status.success(), "param-keys.sh --check {release}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_checked_in_key_list_is_what_the_jars_say() {
    for release in Release::ALL {
        let jars = from_jars(release);
        assert!(
            jars == release.keys_tsv(),
            "src/params/keys/{release}.tsv differs from the {release} jars: run scripts/param-keys.sh {release}\n{}",
            first_difference(release.keys_tsv(), &jars)
        );
    }
}

fn first_difference(checked_in: &str, jars: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (checked_in.lines().collect(), jars.lines().collect());
    match a.iter().zip(&b).position(|(x, y)| x != y) {
        Some(i) => format!("line {}: checked in {:?}, jars {:?}", i + 1, a[i], b[i]),
        None => format!("{} lines checked in, {} from the jars", a.len(), b.len()),
    }
}

#[test]
fn the_4_9_6_catalog_has_the_jars_keys_and_types() {
    let jars: BTreeMap<&str, &str> = Release::V4_9_6
        .keys_tsv()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, cols.next()?))
        })
        .collect();
    let mut named = 0;
    for p in CATALOG.iter().chain(EXTRA) {
        let want = match p.java {
            JavaType::JNone => {
                assert!(!jars.contains_key(p.name), "{} is marked absent in 4.9.6 but the jars have it", p.name);
                continue;
            }
            JavaType::JInt => "int",
            JavaType::JLong => "long",
            JavaType::JBool => "boolean",
            JavaType::JStr | JavaType::JEnum => "String",
            JavaType::JFloat => "double",
        };
        assert_eq!(jars.get(p.name).copied(), Some(want), "Java type of {}", p.name);
        named += 1;
    }
    assert_eq!(named, jars.len(), "every key the 4.9.6 jars can set is in the catalog");
}

#[test]
fn five_x_lists_grow_and_every_hazard_is_kept() {
    let counts: Vec<usize> = Release::ALL.iter().map(|r| r.params().len()).collect();
    assert_eq!(counts, [CATALOG.len() + EXTRA.len(), 363, 416, 492]);
    for release in [Release::V5_1_4, Release::V5_3_3, Release::V5_5_0] {
        for name in ["flushDiskType", "mappedFileSizeCommitLog", "mappedFileSizeConsumeQueue", "brokerName", "brokerId"]
        {
            let p = release.lookup(name).unwrap();
            assert!(!p.sendable(), "{name} is never sent live on {release}");
        }
    }
}
