//! Codec speed on real frames captured from a 4.9.6 broker (proto/golden):
//! decoding a GET_BROKER_CONFIG answer (~177 keys), encoding and signing a request, and
//! parsing the fastjson cluster-info body.
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rocketmq_sidecar::admin::ClusterInfo;
use rocketmq_sidecar::remoting::properties::parse_config_body;
use rocketmq_sidecar::remoting::{encode, sign, split_frame, Command, Credentials};

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/proto/golden/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn benches(c: &mut Criterion) {
    let config = golden("get-broker-config-master.response.bin");
    c.bench_function("decode GET_BROKER_CONFIG response (frame + 177 keys)", |b| {
        b.iter(|| {
            let (cmd, _) = split_frame(black_box(&config), 16 << 20).unwrap().unwrap();
            parse_config_body(&cmd.body)
        })
    });
    c.bench_function("encode GET_BROKER_CONFIG request", |b| {
        b.iter(|| {
            let mut cmd = Command::request(26);
            cmd.opaque = 7;
            encode(black_box(&cmd)).unwrap()
        })
    });
    let creds = Credentials::new("sidecarAdmin", "adminSecret-4f1c9e");
    c.bench_function("sign + encode request (ACL)", |b| {
        b.iter(|| {
            let mut cmd = Command::request(26).with_ext("topic", "TopicTest");
            sign(&mut cmd, black_box(&creds));
            encode(&cmd).unwrap()
        })
    });
    let (cluster, _) = split_frame(&golden("get-broker-cluster-info.response.bin"), 16 << 20).unwrap().unwrap();
    c.bench_function("parse cluster info (fastjson integer keys)", |b| {
        b.iter(|| ClusterInfo::from_body(black_box(&cluster.body)).unwrap())
    });
}

criterion_group!(codec, benches);
criterion_main!(codec);
