//! Opening the metadata database: file creation (0600), identity checks
//! (is this file ours?), schema migrations by `user_version`, and the
//! per-connection settings that make an acknowledged write durable.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use crate::schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};

/// Where [`Database::open_data_dir`] keeps the database, under `--data DIR`.
pub const DB_RELATIVE_PATH: &str = "meta/custos.db";

/// How long a connection waits for another connection's write lock before
/// the call fails with "database is locked" (SQLite `busy_timeout`).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The first 16 bytes of every SQLite database file
/// (<https://www.sqlite.org/fileformat.html#magic_header_string>).
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Why the database could not be opened. Every variant names the file; none
/// is ever a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not an SQLite database (wrong header, or
    /// SQLite says `SQLITE_NOTADB`).
    #[error("{path}: not an SQLite database")]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of some other application (another
    /// `application_id`, or tables but no Custos schema version).
    #[error(
        "{path}: an SQLite database that is not Custos metadata ({detail}); refusing to touch it"
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        detail: String,
    },
    /// The schema is newer than this build understands (a downgrade).
    #[error(
        "{path}: schema version {found} is newer than this build's {supported}; upgrade Custos"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// `user_version` in the file.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// SQLite reports the file damaged (`SQLITE_CORRUPT`) or an integrity
    /// check failed.
    #[error("{path}: database is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// A setting the durability contract depends on did not take (for
    /// example WAL on a file system without shared memory).
    #[error("{path}: could not set {setting} (got {got:?})")]
    Setting {
        /// The file.
        path: PathBuf,
        /// The pragma.
        setting: &'static str,
        /// What SQLite reported instead.
        got: String,
    },
    /// A file-system operation failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operation.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// Any other SQLite failure while opening or migrating.
    #[error("{path}: sqlite: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
}

impl OpenError {
    fn sqlite(path: &Path, source: rusqlite::Error) -> OpenError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => OpenError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => OpenError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => OpenError::Sqlite { path, source },
        }
    }
}

/// The settings a connection actually runs with, read back from SQLite
/// (for tests, `doctor`-style diagnostics and logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `PRAGMA journal_mode`: `"wal"`.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 2 (`FULL`).
    pub synchronous: i64,
    /// `PRAGMA foreign_keys`: `true`.
    pub foreign_keys: bool,
    /// `PRAGMA busy_timeout`, milliseconds.
    pub busy_timeout_ms: i64,
    /// `PRAGMA user_version`: the schema version.
    pub user_version: i64,
    /// `PRAGMA application_id`.
    pub application_id: i64,
}

/// An opened, migrated metadata database file. Cheap to keep; each store
/// made from it opens its own connection.
///
/// Concurrency contract: every store owns one connection behind a mutex,
/// so calls on one store are serialised; stores (in this process or
/// others) share the file through SQLite's own locking: any number of
/// readers, one writer at a time (WAL), every write transaction started
/// `BEGIN IMMEDIATE` so that a writer takes the write lock before it reads
/// what it checks (no lost updates, no `SQLITE_BUSY` on lock upgrade), and
/// a writer that cannot get the lock within [`BUSY_TIMEOUT`] fails with a
/// store error rather than blocking for ever.
#[derive(Clone, Debug)]
pub struct Database {
    path: PathBuf,
}

impl Database {
    /// Opens `DIR/meta/custos.db` ([`DB_RELATIVE_PATH`]), creating the
    /// `meta` directory (0700) and the file (0600) if missing.
    pub fn open_data_dir(data_dir: impl AsRef<Path>) -> Result<Database, OpenError> {
        let path = data_dir.as_ref().join(DB_RELATIVE_PATH);
        if let Some(meta) = path.parent()
            && !meta.is_dir()
        {
            fs::create_dir_all(meta).map_err(|source| OpenError::Io {
                path: meta.to_path_buf(),
                what: "create directory",
                source,
            })?;
            fs::set_permissions(meta, fs::Permissions::from_mode(0o700)).map_err(|source| {
                OpenError::Io {
                    path: meta.to_path_buf(),
                    what: "chmod directory",
                    source,
                }
            })?;
        }
        Database::open(path)
    }

