//! The Markdown tables of `bench/RESULTS.md`, made from the suite's JSON, and the verdict
//! on each target, computed from the same figures.

use std::fmt::Write;

use clap::ValueEnum;
use serde_json::Value;

use crate::load::median;
use crate::suite::Part;

const MIB: f64 = 1024.0 * 1024.0;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn title(backend: &Value) -> &'static str {
    match backend.as_str() {
        Some("postgres") => "PostgreSQL",
        _ => "SQLite",
    }
}

fn mib(kib: &Value) -> String {
    format!("{:.0} MiB", f(kib) / 1024.0)
}

fn pct(ratio: f64) -> String {
    format!("{:.0}%", ratio * 100.0)
}

fn mark(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// The main read: one matter, by the user who leads it.
pub const MATTER_READ: &str = "GET /api/v1/matters/{id}";
/// The main write: a note on one of those matters.
pub const NOTE_WRITE: &str = "POST /api/v1/matters/{id}/notes";

/// The page routes measured beside the API (server-rendered HTML).
pub const PAGE_HOME: &str = "GET /home (page)";
pub const PAGE_MATTER: &str = "GET /matters/{id} (page)";

fn point<'a>(results: &'a Value, endpoint: &str, clients: u64) -> Option<&'a Value> {
    results["reads"]
        .as_array()?
        .iter()
        .find(|p| p["endpoint"] == endpoint && p["clients"].as_u64() == Some(clients))
        .map(|p| &p["median"])
}

pub struct Baselines {
    /// openssl's single-core AES-256-GCM on 16 KiB blocks, bytes per second, each run.
    pub aes: Vec<f64>,
    pub measured: Value,
}

