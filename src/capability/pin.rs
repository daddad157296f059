//! The `sha256:` pin line: a capability file may carry the SHA-256 of its own text without
//! that line, so `grep -v '^sha256:' f.yaml | sha256sum` reproduces it. A pinned file that no
//! longer matches was changed by someone who did not re-pin it: it is refused (a possible
//! "rug pull" of a tool the user approved).

use sha2::{Digest, Sha256};

/// What a file's pin says about its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinState {
    Unpinned,
    Valid,
    Mismatch { pinned: String, actual: String },
}

/// The hash over every line except those starting (at column 0) with `sha256:`, bytes as is.
pub fn digest(text: &str) -> String {
    let mut hasher = Sha256::new();
    for line in text.split_inclusive('\n') {
        if !line.starts_with("sha256:") {
            hasher.update(line.as_bytes());
        }
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pinned hash, if the file has a pin line.
pub fn pinned(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix("sha256:")?;
        let value = value.trim().trim_matches(['"', '\'']);
        Some(value.trim_start_matches("sha256:").to_ascii_lowercase())
    })
}

pub fn check(text: &str) -> PinState {
    match pinned(text) {
        None => PinState::Unpinned,
        Some(pinned) => {
            let actual = digest(text);
            if pinned == actual {
                PinState::Valid
            } else {
                PinState::Mismatch { pinned, actual }
            }
        }
    }
}

/// The text with its pin line replaced (or added first): pinned to its own content.
pub fn pin(text: &str) -> String {
    let body: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("sha256:"))
        .collect();
    format!("sha256: {}\n{body}", digest(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "name: x\ndescription: y\n";

    #[test]
    fn pin_round_trip() {
        assert_eq!(check(FILE), PinState::Unpinned);
        let pinned = pin(FILE);
        assert!(pinned.starts_with("sha256: "));
        assert_eq!(check(&pinned), PinState::Valid);
        // Re-pinning is stable.
        assert_eq!(pin(&pinned), pinned);
        let tampered = pinned.replace("y\n", "z\n");
        assert!(matches!(check(&tampered), PinState::Mismatch { .. }));
        assert_eq!(check(&pin(&tampered)), PinState::Valid);
    }

    #[test]
    fn matches_sha256sum_of_grep_v() {
        // printf 'name: x\ndescription: y\n' | sha256sum
        let expected = "c2bb1e4fa67d45a32cc4d003fa3f91bf54fb81a4898d7749d3bdb6514e786d58";
        assert_eq!(digest(FILE), expected);
        assert_eq!(digest(&format!("sha256: old\n{FILE}")), expected);
    }
}
