//! The SSE-C customer key: 32 secret bytes, and the few ways users hold them.
//!
//! `SseKey` owns the raw bytes, zeroizes them on drop and never prints them: there is no
//! `Display`, and `Debug` shows `SseKey(****)`. Everything a server or a log may see goes
//! through `KeyFingerprint` (base64 of the MD5 of the raw bytes, exactly what S3 echoes in
//! `x-amz-server-side-encryption-customer-key-MD5`).
//!
//! Parsing accepts the three forms users really have (the base64 line `openssl rand -base64
//! 32` writes, a raw 32-byte file, 64 hex digits) and refuses everything else with a message
//! that describes what was found (lengths, character classes) without echoing the input,
//! because the input may itself be a secret.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// Length of an SSE-C key (AES-256).
pub const KEY_LEN: usize = 32;

/// The algorithm name S3 expects in `x-amz-server-side-encryption-customer-algorithm`.
pub const SSE_ALGORITHM: &str = "AES256";

/// A 32-byte customer key. Locked in memory (never swapped) and zeroized on drop, where the
/// OS allows (see `hardening`); never printed.
#[derive(Clone)]
pub struct SseKey {
    bytes: super::hardening::Locked32,
}

impl fmt::Debug for SseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SseKey(****)")
    }
}

impl PartialEq for SseKey {
    fn eq(&self, other: &Self) -> bool {
        // Not constant-time, and it need not be: keys are only compared against keys the
        // user already holds (dedup on import), never against attacker input.
        self.bytes.bytes()[..] == other.bytes.bytes()[..]
    }
}
impl Eq for SseKey {}

/// base64(MD5(raw key)): the public name of a key. Safe to store, log and show.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a fingerprint read back from the registry or a server header.
    pub fn from_stored(s: impl Into<String>) -> Self {
        Self(s.into())
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why some bytes are not a key. The texts describe the input's shape, never its content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyParseError {
    #[error("the key input is empty; expected the base64 line `openssl rand -base64 32` writes")]
    Empty,
    #[error(
        "found {found} raw bytes of binary data; a raw key file must hold exactly 32 bytes \
         (or give the key as 44 base64 characters or 64 hex digits)"
    )]
    WrongBinaryLength { found: usize },
    #[error(
        "found {found} printable characters that are neither base64 nor hex: this looks like a \
         password, not a key. A key is 32 random bytes; make one with \
         `ssec-manager key generate` or `openssl rand -base64 32`"
    )]
    LooksLikePassword { found: usize },
    #[error(
        "the base64 text decodes to {decoded} bytes, but an SSE-C key is exactly 32 bytes \
         (44 base64 characters ending in '='); was it made with `openssl rand -base64 32`?"
    )]
    WrongDecodedLength { decoded: usize },
    #[error(
        "the text is base64 of a base64 key (it decodes to 44 characters of base64): decode \
         it once (`base64 -d`) and import the result"
    )]
    DoubleEncoded,
    #[error(
        "found {found} characters that look like base64 but are not valid base64 \
         ({reason}); expected 44 characters such as `openssl rand -base64 32` writes"
    )]
    BadBase64 { found: usize, reason: &'static str },
    #[error(
        "found {found} hex digits; a hex key has exactly 64 (32 bytes), such as \
         `openssl rand -hex 32` writes"
    )]
    WrongHexLength { found: usize },
    #[error(
        "the key text spans {lines} lines or holds whitespace or control characters inside it \
         (for example a CRLF in the middle); a key file holds one line: 44 base64 characters \
         or 64 hex digits"
    )]
    Junk { lines: usize },
    #[error(
        "the key text holds non-ASCII characters; expected 44 base64 characters or 64 hex digits"
    )]
    NotAscii,
}

