//! C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint) with
//! Ed25519 keys.
//!
//! A note is a text ending in `\n`, a blank line, then signature lines `— <name> <base64(key id (4) ||
//! signature)>` (U+2014 EM DASH, a space). The key id is `SHA-256(name || "\n" || 0x01 || public key)[:4]`;
//! the verifier key is `<name>+<hex key id>+<base64(0x01 || public key)>`. A checkpoint's text is
//! `<origin>\n<size>\n<base64 root>\n`. Verifiers ignore signatures of unknown keys and refuse a note no
//! known key signed.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, Verifier};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The signature type byte of Ed25519 keys.
const ED25519: u8 = 0x01;

/// The signature line prefix: EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a key, note or checkpoint was refused.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    /// The key text is malformed.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The note text is malformed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature of a known key verifies.
    #[error("no signature of a known key verifies the note")]
    NotSigned,
    /// The note is signed but is not a valid checkpoint.
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
    /// The key file cannot be read or written.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file holds no valid private key.
    #[error("key file {path} holds no valid signing key (expected one line PRIVATE+KEY+<name>+<id>+<key>)")]
    BadKeyFile {
        /// The file.
        path: String,
        /// Why the key was refused.
        #[source]
        source: Box<NoteError>,
    },
    /// The key file holds a key named other than the log origin (C2SP: the key is named after the log).
    #[error("key file {path} holds the key of {found:?}, but the audit origin is {origin:?}: use a key of that name, or that origin")]
    KeyName {
        /// The file.
        path: String,
        /// The key's name.
        found: String,
        /// The configured origin.
        origin: String,
    },
}

/// `SHA-256(name || "\n" || 0x01 || pubkey)[:4]`.
fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains(['+', ' ', '\n', '\t']) || name.chars().any(char::is_control) {
        return Err(NoteError::InvalidKey("a key name is non-empty and has no '+', spaces or control characters"));
    }
    Ok(())
}

/// An Ed25519 signing key with its note name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A fresh random key named `name` (the log's origin, e.g. `brain.local/audit`).
    ///
    /// # Errors
    /// [`NoteError::InvalidKey`] for a name with `+`, spaces or control characters.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_seed(name, seed)
    }

    /// The key of a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// As [`NoteSigner::generate`].
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self { name: name.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(&seed) })
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a fresh key named `name`. The file
    /// holds `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`, the Go `note` form.
    ///
    /// # Errors
    /// [`NoteError::KeyFile`] when it cannot be read or written, [`NoteError::BadKeyFile`] when it is
    /// malformed, [`NoteError::KeyName`] when its key is not named `name`.
    pub fn load_or_create(path: &Path, name: &str) -> Result<Self, NoteError> {
        let io = |source| NoteError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let key: Self =
                    text.trim().parse().map_err(|e| NoteError::BadKeyFile { path: path.display().to_string(), source: Box::new(e) })?;
                if key.name != name {
                    return Err(NoteError::KeyName { path: path.display().to_string(), found: key.name, origin: name.to_owned() });
                }
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate(name)?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                write_private(path, &key.private_text()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The private key text (`PRIVATE+KEY+...`).
    pub fn private_text(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(self.id()), B64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    pub fn id(&self) -> [u8; 4] {
        key_id(&self.name, self.key.verifying_key().as_bytes())
    }

    /// The verifier key of this key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), id: self.id(), key: self.key.verifying_key() }
    }

    /// Signs `text` (which must end in `\n`): the text, a blank line and one signature line.
    ///
    /// # Errors
    /// [`NoteError::Malformed`] when `text` is empty or does not end in a newline.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') || text.contains("\n\n") {
            return Err(NoteError::Malformed("a note text ends in one newline and has no blank line"));
        }
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.id().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.name, B64.encode(raw)))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

impl FromStr for NoteSigner {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, NoteError> {
        let rest = s.strip_prefix("PRIVATE+KEY+").ok_or(NoteError::InvalidKey("a private key starts with PRIVATE+KEY+"))?;
        // Names have no '+'; base64 may: split from the left.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(raw)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::InvalidKey("a private key is PRIVATE+KEY+<name>+<id>+<key>"));
        };
        let raw = B64.decode(raw).map_err(|_| NoteError::InvalidKey("the key is not base64"))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ED25519, seed)) => seed.try_into().map_err(|_| NoteError::InvalidKey("an Ed25519 seed has 32 bytes"))?,
            _ => return Err(NoteError::InvalidKey("only Ed25519 keys (type 0x01) are supported")),
        };
        let key = Self::from_seed(name, seed)?;
        if hex::encode(key.id()) != id {
            return Err(NoteError::InvalidKey("the key id does not match the key"));
        }
        Ok(key)
    }
}

