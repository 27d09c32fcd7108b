//! The schema migrations, embedded in the binary (one set per backend, kept in step), and
//! how they are applied on connect.

use std::borrow::Cow;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{PgPool, SqlSafeStr, SqlitePool};

use crate::error::StoreError;

/// (version, description, SQL). Versions and descriptions match the file names, so the
/// checksums equal what `sqlx migrate` / `migrate!()` would record for the same files.
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "last failure",
        include_str!("../migrations/sqlite/0002_last_failure.sql"),
    ),
];

const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "last failure",
        include_str!("../migrations/postgres/0002_last_failure.sql"),
    ),
];

fn migrator(set: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        set.iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// PostgreSQL serialises concurrent migrators with an advisory lock.
pub(crate) async fn postgres(pool: &PgPool) -> Result<(), StoreError> {
    migrator(POSTGRES).run(pool).await?;
    Ok(())
}

/// SQLite has no migration lock, so two processes starting on a fresh file can race: the
/// loser's `CREATE TABLE` fails once the winner commits. Running again then finds the
/// migration recorded and does nothing, so a few retries make concurrent starts safe.
pub(crate) async fn sqlite(pool: &SqlitePool) -> Result<(), StoreError> {
    let migrator = migrator(SQLITE);
    let mut attempt = 0u32;
    loop {
        match migrator.run(pool).await {
            Ok(()) => return Ok(()),
            Err(err) if attempt < 4 && is_execution_error(&err) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
            }
            Err(err) => return Err(err.into()),
        }
    }
}

fn is_execution_error(err: &sqlx::migrate::MigrateError) -> bool {
    matches!(
        err,
        sqlx::migrate::MigrateError::Execute(_) | sqlx::migrate::MigrateError::ExecuteMigration(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |set: &[(i64, &str, &str)]| -> Vec<(i64, String)> {
            set.iter().map(|(v, d, _)| (*v, (*d).to_owned())).collect()
        };
        assert_eq!(versions(SQLITE), versions(POSTGRES));
    }

    /// The two schemas must name the same tables, columns and indexes in the same order.
    #[test]
    fn both_schemas_declare_the_same_names() {
        fn names(sql: &str) -> Vec<String> {
            sql.lines()
                .map(|l| l.trim())
                .filter(|l| !l.starts_with("--") && !l.is_empty())
                .filter_map(|l| {
                    let first = l.split_whitespace().next()?;
                    let is_name = first.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                    if l.starts_with("CREATE") {
                        Some(l.split('(').next().unwrap_or(l).to_owned())
                    } else if is_name {
                        Some(first.to_owned())
                    } else {
                        None
                    }
                })
                .collect()
        }
        let lite = names(SQLITE[0].2);
        assert!(lite.len() > 20, "{lite:?}");
        assert_eq!(lite, names(POSTGRES[0].2));
    }
}
