//! The log writer: every line goes to stderr with the loaded configs' credentials masked,
//! whoever logged it (our code, rmcp quoting a failed request's URL, a backend's stderr).

use std::borrow::Cow;
use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::config::scrub;

/// Wraps a [`MakeWriter`] so that what it writes is scrubbed first.
pub struct Scrubbed<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter(self.0.make_writer())
    }
}

/// One event's writer. The formatter hands over each event as one buffer, so a credential
/// is never split across two writes.
pub struct ScrubWriter<W>(W);

impl<W: Write> Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        match scrub(&text) {
            Cow::Borrowed(_) if matches!(text, Cow::Borrowed(_)) => self.0.write(buf),
            clean => {
                self.0.write_all(clean.as_bytes())?;
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn registered_credentials_never_reach_the_log() {
        crate::config::register_secrets(["tok-logged-987654".to_owned()]);
        let mut out = Vec::new();
        let mut w = ScrubWriter(&mut out);
        w.write_all(b"ERROR request failed: url (http://h/?k=tok-logged-987654)\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ERROR request failed: url (http://h/?k=***)\n"
        );
    }
}
