//! Where the files of an upload go: one planner for the window's drops and the command
//! line's `upload`, so both name objects the same way.
//!
//! Two placements, because the two gestures mean different things:
//! - `As` (the command line's `upload SRC DEST`, like `aws s3 cp`): a file becomes exactly
//!   the object DEST names (or, when DEST is a folder, goes into it under its own name);
//!   a folder's contents go under DEST (`aws s3 cp --recursive`).
//! - `Into` (a drop on the window, or several sources on the command line): each item goes
//!   into the folder DEST under its own name; a folder keeps its name as a sub-folder.
//!
//! Relative paths keep their folders with '/' between them; dotfiles are included;
//! symbolic links to files are followed, to folders not (no loops, nothing outside).

use std::path::{Path, PathBuf};

use crate::core::location::{MAX_KEY_BYTES, S3Location, S3Url, folder_prefix};
use crate::core::{Error, Result};

/// How sources relate to the destination (see the module's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    As,
    Into,
}

/// One file of an upload and the object it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUpload {
    pub src: PathBuf,
    pub dest: S3Url,
    /// The folder it came from, when it came from one (jobs of one folder are shown together).
    pub group: Option<String>,
}

/// Every file of `sources` with the object it becomes, sorted by object key. Fails on a
/// source that cannot be read, on a key longer than S3 allows, and on a plan with no file.
pub fn plan_upload(
    sources: &[PathBuf],
    dest: &S3Location,
    placement: Placement,
) -> Result<Vec<PlannedUpload>> {
    let mut plan = Vec::new();
    for src in sources {
        let meta = std::fs::metadata(src).map_err(|e| Error::io(src, "cannot read", e))?;
        let name = || {
            src.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| {
                    Error::io(
                        src,
                        "has no name to give the object",
                        std::io::Error::from(std::io::ErrorKind::InvalidInput),
                    )
                })
        };
        let folder = dest.folder();
        if meta.is_dir() {
            let under = match placement {
                Placement::As => folder,
                Placement::Into => format!("{folder}{}/", name()?),
            };
            let group = Some(src.display().to_string());
            for (file, rel) in files_of(src)? {
                plan.push(planned(
                    file,
                    &dest.bucket,
                    format!("{under}{rel}"),
                    &group,
                )?);
            }
        } else {
            let key = match (placement, dest.object()) {
                (Placement::As, Some(object)) => object.key,
                _ => format!("{folder}{}", name()?),
            };
            plan.push(planned(src.clone(), &dest.bucket, key, &None)?);
        }
    }
    if plan.is_empty() {
        let what: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
        return Err(Error::Refused(format!(
            "{} holds no files to upload",
            what.join(", ")
        )));
    }
    plan.sort_by(|a, b| a.dest.key.cmp(&b.dest.key));
    if let Some(pair) = plan.windows(2).find(|w| w[0].dest.key == w[1].dest.key) {
        return Err(Error::Refused(format!(
            "{} and {} would both become {}; upload them under different names or prefixes",
            pair[0].src.display(),
            pair[1].src.display(),
            pair[0].dest
        )));
    }
    Ok(plan)
}

/// Where a drop of `sources` onto the window's place (`bucket`, `prefix`) goes.
pub fn plan_drop(sources: &[PathBuf], bucket: &str, prefix: &str) -> Result<Vec<PlannedUpload>> {
    let dest = S3Location {
        bucket: bucket.trim().to_string(),
        path: folder_prefix(prefix.trim()),
    };
    plan_upload(sources, &dest, Placement::Into)
}

fn planned(
    src: PathBuf,
    bucket: &str,
    key: String,
    group: &Option<String>,
) -> Result<PlannedUpload> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::Refused(format!(
            "{}: the object key would be {} bytes, more than S3's limit of {MAX_KEY_BYTES}; \
             upload it under a shorter prefix",
            src.display(),
            key.len()
        )));
    }
    Ok(PlannedUpload {
        src,
        dest: S3Url {
            bucket: bucket.to_string(),
            key,
        },
        group: group.clone(),
    })
}

