//! A TCP proxy between the sidecar and a real broker or name server that misbehaves on demand:
//! it passes traffic, black-holes it, delays the peer's answers, cuts an answer in half, or answers
//! garbage. The mode can change while connections are open; it applies to the next bytes.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Pass,
    /// Accepts and reads, never forwards or answers (a hung peer / dropped packets).
    BlackHole,
    /// Forwards requests; holds each answer this long before passing it on.
    Delay(Duration),
    /// Forwards requests; passes half of the answer's first read, then closes.
    Truncate,
    /// Forwards nothing; answers every request with bytes that are not a RocketMQ frame.
    Garbage,
}

pub struct FaultProxy {
    pub port: u16,
    ip: String,
    mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    /// One flag per connection opened so far: set, that connection goes silent both ways.
    open: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl FaultProxy {
    pub fn start(upstream: String) -> FaultProxy {
        FaultProxy::start_on("127.0.0.1:0", upstream)
    }

    /// Listens on `bind` (e.g. another loopback address with a chosen port).
    pub fn start_on(bind: &str, upstream: String) -> FaultProxy {
        let listener = TcpListener::bind(bind).unwrap();
        let local = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (m, s, o) = (mode.clone(), stop.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let silenced = Arc::new(AtomicBool::new(false));
                o.lock().unwrap().push(silenced.clone());
                let (m, upstream) = (m.clone(), upstream.clone());
                std::thread::spawn(move || relay(client, &upstream, m, silenced));
            }
        });
        FaultProxy { port: local.port(), ip: local.ip().to_string(), mode, stop, open }
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Every connection open now goes silent (a vanished node: nothing is answered, nothing is
    /// closed); connections opened later work.
    pub fn silence_open_connections(&self) {
        for flag in self.open.lock().unwrap().iter() {
            flag.store(true, Ordering::Relaxed);
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.open.lock().unwrap().len()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect((self.ip.as_str(), self.port)); // wake the accept loop
    }
}

fn relay(client: TcpStream, upstream: &str, mode: Arc<Mutex<Mode>>, silenced: Arc<AtomicBool>) {
    let mode_now = mode.clone();
    let quiet = silenced.clone();
    let current = move || if quiet.load(Ordering::Relaxed) { Mode::BlackHole } else { *mode_now.lock().unwrap() };
    let Ok(server) = TcpStream::connect(upstream) else { return };
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let m = mode.clone();
    let mut garbage_out = client.try_clone().unwrap();
    // client -> server
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        loop {
            let n = match c_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = if silenced.load(Ordering::Relaxed) { Mode::BlackHole } else { *m.lock().unwrap() };
            match now {
                Mode::BlackHole => continue,
                Mode::Garbage => {
                    let _ = garbage_out
                        .write_all(&[0x00, 0x00, 0x00, 0x10, 0xde, 0xad, 0xbe, 0xef, b'{', b'x', 0xff, 0xfe]);
                    continue;
                }
                _ => {}
            }
            if s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Write);
    });
    // server -> client
    let (mut s_read, mut c_write) = (server, client);
    let mut buf = [0u8; 65536];
    loop {
        let n = match s_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match current() {
            Mode::Pass => {}
            Mode::BlackHole | Mode::Garbage => continue,
            Mode::Delay(d) => std::thread::sleep(d),
            Mode::Truncate => {
                let _ = c_write.write_all(&buf[..n.div_ceil(2)]);
                break;
            }
        }
        if c_write.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = c_write.shutdown(Shutdown::Both);
}
