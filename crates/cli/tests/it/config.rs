use ringfence_testkit::{Backend, TestEnv};

use super::*;

async fn sqlite_env() -> TestEnv {
    TestEnv::new(Backend::Sqlite).await.expect("sqlite env")
}

fn assert_config_error(output: &Output, setting: &str) {
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(output));
    assert!(stderr(output).contains(setting), "the message names `{setting}`: {}", stderr(output));
}

#[tokio::test]
async fn bad_flags_stop_start_up_with_exit_2() {
    let env = sqlite_env().await;
    let mut command = ringfence(&env);
    command.args(["serve", "--listen", "not-an-address"]);
    assert_config_error(&run(command, None), "--listen");

    let mut command = ringfence(&env);
    command.args(["serve", "--tls-min", "1.1"]);
    assert_config_error(&run(command, None), "--tls-min");
}

#[tokio::test]
async fn bad_environment_values_stop_start_up_with_exit_2() {
    let env = sqlite_env().await;
    let mut command = ringfence(&env);
    command.env("RINGFENCE_HTTP_LISTEN", "8080").arg("serve");
    assert_config_error(&run(command, None), "http-listen");

    let mut command = ringfence(&env);
    command.env("RINGFENCE_PUBLIC_URL", "http://firm.example").arg("serve");
    assert_config_error(&run(command, None), "public_url");

    let mut command = ringfence(&env);
    command.env("RINGFENCE_MASTER_KEY", "too-short").arg("migrate");
    assert_config_error(&run(command, None), "RINGFENCE_MASTER_KEY");
}

#[tokio::test]
async fn bad_config_files_stop_start_up_with_exit_2() {
    let env = sqlite_env().await;
    let file = env.data_dir().join("ringfence.toml");
    for (contents, named) in [
        ("listen = 8443\n", "listen"),
        ("tls_min = \"1.0\"\n", "tls_min"),
        ("database_url = \"mysql://db\"\n", "database_url"),
        ("tls_cert = \"/nonexistent.pem\"\ntls_key = \"/nonexistent.key\"\n", "tls_cert"),
        ("colour = \"blue\"\n", "colour"),
    ] {
        std::fs::write(&file, contents).unwrap();
        let mut command = ringfence(&env);
        command.arg("--config").arg(&file).arg("serve");
        assert_config_error(&run(command, None), named);
    }
}

#[tokio::test]
async fn the_environment_overrides_the_file_and_flags_override_both() {
    let env = sqlite_env().await;
    let file = env.data_dir().join("ringfence.toml");
    std::fs::write(&file, "public_url = \"https://from-file.example\"\n").unwrap();
    let mut command = ringfence(&env);
    command.arg("--config").arg(&file).env("RINGFENCE_PUBLIC_URL", "https://from-env.example");
    command.args([
        "firm",
        "create",
        "--name",
        "A",
        "--slug",
        "env-wins",
        "--admin-email",
        "a@env-wins.example",
    ]);
    let output = run(command, None);
    assert!(stdout(&output).contains("https://from-env.example/invite#"), "{}", stdout(&output));

    let mut command = ringfence(&env);
    command.arg("--config").arg(&file).env("RINGFENCE_PUBLIC_URL", "https://from-env.example");
    command.args(["--public-url", "https://from-flag.example"]);
    command.args([
        "firm",
        "create",
        "--name",
        "B",
        "--slug",
        "flag-wins",
        "--admin-email",
        "b@flag-wins.example",
    ]);
    let output = run(command, None);
    assert!(stdout(&output).contains("https://from-flag.example/invite#"), "{}", stdout(&output));

    let mut command = ringfence(&env);
    command.arg("--config").arg(&file);
    command.args([
        "firm",
        "create",
        "--name",
        "C",
        "--slug",
        "file-wins",
        "--admin-email",
        "c@file-wins.example",
    ]);
    let output = run(command, None);
    assert!(stdout(&output).contains("https://from-file.example/invite#"), "{}", stdout(&output));
}

#[test]
fn help_reads_well() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    let help = stdout(&output);
    for word in ["serve", "migrate", "firm", "--data-dir", "--database-url", "RINGFENCE_MASTER_KEY"] {
        assert!(help.contains(word), "--help mentions {word}:\n{help}");
    }
    let output = Command::new(BIN).args(["firm", "create", "--help"]).output().unwrap();
    assert!(stdout(&output).contains("--admin-password-stdin"));
}
