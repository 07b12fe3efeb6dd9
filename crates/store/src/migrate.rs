//! Versioned schema migrations, one folder per backend and store kind, reviewed in pairs.
//!
//! sqlx's own migrator keeps one history per connection's default schema; Ringfence has a
//! control store and a schema per firm, and a firm's migrations must run as the firm's
//! owner role. So each store records its applied versions in its own `schema_migrations`
//! table, and each migration runs in one transaction with that record.

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

use crate::backend::PgFirmNames;
use crate::{Backend, StoreError};

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../migrations/", $dir, "/", $name, ".sql")),
        }),*]
    };
}

const SQLITE_CONTROL: &[Migration] = migrations!("sqlite/control": 1 "0001_firms_and_keys", 2 "0002_sign_in_failures", 3 "0003_passkey_sign_ins", 4 "0004_jobs", 6 "0006_firm_termination", 7 "0007_purge_ledger", 8 "0008_backups", 9 "0009_firm_copies", 10 "0010_operators", 11 "0011_support_grants");
const POSTGRES_CONTROL: &[Migration] = migrations!("postgres/control": 1 "0001_firms_and_keys", 2 "0002_sign_in_failures", 3 "0003_passkey_sign_ins", 4 "0004_jobs", 6 "0006_firm_termination", 7 "0007_purge_ledger", 8 "0008_backups", 9 "0009_firm_copies", 10 "0010_operators", 11 "0011_support_grants");
const SQLITE_FIRM: &[Migration] = migrations!("sqlite/firm": 1 "0001_users", 2 "0002_invitations", 3 "0003_sign_in", 4 "0004_sign_in_policy", 5 "0005_audit", 6 "0006_audit_shipping", 7 "0007_audit_retention", 8 "0008_matters", 9 "0009_row_level_security", 10 "0010_matter_access_history", 11 "0011_membership_row_security", 12 "0012_totp_pending", 13 "0013_code_sends", 14 "0014_documents", 15 "0015_search", 16 "0016_key_rotation", 17 "0017_passkeys", 18 "0018_firm_preferences", 19 "0019_audit_matter_activity", 20 "0020_row_security_plans", 21 "0021_audit_key_certificates", 22 "0022_client_walls", 26 "0026_data_subject_requests", 27 "0027_retention", 28 "0028_legal_holds", 29 "0029_soft_deletion", 30 "0030_exports", 31 "0031_matter_keys", 32 "0032_client_address", 33 "0033_password_resets", 34 "0034_support_access", 35 "0035_information_officer", 36 "0036_breach_detection", 37 "0037_incident_register");
const POSTGRES_FIRM: &[Migration] = migrations!("postgres/firm": 1 "0001_users", 2 "0002_invitations", 3 "0003_sign_in", 4 "0004_sign_in_policy", 5 "0005_audit", 6 "0006_audit_shipping", 7 "0007_audit_retention", 8 "0008_matters", 9 "0009_row_level_security", 10 "0010_matter_access_history", 11 "0011_membership_row_security", 12 "0012_totp_pending", 13 "0013_code_sends", 14 "0014_documents", 15 "0015_search", 16 "0016_key_rotation", 17 "0017_passkeys", 18 "0018_firm_preferences", 19 "0019_audit_matter_activity", 20 "0020_row_security_plans", 21 "0021_audit_key_certificates", 22 "0022_client_walls", 26 "0026_data_subject_requests", 27 "0027_retention", 28 "0028_legal_holds", 29 "0029_soft_deletion", 30 "0030_exports", 31 "0031_matter_keys", 32 "0032_client_address", 33 "0033_password_resets", 34 "0034_support_access", 35 "0035_information_officer", 36 "0036_breach_detection", 37 "0037_incident_register");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Control,
    Firm,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKind::Control => "control store",
            StoreKind::Firm => "firm store",
        })
    }
}

pub fn migrations(backend: Backend, kind: StoreKind) -> &'static [Migration] {
    match (backend, kind) {
        (Backend::Sqlite, StoreKind::Control) => SQLITE_CONTROL,
        (Backend::Postgres, StoreKind::Control) => POSTGRES_CONTROL,
        (Backend::Sqlite, StoreKind::Firm) => SQLITE_FIRM,
        (Backend::Postgres, StoreKind::Firm) => POSTGRES_FIRM,
    }
}

pub fn latest_version(backend: Backend, kind: StoreKind) -> i64 {
    migrations(backend, kind).iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies every migration of `kind` above the store's current version, up to `target`
/// (all of them when `None`). Returns the versions applied. Safe to run from several
/// processes at once: each step locks (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory
/// lock) and re-reads the version inside its transaction.
pub(crate) async fn run(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: StoreKind,
    pg_firm: Option<&PgFirmNames>,
    target: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    let known = latest_version(backend, kind);
    let mut applied = Vec::new();
    for migration in migrations(backend, kind) {
        if target.is_some_and(|t| migration.version > t) {
            break;
        }
        let mut tx = match backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                let mut tx = conn.begin().await?;
                sqlx::raw_sql("SELECT pg_advisory_xact_lock(7262917)").execute(&mut *tx).await?;
                tx
            }
        };
        if let Some(names) = pg_firm {
            // Tables belong to the firm's owner role and live in the firm's schema.
            sqlx::raw_sql(AssertSqlSafe(names.enter(&names.owner_role))).execute(&mut *tx).await?;
        }
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY,
                name TEXT NOT NULL
            )",
        )
        .execute(&mut *tx)
        .await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(&mut *tx).await?;
        let current = current.unwrap_or(0);
        if current > known {
            return Err(StoreError::SchemaTooNew { store: kind, found: current, known });
        }
        if migration.version <= current {
            continue;
        }
        match pg_firm {
            // A firm's PostgreSQL migrations may grant to or revoke from its runtime role.
            Some(names) => {
                let sql = migration
                    .sql
                    .replace("{{runtime_role}}", &format!("\"{}\"", names.runtime_role))
                    .replace("{{owner_role}}", &format!("\"{}\"", names.owner_role));
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
            None => {
                sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
            }
        }
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(?kind, version = migration.version, name = migration.name, "applied migration");
        applied.push(migration.version);
    }
    Ok(applied)
}
