//! Keys and signatures: who may send bundles to a store.
//!
//! A bundle is signed by signing the bytes of its `manifest.json` (which lists the digest of
//! every volume and every entry, so one signature covers everything) with a minisign key. The
//! files are minisign's own formats, so `minisign -Vm manifest.json -p NAME.pub` checks our
//! signatures and our `verify_manifest` checks minisign's:
//!
//! - `NAME.pub`: `untrusted comment: ...` then the base64 of `Ed` + key id (8 bytes, shown as
//!   16 hex digits of the little-endian number) + Ed25519 public key;
//! - `NAME.key`: the secret key, encrypted with a password (scrypt) unless made unencrypted;
//! - `manifest.json.minisig`: untrusted comment, signature (prehashed with BLAKE2b, `ED`),
//!   trusted comment, and a signature over signature + trusted comment.
//!
//! This module owns parsing and checking those files and the policy of what a missing, foreign
//! or bad signature means (always [`ErrorKind::Untrusted`]), and the rules of adding and
//! removing trusted keys. It writes no SQL (what a store trusts goes through [`Store`] and the
//! [`TrustedKey`] record), and touches neither the terminal (a password prompt is passed in by
//! the CLI) nor clap. Nothing here reads the clock or the environment: both are parameters.

use crate::error::{Error, ErrorKind, Result};
use crate::store::{Store, TrustedKey};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

/// The environment variable a password may come from (the CLI reads it and passes its value
/// in [`PasswordSource::env`]).
pub const PASSWORD_ENV: &str = "OFFSYNC_KEY_PASSWORD";

/// What a signature file's name adds to the signed file's name: `manifest.json.minisig`.
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// No genuine key or signature file comes near this (a signature is about 300 bytes plus its
/// comments); the cap keeps a hostile file on the media from being read into memory whole.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// minisign's limit for a trusted comment is larger; ours keep to one readable line.
const MAX_TRUSTED_COMMENT: usize = 1024;

const UNTRUSTED_PREFIX: &str = "untrusted comment: ";
const TRUSTED_PREFIX: &str = "trusted comment: ";
/// Decoded sizes of minisign's records.
const PUBLIC_KEY_BYTES: usize = 2 + 8 + 32;
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;
const SIGNATURE_BYTES: usize = 2 + 8 + 64;
const GLOBAL_SIGNATURE_BYTES: usize = 64;

/// The two files `generate_key` wrote, and the new key's id.
#[derive(Clone, Debug, Serialize)]
pub struct KeyPaths {
    pub key_id: String,
    pub secret_key: PathBuf,
    pub public_key: PathBuf,
    /// Whether the secret key is protected by a password.
    pub encrypted: bool,
}

/// Who signed a manifest whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedBy {
    /// The signing key's id, 16 uppercase hex digits.
    pub key_id: String,
    /// The signed (trusted) comment of the signature.
    pub trusted_comment: String,
}

/// What import learnt about a bundle's signature (see [`check_signature`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SignatureCheck {
    /// The store trusts no key, so nothing was checked. `claimed_key_id` is the key id a
    /// signature file names, unverified (None when the bundle carries no signature).
    NotChecked { claimed_key_id: Option<String> },
    /// Signed by a trusted key, and the signature matches the manifest.
    Verified(VerifiedBy),
}

/// A minisign public key with its id and the untrusted comment of its file.
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: minisign::PublicKey,
    id: String,
    comment: String,
}

impl PublicKey {
    /// Parses a public key: the text of a minisign `.pub` file (comment line, base64 line), or
    /// the base64 line alone (what `minisign -P` takes).
    pub fn parse(text: &str) -> Result<PublicKey> {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let (comment, b64) = match lines.as_slice() {
            [b64] if !b64.starts_with(UNTRUSTED_PREFIX) => ("", *b64),
            [c, b64] if c.starts_with(UNTRUSTED_PREFIX) => (&c[UNTRUSTED_PREFIX.len()..], *b64),
            [c, ..] if !c.starts_with(UNTRUSTED_PREFIX) => {
                return Err(not_a_public_key(
                    "the first line does not start with 'untrusted comment:'",
                ));
            }
            _ => {
                return Err(not_a_public_key(
                    "expected two lines: 'untrusted comment: ...' and the key in base64",
                ));
            }
        };
        let bytes = B64
            .decode(b64)
            .map_err(|e| not_a_public_key(format!("the key line is not base64 ({e})")))?;
        if bytes.len() == SECRET_KEY_BYTES {
            return Err(not_a_public_key("this is a secret key").with_hint(
                "give the public key file (NAME.pub); the secret key (NAME.key) stays on the connected side",
            ));
        }
        if bytes.len() != PUBLIC_KEY_BYTES {
            return Err(not_a_public_key(format!(
                "the key is {} bytes, a minisign public key is {PUBLIC_KEY_BYTES}",
                bytes.len()
            )));
        }
        if &bytes[..2] != b"Ed" {
            return Err(not_a_public_key(format!(
                "unsupported signature algorithm {:?} (minisign keys are 'Ed')",
                String::from_utf8_lossy(&bytes[..2])
            )));
        }
        let key =
            minisign::PublicKey::from_bytes(&bytes).map_err(|e| not_a_public_key(e.to_string()))?;
        Ok(PublicKey {
            id: key_id(&key),
            key,
            comment: comment.trim().to_string(),
        })
    }

