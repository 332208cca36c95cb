//! An async client for one peer (broker or name server), in the shape of mini-redis's
//! connection actor: one task owns the connection and takes requests over a channel, so
//!
//! - many requests share one connection, matched by opaque;
//! - a frame is always written whole (a caller that gives up never cuts a write in half);
//! - the task owns the connection's health. It replaces the connection when a request went
//!   unanswered past its deadline and nothing at all arrived on the connection since that
//!   request was written (a silent peer: a vanished node, a half-open connection), when a write
//!   did not finish in time, and when the peer closed or sent garbage. A slow answer to one
//!   request while others are answered is only that request's timeout.
//! - every new connection resolves the peer's name again (a pod moved to a new IP) and sets TCP
//!   keepalive and, on Linux, TCP_USER_TIMEOUT, so the kernel gives up on a dead peer in seconds
//!   rather than the default ~15 minutes.
//!
//! The task starts with the first request and ends when the [`Client`] is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::acl::{sign, Credentials};
use super::codes::response::NO_PERMISSION;
use super::codes::{request_name, response_name, SUCCESS};
use super::command::{Command, SerializeType};
use super::error::{AclModel, RemotingError, PLAINTEXT_REFUSED_HINT};
use super::frame::{decode_payload, encode, parse_length, DEFAULT_MAX_FRAME};
use super::tls::{classify, Tls, TlsFailure};

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
    /// Header serialization for our requests (answers are accepted in either). Binary (ROCKETMQ)
    /// by default: brokers answer in the request's format, and a 4.9.6 broker spent 4–10 % less
    /// CPU on a 10,000-group scan with binary headers both ways than with JSON ones
    /// (`benches/headers.sh`; README, "What watching costs the broker").
    pub serialize_type: SerializeType,
    /// Told about every request (metrics); none by default.
    pub observer: Option<RequestObserver>,
    /// TLS on every connection (brokers and name servers in tls.server.mode=enforcing); off by default.
    pub tls: Option<Arc<Tls>>,
    /// With TLS on: a peer that does not speak TLS on its port is asked again in plaintext.
    pub plaintext_fallback: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(3),
            max_frame: DEFAULT_MAX_FRAME,
            credentials: None,
            serialize_type: SerializeType::RocketMq,
            observer: None,
            tls: None,
            plaintext_fallback: false,
        }
    }
}

/// TCP keepalive: first probe after 10 s idle, then every 5 s, give up after 3 (~25 s).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
/// Unacknowledged data older than this kills the connection (Linux TCP_USER_TIMEOUT).
const USER_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests waiting for the connection task; more wait in `send`.
const QUEUE: usize = 256;

/// At most this many queued frames go out in one write.
const MAX_BATCH: usize = 64;

type Answer = Result<Command, RemotingError>;

/// One request handed to the connection task.
struct Job {
    frame: Vec<u8>,
    opaque: i32,
    request: &'static str,
    deadline: Instant,
    /// The caller's time limit (for the timeout message).
    limit: Duration,
    reply: Reply,
}

/// Where a request's answer, or why there is none, goes.
type Reply = oneshot::Sender<Answer>;

