//! The two backends, and every place where they differ: connecting, naming a firm's
//! storage, provisioning it, and opening a firm transaction.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ringfence_core::ids::FirmId;
use ringfence_core::principal::{FirmUser, Principal, SupportScope};
use ringfence_core::user::FirmRole;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Connection, Executor};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the deployment keeps its databases.
#[derive(Debug, Clone)]
pub enum StorageLocation {
    /// SQLite files under the data directory.
    Sqlite,
    /// A PostgreSQL database (`postgres://…`), reached through a pool of up to
    /// `pool_size` connections per process.
    Postgres { url: String, pool_size: u32 },
}

/// Connections each process keeps to PostgreSQL unless told otherwise.
pub const DEFAULT_POSTGRES_POOL_SIZE: u32 = 16;

impl StorageLocation {
    /// A PostgreSQL database with the default pool size.
    pub fn postgres(url: impl Into<String>) -> Self {
        StorageLocation::Postgres { url: url.into(), pool_size: DEFAULT_POSTGRES_POOL_SIZE }
    }

    pub fn backend(&self) -> Backend {
        match self {
            StorageLocation::Sqlite => Backend::Sqlite,
            StorageLocation::Postgres { .. } => Backend::Postgres,
        }
    }
}

pub(crate) fn install_drivers() {
    sqlx::any::install_default_drivers();
}

pub(crate) fn control_db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control.db")
}

pub(crate) fn firm_db_path(data_dir: &Path, firm: FirmId) -> PathBuf {
    data_dir.join("firms").join(firm.to_string()).join("firm.db")
}

/// Set on the control store's SQLite connections: write-ahead log, a full fsync per commit
/// (what is committed must survive power loss), enforced foreign keys, and waiting for a
/// busy writer.
pub const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Set on a firm store's SQLite connections: as [`SQLITE_PRAGMAS`], but a commit does not
/// sync the log itself; the firm store's writers share syncs (`wal_sync`), each answered
/// only once its commit is on disk. Deleted content is overwritten with zeros: a purged
/// matter's key must not linger in a free page of the file.
pub(crate) const SQLITE_FIRM_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA secure_delete = ON;";

/// How long a caller waits for a pooled connection before the store counts as unavailable:
/// an outage is answered within seconds, not after a long hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Pool settings shared by both backends. A connection comes back to the pool clean or not
/// at all: one still inside a transaction (a rollback that failed after a full disk, say)
/// is closed instead of being handed to the next request, which may be another firm's.
fn pool_options(connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(connections).acquire_timeout(ACQUIRE_TIMEOUT).after_release(
        |conn, _meta| {
            Box::pin(async move {
                if conn.is_in_transaction() {
                    // A dropped transaction's rollback may still be on its way (SQLite's
                    // worker runs it in order): a round trip lets it land first.
                    conn.ping().await?;
                }
                Ok(!conn.is_in_transaction())
            })
        },
    )
}

/// Opens (creating if needed) a SQLite database file with up to `connections` connections,
/// each set up by `pragmas`.
pub(crate) async fn open_sqlite(
    path: &Path,
    pragmas: &'static str,
    connections: u32,
) -> Result<AnyPool, StoreError> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| StoreError::io(parent, e))?;
    }
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let options = AnyConnectOptions::from_str(&url)?;
    let pool = pool_options(connections)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(pragmas).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Opens the PostgreSQL pool of up to `connections`. Connections start in the `control`
