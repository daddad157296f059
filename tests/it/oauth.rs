//! OAuth for remote backends, end to end: a real OAuth-protected MCP server with its own
//! authorization server (tests/interop/oauth_server.py, built with the Python `mcp` SDK's
//! auth support: protected-resource metadata, authorization-server metadata, dynamic client
//! registration, PKCE, tokens bound to the RFC 8707 resource, rotating refresh tokens), the
//! real gateway binary serving it, and `mcp-gateway auth login` whose browser step the test
//! does itself: a GET on the printed authorization URL, whose redirect it follows to the
//! gateway's loopback listener.
//!
//! The server refuses access tokens after 2 s although it says they last an hour, so every
//! call after that works only because the gateway refreshed on the 401 (and, with the
//! refresh token rotated, only if it stored the new one).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::interop::peers_python;
use crate::support::{StdioPeer, gateway_bin, gateway_command, temp_path};

const T: Duration = Duration::from_secs(30);
/// How long the server accepts an access token.
const LIFETIME: Duration = Duration::from_secs(2);

/// The Python server, killed when dropped.
struct AuthServer {
    child: Child,
    port: u16,
}

impl AuthServer {
    fn start() -> AuthServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/oauth_server.py");
        let mut child = Command::new(peers_python())
            .arg(script)
            .args(["--lifetime", &LIFETIME.as_secs_f64().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = first_line(stdout, |l| l.starts_with("PORT "), T)
            .expect("the OAuth server did not say its port");
        let port = line["PORT ".len()..].trim().parse().unwrap();
        AuthServer { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    fn stats(&self) -> Value {
        let (status, _, body) = get(&format!("http://127.0.0.1:{}/stats", self.port));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line of `out` that `wanted` accepts (read on a thread, so a silent child
/// cannot hang the test); the rest of the output is drained.
fn first_line(
    out: ChildStdout,
    wanted: impl Fn(&str) -> bool + Send + 'static,
    limit: Duration,
) -> Option<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if !sent && wanted(&line) {
                let _ = tx.send(line);
                sent = true;
            }
        }
    });
    rx.recv_timeout(limit).ok()
}

/// A plain HTTP/1.1 GET (no redirects followed): status, `Location`, body.
fn get(url: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    write!(
        stream,
        "GET {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n",
        if path.is_empty() { "/" } else { path }
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    (status, location, body.to_owned())
}

struct Setup {
    config: PathBuf,
    data: PathBuf,
}

impl Setup {
    fn new(server: &AuthServer) -> Setup {
        let dir = temp_path("oauth");
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("gateway.yaml");
        std::fs::write(
            &config,
            format!("backends:\n  secured:\n    url: {}\n", server.url()),
        )
        .unwrap();
        Setup {
            config,
            data: dir.join("data"),
        }
    }

    fn envs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MCP_GATEWAY_DATA_DIR", self.data.display().to_string()),
            ("MCP_GATEWAY_MODEL", "off".into()),
            // Never a real browser, whatever the machine has.
            ("BROWSER", "false".into()),
        ]
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        gateway_command()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .envs(self.envs())
            .output()
            .unwrap()
    }

    fn serve(&self) -> StdioPeer {
        let envs = self.envs();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut peer = StdioPeer::spawn(
            &gateway_bin(),
            &["--config", self.config.to_str().unwrap(), "serve"],
            &envs,
        );
        peer.initialize();
        peer
    }

    /// Everything in the token directory (token files, refresh locks, any temp file).
    fn oauth_dir(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(self.data.join("oauth")) else {
            return Vec::new();
        };
        entries.flatten().map(|e| e.path()).collect()
    }

    fn token_files(&self) -> Vec<PathBuf> {
        self.oauth_dir()
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect()
    }

    fn access_token(&self) -> String {
        let files = self.token_files();
        assert_eq!(files.len(), 1, "{files:?}");
        let file: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        file["credentials"]["token_response"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `auth login --no-browser`, with the browser's part played here.
    fn login(&self) {
        let mut child = gateway_command()
            .arg("--config")
            .arg(&self.config)
            .args([
                "auth",
                "login",
                "secured",
                "--no-browser",
                "--timeout",
                "60s",
            ])
            .envs(self.envs())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + T;
        let mut printed = Vec::new();
        let url = loop {
            let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "no authorization URL printed; stdout: {printed:?}, stderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            };
            printed.push(line.clone());
            if let Some(at) = line.find("http://") {
                break line[at..].trim().to_owned();
            }
        };
        // PKCE S256, the loopback redirect and the RFC 8707 resource are in the request.
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains("code_challenge="), "{url}");
        assert!(
            url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
            "{url}"
        );
        assert!(url.contains("resource=http%3A%2F%2F127.0.0.1"), "{url}");

        // The "browser": the authorization server approves at once and redirects.
        let (status, location, body) = get(&url);
        assert_eq!(status, 302, "{body}");
        let callback = location.expect("a redirect to the loopback listener");
        assert!(
            callback.starts_with("http://127.0.0.1:") && callback.contains("/callback?code="),
            "{callback}"
        );
        let (status, _, page) = get(&callback);
        assert_eq!(status, 200, "{page}");

        let done = Instant::now() + T;
        while child.try_wait().unwrap().is_none() && Instant::now() < done {
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let rest: Vec<String> = rx.try_iter().collect();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "login failed: {rest:?}\n{stderr}");
        assert!(
            rest.iter().any(|l| l.contains("Signed in to `secured`")),
            "{rest:?}\n{stderr}"
        );
    }
}

fn invoke(peer: &mut StdioPeer) -> Value {
    peer.call_ok(
        "tools/call",
        json!({"name": "gateway_invoke",
               "arguments": {"server": "secured", "tool": "secret_word", "arguments": {}}}),
        T,
    )
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

const HINT: &str = "authorization required: run `mcp-gateway auth login secured`";

fn assert_needs_login(peer: &mut StdioPeer) {
    let result = invoke(peer);
    assert_eq!(result["isError"], true, "{result}");
    assert!(text(&result).contains(HINT), "{result}");
    let listed = peer.call_ok(
        "tools/call",
        json!({"name": "gateway_list_servers", "arguments": {}}),
        T,
    );
    let row = listed["structuredContent"]["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "secured")
        .cloned()
        .unwrap();
    assert_eq!(row["state"], "failed", "{row}");
    assert!(row.to_string().contains(HINT), "{row}");
    // A permanent error: no retry is scheduled (it waits for a login, a call or an edit).
    assert!(row.get("next_retry_in_ms").is_none(), "{row}");
}

#[test]
fn an_oauth_protected_server_is_usable_after_login_refreshes_and_logs_out() {
    let server = AuthServer::start();
    let setup = Setup::new(&server);

    // Before login: a permanent failure that says what to do, in the invoke error, in
    // gateway_list_servers and in `list`.
    let mut first = setup.serve();
    assert_needs_login(&mut first);
    for command in [&["list", "--json"][..], &["doctor"][..]] {
        let out = setup.cli(command);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains(HINT), "{command:?}: {said}");
    }

    setup.login();
    let files = setup.token_files();
    assert_eq!(files.len(), 1, "one token file: {files:?}");
    let all = setup.oauth_dir();
    assert!(
        all.iter()
            .all(|p| p.extension().is_some_and(|x| x == "json" || x == "lock")),
        "no temp file left: {all:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", files[0].display());
    }
    let stats = server.stats();
    assert_eq!(stats["registrations"], 1, "dynamic registration: {stats}");
    assert_eq!(stats["codes_exchanged"], 1, "{stats}");
    assert_eq!(
        stats["resources"][0],
        server.url(),
        "the RFC 8707 resource: {stats}"
    );

    // The gateway that was already running uses the new token (login reconnects it, and a
    // call would retry it anyway).
    let result = invoke(&mut first);
    assert_ne!(result["isError"], true, "{result}");
    assert_eq!(text(&result), "swordfish");

    // After the access token's real lifetime the server refuses it: the gateway refreshes
    // on the 401, retries, and stores the new tokens.
    let before = setup.access_token();
    std::thread::sleep(LIFETIME + Duration::from_millis(500));
    let result = invoke(&mut first);
    assert_eq!(text(&result), "swordfish", "{result}");
    assert!(server.stats()["refreshes"].as_u64().unwrap() >= 1);
    let refreshed = setup.access_token();
    assert_ne!(before, refreshed, "the refreshed token was stored");
    drop(first);

    // A new gateway starts from the stored tokens; the refresh token rotated, so this works
    // only if the rotated one was stored.
    std::thread::sleep(LIFETIME + Duration::from_millis(500));
    let mut second = setup.serve();
    let result = invoke(&mut second);
    assert_eq!(text(&result), "swordfish", "{result}");
    assert_ne!(setup.access_token(), refreshed);

    let status = setup.cli(&["auth", "status"]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status_text.contains("secured: signed in"), "{status_text}");

    // Logout removes the file (and says so); the running gateway is back to the hint.
    let out = setup.cli(&["auth", "logout", "secured"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("Removed the OAuth tokens of `secured`"),
        "{said}"
    );
    assert!(setup.oauth_dir().is_empty(), "{:?}", setup.oauth_dir());
    assert_needs_login(&mut second);
    let again = setup.cli(&["auth", "logout", "secured"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("No OAuth tokens are stored"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn login_names_what_is_wrong() {
    let server = AuthServer::start();
    let setup = Setup::new(&server);
    // A name that is not configured: the remote backends are named.
    let out = setup.cli(&["auth", "login", "nosuch", "--no-browser"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no backend `nosuch`") && err.contains("secured"),
        "{err}"
    );
    // Nothing to redirect to in time: a timeout, and no token file.
    let out = setup.cli(&[
        "auth",
        "login",
        "secured",
        "--no-browser",
        "--timeout",
        "1s",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no redirect came back"), "{err}");
    assert!(setup.token_files().is_empty());
}
