//! The crate's parameter catalog against the addon's schema (tests/data/rocketmq-params.tsv,
//! a copy of the reference TSV), row by row; and the catalog's own invariants.

use rocketmq_sidecar::params::{check, Effect, JavaType, SchemaType, Scope, CATALOG, EXTRA};

const TSV: &str = include_str!("data/rocketmq-params.tsv");

#[test]
fn catalog_matches_the_addon_schema_row_by_row() {
    let mut lines = TSV.lines();
    assert_eq!(lines.next(), Some("name\ttype\tdefault\tconstraint\tkind"));
    let rows: Vec<Vec<&str>> = lines.filter(|l| !l.is_empty()).map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), CATALOG.len(), "row count");
    for (row, param) in rows.iter().zip(CATALOG) {
        let schema = match param.schema {
            SchemaType::Int => "int",
            SchemaType::Bool => "bool",
            SchemaType::Str => "string",
        };
        let scope = match param.scope {
            Scope::Dyn => "dynamic",
            Scope::Static => "static",
        };
        assert_eq!(
            row.as_slice(),
            [param.name, schema, param.default, param.constraint, scope],
            "row for {}",
            param.name
        );
    }
}

#[test]
fn counts_and_classification() {
    let dynamic = CATALOG.iter().filter(|p| p.scope == Scope::Dyn).count();
    assert_eq!((CATALOG.len(), dynamic), (177, 163));
    let count = |e: Effect| CATALOG.iter().filter(|p| p.scope == Scope::Dyn && p.effect == e).count();
    // The seed's "165+ parameters can be updated live" does not hold for 4.9.6:
    let (live, startup, unused, hazardous, absent) = (
        count(Effect::Live),
        count(Effect::Startup),
        count(Effect::Unused),
        count(Effect::Hazardous),
        count(Effect::Absent),
    );
    assert_eq!(live + startup + unused + hazardous + absent, 163);
    assert_eq!((hazardous, absent), (4, 2), "flushDiskType, mappedFileSize x2, transientStorePoolEnable; 2 absent");
    eprintln!(
        "dynamic: {live} live, {startup} persisted-only, {unused} unused, {hazardous} hazardous, {absent} absent"
    );
    let sendable = CATALOG.iter().filter(|p| p.sendable()).count();
    assert_eq!(sendable, live + startup + unused);
    for name in [
        "flushDiskType",
        "brokerRole",
        "brokerName",
        "brokerId",
        "listenPort",
        "brokerIP1",
        "storePathRootDir",
        "mappedFileSizeCommitLog",
        "mappedFileSizeConsumeQueue",
        "brokerClusterName",
    ] {
        let p = CATALOG.iter().find(|p| p.name == name).unwrap();
        assert!(!p.sendable(), "{name} must never be sent live");
        assert!(!p.note.is_empty() || p.scope == Scope::Static, "{name} says why");
    }
    assert!(EXTRA.iter().all(|p| !p.sendable()));
}

#[test]
fn every_default_validates_except_documented_gaps() {
    for p in CATALOG.iter().chain(EXTRA) {
        if p.default.is_empty() || p.java == JavaType::JNone {
            continue;
        }
        if let Err(e) = check(p.name, p.default) {
            panic!("default of {} does not validate: {e}", p.name);
        }
    }
}
