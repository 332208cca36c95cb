//! An async client for one peer (broker or name server): one TCP connection, many requests in
//! flight matched by opaque, a reader task that fails every waiter when the connection dies,
//! and a fresh connection on the next request after that.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::acl::{sign, Credentials};
use super::codes::{request_name, response_name, SUCCESS};
use super::command::{Command, SerializeType};
use super::error::RemotingError;
use super::frame::{decode_payload, encode, parse_length, DEFAULT_MAX_FRAME};

/// Called once per request with its name, how long it took and, when it got no answer, the
/// error's kind (an answer with a non-SUCCESS code is an answer). Lets the metrics layer time
/// requests without the protocol leaking out of this module.
#[derive(Clone)]
pub struct RequestObserver(pub Arc<dyn Fn(&'static str, Duration, Option<&'static str>) + Send + Sync>);

impl std::fmt::Debug for RequestObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestObserver")
    }
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Bound on establishing the TCP connection (also bounded by the request timeout).
    pub connect_timeout: Duration,
    /// Bound on a whole request: connect (if needed), send, and wait for the answer.
    pub request_timeout: Duration,
    /// Largest frame accepted from the peer, length field included.
    pub max_frame: usize,
    /// Sign every request when set.
    pub credentials: Option<Credentials>,
    /// Header serialization for our requests (answers are accepted in either).
    pub serialize_type: SerializeType,
    /// Told about every request (metrics); none by default.
    pub observer: Option<RequestObserver>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            max_frame: DEFAULT_MAX_FRAME,
            credentials: None,
            serialize_type: SerializeType::Json,
            observer: None,
        }
    }
}

/// Why the reader stopped; shared by every request that was waiting.
#[derive(Debug, Clone)]
enum Lost {
    Closed,
    Protocol(String),
}

type Waiter = oneshot::Sender<Result<Command, Lost>>;

