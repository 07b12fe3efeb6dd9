//! `ringfence blobs sweep`: unrecorded blobs go once older than the grace period, on the
//! blob store of each deployment shape.

use std::time::{Duration, SystemTime};

use ringfence_store::blobs::{BlobLocation, BlobStore};
use ringfence_testkit::{TestEnv, both_backends};

use super::*;

fn sweep(env: &TestEnv, location: &str) -> Output {
    let mut command = ringfence(env);
    with_aws_env(&mut command).args(["blobs", "sweep", "--firm", "sweepers", "--blob-store", location]);
    run(command, None)
}

both_backends!(blobs_sweep_removes_unrecorded_blobs_past_the_grace_period, |env: TestEnv| async move {
    assert!(create_firm(&env, "sweepers", "admin@sweepers.example", &[]).status.success());
    let listed = run(
        {
            let mut c = ringfence(&env);
            c.args(["firm", "list"]);
            c
        },
        None,
    );
    let firm = stdout(&listed).split('\t').nth(1).unwrap().parse().unwrap();
    let location = env.blob_location();
    let setting = match &location {
        BlobLocation::Local(dir) => format!("local:{}", dir.display()),
        BlobLocation::S3(url) => url.clone(),
    };
    let blobs = BlobStore::open(&location).unwrap();
    let orphan = uuid::Uuid::now_v7();
    let mut writer = blobs.writer(firm, orphan);
    writer.write(b"sealed bytes no version records".to_vec()).await.unwrap();
    writer.finish().await.unwrap();

    let fresh = sweep(&env, &setting);
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    assert!(stdout(&fresh).contains("sweepers: removed 0 unrecorded blobs"), "{}", stdout(&fresh));
    assert_eq!(blobs.list(firm).await.unwrap(), vec![orphan], "a fresh blob stays");

    // A local blob's age is its file's time; an S3 object's cannot be set back by a test.
    if let BlobLocation::Local(dir) = &location {
        let path = dir.join("firms").join(firm.to_string()).join("blobs").join(orphan.to_string());
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)).unwrap();
        let swept = sweep(&env, &setting);
        assert!(swept.status.success(), "{}", stderr(&swept));
        assert!(stdout(&swept).contains("sweepers: removed 1 unrecorded blobs"), "{}", stdout(&swept));
        assert!(blobs.list(firm).await.unwrap().is_empty());
    }
    let refused = run(
        {
            let mut c = ringfence(&env);
            c.args(["blobs", "sweep", "--grace-hours", "0"]);
            c
        },
        None,
    );
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
});
