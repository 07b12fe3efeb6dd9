use ringfence_testkit::{TestEnv, both_backends};

use super::*;

both_backends!(firm_create_prints_an_invitation_and_firm_list_shows_the_firm, |env: TestEnv| async move {
    let output = create_firm(&env, "smith-jones", "ann@smith-jones.example", &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(printed.contains("Created firm \"Test Firm\" (smith-jones)"), "{printed}");
    let link = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("https://localhost:8443/invite#"))
        .expect("invitation link");
    let (firm, token) = link.split_once('.').expect("firm-scoped token");
    assert_eq!(firm.len(), 32, "the firm's id: {link}");
    assert_eq!(token.len(), 43, "a 256-bit URL-safe token: {link}");

    let mut list = ringfence(&env);
    list.args(["firm", "list"]);
    let listed = stdout(&run(list, None));
    assert!(listed.starts_with("smith-jones\t"), "{listed}");
    assert!(!listed.contains(link), "the token is shown once, never again");
});

both_backends!(duplicate_slugs_and_emails_are_refused_with_exit_1, |env: TestEnv| async move {
    assert!(create_firm(&env, "acme", "a@acme.example", &[]).status.success());
    let same_slug = create_firm(&env, "acme", "b@acme.example", &[]);
    assert_eq!(same_slug.status.code(), Some(1));
    assert!(
        stderr(&same_slug).contains("a firm with the slug `acme` already exists"),
        "{}",
        stderr(&same_slug)
    );

    let same_email = create_firm(&env, "acme-two", "A@Acme.example", &[]);
    assert_eq!(same_email.status.code(), Some(1));
    assert!(stderr(&same_email).contains("already belongs to a user"), "{}", stderr(&same_email));

    let mut list = ringfence(&env);
    list.args(["firm", "list"]);
    assert_eq!(stdout(&run(list, None)).lines().count(), 1, "the refused firms left nothing behind");
});

both_backends!(malformed_firm_arguments_are_usage_errors, |env: TestEnv| async move {
    for (slug, email) in [("Bad Slug", "a@x.example"), ("good-slug", "not-an-email")] {
        let output = create_firm(&env, slug, email, &[]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    }
    let output = create_firm(&env, "ab", "a@x.example", &[]);
    assert!(stderr(&output).contains("3 to 40 characters"), "{}", stderr(&output));
});

both_backends!(an_admin_password_can_come_from_stdin, |env: TestEnv| async move {
    let mut command = ringfence(&env);
    command.args([
        "firm",
        "create",
        "--name",
        "Pw",
        "--slug",
        "pw-firm",
        "--admin-email",
        "a@pw.example",
        "--admin-password-stdin",
    ]);
    let output = run(command, Some("a long enough passphrase\n"));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!stdout(&output).contains("/invite#"), "no invitation when the password is set");

    let mut command = ringfence(&env);
    command.args([
        "firm",
        "create",
        "--name",
        "Pw",
        "--slug",
        "pw-short",
        "--admin-email",
        "b@pw.example",
        "--admin-password-stdin",
    ]);
    let output = run(command, Some("short\n"));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("at least 12 characters"), "{}", stderr(&output));
});

both_backends!(migrate_applies_and_is_idempotent, |env: TestEnv| async move {
    for _ in 0..2 {
        let mut command = ringfence(&env);
        command.arg("migrate");
        let output = run(command, None);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("up to date"));
    }
});
