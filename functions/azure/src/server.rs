//! The custom handler's HTTP server: the Functions host POSTs `/{FunctionName}` on
//! `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT`; each invocation runs in its own task.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::handler::Functions;

/// The largest invocation the handler reads (a queue message is at most 64 KB).
const MAX_BODY: usize = 1 << 20;

fn answer(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

async fn serve_one(
    functions: Arc<Functions>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let name = request.uri().path().trim_matches('/').to_owned();
    let invocation = request
        .headers()
        .get("x-azure-functions-invocationid")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let span = tracing::info_span!("invocation", function = %name, invocation_id = %invocation);
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::warn!(parent: &span, error = %e, "the invocation's body could not be read");
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                br#"{"Logs":["unreadable body"]}"#.to_vec(),
            ));
        }
    };
    let result =
        tracing::Instrument::instrument(functions.invoke(&name, &body), span.clone()).await;
    Ok(match result {
        Ok(reply) => answer(
            StatusCode::OK,
            serde_json::to_vec(&reply).unwrap_or_default(),
        ),
        Err(failed) => {
            tracing::error!(parent: &span, error = %failed, "the invocation failed");
            let reply = serde_json::json!({"Logs": [failed.to_string()]});
            answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                reply.to_string().into_bytes(),
            )
        }
    })
}

pub async fn serve(listener: TcpListener, functions: Arc<Functions>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let functions = functions.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| serve_one(functions.clone(), request));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::warn!(error = %e, "a connection from the host ended badly");
            }
        });
    }
}
