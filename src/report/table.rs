//! Text output for people: comfy-table tables, sizes in binary units, shares of the heap.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};

use crate::report::model::*;

pub use crate::units::{bytes, count};

fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().map(Cell::new));
    t
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

/// A dominator chain in one line: `Chain$Link ×99,999 ← class Chain`.
pub fn dominators_line(runs: &[DominatorRun], root: &Option<String>) -> String {
    let mut parts: Vec<String> = runs
        .iter()
        .take(4)
        .map(|r| {
            if r.count > 1 {
                format!("{} ×{}", r.class, count(r.count))
            } else {
                r.class.clone()
            }
        })
        .collect();
    if runs.len() > 4 {
        parts.push(format!("… {} more", runs.len() - 4));
    }
    if let Some(root) = root {
        parts.push(format!("[{root}]"));
    }
    parts.join(" ← ")
}

/// Writes the top-retainers table.
pub fn write_top(out: &mut dyn Write, top: &[TopObject], reachable: u64) -> io::Result<()> {
    let mut t = table(&[
        "#",
        "Class",
        "Object",
        "Shallow",
        "Retained",
        "Heap",
        "Kept alive by",
    ]);
    for (i, o) in top.iter().enumerate() {
        t.add_row(vec![
            right((i + 1).to_string()),
            Cell::new(&o.class),
            Cell::new(o.id.to_string()),
            right(bytes(o.shallow)),
            right(bytes(o.retained)),
            right(share(o.retained, reachable)),
            Cell::new(dominators_line(&o.dominators, &o.gc_root)),
        ]);
    }
    writeln!(out, "{t}")
}

/// Writes histogram rows.
pub fn write_histogram(
    out: &mut dyn Write,
    rows: &[HistogramRow],
    reachable: u64,
) -> io::Result<()> {
    let mut t = table(&["Class", "Instances", "Shallow", "Retained", "Heap"]);
    for r in rows {
        t.add_row(vec![
            Cell::new(&r.class),
            right(count(r.instances)),
            right(bytes(r.shallow)),
            right(bytes(r.retained)),
            right(share(r.retained, reachable)),
        ]);
    }
    writeln!(out, "{t}")
}

/// Writes the summary as a two-column table.
pub fn write_summary(out: &mut dyn Write, d: &DumpInfo, s: &Summary) -> io::Result<()> {
    let mut t = table(&["Dump", &d.path]);
    let rows = [
        (
            "Format",
            format!(
                "{}, {}-byte ids{}",
                d.format,
                d.id_size,
                if d.gzip { ", gzip" } else { "" }
            ),
        ),
        (
            "Size",
            format!(
                "{} ({} heap-dump records)",
                bytes(d.bytes),
                count(d.heap_segments)
            ),
        ),
        ("Objects", count(s.objects)),
        ("Classes", count(s.classes)),
        ("GC roots", count(s.gc_roots)),
        (
            "Heap",
            format!(
                "{} (shallow sizes, {})",
                bytes(s.heap_bytes),
                d.object_model
            ),
        ),
        ("Reachable", bytes(s.reachable_bytes)),
        (
            "Unreachable",
            format!(
                "{} objects, {}",
                count(s.unreachable_objects),
                bytes(s.unreachable_bytes)
            ),
        ),
    ];
    for (k, v) in rows {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    if d.dumps.len() > 1 {
        // A file appended to by several dumps: say which one these numbers are about.
        let list: Vec<String> = d
            .dumps
            .iter()
            .map(|e| {
                format!(
                    "{}{} at byte {}: {}, {} heap-dump records",
                    if e.index == d.selected_dump {
                        "* "
                    } else {
                        "  "
                    },
                    e.index,
                    count(e.offset),
                    bytes(e.bytes),
                    count(e.segments)
                )
            })
            .collect();
        t.add_row(vec![
            Cell::new(format!("Heap dumps ({})", d.dumps.len())),
            Cell::new(format!(
                "{}\nanalysed: {} (--dump N picks another)",
                list.join("\n"),
                d.selected_dump
            )),
        ]);
    }
    writeln!(out, "{t}")
}

/// A metric value as text: integers with thousands separators, ratios as percent.
fn metric_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => count(u),
            (None, Some(i), _) => format!("-{}", count(i.unsigned_abs())),
            (_, _, Some(f)) => format!("{:.1}%", f * 100.0),
            _ => n.to_string(),
        },
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Writes findings: severity, rule and title, then metrics, objects, GC-root path and
/// advice of each.
pub fn write_findings(out: &mut dyn Write, findings: &[FindingReport]) -> io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings: no rule fired.");
    }
    writeln!(out, "Findings ({})", findings.len())?;
    for (i, f) in findings.iter().enumerate() {
        writeln!(
            out,
            "\n{}. [{}] {}\n   {}",
            i + 1,
            f.severity.to_uppercase(),
            f.rule,
            f.title
        )?;
        if !f.metrics.is_empty() {
            let mut t = table(&["Metric", "Value"]);
            for (k, v) in &f.metrics {
                t.add_row(vec![Cell::new(k), Cell::new(metric_text(v))]);
            }
            writeln!(out, "{t}")?;
        }
        if !f.objects.is_empty() {
            let shown: Vec<String> = f
                .objects
                .iter()
                .take(5)
                .map(|o| format!("{} ({})", o.id, o.class))
                .collect();
            let more = if f.objects.len() > 5 {
                format!(", and {} more", f.objects.len() - 5)
            } else {
                String::new()
            };
            writeln!(
                out,
                "   Objects: {}{more}; retained {} ({:.1}% of the heap)",
                shown.join(", "),
                bytes(f.retained),
                f.heap_share * 100.0
            )?;
        }
        if !f.path.is_empty() {
            writeln!(out, "   Path from a GC root:")?;
            for (i, h) in f.path.iter().enumerate() {
                if i == 0 {
                    writeln!(out, "     {} {} [{}]", h.class, h.id, h.via)?;
                } else {
                    writeln!(
                        out,
                        "     {}└ {} → {} {} ({})",
                        " ".repeat((i - 1).min(12)),
                        h.via,
                        h.class,
                        h.id,
                        bytes(h.retained)
                    )?;
                }
            }
        }
        writeln!(out, "   Advice: {}", f.advice)?;
    }
    Ok(())
}

