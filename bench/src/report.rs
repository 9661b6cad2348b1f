//! Output: one JSON line per scenario on stdout, and `compare`, which reads those lines
//! back (from one run against several targets) and prints the table of ratios.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::scenario::Outcome;

/// The result line of one scenario against one target.
pub fn line(scenario: &str, target: &str, smoke: bool, elapsed_secs: f64, outcome: anyhow::Result<Outcome>) -> Value {
    match outcome {
        Ok(o) => json!({
            "scenario": scenario,
            "target": target,
            "smoke": smoke,
            "params": o.params,
            "results": o.results,
            "errors": o.errors,
            "firstError": o.first_error,
            "elapsedSecs": crate::stats::round3(elapsed_secs),
        }),
        Err(err) => json!({
            "scenario": scenario,
            "target": target,
            "smoke": smoke,
            "errors": 1,
            "failed": format!("{err:#}"),
            "elapsedSecs": crate::stats::round3(elapsed_secs),
        }),
    }
}

/// The figures the comparison table shows: scenario, path into `results`, label, and
/// whether higher is better.
const FIGURES: &[(&str, &str, &str, bool)] = &[
    ("durable", "oneRoom.acksPerSec", "1 room of 4: acked msgs/s", true),
    ("durable", "oneRoom.ackLatency.p50Ms", "1 room of 4: ack p50 ms", false),
    ("durable", "oneRoom.ackLatency.p99Ms", "1 room of 4: ack p99 ms", false),
    (
        "durable",
        "oneRoom.ackLatency.p999Ms",
        "1 room of 4: ack p99.9 ms",
        false,
    ),
    ("durable", "manyRooms.acksPerSec", "100 rooms of 4: acked msgs/s", true),
    (
        "durable",
        "manyRooms.ackLatency.p50Ms",
        "100 rooms of 4: ack p50 ms",
        false,
    ),
    (
        "durable",
        "manyRooms.ackLatency.p99Ms",
        "100 rooms of 4: ack p99 ms",
        false,
    ),
    (
        "durable",
        "manyRooms.ackLatency.p999Ms",
        "100 rooms of 4: ack p99.9 ms",
        false,
    ),
    ("fanout", "fixedRate.deliveriesPerSec", "fixed rate: deliveries/s", true),
    ("fanout", "fixedRate.latency.p50Ms", "fixed rate: receive p50 ms", false),
    ("fanout", "fixedRate.latency.p99Ms", "fixed rate: receive p99 ms", false),
    (
        "fanout",
        "sweep.maxRateUnderTarget",
        "max msgs/s with p99 under target",
        true,
    ),
    (
        "fanout",
        "sweep.deliveriesPerSecAtMax",
        "deliveries/s at that rate",
        true,
    ),
    ("hold", "connectsPerSec", "connects/s", true),
    ("hold", "joinsPerSec", "joins/s", true),
    (
        "hold",
        "serverKiBPerConnection",
        "server KiB per joined connection",
        false,
    ),
    (
        "reconnect",
        "rejoinedAllSecs",
        "all reconnected and re-joined, s",
        false,
    ),
    ("reconnect", "caughtUpAllSecs", "all caught up, s", false),
    ("reconnect", "catchUp.p99Ms", "catch-up p99 ms", false),
    ("reconnect", "missed", "messages missed", false),
    ("long-history", "fillPerSec", "history fill: acked msgs/s", true),
    (
        "long-history",
        "emptyOrder.acksPerSec",
        "empty order: acked msgs/s",
        true,
    ),
    (
        "long-history",
        "longHistory.acksPerSec",
        "long history: acked msgs/s",
        true,
    ),
    (
        "long-history",
        "longHistory.ackLatency.p99Ms",
        "long history: ack p99 ms",
        false,
    ),
    ("long-history", "historyToEmptyRatio", "long history / empty", true),
];

fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// The highest `otherCores` anywhere in `value`: CPU that neither the loader nor the
/// server used while measuring, i.e. other work competing for the machine.
fn max_other_cores(value: &Value) -> Option<f64> {
    match value {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| {
                if k == "otherCores" {
                    v.as_f64()
                } else {
                    max_other_cores(v)
                }
            })
            .reduce(f64::max),
        Value::Array(items) => items.iter().filter_map(max_other_cores).reduce(f64::max),
        _ => None,
    }
}

