//! The two migration sets describe one schema. Applied to a fresh SQLite file and a fresh
//! PostgreSQL database, they must give the same tables; the same columns with the same
//! nullability, keys and defaults; the same indexes (names, columns, uniqueness, partial or
//! not); the same foreign keys; and the same CHECK rules — up to the type mapping below,
//! which is the only difference allowed.
//!
//! It needs PostgreSQL, so it runs in the test command's PostgreSQL pass
//! (`HATCHERY_TEST_POSTGRES`); on SQLite alone it says so and checks nothing.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection, Row, SqliteConnection};

use crate::helpers::TestData;

/// PostgreSQL's column types and the SQLite type each one is declared as. Times are
/// `TIMESTAMPTZ` on PostgreSQL and RFC 3339 text in UTC on SQLite; integers are 64-bit on
/// SQLite whatever PostgreSQL's width.
const TYPE_MAPPING: &[(&str, &str)] = &[
    ("text", "TEXT"),
    ("timestamp with time zone", "TEXT"),
    ("bigint", "INTEGER"),
    ("integer", "INTEGER"),
    ("boolean", "BOOLEAN"),
    ("double precision", "REAL"),
];

/// Tables the migration tool keeps for itself.
const TOOL_TABLES: &[&str] = &["_sqlx_migrations", "sqlite_sequence"];

/// The differences allowed besides types: each backend searches the system log's messages
/// through an index of its own kind. SQLite's is a full-text table (virtual, and not
/// compared, with the tables it keeps itself), which refers to a record by a row number
/// that must not change, so the log's key there is `seq`, its id unique; PostgreSQL's is a
/// trigram index.
const SEARCH_DIFFERENCES: &[&str] = &[
    "column system_log.id: SQLite \"TEXT not-null\", PostgreSQL \"TEXT not-null pk\"",
    "column system_log.seq: on SQLite only",
    "unique system_log(id): on SQLite only",
    "index system_log_message: on PostgreSQL only",
];

/// One backend's schema, in a form both can be compared in: each fact is a name and a
/// description.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// `table.column` → `type null|not-null [pk] [default …]`.
    columns: BTreeMap<String, String>,
    /// Indexes created by name → `table(columns) [unique] [partial]`.
    named_indexes: BTreeMap<String, String>,
    /// Unique rules that come with a column (`UNIQUE`), as `table(columns)`.
    unique_columns: BTreeSet<String>,
    /// `table(columns) → table(columns) on delete …`.
    foreign_keys: BTreeSet<String>,
    /// Each CHECK rule as `table: columns it names | literals | numbers`.
    checks: BTreeSet<String>,
}

impl Schema {
    /// Every fact, named by its kind and name, with its description.
    fn facts(&self) -> BTreeMap<String, String> {
        let described = |kind: &str, facts: &BTreeMap<String, String>| {
            facts
                .iter()
                .map(|(name, facts)| (format!("{kind} {name}"), facts.clone()))
                .collect::<Vec<_>>()
        };
        let listed = |kind: &str, facts: &BTreeSet<String>| {
            facts
                .iter()
                .map(|fact| (format!("{kind} {fact}"), String::new()))
                .collect::<Vec<_>>()
        };
        described("column", &self.columns)
            .into_iter()
            .chain(described("index", &self.named_indexes))
            .chain(listed("unique", &self.unique_columns))
            .chain(listed("foreign key", &self.foreign_keys))
            .chain(listed("check", &self.checks))
            .collect()
    }
}

/// What differs between the two schemas' facts, one line each.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let (sqlite, postgres) = (sqlite.facts(), postgres.facts());
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| match (sqlite.get(name), postgres.get(name)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(format!("{name}: SQLite {a:?}, PostgreSQL {b:?}")),
            (Some(_), None) => Some(format!("{name}: on SQLite only")),
            _ => Some(format!("{name}: on PostgreSQL only")),
        })
        .collect()
}

#[tokio::test]
async fn both_migration_sets_build_the_same_schema() {
    let postgres = TestData::new();
    if !postgres.is_postgres() {
        eprintln!("skipped: needs PostgreSQL (HATCHERY_TEST_POSTGRES), as in the test command");
        return;
    }
    postgres.create_database().await;
    let sqlite = tempfile::tempdir().expect("a temporary directory");
    let sqlite_url = format!(
        "sqlite://{}?mode=rwc",
        sqlite.path().join("schema.db").display()
    );

    let mut lite = SqliteConnection::connect(&sqlite_url).await.unwrap();
    hatchery_server::store::SQLITE_MIGRATIONS
        .run(&mut lite)
        .await
        .unwrap();
    let mut pg = PgConnection::connect(&postgres.database_url())
        .await
        .unwrap();
    hatchery_server::store::POSTGRES_MIGRATIONS
        .run(&mut pg)
        .await
        .unwrap();

    let (lite, pg) = (
        sqlite_schema(&mut lite).await,
        postgres_schema(&mut pg).await,
    );
    // Each kind of fact is read on both sides, so none can agree by being empty.
    for (kind, sqlite_count, postgres_count) in [
        ("columns", lite.columns.len(), pg.columns.len()),
        ("indexes", lite.named_indexes.len(), pg.named_indexes.len()),
        (
            "unique rules",
            lite.unique_columns.len(),
            pg.unique_columns.len(),
        ),
        (
            "foreign keys",
            lite.foreign_keys.len(),
            pg.foreign_keys.len(),
        ),
        ("checks", lite.checks.len(), pg.checks.len()),
    ] {
        assert!(
            sqlite_count > 0 && postgres_count > 0,
            "no {kind} read (SQLite {sqlite_count}, PostgreSQL {postgres_count})"
        );
    }
    let mut differences = differences(&lite, &pg);
    for allowed in SEARCH_DIFFERENCES {
        let before = differences.len();
        differences.retain(|difference| difference != allowed);
        assert_eq!(
            differences.len() + 1,
            before,
            "no longer differs: {allowed}"
        );
    }
    assert!(
        differences.is_empty(),
        "the migration sets drifted apart:\n{}",
        differences.join("\n")
    );
}

