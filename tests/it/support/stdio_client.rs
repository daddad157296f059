//! `StdioPeer`: a raw JSON-RPC-over-stdio client for driving a child process in tests.
//!
//! Deliberately not rmcp: tests must see the exact wire — every notification, whether a response
//! arrives at all, and any non-JSON line that leaked onto stdout. Plain std threads keep tests
//! synchronous:
//! - a stdout reader parses newline-delimited JSON, answers server→client requests itself (so a
//!   `roots/list` or `ping` never stalls a test) and forwards everything else over a channel;
//! - a stderr reader collects the child's stderr, printed when a test panics.

use std::{
    collections::{HashMap, VecDeque},
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, ChildStderr, ChildStdin, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// Protocol version sent by [`StdioPeer::initialize`].
pub const PROTOCOL_VERSION: &str = "2025-11-25";

/// Answers a server→client request: `Ok(result)` or `Err((code, message))`.
pub type RequestHandler = Box<dyn Fn(&str, &Value) -> Result<Value, (i64, String)> + Send>;

/// What the stdout reader forwards.
enum Incoming {
    /// A response or a notification.
    Message(Value),
    /// A server→client request (already answered by the reader thread).
    Request(Value),
    /// A stdout line that is not a JSON object: a protocol violation tests may assert on.
    Garbage(String),
}

type SharedStdin = Arc<Mutex<Option<ChildStdin>>>;

pub struct StdioPeer {
    child: Child,
    stdin: SharedStdin,
    rx: Receiver<Incoming>,
    handler: Arc<Mutex<RequestHandler>>,
    stderr: Arc<Mutex<String>>,
    /// The stderr pipe, held open but unread (see [`StdioPeer::spawn_stderr_unread`]).
    unread_stderr: Option<ChildStderr>,
    next_id: u64,
    /// Responses not yet claimed by `wait_response`, keyed by the id's JSON text; a reused
    /// id queues its responses in arrival order.
    responses: HashMap<String, VecDeque<Value>>,
    /// Notifications not yet claimed by `wait_notification`.
    pending: VecDeque<Value>,
    all_notifications: Vec<Value>,
    pending_requests: VecDeque<Value>,
    all_requests: Vec<Value>,
    garbage: Vec<String>,
}

/// The built-in answers: enough for a gateway or backend to never wait on the test.
fn default_handler(method: &str, _params: &Value) -> Result<Value, (i64, String)> {
    match method {
        "roots/list" => Ok(json!({"roots": []})),
        "ping" => Ok(json!({})),
        other => Err((-32601, format!("method not found: {other}"))),
    }
}

fn write_line(stdin: &SharedStdin, msg: &Value) {
    write_text(stdin, &msg.to_string());
}

fn write_text(stdin: &SharedStdin, text: &str) {
    let mut guard = stdin.lock().unwrap();
    let Some(pipe) = guard.as_mut() else {
        panic!("StdioPeer: stdin already closed, cannot send {text}");
    };
    let mut line = text.to_owned();
    line.push('\n');
    // A dead child (e.g. after `crash`) gives EPIPE; the test observes the death elsewhere.
    if let Err(e) = pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()) {
        eprintln!("StdioPeer: write failed ({e}): {text}");
    }
}