impl SseKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(&mut bytes[..])?;
        Ok(Self::from_raw(&bytes))
    }

    pub fn from_raw(raw: &[u8; KEY_LEN]) -> Self {
        Self {
            bytes: super::hardening::Locked32::new(raw),
        }
    }

    /// Parses any accepted form: raw 32 bytes, the seed's base64 line, or 64 hex digits.
    pub fn parse(input: &[u8]) -> Result<Self, KeyParseError> {
        if input.is_empty() {
            return Err(KeyParseError::Empty);
        }
        // 32 random bytes are all printable ASCII or whitespace with odds of about 1e-13, so
        // 32 bytes of text are a typed password, and 32 bytes of anything else are a raw key.
        let is_text = |b: &[u8]| {
            b.iter()
                .all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace())
        };
        if input.len() == KEY_LEN && !is_text(input) {
            let mut raw = Zeroizing::new([0u8; KEY_LEN]);
            raw.copy_from_slice(input);
            return Ok(Self::from_raw(&raw));
        }
        // Windows editors start text files with a byte order mark.
        let body = input
            .strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .unwrap_or(input);
        if is_text(body) {
            return Self::parse_text(body);
        }
        // Text with accents or symbols typed in (a passphrase), or binary of the wrong size.
        let typed = std::str::from_utf8(body)
            .is_ok_and(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()));
        if typed {
            Err(KeyParseError::NotAscii)
        } else {
            Err(KeyParseError::WrongBinaryLength { found: input.len() })
        }
    }

    fn parse_text(input: &[u8]) -> Result<Self, KeyParseError> {
        let text = input.trim_ascii();
        if text.is_empty() {
            return Err(KeyParseError::Empty);
        }
        if text.iter().any(|b| !b.is_ascii_graphic()) {
            let lines = text.split(|b| *b == b'\n').count();
            return Err(KeyParseError::Junk { lines });
        }
        let is_hex = text.iter().all(|b| b.is_ascii_hexdigit());
        if is_hex && text.len() == 2 * KEY_LEN {
            let mut raw = Zeroizing::new([0u8; KEY_LEN]);
            // The length and alphabet were checked above, so decoding cannot fail.
            hex::decode_to_slice(text, &mut raw[..])
                .map_err(|_| KeyParseError::WrongHexLength { found: text.len() })?;
            return Ok(Self::from_raw(&raw));
        }
        let is_b64_alphabet = text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if is_b64_alphabet && text.len() == 44 {
            return Self::decode_base64(text);
        }
        if is_hex && text.len() > 16 {
            return Err(KeyParseError::WrongHexLength { found: text.len() });
        }
        if is_b64_alphabet
            && (text.len().is_multiple_of(4) || text.ends_with(b"="))
            && text.len() > 16
        {
            return Self::decode_base64(text);
        }
        if text.iter().any(|b| matches!(b, b'-' | b'_')) && text.len() == 44 {
            return Err(KeyParseError::BadBase64 {
                found: text.len(),
                reason: "it uses the URL-safe alphabet ('-' or '_')",
            });
        }
        if is_b64_alphabet && (text.len() == 43 || text.len() == 45) {
            return Err(KeyParseError::BadBase64 {
                found: text.len(),
                reason: "the length is not a multiple of 4: a character is missing or extra",
            });
        }
        Err(KeyParseError::LooksLikePassword { found: text.len() })
    }

    fn decode_base64(text: &[u8]) -> Result<Self, KeyParseError> {
        let mut decoded =
            Zeroizing::new(B64.decode(text).map_err(|_| KeyParseError::BadBase64 {
                found: text.len(),
                reason: "misplaced '=' padding or a wrong final character",
            })?);
        if decoded.len() == 44
            && B64.decode(&decoded[..]).is_ok_and(|mut d| {
                let ok = d.len() == KEY_LEN;
                d.zeroize();
                ok
            })
        {
            return Err(KeyParseError::DoubleEncoded);
        }
        if decoded.len() != KEY_LEN {
            let n = decoded.len();
            decoded.zeroize();
            return Err(KeyParseError::WrongDecodedLength { decoded: n });
        }
        let mut raw = Zeroizing::new([0u8; KEY_LEN]);
        raw.copy_from_slice(&decoded);
        Ok(Self::from_raw(&raw))
    }

    /// The raw key bytes, for the keyring and the cipher only.
    pub fn raw(&self) -> &[u8; KEY_LEN] {
        self.bytes.bytes()
    }

    pub fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint(B64.encode(Md5::digest(&self.raw()[..])))
    }

    /// base64 of the raw key: the `x-amz-server-side-encryption-customer-key` header value,
    /// and the seed's key-file line (without its newline).
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(B64.encode(&self.raw()[..]))
    }

    /// The seed's key file: the base64 line plus a newline, as `openssl rand -base64 32` writes.
    pub fn to_seed_file(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(45));
        s.push_str(&self.to_base64());
        s.push('\n');
        s
    }

    /// The shell lines the seed document uses (`SSE_KEY`, `SSE_MD5`).
    pub fn to_env_lines(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "export SSE_KEY='{}'\nexport SSE_MD5='{}'\n",
            self.to_base64().as_str(),
            self.fingerprint()
        ))
    }
}