pub struct Client {
    addr: String,
    opts: ClientOptions,
    next_opaque: AtomicI32,
    /// The connection task's inbox, started on first use (a runtime may not exist at `new`).
    task: StdMutex<Option<(mpsc::Sender<Job>, JoinHandle<()>)>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some((_, task)) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

impl Client {
    pub fn new(addr: impl Into<String>, opts: ClientOptions) -> Client {
        Client { addr: addr.into(), opts, next_opaque: AtomicI32::new(1), task: StdMutex::new(None) }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The largest frame this client accepts.
    pub fn max_frame(&self) -> usize {
        self.opts.max_frame
    }

    /// Sends a request and returns the peer's answer whatever its code.
    pub async fn invoke(&self, cmd: Command) -> Result<Command, RemotingError> {
        self.invoke_within(cmd, self.opts.request_timeout).await
    }

    /// Like [`Client::invoke`], with an explicit overall timeout.
    pub async fn invoke_within(&self, cmd: Command, limit: Duration) -> Result<Command, RemotingError> {
        let (request, code, started) = (request_name(cmd.code), cmd.code, Instant::now());
        let result = self.exchange(cmd, limit).await;
        let (took, error) = (started.elapsed(), result.as_ref().err().map(RemotingError::kind));
        tracing::debug!(peer = %self.addr, request, code, took_ms = took.as_secs_f64() * 1e3, error, "request");
        if let Some(observer) = &self.opts.observer {
            (observer.0)(request, took, error);
        }
        result
    }

    /// Hands `cmd` to the connection task and waits, within `limit`, for the answer it reports back.
    async fn exchange(&self, cmd: Command, limit: Duration) -> Result<Command, RemotingError> {
        let deadline = Instant::now() + limit;
        let request = request_name(cmd.code);
        let (tx, rx) = oneshot::channel();
        let sent = self.submit(cmd, (deadline, limit), tx);
        let reported = async {
            sent.await?;
            rx.await.unwrap_or_else(|_| Err(self.closed(request)))
        };
        timeout_at(deadline, reported).await.unwrap_or_else(|_| Err(self.timeout(request, limit)))
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
        Err(match acl_refusal(code, &remark) {
            Some((acl, remark)) => RemotingError::AclDenied { addr, request, code, code_name, remark, acl },
            None => RemotingError::Refused { addr, request, code, code_name, remark },
        })
    }

    /// Encodes and signs `cmd` and queues it for the connection task.
    fn submit(
        &self,
        mut cmd: Command,
        (deadline, limit): (Instant, Duration),
        reply: Reply,
    ) -> impl std::future::Future<Output = Result<(), RemotingError>> + '_ {
        let request = request_name(cmd.code);
        cmd.opaque = self.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        cmd.serialize_type = match self.opts.serialize_type {
            // The binary header holds the code in 16 bits; DLedger's own codes (50000 and up) go as JSON.
            SerializeType::RocketMq if i16::try_from(cmd.code).is_err() => SerializeType::Json,
            chosen => chosen,
        };
        if let Some(creds) = &self.opts.credentials {
            sign(&mut cmd, creds);
        }
        let encoded =
            encode(&cmd).map_err(|e| RemotingError::Protocol { addr: self.addr.clone(), reason: e.to_string() });
        let inbox = self.inbox();
        async move {
            let job = Job { frame: encoded?, opaque: cmd.opaque, request, deadline, limit, reply };
            inbox.send(job).await.map_err(|_| self.closed(request))
        }
    }

