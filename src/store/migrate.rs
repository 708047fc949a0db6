//! Creating and migrating a store, safely when any number of processes open it at once.
//!
//! In: one connection to the store (opened by [`Store::open`](super::Store::open)), the
//! embedded migrations ([`MIGRATIONS`]). Out: a store at the latest version, every migration
//! recorded in `_sqlx_migrations`.
//!
//! The migrations run here, not through sqlx's `Migrator`: its SQLite path takes no lock, so
//! two processes creating one store both applied migration 1, and one of them then failed
//! ("UNIQUE constraint failed: _sqlx_migrations.version", "database is locked", or a later
//! migration finding its columns already dropped). Here every migration still to apply, their
//! records and whatever else opening writes (see [`Store::open`](super::Store::open)) run in
//! one transaction that holds the store's migration lock from its first statement: SQLite's
//! write lock (`BEGIN IMMEDIATE`, waited for through the busy timeout) or, on PostgreSQL, the
//! transaction-scoped advisory lock [`MIGRATE_LOCK`], taken before `CREATE TABLE IF NOT
//! EXISTS` (which is not safe when two sessions run it at once). A process that waited for
//! the lock reads the versions its predecessor recorded and applies nothing. A failed
//! migration rolls back with everything before it in that transaction, so a store is never
//! left half-migrated.
//!
//! `_sqlx_migrations` keeps the layout and checksums sqlx's `Migrator` wrote (each backend's
//! own column types), so stores created by earlier versions open as before, and a store
//! migrated here opens with them.

use std::collections::BTreeMap;
use std::time::Instant;

use sqlx::migrate::{Migration, MigrationType};
use sqlx::{Any, AnyConnection, Connection, Row, Transaction};

use super::{Backend, StoreError};

/// Migrations, embedded so the binary needs no files beside it: `(version, description, SQL)`.
pub(super) const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "changes", include_str!("migrations/0002_changes.sql")),
    (3, "item keys", include_str!("migrations/0003_item_keys.sql")),
    (4, "leases", include_str!("migrations/0004_leases.sql")),
    (5, "item bodies", include_str!("migrations/0005_item_bodies.sql")),
    (6, "item pairs", include_str!("migrations/0006_item_pairs.sql")),
    (7, "item extras", include_str!("migrations/0007_item_extras.sql")),
    (8, "fetch state", include_str!("migrations/0008_fetch_state.sql")),
    (9, "retention", include_str!("migrations/0009_retention.sql")),
    (10, "full text", include_str!("migrations/0010_full_text.sql")),
];

/// The PostgreSQL advisory lock a migrating transaction holds ("migr" in ASCII): processes
/// opening one database migrate it one at a time. (Advisory locks are per database, so stores
/// in other databases of the server do not wait for each other.)
pub const MIGRATE_LOCK: i64 = 0x6d69_6772;

/// The table of applied migrations, as sqlx's `Migrator` named it.
const TABLE: &str = "_sqlx_migrations";

/// One migration with the checksum sqlx's `Migrator` records for it (SHA-384 of the SQL).
fn migration(&(version, description, sql): &(i64, &'static str, &'static str)) -> Migration {
    Migration::new(
        version,
        description.into(),
        MigrationType::Simple,
        sqlx::SqlStr::from_static(sql),
        false,
    )
}

/// The applied migrations recorded in the store, by version: their checksums and whether they
/// finished (sqlx's `Migrator` recorded a migration run outside a transaction as unfinished
/// until it was).
async fn applied(conn: &mut AnyConnection) -> Result<BTreeMap<i64, (Vec<u8>, bool)>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT version, checksum, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) AS done FROM {TABLE}"
    )))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let done: i64 = row.try_get("done")?;
            Ok((row.try_get("version")?, (row.try_get("checksum")?, done == 1)))
        })
        .collect()
}

