//! Process groups: which ranks a collective's `pg_name` names. As in
//! ASTRA-sim (`Workload::extract_comm_group`), `pg_name` "" or "0" is every
//! rank; other names come from the PyTorch converter's `process_group:init`
//! metadata nodes (`Workload::issue_pytorch_pg_metadata`: the node's
//! `inputs.values` holds `[{"pg_name": .., "ranks": [..]}, ..]`, an empty
//! `ranks` meaning every rank) or from a communicator-group file in
//! ASTRA-sim's format (`{"<pg_name>": [ranks], ..}`, its
//! `--comm-group-configuration`).

use super::proto::Node;
use crate::error::{InputError, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Process-group name -> ranks (ascending).
pub(super) type Groups = BTreeMap<String, Vec<u32>>;

/// The default group: every rank.
pub(super) fn is_default(pg: &str) -> bool {
    pg.is_empty() || pg == "0"
}

/// Ranks as `0-7` or `0,2,4`.
pub(super) fn ranks_text(d: &[u32]) -> String {
    match d {
        [] => "none".into(),
        [only] => only.to_string(),
        [first, .., last] if (*last - *first) as usize + 1 == d.len() => {
            format!("{first}-{last}")
        }
        _ => d.iter().map(u32::to_string).collect::<Vec<_>>().join(","),
    }
}

/// Sorted, distinct, in range; empty means every rank.
fn normalise(mut r: Vec<u32>, ranks: u32, what: &str) -> std::result::Result<Vec<u32>, String> {
    if r.is_empty() {
        return Ok((0..ranks).collect());
    }
    r.sort_unstable();
    let before = r.len();
    r.dedup();
    if r.len() != before {
        return Err(format!("{what} lists a rank twice"));
    }
    if let Some(&bad) = r.iter().find(|&&x| x >= ranks) {
        return Err(format!(
            "{what} names rank {bad}, but the set has {ranks} ranks"
        ));
    }
    Ok(r)
}

/// The process groups a metadata node defines (none when its values are
/// empty).
pub(super) fn from_metadata(
    node: &Node,
    ranks: u32,
) -> std::result::Result<Vec<(String, Vec<u32>)>, String> {
    let values = node.inputs.as_ref().map_or("", |i| i.values.trim());
    // Python's str() of the converter's list of one JSON string: `['<json>']`.
    let inner = values
        .strip_prefix("['")
        .and_then(|v| v.strip_suffix("']"))
        .or_else(|| {
            values
                .strip_prefix("[\"")
                .and_then(|v| v.strip_suffix("\"]"))
        })
        .unwrap_or(values);
    if inner.is_empty() || inner == "[]" {
        return Ok(Vec::new());
    }
    let bad = || {
        format!(
            "METADATA_NODE whose inputs.values is not process-group information \
             (`[{{\"pg_name\": .., \"ranks\": [..]}}]`): {}",
            values.chars().take(120).collect::<String>()
        )
    };
    let v: serde_json::Value = serde_json::from_str(inner).map_err(|_| bad())?;
    let mut out = Vec::new();
    for item in v.as_array().ok_or_else(bad)? {
        let name = item
            .get("pg_name")
            .and_then(|n| n.as_str())
            .ok_or_else(bad)?
            .to_string();
        let r: Vec<u32> = item
            .get("ranks")
            .and_then(|r| r.as_array())
            .ok_or_else(bad)?
            .iter()
            .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let r = normalise(r, ranks, &format!("process group `{name}`"))?;
        out.push((name, r));
    }
    Ok(out)
}

/// Reads an ASTRA-sim communicator-group file.
pub(super) fn from_file(path: &Path, ranks: u32) -> Result<Groups> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        InputError::file(
            path,
            format!("not JSON ({e}); expected {{\"<pg_name>\": [ranks], ..}}"),
        )
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| InputError::file(path, "expected an object {\"<pg_name>\": [ranks], ..}"))?;
    let mut out = Groups::new();
    for (name, r) in obj {
        let list: Option<Vec<u32>> = r.as_array().and_then(|a| {
            a.iter()
                .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
                .collect()
        });
        let list = list.ok_or_else(|| {
            InputError::file(path, format!("group `{name}`: expected an array of ranks"))
        })?;
        if list.is_empty() {
            return Err(InputError::file(path, format!("group `{name}` has no ranks")).into());
        }
        let list = normalise(list, ranks, &format!("group `{name}`"))
            .map_err(|m| InputError::file(path, m))?;
        out.insert(name.clone(), list);
    }
    Ok(out)
}
