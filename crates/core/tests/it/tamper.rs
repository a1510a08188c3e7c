//! Sealing, proved on events a workspace really wrote: altered ciphertext, swapped metadata and
//! the wrong key are all refused.
//!
//! The store keeps case keys private. A test reaches one the way an attacker holding the
//! passphrase would: the master key from the key file unwraps the case key stored in the
//! database. The wrapping context below mirrors `store.rs` (`case_key_context`).

use std::path::Path;

use harbour_core::crypto::{self, CaseKey, Secret, Wrapped};
use harbour_core::event::Change;
use harbour_core::model::FieldValue;
use harbour_core::{CaseId, Error, SealedEvent, keyfile};
use uuid::Uuid;

use crate::support::*;

fn case_key(dir: &Path, case: CaseId) -> CaseKey {
    let master = keyfile::unlock(dir, PASSPHRASE).unwrap().0.master_key;
    let (key_id, wrapped): (String, String) = raw_db(dir)
        .query_row("SELECT key_id, wrapped FROM case_keys WHERE case_id = ?1", [case.to_string()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    let key_id = Uuid::parse_str(&key_id).unwrap();
    let wrapped: Wrapped = serde_json::from_str(&wrapped).unwrap();
    let context = format!("harbour-case-key:{case}:{key_id}");
    let bytes = crypto::unwrap(&master, context.as_bytes(), &wrapped).expect("the case key unwraps");
    CaseKey { id: key_id, secret: Secret::from_slice(&bytes).unwrap() }
}

/// Puts one part of another event's metadata on an event.
type Swap = fn(&mut SealedEvent, &SealedEvent);

fn refused(sealed: &SealedEvent, key: &CaseKey) -> bool {
    matches!(crypto::open(sealed, key), Err(Error::Tampered))
}

#[test]
fn events_written_by_a_workspace_refuse_tampering() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap();
    workspace.add_note(case.id, NOTE).unwrap();
    workspace.update_case(case.id, vec![FieldValue::Location(None)], None).unwrap();
    let other = workspace.create_case(full_fields()).unwrap();
    let events = workspace.case_events(case.id).unwrap();
    let others = workspace.case_events(other.id).unwrap();
    drop(workspace);
    assert_eq!(events.len(), 3);
    let key = case_key(&fixture.dir, case.id);
    let other_key = case_key(&fixture.dir, other.id);

    // As written, every event opens, and folds back to the state the workspace holds.
    let opened: Vec<_> = events.iter().map(|sealed| crypto::open(sealed, &key).unwrap()).collect();
    assert!(matches!(&opened[1].change, Change::NoteAdded { note } if note.text == NOTE), "the note opens as written");
    let folded = harbour_core::CaseState::fold(&opened).unwrap();
    assert_same(&folded, &unlock(&fixture.dir).view_case(case.id).unwrap(), "fold of the stored events");
    assert!(crypto::open(&others[0], &other_key).is_ok());

    let note = &events[1];
    for index in [0, note.ciphertext.len() / 2, note.ciphertext.len() - 1] {
        let mut flipped = note.clone();
        flipped.ciphertext[index] ^= 0x01;
        assert!(refused(&flipped, &key), "a flipped bit at {index}");
    }
    let mut truncated = note.clone();
    truncated.ciphertext.pop();
    assert!(refused(&truncated, &key), "a truncated ciphertext");
    let mut renonced = note.clone();
    renonced.nonce[0] ^= 0x80;
    assert!(refused(&renonced, &key), "a changed nonce");

    // The metadata of one event around the sealed body of another, field by field and whole.
    let update = &events[2];
    let mut swapped = note.clone();
    swapped.nonce = update.nonce.clone();
    swapped.ciphertext = update.ciphertext.clone();
    assert!(refused(&swapped, &key), "bodies swapped");
    let swaps: [(&str, Swap); 4] = [
        ("id", |a, b| a.id = b.id),
        ("hlc", |a, b| a.hlc = b.hlc),
        ("device_seq", |a, b| a.device_seq = b.device_seq),
        ("kind", |a, b| a.kind = b.kind.clone()),
    ];
    for (what, swap) in swaps {
        let mut moved = note.clone();
        swap(&mut moved, update);
        assert!(refused(&moved, &key), "{what} swapped with another event's");
    }
    let mut to_other_case = note.clone();
    to_other_case.case_id = other.id.0;
    assert!(refused(&to_other_case, &key), "moved to another case");
    let mut other_device = note.clone();
    other_device.device_id = Uuid::now_v7();
    assert!(refused(&other_device, &key), "claimed by another device");

    // Another case's key: refused by its id, and by AES-GCM when the id is made to match.
    assert!(refused(note, &other_key), "another case's key");
    let mut relabelled = note.clone();
    relabelled.key_id = other_key.id;
    assert!(refused(&relabelled, &other_key), "another case's key under this key's id");
    assert!(refused(&others[0], &key), "this key on another case's event");
    assert!(refused(note, &CaseKey { id: key.id, secret: Secret::random() }), "a random key");
}

#[test]
fn a_changed_event_in_the_database_is_refused() {
    let (fixture, mut workspace) = new_workspace();
    let case = workspace.create_case(full_fields()).unwrap().id;
    workspace.add_note(case, NOTE).unwrap();
    drop(workspace);
    let conn = raw_db(&fixture.dir);
    let (id, mut ciphertext): (String, Vec<u8>) = conn
        .query_row("SELECT id, ciphertext FROM events WHERE kind = 'note.added'", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    ciphertext[5] ^= 0x01;
    conn.execute("UPDATE events SET ciphertext = ?2 WHERE id = ?1", rusqlite::params![id, ciphertext]).unwrap();
    drop(conn);
    let key = case_key(&fixture.dir, case);
    let events = unlock(&fixture.dir).case_events(case).unwrap();
    let outcomes: Vec<bool> = events.iter().map(|sealed| refused(sealed, &key)).collect();
    assert_eq!(outcomes, [false, true], "only the altered note is refused");
}