    /// The connection task's inbox; (re)starts the task if there is none.
    fn inbox(&self) -> mpsc::Sender<Job> {
        let mut slot = self.task.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((tx, task)) = slot.as_ref() {
            if !task.is_finished() {
                return tx.clone();
            }
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        let conn =
            ConnectionTask { addr: self.addr.clone(), opts: self.opts.clone(), conn: None, pending: HashMap::new() };
        *slot = Some((tx.clone(), tokio::spawn(conn.run(rx))));
        tx
    }

    fn closed(&self, request: &'static str) -> RemotingError {
        RemotingError::Closed { addr: self.addr.clone(), request, hint: "" }
    }

    fn timeout(&self, request: &'static str, after: Duration) -> RemotingError {
        RemotingError::Timeout { addr: self.addr.clone(), request, after }
    }
}

const ACL_EXCEPTION: &str = "org.apache.rocketmq.acl.common.AclException:";

/// An ACL refusal, and its reason. ACL 1.0 (4.9.x, 5.0–5.2) answers SYSTEM_ERROR with the
/// AclException text as remark. ACL 2.0 (5.3+) answers NO_PERMISSION with the authentication or
/// authorization failure ("username cannot be null.", "check signature failed.", "User:x is not
/// found", "… has no permission …"). NO_PERMISSION also means a forbidden send or consume, and a
/// config key on the broker's black list: those stay plain refusals.
fn acl_refusal(code: i32, remark: &str) -> Option<(AclModel, String)> {
    if let Some(rest) = remark.strip_prefix(ACL_EXCEPTION) {
        return Some((AclModel::V1, acl_reason(rest)));
    }
    let not_acl = ["forbidden", "black list"].iter().any(|s| remark.contains(s));
    (code == NO_PERMISSION && !not_acl).then(|| (AclModel::V2, remark.to_string()))
}

/// The AclException message without the Java stack frame the broker appends after the last ", ".
fn acl_reason(rest: &str) -> String {
    let rest = rest.trim();
    match rest.rsplit_once(", ") {
        Some((msg, frame)) if frame.contains(".java:") => msg.to_string(),
        _ => rest.to_string(),
    }
}

/// Why a connection's reader stopped.
#[derive(Debug, Clone)]
enum Lost {
    Closed,
    Protocol(String),
    /// An answer longer than --max-frame: its length, and the limit.
    TooLarge {
        len: u64,
        max: usize,
    },
    /// TLS ended the connection (TLS 1.3 peers refuse a client certificate after the handshake,
    /// with an alert on the first read).
    Tls(TlsFailure, String),
}

/// A connection's byte stream: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Io for T {}

/// A live connection: the task writes, a reader task forwards decoded answers.
struct Connection {
    writer: WriteHalf<Box<dyn Io>>,
    /// Whether any answer arrived on it (a plaintext connection an enforcing TLS peer closes
    /// never gets one).
    answered: bool,
    answers: mpsc::Receiver<Result<Command, Lost>>,
    reader: JoinHandle<()>,
    /// When the last frame arrived (or the connection was made).
    last_heard: Instant,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A request written and not answered yet.
struct Pending {
    reply: oneshot::Sender<Answer>,
    request: &'static str,
    written: Instant,
    deadline: Instant,
    limit: Duration,
}

/// The task that owns one peer's connection.
struct ConnectionTask {
    addr: String,
    opts: ClientOptions,
    conn: Option<Connection>,
    pending: HashMap<i32, Pending>,
}

/// The same I/O failure for one more waiting request (io::Error is not Clone).
fn same_io_error(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

impl ConnectionTask {
    async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        loop {
            let next_deadline = self.pending.values().map(|p| p.deadline).min();
            tokio::select! {
                job = jobs.recv() => match job {
                    Some(job) => self.handle(job, &mut jobs).await,
                    None => return, // the Client is gone
                },
                answer = next_answer(&mut self.conn) => self.dispatch(answer),
                _ = sleep_until(next_deadline.unwrap_or_else(far_future)), if next_deadline.is_some() => {
                    self.expire();
                }
            }
        }
    }

    /// Writes one job's frame, and those of the jobs queued behind it, in one write (connecting
    /// first if needed): a refresh's 64 requests in flight then cost the kernel, and the broker's
    /// event loop, one send and one wake-up per batch instead of one per request.
    async fn handle(&mut self, job: Job, jobs: &mut mpsc::Receiver<Job>) {
        let mut batch = vec![job];
        while batch.len() < MAX_BATCH {
            let Ok(next) = jobs.try_recv() else { break };
            batch.push(next);
        }
        let now = Instant::now();
        batch.retain(|job| job.deadline > now && !job.reply.is_closed()); // their callers gave up already
        let Some(deadline) = batch.iter().map(|job| job.deadline).min() else { return };
        if self.conn.is_none() {
            match self.connect(deadline).await {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => return self.fail_queued(batch, jobs, e),
            }
        }
        let Some(conn) = self.conn.as_mut() else { return };
        let written = match batch.as_slice() {
            [one] => timeout_at(deadline, write_flushed(&mut conn.writer, &one.frame)).await,
            many => {
                let mut frames = Vec::with_capacity(many.iter().map(|job| job.frame.len()).sum());
                many.iter().for_each(|job| frames.extend_from_slice(&job.frame));
                timeout_at(deadline, write_flushed(&mut conn.writer, &frames)).await
            }
        };
        match written {
            Ok(Ok(())) => {
                let written = Instant::now();
                for Job { opaque, request, deadline, limit, reply, .. } in batch {
                    self.pending.insert(opaque, Pending { reply, request, written, deadline, limit });
                }
            }
            Ok(Err(source)) => {
                let why = format!("writing {} failed: {source}", batch[0].request);
                for job in batch {
                    let (addr, request, source) = (self.addr.clone(), job.request, same_io_error(&source));
                    let _ = job.reply.send(Err(RemotingError::Write { addr, request, source }));
                }
                self.replace(&why);
            }
            // Part of a frame may be on the wire: the connection cannot be used again.
            Err(_) => {
                let why = format!("writing {} did not finish in time", batch[0].request);
                for job in batch {
                    let (addr, request, after) = (self.addr.clone(), job.request, self.opts.request_timeout);
                    let _ = job.reply.send(Err(RemotingError::Timeout { addr, request, after }));
                }
                self.replace(&why);
            }
        }
    }

    /// A failed connect fails this batch and every job already queued behind it: they would only
    /// wait out the same failure one after another.
    fn fail_queued(&mut self, batch: Vec<Job>, jobs: &mut mpsc::Receiver<Job>, e: RemotingError) {
        // The same failure again.
        let again = |request: &'static str| match &e {
            RemotingError::Connect { source, .. } => {
                RemotingError::Connect { addr: self.addr.clone(), source: same_io_error(source) }
            }
            RemotingError::ConnectTimeout { after, .. } => {
                RemotingError::ConnectTimeout { addr: self.addr.clone(), after: *after }
            }
            _ => RemotingError::Closed { addr: self.addr.clone(), request, hint: "" },
        };
        let mut batch = batch.into_iter();
        let first = batch.next();
        for queued in batch.chain(std::iter::from_fn(|| jobs.try_recv().ok())) {
            let _ = queued.reply.send(Err(again(queued.request)));
        }
        if let Some(first) = first {
            let _ = first.reply.send(Err(e));
        }
    }

