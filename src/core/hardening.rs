//! Keeping key material where only this process can read it: no core dumps and no ptrace
//! attach while keys are held (Linux `PR_SET_DUMPABLE` 0 and `RLIMIT_CORE` 0, what
//! ssh-agent and gpg-agent do), and key buffers locked in memory (`mlock`) so they never
//! reach swap. Where the OS does not allow it (another OS, or a low `RLIMIT_MEMLOCK`), this
//! degrades quietly: the keys are still zeroized on drop.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::Zeroize as _;

/// Turns off core dumps and ptrace attach for this process (Linux). Called first thing in
/// `main`; returns whether it took effect.
pub fn harden_process() -> bool {
    #[cfg(target_os = "linux")]
    {
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on this process with valid arguments.
        unsafe {
            let no_dumps = libc::setrlimit(libc::RLIMIT_CORE, &no_core) == 0;
            let zero: libc::c_ulong = 0;
            libc::prctl(libc::PR_SET_DUMPABLE, zero, zero, zero, zero) == 0 && no_dumps
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// Whether core dumps and ptrace attach are off for this process.
pub fn process_hardened() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: reads a flag of this process.
        unsafe {
            let zero: libc::c_ulong = 0;
            libc::prctl(libc::PR_GET_DUMPABLE, zero, zero, zero, zero) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

/// 32 key bytes on the heap at a stable address, locked in memory while they live and
/// zeroized before they are unlocked and freed.
pub struct Locked32 {
    bytes: Box<[u8; 32]>,
}

impl Locked32 {
    pub fn new(raw: &[u8; 32]) -> Self {
        let bytes = Box::new(*raw);
        lock(bytes.as_ptr() as usize, bytes.len());
        Self { bytes }
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// Whether every page holding these bytes is locked (for tests).
    pub fn is_locked(&self) -> bool {
        pages(self.bytes.as_ptr() as usize, self.bytes.len()).all(|page| {
            Pages::with(|map| map.get(&page).is_some_and(|(_, locked)| *locked)).unwrap_or(false)
        })
    }
}

impl Clone for Locked32 {
    fn clone(&self) -> Self {
        Self::new(&self.bytes)
    }
}

impl Drop for Locked32 {
    fn drop(&mut self) {
        self.bytes.zeroize();
        unlock(self.bytes.as_ptr() as usize, self.bytes.len());
    }
}

/// Locked pages: how many live buffers use each, and whether the lock took. `munlock`
/// unlocks a whole page, so a page is unlocked only when its last buffer goes.
static PAGES: Mutex<Option<HashMap<usize, (usize, bool)>>> = Mutex::new(None);

/// A small wrapper so the map can start empty in a static.
struct Pages;

impl Pages {
    fn with<R>(f: impl FnOnce(&mut HashMap<usize, (usize, bool)>) -> R) -> Option<R> {
        let mut guard = PAGES.lock().ok()?;
        Some(f(guard.get_or_insert_with(HashMap::new)))
    }
}

fn page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: reads a constant of the system.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 { size as usize } else { 4096 }
    }
    #[cfg(not(unix))]
    {
        4096
    }
}

fn pages(addr: usize, len: usize) -> impl Iterator<Item = usize> {
    let size = page_size();
    let first = addr & !(size - 1);
    let last = (addr + len - 1) & !(size - 1);
    (first..=last).step_by(size)
}

fn lock(addr: usize, len: usize) {
    for page in pages(addr, len) {
        Pages::with(|map| {
            let entry = map.entry(page).or_insert((0, false));
            if entry.0 == 0 {
                entry.1 = mlock_page(page);
            }
            entry.0 += 1;
        });
    }
}

fn unlock(addr: usize, len: usize) {
    for page in pages(addr, len) {
        Pages::with(|map| {
            if let Some(entry) = map.get_mut(&page) {
                entry.0 -= 1;
                if entry.0 == 0 {
                    if entry.1 {
                        munlock_page(page);
                    }
                    map.remove(&page);
                }
            }
        });
    }
}

fn mlock_page(page: usize) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: the page holds a live allocation of ours; mlock only pins it in memory.
        unsafe { libc::mlock(page as *const libc::c_void, page_size()) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = page;
        false
    }
}

fn munlock_page(page: usize) {
    #[cfg(unix)]
    // SAFETY: undoes our own mlock of this page.
    unsafe {
        libc::munlock(page as *const libc::c_void, page_size());
    }
    #[cfg(not(unix))]
    let _ = page;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys live in locked pages (root, or a memlock limit that allows it, as here), a page
    /// stays locked while any key on it lives, and the process refuses dumps and ptrace.
    #[test]
    fn key_pages_are_locked_and_the_process_is_not_dumpable() {
        let a = Locked32::new(&[7u8; 32]);
        let b = a.clone();
        assert_eq!(a.bytes(), b.bytes());
        // Where the memlock limit allows it at all (root here; a low RLIMIT_MEMLOCK elsewhere
        // makes mlock fail, and keys then live unlocked by design).
        let layout = std::alloc::Layout::from_size_align(page_size(), page_size()).unwrap();
        // SAFETY: a page of our own, probed with mlock and freed.
        let allowed = unsafe {
            let page = std::alloc::alloc(layout);
            let locked = mlock_page(page as usize);
            if locked {
                munlock_page(page as usize);
            }
            std::alloc::dealloc(page, layout);
            locked
        };
        if cfg!(target_os = "linux") && allowed {
            assert!(a.is_locked() && b.is_locked());
            drop(a);
            assert!(
                b.is_locked(),
                "a page unlocked while another key on it lives"
            );
        }
        if cfg!(target_os = "linux") {
            assert!(harden_process());
            assert!(process_hardened());
        }
    }
}
