//! The layers between a request and the work it asks for. The endpoints that ask the broker on a
//! caller's behalf get tower limits: a few in flight at once across both listeners (the semaphore
//! lives in [`super::AppState`]), the rest refused at once with 503 "busy" instead of queueing, and
//! a time limit per request. Every endpoint with real work (a broker request, a scan's verdict, a
//! metrics page) is handed to the agent's worker runtime, so the HTTP runtime, which answers the
//! probes from memory, never decodes a broker body or renders a page itself.

use std::future::{ready, Ready};
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tower::layer::util::{Identity, Stack};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::error::Overloaded;
use tower::load_shed::LoadShedLayer;
use tower::timeout::error::Elapsed;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};

use super::{text, EXPENSIVE_IN_FLIGHT};

/// Turns a layer's refusal into the endpoint's 503 answer.
type Refusal = fn(BoxError) -> Ready<Response>;
type Refused<L> = Stack<L, Stack<HandleErrorLayer<Refusal, ()>, Identity>>;

/// At most the semaphore's permits in flight; a request over it gets 503 "busy" at once.
pub fn few_at_once(
    in_flight: Arc<Semaphore>,
) -> ServiceBuilder<Stack<GlobalConcurrencyLimitLayer, Refused<LoadShedLayer>>> {
    refused().layer(LoadShedLayer::new()).layer(GlobalConcurrencyLimitLayer::with_semaphore(in_flight))
}

/// A request not answered within `limit` gets 503 (its broker requests are dropped with it).
pub fn timeout(limit: Duration) -> ServiceBuilder<Refused<TimeoutLayer>> {
    refused().layer(TimeoutLayer::new(limit))
}

fn refused() -> ServiceBuilder<Stack<HandleErrorLayer<Refusal, ()>, Identity>> {
    ServiceBuilder::new().layer(HandleErrorLayer::new(refusal as Refusal))
}

fn refusal(e: BoxError) -> Ready<Response> {
    let reason = if e.is::<Overloaded>() {
        format!("busy: {EXPENSIVE_IN_FLIGHT} broker requests already in flight; retry")
    } else if e.is::<Elapsed>() {
        "the broker did not answer within this request's limit (5 x --timeout)".to_string()
    } else {
        format!("the request failed: {e}")
    };
    ready(text(StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")))
}

/// Runs the rest of the request (its handler and inner layers) on the worker runtime and waits
/// for its answer. A caller that leaves does not stop it; each of those handlers has its own bound.
pub async fn on_workers(State(workers): State<Handle>, request: Request, next: Next) -> Response {
    match workers.spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("the request's task failed: {e}\n")),
    }
}
