use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ringfence_testkit::{TestEnv, both_backends};

use super::*;

/// Every file under the data dir with its contents: "nothing written" means this is unchanged.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.to_string_lossy();
                let contents = std::fs::read(&path).unwrap();
                // SQLite's -shm is a shared-memory index that even a read-only reader updates,
                // and a reader of a WAL database may create an empty -wal: neither holds data.
                let no_data = name.ends_with("-shm") || (name.ends_with("-wal") && contents.is_empty());
                if !no_data {
                    files.insert(path.clone(), contents);
                }
            }
        }
    }
    files
}

async fn control_rows(env: &TestEnv) -> Vec<String> {
    let Some(db) = &env.database else {
        return Vec::new();
    };
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT t::text FROM control.firms t UNION ALL SELECT t::text FROM control.deployment t ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

both_backends!(the_master_key_file_is_created_once_with_mode_0600, |env: TestEnv| async move {
    assert!(create_firm(&env, "keyed", "a@keyed.example", &[]).status.success());
    let path = env.data_dir().join("master.key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read(&path).unwrap();
    let mut list = ringfence(&env);
    list.args(["firm", "list"]);
    let output = run(list, None);
    assert!(output.status.success());
    assert_eq!(std::fs::read(&path).unwrap(), key, "the key is reused, never replaced");
});

both_backends!(a_wrong_master_key_stops_start_up_and_writes_nothing, |env: TestEnv| async move {
    assert!(create_firm(&env, "keyed", "a@keyed.example", &[]).status.success());
    let files_before = snapshot(env.data_dir());
    let rows_before = control_rows(&env).await;

    let other_key = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=";
    for args in
        [&["firm", "list"][..], &["serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"][..]]
    {
        let mut command = ringfence(&env);
        command.env("RINGFENCE_MASTER_KEY", other_key).args(args);
        let output = run(command, None);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert!(
            stderr(&output).contains("the master key does not match this deployment"),
            "{}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains(other_key), "the key is never printed");
    }
    let files_after = snapshot(env.data_dir());
    let changed: Vec<_> = files_before
        .keys()
        .chain(files_after.keys())
        .filter(|path| files_before.get(*path) != files_after.get(*path))
        .collect();
    assert!(changed.is_empty(), "the data dir is untouched, but these changed: {changed:?}");
    assert_eq!(control_rows(&env).await, rows_before, "the control tables are untouched");
});

both_backends!(a_missing_master_key_is_not_silently_replaced, |env: TestEnv| async move {
    assert!(create_firm(&env, "keyed", "a@keyed.example", &[]).status.success());
    let path = env.data_dir().join("master.key");
    std::fs::remove_file(&path).unwrap();
    let mut list = ringfence(&env);
    list.args(["firm", "list"]);
    let output = run(list, None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("the master key is missing"), "{}", stderr(&output));
    assert!(!path.exists(), "no new key was made for existing data");
});

both_backends!(a_master_key_from_the_environment_is_never_written_to_disk, |env: TestEnv| async move {
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut command = ringfence(&env);
    command.env("RINGFENCE_MASTER_KEY", key).args([
        "firm",
        "create",
        "--name",
        "E",
        "--slug",
        "env-key",
        "--admin-email",
        "e@env.example",
    ]);
    assert!(run(command, None).status.success());
    assert!(!env.data_dir().join("master.key").exists());
    let mut list = ringfence(&env);
    list.env("RINGFENCE_MASTER_KEY", key).args(["firm", "list"]);
    let output = run(list, None);
    assert!(stdout(&output).contains("env-key"), "{}", stderr(&output));
});

fn keys(env: &TestEnv, args: &[&str], master: Option<(&str, Option<&str>)>) -> Output {
    let mut command = ringfence(env);
    if let Some((current, new)) = master {
        command.env("RINGFENCE_MASTER_KEY", current);
        if let Some(new) = new {
            command.env("RINGFENCE_NEW_MASTER_KEY", new);
        }
    }
    command.arg("keys").args(args);
    run(command, None)
}

fn audit_intact(env: &TestEnv, master: Option<&str>) -> bool {
    let mut command = ringfence(env);
    if let Some(master) = master {
        command.env("RINGFENCE_MASTER_KEY", master);
    }
    command.args(["audit", "verify", "--firm", "keyed"]);
    let output = run(command, None);
    output.status.success() && stdout(&output).contains("is intact")
}

both_backends!(
    a_firm_key_is_rotated_re_sealed_and_retired_from_the_command_line,
    |env: TestEnv| async move {
        assert!(create_firm(&env, "keyed", "a@keyed.example", &[]).status.success());
        let early = keys(&env, &["retire", "--firm", "keyed", "--grace-minutes", "0"], None);
        assert!(early.status.success(), "nothing to retire is not an error: {}", stderr(&early));

        let rotated = keys(&env, &["rotate", "--firm", "keyed"], None);
        assert!(rotated.status.success(), "{}", stderr(&rotated));
        let said = stdout(&rotated);
        assert!(said.contains("now seals new data under key version 2"), "{said}");
        assert!(said.contains("Nothing of keyed uses its older key versions"), "{said}");
        let mut list = ringfence(&env);
        list.args(["jobs", "list"]);
        let listed = stdout(&run(list, None));
        assert!(listed.contains("\tqueued\tkeys.finish-rotation\t"), "queued with the new key: {listed}");
        env.expect_jobs_left("keys.finish-rotation");

        let too_soon = keys(&env, &["retire", "--firm", "keyed"], None);
        assert_eq!(too_soon.status.code(), Some(1));
        assert!(stderr(&too_soon).contains("younger than the grace period"), "{}", stderr(&too_soon));
        let retired = keys(&env, &["retire", "--firm", "keyed", "--grace-minutes", "0"], None);
        assert!(stdout(&retired).contains("Deleted 1 older key versions of keyed"), "{}", stderr(&retired));
        assert!(audit_intact(&env, None), "the log verifies, rotation and retirement recorded in it");

        let unknown = keys(&env, &["rotate", "--firm", "nobody"], None);
        assert_eq!(unknown.status.code(), Some(1));
    }
);

both_backends!(the_master_key_file_is_rotated_and_the_data_still_opens, |env: TestEnv| async move {
    assert!(create_firm(&env, "keyed", "a@keyed.example", &[]).status.success());
    let path = env.data_dir().join("master.key");
    let before = std::fs::read(&path).unwrap();
    let rotated = keys(&env, &["rotate-master"], None);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let after = std::fs::read(&path).unwrap();
    assert_ne!(before, after);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!env.data_dir().join("master.key.next").exists());
    assert!(audit_intact(&env, None), "firm keys unwrap under the new master key");

    // The old key no longer opens anything.
    let old = String::from_utf8(before).unwrap();
    let mut list = ringfence(&env);
    list.env("RINGFENCE_MASTER_KEY", old.trim()).args(["firm", "list"]);
    let output = run(list, None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not match"), "{}", stderr(&output));
});

both_backends!(a_master_key_from_the_environment_is_rotated_to_the_one_given, |env: TestEnv| async move {
    let old = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let new = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq8M=";
    let mut command = ringfence(&env);
    command.env("RINGFENCE_MASTER_KEY", old).args([
        "firm",
        "create",
        "--name",
        "K",
        "--slug",
        "keyed",
        "--admin-email",
        "k@keyed.example",
    ]);
    assert!(run(command, None).status.success());
    let refused = keys(&env, &["rotate-master"], Some((old, None)));
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("RINGFENCE_NEW_MASTER_KEY"), "{}", stderr(&refused));
    assert!(audit_intact(&env, Some(old)), "a refused rotation changes nothing");

    let rotated = keys(&env, &["rotate-master"], Some((old, Some(new))));
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(!stdout(&rotated).contains(new) && !stderr(&rotated).contains(new), "keys are never printed");
    assert!(audit_intact(&env, Some(new)));
    assert!(!audit_intact(&env, Some(old)));
    assert!(!env.data_dir().join("master.key").exists());
});
