//! Versioned SQLite schemas for the Durable Objects: a list of migrations, the version on
//! disk kept in a `meta` table, and a read-only way to ask whether anything was ever
//! created (so an object can stay without storage until it has something to keep).

use aero2_keys::http::ErrorCode;
use serde::Deserialize;
use worker::{console_error, SqlStorage, SqlStorageValue};

use crate::errors::ApiResult;

pub fn int(value: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(value as i64)
}

/// An audit page's upper bound (`seq < ?`): the cursor, or past every entry. Bounded by the
/// largest integer JavaScript holds exactly, as SQL parameters cross into JavaScript as
/// numbers (`i64::MAX` was logged as "outside the JavaScript safe-integer range" on every
/// first page); every entry's seq is far below it, so the page is the same.
pub fn before_cursor(cursor: Option<u64>) -> SqlStorageValue {
    const PAST_EVERY_ENTRY: u64 = (1 << 53) - 1;
    int(cursor.map_or(PAST_EVERY_ENTRY, |cursor| cursor.min(PAST_EVERY_ENTRY)))
}

pub fn text(value: impl Into<String>) -> SqlStorageValue {
    SqlStorageValue::String(value.into())
}

pub fn opt_text(value: Option<impl Into<String>>) -> SqlStorageValue {
    value.map_or(SqlStorageValue::Null, text)
}

pub struct Schema {
    /// `migrations[n]` takes the schema from version `n` to `n + 1`.
    pub migrations: &'static [&'static str],
    /// A table every version has: its absence means version 0 (nothing stored).
    pub first_table: &'static str,
}

#[derive(Deserialize)]
struct NameRow {
    #[allow(dead_code)]
    name: String,
}

#[derive(Deserialize)]
struct NumberRow {
    value: u64,
}

fn table_exists(sql: &SqlStorage, name: &str) -> ApiResult<bool> {
    let rows: Vec<NameRow> = sql
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            vec![text(name)],
        )?
        .to_array()?;
    Ok(!rows.is_empty())
}

impl Schema {
    pub const fn latest(&self) -> usize {
        self.migrations.len()
    }

    /// The version on disk, reading only: 0 when nothing was ever stored, 1 for a schema
    /// from before versions were recorded.
    pub fn version(&self, sql: &SqlStorage) -> ApiResult<usize> {
        if !table_exists(sql, self.first_table)? {
            return Ok(0);
        }
        if !table_exists(sql, "meta")? {
            return Ok(1);
        }
        let rows: Vec<NumberRow> = sql
            .exec("SELECT value FROM meta WHERE name = 'schema_version'", None)?
            .to_array()?;
        Ok(rows.first().map_or(1, |row| row.value as usize))
    }

    /// Brings the schema to the latest version, in one synchronous step.
    pub fn migrate(&self, sql: &SqlStorage) -> ApiResult<()> {
        let from = self.version(sql)?;
        if from > self.latest() {
            console_error!(
                "schema {from} on disk is newer than this build's {}",
                self.latest()
            );
            return Err(ErrorCode::TemporarilyUnavailable.into());
        }
        if from == self.latest() {
            return Ok(());
        }
        for migration in &self.migrations[from..] {
            sql.exec(migration, None)?;
        }
        sql.exec(
            "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            None,
        )?;
        sql.exec(
            "INSERT INTO meta (name, value) VALUES ('schema_version', ?)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            vec![int(self.latest() as u64)],
        )?;
        Ok(())
    }
}
