//! The Markdown tables of `bench/RESULTS.md`, made from the suite's JSON, and the verdict
//! on each target, computed from the same figures.

use std::fmt::Write;

use serde_json::Value;

use crate::load::median;

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
    for r in results.iter().filter(|r| r["two_servers"].is_object()) {
        out.push('\n');
        out.push_str(&two_servers(r, None));
    }
    out
}

/// Where the two-server section begins and ends, so a run of that part alone can put its
/// figures in place of the old ones and keep the rest of the file.
const TWO_SERVERS_BEGIN: &str = "<!-- two-servers: begin -->";
const TWO_SERVERS_END: &str = "<!-- two-servers: end -->";

/// The two-server section of one PostgreSQL suite, between its markers. `provenance` says
/// which run it comes from when that is not the run the rest of the file comes from.
pub fn two_servers(results: &Value, provenance: Option<&str>) -> String {
    let t = &results["two_servers"];
    let mut out = String::new();
    let _ = writeln!(out, "{TWO_SERVERS_BEGIN}\n## Two servers on one PostgreSQL database\n");
    if let Some(provenance) = provenance {
        let _ = writeln!(out, "{provenance}\n");
    }
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
    let _ = writeln!(out, "{TWO_SERVERS_END}");
    out
}

/// `document` with its two-server section replaced by `section`, or with `section` added at
/// the end when it has none.
pub fn merge_two_servers(document: &str, section: &str) -> String {
    let begin = document.find(TWO_SERVERS_BEGIN);
    let end = document.find(TWO_SERVERS_END).map(|at| at + TWO_SERVERS_END.len());
    match (begin, end) {
        (Some(begin), Some(end)) if begin < end => {
            let after = document[end..].strip_prefix('\n').unwrap_or(&document[end..]);
            format!("{}{section}{after}", &document[..begin])
        }
        _ if document.is_empty() => section.to_owned(),
        _ => format!("{}\n\n{section}", document.trim_end_matches('\n')),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(figure: &str) -> String {
        format!("{TWO_SERVERS_BEGIN}\n## Two servers\n\n{figure}\n{TWO_SERVERS_END}\n")
    }

    #[test]
    fn a_two_server_section_is_added_after_the_rest_of_the_file() {
        let merged = merge_two_servers("# Results\n\n## Seeding\n\n| a |\n", &section("old"));
        assert_eq!(merged, format!("# Results\n\n## Seeding\n\n| a |\n\n{}", section("old")));
    }

    #[test]
    fn a_two_server_section_replaces_its_old_version_and_keeps_the_rest() {
        let before = format!("# Results\n\n{}\n## Later\n", section("old"));
        let merged = merge_two_servers(&before, &section("new"));
        assert_eq!(merged, format!("# Results\n\n{}\n## Later\n", section("new")));
        assert_eq!(merge_two_servers(&merged, &section("new")), merged);
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
        let rendered = two_servers(&results, Some("From its own run."));
        assert!(
            rendered.starts_with(TWO_SERVERS_BEGIN) && rendered.ends_with(&format!("{TWO_SERVERS_END}\n"))
        );
        assert!(rendered.contains("From its own run."));
        assert!(rendered.contains("| 16 | 2 | 1100 | 1.00 | 2.00 | 110% | 150% | 0 |"), "{rendered}");
    }
}
