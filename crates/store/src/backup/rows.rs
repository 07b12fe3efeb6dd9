//! A store's rows as they are, written out table by table and loaded back: what a backup
//! holds. Sealed values stay sealed; nothing here opens or reads them.
//!
//! Tables are taken in the order their foreign keys need (a table after those it refers
//! to), so a load inserts every row after the rows it refers to.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{AnyConnection, AssertSqlSafe, Row, ValueRef};

use crate::{Backend, StoreError};

/// What a column holds, as far as writing it back needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Integer,
    Boolean,
    Real,
    Text,
    Bytes,
}

impl Kind {
    /// The kind of a column declared as `declared` (SQLite's declared type, PostgreSQL's
    /// `data_type`).
    fn of_declared(declared: &str) -> Result<Self, StoreError> {
        let declared = declared.to_ascii_lowercase();
        Ok(match declared.as_str() {
            "integer" | "bigint" | "smallint" | "int" => Kind::Integer,
            "boolean" | "bool" => Kind::Boolean,
            "real" | "double precision" | "double" => Kind::Real,
            "text" | "character varying" | "varchar" => Kind::Text,
            "blob" | "bytea" => Kind::Bytes,
            other => {
                return Err(invalid(&format!("a column of type `{other}`, which a backup cannot carry")));
            }
        })
    }
}

/// A table's name and columns, as a backup's stream announces it before its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TableHead {
    pub table: String,
    pub columns: Vec<(String, Kind)>,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Boolean(bool),
    Integer(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn of(row: &AnyRow, index: usize) -> Result<Self, StoreError> {
        let raw = row.try_get_raw(index)?;
        if raw.is_null() {
            return Ok(Value::Null);
        }
        let kind = raw.type_info().kind();
        Ok(match kind {
            AnyTypeInfoKind::Null => Value::Null,
            AnyTypeInfoKind::Bool => Value::Boolean(row.try_get(index)?),
            AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt => {
                Value::Integer(row.try_get(index)?)
            }
            AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => Value::Real(row.try_get(index)?),
            AnyTypeInfoKind::Text => Value::Text(row.try_get(index)?),
            AnyTypeInfoKind::Blob => Value::Bytes(row.try_get(index)?),
        })
    }

    /// The value in a backup's stream: JSON, with bytes and reals marked so that nothing
    /// changes type on the way back.
    fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Boolean(b) => Json::Bool(*b),
            Value::Integer(i) => Json::from(*i),
            Value::Real(f) => serde_json::json!({ "r": f }),
            Value::Text(text) => Json::String(text.clone()),
            Value::Bytes(bytes) => serde_json::json!({ "b": STANDARD.encode(bytes) }),
        }
    }

    fn from_json(json: &Json) -> Result<Self, StoreError> {
        Ok(match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Boolean(*b),
            Json::Number(n) => {
                Value::Integer(n.as_i64().ok_or_else(|| invalid("a number that is no integer"))?)
            }
            Json::String(text) => Value::Text(text.clone()),
            Json::Object(map) => match (map.get("r"), map.get("b")) {
                (Some(real), None) => {
                    Value::Real(real.as_f64().ok_or_else(|| invalid("a real that is none"))?)
                }
                (None, Some(Json::String(encoded))) => {
                    Value::Bytes(STANDARD.decode(encoded).map_err(|_| invalid("bytes that are not base64"))?)
                }
                _ => return Err(invalid("a value of no known form")),
            },
            Json::Array(_) => return Err(invalid("a value of no known form")),
        })
    }
}

pub(crate) fn row_json(row: &[Value]) -> Json {
    Json::Array(row.iter().map(Value::to_json).collect())
}

pub(crate) fn row_line(row: &[Value]) -> Vec<u8> {
    let mut line = row_json(row).to_string().into_bytes();
    line.push(b'\n');
    line
}

pub(crate) fn parse_row(line: &[u8], columns: usize) -> Result<Vec<Value>, StoreError> {
    let json: Json = serde_json::from_slice(line).map_err(|_| invalid("a row that is not JSON"))?;
    parse_json_row(&json, columns)
}

