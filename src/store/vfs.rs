//! The store's SQLite VFS: `unix-excl`, with each WAL frame written in one system call.
//!
//! `unix-excl` is SQLite's Unix VFS holding an exclusive lock on the database file for
//! the whole process (no other process may write the queue behind the SDK's back), with
//! the WAL's index in memory shared by the process's connections instead of a `-shm`
//! file, and no file lock per transaction.
//!
//! SQLite writes a WAL frame as two writes, its 24-byte header then the page: two
//! system calls per commit of one page, which is what `track` commits. This VFS holds
//! a frame's header back until the page that follows it and writes both with one call.
//! Nothing is held past the frame: any other call on the WAL file (a read, a sync, its
//! size, another write, closing it) writes a held header first, and the store's WAL
//! hook flushes after every commit too ([`flush`]), so a commit that returned is in the
//! file whole, as before. A header SQLite rewrites in place, after reading its frame
//! back (a transaction that wrote a page twice), is written at once.
//!
//! On a platform without `unix-excl` the store uses SQLite's default VFS.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS SQLite's own is wrapped around.
const BASE: &CStr = c"unix-excl";
/// The name this one is registered under.
const NAME: &CStr = c"beckon-unix-excl";
/// Bytes of a WAL frame's header.
const FRAME_HEADER: usize = 24;
/// The largest page whose frame is written in one call (the store's pages are SQLite's
/// default 4,096 bytes; larger ones are written as SQLite writes them).
const MAX_PAGE: usize = 4096;

/// The name of the VFS the store's connections use, if there is one to name.
pub(super) fn name() -> Option<&'static CStr> {
    registered().map(|_| NAME)
}

/// Writes a frame header this file holds back, if it holds one (after a commit).
///
/// # Safety
/// `file` must be an open file of a connection of this process.
pub(super) unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    match (registered(), unsafe { held(file) }) {
        (Some(_), Some(held)) => unsafe { held.flush(file) },
        _ => ffi::SQLITE_OK,
    }
}

/// This VFS, registered with SQLite once per process.
struct Registered {
    base: *mut ffi::sqlite3_vfs,
    /// Where the base VFS's file ends in the space SQLite allocates per file; [`Held`]
    /// comes after it.
    held_at: usize,
    /// Owned here for the life of the process: SQLite keeps pointers to both.
    _vfs: Box<ffi::sqlite3_vfs>,
}

// SAFETY: the pointers are to SQLite's static VFS and to boxes never freed; SQLite
// synchronizes its own use of a VFS.
unsafe impl Send for Registered {}
unsafe impl Sync for Registered {}

fn registered() -> Option<&'static Registered> {
    static VFS: OnceLock<Option<Registered>> = OnceLock::new();
    VFS.get_or_init(|| {
        // SAFETY: SQLite's documented calls; the registered struct is leaked in the
        // static for the life of the process.
        unsafe {
            let base = ffi::sqlite3_vfs_find(BASE.as_ptr());
            if base.is_null() {
                return None;
            }
            let held_at = ((*base).szOsFile as usize).next_multiple_of(align_of::<Held>());
            let mut vfs = Box::new(*base);
            vfs.zName = NAME.as_ptr();
            vfs.szOsFile = (held_at + size_of::<Held>()) as c_int;
            vfs.pNext = std::ptr::null_mut();
            vfs.xOpen = Some(open);
            if ffi::sqlite3_vfs_register(&mut *vfs, 0) != ffi::SQLITE_OK {
                return None;
            }
            Some(Registered {
                base,
                held_at,
                _vfs: vfs,
            })
        }
    })
    .as_ref()
}

/// The WAL file methods: the base VFS's, with those that must see a held header first.
struct Methods {
    base: *const ffi::sqlite3_io_methods,
    ours: Box<ffi::sqlite3_io_methods>,
}

// SAFETY: as for `Registered`: static tables, never freed.
unsafe impl Send for Methods {}
unsafe impl Sync for Methods {}

static METHODS: OnceLock<Methods> = OnceLock::new();

/// What a WAL file of this VFS keeps after the base VFS's own file.
#[repr(C)]
struct Held {
    /// Where the held header goes, or -1 when none is held.
    at: i64,
    /// Where the last whole frame was read from (-1: the last call was not one): a
    /// header written there next is a rewrite, not followed by its page.
    read_at: i64,
    frame: [u8; FRAME_HEADER + MAX_PAGE],
}

impl Held {
    /// Writes the held header, if any.
    unsafe fn flush(&mut self, file: *mut ffi::sqlite3_file) -> c_int {
        self.read_at = -1;
        if self.at < 0 {
            return ffi::SQLITE_OK;
        }
        let at = std::mem::replace(&mut self.at, -1);
        unsafe { base_write(file, self.frame.as_ptr(), FRAME_HEADER as c_int, at) }
    }
}

/// The held state of `file` if it is a WAL file of this VFS.
unsafe fn held<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Held> {
    let (registered, methods) = (registered()?, METHODS.get()?);
    // SAFETY: a file whose methods are ours was opened by `open` below, in space of
    // `szOsFile` bytes, so `Held` lies at `held_at`.
    unsafe {
        if !std::ptr::eq((*file).pMethods, &*methods.ours) {
            return None;
        }
        Some(&mut *((file as *mut u8).add(registered.held_at) as *mut Held))
    }
}

fn base_methods() -> &'static ffi::sqlite3_io_methods {
    // SAFETY: set before any file gets our methods, and static.
    unsafe { &*METHODS.get().expect("set when a WAL file is opened").base }
}