/// Writes `check`'s report: the findings and the verdict.
pub fn write_check(out: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    write_findings(out, &r.findings)?;
    let failing = r
        .findings
        .iter()
        .filter(|f| severity_rank(&f.severity) >= severity_rank(&r.fail_on))
        .count();
    if r.failed {
        writeln!(
            out,
            "\ncheck FAILED: {failing} finding(s) at or above {}",
            r.fail_on
        )
    } else {
        writeln!(out, "\ncheck passed: nothing at or above {}", r.fail_on)
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// Writes the rule list.
pub fn write_rules(out: &mut dyn Write, r: &RulesReport) -> io::Result<()> {
    let mut t = table(&["Rule", "Pack", "Default thresholds", "Description"]);
    for rule in &r.rules {
        let th: Vec<String> = rule
            .thresholds
            .iter()
            .map(|t| format!("{} = {}", t.name, t.default))
            .collect();
        t.add_row(vec![
            Cell::new(&rule.id),
            Cell::new(&rule.pack),
            Cell::new(th.join("\n")),
            Cell::new(&rule.description),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "Budgets (rule id `budget`) come from the --config file; see `heapsleuth check --help`."
    )
}

/// Writes `analyze`'s report.
pub fn write_analyze(out: &mut dyn Write, r: &AnalyzeReport) -> io::Result<()> {
    for w in &r.warnings {
        writeln!(out, "warning: {w}")?;
    }
    write_findings(out, &r.findings)?;
    writeln!(out)?;
    write_summary(out, &r.dump, &r.summary)?;
    writeln!(
        out,
        "\nBiggest objects by retained size (the top of the dominator tree)"
    )?;
    write_top(out, &r.top, r.summary.reachable_bytes)?;
    writeln!(out, "\nClasses by retained size")?;
    write_histogram(out, &r.histogram, r.summary.reachable_bytes)
}

/// Writes a GC-root path, one hop per line.
pub fn write_path(out: &mut dyn Write, r: &PathReport) -> io::Result<()> {
    if r.path.is_empty() {
        return writeln!(
            out,
            "{} is not reachable from any GC root{}",
            r.target,
            if r.include_weak {
                ""
            } else {
                " through strong references (try --include-weak)"
            }
        );
    }
    let mut t = table(&["Via", "Object", "Class", "Shallow", "Retained"]);
    for (i, h) in r.path.iter().enumerate() {
        let via = if i == 0 {
            h.via.clone()
        } else {
            format!("{}└ {}", " ".repeat((i - 1).min(20)), h.via)
        };
        t.add_row(vec![
            Cell::new(via),
            Cell::new(h.id.to_string()),
            Cell::new(&h.class),
            right(bytes(h.shallow)),
            right(bytes(h.retained)),
        ]);
    }
    writeln!(out, "{t}")
}

/// Writes `inspect`'s report.
pub fn write_inspect(out: &mut dyn Write, r: &InspectReport) -> io::Result<()> {
    let mut t = table(&["Object", &r.id.to_string()]);
    t.add_row(vec![Cell::new("Class"), Cell::new(&r.class)]);
    t.add_row(vec![Cell::new("Kind"), Cell::new(&r.kind)]);
    t.add_row(vec![
        Cell::new("Shallow"),
        Cell::new(format!("{} ({} bytes)", bytes(r.shallow), count(r.shallow))),
    ]);
    t.add_row(vec![
        Cell::new("Retained"),
        Cell::new(format!(
            "{} ({} bytes)",
            bytes(r.retained),
            count(r.retained)
        )),
    ]);
    if let Some(d) = &r.dominator {
        t.add_row(vec![
            Cell::new("Dominator"),
            Cell::new(format!("{} ({})", d.id, d.class)),
        ]);
    }
    if let Some(g) = &r.gc_root {
        t.add_row(vec![Cell::new("GC root"), Cell::new(g)]);
    }
    if let Some(l) = r.length {
        t.add_row(vec![Cell::new("Length"), Cell::new(count(l))]);
    }
    if let Some(s) = &r.string {
        t.add_row(vec![Cell::new("String"), Cell::new(format!("{s:?}"))]);
    }
    writeln!(out, "{t}")?;
    if !r.fields.is_empty() {
        let mut f = table(&["Field", "Type", "Value"]);
        for fv in &r.fields {
            f.add_row(vec![
                Cell::new(&fv.name),
                Cell::new(&fv.ty),
                Cell::new(&fv.value),
            ]);
        }
        writeln!(out, "{f}")?;
    }
    writeln!(out, "Referrers: {}", count(r.referrer_count))?;
    if !r.referrers.is_empty() {
        let mut f = table(&["Object", "Class", "Via"]);
        for x in &r.referrers {
            f.add_row(vec![
                Cell::new(x.id.to_string()),
                Cell::new(&x.class),
                Cell::new(&x.via),
            ]);
        }
        writeln!(out, "{f}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(share(1, 3), "33.3%");
    }
}