pub fn render(baselines: &Baselines, results: &[Value]) -> String {
    let mut out = String::new();
    let aes = median(&baselines.aes);
    let tcp = f(&baselines.measured["tcp_copy"]["median"]);
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(out, "| target | backend | figure | verdict |\n|---|---|---|---|");
    for r in results {
        let name = title(&r["backend"]);
        let health = point(r, "GET /healthz", 16).map_or(f64::NAN, |p| f(&p["rps"]));
        for endpoint in ["GET /api/v1/matters", MATTER_READ] {
            if let Some(p) = point(r, endpoint, 16) {
                let ratio = f(&p["rps"]) / health;
                let p99 = f(&p["p99_ms"]);
                let _ = writeln!(
                    out,
                    "| `{endpoint}` at 16 clients ≥ 40% of `/healthz` req/s, p99 < 20 ms | {name} | {} of /healthz, p99 {p99:.1} ms | {} |",
                    pct(ratio),
                    mark(ratio >= 0.4 && p99 < 20.0)
                );
            }
        }
        // Pages are rendered on the server: each must come well under 100 ms.
        for endpoint in [PAGE_HOME, PAGE_MATTER] {
            if let Some(p) = point(r, endpoint, 1) {
                let p99 = f(&p["p99_ms"]);
                let _ = writeln!(
                    out,
                    "| `{endpoint}` rendered well under 100 ms (1 client, p99) | {name} | p50 {:.1} ms, p99 {p99:.1} ms | {} |",
                    f(&p["p50_ms"]),
                    mark(p99 < 100.0)
                );
            }
        }
    }
    for r in results.iter().filter(|r| r["backend"] == "sqlite") {
        let rate = f(&r["writes"]["notes"]["median"]["rps"]);
        let _ = writeln!(
            out,
            "| audited note writes ≥ 5,000/s | SQLite | {rate:.0}/s at {} clients | {} |",
            r["writes"]["clients"],
            mark(rate >= 5000.0)
        );
    }
    for r in results {
        let down = f(&r["documents"]["download"]["median"]);
        let _ = writeln!(
            out,
            "| document download ≥ 50% of one core's AES-256-GCM | {} | {:.0} MiB/s = {} of {:.0} MiB/s | {} |",
            title(&r["backend"]),
            down / MIB,
            pct(down / aes),
            aes / MIB,
            mark(down / aes >= 0.5)
        );
    }
    for r in results {
        let e = &r["export"];
        let seconds = f(&e["median"]);
        let rss = f(&e["peak_rss_kib"]) / 1024.0;
        let finished = e["finished"].as_bool().unwrap_or(false);
        let figure = if finished {
            format!("{seconds:.1} s, peak RSS {rss:.0} MiB")
        } else {
            format!("not finished after {:.0} s (cut off), peak RSS {rss:.0} MiB", f(&e["limit_seconds"]))
        };
        let _ = writeln!(
            out,
            "| audit CSV export of {} entries < 10 s within 100 MiB RSS | {} | {figure} | {} |",
            e["entries"],
            title(&r["backend"]),
            mark(finished && seconds < 10.0 && rss <= 100.0)
        );
    }
    for r in results {
        let s = &r["storm"]["median"];
        let ratio = f(&s["storm_p99_ms"]) / f(&s["quiet_p99_ms"]);
        let _ = writeln!(
            out,
            "| readers' p99 during a sign-in storm < 3× quiet | {} | {:.1} ms vs {:.1} ms = {ratio:.1}× | {} |",
            title(&r["backend"]),
            f(&s["storm_p99_ms"]),
            f(&s["quiet_p99_ms"]),
            mark(ratio < 3.0)
        );
    }

    let _ = writeln!(out, "\n## Authorized reads\n");
    let _ = writeln!(
        out,
        "The bench user leads {} of the firm's {} matters; `{{id}}` cycles through them (each read writes a \
         `matter.viewed` audit entry). Ratio: req/s against `GET /healthz` on the same server at the same \
         concurrency. Server CPU: the server process's CPU time over the run's wall time (2 cores = 200%).\n",
        results.first().map_or(Value::Null, |r| r["sizes"]["bench_matters"].clone()),
        results.first().map_or(Value::Null, |r| r["sizes"]["matters"].clone()),
    );
    let _ = writeln!(
        out,
        "| backend | endpoint | clients | req/s | p50 ms | p99 ms | vs /healthz | server CPU | errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        for p in r["reads"].as_array().into_iter().flatten() {
            let m = &p["median"];
            let clients = p["clients"].as_u64().unwrap_or(0);
            let health = point(r, "GET /healthz", clients).map_or(f64::NAN, |h| f(&h["rps"]));
            let _ = writeln!(
                out,
                "| {} | `{}` | {clients} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0} |",
                title(&r["backend"]),
                p["endpoint"].as_str().unwrap_or(""),
                f(&m["rps"]),
                f(&m["p50_ms"]),
                f(&m["p99_ms"]),
                pct(f(&m["rps"]) / health),
                pct(f(&m["server_cpu"])),
                f(&m["errors"]),
            );
        }
    }

    let _ = writeln!(out, "\n## Audited writes\n");
    let _ = writeln!(
        out,
        "`POST /api/v1/matters/{{id}}/notes` over HTTPS (sealed body, search index, `note.created` audit \
         entry, one transaction each) against raw single-row inserts, one per transaction, into the same \
         database at the same concurrency and durability.\n"
    );
    let _ = writeln!(
        out,
        "| backend | what | clients | per second | p50 ms | p99 ms | vs raw inserts |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let w = &r["writes"];
        let raw = f(&w["raw"]["median"]["rps"]);
        for (what, key) in [("notes via the API", "notes"), ("raw inserts", "raw")] {
            let m = &w[key]["median"];
            let _ = writeln!(
                out,
                "| {} | {what} | {} | {:.0} | {:.2} | {:.2} | {} |",
                title(&r["backend"]),
                w["clients"],
                f(&m["rps"]),
                f(&m["p50_ms"]),
                f(&m["p99_ms"]),
                pct(f(&m["rps"]) / raw),
            );
        }
    }

    let _ = writeln!(out, "\n## Documents\n");
    let size = results.first().map_or(0.0, |r| f(&r["sizes"]["document_bytes"]));
    let _ = writeln!(
        out,
        "One {:.0} MiB file, generated as it is sent, uploaded as `multipart/form-data` and downloaded \
         whole over HTTPS; blobs in the local blob store (`DATA/blobs`) on both backends. Peak RSS: the \
         server's `VmHWM`, reset before each transfer, and `VmRSS` sampled every 50 ms.\n",
        size / MIB
    );
    let _ = writeln!(
        out,
        "| backend | direction | MiB/s | vs AES-256-GCM (openssl, 1 core) | vs loopback TCP copy | server peak RSS | RSS before |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for r in results {
        for direction in ["upload", "download"] {
            let d = &r["documents"][direction];
            let rate = f(&d["median"]);
            let _ = writeln!(
                out,
                "| {} | {direction} | {:.0} | {} | {} | {} | {} |",
                title(&r["backend"]),
                rate / MIB,
                pct(rate / aes),
                pct(rate / tcp),
                mib(&d["peak_rss_kib"]),
                mib(&d["rss_before_kib"]),
            );
        }
    }
    let m = &baselines.measured;
    let _ = writeln!(out, "\nYardsticks on this machine (medians):\n");
    let _ = writeln!(out, "| yardstick | MiB/s |\n|---|---:|");
    let _ = writeln!(
        out,
        "| `openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3` (1 core) | {:.0} |",
        aes / MIB
    );
    let _ = writeln!(out, "| plain TCP copy over 127.0.0.1 of the same generated bytes | {:.0} |", tcp / MIB);
    let _ = writeln!(
        out,
        "| writing the same bytes to a file beside the data dirs, then fsync | {:.0} |",
        f(&m["file_write"]["median"]) / MIB
    );
    let _ = writeln!(
        out,
        "| Ringfence's own blob sealing (`ringfence_crypto::blob`, 64 KiB chunks, 1 core, in process) | {:.0} |",
        f(&m["own_seal"]["median"]) / MIB
    );
    let _ =
        writeln!(out, "| Ringfence's own blob opening (same) | {:.0} |", f(&m["own_open"]["median"]) / MIB);

    let _ = writeln!(out, "\n## Sign-in storm\n");
    let _ = writeln!(
        out,
        "16 clients read matters (`GET /api/v1/matters/{{id}}`); after a quiet spell, 50 users sign in at \
         once (password, then a TOTP code; each on a new connection). p99 of the reads begun during the \
         quiet spell, and of those begun while the sign-ins ran.\n"
    );
    let _ = writeln!(
        out,
        "| backend | quiet p50 / p99 ms | storm p50 / p99 ms | p99 ratio | storm lasted | sign-in p50 / slowest | server RSS before / after the storms |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let s = &r["storm"]["median"];
        let _ = writeln!(
            out,
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1}× | {:.2} s | {:.0} / {:.0} ms | {} / {} |",
            title(&r["backend"]),
            f(&s["quiet_p50_ms"]),
            f(&s["quiet_p99_ms"]),
            f(&s["storm_p50_ms"]),
            f(&s["storm_p99_ms"]),
            f(&s["storm_p99_ms"]) / f(&s["quiet_p99_ms"]),
            f(&s["storm_seconds"]),
            f(&s["signin_p50_ms"]),
            f(&s["signin_max_ms"]),
            mib(&r["storm"]["rss_before_kib"]),
            mib(&r["storm"]["rss_after_kib"]),
        );
    }

    let _ = writeln!(out, "\n## Search\n");
    let _ = writeln!(
        out,
        "`GET /api/v1/search?q=` by the bench user, one client, cycling through 20 one- and two-word \
         queries whose words range from the commonest in the notes to ones a few dozen notes hold.\n"
    );
    let _ = writeln!(
        out,
        "| backend | sealed notes | queries/s | p50 ms | p99 ms | hits per query |\n|---|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let m = &r["search"]["median"];
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.1} | {:.1} | {:.2} |",
            title(&r["backend"]),
            r["sizes"]["notes"],
            f(&m["rps"]),
            f(&m["p50_ms"]),
            f(&m["p99_ms"]),
            f(&r["search"]["hits_per_query"]),
        );
    }

    let _ = writeln!(out, "\n## Audit export\n");
    let _ = writeln!(
        out,
        "`GET /api/v1/audit.csv` by an audit officer, the whole log, streamed and counted by the client.\n"
    );
    let _ = writeln!(
        out,
        "| backend | entries | seconds | rows/s | MiB of CSV | server peak RSS | RSS before | runs |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let e = &r["export"];
        let finished = e["finished"].as_bool().unwrap_or(false);
        let seconds = if finished {
            format!("{:.1}", f(&e["median"]))
        } else {
            format!("> {:.0} (cut off)", f(&e["limit_seconds"]))
        };
        let rate =
            if finished { format!("{:.0}", f(&e["rows"]) / f(&e["median"])) } else { "—".to_owned() };
        let _ = writeln!(
            out,
            "| {} | {} | {seconds} | {rate} | {:.0} | {} | {} | {} |",
            title(&r["backend"]),
            e["entries"],
            f(&e["bytes"]) / MIB,
            mib(&e["peak_rss_kib"]),
            mib(&e["rss_before_kib"]),
            e["runs"].as_array().map_or(0, Vec::len),
        );
    }

    let _ = writeln!(out, "\n## Footprint\n");
    let _ = writeln!(
        out,
        "| backend | idle RSS | RSS under 64-client reads (peak) | binary size | cold start to `/readyz` |\n|---|---:|---:|---:|---:|"
    );
    for r in results {
        let fp = &r["footprint"];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} MiB | {:.0} ms |",
            title(&r["backend"]),
            mib(&fp["idle_rss_kib"]),
            mib(&fp["load_rss_kib"]),
            f(&fp["binary_bytes"]) / MIB,
            f(&fp["cold_start_ms"]["median"]),
        );
    }

    let _ = writeln!(out, "\n## Seeding\n");
    let _ = writeln!(out, "| backend | step | seconds |\n|---|---|---:|");
    for r in results {
        for step in r["seed_steps"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} |",
                title(&r["backend"]),
                step["step"].as_str().unwrap_or(""),
                f(&step["seconds"])
            );
        }
        let _ = writeln!(
            out,
            "| {} | audit log filled to {} entries (before the export) | {:.1} |",
            title(&r["backend"]),
            r["export"]["entries"],
            f(&r["export"]["fill_seconds"])
        );
    }
    for &part in Part::value_variants() {
        if results.iter().any(|r| r[section_of(part).field].is_object()) {
            out.push('\n');
            out.push_str(&section(part, results, None));
        }
    }
    out
}

