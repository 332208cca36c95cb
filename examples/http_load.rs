//! A fixed-rate HTTP/1.1 load generator for the sidecar's endpoints (used by benches/role.sh):
//! RATE requests per second for SECS seconds over keep-alive connections, then latency percentiles.
//!
//! cargo run --release --example http_load -- HOST:PORT PATH RATE SECS [CONNECTIONS]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 4 {
        eprintln!("usage: http_load HOST:PORT PATH RATE SECS [CONNECTIONS]");
        std::process::exit(2);
    }
    let (addr, path) = (a[0].clone(), a[1].clone());
    let rate: u64 = a[2].parse().unwrap();
    let secs: u64 = a[3].parse().unwrap();
    let conns: u64 = a.get(4).and_then(|c| c.parse().ok()).unwrap_or(4);
    let per_conn = Duration::from_nanos(1_000_000_000 * conns / rate);
    let total = rate * secs / conns;
    let workers: Vec<_> = (0..conns)
        .map(|_| {
            let (addr, path) = (addr.clone(), path.clone());
            std::thread::spawn(move || {
                let stream = TcpStream::connect(&addr).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let (mut lat, mut errors) = (Vec::with_capacity(total as usize), 0u64);
                let start = Instant::now();
                for i in 0..total {
                    // Open-loop schedule: latency counts from when the request was due.
                    let due = start + per_conn * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    write!(writer, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    let (mut status, mut len) = (String::new(), 0usize);
                    reader.read_line(&mut status).unwrap();
                    loop {
                        let mut h = String::new();
                        reader.read_line(&mut h).unwrap();
                        if h == "\r\n" {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).unwrap();
                    lat.push(due.elapsed());
                    if !status.contains(" 200 ") {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for w in workers {
        let (l, e) = w.join().unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "requests={} non200={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        all.len(),
        errors,
        pct(0.50),
        pct(0.99),
        all.last().unwrap().as_secs_f64() * 1000.0
    );
}