    /// The key id, 16 uppercase hex digits, as minisign prints it.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The untrusted comment of the file the key came from ("" for a bare base64 key).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The key as a minisign `.pub` file.
    pub fn to_file_text(&self) -> String {
        let comment = if self.comment.is_empty() {
            format!("minisign public key {}", self.id)
        } else {
            self.comment.clone()
        };
        format!("{UNTRUSTED_PREFIX}{comment}\n{}\n", self.key.to_base64())
    }

    /// The record a store keeps for a key it trusts from `added` on.
    pub fn to_trusted(&self, added: Timestamp) -> TrustedKey {
        TrustedKey {
            key_id: self.id.clone(),
            public_key: self.to_file_text(),
            comment: self.comment.clone(),
            added: added.rfc3339(),
        }
    }

    /// The key a store's record holds; a record whose text does not match its id is damage.
    pub fn from_trusted(k: &TrustedKey) -> Result<PublicKey> {
        let damaged = |why: String| {
            Error::new(
                ErrorKind::StoreDamaged,
                format!("trusted key {} in the store: {why}", k.key_id),
            )
            .with_hint("remove it with `offsync trust remove` and add the public key file again")
        };
        let pk = PublicKey::parse(&k.public_key).map_err(|e| damaged(e.message))?;
        if pk.id != k.key_id {
            return Err(damaged(format!("the stored key text has id {}", pk.id)));
        }
        Ok(pk)
    }

    /// Whether two keys are the same key (same id and same key bytes).
    pub fn same_key(&self, other: &PublicKey) -> bool {
        self.id == other.id && self.key == other.key
    }
}

fn not_a_public_key(why: impl std::fmt::Display) -> Error {
    Error::usage(format!("not a minisign public key: {why}"))
}

/// The key id of a minisign public key: its 8-byte key number read as a little-endian number,
/// in 16 uppercase hex digits (what `minisign` prints and writes in its comments).
pub fn key_id(pk: &minisign::PublicKey) -> String {
    keynum_hex(pk.keynum())
}

fn keynum_hex(keynum: &[u8]) -> String {
    let mut le = [0u8; 8];
    le.copy_from_slice(&keynum[..8]);
    format!("{:016X}", u64::from_le_bytes(le))
}

/// Reads a public key file (see [`PublicKey::parse`]); errors name the file.
pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    let text = read_small_text(path, "public key file")?;
    PublicKey::parse(&text).map_err(|e| e.context(path.display()))
}

/// All trusted keys of a store, parsed: what [`verify_manifest`] takes. Call with
/// `store.trusted_keys()?`.
pub fn trusted_public_keys(keys: &[TrustedKey]) -> Result<Vec<PublicKey>> {
    keys.iter().map(PublicKey::from_trusted).collect()
}

/// Reads a key file the operator named; missing files and odd sizes are usage errors.
fn read_small_text(path: &Path, what: &str) -> Result<String> {
    let meta = fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::usage(format!("{what} {} does not exist", path.display()))
        } else {
            Error::io(path, "read", e)
        }
    })?;
    if !meta.is_file() {
        return Err(Error::usage(format!(
            "{what} {} is not a file",
            path.display()
        )));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::usage(format!(
            "{what} {} is {} bytes; minisign key files are a few hundred",
            path.display(),
            meta.len()
        )));
    }
    let bytes = fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("{what} {} is not text", path.display())))
}

// ---------------------------------------------------------------------------------------------
// Passwords

/// Where a password may come from, in the order they are tried: the first line of `file`,
/// then `env` (the value of [`PASSWORD_ENV`]), then `prompt` — which the CLI gives only when
/// stdin is a terminal, so that a scheduled job fails with a message instead of hanging.
pub struct PasswordSource {
    pub file: Option<PathBuf>,
    pub env: Option<String>,
    pub prompt: Option<fn(&str) -> Result<String>>,
}

/// A password and where it came from (for messages; never the password itself).
pub struct Password {
    pub secret: String,
    pub from: String,
}

/// What the password is for: a new key asks twice at a prompt and refuses an empty password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordUse {
    NewKey,
    Unlock,
}

