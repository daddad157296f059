//! The asking side, for commands run in a terminal: blocking, with short timeouts, so a
//! hung gateway delays a command by seconds at most.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{Request, Restarted, Status, digest, socket_dir};

/// Longest a gateway may take to answer a status request.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// Longest a command waits for a gateway to load an edit (it debounces file events).
const PICKUP_WAIT: Duration = Duration::from_secs(5);
/// Longest a restart may take: the old process group stops, then the backend starts.
const RESTART_WAIT: Duration = Duration::from_secs(30);

/// A gateway running now, reachable on its socket.
#[derive(Debug, Clone)]
pub struct RunningGateway {
    socket: PathBuf,
    pub status: Status,
}

impl RunningGateway {
    pub fn pid(&self) -> u32 {
        self.status.pid
    }

    /// Restart backend `server` in this gateway (a failed one is retried now).
    pub fn restart(&self, server: &str) -> Result<(), String> {
        let request = Request::Restart {
            server: server.to_owned(),
        };
        let answer: Restarted = ask(&self.socket, &request, RESTART_WAIT)
            .map_err(|e| format!("gateway {} did not answer: {e}", self.pid()))?;
        answer.error.map_or(Ok(()), Err)
    }
}

/// The gateways serving the config file at `config` (compared after resolving links).
pub fn running_gateways(config: &Path) -> Vec<RunningGateway> {
    let wanted = canonical(config);
    let Ok(entries) = std::fs::read_dir(socket_dir()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for socket in entries.flatten().map(|e| e.path()) {
        if socket.extension().is_none_or(|x| x != "sock") {
            continue;
        }
        match ask::<Status>(&socket, &Request::Status, ANSWER_WAIT) {
            Ok(status) => {
                if status.config.as_deref().map(canonical) == Some(wanted.clone()) {
                    found.push(RunningGateway { socket, status });
                }
            }
            // Nobody listens: the gateway that made it is gone.
            Err(e) if is_stale(&e) => {
                let _ = std::fs::remove_file(&socket);
            }
            Err(e) => tracing::debug!("{}: {e}", socket.display()),
        }
    }
    found.sort_by_key(RunningGateway::pid);
    found
}

/// One line per running gateway serving `config`, saying whether it has loaded `written`
/// (the bytes just written there), or a line saying none is running.
pub fn report_pickup(config: &Path, written: &[u8]) -> Vec<String> {
    let gateways = running_gateways(config);
    if gateways.is_empty() {
        return vec![format!(
            "no running gateway serves {}: the change applies when one starts",
            config.display()
        )];
    }
    let sha256 = digest(written);
    let deadline = Instant::now() + PICKUP_WAIT;
    gateways
        .into_iter()
        .map(|mut gateway| {
            let pid = gateway.pid();
            loop {
                match gateway.status.last_load.as_ref() {
                    Some(load) if load.sha256 == sha256 => {
                        return match &load.error {
                            None => format!(
                                "the running gateway (pid {pid}) picked the change up: {}",
                                load.summary
                            ),
                            Some(error) => format!(
                                "the running gateway (pid {pid}) could not load the file and keeps its last good config: {error}"
                            ),
                        };
                    }
                    _ if Instant::now() >= deadline => {
                        return format!(
                            "the running gateway (pid {pid}) has not loaded the change yet; `kill -HUP {pid}` makes it reload"
                        );
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
                if let Ok(status) = ask(&gateway.socket, &Request::Status, ANSWER_WAIT) {
                    gateway.status = status;
                }
            }
        })
        .collect()
}

fn ask<T: DeserializeOwned>(
    socket: &Path,
    request: &Request,
    wait: Duration,
) -> std::io::Result<T> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(wait))?;
    stream.set_write_timeout(Some(ANSWER_WAIT))?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    Ok(serde_json::from_str(&answer)?)
}

fn is_stale(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
    )
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
