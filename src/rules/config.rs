//! The `check` configuration file (TOML): thresholds per rule, rules switched off, and
//! budgets that need no code.
//!
//! ```toml
//! # Per rule: a table named after the rule id (quoted: ids contain dots). Any threshold
//! # that `heapsleuth rules` lists for the rule can be set; `enabled = false` turns the
//! # rule off.
//! [rules."suspect.class-accumulation"]
//! enabled = false
//!
//! [rules."zookeeper.watch-table-bloat"]
//! min_relations = 500000
//! warning_share = 0.10
//!
//! # Budgets: one `[[budget]]` table each. `class` is a Java class name
//! # (`com.example.Cache`, `byte[]`, `Outer$Inner`); `include_subclasses` (default false)
//! # also counts instances of its subclasses. Give one or more limits:
//! #   max_retained_bytes  - bytes the instances retain together, each byte once
//! #   max_retained_share  - the same as a share of the reachable heap (0.2 = 20%)
//! #   max_instances       - number of instances (reachable or not)
//! # A budget that is exceeded produces a finding with rule id `budget` and the given
//! # `severity` (`info`, `warning` or `critical`; default `warning`). `name` (optional)
//! # labels it in the output. A budget whose class is not in the dump gives an `info`
//! # note: a typo must not pass silently, and an absent class must not fail the check.
//! [[budget]]
//! name = "session cache"
//! class = "com.example.SessionCache"
//! include_subclasses = true
//! max_retained_share = 0.2
//! severity = "critical"
//!
//! [[budget]]
//! class = "org.apache.zookeeper.server.NIOServerCnxn"
//! max_instances = 10000
//! ```
//!
//! Unknown keys, unknown rule ids and unknown threshold names are errors, so that a typo
//! does not silently disable a gate. fixtures/rules/check-config.example.toml is a
//! complete example.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Severity;

/// One rule's section (unknown names are caught against the rule's thresholds).
#[derive(Clone, Debug, Default, Deserialize)]
struct RuleSection {
    /// `false` turns the rule off.
    enabled: Option<bool>,
    /// Threshold overrides.
    #[serde(flatten)]
    thresholds: BTreeMap<String, f64>,
}

/// A budget as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetSection {
    name: Option<String>,
    class: String,
    #[serde(default)]
    include_subclasses: bool,
    max_retained_bytes: Option<u64>,
    max_retained_share: Option<f64>,
    max_instances: Option<u64>,
    severity: Option<String>,
}

/// The file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rules: BTreeMap<String, RuleSection>,
    #[serde(default)]
    budget: Vec<BudgetSection>,
}

/// A budget: a limit on what the instances of one class may hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    /// A label (defaults to the class name).
    pub name: String,
    /// Java class name.
    pub class: String,
    /// Also count subclasses' instances.
    pub include_subclasses: bool,
    /// Limit on bytes retained together.
    pub max_retained_bytes: Option<u64>,
    /// Limit on the share of the reachable heap retained together.
    pub max_retained_share: Option<f64>,
    /// Limit on the number of instances.
    pub max_instances: Option<u64>,
    /// Severity of the finding when a limit is exceeded.
    pub severity: Severity,
}

/// The validated configuration of `check` (and of the findings of `analyze`).
#[derive(Clone, Debug, Default)]
pub struct CheckConfig {
    disabled: Vec<String>,
    overrides: BTreeMap<String, BTreeMap<String, f64>>,
    /// The budgets, in file order.
    pub budgets: Vec<Budget>,
}

impl CheckConfig {
    /// Parses and validates a configuration.
    pub fn parse(text: &str) -> anyhow::Result<CheckConfig> {
        let file: File = toml::from_str(text)?;
        let rules = super::all();
        let mut cfg = CheckConfig::default();
        for (id, section) in file.rules {
            let Some(rule) = rules.iter().find(|r| r.id() == id) else {
                let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
                anyhow::bail!("unknown rule {id:?} (rules: {})", ids.join(", "));
            };
            for name in section.thresholds.keys() {
                if !rule.thresholds().iter().any(|t| t.name == name) {
                    let names: Vec<&str> = rule.thresholds().iter().map(|t| t.name).collect();
                    anyhow::bail!(
                        "rule {id}: unknown threshold {name:?} (thresholds: {})",
                        names.join(", ")
                    );
                }
            }
            if section.enabled == Some(false) {
                cfg.disabled.push(id.clone());
            }
            cfg.overrides.insert(id, section.thresholds);
        }
        for b in file.budget {
            if b.max_retained_bytes.is_none()
                && b.max_retained_share.is_none()
                && b.max_instances.is_none()
            {
                anyhow::bail!(
                    "budget for {}: give max_retained_bytes, max_retained_share or max_instances",
                    b.class
                );
            }
            let severity = match b.severity.as_deref() {
                None => Severity::Warning,
                Some(s) => Severity::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "budget for {}: severity {s:?} is not info, warning or critical",
                        b.class
                    )
                })?,
            };
            cfg.budgets.push(Budget {
                name: b.name.unwrap_or_else(|| b.class.clone()),
                class: b.class,
                include_subclasses: b.include_subclasses,
                max_retained_bytes: b.max_retained_bytes,
                max_retained_share: b.max_retained_share,
                max_instances: b.max_instances,
                severity,
            });
        }
        Ok(cfg)
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<CheckConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        CheckConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// False if the file switched rule `id` off.
    pub fn enabled(&self, id: &str) -> bool {
        !self.disabled.iter().any(|d| d == id)
    }

    /// The file's thresholds for rule `id`.
    pub fn overrides(&self, id: &str) -> Option<&BTreeMap<String, f64>> {
        self.overrides.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_budgets() {
        let c = CheckConfig::parse(
            r#"
            [rules."suspect.class-accumulation"]
            enabled = false
            [rules."zookeeper.watch-table-bloat"]
            min_relations = 5
            [[budget]]
            class = "byte[]"
            max_instances = 3
            severity = "critical"
            "#,
        )
        .unwrap();
        assert!(!c.enabled("suspect.class-accumulation"));
        assert!(c.enabled("zookeeper.watch-table-bloat"));
        assert_eq!(
            c.overrides("zookeeper.watch-table-bloat").unwrap()["min_relations"],
            5.0
        );
        assert_eq!(c.budgets[0].severity, Severity::Critical);
        assert_eq!(c.budgets[0].name, "byte[]");
    }

    #[test]
    fn rejects_typos() {
        assert!(CheckConfig::parse("[rules.\"no.such\"]\nenabled = false").is_err());
        assert!(
            CheckConfig::parse("[rules.\"zookeeper.watch-table-bloat\"]\nmin_relatons = 1")
                .is_err()
        );
        assert!(CheckConfig::parse("[[budget]]\nclass = \"X\"").is_err());
        assert!(CheckConfig::parse(
            "[[budget]]\nclass = \"X\"\nmax_instances = 1\nseverity = \"fatal\""
        )
        .is_err());
        assert!(CheckConfig::parse("bogus = 1").is_err());
    }
}
