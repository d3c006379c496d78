//! The migration runner: an ordered list of migrations, each with SQL per backend,
//! applied one transaction each and recorded in `schema_migrations`.
//!
//! Steps, repeated until nothing is pending:
//! 1. Begin a transaction that excludes other migrators (SQLite: `BEGIN IMMEDIATE`;
//!    PostgreSQL: `pg_advisory_xact_lock` on one fixed key per database, so stores in
//!    different schemas of one database also queue, harmlessly), so concurrent first
//!    opens queue up instead of racing to create the same tables.
//! 2. Create `schema_migrations` if it does not exist, and read it.
//! 3. Refuse a database migrated by a newer program ([`StoreError::SchemaTooNew`]) or
//!    one whose applied migrations differ from ours in name, checksum or order
//!    ([`StoreError::MigrationMismatch`]).
//! 4. Apply the first pending migration and record it, then commit.
//!
//! Rules for adding a migration: append to [`MIGRATIONS`] with the next version, write
//! both dialects, never edit one that has been released (its checksum is checked).

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::codec::to_micros;
use crate::error::{StoreError, db};
use crate::store::{BackendKind, BackendPool, RowExt, Store, dispatch};

/// One schema change, written once per dialect.
#[derive(Debug)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) name: &'static str,
    pub(crate) sqlite: &'static str,
    pub(crate) postgres: &'static str,
}