unsafe fn base_write(file: *mut ffi::sqlite3_file, data: *const u8, n: c_int, at: i64) -> c_int {
    let write = base_methods().xWrite.expect("every VFS writes");
    unsafe { write(file, data as *const c_void, n, at) }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(registered) = registered() else {
        return ffi::SQLITE_ERROR;
    };
    // SAFETY: the base VFS opens into the same space (it is larger than the base's
    // file), and is given its own VFS: it tells `unix-excl` from the others by name.
    unsafe {
        let base_open = (*registered.base).xOpen.expect("every VFS opens");
        let rc = base_open(registered.base, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || flags & ffi::SQLITE_OPEN_WAL == 0 || (*file).pMethods.is_null() {
            return rc;
        }
        let methods = METHODS.get_or_init(|| Methods {
            base: (*file).pMethods,
            ours: Box::new(ffi::sqlite3_io_methods {
                xClose: Some(close),
                xRead: Some(read),
                xWrite: Some(write),
                xTruncate: Some(truncate),
                xSync: Some(sync),
                xFileSize: Some(file_size),
                xFileControl: Some(file_control),
                ..*(*file).pMethods
            }),
        });
        if std::ptr::eq(methods.base, (*file).pMethods) {
            let held = (file as *mut u8).add(registered.held_at) as *mut Held;
            (*held).at = -1;
            (*held).read_at = -1;
            (*file).pMethods = &*methods.ours;
        }
        rc
    }
}

/// The base method of `$field`, after writing a held header.
macro_rules! after_flush {
    ($file:ident, $field:ident ( $($arg:expr),* )) => {{
        // SAFETY: called by SQLite on a file `open` gave our methods.
        let held = unsafe { held($file) }.expect("our methods, our file");
        let rc = unsafe { held.flush($file) };
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let method = base_methods().$field.expect("every VFS has it");
        unsafe { method($file, $($arg),*) }
    }};
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    n: c_int,
    at: i64,
) -> c_int {
    // SAFETY: called by SQLite on a file `open` gave our methods, with `n` bytes at
    // `data`.
    let held = unsafe { held(file) }.expect("our methods, our file");
    let len = n as usize;
    if len == FRAME_HEADER && held.at < 0 && held.read_at != at {
        unsafe { std::ptr::copy_nonoverlapping(data as *const u8, held.frame.as_mut_ptr(), len) };
        held.at = at;
        held.read_at = -1;
        return ffi::SQLITE_OK;
    }
    if held.at >= 0 && at == held.at + FRAME_HEADER as i64 && len <= MAX_PAGE {
        let frame = held.frame.as_mut_ptr();
        unsafe {
            std::ptr::copy_nonoverlapping(data as *const u8, frame.add(FRAME_HEADER), len);
        }
        let start = std::mem::replace(&mut held.at, -1);
        return unsafe { base_write(file, frame, (FRAME_HEADER + len) as c_int, start) };
    }
    let rc = unsafe { held.flush(file) };
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    unsafe { base_write(file, data as *const u8, n, at) }
}

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    n: c_int,
    at: i64,
) -> c_int {
    let rc = after_flush!(file, xRead(data, n, at));
    // SAFETY: as in `write`.
    let held = unsafe { held(file) }.expect("our methods, our file");
    if n as usize > FRAME_HEADER {
        held.read_at = at;
    }
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as in `write`; the base closes what it opened whatever the flush did.
    let held = unsafe { held(file) }.expect("our methods, our file");
    let flushed = unsafe { held.flush(file) };
    let close = base_methods().xClose.expect("every VFS closes");
    let closed = unsafe { close(file) };
    if flushed != ffi::SQLITE_OK {
        flushed
    } else {
        closed
    }
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_flush!(file, xTruncate(size))
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    after_flush!(file, xSync(flags))
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_flush!(file, xFileSize(size))
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    after_flush!(file, xFileControl(op, arg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open::connect;

    /// The files as a process killed right after the commits leaves them: copied
    /// while the connection is still open.
    fn copy_files(from: &std::path::Path, to: &std::path::Path) {
        for suffix in ["", "-wal"] {
            let name = format!("t.db{suffix}");
            if from.join(&name).exists() {
                std::fs::copy(from.join(&name), to.join(&name)).unwrap();
            }
        }
    }

    #[test]
    fn each_frame_is_one_write_and_every_commit_is_in_the_file_when_it_returns() {
        assert!(name().is_some(), "registered on this platform");
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&dir.path().join("t.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        // As the store's: no sync at commit, which would write a held header anyway.
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        // Pages spill to the WAL mid-transaction, so that writing them again rewrites
        // frames (and their headers) in place.
        conn.pragma_update(None, "cache_size", 5).unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, v BLOB NOT NULL)")
            .unwrap();
        for n in 0..300 {
            conn.execute("INSERT INTO t VALUES (?1, zeroblob(500))", [n])
                .unwrap();
        }
        let recovered = |expected: (i64, i64)| {
            let copy = tempfile::tempdir().unwrap();
            copy_files(dir.path(), copy.path());
            let recovered = rusqlite::Connection::open(copy.path().join("t.db")).unwrap();
            let found: (i64, i64) = recovered
                .query_row("SELECT count(*), sum(length(v)) FROM t", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .unwrap();
            assert_eq!(found, expected);
            let check: String = recovered
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(check, "ok");
        };
        recovered((300, 300 * 500));
        // One transaction writing the same pages twice: SQLite rewrites the frames'
        // headers in place, the commit frame's last.
        conn.execute_batch(
            "BEGIN; UPDATE t SET v = zeroblob(600) WHERE n < 100; \
             UPDATE t SET v = zeroblob(700) WHERE n < 200; COMMIT;",
        )
        .unwrap();
        recovered((300, 200 * 700 + 100 * 500));
        conn.execute("INSERT INTO t VALUES (1000, zeroblob(10))", [])
            .unwrap();
        recovered((301, 200 * 700 + 100 * 500 + 10));
    }
}
