//! Reading a Chakra ET set: the per-rank files of a prefix, gzip, and the
//! varint-length-prefixed protobuf stream (a `GlobalMetadata`, then
//! `Node`s), bounds-checked so a corrupt length never allocates.

use super::proto::{GlobalMetadata, Node};
use super::{MAX_FILE_BYTES, MAX_NODES};
use crate::error::{InputError, Location, Result};
use crate::trace::schema::MAX_TP;
use prost::Message;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `X.<rank>.et` -> (`X`, rank), for canonical rank numbers only.
fn split_rank_name(name: &str) -> Option<(&str, u32)> {
    let base = name.strip_suffix(".et")?;
    let (stem, rank) = base.rsplit_once('.')?;
    let r: u32 = rank.parse().ok()?;
    (r.to_string() == rank && !stem.is_empty()).then_some((stem, r))
}

pub(super) fn rank_files(prefix: &Path) -> Result<(String, Vec<PathBuf>)> {
    if prefix.is_dir() {
        let entries = std::fs::read_dir(prefix)
            .map_err(|e| InputError::file(prefix, format!("cannot read directory: {e}")))?;
        let mut sets: BTreeMap<String, BTreeMap<u32, PathBuf>> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if let Some((stem, rank)) = name.to_str().and_then(split_rank_name) {
                sets.entry(stem.to_string())
                    .or_default()
                    .insert(rank, entry.path());
            }
        }
        let mut it = sets.into_iter();
        let Some((stem, set)) = it.next() else {
            return Err(InputError::file(
                prefix,
                "directory holds no Chakra files named <name>.<rank>.et",
            )
            .into());
        };
        if let Some((other, _)) = it.next() {
            return Err(InputError::file(
                prefix,
                format!("directory holds more than one Chakra trace (`{stem}`, `{other}`); give a prefix"),
            )
            .into());
        }
        if set.len() > MAX_TP as usize {
            return Err(InputError::file(prefix, format!("more than {MAX_TP} ranks")).into());
        }
        let mut files = Vec::with_capacity(set.len());
        for (expect, (rank, path)) in (0u32..).zip(set) {
            if rank != expect {
                return Err(InputError::file(
                    prefix,
                    format!("rank {expect} is missing (found rank {rank}): expected `{stem}.{expect}.et`"),
                )
                .into());
            }
            files.push(path);
        }
        return Ok((stem, files));
    }
    // A rank file itself (`x/all_reduce.0.et`) stands for its prefix.
    let own = prefix.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (dir, stem) = match split_rank_name(own) {
        Some((stem, _)) if prefix.is_file() => (prefix.parent(), stem.to_string()),
        _ => (prefix.parent(), own.to_string()),
    };
    if stem.is_empty() {
        return Err(InputError::file(prefix, "not a Chakra trace prefix").into());
    }
    let dir = dir.unwrap_or(Path::new(""));
    let mut files = Vec::new();
    for rank in 0..=MAX_TP {
        let path = dir.join(format!("{stem}.{rank}.et"));
        if !path.is_file() {
            break;
        }
        if rank == MAX_TP {
            return Err(InputError::file(prefix, format!("more than {MAX_TP} ranks")).into());
        }
        files.push(path);
    }
    if files.is_empty() {
        return Err(InputError::file(
            prefix,
            format!(
                "no Chakra file `{}` (expected <prefix>.<rank>.et for ranks 0, 1, ...)",
                dir.join(format!("{stem}.0.et")).display()
            ),
        )
        .into());
    }
    Ok((stem, files))
}

pub(super) fn file_error(
    path: &Path,
    field: impl Into<String>,
    msg: impl Into<String>,
) -> crate::Error {
    InputError::new(Location::file(path.display().to_string()), field, msg).into()
}

/// Reads one rank file: the metadata message and the nodes.
pub(super) fn read_et(path: &Path) -> Result<(GlobalMetadata, Vec<Node>)> {
    let size = std::fs::metadata(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            "",
            format!("file of {size} B exceeds the limit of {MAX_FILE_BYTES} B"),
        ));
    }
    let raw = std::fs::read(path)
        .map_err(|e| InputError::file(path, format!("cannot read file: {e}")))?;
    if raw.is_empty() {
        return Err(file_error(
            path,
            "",
            "file is empty (expected a Chakra ET protobuf stream)",
        ));
    }
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip(path, &raw)?
    } else {
        raw
    };
    decode_stream(path, &data)
}

fn gunzip(path: &Path, raw: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            file_error(
                path,
                "",
                format!("gzip-compressed file cannot be decompressed: {e}"),
            )
        })?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            "",
            format!("decompresses to more than {MAX_FILE_BYTES} B"),
        ));
    }
    if out.is_empty() {
        return Err(file_error(path, "", "gzip stream decompresses to nothing"));
    }
    Ok(out)
}

/// A protobuf base-128 varint at `pos`: (value, bytes used).
fn varint(data: &[u8], pos: usize) -> std::result::Result<(u64, usize), String> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let Some(&b) = data.get(pos + i) else {
            return Err("length prefix is cut off by the end of the file (truncated file?)".into());
        };
        if i == 9 && b > 1 {
            return Err("length prefix overflows 64 bits (corrupt varint)".into());
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err("length prefix is longer than 10 bytes (corrupt varint)".into())
}

fn decode_stream(path: &Path, data: &[u8]) -> Result<(GlobalMetadata, Vec<Node>)> {
    // The message at `pos`, bounds-checked before any decoding so a bogus
    // length can never make us allocate or read past the buffer.
    let message = |pos: usize, field: &str| -> Result<(&[u8], usize)> {
        let (len, used) = varint(data, pos)
            .map_err(|m| file_error(path, field, format!("byte offset {pos}: {m}")))?;
        let body = pos + used;
        let left = data.len() - body;
        if len > left as u64 {
            return Err(file_error(
                path,
                field,
                format!(
                    "byte offset {pos}: message length {len} exceeds the {left} bytes left in the file \
                     (truncated file or corrupt length prefix)"
                ),
            ));
        }
        // `len <= left`, so it fits in usize.
        let end = body + len as usize;
        Ok((&data[body..end], end))
    };
    let (body, mut pos) = message(0, "metadata")?;
    let meta = GlobalMetadata::decode(body).map_err(|e| {
        file_error(
            path,
            "metadata",
            format!("byte offset 0: not a Chakra GlobalMetadata message: {e}"),
        )
    })?;
    let mut nodes = Vec::new();
    while pos < data.len() {
        let i = nodes.len();
        let field = format!("nodes[{i}]");
        if i >= MAX_NODES {
            return Err(file_error(
                path,
                field,
                format!("more than {MAX_NODES} nodes"),
            ));
        }
        let start = pos;
        let (body, next) = message(pos, &field)?;
        let node = Node::decode(body).map_err(|e| {
            file_error(
                path,
                &field,
                format!("byte offset {start}: node {i} is not a valid Chakra Node: {e}"),
            )
        })?;
        nodes.push(node);
        pos = next;
    }
    Ok((meta, nodes))
}
