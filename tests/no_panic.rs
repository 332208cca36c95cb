//! Property tests: random and mutated input never panics the frame decoder, the header
//! decoders or the lenient JSON parser. Seeded, so a failure is reproducible; the case count
//! can be raised with NO_PANIC_CASES (the long run in the README uses 1,000,000+).
use std::path::PathBuf;

use rocketmq_sidecar::admin::{
    client_progress_from_body, consumer_connection_from_body, consumer_offsets_from_body, groups_from_body,
    runtime_info_from_body, stats_minute_from_body, topic_offsets_from_body, ClusterInfo,
};
use rocketmq_sidecar::remoting::{decode_payload, json, split_frame};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn cases() -> usize {
    std::env::var("NO_PANIC_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

fn goldens() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("proto/golden");
    let mut v: Vec<Vec<u8>> =
        std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    v.sort();
    v
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(8) {
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            2 => b.truncate(rng.below(b.len() + 1)),
            3 => {
                let i = rng.below(b.len() + 1);
                const TOKENS: &[u8] = b"{}[]:,\"\\0123456789-eE.tfn";
                b.insert(i, TOKENS[rng.below(TOKENS.len())]);
            }
            4 if b.len() >= 8 => {
                // Rewrite a length word with something plausible or hostile.
                let at = if rng.below(2) == 0 { 0 } else { 4 };
                let v = [0u32, 1, 3, 4, b.len() as u32, u32::MAX, 0x0100_0010, rng.next() as u32][rng.below(8)];
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let j = (i + rng.below(64)).min(b.len());
                b.drain(i..j);
            }
        }
    }
    b
}

/// A quarter random bytes, the rest a mutated seed.
fn random_or_mutated(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(4) == 0 {
        (0..rng.below(300)).map(|_| rng.next() as u8).collect()
    } else {
        let k = rng.below(seeds.len());
        mutate(rng, &seeds[k])
    }
}

#[test]
fn frame_decoder_never_panics() {
    let seeds = goldens();
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    for _ in 0..cases() {
        let input = random_or_mutated(&mut rng, &seeds);
        let _ = split_frame(&input, 1 << 20);
        let _ = decode_payload(&input);
        if input.len() > 4 {
            let _ = decode_payload(&input[4..]);
        }
    }
}

#[test]
fn json_parser_never_panics() {
    let mut bodies: Vec<Vec<u8>> = goldens()
        .into_iter()
        .filter_map(|f| split_frame(&f, 1 << 24).ok().flatten())
        .map(|(c, _)| c.body)
        .filter(|b| b.first() == Some(&b'{'))
        .collect();
    // Consumer bodies (the shapes 4.9.6 sends; no golden frame holds them).
    bodies.push(CONNECTIONS.to_vec());
    bodies.push(RUNNING_INFO.to_vec());
    assert!(!bodies.is_empty());
    let alphabet = "{}[]:,\"\\ 0123456789-+.eEtrufalsn\u{e9}\u{1F600}ux";
    let chars: Vec<char> = alphabet.chars().collect();
    let mut rng = Rng(0xdead_beef_cafe_babe);
    for _ in 0..cases() {
        let input: Vec<u8> = if rng.below(3) == 0 {
            (0..rng.below(200)).map(|_| chars[rng.below(chars.len())]).collect::<String>().into_bytes()
        } else {
            {
                let k = rng.below(bodies.len());
                mutate(&mut rng, &bodies[k])
            }
        };
        let _ = json::parse(&input);
        let _ = ClusterInfo::from_body(&input);
        let _ = runtime_info_from_body(&input);
        let _ = topic_offsets_from_body(&input);
        let _ = consumer_offsets_from_body(&input);
        let _ = groups_from_body(&input);
        let _ = stats_minute_from_body(&input);
        let _ = consumer_connection_from_body(&input);
        let _ = client_progress_from_body(&input, "b");
    }
}

const CONNECTIONS: &[u8] = br#"{"connectionSet":[{"clientAddr":"127.0.0.1:5","clientId":"127.0.0.1@1","language":"JAVA","version":405}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"BROADCASTING","subscriptionTable":{"T":{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","subString":"*","subVersion":1,"tagsSet":[],"topic":"T"}}}"#;
const RUNNING_INFO: &[u8] = br#"{"jstack":"","mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":1,"commitOffset":7,"locked":false},{"brokerName":"o","queueId":0,"topic":"T"}:{"commitOffset":3}},"properties":{"messageModel":"BROADCASTING","PROP_CONSUMEORDERLY":"false"},"statusTable":{},"subscriptionSet":[{"topic":"T","subString":"*"}]}"#;

#[test]
fn consumer_bodies_decode() {
    let c = consumer_connection_from_body(CONNECTIONS).unwrap();
    assert!(c.is_broadcasting());
    assert_eq!((c.clients.as_slice(), c.topics.len()), (["127.0.0.1@1".to_string()].as_slice(), 1));
    let p = client_progress_from_body(RUNNING_INFO, "b").unwrap();
    assert_eq!(p.message_model, "BROADCASTING");
    assert_eq!(
        p.offsets.into_iter().collect::<Vec<_>>(),
        [(("T".to_string(), 0), 7)],
        "other brokers' queues left out"
    );
}

#[test]
fn properties_parsers_never_panic() {
    // broker.conf text (Java Properties: escapes, continuations, Latin-1) and config bodies.
    let seeds: Vec<Vec<u8>> = vec![
        b"a=b\\\n  c\\u0041\\t x:y\n#c\n!d\nkey\\ with\\ space = v\\u00e9\n".to_vec(),
        b"listenPort=10911\r\nbrokerName=broker-a\r\nmessageDelayLevel=1s 5s 10s\n".to_vec(),
        b"k=\\uZZZZ\nk2=\\u12\n\\".to_vec(),
    ];
    let mut rng = Rng(0x0bad_c0de_5eed_0001);
    for _ in 0..cases() {
        let input = random_or_mutated(&mut rng, &seeds);
        let _ = rocketmq_sidecar::properties::load(&input);
        let _ = rocketmq_sidecar::remoting::properties::parse_config_body(&input);
    }
}