impl StdioPeer {
    /// Spawns `program` with piped stdin/stdout/stderr. Extra `envs` are added to ours.
    pub fn spawn(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> StdioPeer {
        let mut peer = StdioPeer::spawn_stderr_unread(program, args, envs);
        peer.read_stderr();
        peer
    }

    /// As [`StdioPeer::spawn`], but nobody reads the child's stderr (a client MCP allows):
    /// the pipe stays open and fills up. [`StdioPeer::read_stderr`] starts reading it.
    pub fn spawn_stderr_unread(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> StdioPeer {
        let mut cmd = Command::new(program);
        // Gateways keep tool pins in the test's own directory unless a test names one.
        cmd.env("MCP_GATEWAY_PINS", super::test_pins_dir());
        cmd.args(args)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", program.display()));
        let stdin: SharedStdin = Arc::new(Mutex::new(child.stdin.take()));
        let stdout = child.stdout.take().unwrap();
        let unread_stderr = child.stderr.take();
        let stderr = Arc::new(Mutex::new(String::new()));

        let handler: Arc<Mutex<RequestHandler>> = Arc::new(Mutex::new(Box::new(default_handler)));
        let (tx, rx) = mpsc::channel();
        let (reply_stdin, reply_handler) = (Arc::clone(&stdin), Arc::clone(&handler));
        thread::spawn(move || {
            // Lines, not a streaming JSON parser: stdio framing is one message per line.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let msg = match serde_json::from_str::<Value>(&line) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        let _ = tx.send(Incoming::Garbage(line));
                        continue;
                    }
                };
                let is_request = msg.get("method").is_some() && msg.get("id").is_some();
                if is_request {
                    let method = msg["method"].as_str().unwrap_or_default();
                    let params = msg.get("params").cloned().unwrap_or(Value::Null);
                    let answer = (reply_handler.lock().unwrap())(method, &params);
                    let reply = match answer {
                        Ok(result) => json!({"jsonrpc": "2.0", "id": msg["id"], "result": result}),
                        Err((code, message)) => json!({"jsonrpc": "2.0", "id": msg["id"],
                            "error": {"code": code, "message": message}}),
                    };
                    // Stdin may be closed already; then there is no one to answer.
                    if let Some(pipe) = reply_stdin.lock().unwrap().as_mut() {
                        let _ = writeln!(pipe, "{reply}").and_then(|()| pipe.flush());
                    }
                    let _ = tx.send(Incoming::Request(msg));
                } else if tx.send(Incoming::Message(msg)).is_err() {
                    break;
                }
            }
        });