/// How a part that can be run alone appears in the results file.
struct SectionOf {
    /// Names the comments that begin and end its section, so a run of that part alone can
    /// put its figures in place of the old ones and keep the rest of the file.
    marker: &'static str,
    /// Its figures in a suite's JSON.
    field: &'static str,
    heading: &'static str,
}

fn section_of(part: Part) -> SectionOf {
    match part {
        Part::TwoServers => SectionOf {
            marker: "two-servers",
            field: "two_servers",
            heading: "Two servers on one PostgreSQL database",
        },
        Part::KeyRotation => {
            SectionOf { marker: "key-rotation", field: "key_rotation", heading: "Key rotation" }
        }
        Part::Backups => SectionOf { marker: "backups", field: "backups", heading: "Backups" },
    }
}

fn markers(part: Part) -> (String, String) {
    let marker = section_of(part).marker;
    (format!("<!-- {marker}: begin -->"), format!("<!-- {marker}: end -->"))
}

/// The section of `part` from the suites that measured it, between its markers.
/// `provenance` says which run it comes from when that is not the run the rest of the file
/// comes from.
pub fn section(part: Part, results: &[Value], provenance: Option<&str>) -> String {
    let (begin, end) = markers(part);
    let of = section_of(part);
    let measured: Vec<&Value> = results.iter().filter(|r| r[of.field].is_object()).collect();
    let mut out = String::new();
    let _ = writeln!(out, "{begin}\n## {}\n", of.heading);
    if let Some(provenance) = provenance {
        let _ = writeln!(out, "{provenance}\n");
    }
    match part {
        Part::TwoServers => measured.iter().for_each(|r| two_servers(&mut out, r)),
        Part::KeyRotation => key_rotation(&mut out, &measured),
        Part::Backups => backups(&mut out, &measured),
    }
    let _ = writeln!(out, "{end}");
    out
}

