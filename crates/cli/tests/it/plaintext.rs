use std::path::Path;

use ringfence_testkit::{TestEnv, both_backends};

use super::*;

const MARKER: &str = "Zanzibar-Quokka-7731";

fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle) {
                found.push(path);
            }
        }
    }
    found
}

both_backends!(sealed_values_never_reach_disk_or_tables_in_plaintext, |env: TestEnv| async move {
    let output = create_firm(&env, "sealed", "a@sealed.example", &["--admin-name", MARKER]);
    assert!(output.status.success(), "{}", stderr(&output));
    // The email is stored in the clear (it is the sign-in directory), and proves the scan works.
    assert!(!files_containing(env.data_dir(), b"a@sealed.example").is_empty() || env.database.is_some());
    assert_eq!(files_containing(env.data_dir(), MARKER.as_bytes()), Vec::<PathBuf>::new());

    if let Some(db) = &env.database {
        let mut conn = db.connect().await;
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_schema = 'control' OR table_schema LIKE 'firm\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(tables.iter().any(|(_, t)| t == "users"), "{tables:?}");
        let mut email_seen = false;
        for (schema, table) in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                r#"SELECT t::text FROM "{schema}"."{table}" t"#
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            email_seen |= rows.iter().any(|r| r.contains("a@sealed.example"));
            assert!(!rows.iter().any(|r| r.contains(MARKER)), "{schema}.{table} holds the plaintext");
        }
        assert!(email_seen, "the scan reads the rows it should");
    }
});