/// An Ed25519 verifier key in C2SP vkey form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl NoteVerifier {
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies `note` and returns its text (without the signatures). Signature lines of other keys are
    /// ignored.
    ///
    /// # Errors
    /// [`NoteError::Malformed`] for a note that is not text + blank line + signature lines,
    /// [`NoteError::NotSigned`] when no signature of this key verifies.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if !sigs.ends_with('\n') || sigs.len() < 2 {
            return Err(NoteError::Malformed("the signature block ends in a newline"));
        }
        let mut verified = false;
        for line in sigs[..sigs.len() - 1].split('\n') {
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed("a signature line starts with an em dash and a space"))?;
            let (name, sig) = rest.split_once(' ').ok_or(NoteError::Malformed("a signature line is '— <name> <signature>'"))?;
            let raw = B64.decode(sig).map_err(|_| NoteError::Malformed("a signature is base64"))?;
            if raw.len() < 4 {
                return Err(NoteError::Malformed("a signature starts with a 4-byte key id"));
            }
            if name != self.name || raw[..4] != self.id {
                continue;
            }
            let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw[4..]) else { return Err(NoteError::NotSigned) };
            if self.key.verify(text.as_bytes(), &sig).is_err() {
                return Err(NoteError::NotSigned);
            }
            verified = true;
        }
        if verified { Ok(text) } else { Err(NoteError::NotSigned) }
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex::encode(self.id), B64.encode(raw))
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, NoteError> {
        let s = s.trim();
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id), Some(raw)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::InvalidKey("a verifier key is <name>+<hex key id>+<base64 key>"));
        };
        check_name(name)?;
        let raw = B64.decode(raw).map_err(|_| NoteError::InvalidKey("the key is not base64"))?;
        let public: [u8; 32] = match raw.split_first() {
            Some((&ED25519, k)) => k.try_into().map_err(|_| NoteError::InvalidKey("an Ed25519 public key has 32 bytes"))?,
            _ => return Err(NoteError::InvalidKey("only Ed25519 keys (type 0x01) are supported")),
        };
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).map_err(|_| NoteError::InvalidKey("not an Ed25519 public key"))?;
        let want = key_id(name, &public);
        if hex::encode(want) != id {
            return Err(NoteError::InvalidKey("the key id does not match the name and key"));
        }
        Ok(Self { name: name.to_owned(), id: want, key })
    }
}

/// A tlog checkpoint: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity (first line).
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The RFC 6962 root.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text `<origin>\n<size>\n<base64 root>\n`.
    pub fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }

    /// Parses a checkpoint note text (extension lines after the root are allowed and ignored).
    ///
    /// # Errors
    /// [`NoteError::BadCheckpoint`] naming the bad line.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or(NoteError::BadCheckpoint("line 1 is the origin"))?;
        let size = lines.next().ok_or(NoteError::BadCheckpoint("line 2 is the tree size"))?;
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) || !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NoteError::BadCheckpoint("line 2 is the tree size in decimal without leading zeros"));
        }
        let size = size.parse().map_err(|_| NoteError::BadCheckpoint("the tree size is out of range"))?;
        let root = lines.next().ok_or(NoteError::BadCheckpoint("line 3 is the root"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::BadCheckpoint("line 3 is the base64 of a 32-byte root"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }

    /// Signs the checkpoint.
    ///
    /// # Errors
    /// [`NoteError::Malformed`] for an origin with a newline.
    pub fn sign(&self, key: &NoteSigner) -> Result<String, NoteError> {
        key.sign(&self.text())
    }

    /// Verifies a signed checkpoint with `key` and parses it.
    ///
    /// # Errors
    /// As [`NoteVerifier::open`] and [`Checkpoint::parse`].
    pub fn open(note: &str, key: &NoteVerifier) -> Result<Self, NoteError> {
        Self::parse(key.open(note)?)
    }
}

#[cfg(test)]
#[path = "note_tests.rs"]
mod tests;
