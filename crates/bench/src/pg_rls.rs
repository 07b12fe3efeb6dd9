//! PostgreSQL's row-level security, paused while the seeding writes and restored exactly
//! as it was before the server starts. The policies call SQL helper functions that
//! PostgreSQL parses and plans again for every row they check, which made seeding 100,000
//! notes (with their search terms) take minutes on 2 cores; the measured server always
//! runs with every policy in force.

use ringfence_core::ids::FirmId;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use crate::{BenchResult, fail};

pub struct Paused {
    url: String,
    schema: String,
    /// Each table that had row-level security, and whether it was forced on its owner.
    tables: Vec<(String, bool)>,
}

fn identifier(name: &str) -> BenchResult<&str> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(fail(format!("unexpected identifier {name}")));
    }
    Ok(name)
}

/// Switches row-level security off on every table of the firm's schema that has it.
pub async fn pause(url: &str, firm: FirmId) -> BenchResult<Paused> {
    let schema = format!("firm_{}", firm.simple());
    let mut conn = PgConnection::connect(url).await?;
    let tables: Vec<(String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, c.relforcerowsecurity FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relrowsecurity ORDER BY c.relname",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await?;
    for (table, _) in &tables {
        let sql = format!(
            r#"ALTER TABLE "{}"."{}" DISABLE ROW LEVEL SECURITY"#,
            identifier(&schema)?,
            identifier(table)?
        );
        conn.execute(AssertSqlSafe(sql)).await?;
    }
    conn.close().await?;
    Ok(Paused { url: url.to_owned(), schema, tables })
}

impl Paused {
    /// Puts every policy back as it was.
    pub async fn resume(self) -> BenchResult<()> {
        let mut conn = PgConnection::connect(&self.url).await?;
        for (table, forced) in &self.tables {
            let name = format!(r#""{}"."{}""#, identifier(&self.schema)?, identifier(table)?);
            conn.execute(AssertSqlSafe(format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))).await?;
            if *forced {
                conn.execute(AssertSqlSafe(format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))).await?;
            }
        }
        conn.close().await?;
        Ok(())
    }
}
