//! Signed notes against the Go `note` package's documented example key and note, plus round trips and
//! refusals.

#![allow(clippy::unwrap_used)]

use super::*;

const SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIG: &str = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=";

#[test]
fn the_published_example_key_and_note_verify() {
    let v: NoteVerifier = VKEY.parse().unwrap();
    assert_eq!(v.to_string(), VKEY);
    let s: NoteSigner = SKEY.parse().unwrap();
    assert_eq!(s.verifier(), v);
    let note = format!("{TEXT}\n\u{2014} PeterNeumann {SIG}\n");
    assert_eq!(v.open(&note).unwrap(), TEXT);
    // Ed25519 is deterministic: our signature is the published one.
    assert_eq!(s.sign(TEXT).unwrap(), note);
}

#[test]
fn unknown_keys_are_ignored_and_unsigned_notes_refused() {
    let a = NoteSigner::generate("brain.local/audit").unwrap();
    let b = NoteSigner::generate("witness.example/w1").unwrap();
    let cp = Checkpoint { origin: "brain.local/audit".into(), size: 7, root: [9; 32] };
    let note = cp.sign(&a).unwrap();
    assert_eq!(Checkpoint::open(&note, &a.verifier()).unwrap(), cp);
    // A cosignature by another key: ignored by a's verifier, enough for b's.
    let cosig = b.sign(&cp.text()).unwrap();
    let both = format!("{}{}", note, cosig.rsplit("\n\n").next().unwrap());
    assert_eq!(Checkpoint::open(&both, &a.verifier()).unwrap(), cp);
    assert_eq!(Checkpoint::open(&both, &b.verifier()).unwrap(), cp);
    assert!(matches!(Checkpoint::open(&cosig, &a.verifier()), Err(NoteError::NotSigned)));
    // Any change to the text breaks the signature.
    let forged = note.replacen("\n7\n", "\n8\n", 1);
    assert!(matches!(Checkpoint::open(&forged, &a.verifier()), Err(NoteError::NotSigned)));
    assert!(Checkpoint::open("no blank line\n", &a.verifier()).is_err());
}

#[test]
fn key_files_are_created_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.key");
    let k1 = NoteSigner::load_or_create(&path, "brain.local/audit").unwrap();
    let k2 = NoteSigner::load_or_create(&path, "brain.local/audit").unwrap();
    assert_eq!(k1.verifier(), k2.verifier());
    // A key of another name than the origin, or a file without a valid key: errors naming the file.
    let err = NoteSigner::load_or_create(&path, "other.example/log").err().unwrap();
    assert!(matches!(&err, NoteError::KeyName { found, .. } if found == "brain.local/audit"), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "PRIVATE+KEY+brain.local/audit+00000000+AAAA\n").unwrap();
    let err = NoteSigner::load_or_create(&bad, "brain.local/audit").err().unwrap();
    assert!(matches!(err, NoteError::BadKeyFile { .. }), "{err}");
    assert!(err.to_string().contains(&bad.display().to_string()), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn checkpoints_parse_strictly() {
    for bad in ["", "o\n01\nAAAA\n", "o\nx\n", "o\n1\nnot base64\n", "\n1\n\n"] {
        assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
    }
    let cp = Checkpoint { origin: "o".into(), size: 0, root: [0; 32] };
    assert_eq!(Checkpoint::parse(&cp.text()).unwrap(), cp);
    assert!("a+b+c".parse::<NoteVerifier>().is_err());
}