pub(crate) fn parse_json_row(json: &Json, columns: usize) -> Result<Vec<Value>, StoreError> {
    let Json::Array(values) = json else { return Err(invalid("a row that is not a list")) };
    if values.len() != columns {
        return Err(invalid("a row with the wrong number of values"));
    }
    values.iter().map(Value::from_json).collect()
}

pub(crate) fn invalid(what: &str) -> StoreError {
    StoreError::BackupUnreadable(format!("the backup holds {what}"))
}

/// Names are our own schema's: lowercase letters, digits and underscores only, so they can
/// be quoted into SQL as they are.
fn checked_name(name: String) -> Result<String, StoreError> {
    let plain =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain { Ok(name) } else { Err(invalid(&format!("a table or column named `{name}`"))) }
}

/// A table head read back from a backup, its names checked as a catalogue's are: they go
/// into SQL.
pub(crate) fn checked_head(head: TableHead) -> Result<TableHead, StoreError> {
    let TableHead { table, columns } = head;
    let columns = columns
        .into_iter()
        .map(|(name, kind)| Ok((checked_name(name)?, kind)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(TableHead { table: checked_name(table)?, columns })
}

/// The tables the connection's store holds (the firm's schema on PostgreSQL, as the
/// transaction's search path names it), with their columns, in the order a load needs.
/// The migrations' own record is left out: a restore applies the migrations instead.
pub(crate) async fn tables(conn: &mut AnyConnection, backend: Backend) -> Result<Vec<TableHead>, StoreError> {
    let (tables_sql, edges_sql) = match backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            "SELECT m.name AS child, f.\"table\" AS parent FROM sqlite_master m
             JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
        ),
        Backend::Postgres => (
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema()",
            "SELECT child.relname::text AS child, parent.relname::text AS parent FROM pg_constraint c
             JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
             JOIN pg_namespace n ON n.oid = c.connamespace
             WHERE c.contype = 'f' AND n.nspname = current_schema()",
        ),
    };
    let names: Vec<String> = sqlx::query_scalar(tables_sql).fetch_all(&mut *conn).await?;
    let names: BTreeSet<String> = names
        .into_iter()
        .filter(|name| name != "schema_migrations")
        .map(checked_name)
        .collect::<Result<_, _>>()?;
    let mut needs: BTreeMap<String, BTreeSet<String>> =
        names.iter().map(|n| (n.clone(), BTreeSet::new())).collect();
    for row in sqlx::query(edges_sql).fetch_all(&mut *conn).await? {
        let (child, parent): (String, String) = (row.try_get("child")?, row.try_get("parent")?);
        if child != parent
            && names.contains(&parent)
            && let Some(parents) = needs.get_mut(&child)
        {
            parents.insert(parent);
        }
    }
    let mut ordered = Vec::with_capacity(names.len());
    while !needs.is_empty() {
        let ready: Vec<String> =
            needs.iter().filter(|(_, parents)| parents.is_empty()).map(|(name, _)| name.clone()).collect();
        if ready.is_empty() {
            return Err(invalid("tables whose foreign keys refer to each other in a circle"));
        }
        for name in &ready {
            needs.remove(name);
        }
        for parents in needs.values_mut() {
            for name in &ready {
                parents.remove(name);
            }
        }
        ordered.extend(ready);
    }
    let mut heads = Vec::with_capacity(ordered.len());
    for table in ordered {
        heads.push(head(conn, backend, &table).await?);
    }
    Ok(heads)
}

/// One table's head.
pub(crate) async fn head(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> Result<TableHead, StoreError> {
    let columns = columns(conn, backend, table).await?;
    if columns.is_empty() {
        return Err(invalid(&format!("no table `{table}`")));
    }
    Ok(TableHead { table: checked_name(table.to_owned())?, columns })
}

async fn columns(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> Result<Vec<(String, Kind)>, StoreError> {
    let rows = match backend {
        Backend::Sqlite => {
            sqlx::query("SELECT name, type AS declared FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&mut *conn)
                .await?
        }
        Backend::Postgres => sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS declared FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await?,
    };
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let declared: String = row.try_get("declared")?;
            Ok((checked_name(name)?, Kind::of_declared(&declared)?))
        })
        .collect()
}

/// The rows of `head`'s table (those whose column `filter.0` holds `filter.1`, when
/// given), read one at a time: memory stays flat however large the table.
pub(crate) fn rows<'c>(
    conn: &'c mut AnyConnection,
    head: &TableHead,
    filter: Option<(&str, &str)>,
) -> Result<Rows<'c>, StoreError> {
    let list = head.columns.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
    // Names come from the store's own catalogue (or our own code) and were checked to be plain.
    let mut sql = format!("SELECT {list} FROM \"{}\"", head.table);
    if let Some((column, _)) = filter {
        sql.push_str(&format!(" WHERE \"{}\" = $1", checked_name(column.to_owned())?));
    }
    let mut query = sqlx::query(AssertSqlSafe(sql));
    if let Some((_, value)) = filter {
        query = query.bind(value.to_owned());
    }
    Ok(Rows { stream: query.fetch(conn), width: head.columns.len() })
}

