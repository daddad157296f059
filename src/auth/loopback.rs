//! The redirect listener of `auth login`: one socket on 127.0.0.1 (a free port unless the
//! config fixes one), waiting for the browser to come back to `/callback` with the code.
//!
//! Loopback only (RFC 8252 §7.3): nothing off the machine can reach it, and the literal
//! address, not `localhost`, so a resolver cannot send the redirect elsewhere. It reads
//! just the request line; a request for anything but `/callback` (a favicon) gets a 404
//! and the listener keeps waiting. The page it answers tells the person to go back to the
//! terminal, where the result is printed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::AuthError;

/// The path the authorization server redirects to.
const CALLBACK_PATH: &str = "/callback";
/// Longest request head read: a redirect carries a code and a state, not kilobytes.
const MAX_HEAD: usize = 16 * 1024;

pub(crate) struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    /// Listen on 127.0.0.1:`port` (0: any free port).
    pub(crate) async fn bind(port: u16) -> Result<Loopback, AuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| AuthError::Listen { port, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| AuthError::Listen { port, source })?
            .port();
        Ok(Loopback { listener, port })
    }

    /// The redirect URI to register and send.
    pub(crate) fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Wait (at most `limit`) for the redirect; the full URL it came back to.
    pub(crate) async fn wait(self, limit: Duration) -> Result<String, AuthError> {
        let accept = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else {
                    continue;
                };
                if let Some(target) = serve(stream).await {
                    return format!("http://127.0.0.1:{}{target}", self.port);
                }
            }
        };
        tokio::time::timeout(limit, accept)
            .await
            .map_err(|_| AuthError::Timeout(limit))
    }
}

/// Answer one connection; the request target when it was the callback.
async fn serve(mut stream: TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    let read = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    // A connection that never sends its request must not hold up the real one.
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let is_callback = method == "GET"
        && (target == CALLBACK_PATH || target.starts_with(&format!("{CALLBACK_PATH}?")));
    let (status, body) = if is_callback {
        (
            "200 OK",
            "<!doctype html><title>mcp-gateway</title><p>Authorization received. You can close \
             this tab and return to the terminal.</p>",
        )
    } else {
        ("404 Not Found", "not found")
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
    is_callback.then(|| target.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_callback_is_caught_and_other_paths_ignored() {
        let lb = Loopback::bind(0).await.unwrap();
        let port = lb.port;
        assert_eq!(
            lb.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let waiting = tokio::spawn(lb.wait(Duration::from_secs(5)));
        assert!(get(port, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        assert!(
            get(port, "/callback?code=c&state=s")
                .await
                .starts_with("HTTP/1.1 200")
        );
        let url = waiting.await.unwrap().unwrap();
        assert_eq!(
            url,
            format!("http://127.0.0.1:{port}/callback?code=c&state=s")
        );
    }

    #[tokio::test]
    async fn no_redirect_is_a_timeout() {
        let lb = Loopback::bind(0).await.unwrap();
        let e = lb.wait(Duration::from_millis(50)).await.unwrap_err();
        assert!(matches!(e, AuthError::Timeout(_)), "{e}");
    }
}