/// Resolves a password from `source` (see [`PasswordSource`] for the order).
pub fn resolve_password(source: &PasswordSource, purpose: PasswordUse) -> Result<Password> {
    let pw = if let Some(f) = &source.file {
        let text = read_password_file(f)?;
        Password {
            secret: text,
            from: format!("the first line of {}", f.display()),
        }
    } else if let Some(v) = &source.env {
        Password {
            secret: v.clone(),
            from: format!("the environment variable {PASSWORD_ENV}"),
        }
    } else if let Some(prompt) = source.prompt {
        let from = "the terminal".to_string();
        match purpose {
            PasswordUse::Unlock => Password {
                secret: prompt("Password of the secret key: ")?,
                from,
            },
            PasswordUse::NewKey => {
                let a = prompt("Password for the new secret key: ")?;
                let b = prompt("The same password again: ")?;
                if a != b {
                    return Err(Error::usage(
                        "the two passwords differ; nothing was written",
                    ));
                }
                Password { secret: a, from }
            }
        }
    } else {
        return Err(Error::usage(
            "a password is needed and there is no terminal to ask for it",
        )
        .with_hint(format!(
            "give it with --password-file FILE (its first line) or the environment variable {PASSWORD_ENV}"
        )));
    };
    if purpose == PasswordUse::NewKey && pw.secret.is_empty() {
        return Err(
            Error::usage(format!("the password from {} is empty", pw.from))
                .with_hint("choose a password, or make a key without one with --unencrypted"),
        );
    }
    Ok(pw)
}

fn read_password_file(path: &Path) -> Result<String> {
    let text = read_small_text(path, "password file")?;
    let line = text.lines().next().unwrap_or("");
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

// ---------------------------------------------------------------------------------------------
// Key generation

/// Writes a new key pair: `NAME.key` (the secret key, encrypted with `password`, or
/// unencrypted when it is None) and `NAME.pub` (the public key), where NAME is `out_base`
/// (a trailing `.key` or `.pub` is dropped). Refuses to overwrite either file. On unix the
/// secret key file is created with mode 0600.
pub fn generate_key(out_base: &Path, password: Option<&str>) -> Result<KeyPaths> {
    let base = strip_key_extension(out_base);
    let secret_path = with_suffix(&base, ".key");
    let public_path = with_suffix(&base, ".pub");
    let existing: Vec<String> = [&secret_path, &public_path]
        .iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::usage(format!(
            "{} already exist{}; a key pair is never overwritten",
            existing.join(" and "),
            if existing.len() == 1 { "s" } else { "" }
        ))
        .with_hint("choose another --out NAME, or move the old files away first"));
    }
    if let Some(parent) = base.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return Err(Error::usage(format!(
            "folder {} does not exist",
            parent.display()
        )));
    }
    let minisign::KeyPair { pk, sk } = match password {
        Some(p) => minisign::KeyPair::generate_encrypted_keypair(Some(p.to_string())),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| Error::other(format!("cannot generate a key pair: {e}")))?;
    let id = key_id(&pk);
    let how = if password.is_some() {
        "encrypted"
    } else {
        "unencrypted"
    };
    let sk_text = sk
        .to_box(Some(&format!("offsync secret key {id} ({how})")))
        .map_err(|e| Error::other(format!("cannot encode the secret key: {e}")))?
        .into_string();
    let public = PublicKey {
        key: pk,
        comment: format!("offsync public key {id}"),
        id: id.clone(),
    };
    write_new(&secret_path, sk_text.as_bytes(), true)?;
    if let Err(e) = write_new(&public_path, public.to_file_text().as_bytes(), false) {
        // Half a pair is worse than none: the next attempt would refuse to overwrite it.
        let _ = fs::remove_file(&secret_path);
        return Err(e);
    }
    crate::fsutil::sync_dir(secret_path.parent());
    Ok(KeyPaths {
        key_id: id,
        secret_key: secret_path,
        public_key: public_path,
        encrypted: password.is_some(),
    })
}

fn strip_key_extension(p: &Path) -> PathBuf {
    match p.extension().and_then(|e| e.to_str()) {
        Some("key") | Some("pub") => p.with_extension(""),
        _ => p.to_path_buf(),
    }
}