    async fn connect(&self, deadline: Instant) -> Result<Connection, RemotingError> {
        let connect_deadline = deadline.min(Instant::now() + self.opts.connect_timeout);
        let stream = self.tcp(connect_deadline).await?;
        let io: Box<dyn Io> = match &self.opts.tls {
            None => Box::new(stream),
            Some(tls) => match self.handshake(tls, stream, connect_deadline).await {
                Ok(s) => Box::new(s),
                Err(RemotingError::Tls { failure: TlsFailure::NotTls, detail, .. }) if self.opts.plaintext_fallback => {
                    tracing::info!(peer = %self.addr, %detail, "no TLS on this port: plaintext (--tls auto)");
                    Box::new(self.tcp(connect_deadline).await?)
                }
                Err(e) => return Err(e),
            },
        };
        let (read, writer) = tokio::io::split(io);
        let (tx, answers) = mpsc::channel(QUEUE);
        let reader = tokio::spawn(read_loop(read, tx, self.opts.max_frame));
        Ok(Connection { writer, answered: false, answers, reader, last_heard: Instant::now() })
    }

    /// A TCP connection to the peer, tuned (also the plaintext retry of `--tls auto`). A host name
    /// is resolved again on every connect: a pod that moved is found at its new IP.
    async fn tcp(&self, deadline: Instant) -> Result<TcpStream, RemotingError> {
        match timeout_at(deadline, TcpStream::connect(&self.addr)).await {
            Ok(Ok(s)) => {
                tune(&s);
                Ok(s)
            }
            Ok(Err(source)) => Err(RemotingError::Connect { addr: self.addr.clone(), source }),
            Err(_) => Err(RemotingError::ConnectTimeout { addr: self.addr.clone(), after: self.opts.connect_timeout }),
        }
    }