    /// Opens the database file at `path` (its directory must exist),
    /// creating it with mode 0600 if missing, and brings its schema to
    /// [`SCHEMA_VERSION`].
    ///
    /// Refuses, without writing anything, a file that is not an SQLite
    /// database ([`OpenError::NotADatabase`]), another application's
    /// database ([`OpenError::Foreign`]) or a newer schema
    /// ([`OpenError::TooNew`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Database, OpenError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        check_header(&path)?;
        let mut conn = connect_raw(&path)?;
        migrate(&path, &mut conn)?;
        // The journal mode is a property of the file (it persists), so set
        // it once here; every connection then checks it.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| OpenError::sqlite(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(OpenError::Setting {
                path,
                setting: "journal_mode=WAL",
                got: mode,
            });
        }
        drop(conn);
        Ok(Database { path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new connection with every setting applied and checked.
    pub(crate) fn connect(&self) -> Result<Connection, OpenError> {
        let conn = connect_raw(&self.path)?;
        configure(&self.path, &conn)?;
        Ok(conn)
    }

    /// The settings a fresh connection runs with, read back from SQLite.
    pub fn settings(&self) -> Result<Settings, OpenError> {
        let conn = self.connect()?;
        let p = &self.path;
        let int = |sql: &str| -> Result<i64, OpenError> {
            conn.query_row(sql, [], |r| r.get(0))
                .map_err(|e| OpenError::sqlite(p, e))
        };
        Ok(Settings {
            journal_mode: conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(|e| OpenError::sqlite(p, e))?,
            synchronous: int("PRAGMA synchronous")?,
            foreign_keys: int("PRAGMA foreign_keys")? == 1,
            busy_timeout_ms: int("PRAGMA busy_timeout")?,
            user_version: int("PRAGMA user_version")?,
            application_id: int("PRAGMA application_id")?,
        })
    }

    /// Runs SQLite's full `PRAGMA integrity_check` (reads the whole file:
    /// for `doctor` commands and tests, not for every start).
    pub fn integrity_check(&self) -> Result<(), OpenError> {
        let conn = self.connect()?;
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| OpenError::sqlite(&self.path, e))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(Iterator::collect)
            .map_err(|e| OpenError::sqlite(&self.path, e))?;
        if lines.len() == 1 && lines.first().is_some_and(|l| l == "ok") {
            Ok(())
        } else {
            Err(OpenError::Corrupt {
                path: self.path.clone(),
                detail: lines.join("; "),
            })
        }
    }
}

/// Creates the file with mode 0600 if it does not exist, and syncs the
/// directory so that the new name survives a crash. SQLite gives its `-wal`
/// and `-shm` files the mode of the database file, so they are 0600 too.
fn create_private(path: &Path) -> Result<(), OpenError> {
    let io = |what: &'static str| {
        let path = path.to_path_buf();
        move |source| OpenError::Io { path, what, source }
    };
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => {
            f.sync_all().map_err(io("sync new database file"))?;
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("sync database directory"))?;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io("create database file")(e)),
    }
}