/// `NAME` + suffix (not `with_extension`, which would eat a dotted name like `offsync-2026.1`).
fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut s = base.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates `path`, which must not exist (create_new closes the race with another writer).
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Error::usage(format!(
                "{} already exists; a key pair is never overwritten",
                path.display()
            ))
        } else {
            Error::io(path, "create", e)
        }
    })?;
    let res = f.write_all(bytes).and_then(|_| f.sync_all());
    if let Err(e) = res {
        let _ = fs::remove_file(path);
        return Err(Error::io(path, "write", e));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signing

/// A secret key, decrypted and ready to sign. Load it before doing long work (an export), so
/// that a wrong password fails at once.
pub struct SigningKey {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
    id: String,
}

/// Whether the secret key file at `path` is encrypted, so the caller asks for a password only
/// when one is needed.
pub fn secret_key_is_encrypted(path: &Path) -> Result<bool> {
    Ok(read_secret_key_file(path)?.encrypted)
}

/// A secret key file, checked for shape: its canonical text, decoded bytes, and whether it
/// is encrypted.
struct SecretKeyFile {
    text: String,
    bytes: Vec<u8>,
    encrypted: bool,
}

fn read_secret_key_file(path: &Path) -> Result<SecretKeyFile> {
    let text = read_small_text(path, "secret key file")?;
    let bad = |why: &str| {
        Error::usage(format!(
            "{} is not a minisign secret key: {why}",
            path.display()
        ))
    };
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let (Some(comment), Some(b64)) = (lines.next(), lines.next()) else {
        return Err(bad(
            "expected 'untrusted comment: ...' and the key in base64",
        ));
    };
    if !comment.starts_with(UNTRUSTED_PREFIX) {
        return Err(bad(
            "the first line does not start with 'untrusted comment:'",
        ));
    }
    let bytes = B64
        .decode(b64)
        .map_err(|_| bad("the key line is not base64"))?;
    if bytes.len() == PUBLIC_KEY_BYTES {
        return Err(bad("this is a public key")
            .with_hint("sign with the secret key file (NAME.key) made with the public key"));
    }
    if bytes.len() != SECRET_KEY_BYTES || &bytes[..2] != b"Ed" {
        return Err(bad("unexpected size or algorithm"));
    }
    let encrypted = match &bytes[2..4] {
        [0, 0] => false,
        b"Sc" => true,
        _ => return Err(bad("unsupported key encryption (only scrypt is known)")),
    };
    Ok(SecretKeyFile {
        text: format!("{comment}\n{b64}\n"),
        bytes,
        encrypted,
    })
}

impl SigningKey {
    /// Loads and, if it is encrypted, decrypts a secret key file. An encrypted key without a
    /// password, or with a wrong one, is a usage error (never a prompt: the caller resolves
    /// the password first, see [`resolve_password`]).
    pub fn load(path: &Path, password: Option<&Password>) -> Result<SigningKey> {
        let file = read_secret_key_file(path)?;
        let sk = if file.encrypted {
            let sk_box = minisign::SecretKeyBox::from_string(&file.text)
                .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
            let Some(pw) = password else {
                return Err(Error::usage(format!(
                    "the secret key {} is encrypted and no password was given",
                    path.display()
                ))
                .with_hint(format!(
                    "give it with --password-file FILE or the environment variable {PASSWORD_ENV}"
                )));
            };
            sk_box
                .into_secret_key(Some(pw.secret.clone()))
                .map_err(|e| {
                    if matches!(e.kind(), minisign::ErrorKind::Verify) {
                        Error::usage(format!(
                            "wrong password for the secret key {} (the password came from {})",
                            path.display(),
                            pw.from
                        ))
                    } else {
                        Error::usage(format!("cannot decrypt {}: {e}", path.display()))
                    }
                })?
        } else {
            let damaged =
                |e: minisign::PError| Error::usage(format!("{} is damaged: {e}", path.display()));
            // `minisign -G -W` leaves the checksum as zeros, which the crate's unencrypted box
            // reader refuses; such a key is only checked by the test signature below.
            if file.bytes[file.bytes.len() - 32..].iter().all(|&b| b == 0) {
                minisign::SecretKey::from_bytes(&file.bytes).map_err(damaged)?
            } else {
                minisign::SecretKeyBox::from_string(&file.text)
                    .and_then(|b| b.into_unencrypted_secret_key())
                    .map_err(damaged)?
            }
        };
        let pk = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
        // A secret key whose halves do not match (a damaged file) would sign what nothing
        // verifies; `sign` checks its result against the public key, so try it once here.
        minisign::sign(
            Some(&pk),
            &sk,
            Cursor::new(&b""[..]),
            Some("self-test"),
            None,
        )
        .map_err(|_| {
            Error::usage(format!(
                "{} is damaged: its secret and public halves do not match",
                path.display()
            ))
        })?;
        Ok(SigningKey {
            id: key_id(&pk),
            sk,
            pk,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.pk.clone(),
            id: self.id.clone(),
            comment: format!("offsync public key {}", self.id),
        }
    }

    /// Signs `data` and returns the bytes of a `.minisig` file. The trusted comment is signed
    /// too; line breaks in it become spaces, and it may be at most 1024 bytes.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<Vec<u8>> {
        let tc: String = trusted_comment
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        // minisign trims the trusted comment line before checking it, so sign it trimmed.
        let tc = tc.trim();
        if tc.len() > MAX_TRUSTED_COMMENT {
            return Err(Error::usage(format!(
                "the trusted comment is {} bytes; at most {MAX_TRUSTED_COMMENT}",
                tc.len()
            )));
        }
        let untrusted = format!("signature from offsync secret key {}", self.id);
        // Passing the public key makes minisign check the signature it just made.
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            Cursor::new(data),
            Some(tc),
            Some(&untrusted),
        )
        .map_err(|e| Error::other(format!("cannot sign: {e}")))?;
        Ok(sig.to_bytes())
    }
}