async fn sqlite_schema(db: &mut SqliteConnection) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut *db)
            .await
            .unwrap();
    let virtual_tables: Vec<&String> = tables
        .iter()
        .filter(|(_, sql)| sql.starts_with("CREATE VIRTUAL TABLE"))
        .map(|(name, _)| name)
        .collect();
    let kept_by_a_virtual_table = |table: &str| {
        virtual_tables.iter().any(|name| {
            table
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
        })
    };
    for (table, sql) in tables
        .iter()
        .filter(|(t, _)| !TOOL_TABLES.contains(&t.as_str()) && !kept_by_a_virtual_table(t))
    {
        let columns = sqlx::query(
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info($1)",
        )
        .bind(table)
        .fetch_all(&mut *db)
        .await
        .unwrap();
        let mut names = BTreeSet::new();
        for column in columns {
            let name: String = column.get("name");
            let declared: String = column.get("type");
            let pk: i64 = column.get("pk");
            // SQLite lets a primary key be null unless said otherwise; it never is here.
            let not_null = column.get::<i64, _>("notnull") == 1 || pk > 0;
            let default: Option<String> = column.get("dflt_value");
            schema.columns.insert(
                format!("{table}.{name}"),
                column_facts(&declared.to_uppercase(), not_null, pk > 0, default),
            );
            names.insert(name);
        }
        for check in check_clauses(sql) {
            schema.checks.insert(check_facts(table, &check, &names));
        }
        let indexes =
            sqlx::query("SELECT name, \"unique\", origin, partial FROM pragma_index_list($1)")
                .bind(table)
                .fetch_all(&mut *db)
                .await
                .unwrap();
        for index in indexes {
            let name: String = index.get("name");
            let origin: String = index.get("origin");
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&mut *db)
                    .await
                    .unwrap();
            let on = format!("{table}({})", columns.join(", "));
            match origin.as_str() {
                "c" => {
                    let unique = index.get::<i64, _>("unique") == 1;
                    let partial = index.get::<i64, _>("partial") == 1;
                    schema
                        .named_indexes
                        .insert(name, index_facts(&on, unique, partial));
                }
                "u" => {
                    schema.unique_columns.insert(on);
                }
                // The primary key's own index: compared as the columns' `pk`.
                _ => {}
            }
        }
        let keys = sqlx::query(
            "SELECT \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list($1) \
             ORDER BY id, seq",
        )
        .bind(table)
        .fetch_all(&mut *db)
        .await
        .unwrap();
        for key in keys {
            let target: String = key.get("table");
            let from: String = key.get("from");
            let to: String = key.get("to");
            let on_delete: String = key.get("on_delete");
            schema.foreign_keys.insert(format!(
                "{table}({from}) → {target}({to}) on delete {}",
                on_delete.to_lowercase()
            ));
        }
    }
    schema
}

