//! A function's code: a `ZipFile` unpacked into its own directory, with Lambda's limits and no
//! way out of it.
//!
//! * at most [`MAX_ZIPPED`] bytes zipped and [`MAX_UNZIPPED`] unzipped — counted as bytes are
//!   written, never trusted from the archive's headers, so a zip bomb stops at the limit;
//! * at most [`MAX_ENTRIES`] entries;
//! * entry names that are absolute, hold `..`, or hold a NUL are refused (zip slip), and so are
//!   symbolic links (a link could point anywhere);
//! * the archive is unpacked into a fresh directory beside the target and renamed into place,
//!   so a refused archive leaves the previous code untouched.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Lambda's limit on a `ZipFile` uploaded directly.
pub const MAX_ZIPPED: usize = 50 * 1024 * 1024;
/// Lambda's limit on a function's unzipped code.
pub const MAX_UNZIPPED: u64 = 262_144_000;
/// Entries in one archive.
pub const MAX_ENTRIES: usize = 20_000;

/// Why an archive was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    /// Over [`MAX_ZIPPED`] (Lambda: `RequestEntityTooLargeException`).
    #[error("Zipped size must be smaller than {MAX_ZIPPED} bytes")]
    ZippedTooLarge,
    /// Over [`MAX_UNZIPPED`] (Lambda: `InvalidParameterValueException`).
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED} bytes")]
    UnzippedTooLarge,
    /// Not a zip archive, or a damaged one.
    #[error("Could not unzip uploaded file. Please check your file, then try to upload again.")]
    NotZip,
    /// An entry that would land outside the code directory, or a link.
    #[error(
        "Could not unzip uploaded file: entry {0:?} is not allowed (absolute path, `..`, or a symbolic link)"
    )]
    UnsafeEntry(String),
    /// Too many entries.
    #[error("Could not unzip uploaded file: more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// Writing the files failed.
    #[error("Could not store the function's code: {0}")]
    Io(String),
}

/// Unpacks `zip` into `dest` (replacing what is there). Returns the unzipped size.
pub fn unpack(zip: &[u8], dest: &Path) -> Result<u64, CodeError> {
    unpack_limited(zip, dest, MAX_UNZIPPED)
}

fn unpack_limited(zip: &[u8], dest: &Path, max_unzipped: u64) -> Result<u64, CodeError> {
    if zip.len() > MAX_ZIPPED {
        return Err(CodeError::ZippedTooLarge);
    }
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|_| CodeError::NotZip)?;
    if archive.len() > MAX_ENTRIES {
        return Err(CodeError::TooManyEntries);
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| CodeError::Io(e.to_string()))?;
    let staging = parent.join(format!(
        ".unpack-{}-{:08x}",
        dest.file_name().and_then(|n| n.to_str()).unwrap_or("code"),
        fastrand::u32(..)
    ));
    let result = unpack_into(&mut archive, &staging, max_unzipped);
    match result {
        Ok(size) => {
            let old = parent.join(format!(
                ".old-{}-{:08x}",
                dest.file_name().and_then(|n| n.to_str()).unwrap_or("code"),
                fastrand::u32(..)
            ));
            if dest.exists() {
                std::fs::rename(dest, &old).map_err(|e| CodeError::Io(e.to_string()))?;
            }
            std::fs::rename(&staging, dest).map_err(|e| CodeError::Io(e.to_string()))?;
            let _ = std::fs::remove_dir_all(&old);
            Ok(size)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn unpack_into(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    root: &Path,
    max_unzipped: u64,
) -> Result<u64, CodeError> {
    std::fs::create_dir_all(root).map_err(|e| CodeError::Io(e.to_string()))?;
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| CodeError::NotZip)?;
        let name = entry.name().map_err(|_| CodeError::NotZip)?.into_owned();
        let rel = safe_path(&name).ok_or_else(|| CodeError::UnsafeEntry(name.clone()))?;
        if entry.is_symlink() {
            return Err(CodeError::UnsafeEntry(name));
        }
        let target = root.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| CodeError::Io(e.to_string()))?;
            continue;
        }
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(|e| CodeError::Io(e.to_string()))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|e| CodeError::Io(e.to_string()))?;
        loop {
            let n = entry.read(&mut buf).map_err(|_| CodeError::NotZip)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > max_unzipped {
                return Err(CodeError::UnzippedTooLarge);
            }
            out.write_all(&buf[..n])
                .map_err(|e| CodeError::Io(e.to_string()))?;
        }
        // Keep the owner's execute bit (a `bootstrap`); nothing else from the archive.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let exec = entry.unix_mode().is_some_and(|m| m & 0o100 != 0);
            let mode = if exec { 0o755 } else { 0o644 };
            let _ = std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode));
        }
    }
    Ok(total)
}