    /// The TLS handshake, within the connect's own time limit; a failure says which kind.
    async fn handshake(
        &self,
        tls: &Tls,
        stream: TcpStream,
        deadline: Instant,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, RemotingError> {
        let connector = tls.connector()?;
        if tls.files().insecure {
            tracing::warn!(peer = %self.addr, "TLS without verifying the peer (--tls-insecure): encrypted, not authenticated");
        }
        let name = tls.server_name(&self.addr)?;
        match timeout_at(deadline, connector.connect(name, stream)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => {
                let (failure, detail) = classify(&e);
                Err(RemotingError::Tls { addr: self.addr.clone(), failure, detail })
            }
            Err(_) => Err(RemotingError::Tls {
                addr: self.addr.clone(),
                failure: TlsFailure::Handshake,
                detail: format!(
                    "no handshake answer within {:?} (a peer that waits for more bytes: a plaintext port?)",
                    self.opts.connect_timeout
                ),
            }),
        }
    }

    fn dispatch(&mut self, answer: Result<Command, Lost>) {
        match answer {
            Ok(cmd) => {
                if let Some(conn) = self.conn.as_mut() {
                    conn.last_heard = Instant::now();
                    conn.answered = true;
                }
                if let Some(p) = self.pending.remove(&cmd.opaque) {
                    let _ = p.reply.send(Ok(cmd));
                }
            }
            Err(lost) => {
                let why = match &lost {
                    Lost::Closed => "the peer closed the connection".to_string(),
                    Lost::Protocol(reason) => format!("protocol error: {reason}"),
                    Lost::TooLarge { len, max } => format!("a {len}-byte answer exceeds --max-frame {max}"),
                    Lost::Tls(_, detail) => format!("TLS: {detail}"),
                };
                let hint = match self.conn.as_ref() {
                    Some(c) if !c.answered && self.opts.tls.is_none() => PLAINTEXT_REFUSED_HINT,
                    _ => "",
                };
                self.drop_connection(&why, |addr, request, _| match &lost {
                    Lost::Closed => RemotingError::Closed { addr, request, hint },
                    Lost::Protocol(reason) => RemotingError::Protocol { addr, reason: reason.clone() },
                    Lost::TooLarge { len, max } => RemotingError::TooLarge { addr, request, len: *len, max: *max },
                    Lost::Tls(failure, detail) => {
                        RemotingError::Tls { addr, failure: *failure, detail: detail.clone() }
                    }
                });
            }
        }
    }

    /// Removes requests past their deadline (their callers have returned a timeout). If the
    /// connection has been silent since such a request was written, it is presumed dead.
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<i32> = self.pending.iter().filter(|(_, p)| p.deadline <= now).map(|(o, _)| *o).collect();
        let last_heard = self.conn.as_ref().map(|c| c.last_heard);
        let mut silent = None;
        for opaque in expired {
            if let Some(p) = self.pending.remove(&opaque) {
                if last_heard.is_some_and(|heard| heard < p.written) {
                    silent = Some(p.request);
                }
                // Its caller times out at the same instant; say the same, whichever comes first.
                let timeout = RemotingError::Timeout { addr: self.addr.clone(), request: p.request, after: p.limit };
                let _ = p.reply.send(Err(timeout));
            }
        }
        if let Some(request) = silent {
            // The requests still waiting on a silent connection would time out the same way.
            let why = format!("{request} got no answer in time and nothing else arrived since it was sent");
            self.drop_connection(&why, |addr, request, limit| RemotingError::Timeout { addr, request, after: limit });
        }
    }

    /// Drops the connection (the next request opens a new one); requests still waiting on it
    /// fail at once rather than at their deadlines.
    fn replace(&mut self, why: &str) {
        self.drop_connection(why, |addr, request, _| RemotingError::Closed { addr, request, hint: "" });
    }

