//! A TCP proxy between the sidecar and a real broker or name server that misbehaves on demand:
//! it passes traffic, black-holes it, delays the peer's answers, cuts an answer in half, or answers
//! garbage. The mode can change while connections are open; it applies to the next bytes.
//! Started with [`FaultProxy::recording`], it also keeps the order in which requests and answers
//! passed it ([`Wire`]).
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

/// One frame that passed the proxy: a request with its code, or the answer to a request of that
/// code (matched by the request's opaque on the same connection).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wire {
    Request(i32),
    Answer(i32),
}

/// Checks that in `wire` every code of `answered` got its (first) answer before the first request
/// of any code in `then_asked`; says what came in which order when not.
pub fn answered_before_asked(wire: &[Wire], answered: &[i32], then_asked: &[i32]) -> Result<(), String> {
    let first_ask = wire.iter().position(|w| matches!(w, Wire::Request(c) if then_asked.contains(c)));
    let first_ask = first_ask.ok_or_else(|| format!("none of {then_asked:?} asked: {wire:?}"))?;
    for code in answered {
        match wire.iter().position(|w| *w == Wire::Answer(*code)) {
            Some(at) if at < first_ask => {}
            at => {
                return Err(format!(
                    "answer to {code} at {at:?}, first of {then_asked:?} asked at {first_ask}: {wire:?}"
                ))
            }
        }
    }
    Ok(())
}

/// Frames in the order the proxy passed them on, every connection's in one list; with
/// (connection, opaque) → request code to match answers.
#[derive(Default)]
struct WireLog {
    frames: Vec<Wire>,
    asked: std::collections::HashMap<(usize, i32), i32>,
}

type Recorder = Option<(Arc<Mutex<WireLog>>, usize)>;

pub struct FaultProxy {
    pub port: u16,
    ip: String,
    mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    /// One flag per connection opened so far: set, that connection goes silent both ways.
    open: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
    wire: Option<Arc<Mutex<WireLog>>>,
}

impl FaultProxy {
    pub fn start(upstream: String) -> FaultProxy {
        FaultProxy::start_on("127.0.0.1:0", upstream)
    }

    /// Listens on `bind` (e.g. another loopback address with a chosen port).
    pub fn start_on(bind: &str, upstream: String) -> FaultProxy {
        FaultProxy::start_with(bind, upstream, None)
    }

    /// A passing proxy that keeps the order of the frames it passes on ([`FaultProxy::wire`]).
    pub fn recording(upstream: String) -> FaultProxy {
        FaultProxy::start_with("127.0.0.1:0", upstream, Some(Arc::default()))
    }

    fn start_with(bind: &str, upstream: String, wire: Option<Arc<Mutex<WireLog>>>) -> FaultProxy {
        let listener = TcpListener::bind(bind).unwrap();
        let local = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (m, s, o, w) = (mode.clone(), stop.clone(), open.clone(), wire.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let silenced = Arc::new(AtomicBool::new(false));
                let connection = {
                    let mut open = o.lock().unwrap();
                    open.push(silenced.clone());
                    open.len()
                };
                let (m, upstream) = (m.clone(), upstream.clone());
                let recorder = w.clone().map(|log| (log, connection));
                std::thread::spawn(move || relay(client, &upstream, m, silenced, recorder));
            }
        });
        FaultProxy { port: local.port(), ip: local.ip().to_string(), mode, stop, open, wire }
    }

    /// The frames passed on so far, in order (empty unless started with [`FaultProxy::recording`]).
    pub fn wire(&self) -> Vec<Wire> {
        self.wire.as_ref().map(|w| w.lock().unwrap().frames.clone()).unwrap_or_default()
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

/// Cuts whole frames off the front of `pending` and logs each, a request under its code and an
/// answer under its request's code. A stream that stops parsing stops being recorded: `pending`
/// becomes `None`, and its later bytes are neither kept nor parsed again.
fn record(recorder: &Recorder, pending: &mut Option<Vec<u8>>, bytes: &[u8]) {
    let (Some((log, connection)), Some(buf)) = (recorder, pending.as_mut()) else { return };
    buf.extend_from_slice(bytes);
    loop {
        let (cmd, used) = match rocketmq_sidecar::remoting::split_frame(buf, usize::MAX / 2) {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(_) => {
                *pending = None;
                return;
            }
        };
        buf.drain(..used);
        let mut log = log.lock().unwrap();
        if cmd.is_response() {
            if let Some(code) = log.asked.remove(&(*connection, cmd.opaque)) {
                log.frames.push(Wire::Answer(code));
            }
        } else {
            log.asked.insert((*connection, cmd.opaque), cmd.code);
            log.frames.push(Wire::Request(cmd.code));
        }
    }
}

fn relay(client: TcpStream, upstream: &str, mode: Arc<Mutex<Mode>>, silenced: Arc<AtomicBool>, recorder: Recorder) {
    let mode_now = mode.clone();
    let quiet = silenced.clone();
    let current = move || if quiet.load(Ordering::Relaxed) { Mode::BlackHole } else { *mode_now.lock().unwrap() };
    let Ok(server) = TcpStream::connect(upstream) else { return };
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let m = mode.clone();
    let mut garbage_out = client.try_clone().unwrap();
    let request_recorder = recorder.clone();
    // client -> server
    std::thread::spawn(move || {
        let mut pending = Some(Vec::new());
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
            // Logged before passed on: the answer cannot be logged before its request.
            record(&request_recorder, &mut pending, &buf[..n]);
            if s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Write);
    });
    // server -> client
    let (mut s_read, mut c_write) = (server, client);
    let mut pending = Some(Vec::new());
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
        // Logged before passed on: the client cannot act on an answer before it is logged.
        record(&recorder, &mut pending, &buf[..n]);
        if c_write.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = c_write.shutdown(Shutdown::Both);
}
