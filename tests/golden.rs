//! Replays frames captured from a real RocketMQ 4.9.6 cluster (proto/golden, made by
//! scripts/capture-golden.sh) and signatures computed by the official Java client
//! (proto/acl-vectors.jsonl). Runs without Java.
use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use rocketmq_sidecar::admin::{runtime_info_from_body, ClusterInfo};
use rocketmq_sidecar::remoting::properties::parse_config_body;
use rocketmq_sidecar::remoting::{encode, sign, split_frame, Command, Credentials, SerializeType, DEFAULT_MAX_FRAME};

fn golden(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/golden").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn decode(name: &str) -> Command {
    let bytes = golden(name);
    let (cmd, used) = split_frame(&bytes, DEFAULT_MAX_FRAME).unwrap().expect("complete frame");
    assert_eq!(used, bytes.len(), "{name}: one frame, no trailing bytes");
    cmd
}

#[test]
fn requests_we_send_are_byte_exact() {
    for case in [
        "get-broker-config-master",
        "get-broker-config-slave",
        "get-broker-runtime-info",
        "get-broker-cluster-info",
        "get-broker-config-rocketmq-header",
        "acl-signed-get-broker-config",
        "acl-unsigned-refused",
        "unsupported-request-code",
    ] {
        let name = format!("{case}.request.bin");
        let cmd = decode(&name);
        assert!(!cmd.is_response());
        assert_eq!(encode(&cmd).unwrap(), golden(&name), "{name} re-encodes to the same bytes");
    }
}

#[test]
fn master_config_has_every_key_and_the_master_role() {
    let resp = decode("get-broker-config-master.response.bin");
    assert_eq!((resp.code, resp.opaque, resp.is_response()), (0, 1, true));
    assert_eq!(resp.serialize_type, SerializeType::Json);
    assert!(resp.ext_fields["version"].contains("counter"), "DataVersion JSON in ext 'version'");
    let config = parse_config_body(&resp.body);
    assert!(config.len() >= 170, "{} keys", config.len());
    assert_eq!(config["brokerId"], "0");
    assert_eq!(config["brokerRole"], "ASYNC_MASTER");
}

#[test]
fn slave_config_has_the_slave_role() {
    let config = parse_config_body(&decode("get-broker-config-slave.response.bin").body);
    assert_eq!(config["brokerId"], "1");
    assert_eq!(config["brokerRole"], "SLAVE");
}

#[test]
fn binary_header_request_gets_a_binary_header_answer() {
    let resp = decode("get-broker-config-rocketmq-header.response.bin");
    assert_eq!(resp.serialize_type, SerializeType::RocketMq);
    assert_eq!((resp.code, resp.opaque), (0, 5));
    assert_eq!(resp.language.name(), "JAVA");
    assert!(parse_config_body(&resp.body).len() >= 170);
}

#[test]
fn runtime_info_reports_version_4_9_6() {
    let info = runtime_info_from_body(&decode("get-broker-runtime-info.response.bin").body).unwrap();
    assert_eq!(info["brokerVersionDesc"], "V4_9_6");
    assert_eq!(info["brokerVersion"], "405");
    assert!(info.contains_key("commitLogMaxOffset"));
    assert_eq!(info["putTps"].split(' ').count(), 3);
}

#[test]
fn cluster_info_with_unquoted_integer_keys() {
    let resp = decode("get-broker-cluster-info.response.bin");
    assert!(resp.body.windows(3).any(|w| w == b"{0:"), "the capture really has fastjson integer keys");
    let info = ClusterInfo::from_body(&resp.body).unwrap();
    let shard = &info.brokers["broker-a"];
    assert_eq!(shard.cluster, "DefaultCluster");
    assert_eq!(shard.addrs.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
    assert!(info.clusters["DefaultCluster"].contains("broker-acl"));
    let (found, id) = info.find_addr(&shard.addrs[&1]).unwrap();
    assert_eq!((found.broker_name.as_str(), id), ("broker-a", 1));
}

#[test]
fn acl_refusal_and_unknown_code_answers() {
    let refused = decode("acl-unsigned-refused.response.bin");
    assert_eq!(refused.code, 1);
    assert!(refused.remark.unwrap().contains("AclException: No accessKey is configured"));
    let unknown = decode("unsupported-request-code.response.bin");
    assert_eq!(unknown.code, 3);
    assert!(unknown.remark.unwrap().contains("9999 not supported"));
}

#[test]
fn signed_request_matches_the_test_account() {
    // The ACL test broker's admin account (scripts/rocketmq.sh); test-only credentials.
    let captured = decode("acl-signed-get-broker-config.request.bin");
    let mut ours = Command::request(26);
    ours.opaque = captured.opaque;
    sign(&mut ours, &Credentials::new("sidecarAdmin", "adminSecret-4f1c9e"));
    assert_eq!(ours.ext_fields, captured.ext_fields);
}

#[test]
fn signatures_match_the_java_client() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/acl-vectors.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let strings = |key: &str| -> BTreeMap<String, String> {
            v[key].as_object().unwrap().iter().map(|(k, x)| (k.clone(), x.as_str().unwrap().to_string())).collect()
        };
        let mut cmd = Command::request(v["code"].as_i64().unwrap() as i32);
        cmd.ext_fields = strings("extFieldsIn");
        if let Some(b) = v["bodyBase64"].as_str() {
            cmd.body = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        }
        let creds = Credentials::new(v["accessKey"].as_str().unwrap(), v["secretKey"].as_str().unwrap())
            .with_security_token(v["securityToken"].as_str().map(String::from));
        sign(&mut cmd, &creds);
        assert_eq!(cmd.ext_fields, strings("extFieldsOut"), "vector {}", v["name"]);
        n += 1;
    }
    assert!(n >= 5, "only {n} vectors");
}