/// `name` as a relative path inside the root, or `None` when it could leave it.
fn safe_path(name: &str) -> Option<PathBuf> {
    if name.contains('\0') || name.contains('\\') {
        return None;
    }
    let p = Path::new(name);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Copies a local directory's files as a function's code (the development form): the same
/// limits on size and entries, links refused.
pub fn copy_dir(src: &Path, dest: &Path) -> Result<u64, CodeError> {
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| CodeError::Io(e.to_string()))?;
    let staging = parent.join(format!(".copy-{:08x}", fastrand::u32(..)));
    let mut total = 0u64;
    let mut entries = 0usize;
    let r = copy_tree(src, &staging, &mut total, &mut entries);
    match r {
        Ok(()) => {
            let _ = std::fs::remove_dir_all(dest);
            std::fs::rename(&staging, dest).map_err(|e| CodeError::Io(e.to_string()))?;
            Ok(total)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn copy_tree(
    src: &Path,
    dest: &Path,
    total: &mut u64,
    entries: &mut usize,
) -> Result<(), CodeError> {
    std::fs::create_dir_all(dest).map_err(|e| CodeError::Io(e.to_string()))?;
    let rd =
        std::fs::read_dir(src).map_err(|e| CodeError::Io(format!("{}: {e}", src.display())))?;
    for e in rd {
        let e = e.map_err(|e| CodeError::Io(e.to_string()))?;
        *entries += 1;
        if *entries > MAX_ENTRIES {
            return Err(CodeError::TooManyEntries);
        }
        let ft = e.file_type().map_err(|e| CodeError::Io(e.to_string()))?;
        let to = dest.join(e.file_name());
        if ft.is_symlink() {
            return Err(CodeError::UnsafeEntry(e.path().display().to_string()));
        } else if ft.is_dir() {
            copy_tree(&e.path(), &to, total, entries)?;
        } else if ft.is_file() {
            *total += std::fs::copy(e.path(), &to).map_err(|e| CodeError::Io(e.to_string()))?;
            if *total > MAX_UNZIPPED {
                return Err(CodeError::UnzippedTooLarge);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_plain_archive_unpacks_and_replaces_the_old_code() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("fn");
        unpack(
            &archive(&[("index.py", b"x = 1"), ("lib/a.py", b"")]),
            &dest,
        )
        .unwrap();
        assert_eq!(std::fs::read(dest.join("index.py")).unwrap(), b"x = 1");
        unpack(&archive(&[("other.py", b"y")]), &dest).unwrap();
        assert!(!dest.join("index.py").exists());
        assert!(dest.join("other.py").exists());
    }

    #[test]
    fn entries_that_leave_the_root_are_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("fn");
        unpack(&archive(&[("index.py", b"ok")]), &dest).unwrap();
        for bad in ["../evil.py", "/etc/evil", "a/../../evil"] {
            let err = unpack(&archive(&[("fine.py", b""), (bad, b"x")]), &dest).unwrap_err();
            assert!(matches!(err, CodeError::UnsafeEntry(_)), "{bad}: {err:?}");
        }
        assert_eq!(std::fs::read(dest.join("index.py")).unwrap(), b"ok");
        assert!(!dir.path().join("evil.py").exists());
    }

    #[test]
    fn symlinks_are_refused() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.add_symlink("link", "/etc/passwd", SimpleFileOptions::default())
            .unwrap();
        let zip = w.finish().unwrap().into_inner();
        let dir = tempfile::tempdir().unwrap();
        let err = unpack(&zip, &dir.path().join("fn")).unwrap_err();
        assert!(matches!(err, CodeError::UnsafeEntry(_)));
    }

    #[test]
    fn a_zip_bomb_stops_at_the_unzipped_limit() {
        // 30 MB of zeros compresses to a few tens of KB; the limit here is 10 MB (the real one,
        // 250 MB, works the same way: bytes are counted as they are written).
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        w.start_file("zeros", opts).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..30 {
            w.write_all(&chunk).unwrap();
        }
        let zip = w.finish().unwrap().into_inner();
        assert!(zip.len() < 1024 * 1024);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            unpack_limited(&zip, &dir.path().join("fn"), 10 * 1024 * 1024),
            Err(CodeError::UnzippedTooLarge)
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn garbage_is_not_a_zip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            unpack(b"not a zip", &dir.path().join("fn")),
            Err(CodeError::NotZip)
        );
    }
}
