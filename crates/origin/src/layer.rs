//! A `tower` layer (for axum, or any `tower` HTTP stack): verified requests go on with
//! their [`Claims`] in the request's extensions; the rest are answered 401 (503 when the
//! verifier could not check) with `{"error":{"code":"assertion_refused","reason":…}}`.
//!
//! ```ignore
//! let app = Router::new()
//!     .route("/v1/orders", get(|Extension(claims): Extension<Claims>| async move { claims.sub }))
//!     .layer(Aero2Layer::new(verifier));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::error::Error;
use crate::verifier::Verifier;

type OnRefused = Arc<dyn Fn(&Error) + Send + Sync>;

/// Verifies the gate's assertion before the inner service sees the request.
#[derive(Clone)]
pub struct Aero2Layer {
    verifier: Arc<Verifier>,
    on_refused: Option<OnRefused>,
}

impl Aero2Layer {
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Aero2Layer {
            verifier,
            on_refused: None,
        }
    }

    /// Called with every refusal, e.g. to log it (its `Display` never holds the token).
    pub fn on_refused(mut self, callback: impl Fn(&Error) + Send + Sync + 'static) -> Self {
        self.on_refused = Some(Arc::new(callback));
        self
    }
}

impl std::fmt::Debug for Aero2Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aero2Layer")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for Aero2Layer {
    type Service = Aero2Service<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Aero2Service {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`Aero2Layer`] wraps around another.
#[derive(Clone, Debug)]
pub struct Aero2Service<S> {
    inner: S,
    layer: Aero2Layer,
}

/// The answer to a refused request.
fn refusal<B: From<String>>(error: &Error) -> http::Response<B> {
    let body = serde_json::json!({"error": {"code": "assertion_refused", "reason": error.reason().as_str()}});
    let mut response = http::Response::new(B::from(body.to_string()));
    *response.status_mut() =
        http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Aero2Service<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        // The service that was polled ready is the one that must be called.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let layer = self.layer.clone();
        Box::pin(async move {
            let verdict = layer.verifier.verify_request(&request).await;
            match verdict {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(error) => {
                    if let Some(callback) = &layer.on_refused {
                        callback(&error);
                    }
                    Ok(refusal(&error))
                }
            }
        })
    }
}
