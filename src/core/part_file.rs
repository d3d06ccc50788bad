//! The file a download or a backup lands in until it is whole.
//!
//! On Linux it has no name while it fills (`O_TMPFILE`): a process killed mid-download
//! (SIGKILL, a crash, power lost) leaves nothing in the user's folder, since the kernel
//! frees an unnamed file with its last descriptor. Once complete it gets a hidden name
//! beside the target (a hard link through `/proc/self/fd`) and is renamed over the target
//! at once, so the target is always either untouched or the complete new content.
//! Elsewhere, or on a filesystem without `O_TMPFILE`, it is a hidden named file beside the
//! target (`.NAME.XXXXXX.ssec-part`), removed on every failure the process lives through.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub struct PartFile {
    inner: Inner,
    /// For messages: the named file's path, or the folder it will be named in.
    shown: PathBuf,
    dir: PathBuf,
    name: String,
}

enum Inner {
    Unnamed(File),
    Named(tempfile::NamedTempFile),
}

impl PartFile {
    /// A new empty part file in `dir` for a target called `name`.
    pub fn create_in(dir: &Path, name: &str) -> io::Result<Self> {
        // A bare file name's parent is "": the current folder.
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let inner = match unnamed_in(dir) {
            Some(file) => Inner::Unnamed(file),
            None => Inner::Named(named_in(dir, name)?),
        };
        let shown = match &inner {
            Inner::Named(t) => t.path().to_path_buf(),
            Inner::Unnamed(_) => dir.to_path_buf(),
        };
        Ok(Self {
            inner,
            shown,
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
    }

    pub fn as_file(&self) -> &File {
        match &self.inner {
            Inner::Unnamed(f) => f,
            Inner::Named(t) => t.as_file(),
        }
    }

    /// Where it is, for messages (an unnamed file: its folder).
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// Whether a process killed now would leave nothing behind.
    pub fn is_unnamed(&self) -> bool {
        matches!(self.inner, Inner::Unnamed(_))
    }

    /// Gives the complete file the name `out`, refusing to replace anything there
    /// (`AlreadyExists`): a file that is never seen half-written.
    pub fn persist_new(self, out: &Path) -> io::Result<()> {
        match self.inner {
            Inner::Named(t) => t.persist_noclobber(out).map(|_| ()).map_err(|e| e.error),
            Inner::Unnamed(file) => link_at(&file, out),
        }
    }

    /// Gives the complete file the target's name, replacing what was there in one step.
    pub fn persist(self, out: &Path) -> io::Result<()> {
        match self.inner {
            Inner::Named(t) => t.persist(out).map(|_| ()).map_err(|e| e.error),
            Inner::Unnamed(file) => {
                let named = link_unnamed(&file, &self.dir, &self.name)?;
                std::fs::rename(&named, out).inspect_err(|_| {
                    let _ = std::fs::remove_file(&named);
                })
            }
        }
    }
}

fn named_in(dir: &Path, name: &str) -> io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".ssec-part")
        .tempfile_in(dir)
}

/// An unnamed file in `dir`, when the system and the filesystem make one and it can be
/// named later; None otherwise (the caller makes a named one).
#[cfg(target_os = "linux")]
fn unnamed_in(dir: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // Naming it later goes through /proc/self/fd (linkat with AT_EMPTY_PATH needs a
    // privilege): without /proc, an unnamed file could never become the target.
    if !Path::new("/proc/self/fd").is_dir() {
        return None;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn unnamed_in(_dir: &Path) -> Option<File> {
    None
}

/// A hidden name beside the target for an unnamed file.
fn link_unnamed(file: &File, dir: &Path, name: &str) -> io::Result<PathBuf> {
    for _ in 0..16 {
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).map_err(io::Error::other)?;
        let named = dir.join(format!(".{name}.{}.ssec-part", hex::encode(raw)));
        match link_at(file, &named) {
            Ok(()) => return Ok(named),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::AlreadyExists))
}

/// Names an unnamed file `to` (AlreadyExists when something has that name).
#[cfg(target_os = "linux")]
fn link_at(file: &File, to: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd as _;
    use std::os::unix::ffi::OsStrExt as _;
    let from =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    let to = CString::new(to.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two NUL-terminated paths that live across the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link_at(_file: &File, _to: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn a_part_file_is_invisible_until_persisted_then_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.bin");
        std::fs::write(&out, b"old").unwrap();
        let part = PartFile::create_in(dir.path(), "t.bin").unwrap();
        part.as_file().write_all(b"new content").unwrap();
        let names = |d: &Path| -> Vec<String> {
            std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        if cfg!(target_os = "linux") {
            assert!(part.is_unnamed(), "tmpfs/ext4 have O_TMPFILE");
            assert_eq!(names(dir.path()), vec!["t.bin".to_string()]);
        }
        part.persist(&out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"new content");
        assert_eq!(names(dir.path()), vec!["t.bin".to_string()]);
    }

    #[test]
    fn persist_new_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b.age");
        std::fs::write(&out, b"kept").unwrap();
        let part = PartFile::create_in(dir.path(), "b.age").unwrap();
        part.as_file().write_all(b"other").unwrap();
        let err = part.persist_new(&out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&out).unwrap(), b"kept");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_part_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let part = PartFile::create_in(dir.path(), "t.bin").unwrap();
        part.as_file().write_all(b"partial").unwrap();
        drop(part);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