/// Signs a manifest's bytes with the secret key file at `secret_key_path` and returns the
/// bytes of its `.minisig` file (see [`SigningKey`] to load once and fail early).
pub fn sign_manifest(
    secret_key_path: &Path,
    password: Option<&str>,
    manifest_bytes: &[u8],
    trusted_comment: &str,
) -> Result<Vec<u8>> {
    let pw = password.map(|p| Password {
        secret: p.to_string(),
        from: "the caller".into(),
    });
    SigningKey::load(secret_key_path, pw.as_ref())?.sign(manifest_bytes, trusted_comment)
}

// ---------------------------------------------------------------------------------------------
// Verifying

/// The signature file of `manifest_path`: `manifest.json.minisig` beside `manifest.json`.
pub fn signature_path(manifest_path: &Path) -> PathBuf {
    let mut s = manifest_path.as_os_str().to_os_string();
    s.push(SIGNATURE_SUFFIX);
    PathBuf::from(s)
}

/// Reads the signature file of `manifest_path` if there is one. It comes from the media, so
/// it must be a regular file of sane size; anything else is untrusted.
pub fn read_signature(manifest_path: &Path) -> Result<Option<Vec<u8>>> {
    let path = signature_path(manifest_path);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, "read", e)),
    };
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    // Opened without blocking and checked again through the handle: the media can change
    // between the look above and the open.
    crate::bundle::verify::open_media(&path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&path, "read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "{} is larger than {MAX_FILE_BYTES} bytes; it is not a minisign signature",
                path.display()
            ),
        ));
    }
    Ok(Some(bytes))
}

/// A `.minisig` file checked for shape, so that nothing malformed reaches the minisign crate
/// (whose Ed25519 code slices the global signature without checking its length).
struct ParsedSignature {
    sig_box: minisign::SignatureBox,
    key_id: String,
}

fn parse_signature(bytes: &[u8]) -> Result<ParsedSignature> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Untrusted,
            format!("the signature file is not a valid minisign signature: {why}"),
        )
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(bad("it is far too large"));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| bad("it is not text"))?;
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut it = lines.iter();
    let (Some(uc), Some(sig), Some(tc), Some(gsig)) = (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(bad("it needs four lines"));
    };
    if it.any(|l| !l.trim().is_empty()) {
        return Err(bad("it has more than four lines"));
    }
    if !uc.starts_with(UNTRUSTED_PREFIX) {
        return Err(bad("line 1 does not start with 'untrusted comment:'"));
    }
    if !tc.starts_with(TRUSTED_PREFIX) {
        return Err(bad("line 3 does not start with 'trusted comment:'"));
    }
    let sig_bytes = B64
        .decode(sig.trim())
        .map_err(|_| bad("line 2 is not base64"))?;
    if sig_bytes.len() != SIGNATURE_BYTES {
        return Err(bad("line 2 has the wrong length"));
    }
    if &sig_bytes[..2] != b"ED" && &sig_bytes[..2] != b"Ed" {
        return Err(bad("unknown signature algorithm"));
    }
    let g = B64
        .decode(gsig.trim())
        .map_err(|_| bad("line 4 is not base64"))?;
    if g.len() != GLOBAL_SIGNATURE_BYTES {
        return Err(bad("line 4 has the wrong length"));
    }
    let canonical = format!("{uc}\n{sig}\n{tc}\n{gsig}\n");
    let sig_box =
        minisign::SignatureBox::from_string(&canonical).map_err(|e| bad(&e.to_string()))?;
    Ok(ParsedSignature {
        key_id: keynum_hex(&sig_bytes[2..10]),
        sig_box,
    })
}