async fn postgres_schema(db: &mut PgConnection) -> Schema {
    let mut schema = Schema::default();
    let columns = sqlx::query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
                c.data_type::text AS data_type, c.is_nullable::text AS is_nullable, \
                c.column_default::text AS column_default, \
                EXISTS (SELECT 1 FROM information_schema.table_constraints t \
                        JOIN information_schema.key_column_usage k \
                          ON k.constraint_name = t.constraint_name \
                         AND k.table_name = t.table_name \
                        WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_name = c.table_name \
                          AND k.column_name = c.column_name) AS pk \
         FROM information_schema.columns c WHERE c.table_schema = 'public'",
    )
    .fetch_all(&mut *db)
    .await
    .unwrap();
    let mut names: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for column in columns {
        let table: String = column.get("table_name");
        if TOOL_TABLES.contains(&table.as_str()) {
            continue;
        }
        let name: String = column.get("column_name");
        let data_type: String = column.get("data_type");
        let declared = TYPE_MAPPING
            .iter()
            .find(|(pg, _)| *pg == data_type)
            .map_or_else(
                || format!("unmapped {data_type}"),
                |(_, lite)| (*lite).to_owned(),
            );
        let not_null = column.get::<String, _>("is_nullable") == "NO";
        let default: Option<String> = column.get("column_default");
        schema.columns.insert(
            format!("{table}.{name}"),
            column_facts(&declared, not_null, column.get("pk"), default),
        );
        names.entry(table).or_default().insert(name);
    }
    let constraints = sqlx::query(
        "SELECT cl.relname::text AS table_name, c.contype::text AS kind, \
                pg_get_constraintdef(c.oid) AS definition, \
                rf.relname::text AS target, c.confdeltype::text AS on_delete, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
                 FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
                 FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS target_columns \
         FROM pg_constraint c JOIN pg_class cl ON cl.oid = c.conrelid \
         LEFT JOIN pg_class rf ON rf.oid = c.confrelid \
         WHERE cl.relnamespace = 'public'::regnamespace",
    )
    .fetch_all(&mut *db)
    .await
    .unwrap();
    for constraint in constraints {
        let table: String = constraint.get("table_name");
        if TOOL_TABLES.contains(&table.as_str()) {
            continue;
        }
        let columns: Option<String> = constraint.get("columns");
        let columns = columns.unwrap_or_default();
        match constraint.get::<String, _>("kind").as_str() {
            "c" => {
                let definition: String = constraint.get("definition");
                let empty = BTreeSet::new();
                let names = names.get(&table).unwrap_or(&empty);
                schema
                    .checks
                    .insert(check_facts(&table, &definition, names));
            }
            "u" => {
                schema.unique_columns.insert(format!("{table}({columns})"));
            }
            "f" => {
                let target: String = constraint.get("target");
                let to: Option<String> = constraint.get("target_columns");
                let on_delete = match constraint.get::<String, _>("on_delete").as_str() {
                    "c" => "cascade",
                    "n" => "set null",
                    "d" => "set default",
                    "r" => "restrict",
                    _ => "no action",
                };
                schema.foreign_keys.insert(format!(
                    "{table}({columns}) → {target}({}) on delete {on_delete}",
                    to.unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    let indexes = sqlx::query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
                ix.indisunique AS is_unique, ix.indpred IS NOT NULL AS partial, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
                 FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_class t ON t.oid = ix.indrelid \
         WHERE t.relnamespace = 'public'::regnamespace \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)",
    )
    .fetch_all(&mut *db)
    .await
    .unwrap();
    for index in indexes {
        let table: String = index.get("table_name");
        if TOOL_TABLES.contains(&table.as_str()) {
            continue;
        }
        let columns: Option<String> = index.get("columns");
        let on = format!("{table}({})", columns.unwrap_or_default());
        schema.named_indexes.insert(
            index.get("index_name"),
            index_facts(&on, index.get("is_unique"), index.get("partial")),
        );
    }
    schema
}

fn column_facts(declared: &str, not_null: bool, pk: bool, default: Option<String>) -> String {
    let mut facts = format!("{declared} {}", if not_null { "not-null" } else { "null" });
    if pk {
        facts.push_str(" pk");
    }
    if let Some(default) = default {
        // `FALSE` and `false`, `'x'` and `'x'::text` are the same default.
        let value = default.split("::").next().unwrap_or_default();
        let value = value.trim_matches(|c| c == '(' || c == ')' || c == '\'');
        facts.push_str(&format!(" default {}", value.to_lowercase()));
    }
    facts
}

fn index_facts(on: &str, unique: bool, partial: bool) -> String {
    let mut facts = on.to_owned();
    if unique {
        facts.push_str(" unique");
    }
    if partial {
        facts.push_str(" partial");
    }
    facts
}

/// The `CHECK (…)` clauses of a `CREATE TABLE` statement, parentheses balanced.
fn check_clauses(sql: &str) -> Vec<String> {
    let mut clauses = Vec::new();
    let upper = sql.to_uppercase();
    let mut from = 0;
    while let Some(at) = upper[from..].find("CHECK") {
        let start = from + at;
        let Some(open) = sql[start..].find('(').map(|i| start + i) else {
            break;
        };
        let mut depth = 0;
        let mut end = open;
        for (i, c) in sql[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = open + i;
                break;
            }
        }
        clauses.push(sql[start..=end].to_owned());
        from = end + 1;
    }
    clauses
}

/// A CHECK rule as what it names, whatever the dialect writes around it: the table's
/// columns it mentions, its quoted literals and its numbers.
fn check_facts(table: &str, clause: &str, columns: &BTreeSet<String>) -> String {
    let mut named = BTreeSet::new();
    let mut literals = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    let mut rest = clause;
    while let Some(c) = rest.chars().next() {
        if let Some(quoted) = rest.strip_prefix('\'') {
            let (literal, tail) = quoted.split_once('\'').unwrap_or((quoted, ""));
            literals.insert(literal.to_owned());
            rest = tail;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if columns.contains(&word) {
                named.insert(word.clone());
            }
            rest = &rest[word.len()..];
        } else if c.is_ascii_digit() {
            let number: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            numbers.insert(number.clone());
            rest = &rest[number.len()..];
        } else {
            rest = &rest[c.len_utf8()..];
        }
    }
    format!("{table}: {named:?} | {literals:?} | {numbers:?}")
}
