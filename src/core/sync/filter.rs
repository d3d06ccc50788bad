//! `--exclude` and `--include` globs of a sync, matched against the path below the folder
//! and the prefix ('/'-separated). A pattern without '/' also matches the file's name in
//! any folder (`*.tmp`), as rsync's do; `**` crosses folders. A path is left out when an
//! exclude matches it and no include does.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::core::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct Filters {
    exclude: Vec<String>,
    include: Vec<String>,
    sets: Option<(GlobSet, GlobSet)>,
}

impl PartialEq for Filters {
    fn eq(&self, other: &Self) -> bool {
        self.exclude == other.exclude && self.include == other.include
    }
}

impl Filters {
    pub fn new(exclude: &[String], include: &[String]) -> Result<Self> {
        let sets =
            (!exclude.is_empty()).then(|| -> Result<_> { Ok((build(exclude)?, build(include)?)) });
        Ok(Self {
            exclude: exclude.to_vec(),
            include: include.to_vec(),
            sets: sets.transpose()?,
        })
    }

    /// Whether `rel` takes part in the sync.
    pub fn admits(&self, rel: &str) -> bool {
        let Some((exclude, include)) = &self.sets else {
            return true;
        };
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let hits = |set: &GlobSet| set.is_match(rel) || set.is_match(name);
        !hits(exclude) || hits(include)
    }

    pub fn is_empty(&self) -> bool {
        self.exclude.is_empty()
    }
}

fn build(patterns: &[String]) -> Result<GlobSet> {
    let mut set = GlobSetBuilder::new();
    for p in patterns {
        let glob: Glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::Refused(format!("\"{p}\" is not a valid pattern: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map_err(|e| Error::Refused(format!("the patterns cannot be used: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ex: &[&str], inc: &[&str]) -> Filters {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Filters::new(&s(ex), &s(inc)).unwrap()
    }

    #[test]
    fn excludes_by_name_anywhere_and_by_path() {
        let filters = f(&["*.tmp", "cache/**"], &[]);
        assert!(!filters.admits("a.tmp"));
        assert!(!filters.admits("deep/er/b.tmp"));
        assert!(!filters.admits("cache/x/y.jpg"));
        assert!(filters.admits("photos/cache.jpg"));
        assert!(filters.admits("a.txt"));
    }

    #[test]
    fn an_include_brings_back_what_an_exclude_took() {
        let filters = f(&["*"], &["*.jpg"]);
        assert!(filters.admits("x/y.jpg"));
        assert!(!filters.admits("x/y.png"));
        assert!(
            f(&[], &["*.jpg"]).admits("a.png"),
            "include alone limits nothing"
        );
    }

    #[test]
    fn a_bad_pattern_is_refused_with_its_text() {
        let err = Filters::new(&["a[".into()], &[]).unwrap_err();
        assert!(err.to_string().contains("\"a[\""), "{err}");
    }
}
