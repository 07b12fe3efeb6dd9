//! `ringfence backup`: create, list, verify and restore at the command line, the last on a
//! machine with nothing but the backup target and the master key; and the settings refused.

use ringfence_testkit::{TestEnv, backup_location, both_backends};

use super::*;

fn backup(env: &TestEnv, target: &str, blobs: &str, args: &[&str]) -> Output {
    let mut command = ringfence(env);
    command.arg("backup").args(args).args(["--backup-target", target, "--blob-store", blobs]);
    run(command, None)
}

both_backends!(
    a_backup_made_listed_and_verified_at_the_command_line_restores_on_a_fresh_machine,
    |env: TestEnv| async move {
        let created = run(
            {
                let mut c = ringfence(&env);
                c.args([
                    "firm",
                    "create",
                    "--name",
                    "Keepers LLP",
                    "--slug",
                    "keepers2",
                    "--admin-email",
                    "admin@keepers2.example",
                    "--admin-password-stdin",
                ]);
                c
            },
            Some("a long enough password for the keepers\n"),
        );
        assert!(created.status.success(), "{}", stderr(&created));
        let (location, _kept) = backup_location(env.backend);
        let target = blob_store_setting(&location);
        let blobs = blob_store_setting(&env.blob_location());

        let made = backup(&env, &target, &blobs, &["create"]);
        assert!(made.status.success(), "{}{}", stdout(&made), stderr(&made));
        let said = stdout(&made);
        assert!(
            said.contains("Backed up keepers2 as ")
                && said.contains("verified keepers2's backup by restoring it"),
            "{said}"
        );
        assert!(said.contains("verified the control store's backup"), "{said}");

        let listed = backup(&env, &target, &blobs, &["list", "--firm", "keepers2"]);
        assert!(listed.status.success(), "{}", stderr(&listed));
        let line =
            stdout(&listed).lines().find(|l| l.contains("keepers2")).map(str::to_owned).unwrap_or_default();
        assert!(line.ends_with("verified"), "{}", stdout(&listed));
        let id = line.split_whitespace().next().unwrap().to_owned();
        let verified = backup(&env, &target, &blobs, &["verify", "--firm", "keepers2", "--id", &id]);
        assert!(verified.status.success(), "{}{}", stdout(&verified), stderr(&verified));

        // Hostile and wrong settings: clear refusals.
        let inside = format!("local:{}", env.data_dir().join("backups").display());
        let refused = backup(&env, &inside, &blobs, &["create"]);
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("apart from the data"), "{}", stderr(&refused));
        for bad in ["local", "local:relative", "ftp://x", "s3://"] {
            let refused = backup(&env, bad, &blobs, &["list"]);
            assert_ne!(refused.status.code(), Some(0), "{bad}");
        }
        let unknown = backup(
            &env,
            &target,
            &blobs,
            &["restore", "--firm", "keepers2", "--from", &uuid::Uuid::now_v7().to_string()],
        );
        assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
        let nobody = backup(&env, &target, &blobs, &["restore", "--firm", "nobody", "--from", &id]);
        assert_eq!(nobody.status.code(), Some(1), "{}", stderr(&nobody));

        // Beside the original, as a new firm for inspection: its administrator is invited.
        let alone = backup(
            &env,
            &target,
            &blobs,
            &["restore", "--firm", "keepers2", "--from", &id, "--as", "keepers2-copy"],
        );
        assert_eq!(alone.status.code(), Some(2), "--as needs --admin-email: {}", stderr(&alone));
        let copy_as = |admin: &str| {
            let args = [
                "restore",
                "--firm",
                "keepers2",
                "--from",
                &id,
                "--as",
                "keepers2-copy",
                "--admin-email",
                admin,
            ];
            backup(&env, &target, &blobs, &args)
        };
        let copied = copy_as("inspector@keepers2.example");
        assert!(copied.status.success(), "{}{}", stdout(&copied), stderr(&copied));
        assert!(stdout(&copied).contains("/invite#"), "{}", stdout(&copied));
        let verified = run(
            {
                let mut c = ringfence(&env);
                c.args(["audit", "verify", "--firm", "keepers2-copy"]);
                c
            },
            None,
        );
        assert!(verified.status.success(), "{}{}", stdout(&verified), stderr(&verified));
        let again = copy_as("other@keepers2.example");
        assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
        assert!(stderr(&again).contains("keepers2-copy"), "{}", stderr(&again));

        // The machine is lost; a fresh one has only the target and the master key.
        let (backend, master_key) = (env.backend, std::fs::read(env.data_dir().join("master.key")).unwrap());
        drop(env);
        let fresh = TestEnv::new(backend).await.unwrap();
        std::fs::write(fresh.data_dir().join("master.key"), master_key).unwrap();
        let fresh_blobs = blob_store_setting(&fresh.blob_location());
        let restored = backup(
            &fresh,
            &target,
            &fresh_blobs,
            &["restore", "--firm", "keepers2", "--from", &id, "--settle-seconds", "0"],
        );
        assert!(restored.status.success(), "{}{}", stdout(&restored), stderr(&restored));
        assert!(stdout(&restored).contains("Restored keepers2"), "{}", stdout(&restored));
        assert!(
            stderr(&restored).contains("restoring the database"),
            "the progress is shown: {}",
            stderr(&restored)
        );
        let listed = run(
            {
                let mut c = ringfence(&fresh);
                c.args(["firm", "list"]);
                c
            },
            None,
        );
        assert!(stdout(&listed).contains("keepers2\t"), "{}", stdout(&listed));
        let audit = run(
            {
                let mut c = ringfence(&fresh);
                c.args(["audit", "verify", "--firm", "keepers2"]);
                c
            },
            None,
        );
        assert!(audit.status.success(), "{}{}", stdout(&audit), stderr(&audit));
    }
);