/// Whether the store behind `conn` needs nothing from `migrations`: every one is applied, as written, and none is
/// unknown. Read without any lock, so opening a current store never waits for a writer. Any
/// failure (a new store has no tables yet) reads as "not current": the locked path then
/// decides, and reports what is really wrong.
pub(super) async fn current(
    conn: &mut AnyConnection,
    migrations: &[(i64, &'static str, &'static str)],
) -> bool {
    let Ok(applied) = applied(conn).await else {
        return false;
    };
    applied.len() == migrations.len()
        && migrations.iter().all(|m| {
            let m = migration(m);
            applied
                .get(&m.version)
                .is_some_and(|(sum, done)| *done && *sum == *m.checksum)
        })
}

/// Begins the migrating transaction on `conn`, holding the store's migration lock (see the
/// module documentation). On SQLite the connection's busy timeout must be set: `BEGIN
/// IMMEDIATE` waits that long for another writer.
pub(super) async fn begin(
    conn: &mut AnyConnection,
    backend: Backend,
) -> Result<Transaction<'_, Any>, StoreError> {
    let err = StoreError::Migrations;
    match backend {
        Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await.map_err(err),
        Backend::Postgres => {
            let mut tx = conn.begin().await.map_err(err)?;
            // Wrapped in a count: the lock function returns `void`, which the Any driver
            // cannot decode.
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS migrate_lock")
                .bind(MIGRATE_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
            Ok(tx)
        }
    }
}