/// Checks that `sig_bytes` (a `.minisig` file) is a valid signature of `manifest_bytes` by one
/// of the `trusted` keys. Every failure is [`ErrorKind::Untrusted`]: no signature, a signature
/// by a key not in `trusted` (named by its id), a signature that does not match, or a file
/// that is not a signature. Prehashed and legacy signatures are both accepted, as
/// `minisign -V` accepts them by default.
pub fn verify_manifest(
    trusted: &[PublicKey],
    manifest_bytes: &[u8],
    sig_bytes: Option<&[u8]>,
) -> Result<VerifiedBy> {
    let trusted_ids = || {
        if trusted.is_empty() {
            "no key is trusted".to_string()
        } else {
            let ids: Vec<&str> = trusted.iter().map(|k| k.id.as_str()).collect();
            format!("trusted: {}", ids.join(", "))
        }
    };
    let Some(sig_bytes) = sig_bytes else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "the bundle is not signed (no manifest.json{SIGNATURE_SUFFIX}; {})",
                trusted_ids()
            ),
        )
        .with_hint(
            "sign this bundle where its secret key is kept, with `offsync sign BUNDLE --key NAME.key` (or export with --sign), and copy the whole bundle folder with manifest.json.minisig",
        ));
    };
    let parsed = parse_signature(sig_bytes)?;
    let Some(pk) = trusted.iter().find(|k| k.id == parsed.key_id) else {
        return Err(Error::new(
            ErrorKind::Untrusted,
            format!(
                "the bundle is signed by key {}, which is not trusted here ({})",
                parsed.key_id,
                trusted_ids()
            ),
        )
        .with_hint("if that key is genuine, add its public key with `offsync trust add`"));
    };
    minisign::verify(
        &pk.key,
        &parsed.sig_box,
        Cursor::new(manifest_bytes),
        true,
        false,
        true,
    )
    .map_err(|e| {
        Error::new(
            ErrorKind::Untrusted,
            format!(
                "the signature by key {} does not match manifest.json ({e}): the manifest was changed after signing, or the signature is damaged",
                pk.id
            ),
        )
    })?;
    let trusted_comment = parsed.sig_box.trusted_comment().map_err(|e| {
        Error::new(
            ErrorKind::Untrusted,
            format!("the signature's trusted comment: {e}"),
        )
    })?;
    Ok(VerifiedBy {
        key_id: pk.id.clone(),
        trusted_comment,
    })
}

/// Import's rule: a store that trusts no key checks nothing (and says so, naming any key the
/// signature file claims); a store that trusts a key accepts only a valid signature by one of
/// its keys (see [`verify_manifest`]).
pub fn check_signature(
    trusted: &[PublicKey],
    manifest_bytes: &[u8],
    sig_bytes: Option<&[u8]>,
) -> Result<SignatureCheck> {
    if trusted.is_empty() {
        let claimed_key_id = sig_bytes.and_then(|b| parse_signature(b).ok().map(|p| p.key_id));
        return Ok(SignatureCheck::NotChecked { claimed_key_id });
    }
    verify_manifest(trusted, manifest_bytes, sig_bytes).map(SignatureCheck::Verified)
}

// ---------------------------------------------------------------------------------------------
// What a store trusts

/// What [`trust_key`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trusted {
    /// The key is trusted from now on.
    Added,
    /// The store trusted this very key already; nothing changed.
    AlreadyTrusted,
}

/// Makes `store` trust `pk`. A different key that happens to have the same id is refused
/// rather than taken for the trusted one.
pub fn trust_key(store: &mut Store, pk: &PublicKey, now: Timestamp) -> Result<Trusted> {
    if let Some(existing) = store
        .trusted_keys()?
        .into_iter()
        .find(|k| k.key_id == pk.key_id())
    {
        let same = PublicKey::from_trusted(&existing).is_ok_and(|e| e.same_key(pk));
        return if same {
            Ok(Trusted::AlreadyTrusted)
        } else {
            Err(Error::usage(format!(
                "the store trusts a different key with the same id {}",
                pk.key_id()
            ))
            .with_hint(
                "check which key is genuine; remove the other with `offsync trust remove` first",
            ))
        };
    }
    let mut tx = store.begin()?;
    let added = tx.add_trusted_key(&pk.to_trusted(now))?;
    tx.commit()?;
    Ok(if added {
        Trusted::Added
    } else {
        Trusted::AlreadyTrusted
    })
}

/// Makes `store` stop trusting the key `spec` names: a key id (16 hex digits, any case) or a
/// public key file. Returns the removed key. An unknown key is a usage error that lists the
/// trusted ids.
pub fn untrust_key(store: &mut Store, spec: &str) -> Result<TrustedKey> {
    let id = key_ref(spec)?;
    let keys = store.trusted_keys()?;
    let Some(found) = keys.iter().find(|k| k.key_id == id).cloned() else {
        let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        let listed = if ids.is_empty() {
            "this store trusts no key".to_string()
        } else {
            format!("trusted: {}", ids.join(", "))
        };
        return Err(Error::usage(format!(
            "key {id} is not trusted by this store ({listed})"
        )));
    };
    let mut tx = store.begin()?;
    tx.remove_trusted_key(&id)?;
    tx.commit()?;
    Ok(found)
}