/// `document` with the section of `part` replaced by `section`, or with `section` added at
/// the end when it has none.
pub fn merge(document: &str, part: Part, section: &str) -> String {
    let (begin, end) = markers(part);
    let from = document.find(&begin);
    let to = document.find(&end).map(|at| at + end.len());
    match (from, to) {
        (Some(from), Some(to)) if from < to => {
            let after = document[to..].strip_prefix('\n').unwrap_or(&document[to..]);
            format!("{}{section}{after}", &document[..from])
        }
        _ if document.is_empty() => section.to_owned(),
        _ => format!("{}\n\n{section}", document.trim_end_matches('\n')),
    }
}

/// The two-server comparison of one PostgreSQL suite.
fn two_servers(out: &mut String, results: &Value) {
    let t = &results["two_servers"];
    let _ = writeln!(
        out,
        "**Both servers, PostgreSQL and the load generator share the same {} cores**, so this shows \
         whether a second server on the same database costs anything on one box, not horizontal \
         scale: a second machine would bring cores of its own.\n",
        t["cores"]
    );
    let _ = writeln!(
        out,
        "Two `ringfence serve` processes on loopback ports of their own, on the same PostgreSQL \
         database and the same data dir (so the same `master.key` and TLS certificate; the second \
         starts once the first is up). Each client keeps one connection to one server, half the \
         clients on each. The bench user signs in once, on the first server, and uses that session on \
         both: sessions live in the database. The load points are those of `{MATTER_READ}` and the \
         notes above (firm of {} matters, {} s per point, median of {} runs); one server and two take \
         turns within each run, and the second server stays up, idle, while the first is measured \
         alone. Servers' CPU: both processes' CPU time over the run's wall time (one core = 100%). \
         Afterwards `ringfence audit verify` walked the audit chain both servers had appended to: \
         \"{}\"\n",
        results["sizes"]["matters"],
        results["point_seconds"],
        results["runs"],
        t["audit_verify"].as_str().unwrap_or("not run"),
    );
    let _ = writeln!(
        out,
        "| endpoint | clients | servers | req/s | p50 ms | p99 ms | vs one server | servers' CPU | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let points = t["points"].as_array().map_or(&[][..], Vec::as_slice);
    for p in points {
        let m = &p["median"];
        let one = points
            .iter()
            .find(|o| o["endpoint"] == p["endpoint"] && o["clients"] == p["clients"] && o["servers"] == 1)
            .map_or(f64::NAN, |o| f(&o["median"]["rps"]));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0} |",
            p["endpoint"].as_str().unwrap_or(""),
            p["clients"],
            p["servers"],
            f(&m["rps"]),
            f(&m["p50_ms"]),
            f(&m["p99_ms"]),
            pct(f(&m["rps"]) / one),
            pct(f(&m["server_cpu"])),
            f(&m["errors"]),
        );
    }
}

