//! Captures golden frames from a real RocketMQ 4.9.6 cluster into proto/golden/:
//! for each case the exact request bytes we send and the exact response bytes the peer sends.
//! Used by scripts/capture-golden.sh; the unit tests in tests/golden.rs replay them without Java.
//!
//! cargo run --example capture_golden -- NAMESRV MASTER SLAVE ACL_BROKER ACCESS_KEY SECRET_KEY OUT_DIR
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use rocketmq_sidecar::remoting::{encode, parse_length, sign, Command, Credentials, SerializeType};

fn exchange(addr: &str, cmd: &Command) -> (Vec<u8>, Vec<u8>) {
    let request = encode(cmd).expect("encode");
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&request).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let len = parse_length(prefix, 16 << 20).unwrap();
    let mut response = prefix.to_vec();
    response.resize(4 + len, 0);
    s.read_exact(&mut response[4..]).unwrap();
    (request, response)
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let [namesrv, master, slave, acl, ak, sk, out] = <[String; 7]>::try_from(a).unwrap_or_else(|_| {
        eprintln!("usage: capture_golden NAMESRV MASTER SLAVE ACL_BROKER ACCESS_KEY SECRET_KEY OUT_DIR");
        std::process::exit(2)
    });
    let creds = Credentials::new(ak, sk);
    let req = |code: i32, opaque: i32| {
        let mut c = Command::request(code);
        c.opaque = opaque;
        c
    };
    let mut binary = req(26, 5);
    binary.serialize_type = SerializeType::RocketMq;
    let mut signed = req(26, 6);
    sign(&mut signed, &creds);
    let cases: Vec<(&str, &str, Command)> = vec![
        ("get-broker-config-master", &master, req(26, 1)),
        ("get-broker-config-slave", &slave, req(26, 2)),
        ("get-broker-runtime-info", &master, req(28, 3)),
        ("get-broker-cluster-info", &namesrv, req(106, 4)),
        ("get-broker-config-rocketmq-header", &master, binary),
        ("acl-signed-get-broker-config", &acl, signed),
        ("acl-unsigned-refused", &acl, req(26, 7)),
        ("unsupported-request-code", &master, req(9999, 8)),
    ];
    for (name, addr, cmd) in cases {
        let (request, response) = exchange(addr, &cmd);
        std::fs::write(format!("{out}/{name}.request.bin"), &request).unwrap();
        std::fs::write(format!("{out}/{name}.response.bin"), &response).unwrap();
        println!("{name}: request {} bytes, response {} bytes", request.len(), response.len());
    }
}