/// A key named on the command line: a public key file if one exists at `spec`, else a key id.
fn key_ref(spec: &str) -> Result<String> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(load_public_key(path)?.id);
    }
    let s = spec.trim();
    if s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(s.to_ascii_uppercase());
    }
    Err(Error::usage(format!(
        "'{spec}' is neither a key id (16 hex digits) nor a public key file"
    ))
    .with_hint("`offsync trust list` shows the trusted key ids"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = b"{\"format_version\":1,\"entries\":[]}\n";

    fn keypair(dir: &Path, name: &str) -> (SigningKey, PublicKey) {
        let paths = generate_key(&dir.join(name), None).unwrap();
        let sk = SigningKey::load(&paths.secret_key, None).unwrap();
        let pk = load_public_key(&paths.public_key).unwrap();
        assert_eq!(sk.key_id(), pk.key_id());
        (sk, pk)
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(dir.path(), "a");
        let sig = sk.sign(MANIFEST, "bundle 1\nof store x").unwrap();
        let v = verify_manifest(std::slice::from_ref(&pk), MANIFEST, Some(&sig)).unwrap();
        assert_eq!(v.key_id, pk.key_id());
        assert_eq!(v.trusted_comment, "bundle 1 of store x");
        let text = String::from_utf8(sig.clone()).unwrap();
        assert!(text.starts_with("untrusted comment: "), "{text}");
        assert_eq!(text.lines().count(), 4);
        assert_eq!(
            check_signature(&[pk], MANIFEST, Some(&sig)).unwrap(),
            SignatureCheck::Verified(v)
        );
    }

    #[test]
    fn a_tampered_manifest_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(dir.path(), "a");
        let sig = sk.sign(MANIFEST, "c").unwrap();
        let mut changed = MANIFEST.to_vec();
        changed[5] ^= 1;
        let e = verify_manifest(&[pk], &changed, Some(&sig)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
        assert!(e.message.contains("does not match"), "{}", e.message);
    }

    #[test]
    fn a_tampered_trusted_comment_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(dir.path(), "a");
        let sig = String::from_utf8(sk.sign(MANIFEST, "sequence 7").unwrap()).unwrap();
        let forged = sig.replace("sequence 7", "sequence 9");
        let e = verify_manifest(&[pk], MANIFEST, Some(forged.as_bytes())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
    }

    #[test]
    fn another_key_fails_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (sk_a, _) = keypair(dir.path(), "a");
        let (_, pk_b) = keypair(dir.path(), "b");
        let sig = sk_a.sign(MANIFEST, "c").unwrap();
        let e = verify_manifest(std::slice::from_ref(&pk_b), MANIFEST, Some(&sig)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
        assert!(e.message.contains(sk_a.key_id()), "{}", e.message);
        assert!(e.message.contains(pk_b.key_id()), "{}", e.message);
        // Same key id, different key: the signature does not verify.
        let mut impostor = pk_b.clone();
        impostor.id = sk_a.key_id().to_string();
        let e = verify_manifest(&[impostor], MANIFEST, Some(&sig)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
    }

    #[test]
    fn missing_and_malformed_signatures_are_untrusted() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = keypair(dir.path(), "a");
        let trusted = [pk];
        let e = verify_manifest(&trusted, MANIFEST, None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Untrusted);
        assert!(
            e.message.contains("the bundle is not signed"),
            "{}",
            e.message
        );
        let good = String::from_utf8(sk.sign(MANIFEST, "c").unwrap()).unwrap();
        let lines: Vec<&str> = good.lines().collect();
        let short_global = format!("{}\n{}\n{}\nAAAA\n", lines[0], lines[1], lines[2]);
        let empty_global = format!("{}\n{}\n{}\n\n", lines[0], lines[1], lines[2]);
        let short_sig = format!("{}\nRUQ=\n{}\n{}\n", lines[0], lines[2], lines[3]);
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"untrusted comment: x\n",
            short_global.as_bytes(),
            empty_global.as_bytes(),
            short_sig.as_bytes(),
            good.replace("trusted comment: ", "comment: ").as_bytes(),
            format!("{good}extra line\n").as_bytes(),
            &vec![b'A'; 100_000],
        ] {
            let e = verify_manifest(&trusted, MANIFEST, Some(bad)).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Untrusted, "{bad:?}");
        }
        // CRLF line ends (a file passed through a Windows tool) still verify.
        let crlf = good.replace('\n', "\r\n");
        verify_manifest(&trusted, MANIFEST, Some(crlf.as_bytes())).unwrap();
    }

    #[test]
    fn a_store_without_keys_checks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, _) = keypair(dir.path(), "a");
        let sig = sk.sign(MANIFEST, "c").unwrap();
        assert_eq!(
            check_signature(&[], MANIFEST, Some(&sig)).unwrap(),
            SignatureCheck::NotChecked {
                claimed_key_id: Some(sk.key_id().to_string())
            }
        );
        assert_eq!(
            check_signature(&[], MANIFEST, None).unwrap(),
            SignatureCheck::NotChecked {
                claimed_key_id: None
            }
        );
    }

    #[test]
    fn encrypted_keys_need_the_right_password() {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_key(&dir.path().join("k"), Some("correct horse")).unwrap();
        assert!(paths.encrypted);
        assert!(secret_key_is_encrypted(&paths.secret_key).unwrap());
        let e = SigningKey::load(&paths.secret_key, None).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Usage);
        let e = sign_manifest(&paths.secret_key, Some("wrong"), MANIFEST, "c").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("wrong password"), "{}", e.message);
        let sig = sign_manifest(&paths.secret_key, Some("correct horse"), MANIFEST, "c").unwrap();
        let pk = load_public_key(&paths.public_key).unwrap();
        verify_manifest(&[pk], MANIFEST, Some(&sig)).unwrap();
    }

    #[test]
    fn key_files_have_minisign_shapes_and_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_key(&dir.path().join("site.key"), None).unwrap();
        assert_eq!(paths.secret_key, dir.path().join("site.key"));
        assert_eq!(paths.public_key, dir.path().join("site.pub"));
        let text = fs::read_to_string(&paths.public_key).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("untrusted comment: "));
        assert!(lines[0].contains(&paths.key_id));
        assert_eq!(lines[1].len(), 56);
        assert_eq!(paths.key_id.len(), 16);
        assert!(
            paths
                .key_id
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&paths.secret_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = fs::read(&paths.secret_key).unwrap();
        let e = generate_key(&dir.path().join("site"), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("site.key") && e.message.contains("site.pub"));
        assert_eq!(fs::read(&paths.secret_key).unwrap(), before);
        // A bare base64 key parses too; a secret key given as public key is refused clearly.
        let bare = PublicKey::parse(lines[1]).unwrap();
        assert_eq!(bare.key_id(), paths.key_id);
        let e = load_public_key(&paths.secret_key).unwrap_err();
        assert!(e.message.contains("secret key"), "{}", e.message);
        let e = SigningKey::load(&paths.public_key, None).err().unwrap();
        assert!(e.message.contains("public key"), "{}", e.message);
    }

    #[test]
    fn unencrypted_keys_without_checksum_load_and_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_key(&dir.path().join("k"), None).unwrap();
        let text = fs::read_to_string(&paths.secret_key).unwrap();
        let (comment, b64) = text.trim_end().split_once('\n').unwrap();
        let mut bytes = B64.decode(b64).unwrap();
        assert_eq!(bytes.len(), SECRET_KEY_BYTES);
        let rewrite = |bytes: &[u8]| {
            fs::write(
                &paths.secret_key,
                format!("{comment}\n{}\n", B64.encode(bytes)),
            )
            .unwrap()
        };
        let damaged = || {
            let e = SigningKey::load(&paths.secret_key, None).err().unwrap();
            assert!(e.message.contains("damaged"), "{}", e.message);
        };
        // Layout: algorithms 6, salt 32, limits 16, key id 54..62, secret 62..126, checksum.
        let original = bytes.clone();
        bytes[55] ^= 1;
        rewrite(&bytes);
        damaged(); // the checksum covers the key id
        // As `minisign -G -W` writes it: checksum all zeros.
        let mut bytes = original.clone();
        bytes[126..].fill(0);
        rewrite(&bytes);
        let sk = SigningKey::load(&paths.secret_key, None).unwrap();
        assert_eq!(sk.key_id(), paths.key_id);
        // A flipped bit in the secret scalar's seed or in the public half: the test signature.
        for i in [70, 120] {
            let mut b = bytes.clone();
            b[i] ^= 1;
            rewrite(&b);
            damaged();
        }
    }

    #[test]
    fn trusted_records_round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let (_, pk) = keypair(dir.path(), "a");
        let rec = pk.to_trusted(Timestamp(0));
        assert_eq!(rec.key_id, pk.key_id());
        let back = PublicKey::from_trusted(&rec).unwrap();
        assert!(back.same_key(&pk));
        let mut bad = rec.clone();
        bad.key_id = "0000000000000000".into();
        assert_eq!(
            PublicKey::from_trusted(&bad).unwrap_err().kind,
            ErrorKind::StoreDamaged
        );
    }

    #[test]
    fn password_sources_are_tried_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        fs::write(&f, "from file\r\nsecond line\n").unwrap();
        fn prompt(_: &str) -> Result<String> {
            Ok("typed".into())
        }
        let src = |file: bool, env: bool, tty: bool| PasswordSource {
            file: file.then(|| f.clone()),
            env: env.then(|| "from env".to_string()),
            prompt: if tty { Some(prompt) } else { None },
        };
        let get = |s: PasswordSource| resolve_password(&s, PasswordUse::Unlock).map(|p| p.secret);
        assert_eq!(get(src(true, true, true)).unwrap(), "from file");
        assert_eq!(get(src(false, true, true)).unwrap(), "from env");
        assert_eq!(get(src(false, false, true)).unwrap(), "typed");
        let e = get(src(false, false, false)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.to_string().contains("--password-file"), "{e}");
        let empty = PasswordSource {
            file: None,
            env: Some(String::new()),
            prompt: None,
        };
        assert_eq!(
            resolve_password(&empty, PasswordUse::NewKey)
                .err()
                .unwrap()
                .kind,
            ErrorKind::Usage
        );
    }
}