fn show(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(0.0);
            if x.abs() >= 100.0 || x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.2}")
            }
        }
        Some(Value::Null) | None => "–".into(),
        Some(other) => other.to_string(),
    }
}

/// Prints a Markdown table of every figure for `base` and `peer`, with base/peer ratios:
/// of every scenario, or of `only` when it names some.
pub fn compare(path: &Path, base: &str, peer: &str, only: &[String]) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    // (scenario, target) → the last line seen.
    let mut lines: BTreeMap<(String, String), Value> = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let value: Value = serde_json::from_str(line).with_context(|| format!("not a result line: {line:.80}"))?;
        let scenario = value["scenario"].as_str().unwrap_or_default().to_owned();
        let target = value["target"].as_str().unwrap_or_default().to_owned();
        lines.insert((scenario, target), value);
    }
    let mut out = String::new();
    out.push_str(&format!(
        "| scenario | figure | {base} | {peer} | {base}/{peer} | better |\n|---|---|---:|---:|---:|---|\n"
    ));
    let mut scenarios: Vec<&str> = FIGURES.iter().map(|f| f.0).collect();
    scenarios.dedup();
    scenarios.retain(|s| only.is_empty() || only.iter().any(|o| o == s));
    for scenario in scenarios {
        let get = |target: &str| lines.get(&(scenario.to_owned(), target.to_owned()));
        let (b, p) = (get(base), get(peer));
        for (_, path, label, higher) in FIGURES.iter().filter(|f| f.0 == scenario) {
            let bv = b.and_then(|l| at(&l["results"], path));
            let pv = p.and_then(|l| at(&l["results"], path));
            let ratio = match (bv.and_then(Value::as_f64), pv.and_then(Value::as_f64)) {
                (Some(x), Some(y)) if y != 0.0 => format!("{:.2}", x / y),
                _ => "–".into(),
            };
            let better = if *higher { "higher" } else { "lower" };
            out.push_str(&format!(
                "| {scenario} | {label} | {} | {} | {ratio} | {better} |\n",
                show(bv),
                show(pv)
            ));
        }
        let errors = |l: Option<&Value>| match l {
            Some(l) => match l.get("failed") {
                Some(failed) => format!("failed: {}", failed.as_str().unwrap_or_default()),
                None => show(l.get("errors")),
            },
            None => "not run".into(),
        };
        out.push_str(&format!(
            "| {scenario} | errors | {} | {} | | |\n",
            errors(b),
            errors(p)
        ));
        let other = |l: Option<&Value>| show(l.and_then(|l| max_other_cores(&l["results"])).map(Value::from).as_ref());
        out.push_str(&format!(
            "| {scenario} | other load on the machine, max cores | {} | {} | | |\n",
            other(b),
            other(p)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_two_targets() {
        let dir = std::env::temp_dir().join(format!("orderchat-bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("results.jsonl");
        std::fs::write(
            &file,
            concat!(
                r#"{"scenario":"hold","target":"a","results":{"connectsPerSec":400,"joinsPerSec":1000,"serverKiBPerConnection":30.5,"connectCpu":{"otherCores":0.25}},"errors":0}"#,
                "\n",
                r#"{"scenario":"hold","target":"b","results":{"connectsPerSec":2000,"joinsPerSec":500,"serverKiBPerConnection":25},"errors":0}"#,
                "\n"
            ),
        )
        .unwrap();
        let table = compare(&file, "a", "b", &[]).unwrap();
        assert!(
            table.contains("| hold | connects/s | 400 | 2000 | 0.20 | higher |"),
            "{table}"
        );
        assert!(
            table.contains("| durable | errors | not run | not run | | |"),
            "{table}"
        );
        assert!(
            table.contains("| hold | other load on the machine, max cores | 0.25 | – | | |"),
            "{table}"
        );
        let hold_only = compare(&file, "a", "b", &["hold".to_owned()]).unwrap();
        assert!(hold_only.contains("| hold | connects/s |"), "{hold_only}");
        assert!(!hold_only.contains("| durable |"), "{hold_only}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
