//! Store errors.

/// What went wrong in the store. Callers ask `is_*` questions rather than matching variants.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed an operation.
    #[error("store database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A stored record could not be decoded.
    #[error("store record {what} is corrupt: {source}")]
    Corrupt {
        /// Which record.
        what: String,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// The data directory could not be prepared.
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The IO error.
        source: std::io::Error,
    },
    /// The store was written by a newer Portico.
    #[error("store schema version {found} is newer than this Portico supports ({supported})")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// An object was not found.
    #[error("{0}")]
    NotFound(String),
    /// The command conflicts with the stored state.
    #[error("{0}")]
    Conflict(String),
    /// The command was refused with an AWS-shaped error.
    #[error("{0}")]
    Control(#[from] portico_control::ControlError),
}

impl StoreError {
    /// Whether the object asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound(_))
    }

    /// Whether the command conflicts with the current state.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict(_))
    }

    /// Whether the database was busy (another writer held the lock too long).
    pub fn is_busy(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("5") | Some("6"))
            }
            _ => false,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Corrupt {
            what: what.into(),
            source,
        }
    }
}