/// Applies what of `migrations` the store lacks, in order, and records each, in `tx` (begun
/// by [`begin`]). Returns how many were applied. Fails, applying nothing, when a recorded
/// migration differs from the one here, when the store has one this program does not know
/// (a newer feedfold wrote it), or when one was left unfinished.
pub(super) async fn apply(
    tx: &mut AnyConnection,
    backend: Backend,
    migrations: &[(i64, &'static str, &'static str)],
) -> Result<usize, StoreError> {
    let err = StoreError::Migrations;
    // sqlx's layout, with each backend's types, so either writer reads the other's records.
    let create = match backend {
        Backend::Sqlite => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)"
        ),
        Backend::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)"
        ),
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
    let applied = applied(tx).await.map_err(err)?;
    let known: Vec<Migration> = migrations.iter().map(migration).collect();
    for (&version, (sum, done)) in &applied {
        if !*done {
            return Err(StoreError::MigrationUnfinished(version));
        }
        match known.iter().find(|m| m.version == version) {
            None => return Err(StoreError::UnknownMigration(version)),
            Some(m) if *m.checksum != sum[..] => return Err(StoreError::MigrationChanged(version)),
            Some(_) => {}
        }
    }
    let mut count = 0;
    for m in known.iter().filter(|m| !applied.contains_key(&m.version)) {
        let started = Instant::now();
        let failed = |source| StoreError::Migrate {
            version: m.version,
            description: m.description.to_string(),
            source,
        };
        sqlx::raw_sql(m.sql.clone())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {TABLE} (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, $4)"
        )))
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .bind(i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tracing::debug!(version = m.version, description = %m.description, "migration applied");
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// sqlx's `Migrator` over `migrations`, as earlier versions of `Store::open` ran it.
    pub(crate) fn sqlx_migrator(migrations: &[(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
        sqlx::migrate::Migrator {
            migrations: migrations.iter().map(migration).collect::<Vec<_>>().into(),
            ..sqlx::migrate::Migrator::DEFAULT
        }
    }

    /// Applies `migrations` to the SQLite store at `url` the way `Store::open` does.
    pub(crate) async fn migrate_to(
        url: &str,
        migrations: &[(i64, &'static str, &'static str)],
    ) -> Result<usize, StoreError> {
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(url)
            .await
            .map_err(StoreError::Migrations)?;
        sqlx::raw_sql("PRAGMA busy_timeout = 10000")
            .execute(&mut conn)
            .await
            .map_err(StoreError::Migrations)?;
        let mut tx = begin(&mut conn, Backend::Sqlite).await?;
        let applied = apply(&mut tx, Backend::Sqlite, migrations).await?;
        tx.commit().await.map_err(StoreError::Migrations)?;
        conn.close().await.map_err(StoreError::Migrations)?;
        Ok(applied)
    }

    fn sqlite_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())
    }

    async fn versions(url: &str) -> Vec<i64> {
        let mut conn = AnyConnection::connect(url).await.expect("connect");
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .expect("versions")
    }

    /// What this module records is what sqlx's `Migrator` records, both ways: it continues a
    /// store sqlx migrated part of the way, and sqlx finds nothing to do (no checksum
    /// mismatch, nothing dirty) in a store migrated here.
    #[tokio::test]
    async fn records_are_the_ones_sqlx_writes() {
        let dir = tempfile::tempdir().expect("dir");
        let url = sqlite_url(&dir);
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("pool");
        sqlx_migrator(&MIGRATIONS[..3])
            .run(&pool)
            .await
            .expect("sqlx: 1-3");
        assert_eq!(
            migrate_to(&url, MIGRATIONS).await.expect("here: the rest"),
            MIGRATIONS.len() - 3
        );
        assert_eq!(
            migrate_to(&url, MIGRATIONS).await.expect("here: again"),
            0,
            "nothing twice"
        );
        sqlx_migrator(MIGRATIONS)
            .run(&pool)
            .await
            .expect("sqlx accepts the records");
        pool.close().await;
        let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions(&url).await, all);
        let mut conn = AnyConnection::connect(&url).await.expect("connect");
        assert!(current(&mut conn, MIGRATIONS).await);
        assert!(
            !current(&mut conn, &MIGRATIONS[..6]).await,
            "a store ahead is not current"
        );
    }

    /// A store whose records do not match this program's migrations is refused, and so is one
    /// a newer feedfold migrated further; nothing is applied to either.
    #[tokio::test]
    async fn refuses_changed_and_unknown_migrations() {
        let dir = tempfile::tempdir().expect("dir");
        let url = sqlite_url(&dir);
        migrate_to(&url, &MIGRATIONS[..2]).await.expect("1-2");
        let mut conn = AnyConnection::connect(&url).await.expect("connect");
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2")
            .bind(vec![0u8; 48])
            .execute(&mut conn)
            .await
            .expect("change");
        let changed = migrate_to(&url, MIGRATIONS).await.expect_err("changed");
        assert!(matches!(changed, StoreError::MigrationChanged(2)), "{changed:?}");
        assert_eq!(versions(&url).await, [1, 2], "nothing applied");

        let dir = tempfile::tempdir().expect("dir");
        let url = sqlite_url(&dir);
        migrate_to(&url, MIGRATIONS).await.expect("all");
        let mut conn = AnyConnection::connect(&url).await.expect("connect");
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99, 'future', TRUE, $1, 0)",
        )
        .bind(vec![0u8; 48])
        .execute(&mut conn)
        .await
        .expect("a newer migration");
        let unknown = migrate_to(&url, MIGRATIONS).await.expect_err("unknown");
        assert!(matches!(unknown, StoreError::UnknownMigration(99)), "{unknown:?}");
        assert!(!current(&mut conn, MIGRATIONS).await);
    }

    /// A migration that fails takes the migrations applied with it back: the store is left
    /// as it was, with no record of any of them, and the error names the migration.
    #[tokio::test]
    async fn a_failing_migration_leaves_the_store_as_it_was() {
        const BROKEN: &[(i64, &str, &str)] = &[
            (1, "init", include_str!("migrations/0001_init.sql")),
            (
                2,
                "broken",
                "CREATE TABLE half (x BIGINT); SELECT missing FROM nowhere;",
            ),
        ];
        let dir = tempfile::tempdir().expect("dir");
        let url = sqlite_url(&dir);
        let failed = migrate_to(&url, BROKEN).await.expect_err("broken");
        assert!(
            matches!(&failed, StoreError::Migrate { version: 2, description, .. } if description == "broken"),
            "{failed:?}"
        );
        assert!(
            crate::run::error_chain(&failed).contains("nowhere"),
            "{}",
            crate::run::error_chain(&failed)
        );
        let mut conn = AnyConnection::connect(&url).await.expect("connect");
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&mut conn)
                .await
                .expect("tables");
        assert_eq!(tables, Vec::<String>::new(), "nothing of 1 or 2 is left");
    }
}