/// The regular files under `dir`, each with its path relative to `dir` ('/'-separated).
pub(crate) fn files_of(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, "cannot list", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, "cannot list", e))?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .map_err(|e| Error::io(&path, "cannot read", e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if path.is_file() {
                let rel = path.strip_prefix(dir).unwrap_or(&path);
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((path, rel.join("/")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(plan: &[PlannedUpload]) -> Vec<&str> {
        plan.iter().map(|p| p.dest.key.as_str()).collect()
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("top.txt"), "1").unwrap();
        std::fs::write(root.join("a/b/deep.txt"), "2").unwrap();
        std::fs::write(root.join(".hidden"), "3").unwrap();
        dir
    }

    #[test]
    fn a_folder_as_a_destination_puts_its_contents_there() {
        let dir = tree();
        let dest = S3Location::parse("s3://bk/backup/").unwrap();
        let plan = plan_upload(&[dir.path().join("photos")], &dest, Placement::As).unwrap();
        assert_eq!(
            keys(&plan),
            ["backup/.hidden", "backup/a/b/deep.txt", "backup/top.txt"]
        );
        assert!(plan.iter().all(|p| p.group.is_some()));
        // Without the trailing slash the folder is the same.
        let loose = S3Location::parse("s3://bk/backup").unwrap();
        let again = plan_upload(&[dir.path().join("photos")], &loose, Placement::As).unwrap();
        assert_eq!(keys(&plan), keys(&again));
    }

    #[test]
    fn a_dropped_folder_keeps_its_name_and_files_go_in_by_name() {
        let dir = tree();
        let file = dir.path().join("note.md");
        std::fs::write(&file, "x").unwrap();
        let plan = plan_drop(&[dir.path().join("photos"), file], "bk", "/in").unwrap();
        assert_eq!(
            keys(&plan),
            [
                "in/note.md",
                "in/photos/.hidden",
                "in/photos/a/b/deep.txt",
                "in/photos/top.txt"
            ]
        );
    }

    #[test]
    fn a_file_becomes_the_named_object_or_goes_into_a_folder() {
        let dir = tree();
        let file = dir.path().join("photos/top.txt");
        let exact = S3Location::parse("s3://bk/x/report.txt").unwrap();
        let plan = plan_upload(std::slice::from_ref(&file), &exact, Placement::As).unwrap();
        assert_eq!(keys(&plan), ["x/report.txt"]);
        let folder = S3Location::parse("s3://bk/x/").unwrap();
        let plan = plan_upload(&[file], &folder, Placement::As).unwrap();
        assert_eq!(keys(&plan), ["x/top.txt"]);
    }

    #[test]
    fn two_sources_that_would_name_one_object_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["a", "b"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
            std::fs::write(dir.path().join(d).join("x.txt"), d).unwrap();
        }
        let dest = S3Location::parse("s3://bk/in/").unwrap();
        let files = [dir.path().join("a/x.txt"), dir.path().join("b/x.txt")];
        let err = plan_upload(&files, &dest, Placement::Into).unwrap_err();
        assert!(
            err.to_string()
                .contains("would both become s3://bk/in/x.txt"),
            "{err}"
        );
    }

    #[test]
    fn empty_folders_and_overlong_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let dest = S3Location::parse("s3://bk/").unwrap();
        let err = plan_upload(&[dir.path().to_path_buf()], &dest, Placement::As).unwrap_err();
        assert!(err.to_string().contains("holds no files"), "{err}");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let long = S3Location::parse(&format!("s3://bk/{}/", "p".repeat(1023))).unwrap();
        let err = plan_upload(&[file], &long, Placement::As).unwrap_err();
        assert!(err.to_string().contains("limit of 1024"), "{err}");
    }
}