/// The three request headers for one key, ready for the SDK (which sends them verbatim).
pub struct SseHeaders {
    pub algorithm: &'static str,
    pub key_base64: Zeroizing<String>,
    pub key_md5: String,
}

impl fmt::Debug for SseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseHeaders")
            .field("algorithm", &self.algorithm)
            .field("key_md5", &self.key_md5)
            .finish_non_exhaustive()
    }
}

impl SseKey {
    pub fn headers(&self) -> SseHeaders {
        SseHeaders {
            algorithm: SSE_ALGORITHM,
            key_base64: self.to_base64(),
            key_md5: self.fingerprint().0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: [u8; 32] = [
        0x8a, 0x01, 0xff, 0x10, 0x22, 0x9c, 0x00, 0x7f, 0x3b, 0xe0, 0x44, 0x51, 0x66, 0x07, 0xaa,
        0xbb, 0xcc, 0xdd, 0x0e, 0xf1, 0x23, 0x45, 0x67, 0x89, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x99,
        0x80, 0x02,
    ];

    #[test]
    fn all_accepted_forms_give_one_key() {
        let key = SseKey::from_raw(&RAW);
        let b64 = B64.encode(RAW);
        let hex_lower = hex::encode(RAW);
        let forms: Vec<Vec<u8>> = vec![
            RAW.to_vec(),
            b64.clone().into_bytes(),
            format!("{b64}\n").into_bytes(),
            format!("  {b64}\r\n").into_bytes(),
            format!("\u{feff}{b64}\n").into_bytes(),
            hex_lower.clone().into_bytes(),
            hex_lower.to_uppercase().into_bytes(),
            format!("{hex_lower}\n").into_bytes(),
        ];
        for form in forms {
            let parsed = SseKey::parse(&form).expect("accepted form");
            assert_eq!(parsed, key);
            assert_eq!(parsed.fingerprint(), key.fingerprint());
        }
    }

    #[test]
    fn debug_never_shows_bytes() {
        let key = SseKey::from_raw(&RAW);
        let dbg = format!("{key:?} {:?}", key.headers());
        assert_eq!(format!("{key:?}"), "SseKey(****)");
        assert!(!dbg.contains(key.to_base64().as_str()));
    }

    #[test]
    fn bad_inputs_are_refused_with_their_shape() {
        let b64 = B64.encode(RAW);
        let cases: Vec<(Vec<u8>, KeyParseError)> = vec![
            (vec![], KeyParseError::Empty),
            (b"\n\n".to_vec(), KeyParseError::Empty),
            (
                vec![0u8; 31],
                KeyParseError::WrongBinaryLength { found: 31 },
            ),
            (
                b"correct-horse-battery-staple-123".to_vec(),
                KeyParseError::LooksLikePassword { found: 32 },
            ),
            (
                b"correct horse battery staple 123".to_vec(),
                KeyParseError::Junk { lines: 1 },
            ),
            (
                B64.encode([7u8; 16]).into_bytes(),
                KeyParseError::WrongDecodedLength { decoded: 16 },
            ),
            (
                hex::encode(&RAW[..31]).into_bytes(),
                KeyParseError::WrongHexLength { found: 62 },
            ),
            (
                format!("{b64}\r\nextra").into_bytes(),
                KeyParseError::Junk { lines: 2 },
            ),
            (
                B64.encode(b64.as_bytes()).into_bytes(),
                KeyParseError::DoubleEncoded,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(SseKey::parse(&input).unwrap_err(), expected);
        }
    }
}