/// The key rotation of each backend's suite.
fn key_rotation(out: &mut String, results: &[&Value]) {
    let Some(first) = results.first() else { return };
    let firm = if first["key_rotation"]["alone"].as_bool().unwrap_or(false) {
        "as seeded"
    } else {
        "with all that the parts above wrote into it"
    };
    let _ = writeln!(
        out,
        "What `ringfence keys rotate` does, through the store library, once, with no server running: \
         rotation is `Storage::rotate_firm_key` (the new key version, the job that would finish the \
         rotation, a new audit signing key), re-seal is `Storage::rewrap_firm` (every value sealed \
         under the firm key, each matter's key among them, opened and sealed again under the new version, a \
         batch of rows per transaction; matter content, under the matter keys, is not touched). On the bench firm of \
         {} matters and {} notes, {firm}. The command's wait for servers to see the new key is not \
         counted. Values/s: values re-sealed over the re-seal's seconds.\n",
        first["sizes"]["matters"], first["sizes"]["notes"],
    );
    let _ = writeln!(
        out,
        "| backend | values re-sealed | left under the old key | rotation seconds | re-seal seconds | values/s |\n|---|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let k = &r["key_rotation"];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | {:.2} | {:.0} |",
            title(&r["backend"]),
            k["moved"],
            k["remaining"],
            f(&k["rotate_seconds"]),
            f(&k["rewrap_seconds"]),
            f(&k["moved"]) / f(&k["rewrap_seconds"]),
        );
    }
}

