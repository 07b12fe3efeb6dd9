//! Fresh, real storage for each test: a temporary data directory, and for PostgreSQL a
//! database of its own (from `RINGFENCE_TEST_DATABASE_URL`), dropped with its firm roles
//! when the test ends. Under `CI=true` a missing or unreachable PostgreSQL fails the test.

pub mod pebble;

use std::path::Path;

use ringfence_store::StorageLocation;
use ringfence_store::blobs::BlobLocation;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tempfile::TempDir;

mod private_postgres;
pub use private_postgres::PrivatePostgres;

pub const DATABASE_URL_VAR: &str = "RINGFENCE_TEST_DATABASE_URL";
/// `s3://bucket` of an S3-compatible server for the tests, with the `AWS_*` variables set.
pub const S3_URL_VAR: &str = "RINGFENCE_TEST_S3_URL";

/// Declares one test per backend: `both_backends!(name, |env| async move { ... })` makes
/// `name::sqlite` and `name::postgres`. The postgres one is skipped (with a note) only
/// outside CI when no test database is configured.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let env = $crate::TestEnv::new($crate::Backend::Sqlite).await.expect("sqlite test env");
                ($body)(env).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(env) = $crate::TestEnv::new($crate::Backend::Postgres).await else {
                    return;
                };
                ($body)(env).await;
            }
        }
    };
}

pub use ringfence_store::Backend;

pub struct TestEnv {
    pub backend: Backend,
    pub location: StorageLocation,
    pub data_dir: TempDir,
    pub database: Option<TestDatabase>,
    /// Kinds of one-off job the test means to leave on the queue.
    expected_jobs: std::sync::Mutex<Vec<String>>,
}

impl TestEnv {
    /// A fresh environment for `backend`; `None` when PostgreSQL is not configured outside CI.
    pub async fn new(backend: Backend) -> Option<Self> {
        let data_dir = tempfile::tempdir().expect("temporary data dir");
        match backend {
            Backend::Sqlite => Some(Self {
                backend,
                location: StorageLocation::Sqlite,
                data_dir,
                database: None,
                expected_jobs: Default::default(),
            }),
            Backend::Postgres => {
                let database = TestDatabase::create().await?;
                let location = StorageLocation::postgres(database.url.clone());
                Some(Self {
                    backend,
                    location,
                    data_dir,
                    database: Some(database),
                    expected_jobs: Default::default(),
                })
            }
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The blob store of this environment's deployment shape: a local directory beside
    /// SQLite, S3-compatible storage (a fresh prefix per test) beside PostgreSQL.
    pub fn blob_location(&self) -> BlobLocation {
        match self.backend {
            Backend::Sqlite => BlobLocation::Local(self.data_dir().join("blobs")),
            Backend::Postgres => {
                s3_location().unwrap_or_else(|| BlobLocation::Local(self.data_dir().join("blobs")))
            }
        }
    }

    /// Lets the test end with jobs of `kind` still on the queue, one-off or dead (see the
    /// check in [`TestEnv`]'s `drop`).
    pub fn expect_jobs_left(&self, kind: &str) {
        self.expected_jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(kind.to_owned());
    }

    /// The job queue's rows, as `(kind, state, recurring)`: empty when the deployment was
    /// never opened. A queue that exists but cannot be read fails the test.
    fn jobs_left(&self) -> Vec<(String, String, bool)> {
        let control_db = self.data_dir().join("control.db");
        let database_url = self.database_url().map(str::to_owned);
        let read = std::thread::spawn(move || -> Result<Vec<(String, String, bool)>, sqlx::Error> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                const QUERY: &str = "SELECT kind, state, every_ms IS NOT NULL AS recurring FROM jobs";
                match database_url {
                    Some(url) => {
                        let mut conn = match PgConnection::connect(&url).await {
                            Ok(conn) => conn,
                            // The test dropped its database (to show an outage): nothing is left.
                            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
                                return Ok(Vec::new());
                            }
                            Err(e) => return Err(e),
                        };
                        let exists: Option<String> =
                            sqlx::query_scalar("SELECT to_regclass('control.jobs')::text")
                                .fetch_one(&mut conn)
                                .await?;
                        let rows = match exists {
                            Some(_) => {
                                sqlx::query_as(AssertSqlSafe(QUERY.replace("jobs", "control.jobs")))
                                    .fetch_all(&mut conn)
                                    .await?
                            }
                            None => Vec::new(),
                        };
                        conn.close().await?;
                        Ok(rows)
                    }
                    None if control_db.exists() => {
                        let url = format!("sqlite://{}?mode=ro", control_db.display());
                        let mut conn = sqlx::SqliteConnection::connect(&url).await?;
                        let exists: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'jobs'")
                                .fetch_one(&mut conn)
                                .await?;
                        let rows = match exists {
                            0 => Vec::new(),
                            _ => sqlx::query_as(QUERY).fetch_all(&mut conn).await?,
                        };
                        conn.close().await?;
                        Ok(rows)
                    }
                    None => Ok(Vec::new()),
                }
            })
        });
        match read.join() {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => panic!("the job queue could not be read to check what the test left: {e}"),
            Err(_) => panic!("the job queue check stopped"),
        }
    }

    /// The `--database-url` to hand the binary, if any.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|db| db.url.as_str())
    }
}

