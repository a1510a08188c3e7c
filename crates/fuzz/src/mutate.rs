//! Mutations of valid inputs, for the proptest half of the fuzzing (libFuzzer has its own):
//! byte-level edits, and JSON-aware ones that replace one node of a document with a value
//! chosen to break assumptions (wrong types, extreme numbers, long or odd strings, deep
//! nesting, many keys).

use serde_json::{Map, Value};

/// One byte-level edit: `kind` chooses the edit, `at` and `arg` where and with what.
#[derive(Clone, Copy, Debug)]
pub struct ByteEdit {
    pub kind: u8,
    pub at: u32,
    pub arg: u32,
}

/// Applies byte-level edits to `seed`; `donor` is spliced from.
pub fn bytes(seed: &[u8], edits: &[ByteEdit], donor: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for edit in edits {
        let len = out.len();
        let at = if len == 0 { 0 } else { edit.at as usize % (len + 1) };
        match edit.kind % 8 {
            // Flip bits of one byte.
            0 if at < len => out[at] ^= (edit.arg as u8).max(1),
            // Set one byte to an interesting value.
            1 if at < len => out[at] = [0, 0x7f, 0x80, 0xff, b'"', b'\\', b'{', b'['][edit.arg as usize % 8],
            // Insert bytes.
            2 => {
                let count = (edit.arg % 64) as usize;
                let filler = (edit.arg >> 8) as u8;
                out.splice(at..at, std::iter::repeat_n(filler, count));
            }
            // Delete a range.
            3 => {
                let end = (at + (edit.arg % 256) as usize).min(len);
                out.drain(at..end);
            }
            // Truncate.
            4 => out.truncate(at),
            // Splice a piece of the donor.
            5 if !donor.is_empty() => {
                let from = edit.arg as usize % donor.len();
                let to = (from + (edit.arg >> 16) as usize % 128).min(donor.len());
                out.splice(at..at, donor[from..to].iter().copied());
            }
            // Duplicate a range in place.
            6 if at < len => {
                let end = (at + (edit.arg % 128) as usize).min(len);
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            // Overwrite with a little-endian number (lengths, counters).
            7 => {
                for (offset, byte) in edit.arg.to_le_bytes().into_iter().enumerate() {
                    if let Some(slot) = out.get_mut(at + offset) {
                        *slot = byte;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Replaces nodes of the JSON document that follows the mode byte of `seed`, one per choice:
/// `choice` picks the node (in document order) and the value put in its place. Returns the
/// seed unchanged when it is not JSON.
pub fn json(seed: &[u8], choices: &[u32]) -> Vec<u8> {
    let Some((mode, body)) = seed.split_first() else { return seed.to_vec() };
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else { return seed.to_vec() };
    for &choice in choices {
        let count = count_nodes(&value);
        let mut index = (choice as usize) % count;
        let replacement = nasty(choice >> 16, &value);
        replace_node(&mut value, &mut index, &replacement);
    }
    let mut out = vec![*mode];
    out.extend(serde_json::to_vec(&value).expect("a JSON value serializes"));
    out
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Replaces the `index`-th node (pre-order); returns true once done.
fn replace_node(value: &mut Value, index: &mut usize, replacement: &Value) -> bool {
    if *index == 0 {
        *value = replacement.clone();
        return true;
    }
    *index -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|item| replace_node(item, index, replacement)),
        Value::Object(map) => map.values_mut().any(|item| replace_node(item, index, replacement)),
        _ => false,
    }
}

/// A value that breaks assumptions; `whole` is the document, for self-similar values.
fn nasty(pick: u32, whole: &Value) -> Value {
    match pick % 21 {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::from(-1),
        3 => Value::from(0),
        4 => Value::from(u64::MAX),
        5 => Value::from(i64::MIN),
        6 => Value::from(1e308),
        7 => Value::from(0.5),
        8 => Value::from(""),
        9 => Value::from("x".repeat(100_000)),
        10 => Value::from("\u{0}\u{202e}\u{fffd}é\u{1F600}"),
        11 => Value::from("9999-99-99"),
        12 => Value::from("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        13 => Value::from("00000000-0000-0000-0000-000000000000"),
        14 => Value::from(vec![Value::Null; 10_000]),
        15 => (0..100).fold(Value::Null, |inner, _| Value::Array(vec![inner])),
        16 => Value::Object((0..1_000).map(|i| (format!("k{i}"), Value::from(i))).collect::<Map<_, _>>()),
        17 => Value::Array(vec![whole.clone(), whole.clone()]),
        18 => Value::from("declined"),
        19 => Value::from(u32::MAX),
        _ => Value::Object(Map::new()),
    }
}
