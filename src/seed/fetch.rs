//! GET from a peer sidecar with hyper's HTTP/1.1 client (plain `http://`), the whole exchange
//! bounded by one time limit and the body by a size limit.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::error::FetchError;

/// A peer's answer larger than this is refused (a seed file is kilobytes to a few megabytes).
const MAX_BODY: usize = 64 << 20;

/// GETs `url`; a non-2xx status is an error carrying the start of the body (the reason).
pub async fn http_get(url: &str, timeout: Duration) -> Result<Vec<u8>, FetchError> {
    let uri: hyper::Uri = url.parse().map_err(|e| FetchError::Url(format!("{e}")))?;
    if uri.scheme_str() != Some("http") {
        return Err(FetchError::Url("only http:// URLs are supported".into()));
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let exchange = async {
        let resp = client.get(uri).await.map_err(|e| FetchError::Connect(error_chain(&e)))?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| FetchError::Body(e.to_string()))?
            .to_bytes();
        Ok::<_, FetchError>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange).await.map_err(|_| FetchError::Timeout(timeout))??;
    if !status.is_success() {
        let reason = String::from_utf8_lossy(&body[..body.len().min(300)]).trim().to_string();
        return Err(FetchError::Status { status: status.as_u16(), reason });
    }
    Ok(body.to_vec())
}

/// An error with its causes ("client error (Connect): tcp connect error: Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
