//! Which migrations a database still needs, and whether the ones it ran are the ones
//! this build carries: each applied migration's checksum is recorded, so a migration
//! edited after its release stops the server instead of leaving an old schema behind.

use sha2::{Digest, Sha256};

/// One migration as this build carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// A migration as the database recorded it; `checksum` is absent for those applied
/// before checksums were kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub version: i64,
    pub checksum: Option<String>,
}

/// What to do to a database.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Migrations to run, in order.
    pub pending: Vec<Migration>,
    /// Checksums to record for migrations applied before checksums were kept.
    pub backfill: Vec<(i64, String)>,
}

/// The SHA-256 of a migration's text, in hex.
pub fn checksum(sql: &str) -> String {
    Sha256::digest(sql.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares what the database ran with what this build carries. A changed or
/// unknown migration is an error that names it and says what to do.
pub fn plan(carried: &[Migration], applied: &[Applied]) -> Result<Plan, String> {
    let mut plan = Plan::default();
    for a in applied {
        let Some(m) = carried.iter().find(|m| m.version == a.version) else {
            let newest = carried.iter().map(|m| m.version).max().unwrap_or(0);
            return Err(format!(
                "the database has migration {:04}, which this build does not know (it knows up to {newest:04}): \
                 it was migrated by a newer callsheet; run that version, or restore a backup taken before it",
                a.version
            ));
        };
        let expected = checksum(m.sql);
        match &a.checksum {
            Some(found) if *found == expected => {}
            Some(found) => {
                return Err(format!(
                    "migration {:04} was changed after this database applied it (recorded checksum {}, this \
                     build has {}): released migrations are never edited; restore the released text and add \
                     the change as a new migration",
                    a.version,
                    &found[..found.len().min(12)],
                    &expected[..12]
                ));
            }
            None => plan.backfill.push((a.version, expected)),
        }
    }
    plan.pending = carried.iter().filter(|m| !applied.iter().any(|a| a.version == m.version)).copied().collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARRIED: &[Migration] = &[
        Migration { version: 1, sql: "CREATE TABLE a (x INT);" },
        Migration { version: 2, sql: "CREATE TABLE b (y INT);" },
    ];

    #[test]
    fn a_fresh_database_runs_everything() {
        let plan = plan(CARRIED, &[]).unwrap();
        assert_eq!(plan.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2]);
        assert!(plan.backfill.is_empty());
    }

    #[test]
    fn recorded_checksums_must_match() {
        let ok = Applied { version: 1, checksum: Some(checksum(CARRIED[0].sql)) };
        let plan = plan(CARRIED, &[ok]).unwrap();
        assert_eq!(plan.pending.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        let edited = Applied { version: 1, checksum: Some(checksum("CREATE TABLE a (x TEXT);")) };
        let err = super::plan(CARRIED, &[edited]).unwrap_err();
        assert!(err.starts_with("migration 0001 was changed after this database applied it"), "{err}");
    }

    #[test]
    fn old_databases_get_their_checksums_recorded() {
        let plan = plan(CARRIED, &[Applied { version: 1, checksum: None }]).unwrap();
        assert_eq!(plan.backfill, [(1, checksum(CARRIED[0].sql))]);
    }

    /// Every released migration, pinned: a migration that no longer matches was edited
    /// after its release, which databases in the field would never see. Add a new
    /// migration instead, and pin it here once it is released.
    const RELEASED: &[(&str, i64, &str)] = &[
        ("sqlite", 1, "11623bb97f49733b53ba28f1fede001ccfa7e8509da4181003dff4f0e3aeef4e"),
        ("sqlite", 2, "ee8e1b896a01807f5d5aaf37a18927e155de644b71809c3b7f9a9382b5a56b99"),
        ("sqlite", 3, "aa64e3d25501e6cd8718aaea0be030098858f9c5af27aac47abc24a977b311a6"),
        ("sqlite", 4, "cc99bc4be54860a2af3af00cfa90e82222dd7fcb017fc1ef969660e19ed30dbe"),
        ("postgres", 1, "acb7eca6e3b97e22f94e563456a502dd27560aba5fc37b90778fe3a3561b5277"),
        ("postgres", 2, "2aeabe0068ba242918b97944f51fe98f462d11c9f1d9ceb299f5c7aef15d3ca8"),
    ];

    #[test]
    fn released_migrations_are_never_edited() {
        for (backend, version, pinned) in RELEASED {
            let carried = match *backend {
                "sqlite" => crate::store::sqlite::MIGRATIONS,
                _ => crate::store::postgres::MIGRATIONS,
            };
            let m = carried
                .iter()
                .find(|m| m.version == *version)
                .unwrap_or_else(|| panic!("{backend} migration {version:04} was released and must stay"));
            assert_eq!(
                checksum(m.sql),
                *pinned,
                "{backend} migration {version:04} was edited after its release: restore it and add a new migration"
            );
        }
    }

    #[test]
    fn a_newer_database_is_refused() {
        let err = plan(CARRIED, &[Applied { version: 3, checksum: None }]).unwrap_err();
        assert!(err.contains("migration 0003, which this build does not know"), "{err}");
    }
}