/// Refuses early, with a clear error, a non-empty file without the SQLite
/// header (and a directory or other non-file).
fn check_header(path: &Path) -> Result<(), OpenError> {
    let io = |what: &'static str| {
        let path = path.to_path_buf();
        move |source| OpenError::Io { path, what, source }
    };
    let meta = fs::metadata(path).map_err(io("stat database file"))?;
    if !meta.is_file() {
        return Err(OpenError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    if meta.len() == 0 {
        return Ok(()); // a new file: SQLite writes the header on first commit
    }
    let mut head = Vec::with_capacity(16);
    fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(io("read database header"))?;
    if head.as_slice() != SQLITE_MAGIC {
        return Err(OpenError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Opens a connection (never creating the file: [`create_private`] did)
/// with the busy timeout, before any check.
fn connect_raw(path: &Path) -> Result<Connection, OpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| OpenError::sqlite(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| OpenError::sqlite(path, e))?;
    Ok(conn)
}

/// Per-connection settings, each read back and checked.
///
/// - `synchronous = FULL`: in WAL mode "an additional sync operation of the
///   WAL file happens after each transaction commit", which "helps ensure
///   that transactions are durable across a power loss"
///   (<https://www.sqlite.org/pragma.html#pragma_synchronous>); with
///   `NORMAL` "a transaction committed in WAL mode … might roll back
///   following a power loss or system crash" (same page), because "writers
///   sync the WAL on every transaction commit if PRAGMA synchronous is set
///   to FULL but omit this sync if … NORMAL" (<https://www.sqlite.org/wal.html>).
///   Set explicitly on every connection, so a build-time
///   `SQLITE_DEFAULT_WAL_SYNCHRONOUS` cannot lower it, and read back. So a
///   store call that returned `Ok` has been fsynced.
/// - `foreign_keys = ON`: off by default in SQLite, per connection
///   (<https://www.sqlite.org/foreignkeys.html#fk_enable>).
/// - `trusted_schema = OFF`: the schema of a file is not trusted to run
///   functions with side effects (<https://www.sqlite.org/pragma.html#pragma_trusted_schema>).
/// - `cell_size_check = ON`: damaged pages are reported as
///   `SQLITE_CORRUPT` earlier rather than read
///   (<https://www.sqlite.org/pragma.html#pragma_cell_size_check>).
fn configure(path: &Path, conn: &Connection) -> Result<(), OpenError> {
    let sql = |e| OpenError::sqlite(path, e);
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA trusted_schema = OFF;
         PRAGMA cell_size_check = ON;",
    )
    .map_err(sql)?;
    let check = |setting: &'static str, query: &str, want: &str| -> Result<(), OpenError> {
        let got: String = conn
            .query_row(query, [], |r| {
                r.get::<_, rusqlite::types::Value>(0).map(|v| match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                })
            })
            .map_err(|e| OpenError::sqlite(path, e))?;
        if got.eq_ignore_ascii_case(want) {
            Ok(())
        } else {
            Err(OpenError::Setting {
                path: path.to_path_buf(),
                setting,
                got,
            })
        }
    };
    check("journal_mode=WAL", "PRAGMA journal_mode", "wal")?;
    check("synchronous=FULL", "PRAGMA synchronous", "2")?;
    check("foreign_keys=ON", "PRAGMA foreign_keys", "1")?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    if version > SCHEMA_VERSION {
        // A newer Custos migrated the file after we opened it: refuse
        // rather than run old SQL on a new schema.
        return Err(OpenError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version != SCHEMA_VERSION {
        // The file was swapped under us.
        return Err(OpenError::Setting {
            path: path.to_path_buf(),
            setting: "user_version",
            got: version.to_string(),
        });
    }
    Ok(())
}

/// Checks that the file is ours (or empty) and applies the missing
/// migrations, all in one `BEGIN IMMEDIATE` transaction: two processes
/// opening a new file at once migrate it once.
fn migrate(path: &Path, conn: &mut Connection) -> Result<(), OpenError> {
    let sql = |e| OpenError::sqlite(path, e);
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(sql)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let app: i64 = tx
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sql)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql)?;
    let objects: i64 = tx
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sql)?;
    let foreign = |detail: String| OpenError::Foreign {
        path: path.to_path_buf(),
        detail,
    };
    if app != 0 && app != APPLICATION_ID {
        return Err(foreign(format!("application_id {app:#x}")));
    }
    if app == 0 && (version != 0 || objects != 0) {
        return Err(foreign(format!(
            "no Custos application_id, user_version {version}, {objects} schema objects"
        )));
    }
    if version > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < 0 {
        return Err(foreign(format!("user_version {version}")));
    }
    let done = usize::try_from(version).unwrap_or(usize::MAX);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(step).map_err(sql)?;
        let v = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        // user_version lives in the file header and is transactional.
        tx.execute_batch(&format!("PRAGMA user_version = {v}"))
            .map_err(sql)?;
    }
    if app == 0 {
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
            .map_err(sql)?;
    }
    tx.commit().map_err(sql)?;
    Ok(())
}