/// A test fails if it leaves background work it did not expect: a dead job (a failure
/// nobody looked at), or a one-off job never run (work the test forgot to drive, with
/// [`TestEnv::expect_jobs_left`] for one it means to leave). Recurring schedules stay.
impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let expected = self.expected_jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let unexpected: Vec<String> = self
            .jobs_left()
            .into_iter()
            .filter(|(kind, state, recurring)| !expected.contains(kind) && (state == "dead" || !recurring))
            .map(|(kind, state, _)| format!("{kind} ({state})"))
            .collect();
        assert!(unexpected.is_empty(), "the test left jobs it did not expect on the queue: {unexpected:?}");
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// `host:port` of the test ClamAV daemon, whose database flags this marker as malware.
pub const CLAMAV_VAR: &str = "RINGFENCE_TEST_CLAMAV";
pub const MALWARE_MARKER: &str = "RINGFENCE-TEST-MALWARE-SIGNATURE";

/// The test clamd's address; `None` (with a note) outside CI when none is configured.
pub fn clamav_address() -> Option<String> {
    let Ok(address) = std::env::var(CLAMAV_VAR) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{CLAMAV_VAR} must be set under CI=true: the malware scanning tests may not be skipped"
        );
        eprintln!("note: {CLAMAV_VAR} is not set; skipping a malware scanning test");
        return None;
    };
    Some(address)
}

/// A fresh prefix in the test S3 bucket; `None` outside CI when none is configured.
pub fn s3_location() -> Option<BlobLocation> {
    let Ok(url) = std::env::var(S3_URL_VAR) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{S3_URL_VAR} must be set under CI=true: the S3 blob store tests may not be skipped"
        );
        eprintln!("note: {S3_URL_VAR} is not set; using a local blob directory instead of S3");
        return None;
    };
    Some(BlobLocation::S3(format!("{}/{}", url.trim_end_matches('/'), uuid::Uuid::new_v4().simple())))
}

/// A PostgreSQL database created for one test.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDatabase {
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var(DATABASE_URL_VAR) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{DATABASE_URL_VAR} must be set under CI=true: the PostgreSQL tests may not be skipped"
            );
            eprintln!("note: {DATABASE_URL_VAR} is not set; skipping the PostgreSQL variant");
            return None;
        };
        let name = format!("rf_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {DATABASE_URL_VAR}: {e}"));
        admin
            .execute(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        Some(Self { url, name, admin_url })
    }

    /// A connection to this test's database as the deployment's own login.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect to test database")
    }

    /// The server's administrative login, outside this test's database (to refuse its
    /// connections, say, and allow them again).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    pub fn url_for_user(&self, user: &str) -> String {
        let without_scheme = self.url.trim_start_matches("postgres://").trim_start_matches("postgresql://");
        let host_and_path = without_scheme.split_once('@').map_or(without_scheme, |(_, rest)| rest);
        format!("postgres://{user}@{host_and_path}")
    }
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let without_path = match base.rfind('/') {
        Some(i) if base[..i].ends_with('/') => base, // "postgres://host" has no path
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{without_path}/{database}?{q}"),
        None => format!("{without_path}/{database}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, admin_url, name) = (self.url.clone(), self.admin_url.clone(), self.name.clone());
        // Drop runs outside any async context we may block, so clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                let schemas: Vec<String> = sqlx::query_scalar(
                    "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'firm\\_%'",
                )
                .fetch_all(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()?;
                let mut admin = PgConnection::connect(&admin_url).await.ok()?;
                admin
                    .execute(AssertSqlSafe(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)))
                    .await
                    .ok()?;
                for schema in schemas {
                    let hex = schema.trim_start_matches("firm_");
                    for role in [format!("rf_{hex}"), format!("rf_{hex}_owner")] {
                        let _ =
                            admin.execute(AssertSqlSafe(format!(r#"DROP ROLE IF EXISTS "{role}""#))).await;
                    }
                }
                Some(())
            })
        });
        let _ = cleanup.join();
    }
}

