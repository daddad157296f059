//! The listening side: one task accepting on this gateway's socket until shutdown.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::{Load, Request, Restarted, Status, socket_dir};
use crate::backend::Supervisor;

/// Longest request line read; a request is a few dozen bytes.
const MAX_REQUEST: u64 = 4096;

/// What the socket reports and acts on, shared with the reload loop.
#[derive(Clone)]
pub struct Control {
    config: Option<PathBuf>,
    last_load: Arc<Mutex<Option<Load>>>,
    supervisor: Arc<Supervisor>,
}

impl Control {
    pub fn new(config: Option<PathBuf>, supervisor: Arc<Supervisor>) -> Control {
        Control {
            config,
            last_load: Arc::default(),
            supervisor,
        }
    }

    /// Record the outcome of a load of the config file.
    pub fn loaded(&self, load: Load) {
        *self
            .last_load
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(load);
    }

    fn status(&self) -> Status {
        Status {
            pid: std::process::id(),
            config: self.config.clone(),
            last_load: self
                .last_load
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }

    async fn answer(&self, request: &str) -> String {
        let answer = match serde_json::from_str::<Request>(request) {
            Ok(Request::Status) => serde_json::to_value(self.status()),
            Ok(Request::Restart { server }) => serde_json::to_value(Restarted {
                error: self.supervisor.restart(&server).await.err(),
            }),
            Err(e) => Ok(serde_json::json!({"error": format!("bad request: {e}")})),
        };
        answer.map_or_else(|e| e.to_string(), |v| v.to_string())
    }
}

/// Listen on this process's socket until `shutdown`, then remove it. Failing to listen
/// costs only the control commands, so it is logged, never fatal.
pub async fn serve(control: Control, shutdown: CancellationToken) {
    let dir = socket_dir();
    let path = dir.join(format!("{}.sock", std::process::id()));
    let listener = match bind(&dir, &path) {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(
                "control socket {} not opened ({e}): `mcp-gateway restart` and edit reports cannot reach this gateway",
                path.display()
            );
            return;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let control = control.clone();
                    tokio::spawn(async move { one(control, stream).await });
                }
                Err(e) => tracing::debug!("control socket: {e}"),
            },
            () = shutdown.cancelled() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

fn bind(dir: &Path, path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // Only its owner may talk to a gateway: the directory may have existed before.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    // A socket of an earlier process with this pid is stale.
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path)
}

async fn one(control: Control, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut read = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
    if read.read_line(&mut line).await.is_err() {
        return;
    }
    let mut answer = control.answer(line.trim()).await;
    answer.push('\n');
    let _ = write.write_all(answer.as_bytes()).await;
}
