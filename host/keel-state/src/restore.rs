//! A snapshot restore through the log in pieces: [`Command::StageRestore`]
//! entries carry the restored state's JSON piece by piece, and one
//! [`Command::CommitRestore`] replaces the state with it. Every entry stays
//! small enough to reach a follower within one heartbeat, whatever the size
//! of the state (see `keel_api::limits`), and the state changes at one
//! index on every server.
//!
//! [`Command::StageRestore`]: crate::Command::StageRestore
//! [`Command::CommitRestore`]: crate::Command::CommitRestore

use serde::{Deserialize, Serialize};

use crate::command::Outcome;
use crate::state::{Changed, Record, State};

/// The pieces of one restore received so far, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedRestore {
    pub id: String,
    pub pieces: Vec<String>,
}

/// One stored piece: the storage layer keeps each as its own record.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredPiece {
    id: String,
    seq: u32,
    text: String,
}

impl StagedRestore {
    pub(crate) fn piece_count(&self) -> u32 {
        u32::try_from(self.pieces.len()).expect("a restore has far fewer than 2^32 pieces")
    }

    pub(crate) fn piece(&self, seq: u32) -> Option<StoredPiece> {
        let text = self.pieces.get(usize::try_from(seq).ok()?)?;
        Some(StoredPiece { id: self.id.clone(), seq, text: text.clone() })
    }
}

