//! The HTTP client a Streamable HTTP backend is reached with: rmcp's reqwest client (behind
//! rmcp's OAuth client when a token is stored for the backend), held to the same
//! `limits.max_message_bytes` as a stdio backend's line.
//!
//! rmcp's own bound on an SSE event ends the whole stream, so the call only learns that the
//! backend "went away" and the connection is rebuilt. Here an event over the limit is
//! replaced, in place, by the error a stdio backend's oversized response becomes (naming
//! the size and the limit), so that one call fails at once and the session lives on. To
//! find the request it answers, such an event is read whole up to [`HARD_FACTOR`] times the
//! limit; beyond that rmcp's bound applies, which keeps memory bounded either way.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::auth::AuthClient;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use sse_stream::Sse;

use super::stdio::stand_in;
use crate::framing::Oversized;

/// How far past the limit an event is still read to answer its call with a clear error.
const HARD_FACTOR: usize = 4;

type SseStream = futures_util::stream::BoxStream<'static, Result<Sse, SseError>>;
type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

#[derive(Clone)]
pub(crate) struct BoundedHttp {
    client: Inner,
    max: usize,
}

/// Who sends the requests: reqwest as it is, or rmcp's OAuth client around it, which adds
/// the stored bearer and refreshes it (`auth`).
#[derive(Clone)]
enum Inner {
    Plain(reqwest::Client),
    OAuth(AuthClient<reqwest::Client>),
}

impl BoundedHttp {
    pub(crate) fn new(client: reqwest::Client, max: usize) -> BoundedHttp {
        BoundedHttp {
            client: Inner::Plain(client),
            max,
        }
    }

    pub(crate) fn with_oauth(client: AuthClient<reqwest::Client>, max: usize) -> BoundedHttp {
        BoundedHttp {
            client: Inner::OAuth(client),
            max,
        }
    }

    fn hard_max(&self) -> usize {
        self.max.saturating_mul(HARD_FACTOR)
    }

    fn bound(&self, stream: SseStream) -> SseStream {
        let max = self.max;
        stream
            .map(move |event| event.map(|sse| within(sse, max)))
            .boxed()
    }
}

/// `sse`, or when its data is over `max`, the error that answers its request instead.
fn within(mut sse: Sse, max: usize) -> Sse {
    let Some(data) = sse.data.as_deref().filter(|d| d.len() > max) else {
        return sse;
    };
    /// The two fields an oversized message is judged by; the rest is skipped unread.
    #[derive(Deserialize)]
    struct Head {
        id: Option<serde_json::Value>,
        method: Option<IgnoredAny>,
    }
    let head: Option<Head> = serde_json::from_str(data).ok();
    let over = Oversized {
        size: data.len(),
        id: head.as_ref().and_then(|h| h.id.clone()),
        has_method: head.as_ref().is_none_or(|h| h.method.is_some()),
    };
    tracing::warn!(
        "dropped an SSE message of {} bytes from an HTTP backend: over limits.max_message_bytes ({max})",
        over.size
    );
    // A request or notification too big to read answers nothing: an empty event is skipped.
    sse.data = stand_in(&over, max).and_then(|error| serde_json::to_string(&error).ok());
    sse
}

impl StreamableHttpClient for BoundedHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let hard_max = self.hard_max();
        let response = match &self.client {
            Inner::Plain(c) => {
                c.post_message_with_max_sse_event_size(
                    uri,
                    message,
                    session_id,
                    auth_header,
                    custom_headers,
                    hard_max,
                )
                .await?
            }
            Inner::OAuth(c) => {
                c.post_message_with_max_sse_event_size(
                    uri,
                    message,
                    session_id,
                    auth_header,
                    custom_headers,
                    hard_max,
                )
                .await?
            }
        };
        Ok(match response {
            StreamableHttpPostResponse::Sse(stream, session) => {
                StreamableHttpPostResponse::Sse(self.bound(stream), session)
            }
            other => other,
        })
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        _transport_max: usize,
    ) -> HttpResult<StreamableHttpPostResponse> {
        self.post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        match &self.client {
            Inner::Plain(c) => {
                c.delete_session(uri, session_id, auth_header, custom_headers)
                    .await
            }
            Inner::OAuth(c) => {
                c.delete_session(uri, session_id, auth_header, custom_headers)
                    .await
            }
        }
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<SseStream> {
        let hard_max = self.hard_max();
        let stream = match &self.client {
            Inner::Plain(c) => {
                c.get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    auth_header,
                    custom_headers,
                    hard_max,
                )
                .await?
            }
            Inner::OAuth(c) => {
                c.get_stream_with_max_sse_event_size(
                    uri,
                    session_id,
                    last_event_id,
                    auth_header,
                    custom_headers,
                    hard_max,
                )
                .await?
            }
        };
        Ok(self.bound(stream))
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        _transport_max: usize,
    ) -> HttpResult<SseStream> {
        self.get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await
    }
}
