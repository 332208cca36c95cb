//! A minimal HTTP/1.1 GET (plain `http://host:port/path`), enough to read a peer sidecar's
//! answers without an HTTP client crate. The whole exchange is bounded by `timeout`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_BODY: usize = 64 << 20;

/// GETs `url`; a non-2xx status is an error carrying the start of the body (the reason).
pub async fn http_get(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs are supported")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let host_port = if host.contains(':') { host.to_string() } else { format!("{host}:80") };
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(&host_port).await.map_err(|e| format!("cannot connect: {e}"))?;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        (&mut s).take(MAX_BODY as u64 + 65536).read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("no answer within {timeout:?}"))??;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("malformed HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status: u16 = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("malformed status line")?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body)?;
    }
    if !(200..300).contains(&status) {
        let reason = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
        return Err(format!("HTTP {status}: {reason}"));
    }
    Ok(body)
}

fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk")?;
        let size_text = String::from_utf8_lossy(&b[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}