pub(crate) struct Rows<'c> {
    stream: futures_util::stream::BoxStream<'c, Result<AnyRow, sqlx::Error>>,
    width: usize,
}

impl Rows<'_> {
    pub async fn next(&mut self) -> Result<Option<Vec<Value>>, StoreError> {
        let Some(row) = self.stream.try_next().await? else { return Ok(None) };
        Ok(Some((0..self.width).map(|i| Value::of(&row, i)).collect::<Result<Vec<_>, _>>()?))
    }
}

/// Rows waiting to be inserted into one table, written a batch at a time.
pub(crate) struct Loader {
    head: TableHead,
    waiting: Vec<Vec<Value>>,
    /// `ON CONFLICT DO NOTHING`: rows already there are kept as they are.
    keep_existing: bool,
    pub loaded: u64,
}

/// Bound values per statement: under SQLite's and PostgreSQL's limits.
const VALUES_PER_INSERT: usize = 30_000;

impl Loader {
    pub fn new(head: TableHead, keep_existing: bool) -> Self {
        Self { head, waiting: Vec::new(), keep_existing, loaded: 0 }
    }

    pub fn head(&self) -> &TableHead {
        &self.head
    }

    pub async fn push(&mut self, conn: &mut AnyConnection, row: Vec<Value>) -> Result<(), StoreError> {
        if row.len() != self.head.columns.len() {
            return Err(invalid("a row with the wrong number of values"));
        }
        self.waiting.push(row);
        if (self.waiting.len() + 1) * self.head.columns.len() > VALUES_PER_INSERT {
            self.flush(conn).await?;
        }
        Ok(())
    }

    pub async fn flush(&mut self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let width = self.head.columns.len();
        let list =
            self.head.columns.iter().map(|(name, _)| format!("\"{name}\"")).collect::<Vec<_>>().join(", ");
        // SQLite finds a named parameter (`$n`) by a search through the statement's names,
        // so binding a batch of them costs the square of its size; its anonymous `?` are
        // bound in order. PostgreSQL takes only `$n`.
        let sqlite = conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME;
        let placeholder = |n: usize| if sqlite { "?".to_owned() } else { format!("${n}") };
        let tuples = (0..self.waiting.len())
            .map(|r| {
                format!(
                    "({})",
                    (1..=width).map(|c| placeholder(r * width + c)).collect::<Vec<_>>().join(", ")
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let conflict = if self.keep_existing { " ON CONFLICT DO NOTHING" } else { "" };
        let sql = format!("INSERT INTO \"{}\" ({list}) VALUES {tuples}{conflict}", self.head.table);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for row in self.waiting.drain(..) {
            for (value, (_, kind)) in row.into_iter().zip(&self.head.columns) {
                query = match value {
                    // A null is bound with its column's type: PostgreSQL takes no untyped one.
                    Value::Null => match kind {
                        Kind::Integer => query.bind(None::<i64>),
                        Kind::Boolean => query.bind(None::<bool>),
                        Kind::Real => query.bind(None::<f64>),
                        Kind::Text => query.bind(None::<String>),
                        Kind::Bytes => query.bind(None::<Vec<u8>>),
                    },
                    Value::Boolean(b) => query.bind(b),
                    Value::Integer(i) => query.bind(i),
                    Value::Real(f) => query.bind(f),
                    Value::Text(text) => query.bind(text),
                    Value::Bytes(bytes) => query.bind(bytes),
                };
            }
        }
        self.loaded += query.execute(&mut *conn).await?.rows_affected();
        Ok(())
    }
}
