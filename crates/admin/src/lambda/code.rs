//! Deployment packages on disk: a `ZipFile` is unpacked (with Lambda's limits, no zip slip) into
//! `{code_root}/{function}/{id}`, a fresh directory per upload, so a published version keeps the
//! directory it froze while `$LATEST` moves on; the hot-reload form names a local directory that
//! is used as it is. After every command that changes code, the directories under
//! `{code_root}/{function}` that neither `$LATEST` nor a version uses are removed.
//!
//! Code changes are serialised by one lock (unpack → command → clean-up), so a clean-up never
//! removes a directory a command in flight is about to store.

use super::LambdaError;
use base64::Engine;
use portico_control::lambda::{CodeSource, MAX_ZIPPED_BYTES, StoredCode, invalid_parameter};
use portico_control::{ControlError, ErrorKind};
use portico_functions::code::CodeError;
use portico_model::lambda::{CodeLocation, new_revision_id};
use portico_store::Store;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where unpacked code lives, and the lock that orders code changes.
#[derive(Debug)]
pub(crate) struct CodeStore {
    root: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn code_error(e: CodeError) -> LambdaError {
    match e {
        CodeError::ZippedTooLarge => ControlError::new(
            ErrorKind::RequestEntityTooLarge,
            format!("Zipped size must be smaller than {MAX_ZIPPED_BYTES} bytes"),
        )
        .into(),
        CodeError::Io(why) => {
            tracing::error!(error = %why, "cannot store a function's code");
            LambdaError::service(format!("Could not store the function's code: {why}"))
        }
        other => invalid_parameter(other.to_string()).into(),
    }
}

impl CodeStore {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Puts `source` in place for function `name`, runs `command` with it in the store, then
    /// removes the directories of `name` nothing uses any more.
    pub(crate) async fn with_code<T>(
        &self,
        store: &Store,
        name: &str,
        source: CodeSource<'_>,
        command: impl FnOnce(
            &mut portico_control::lambda::FunctionState,
            StoredCode,
        ) -> Result<T, ControlError>,
    ) -> Result<T, LambdaError> {
        let _order = self.lock.lock().await;
        let code = self.materialize(name, source).await?;
        let out = store
            .modify_function(name, |st| command(st, code))
            .await
            .map_err(LambdaError::from);
        self.collect(store, name).await;
        out
    }

    /// Runs a command that may drop code (`DeleteFunction`), then cleans up.
    pub(crate) async fn dropping_code<T>(
        &self,
        store: &Store,
        name: &str,
        command: impl FnOnce(&mut portico_control::lambda::FunctionState) -> Result<T, ControlError>,
    ) -> Result<T, LambdaError> {
        let _order = self.lock.lock().await;
        let out = store
            .modify_function(name, command)
            .await
            .map_err(LambdaError::from);
        self.collect(store, name).await;
        out
    }

    async fn materialize(
        &self,
        name: &str,
        source: CodeSource<'_>,
    ) -> Result<StoredCode, LambdaError> {
        match source {
            CodeSource::Zip(b64) => {
                let zip = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| {
                        invalid_parameter(
                            "Could not unzip uploaded file. Please check your file, then try to \
                             upload again.",
                        )
                    })?;
                if zip.len() > MAX_ZIPPED_BYTES {
                    return Err(code_error(CodeError::ZippedTooLarge));
                }
                let sha256 = sha256_b64(&zip);
                let size = zip.len() as u64;
                let dir = self.root.join(name).join(new_revision_id());
                let target = dir.clone();
                tokio::task::spawn_blocking(move || portico_functions::code::unpack(&zip, &target))
                    .await
                    .map_err(|e| LambdaError::service(format!("unpacking failed: {e}")))?
                    .map_err(code_error)?;
                Ok(StoredCode {
                    location: CodeLocation::Unpacked {
                        dir: dir.to_string_lossy().into_owned(),
                    },
                    sha256,
                    size,
                })
            }
            CodeSource::LocalDir(path) => {
                let is_dir = tokio::fs::metadata(path)
                    .await
                    .map(|m| m.is_dir())
                    .unwrap_or(false);
                if !is_dir {
                    return Err(invalid_parameter(
                        "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error \
                         Message: The specified key does not exist.",
                    )
                    .into());
                }
                Ok(StoredCode {
                    location: CodeLocation::LocalDir {
                        dir: path.to_owned(),
                    },
                    sha256: sha256_b64(path.as_bytes()),
                    size: 0,
                })
            }
        }
    }

    /// Removes the directories under `{root}/{name}` that the stored function does not use
    /// (all of them, and the folder, when the function is gone).
    async fn collect(&self, store: &Store, name: &str) {
        let keep = match store.function_state(name).await {
            Ok(st) => st.unpacked_dirs(),
            Err(e) => {
                tracing::warn!(function = name, error = %e, "code clean-up skipped");
                return;
            }
        };
        let folder = self.root.join(name);
        let keep: Vec<PathBuf> = keep.into_iter().map(PathBuf::from).collect();
        let removed = tokio::task::spawn_blocking(move || remove_unused(&folder, &keep)).await;
        if let Ok(Err(e)) = removed {
            tracing::warn!(function = name, error = %e, "code clean-up failed");
        }
    }
}

fn remove_unused(folder: &Path, keep: &[PathBuf]) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(folder) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let path = e?.path();
        if !keep.contains(&path) {
            std::fs::remove_dir_all(&path)?;
        }
    }
    if keep.is_empty() {
        let _ = std::fs::remove_dir(folder);
    }
    Ok(())
}
