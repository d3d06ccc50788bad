//! Where things are on a server, as users write it: `s3://BUCKET`, `s3://BUCKET/PREFIX/`,
//! `s3://BUCKET/KEY`. One parser for every face and every layer; it depends on nothing else
//! in the core, so the registry (which stores locations) and the S3 layer (which requests
//! them) can both use it without depending on each other.
//!
//! S3 itself has no folders: a "prefix" is the start of object keys, and a location names a
//! folder only by ending in '/' (or by naming the bucket alone). Callers that take either
//! ask for what they need: [`S3Location::object`] or [`S3Location::prefix`].

use std::fmt;

/// S3's limit on an object key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// `s3://BUCKET/KEY`: one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

/// `s3://BUCKET` or `s3://BUCKET/PATH`, where PATH is an object key or a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Everything after `BUCKET/`, as written ("" for the bucket itself).
    pub path: String,
}

/// Why a text is not an S3 location, in words that show how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("\"{0}\" is not an S3 URL; write it as s3://BUCKET/KEY or s3://BUCKET/PREFIX/")]
    NotS3(String),
    #[error("\"{0}\" names no bucket; write it as s3://BUCKET/KEY or s3://BUCKET/PREFIX/")]
    NoBucket(String),
    #[error("\"{0}\" names no object; write it as s3://BUCKET/KEY")]
    NoObject(String),
    #[error("\"{0}\" contains a control character; object keys and bucket names cannot hold one")]
    Control(String),
    #[error("the object key in \"{0}\" is longer than S3's limit of 1024 bytes")]
    TooLong(String),
}

impl S3Location {
    /// Parses `s3://BUCKET[/PATH]`.
    pub fn parse(text: &str) -> Result<Self, LocationError> {
        let shown = || text.escape_debug().to_string();
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| LocationError::NotS3(shown()))?;
        if text.chars().any(char::is_control) {
            return Err(LocationError::Control(shown()));
        }
        let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || bucket.chars().any(char::is_whitespace) {
            return Err(LocationError::NoBucket(shown()));
        }
        if path.len() > MAX_KEY_BYTES {
            return Err(LocationError::TooLong(shown()));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            path: path.to_string(),
        })
    }

    /// A bucket, or a place in it written as a folder (ending in '/').
    pub fn is_folder(&self) -> bool {
        self.path.is_empty() || self.path.ends_with('/')
    }

    /// The object this location names, unless it names a folder.
    pub fn object(&self) -> Option<S3Url> {
        (!self.is_folder()).then(|| S3Url {
            bucket: self.bucket.clone(),
            key: self.path.clone(),
        })
    }

    /// The path as the start of object keys (what a listing or a `--prefix` matches).
    pub fn prefix(&self) -> &str {
        &self.path
    }

    /// The path as a folder: "" for the bucket, else ending in exactly one '/'.
    pub fn folder(&self) -> String {
        folder_prefix(&self.path)
    }
}

/// "a/b" or "a/b/" or "/a/b" -> "a/b/"; "" stays "" (the bucket's top).
pub fn folder_prefix(path: &str) -> String {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

impl std::str::FromStr for S3Location {
    type Err = LocationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::str::FromStr for S3Url {
    type Err = LocationError;

    /// Any non-empty key, a folder marker ending in '/' included (it is an object too).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let at = S3Location::parse(s)?;
        if at.path.is_empty() {
            return Err(LocationError::NoObject(s.escape_debug().to_string()));
        }
        Ok(S3Url {
            bucket: at.bucket,
            key: at.path,
        })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.path)
        }
    }
}

impl S3Url {
    /// The object's name: the last segment of its key.
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

/// Why an object key cannot be saved under a local folder: the name would leave the folder,
/// or the local file system cannot hold it as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalPathError {
    #[error("\"{key}\" is not under the prefix \"{prefix}\"")]
    NotUnderPrefix { key: String, prefix: String },
    #[error(
        "the object \"{key}\" cannot be saved as a file here: {why}; download it on its own \
         with `ssec-manager download s3://BUCKET/KEY FILE` and a name of your choice"
    )]
    Unsafe { key: String, why: &'static str },
}

/// The file system whose naming rules a local path must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalNames {
    /// Any byte but '/' and NUL; this is Linux and macOS.
    Unix,
    /// Also no `\ : * ? " < > |`, no name ending in '.' or ' ', no device name (CON,
    /// NUL, COM1...), which Windows would read as a drive, a stream or a device.
    Windows,
}

impl LocalNames {
    /// The rules of the system this build runs on.
    pub const HERE: Self = if cfg!(windows) {
        LocalNames::Windows
    } else {
        LocalNames::Unix
    };
}

/// The most bytes in one file or folder name on common file systems (ext4, APFS, NTFS
/// counts UTF-16 units, which never outnumber UTF-8 bytes).
pub const MAX_NAME_BYTES: usize = 255;

/// Where the object `object_key`, listed under the folder `prefix`, is saved when that
/// folder is downloaded into `root`: `root` joined with the rest of the key, one path
/// component per '/'-separated segment, always strictly inside `root` on any OS.
///
/// An object key is anyone's text, so a segment that would climb out (`..`), restart the
/// path (an absolute key, a drive letter, a backslash), name the folder itself (`.`, an
/// empty segment) or that the file system cannot hold (NUL, controls, overlong, a Windows
/// device name) is refused, never rewritten: two keys must never land on one file. Folder
/// download (a later issue) saves each listed object here; `root` itself may have any name,
/// invalid UTF-8 included.
pub fn local_path_for(
    root: &std::path::Path,
    prefix: &str,
    object_key: &str,
) -> Result<std::path::PathBuf, LocalPathError> {
    local_path_with(root, prefix, object_key, LocalNames::HERE)
}

