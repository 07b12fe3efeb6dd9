//! The floor under audited writes: plain single-row inserts, one per transaction, into the
//! same database with the same durability as the server's firm store (SQLite: the firm's
//! own file, WAL, `synchronous = FULL`, `BEGIN IMMEDIATE`, a pool of 8; PostgreSQL: the
//! bench database with the server's default `synchronous_commit`, a pool of 16).

use std::str::FromStr;
use std::sync::Arc;

use ringfence_store::Backend;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use uuid::Uuid;

use crate::BenchResult;
use crate::load::Job;

pub async fn open(backend: Backend, url: &str) -> BenchResult<AnyPool> {
    sqlx::any::install_default_drivers();
    let options = AnyConnectOptions::from_str(url)?;
    let pool = match backend {
        Backend::Sqlite => {
            AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // The same durability as the server's own connections.
                        conn.execute(ringfence_store::backend::SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?
        }
        Backend::Postgres => AnyPoolOptions::new().max_connections(16).connect_with(options).await?,
    };
    let table = match backend {
        Backend::Sqlite => {
            "CREATE TABLE IF NOT EXISTS bench_raw (id TEXT PRIMARY KEY, matter_id TEXT NOT NULL,
             body BLOB NOT NULL, created_at BIGINT NOT NULL)"
        }
        Backend::Postgres => {
            "CREATE TABLE IF NOT EXISTS bench_raw (id TEXT PRIMARY KEY, matter_id TEXT NOT NULL,
             body BYTEA NOT NULL, created_at BIGINT NOT NULL)"
        }
    };
    sqlx::raw_sql(table).execute(&pool).await?;
    Ok(pool)
}

/// One row per call, in its own transaction, begun the way the server begins one.
pub fn insert_job(pool: AnyPool, backend: Backend, body_len: usize, matter: Uuid) -> Job {
    let body = Arc::new(vec![0x5au8; body_len]);
    Arc::new(move |_client, iteration| {
        let (pool, body) = (pool.clone(), body.clone());
        Box::pin(async move {
            let work = async {
                let mut tx = match backend {
                    Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
                    Backend::Postgres => pool.begin().await?,
                };
                sqlx::query(
                    "INSERT INTO bench_raw (id, matter_id, body, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(Uuid::new_v4().to_string())
                .bind(matter.to_string())
                .bind(body.to_vec())
                .bind(iteration as i64)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            };
            work.await.is_ok()
        })
    })
}