        StdioPeer {
            child,
            stdin,
            rx,
            handler,
            stderr,
            unread_stderr,
            next_id: 1,
            responses: HashMap::new(),
            pending: VecDeque::new(),
            all_notifications: Vec::new(),
            pending_requests: VecDeque::new(),
            all_requests: Vec::new(),
            garbage: Vec::new(),
        }
    }

    /// Starts collecting the child's stderr (once; a no-op if it is read already).
    pub fn read_stderr(&mut self) {
        let Some(pipe) = self.unread_stderr.take() else {
            return;
        };
        let echo = std::env::var_os("STDIO_PEER_ECHO_STDERR").is_some();
        let buf = Arc::clone(&self.stderr);
        thread::spawn(move || {
            // Lossy: a test must see whatever the child wrote, valid UTF-8 or not.
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                line.clear();
                if echo {
                    eprintln!("[child stderr] {text}");
                }
                let mut buf = buf.lock().unwrap();
                buf.push_str(&text);
                buf.push('\n');
            }
        });
    }

    /// Replaces the answers to server→client requests (default: `roots/list` → no roots,
    /// `ping` → `{}`, anything else → -32601). E.g. to answer `sampling/createMessage`.
    pub fn set_request_handler(
        &mut self,
        f: impl Fn(&str, &Value) -> Result<Value, (i64, String)> + Send + 'static,
    ) {
        *self.handler.lock().unwrap() = Box::new(f);
    }

    /// `initialize` with empty capabilities, then `notifications/initialized`; returns the result.
    pub fn initialize(&mut self) -> Value {
        self.initialize_with(json!({}))
    }

    /// Like [`initialize`](Self::initialize) with the given client capabilities.
    pub fn initialize_with(&mut self, capabilities: Value) -> Value {
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": capabilities,
            "clientInfo": {"name": "stdio-peer-test", "version": "0.0.0"},
        });
        let resp = self.call("initialize", params, Duration::from_secs(30));
        let Some(result) = resp.get("result").cloned() else {
            panic!("initialize failed: {resp}\n{}", self.stderr_tail());
        };
        self.notify("notifications/initialized", json!({}));
        result
    }

    /// Sends a request and returns its id without waiting.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Writes any message verbatim (malformed input, custom ids, responses…).
    pub fn send(&mut self, msg: &Value) {
        write_line(&self.stdin, msg);
    }

    /// The notifications seen so far with `method`, in arrival order.
    pub fn notifications_of(&self, method: &str) -> Vec<Value> {
        self.notifications()
            .into_iter()
            .filter(|n| n["method"] == method)
            .collect()
    }

    /// The names `tools/list` returns, in order.
    pub fn tool_names(&mut self) -> Vec<String> {
        let list = self.call_ok("tools/list", json!({}), Duration::from_secs(20));
        list["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Send one line exactly as given (for malformed-input tests).
    pub fn send_raw(&mut self, line: &str) {
        write_text(&self.stdin, line);
    }

    /// The whole response message (`result` or `error`) for `id`, or `None` on timeout or
    /// when stdout closed. Messages arriving meanwhile are queued.
    pub fn wait_response(&mut self, id: u64, timeout: Duration) -> Option<Value> {
        self.wait_response_key(&id.to_string(), timeout)
    }

    /// Like `wait_response`, for any id, given as its JSON text (`null`, `"\"a\""`, `1.5`).
    pub fn wait_response_key(&mut self, key: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(resp) = self.responses.get_mut(key).and_then(VecDeque::pop_front) {
                return Some(resp);
            }
            if !self.pump(deadline) {
                return None;
            }
        }
    }

    /// `request` + `wait_response`; panics (with the child's stderr tail) on timeout.
    pub fn call(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let id = self.request(method, params);
        match self.wait_response(id, timeout) {
            Some(resp) => resp,
            None => panic!(
                "no response to {method} (id {id}) within {timeout:?}\n{}",
                self.stderr_tail()
            ),
        }
    }

    /// `call` that expects success and returns just `result`.
    pub fn call_ok(&mut self, method: &str, params: Value, timeout: Duration) -> Value {
        let resp = self.call(method, params, timeout);
        match resp.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {resp}\n{}", self.stderr_tail()),
        }
    }

    /// First queued or arriving notification with `method` (removed from the queue).
    pub fn wait_notification(&mut self, method: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.pending.iter().position(|n| n["method"] == method) {
                return self.pending.remove(pos);
            }
            if !self.pump(deadline) {
                return None;
            }
        }
    }

    /// First queued or arriving server→client request with `method` (already answered).
    pub fn wait_server_request(&mut self, method: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self
                .pending_requests
                .iter()
                .position(|n| n["method"] == method)
            {
                return self.pending_requests.remove(pos);
            }
            if !self.pump(deadline) {
                return None;
            }
        }
    }

    /// Collects whatever arrives within `d` (e.g. to assert that nothing more comes).
    pub fn drain_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while self.pump(deadline) {}
    }

    /// How many responses arrived that no `wait_response` claimed (a duplicate answer, or
    /// one to a request never waited for).
    pub fn unclaimed_responses(&self) -> usize {
        self.responses.values().map(VecDeque::len).sum()
    }

    /// Every notification seen so far, claimed or not, in arrival order.
    pub fn notifications(&self) -> Vec<Value> {
        self.all_notifications.clone()
    }

    /// Every server→client request seen so far.
    pub fn server_requests(&self) -> Vec<Value> {
        self.all_requests.clone()
    }

    /// Non-JSON lines seen on stdout (should always be empty for a correct server).
    pub fn stdout_garbage(&self) -> Vec<String> {
        self.garbage.clone()
    }

    /// Closes the child's stdin (EOF), the standard way to ask a stdio server to exit.
    pub fn close_stdin(&mut self) {
        self.stdin.lock().unwrap().take();
    }

    /// Waits for the child to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The last 60 lines of the child's stderr, for failure messages.
    pub fn stderr_tail(&self) -> String {
        let text = self.stderr_text();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(60)..].join("\n");
        format!("--- child stderr (tail) ---\n{tail}\n--- end child stderr ---")
    }

    /// Receives one message before `deadline` and files it. `false` on timeout or closed stdout.
    fn pump(&mut self, deadline: Instant) -> bool {
        let wait = deadline.saturating_duration_since(Instant::now());
        let incoming = match self.rx.recv_timeout(wait) {
            Ok(incoming) => incoming,
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
        };
        match incoming {
            Incoming::Garbage(line) => {
                eprintln!("StdioPeer: non-JSON line on stdout: {line}");
                self.garbage.push(line);
            }
            Incoming::Request(req) => {
                self.all_requests.push(req.clone());
                self.pending_requests.push_back(req);
            }
            Incoming::Message(msg) => {
                if msg.get("method").is_some() {
                    self.all_notifications.push(msg.clone());
                    self.pending.push_back(msg);
                } else {
                    // Keyed by the id's JSON text so a string "1" never matches numeric 1.
                    let key = msg
                        .get("id")
                        .map_or_else(|| "null".to_owned(), Value::to_string);
                    self.responses.entry(key).or_default().push_back(msg);
                }
            }
        }
        true
    }
}

impl Drop for StdioPeer {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.stderr_tail());
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