/// [`local_path_for`] under the naming rules of `names` (tests check Windows' on any OS).
pub fn local_path_with(
    root: &std::path::Path,
    prefix: &str,
    object_key: &str,
    names: LocalNames,
) -> Result<std::path::PathBuf, LocalPathError> {
    let folder = folder_prefix(prefix);
    let rest =
        object_key
            .strip_prefix(folder.as_str())
            .ok_or_else(|| LocalPathError::NotUnderPrefix {
                key: object_key.escape_debug().to_string(),
                prefix: prefix.escape_debug().to_string(),
            })?;
    let unsafe_ = |why| LocalPathError::Unsafe {
        key: object_key.escape_debug().to_string(),
        why,
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(unsafe_("it names a folder, not a file"));
    }
    let mut path = root.to_path_buf();
    for segment in rest.split('/') {
        if let Some(why) = local_name_problem(segment, names) {
            return Err(unsafe_(why));
        }
        path.push(segment);
    }
    Ok(path)
}

/// Why `name` cannot be one file or folder name under `names`' rules, if it cannot.
fn local_name_problem(name: &str, names: LocalNames) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it holds an empty path segment ('//' or a leading '/')");
    }
    if name == "." || name == ".." {
        return Some("it holds a '.' or '..' segment, which would leave the folder");
    }
    if name.contains('\0') {
        return Some("it holds a NUL character");
    }
    if name.chars().any(char::is_control) {
        return Some("it holds a control character");
    }
    if name.len() > MAX_NAME_BYTES {
        return Some("a segment is longer than 255 bytes, more than a file name may be");
    }
    // A backslash is a separator on Windows and ordinary elsewhere, so a name holding one
    // would mean two different things: refused on every OS.
    if name.contains('\\') {
        return Some("it holds a backslash, a folder separator on Windows");
    }
    if names == LocalNames::Windows {
        if name.contains([':', '*', '?', '"', '<', '>', '|']) {
            return Some("it holds one of : * ? \" < > |, which Windows does not allow");
        }
        if name.ends_with(['.', ' ']) {
            return Some("a segment ends in '.' or a space, which Windows drops");
        }
        let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
        let stem = stem.to_ascii_uppercase();
        let device = matches!(
            stem.as_str(),
            "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
        ) || ["COM", "LPT"].iter().any(|d| {
            stem.strip_prefix(d).is_some_and(|n| {
                n.len() == 1 && n.as_bytes()[0].is_ascii_digit()
                    || matches!(n, "\u{b9}" | "\u{b2}" | "\u{b3}")
            })
        });
        if device {
            return Some("a segment is a Windows device name (CON, NUL, COM1...)");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_folders_and_buckets() {
        let u: S3Url = "s3://b/a/b c.txt".parse().unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("b", "a/b c.txt"));
        assert_eq!(u.to_string(), "s3://b/a/b c.txt");
        assert_eq!(u.file_name(), "b c.txt");
        assert!("s3://b".parse::<S3Url>().is_err());
        assert!("s3://b/".parse::<S3Url>().is_err());
        // A folder marker is an object too.
        assert_eq!("s3://b/dir/".parse::<S3Url>().unwrap().key, "dir/");
        assert!("http://b/k".parse::<S3Url>().is_err());

        let bucket = S3Location::parse("s3://b").unwrap();
        assert!(bucket.is_folder());
        assert_eq!((bucket.prefix(), bucket.folder().as_str()), ("", ""));
        assert_eq!(bucket.to_string(), "s3://b");
        let folder = S3Location::parse("s3://b/photos/").unwrap();
        assert!(folder.is_folder() && folder.object().is_none());
        let loose = S3Location::parse("s3://b/photos").unwrap();
        assert_eq!(loose.folder(), "photos/");
        assert_eq!(loose.prefix(), "photos");
        assert_eq!(loose.object().unwrap().key, "photos");
    }

    #[test]
    fn what_cannot_be_a_location_says_how_to_write_one() {
        for (text, part) in [
            ("b/k", "not an S3 URL"),
            ("s3:///k", "names no bucket"),
            ("s3://", "names no bucket"),
            ("s3://b c/k", "names no bucket"),
            ("s3://b/a\u{7}b", "control character"),
        ] {
            let err = S3Location::parse(text).unwrap_err().to_string();
            assert!(err.contains(part), "{text}: {err}");
        }
        let long = format!("s3://b/{}", "k".repeat(1025));
        assert!(matches!(
            S3Location::parse(&long),
            Err(LocationError::TooLong(_))
        ));
        assert!(S3Location::parse(&format!("s3://b/{}", "k".repeat(1024))).is_ok());
    }

    #[test]
    fn folder_prefixes_end_in_one_slash() {
        assert_eq!(folder_prefix(""), "");
        assert_eq!(folder_prefix("/"), "");
        assert_eq!(folder_prefix("a"), "a/");
        assert_eq!(folder_prefix("/a/b//"), "a/b/");
    }
}