/// Splits `json` into pieces of at most `max_bytes`, each ending on a
/// character boundary, for [`crate::Command::StageRestore`].
pub fn pieces(json: &str, max_bytes: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = json;
    while !rest.is_empty() {
        let mut end = rest.len().min(max_bytes.max(4));
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

impl State {
    pub(crate) fn restore(&mut self, state: State) -> (Outcome, Changed) {
        *self = State { restoring: None, ..state };
        (Outcome::Applied, Changed::All)
    }

    /// Takes piece `seq` of restore `id`: piece 0 starts it over, a later
    /// piece only follows the one before it of the same restore.
    pub(crate) fn stage_restore(&mut self, id: String, seq: u32, text: String) -> (Outcome, Changed) {
        match &mut self.restoring {
            Some(staged) if staged.id == id && staged.piece_count() == seq && seq > 0 => {
                staged.pieces.push(text);
                (Outcome::Cas(true), Changed::Some(vec![Record::RestorePiece(seq)]))
            }
            _ if seq == 0 => {
                let mut changed = self.abandon_restore();
                self.restoring = Some(StagedRestore { id, pieces: vec![text] });
                if changed.is_empty() {
                    changed.push(Record::RestorePiece(0));
                }
                (Outcome::Cas(true), Changed::Some(changed))
            }
            _ => (Outcome::Cas(false), Changed::Some(Vec::new())),
        }
    }

    /// Replaces the state with restore `id`'s when all its pieces are
    /// there. A commit for another restore changes nothing; one whose
    /// pieces do not add up, or do not decode, drops them.
    pub(crate) fn commit_restore(&mut self, id: &str, pieces: u32, bytes: u64) -> (Outcome, Changed) {
        if self.restoring.as_ref().is_none_or(|staged| staged.id != id) {
            return (Outcome::Cas(false), Changed::Some(Vec::new()));
        }
        let staged = self.restoring.take().expect("checked just above");
        let total: usize = staged.pieces.iter().map(String::len).sum();
        let complete = staged.piece_count() == pieces && u64::try_from(total).is_ok_and(|total| total == bytes);
        let restored = complete.then(|| serde_json::from_str::<State>(&staged.pieces.concat()));
        match restored {
            Some(Ok(state)) => {
                let (_, changed) = self.restore(state);
                (Outcome::Cas(true), changed)
            }
            _ => {
                self.restoring = Some(staged);
                (Outcome::Cas(false), Changed::Some(self.abandon_restore()))
            }
        }
    }

    /// Drops the restore in progress, answering the records to remove.
    pub(crate) fn abandon_restore(&mut self) -> Vec<Record> {
        let count = self.restoring.take().map_or(0, |staged| staged.piece_count());
        (0..count).map(Record::RestorePiece).collect()
    }

    /// Puts a stored piece back, when the state machine loads.
    pub(crate) fn load_restore_piece(&mut self, piece: StoredPiece) {
        let staged = self.restoring.get_or_insert_with(|| StagedRestore { id: piece.id.clone(), ..Default::default() });
        let seq = usize::try_from(piece.seq).unwrap_or(usize::MAX);
        if staged.pieces.len() <= seq {
            staged.pieces.resize(seq + 1, String::new());
        }
        staged.pieces[seq] = piece.text;
    }
}

#[cfg(test)]
mod tests {
    use keel_api::acl::AclPolicy;

    use super::*;
    use crate::Command;

    fn state_with(policies: &[&str]) -> State {
        let mut state = State::default();
        let policies = policies
            .iter()
            .map(|name| AclPolicy {
                name: (*name).into(),
                rules: "operator { policy = \"read\" }".into(),
                ..AclPolicy::default()
            })
            .collect();
        state.apply(2, Command::UpsertAclPolicies { policies });
        state
    }

    /// Stages `restored` as restore `id` in pieces of `max_bytes`, answering
    /// the commit command.
    fn stage(state: &mut State, id: &str, restored: &State, max_bytes: usize) -> Command {
        let json = serde_json::to_string(restored).expect("json");
        let pieces = pieces(&json, max_bytes);
        for (seq, text) in pieces.iter().enumerate() {
            let seq = u32::try_from(seq).expect("few pieces");
            let command = Command::StageRestore { id: id.into(), seq, text: (*text).to_owned() };
            assert_eq!(state.apply(10 + u64::from(seq), command).0, Outcome::Cas(true));
        }
        Command::CommitRestore {
            id: id.into(),
            pieces: u32::try_from(pieces.len()).expect("few"),
            bytes: json.len() as u64,
        }
    }

    #[test]
    fn pieces_end_on_character_boundaries_and_join_to_the_whole() {
        let text = "ab€cd€€e".repeat(50);
        let pieces = pieces(&text, 7);
        assert!(pieces.iter().all(|piece| piece.len() <= 7 && !piece.is_empty()));
        assert_eq!(pieces.concat(), text);
        assert!(super::pieces("", 7).is_empty());
    }

    #[test]
    fn a_committed_restore_replaces_the_state_at_its_commit() {
        let mut state = state_with(&["old"]);
        let restored = state_with(&["new-1", "new-2"]);
        let commit = stage(&mut state, "r1", &restored, 40);
        assert!(state.acl.policies.contains_key("old"), "staged pieces change nothing yet");
        assert_eq!(state.apply(99, commit), (Outcome::Cas(true), Changed::All));
        assert_eq!(state, restored);
        assert_eq!(state.restoring, None);
    }

    #[test]
    fn a_piece_out_of_order_or_of_another_restore_is_refused() {
        let mut state = State::default();
        let piece = |id: &str, seq: u32| Command::StageRestore { id: id.into(), seq, text: "{".into() };
        assert_eq!(state.apply(1, piece("a", 1)).0, Outcome::Cas(false), "no restore to continue");
        assert_eq!(state.apply(2, piece("a", 0)).0, Outcome::Cas(true));
        assert_eq!(state.apply(3, piece("a", 2)).0, Outcome::Cas(false), "a gap");
        assert_eq!(state.apply(4, piece("b", 1)).0, Outcome::Cas(false), "another restore's");
        assert_eq!(state.apply(5, piece("a", 1)).0, Outcome::Cas(true));
        assert_eq!(state.restoring.as_ref().map(|staged| staged.pieces.len()), Some(2));
    }

    #[test]
    fn a_new_restore_drops_the_one_in_progress_and_its_commit_loses() {
        let mut state = state_with(&["kept"]);
        let first = stage(&mut state, "first", &state_with(&["first"]), 30);
        let second = stage(&mut state, "second", &state_with(&["second"]), 1 << 20);
        let (outcome, changed) = state.apply(50, first);
        assert_eq!((outcome, changed), (Outcome::Cas(false), Changed::Some(Vec::new())));
        assert!(state.acl.policies.contains_key("kept"));
        assert_eq!(state.apply(51, second).0, Outcome::Cas(true));
        assert!(state.acl.policies.contains_key("second"));
    }

    #[test]
    fn a_commit_that_does_not_add_up_drops_the_pieces_and_changes_nothing() {
        let mut state = state_with(&["kept"]);
        let Command::CommitRestore { id, pieces, bytes } = stage(&mut state, "r", &state_with(&["x"]), 25) else {
            unreachable!("stage answers a commit")
        };
        let short = Command::CommitRestore { id, pieces: pieces + 1, bytes };
        let (outcome, Changed::Some(removed)) = state.apply(60, short) else { panic!("records, not all") };
        assert_eq!(outcome, Outcome::Cas(false));
        assert_eq!(removed.len(), pieces as usize, "every stored piece is removed");
        assert_eq!((state.restoring.is_none(), state.acl.policies.contains_key("kept")), (true, true));
    }

    #[test]
    fn a_new_leader_abandons_a_restore_in_progress() {
        let mut state = State::default();
        stage(&mut state, "r", &state_with(&["x"]), 25);
        let defaults = Command::InitDefaults {
            autopilot: keel_api::operator::AutopilotConfiguration::nomad_defaults(),
            scheduler: keel_api::operator::SchedulerConfiguration::nomad_defaults(),
        };
        let (_, Changed::Some(changed)) = state.apply(70, defaults) else { panic!("records, not all") };
        assert!(changed.contains(&Record::RestorePiece(0)));
        assert_eq!(state.restoring, None);
    }

    #[test]
    fn staged_pieces_round_trip_through_their_records() {
        let mut state = State::default();
        stage(&mut state, "r", &state_with(&["x", "y"]), 20);
        let mut loaded = State::default();
        for record in state.records().collect::<Vec<_>>() {
            if let Some(bytes) = state.encode(&record) {
                let key = record.key();
                loaded.decode(Record::from_key(key.as_bytes()).expect("a known key"), &bytes).expect("decodes");
            }
        }
        assert_eq!(loaded.restoring, state.restoring);
    }
}