impl Migration {
    pub(crate) fn sql(&self, kind: BackendKind) -> &'static str {
        match kind {
            BackendKind::Sqlite => self.sqlite,
            BackendKind::Postgres => self.postgres,
        }
    }

    /// SHA-256 of the dialect's SQL text, in lower-case hex.
    pub(crate) fn checksum(&self, kind: BackendKind) -> String {
        Sha256::digest(self.sql(kind).as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Every migration, oldest first. Versions are 1, 2, 3, … without gaps.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("../migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "phone",
        sqlite: include_str!("../migrations/sqlite/0002_phone.sql"),
        postgres: include_str!("../migrations/postgres/0002_phone.sql"),
    },
    Migration {
        version: 3,
        name: "lifecycle",
        sqlite: include_str!("../migrations/sqlite/0003_lifecycle.sql"),
        postgres: include_str!("../migrations/postgres/0003_lifecycle.sql"),
    },
    Migration {
        version: 4,
        name: "relying_party",
        sqlite: include_str!("../migrations/sqlite/0004_relying_party.sql"),
        postgres: include_str!("../migrations/postgres/0004_relying_party.sql"),
    },
    Migration {
        version: 5,
        name: "log",
        sqlite: include_str!("../migrations/sqlite/0005_log.sql"),
        postgres: include_str!("../migrations/postgres/0005_log.sql"),
    },
    Migration {
        version: 6,
        name: "web",
        sqlite: include_str!("../migrations/sqlite/0006_web.sql"),
        postgres: include_str!("../migrations/postgres/0006_web.sql"),
    },
    Migration {
        version: 7,
        name: "renewal_lookup",
        sqlite: include_str!("../migrations/sqlite/0007_renewal_lookup.sql"),
        postgres: include_str!("../migrations/postgres/0007_renewal_lookup.sql"),
    },
    Migration {
        version: 8,
        name: "certificate_indexes",
        sqlite: include_str!("../migrations/sqlite/0008_certificate_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0008_certificate_indexes.sql"),
    },
];

/// The schema version this program writes: the last migration's version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// A row of `schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) version: i64,
    pub(crate) name: String,
    pub(crate) checksum: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Done,
    Apply(&'static Migration),
}

impl PartialEq for Migration {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

impl Eq for Migration {}

/// Decides what to do next, given the applied migrations in version order.
pub(crate) fn plan(
    kind: BackendKind,
    known: &'static [Migration],
    applied: &[Applied],
) -> Result<Step, StoreError> {
    let supported = known.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.iter().map(|a| a.version).max()
        && newest > supported
    {
        return Err(StoreError::SchemaTooNew {
            found: newest,
            supported,
        });
    }
    for (index, row) in applied.iter().enumerate() {
        let Some(expected) = known.get(index) else {
            // Unreachable after the version check, but refuse rather than assume.
            return Err(StoreError::MigrationMismatch {
                version: row.version,
                reason: "more migrations are applied than this program knows".into(),
            });
        };
        if row.version != expected.version {
            return Err(StoreError::MigrationMismatch {
                version: expected.version,
                reason: format!(
                    "migration {} is not applied but migration {} is",
                    expected.version, row.version
                ),
            });
        }
        if row.name != expected.name {
            return Err(StoreError::MigrationMismatch {
                version: row.version,
                reason: format!(
                    "applied as {:?}, but this program calls it {:?}",
                    row.name, expected.name
                ),
            });
        }
        if row.checksum != expected.checksum(kind) {
            return Err(StoreError::MigrationMismatch {
                version: row.version,
                reason: "its SQL differs from what was applied (a released migration was edited)"
                    .into(),
            });
        }
    }
    Ok(match known.get(applied.len()) {
        Some(next) => Step::Apply(next),
        None => Step::Done,
    })
}

impl Store {
    /// Applies every pending migration (see the module docs for the steps).
    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let kind = self.backend_kind();
        dispatch!(self, |pool| {
            loop {
                // Step 1.
                let mut tx = pool.begin_migration().await.map_err(db("migrate"))?;
                // Step 2.
                sqlx::query(CREATE_MIGRATIONS_TABLE)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("migrate"))?;
                let rows = sqlx::query(
                    "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
                )
                .fetch_all(&mut *tx)
                .await
                .map_err(db("migrate"))?;
                let applied = rows
                    .iter()
                    .map(|row| {
                        Ok(Applied {
                            version: row.int("version")?,
                            name: row.text("name")?,
                            checksum: row.text("checksum")?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                // Steps 3 and 4.
                match plan(kind, MIGRATIONS, &applied)? {
                    Step::Done => {
                        tx.commit().await.map_err(db("migrate"))?;
                        break Ok(());
                    }
                    Step::Apply(migration) => {
                        sqlx::raw_sql(migration.sql(kind))
                            .execute(&mut *tx)
                            .await
                            .map_err(db("migrate"))?;
                        // The one wall-clock read in the crate: an operational
                        // timestamp, not a domain time.
                        let applied_at = to_micros(OffsetDateTime::now_utc())?;
                        sqlx::query(
                            "INSERT INTO schema_migrations (version, name, checksum, applied_at) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(migration.version)
                        .bind(migration.name)
                        .bind(migration.checksum(kind))
                        .bind(applied_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(db("migrate"))?;
                        tx.commit().await.map_err(db("migrate"))?;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(kind: BackendKind, migration: &Migration) -> Applied {
        Applied {
            version: migration.version,
            name: migration.name.to_owned(),
            checksum: migration.checksum(kind),
        }
    }

    static TWO: [Migration; 2] = [
        Migration {
            version: 1,
            name: "one",
            sqlite: "CREATE TABLE a (x INTEGER)",
            postgres: "CREATE TABLE a (x BIGINT)",
        },
        Migration {
            version: 2,
            name: "two",
            sqlite: "CREATE TABLE b (x INTEGER)",
            postgres: "CREATE TABLE b (x BIGINT)",
        },
    ];

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }

    #[test]
    fn plan_applies_pending_in_order_then_stops() {
        let kind = BackendKind::Sqlite;
        assert_eq!(plan(kind, &TWO, &[]).unwrap(), Step::Apply(&TWO[0]));
        assert_eq!(
            plan(kind, &TWO, &[applied(kind, &TWO[0])]).unwrap(),
            Step::Apply(&TWO[1])
        );
        let all = [applied(kind, &TWO[0]), applied(kind, &TWO[1])];
        assert_eq!(plan(kind, &TWO, &all).unwrap(), Step::Done);
    }

    #[test]
    fn plan_refuses_newer_schema() {
        let kind = BackendKind::Postgres;
        let rows = [
            applied(kind, &TWO[0]),
            applied(kind, &TWO[1]),
            Applied {
                version: 3,
                name: "three".into(),
                checksum: String::new(),
            },
        ];
        assert!(matches!(
            plan(kind, &TWO, &rows),
            Err(StoreError::SchemaTooNew {
                found: 3,
                supported: 2
            })
        ));
    }

    #[test]
    fn plan_refuses_edited_renamed_or_gapped_migrations() {
        let kind = BackendKind::Sqlite;
        let mut edited = applied(kind, &TWO[0]);
        edited.checksum = applied(BackendKind::Postgres, &TWO[0]).checksum;
        let mut renamed = applied(kind, &TWO[0]);
        renamed.name = "uno".into();
        for rows in [vec![edited], vec![renamed], vec![applied(kind, &TWO[1])]] {
            assert!(
                matches!(
                    plan(kind, &TWO, &rows),
                    Err(StoreError::MigrationMismatch { .. })
                ),
                "{rows:?}"
            );
        }
    }
}
