//! The gateway's log sink: stderr, written by one thread behind a bounded queue, so that a
//! client that never reads the gateway's stderr cannot stall it.
//!
//! MCP lets a client ignore a server's stderr. Once that pipe is full, a plain write to it
//! blocks, and a blocked log call inside a runtime worker stalls every request, `ping`
//! included. Here a log line is queued without waiting; when the queue is full it is dropped
//! and counted, and the count is written as a line of its own once stderr takes data again.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// Log lines held while stderr is slow; past this they are dropped and counted.
const QUEUE: usize = 4096;

/// A `MakeWriter` that never blocks: each event is one queued buffer.
#[derive(Clone)]
pub(super) struct StderrSink {
    queue: SyncSender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

/// Waits (bounded) for the queued lines to be written when dropped, so the last messages
/// of a terminal command are not lost at exit.
pub struct LogGuard {
    done: Option<Receiver<()>>,
    sink: Option<StderrSink>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        // Dropping our sender lets the writer thread finish once the queue is empty; the
        // subscriber's copy stays alive, so flush by sending an empty marker instead.
        if let Some(sink) = self.sink.take() {
            let _ = sink.queue.try_send(Vec::new());
        }
        if let Some(done) = self.done.take() {
            // A stderr nobody reads must not keep the process from exiting.
            let _ = done.recv_timeout(Duration::from_millis(500));
        }
    }
}

impl StderrSink {
    /// Start the writer thread; the guard flushes at exit.
    pub(super) fn start() -> (StderrSink, LogGuard) {
        let (queue, lines) = mpsc::sync_channel::<Vec<u8>>(QUEUE);
        let (flushed, done) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_lines(&lines, &counter, &flushed));
        let sink = StderrSink { queue, dropped };
        let guard = LogGuard {
            done: spawned.is_ok().then_some(done),
            sink: Some(sink.clone()),
        };
        (sink, guard)
    }
}

fn write_lines(lines: &Receiver<Vec<u8>>, dropped: &AtomicU64, flushed: &mpsc::Sender<()>) {
    let mut stderr = std::io::stderr();
    for line in lines {
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let note = format!(
                "mcp-gateway: {lost} log line(s) dropped: stderr was not being read fast enough\n"
            );
            let _ = stderr.write_all(note.as_bytes());
        }
        if line.is_empty() {
            let _ = flushed.send(());
            continue;
        }
        // A closed stderr is not our problem to solve: keep draining the queue.
        let _ = stderr.write_all(&line);
    }
}

/// One log event's bytes; queued whole when the event is complete (on drop).
pub(super) struct Event {
    buf: Vec<u8>,
    sink: StderrSink,
}

impl Write for Event {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Event {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let buf = std::mem::take(&mut self.buf);
        match self.sink.queue.try_send(buf) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.sink.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl<'a> MakeWriter<'a> for StderrSink {
    type Writer = Event;

    fn make_writer(&'a self) -> Event {
        Event {
            buf: Vec::with_capacity(256),
            sink: self.clone(),
        }
    }
}