struct Connection {
    writer: Mutex<OwnedWriteHalf>,
    pending: Arc<StdMutex<HashMap<i32, Waiter>>>,
    alive: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub struct Client {
    addr: String,
    opts: ClientOptions,
    conn: Mutex<Option<Arc<Connection>>>,
    next_opaque: AtomicI32,
}

/// Removes a waiter when its request is abandoned (timeout, cancellation, write failure).
struct PendingGuard<'a> {
    pending: &'a StdMutex<HashMap<i32, Waiter>>,
    opaque: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.opaque);
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    pub fn new(addr: impl Into<String>, opts: ClientOptions) -> Client {
        Client { addr: addr.into(), opts, conn: Mutex::new(None), next_opaque: AtomicI32::new(1) }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends a request and returns the peer's answer whatever its code.
    pub async fn invoke(&self, cmd: Command) -> Result<Command, RemotingError> {
        self.invoke_within(cmd, self.opts.request_timeout).await
    }

    /// Like [`Client::invoke`], with an explicit overall timeout.
    pub async fn invoke_within(&self, cmd: Command, limit: Duration) -> Result<Command, RemotingError> {
        let Some(observer) = &self.opts.observer else {
            return self.exchange(cmd, limit).await;
        };
        let (request, started) = (request_name(cmd.code), Instant::now());
        let result = self.exchange(cmd, limit).await;
        (observer.0)(request, started.elapsed(), result.as_ref().err().map(RemotingError::kind));
        result
    }

    async fn exchange(&self, mut cmd: Command, limit: Duration) -> Result<Command, RemotingError> {
        let request = request_name(cmd.code);
        let deadline = Instant::now() + limit;
        let timed_out = || RemotingError::Timeout { addr: self.addr.clone(), request, after: limit };
        let conn = match timeout_at(deadline, self.connection(deadline)).await {
            Ok(c) => c?,
            Err(_) => return Err(timed_out()),
        };
        cmd.opaque = self.opaque();
        self.prepare(&mut cmd);
        let frame = encode(&cmd).map_err(|e| self.protocol(e.to_string()))?;

        let (tx, rx) = oneshot::channel();
        lock(&conn.pending).insert(cmd.opaque, tx);
        let _guard = PendingGuard { pending: &conn.pending, opaque: cmd.opaque };
        // The reader marks the connection dead *before* failing its waiters, so a waiter added
        // after that drain sees it here instead of waiting for the timeout.
        if !conn.alive.load(Ordering::Acquire) {
            return Err(RemotingError::Closed { addr: self.addr.clone(), request });
        }
        let exchange = async {
            self.write(&conn, &frame, request).await?;
            match rx.await {
                Ok(Ok(resp)) => Ok(resp),
                Ok(Err(Lost::Protocol(reason))) => Err(self.protocol(reason)),
                Ok(Err(Lost::Closed)) | Err(_) => Err(RemotingError::Closed { addr: self.addr.clone(), request }),
            }
        };
        match timeout_at(deadline, exchange).await {
            Ok(r) => r,
            Err(_) => Err(timed_out()),
        }
    }

    /// Sends a request and fails with [`RemotingError::Refused`] unless the answer is SUCCESS.
    pub async fn invoke_ok(&self, cmd: Command) -> Result<Command, RemotingError> {
        let request = request_name(cmd.code);
        let resp = self.invoke(cmd).await?;
        if resp.code == SUCCESS {
            return Ok(resp);
        }
        let (addr, code, code_name) = (self.addr.clone(), resp.code, response_name(resp.code));
        let remark = resp.remark.unwrap_or_default().trim().to_string();
        // 4.9.6 reports ACL failures as SYSTEM_ERROR with the AclException text as remark.
        Err(match remark.strip_prefix(ACL_EXCEPTION) {
            Some(rest) => RemotingError::AclDenied { addr, request, code, code_name, remark: acl_reason(rest) },
            None => RemotingError::Refused { addr, request, code, code_name, remark },
        })
    }

    /// Sends a one-way request (the peer sends no answer).
    pub async fn oneway(&self, mut cmd: Command) -> Result<(), RemotingError> {
        let request = request_name(cmd.code);
        let limit = self.opts.request_timeout;
        let deadline = Instant::now() + limit;
        let work = async {
            let conn = self.connection(deadline).await?;
            cmd.opaque = self.opaque();
            cmd.mark_oneway();
            self.prepare(&mut cmd);
            let frame = encode(&cmd).map_err(|e| self.protocol(e.to_string()))?;
            self.write(&conn, &frame, request).await
        };
        timeout_at(deadline, work)
            .await
            .unwrap_or_else(|_| Err(RemotingError::Timeout { addr: self.addr.clone(), request, after: limit }))
    }

    fn opaque(&self) -> i32 {
        self.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX
    }

    fn prepare(&self, cmd: &mut Command) {
        cmd.serialize_type = self.opts.serialize_type;
        if let Some(creds) = &self.opts.credentials {
            sign(cmd, creds);
        }
    }

    fn protocol(&self, reason: String) -> RemotingError {
        RemotingError::Protocol { addr: self.addr.clone(), reason }
    }

    async fn write(&self, conn: &Connection, frame: &[u8], request: &'static str) -> Result<(), RemotingError> {
        let mut w = conn.writer.lock().await;
        if let Err(source) = w.write_all(frame).await {
            conn.alive.store(false, Ordering::Release);
            return Err(RemotingError::Write { addr: self.addr.clone(), request, source });
        }
        Ok(())
    }

    /// The live connection, or a new one if there is none or the old one died.
    async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>, RemotingError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.alive.load(Ordering::Acquire)) {
            return Ok(c.clone());
        }
        *slot = None;
        let connect_deadline = deadline.min(Instant::now() + self.opts.connect_timeout);
        let stream = match timeout_at(connect_deadline, TcpStream::connect(&self.addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(RemotingError::Connect { addr: self.addr.clone(), source }),
            Err(_) => {
                return Err(RemotingError::ConnectTimeout { addr: self.addr.clone(), after: self.opts.connect_timeout })
            }
        };
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let pending = Arc::new(StdMutex::new(HashMap::new()));
        let alive = Arc::new(AtomicBool::new(true));
        let reader = tokio::spawn(read_loop(read, pending.clone(), alive.clone(), self.opts.max_frame));
        let conn = Arc::new(Connection { writer: Mutex::new(write), pending, alive, reader });
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

const ACL_EXCEPTION: &str = "org.apache.rocketmq.acl.common.AclException:";

/// The AclException message without the Java stack frame the broker appends after the last ", ".
fn acl_reason(rest: &str) -> String {
    let rest = rest.trim();
    match rest.rsplit_once(", ") {
        Some((msg, frame)) if frame.contains(".java:") => msg.to_string(),
        _ => rest.to_string(),
    }
}

/// Reads frames until the connection ends; answers go to their waiters by opaque. Requests
/// pushed by the peer (e.g. NOTIFY_CONSUMER_IDS_CHANGED) are not for us and are dropped.
async fn read_loop(
    mut read: OwnedReadHalf,
    pending: Arc<StdMutex<HashMap<i32, Waiter>>>,
    alive: Arc<AtomicBool>,
    max_frame: usize,
) {
    let lost = loop {
        let mut prefix = [0u8; 4];
        if read.read_exact(&mut prefix).await.is_err() {
            break Lost::Closed;
        }
        let len = match parse_length(prefix, max_frame) {
            Ok(len) => len,
            Err(e) => break Lost::Protocol(e.to_string()),
        };
        let mut payload = vec![0u8; len];
        if read.read_exact(&mut payload).await.is_err() {
            break Lost::Protocol(format!("connection closed in the middle of a {len}-byte frame"));
        }
        match decode_payload(&payload) {
            Ok(cmd) if cmd.is_response() => {
                if let Some(waiter) = lock(&pending).remove(&cmd.opaque) {
                    let _ = waiter.send(Ok(cmd));
                }
            }
            Ok(cmd) => tracing::debug!(code = cmd.code, "ignoring a request pushed by the peer"),
            Err(e) => break Lost::Protocol(e.to_string()),
        }
    };
    // A peer that sends garbage cannot be resynchronised: drop the connection.
    alive.store(false, Ordering::Release);
    for (_, waiter) in lock(&pending).drain() {
        let _ = waiter.send(Err(lost.clone()));
    }
}