/// schema; firm transactions switch role and schema for their own duration only (`SET LOCAL`).
pub(crate) async fn open_postgres(url: &str, connections: u32) -> Result<AnyPool, StoreError> {
    let options = AnyConnectOptions::from_str(url)?;
    let pool = pool_options(connections)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("SET search_path TO control").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// What the names of scratch schemas (and SQLite scratch directories' parents) begin with.
pub(crate) const SCRATCH_PREFIX: &str = "scratch_";

/// A firm's PostgreSQL names, all derived from its id (hex digits only, so safe to quote).
#[derive(Debug, Clone)]
pub(crate) struct PgFirmNames {
    pub schema: String,
    /// Owns the schema and its tables; used only to migrate.
    pub owner_role: String,
    /// Every request's transaction runs as this role: it owns nothing.
    pub runtime_role: String,
}

impl PgFirmNames {
    pub fn of(firm: FirmId) -> Self {
        let hex = firm.simple();
        Self {
            schema: format!("firm_{hex}"),
            owner_role: format!("rf_{hex}_owner"),
            runtime_role: format!("rf_{hex}"),
        }
    }

    /// The names of a scratch store a backup is restored into to be checked: apart from
    /// every firm's, and known as scratch by their prefix.
    pub fn scratch(id: uuid::Uuid) -> Self {
        let hex = id.simple();
        Self {
            schema: format!("{SCRATCH_PREFIX}{hex}"),
            owner_role: format!("rf_scratch_{hex}_owner"),
            runtime_role: format!("rf_scratch_{hex}"),
        }
    }

    /// Creates the firm's roles and schema. The application's login needs only CREATEROLE
    /// and CREATE on the database: it grants itself membership so it may `SET ROLE`.
    pub async fn provision(&self, pool: &AnyPool) -> Result<(), StoreError> {
        let Self { schema, owner_role, runtime_role } = self;
        let mut tx = pool.begin().await?;
        let statements = [
            format!(r#"CREATE ROLE "{owner_role}" NOLOGIN"#),
            format!(r#"CREATE ROLE "{runtime_role}" NOLOGIN"#),
            format!(r#"GRANT "{owner_role}" TO CURRENT_USER"#),
            format!(r#"GRANT "{runtime_role}" TO CURRENT_USER"#),
            format!(r#"CREATE SCHEMA "{schema}" AUTHORIZATION "{owner_role}""#),
            format!(r#"GRANT USAGE ON SCHEMA "{schema}" TO "{runtime_role}""#),
            format!(
                r#"ALTER DEFAULT PRIVILEGES FOR ROLE "{owner_role}" IN SCHEMA "{schema}"
                   GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{runtime_role}""#
            ),
        ];
        for statement in statements {
            // Identifiers come from a FirmId (hex digits only), never from input.
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Statements that open a firm transaction as `role`, inside the firm's schema only.
    pub fn enter(&self, role: &str) -> String {
        format!(r#"SET LOCAL ROLE "{role}"; SET LOCAL search_path TO "{}""#, self.schema)
    }
}

/// How far a user reaches beyond the matters it holds a role on (for PostgreSQL's
/// row-level security): audit officers see that every matter exists; administrators also
/// manage every matter's members and walls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    Own,
    SeesAll,
    ManagesAll,
}

impl Reach {
    fn of(user: &FirmUser) -> Self {
        if user.roles.contains(&FirmRole::Admin) {
            Reach::ManagesAll
        } else if user.roles.contains(&FirmRole::Auditor) {
            Reach::SeesAll
        } else {
            Reach::Own
        }
    }
}

/// Whom row-level security shows matter rows to in a transaction: the user (or support
/// operator) it runs for, how far that reaches, and the matters a support grant opens.
#[derive(Debug, Clone)]
pub(crate) struct OnBehalf {
    pub user: String,
    pub reach: Reach,
    /// The ids of the matters a support grant lets the operator read, comma-separated.
    pub support_matters: String,
}

/// Whom row-level security shows matter rows to in a transaction run as `principal`: a
/// firm user as far as its roles reach; an operator under a support grant, the matters it
/// names; the deployment's own work, no one. An operator without a grant gets no
/// transaction at all: the operator plane is apart from every firm's data.
pub(crate) fn on_behalf_of(principal: &Principal) -> Result<Option<OnBehalf>, StoreError> {
    match principal {
        Principal::Operator(_) => Err(StoreError::OperatorOutsideFirm),
        Principal::FirmUser(user) => Ok(Some(OnBehalf {
            user: user.user.to_string(),
            reach: Reach::of(user),
            support_matters: String::new(),
        })),
        Principal::Support(support) => {
            let matters = match &support.scope {
                SupportScope::Settings => String::new(),
                SupportScope::Matters(ids) => {
                    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
                }
            };
            Ok(Some(OnBehalf {
                user: support.operator.id.to_string(),
                reach: Reach::Own,
                support_matters: matters,
            }))
        }
        Principal::Anonymous | Principal::System(_) => Ok(None),
    }
}

/// What a transaction will do: reads never wait for a writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    Read,
    Write,
    /// Reads that must all see one moment of the database, however long they take (a
    /// backup): PostgreSQL's repeatable read; a SQLite reader sees one snapshot anyway.
    Snapshot,
}

/// The statement that begins a PostgreSQL transaction of `intent`.
fn postgres_begin(intent: Intent) -> &'static str {
    match intent {
        Intent::Read => "BEGIN READ ONLY",
        Intent::Write => "BEGIN",
        Intent::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    }
}

/// Opens a firm-scoped transaction. On SQLite a writer takes the write lock up front (so
/// it cannot fail later on lock upgrade) and a reader takes none: in WAL mode it reads a
/// snapshot beside the writer. PostgreSQL switches to the firm's runtime role and schema
/// for this transaction only, and refuses any write in a read transaction.
pub(crate) async fn begin_firm(
    pool: &AnyPool,
    pg: Option<&PgFirmNames>,
    as_owner: bool,
    on_behalf_of: Option<OnBehalf>,
    intent: Intent,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    let (pool, pg) = (pool.clone(), pg.cloned());
    finish_even_if_cancelled(async move {
        enter_firm(&pool, pg.as_ref(), as_owner, on_behalf_of.as_ref(), intent).await
    })
    .await
}

/// A write transaction on the control store (SQLite takes the write lock up front).
pub(crate) async fn begin_control(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    begin_control_for(pool, backend, Intent::Write).await
}

/// A transaction on the control store that reads one moment of it (a backup).
pub(crate) async fn begin_control_snapshot(
    pool: &AnyPool,
    backend: Backend,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    begin_control_for(pool, backend, Intent::Snapshot).await
}

async fn begin_control_for(
    pool: &AnyPool,
    backend: Backend,
    intent: Intent,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    let pool = pool.clone();
    finish_even_if_cancelled(async move {
        Ok(match (backend, intent) {
            (Backend::Sqlite, Intent::Write) => pool.begin_with("BEGIN IMMEDIATE").await?,
            (Backend::Sqlite, Intent::Read | Intent::Snapshot) => pool.begin().await?,
            (Backend::Postgres, intent) => pool.begin_with(postgres_begin(intent)).await?,
        })
    })
    .await
}

/// Runs `work` to its end even when the caller stops waiting for it. Beginning a
/// transaction is not cancel-safe in sqlx's PostgreSQL driver: a caller dropped between
/// sending `BEGIN` and reading its answer puts the connection back in the pool inside a
/// transaction nothing will end, and the next request (perhaps another firm's) runs in it.
/// In a task of its own the begin always completes, and a transaction nobody takes is
/// dropped, which rolls it back before the connection is used again.
async fn finish_even_if_cancelled<T: Send + 'static>(
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::spawn(work).await.map_err(|e| StoreError::TaskFailed(e.to_string()))?
}

async fn enter_firm(
    pool: &AnyPool,
    pg: Option<&PgFirmNames>,
    as_owner: bool,
    on_behalf_of: Option<&OnBehalf>,
    intent: Intent,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
    match pg {
        None => Ok(match intent {
            Intent::Read | Intent::Snapshot => pool.begin().await?,
            Intent::Write => pool.begin_with("BEGIN IMMEDIATE").await?,
        }),
        Some(names) => {
            let mut tx = pool.begin_with(postgres_begin(intent)).await?;
            let role = if as_owner { &names.owner_role } else { &names.runtime_role };
            sqlx::raw_sql(AssertSqlSafe(names.enter(role))).execute(&mut *tx).await?;
            // Row-level security reads these: without a user, no matter row is visible.
            let (user, reach, support) = on_behalf_of
                .map_or(("", Reach::Own, ""), |o| (o.user.as_str(), o.reach, o.support_matters.as_str()));
            let on = |yes: bool| if yes { "on" } else { "off" };
            sqlx::query(
                "SELECT set_config('ringfence.user_id', $1, true), set_config('ringfence.sees_all_matters', $2, true),
                        set_config('ringfence.manages_all_matters', $3, true),
                        set_config('ringfence.support_matters', $4, true)",
            )
            .bind(user)
            .bind(on(reach != Reach::Own))
            .bind(on(reach == Reach::ManagesAll))
            .bind(support)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// The smallest write that must reach the disk to commit: SQLite rewrites its header page
/// (`user_version` is otherwise unused), PostgreSQL assigns the transaction an id, so its
/// commit writes a record to the log.
pub(crate) async fn write_probe(conn: &mut sqlx::AnyConnection, postgres: bool) -> Result<(), StoreError> {
    let probe = if postgres { "SELECT pg_current_xact_id()::text" } else { "PRAGMA user_version = 0" };
    sqlx::raw_sql(probe).execute(conn).await?;
    Ok(())
}

/// The id of the master key the deployment's data was written under, or `None` for a new
/// deployment. Read without writing anything (SQLite is opened read-only, since even
/// closing a writable connection checkpoints the WAL), so a wrong master key is caught on
/// an untouched store.
pub(crate) async fn recorded_master_key_id(
    location: &StorageLocation,
    data_dir: &Path,
) -> Result<Option<String>, StoreError> {
    let (pool, backend) = match location {
        StorageLocation::Sqlite => {
            let path = control_db_path(data_dir);
            if !path.exists() {
                return Ok(None);
            }
            let url = format!("sqlite://{}?mode=ro", path.display());
            let options = AnyConnectOptions::from_str(&url)?;
            let pool = AnyPoolOptions::new().max_connections(1).connect_with(options).await?;
            (pool, Backend::Sqlite)
        }
        // One question, asked once: a single connection.
        StorageLocation::Postgres { url, .. } => (open_postgres(url, 1).await?, Backend::Postgres),
    };
    let table_sql = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'deployment'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = 'control' AND table_name = 'deployment'"
        }
    };
    let tables: i64 = sqlx::query_scalar(table_sql).fetch_one(&pool).await?;
    let recorded = if tables > 0 {
        sqlx::query_scalar("SELECT master_key_id FROM deployment WHERE singleton = 1")
            .fetch_optional(&pool)
            .await?
    } else {
        None
    };
    pool.close().await;
    Ok(recorded)
}

pub(crate) async fn create_control_schema(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    if backend == Backend::Postgres {
        sqlx::raw_sql("CREATE SCHEMA IF NOT EXISTS control").execute(pool).await?;
    }
    Ok(())
}

impl PgFirmNames {
    /// Removes the firm's schema and roles (a half-created firm, or crypto-shredding later).
    pub async fn deprovision(&self, pool: &AnyPool) -> Result<(), StoreError> {
        let Self { schema, owner_role, runtime_role } = self;
        let mut tx = pool.begin().await?;
        for statement in [
            format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#),
            format!(r#"DROP ROLE IF EXISTS "{runtime_role}""#),
            format!(r#"DROP ROLE IF EXISTS "{owner_role}""#),
        ] {
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// What a lock on the rows a query reads, held until the transaction ends, says: on
/// PostgreSQL `FOR UPDATE`, which also waits for (and then holds off) any transaction adding
/// a row that references them; SQLite's one writer already holds the whole database, and
/// takes no row locks.
pub(crate) fn rows_held(conn: &sqlx::AnyConnection) -> &'static str {
    if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME { "FOR UPDATE" } else { "" }
}

/// What a job claim's row lock says: PostgreSQL skips rows another server is claiming this
/// instant, so servers never wait on each other for the queue; SQLite has one writer, which
/// the claim's single statement runs under, and no row locks to take.
pub(crate) fn claim_lock(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    }
}