/// Bytes as MiB, one decimal.
fn in_mib(bytes: &Value) -> String {
    format!("{:.1}", f(bytes) / MIB)
}

/// The backups of each backend's suite.
fn backups(out: &mut String, results: &[&Value]) {
    let Some(first) = results.first() else { return };
    let firm = if first["backups"]["alone"].as_bool().unwrap_or(false) {
        "as seeded, its audit log filled"
    } else {
        "with all that the parts above wrote into it"
    };
    let _ = writeln!(
        out,
        "What `ringfence backup create`, `verify` and `restore` do, through the store library, with no \
         server running, to a local directory beside the data dir (the target, on the same disk). On the \
         bench firm of {} matters, {} notes, {} audit entries and {} documents of {:.0} MiB seeded, {firm}. \
         Backup: `Storage::back_up_firm` (every row read in one snapshot and sealed under the firm's \
         backup key, each document's blob copied as the ciphertext it is, the manifest). Verify: \
         `Storage::verify_backup` (the backup restored into a scratch store, every table's rows counted, \
         every document opened, authenticated and hashed from the target, the audit chain walked). \
         Restore: `Storage::restore_firm` in place, after the firm's documents were deleted from the blob \
         store (so every document is copied back); it verifies the backup in a scratch store first, then \
         replaces the firm's store. MiB/s: the bytes the backup covers (sealed store and documents) over \
         the seconds.\n",
        first["sizes"]["matters"],
        first["sizes"]["notes"],
        first["backups"]["verify"]["audit_entries"],
        first["sizes"]["seeded_documents"],
        f(&first["sizes"]["seeded_document_bytes"]) / MIB,
    );
    let _ = writeln!(
        out,
        "| backend | backup covers MiB | backup s | MiB/s | verify s | MiB/s | restore s | MiB/s | rows restored |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let b = &r["backups"];
        let covered = f(&b["first"]["covered_bytes"]);
        let rate = |seconds: &Value| format!("{:.1}", covered / MIB / f(seconds));
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {} | {:.1} | {} | {:.1} | {} | {} |",
            title(&r["backend"]),
            in_mib(&b["first"]["covered_bytes"]),
            f(&b["first"]["seconds"]),
            rate(&b["first"]["seconds"]),
            f(&b["verify"]["seconds"]),
            rate(&b["verify"]["seconds"]),
            f(&b["restore"]["seconds"]),
            rate(&b["restore"]["seconds"]),
            b["restore"]["rows"],
        );
    }
    let _ = writeln!(
        out,
        "\nThe target against the live data: the firm's database (SQLite: `firm.db` and its WAL; \
         PostgreSQL: its schema's tables with their indexes and TOAST) and its documents' blobs as stored \
         (sealed). The second backup, taken right after the first, copies no document again: what it \
         adds is its sealed rows and manifest.\n"
    );
    let _ = writeln!(
        out,
        "| backend | live database MiB | live documents MiB | target after one backup MiB | target / live | second backup adds MiB | second backup s | target after two MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let b = &r["backups"];
        let live = f(&b["live"]["database_bytes"]) + f(&b["live"]["document_bytes"]);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            title(&r["backend"]),
            in_mib(&b["live"]["database_bytes"]),
            in_mib(&b["live"]["document_bytes"]),
            in_mib(&b["first"]["target_bytes"]),
            pct(f(&b["first"]["target_bytes"]) / live),
            in_mib(&b["second"]["added_bytes"]),
            f(&b["second"]["seconds"]),
            in_mib(&b["second"]["target_bytes"]),
        );
    }
    let _ = writeln!(out, "\nThe restore's seconds, stage by stage:\n");
    let stages: Vec<&str> = first["backups"]["restore"]["stages"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["stage"].as_str()).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "| backend | {} |\n|---|{}", stages.join(" | "), "---:|".repeat(stages.len()));
    for r in results {
        let seconds: Vec<String> = stages
            .iter()
            .map(|stage| {
                r["backups"]["restore"]["stages"]
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["stage"] == *stage))
                    .map_or_else(|| "".to_owned(), |s| format!("{:.1}", f(&s["seconds"])))
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", title(&r["backend"]), seconds.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(part: Part, figure: &str) -> String {
        let (begin, end) = markers(part);
        format!("{begin}\n## {}\n\n{figure}\n{end}\n", section_of(part).heading)
    }

    #[test]
    fn a_section_is_added_after_the_rest_of_the_file() {
        let merged =
            merge("# Results\n\n## Seeding\n\n| a |\n", Part::TwoServers, &marked(Part::TwoServers, "old"));
        assert_eq!(
            merged,
            format!("# Results\n\n## Seeding\n\n| a |\n\n{}", marked(Part::TwoServers, "old"))
        );
    }

    #[test]
    fn a_section_replaces_its_old_version_and_keeps_the_rest() {
        let before = format!("# Results\n\n{}\n## Later\n", marked(Part::TwoServers, "old"));
        let merged = merge(&before, Part::TwoServers, &marked(Part::TwoServers, "new"));
        assert_eq!(merged, format!("# Results\n\n{}\n## Later\n", marked(Part::TwoServers, "new")));
        assert_eq!(merge(&merged, Part::TwoServers, &marked(Part::TwoServers, "new")), merged);
    }

    #[test]
    fn each_part_replaces_only_its_own_section() {
        let two = marked(Part::TwoServers, "two");
        let before = format!("# Results\n\n{two}\n{}", marked(Part::KeyRotation, "old"));
        let merged = merge(&before, Part::KeyRotation, &marked(Part::KeyRotation, "new"));
        assert_eq!(merged, format!("# Results\n\n{two}\n{}", marked(Part::KeyRotation, "new")));
        let added =
            merge(&format!("# Results\n\n{two}"), Part::KeyRotation, &marked(Part::KeyRotation, "new"));
        assert_eq!(added, merged);
    }

    #[test]
    fn the_section_compares_two_servers_with_one() {
        let point = |servers: u64, rps: f64| {
            serde_json::json!({
                "endpoint": MATTER_READ, "clients": 16, "servers": servers,
                "median": { "rps": rps, "p50_ms": 1.0, "p99_ms": 2.0, "server_cpu": 1.5, "errors": 0.0 },
            })
        };
        let results = serde_json::json!({
            "sizes": { "matters": 20000 }, "point_seconds": 3.0, "runs": 3,
            "two_servers": {
                "points": [point(1, 1000.0), point(2, 1100.0)], "cores": 2, "audit_verify": "intact",
            },
        });
        let rendered = section(Part::TwoServers, &[results], Some("From its own run."));
        let (begin, end) = markers(Part::TwoServers);
        assert!(rendered.starts_with(&begin) && rendered.ends_with(&format!("{end}\n")));
        assert!(rendered.contains("From its own run."));
        assert!(rendered.contains("| 16 | 2 | 1100 | 1.00 | 2.00 | 110% | 150% | 0 |"), "{rendered}");
    }

    #[test]
    fn the_backups_section_compares_the_target_with_the_live_data() {
        let backed_up = |backend: &str, backup_seconds: f64| {
            serde_json::json!({
                "backend": backend,
                "sizes": {
                    "matters": 20000, "notes": 100000,
                    "seeded_documents": 256, "seeded_document_bytes": 1u64 << 30,
                },
                "backups": {
                    "alone": true,
                    "live": { "database_bytes": 512u64 << 20, "document_bytes": 1536u64 << 20, "documents": 256 },
                    "first": {
                        "seconds": backup_seconds, "covered_bytes": 1024u64 << 20,
                        "added_bytes": 1024u64 << 20, "target_bytes": 1024u64 << 20,
                    },
                    "verify": { "seconds": 20.0, "audit_entries": 1000000 },
                    "second": {
                        "seconds": 2.0, "covered_bytes": 1024u64 << 20,
                        "added_bytes": 3u64 << 20, "target_bytes": 1027u64 << 20,
                    },
                    "restore": {
                        "seconds": 32.0, "rows": 1200000, "documents_copied": 256,
                        "stages": [
                            { "stage": "verifying the backup", "seconds": 20.0 },
                            { "stage": "copying documents", "seconds": 12.0 },
                        ],
                    },
                },
            })
        };
        let results = [backed_up("sqlite", 10.0), backed_up("postgres", 16.0)];
        let rendered = section(Part::Backups, &results, None);
        let (begin, end) = markers(Part::Backups);
        assert!(rendered.starts_with(&format!("{begin}\n## Backups\n")), "{rendered}");
        assert!(rendered.ends_with(&format!("{end}\n")));
        assert!(rendered.contains("1000000 audit entries and 256 documents of 1024 MiB"), "{rendered}");
        assert!(
            rendered.contains("| SQLite | 1024.0 | 10.0 | 102.4 | 20.0 | 51.2 | 32.0 | 32.0 | 1200000 |"),
            "{rendered}"
        );
        assert!(rendered.contains("| PostgreSQL | 1024.0 | 16.0 | 64.0 |"), "{rendered}");
        assert!(
            rendered.contains("| SQLite | 512.0 | 1536.0 | 1024.0 | 50% | 3.0 | 2.0 | 1027.0 |"),
            "{rendered}"
        );
        assert!(rendered.contains("| backend | verifying the backup | copying documents |"), "{rendered}");
        assert!(rendered.contains("| PostgreSQL | 20.0 | 12.0 |"), "{rendered}");
    }

    #[test]
    fn the_key_rotation_section_has_a_row_per_backend() {
        let rotated = |backend: &str, moved: u64, rewrap_seconds: f64| {
            serde_json::json!({
                "backend": backend, "sizes": { "matters": 20000, "notes": 100000 },
                "key_rotation": {
                    "alone": true, "moved": moved, "remaining": 0,
                    "rotate_seconds": 0.25, "rewrap_seconds": rewrap_seconds,
                },
            })
        };
        // The two-server figures of another run do not make a key rotation section.
        let other = serde_json::json!({ "backend": "postgres", "two_servers": { "points": [] } });
        let results = [rotated("sqlite", 150000, 30.0), rotated("postgres", 150000, 60.0), other];
        let rendered = section(Part::KeyRotation, &results, None);
        let (begin, end) = markers(Part::KeyRotation);
        assert!(rendered.starts_with(&format!("{begin}\n## Key rotation\n")), "{rendered}");
        assert!(rendered.ends_with(&format!("{end}\n")));
        assert!(rendered.contains("20000 matters and 100000 notes, as seeded"), "{rendered}");
        assert!(rendered.contains("| SQLite | 150000 | 0 | 0.250 | 30.00 | 5000 |"), "{rendered}");
        assert!(rendered.contains("| PostgreSQL | 150000 | 0 | 0.250 | 60.00 | 2500 |"), "{rendered}");
    }
}