    fn drop_connection(&mut self, why: &str, error: impl Fn(String, &'static str, Duration) -> RemotingError) {
        if self.conn.take().is_some() {
            tracing::info!(peer = %self.addr, reason = why, "connection replaced");
        }
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(error(self.addr.clone(), p.request, p.limit)));
        }
    }
}

/// Why a read ended the connection: a TLS alert or error, or a close.
fn lost_on(e: &std::io::Error) -> Lost {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        let (failure, detail) = classify(e);
        return Lost::Tls(failure, detail);
    }
    Lost::Closed
}

/// Writes `bytes` whole and flushes them (TLS keeps records in a buffer until flushed).
async fn write_flushed(writer: &mut WriteHalf<Box<dyn Io>>, bytes: &[u8]) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// The next answer on the connection; never ready without one.
async fn next_answer(conn: &mut Option<Connection>) -> Result<Command, Lost> {
    match conn {
        Some(c) => c.answers.recv().await.unwrap_or(Err(Lost::Closed)),
        None => std::future::pending().await,
    }
}

/// No Nagle delay; keepalive and a user timeout so a vanished peer is noticed by the kernel too.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE).with_interval(KEEPALIVE_INTERVAL);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let keepalive = keepalive.with_retries(KEEPALIVE_RETRIES);
    if let Err(e) = sock.set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "cannot set TCP keepalive");
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(e) = sock.set_tcp_user_timeout(Some(USER_TIMEOUT)) {
        tracing::debug!(error = %e, "cannot set TCP_USER_TIMEOUT");
    }
    let _ = (KEEPALIVE_RETRIES, USER_TIMEOUT);
}

/// Reads frames until the connection ends; answers go to the connection task. Requests pushed
/// by the peer (e.g. NOTIFY_CONSUMER_IDS_CHANGED) are not for us and are dropped.
async fn read_loop(mut read: ReadHalf<Box<dyn Io>>, answers: mpsc::Sender<Result<Command, Lost>>, max_frame: usize) {
    let lost = loop {
        let mut prefix = [0u8; 4];
        if let Err(e) = read.read_exact(&mut prefix).await {
            break lost_on(&e);
        }
        let len = match parse_length(prefix, max_frame) {
            Ok(len) => len,
            Err(super::FrameError::TooLarge { len, max }) => break Lost::TooLarge { len, max },
            Err(e) => break Lost::Protocol(e.to_string()),
        };
        let mut payload = vec![0u8; len];
        if read.read_exact(&mut payload).await.is_err() {
            break Lost::Protocol(format!("connection closed in the middle of a {len}-byte frame"));
        }
        match decode_payload(&payload) {
            Ok(cmd) if cmd.is_response() => {
                if answers.send(Ok(cmd)).await.is_err() {
                    return; // the connection was replaced
                }
            }
            Ok(cmd) => tracing::debug!(code = cmd.code, "ignoring a request pushed by the peer"),
            // A peer that sends garbage cannot be resynchronised: drop the connection.
            Err(e) => break Lost::Protocol(e.to_string()),
        }
    };
    let _ = answers.send(Err(lost)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_refusals_of_both_models_and_other_no_permission_answers() {
        let v1 = "org.apache.rocketmq.acl.common.AclException: No acl config for sidecarX, \
                  org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:474)";
        assert_eq!(acl_refusal(1, v1), Some((AclModel::V1, "No acl config for sidecarX".into())));
        assert_eq!(acl_refusal(16, "check signature failed."), Some((AclModel::V2, "check signature failed.".into())));
        assert_eq!(acl_refusal(16, "Can not update config in black list."), None);
        assert_eq!(acl_refusal(16, "the broker[b] sending message is forbidden"), None);
        assert_eq!(acl_refusal(1, "some other failure"), None);
    }
}