/// An HTTPS client that trusts only the given PEM certificate (the server's self-signed one),
/// optionally capped at a TLS version. Needs a rustls crypto provider installed.
pub fn https_client(cert_pem: &Path, max_tls: Option<reqwest::tls::Version>) -> reqwest::Client {
    let pem = std::fs::read(cert_pem).expect("read server certificate");
    let certificate = reqwest::Certificate::from_pem(&pem).expect("PEM certificate");
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([certificate])
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(15));
    if let Some(max) = max_tls {
        builder = builder.tls_version_max(max);
    }
    builder.build().expect("HTTPS client")
}

/// The messages in a data dir's outbox, oldest first, as readable text.
pub fn outbox(data_dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("outbox"))
        .map(|entries| {
            entries
                .map(|e| e.expect("outbox entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.iter().map(|path| std::fs::read_to_string(path).expect("read mail")).collect()
}

/// A backup target apart from the test's data and blob store, of the deployment's shape: a
/// directory of its own (kept by the returned guard) beside SQLite, a fresh S3 prefix beside
/// PostgreSQL.
pub fn backup_location(backend: Backend) -> (BlobLocation, TempDir) {
    let dir = tempfile::tempdir().expect("temporary backup dir");
    let location = match backend {
        Backend::Postgres => s3_location(),
        Backend::Sqlite => None,
    };
    (location.unwrap_or_else(|| BlobLocation::Local(dir.path().join("backups"))), dir)
}

/// The object store at `location`, and the prefix it is under.
fn object_store_at(
    location: &BlobLocation,
) -> (Box<dyn object_store::ObjectStore>, object_store::path::Path) {
    match location {
        BlobLocation::Local(dir) => (
            Box::new(object_store::local::LocalFileSystem::new_with_prefix(dir).expect("local store")),
            Default::default(),
        ),
        BlobLocation::S3(url) => {
            let rest = url.trim_start_matches("s3://");
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .expect("S3 store");
            (Box::new(s3), object_store::path::Path::from(prefix))
        }
    }
}

/// Replaces the object at `path` (as [`stored_objects`] names it): what a test does to
/// damage a stored file.
pub async fn put_object(location: &BlobLocation, path: &str, bytes: Vec<u8>) {
    use object_store::ObjectStoreExt;
    let (store, _) = object_store_at(location);
    store.put(&object_store::path::Path::from(path), bytes.into()).await.expect("object written");
}

/// Every object stored at `location` (a directory or an S3 prefix), with its bytes: what
/// a test searches for plaintext.
pub async fn stored_objects(location: &BlobLocation) -> Vec<(String, Vec<u8>)> {
    use futures_util::StreamExt;
    use object_store::ObjectStoreExt;
    let (store, prefix) = object_store_at(location);
    let listed: Vec<_> = store.list(Some(&prefix)).collect().await;
    let mut objects = Vec::new();
    for object in listed {
        let location = object.expect("listed object").location;
        let bytes = store.get(&location).await.expect("object").bytes().await.expect("object bytes");
        objects.push((location.to_string(), bytes.to_vec()));
    }
    objects
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_names_replace_the_path() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
