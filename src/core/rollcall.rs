//! The live roll-call engine: turns the faces of each frame into marks, following the
//! decision rule (threshold, margin, K of the last N frames of a track), once per student per
//! session, and sends doubtful faces to the teacher's review queue. Pure: the caller passes in
//! rankings and frame times, and writes the events it gets back to the store.

use std::collections::{HashMap, HashSet, VecDeque};

use super::attendance::{Status, arrival_status};
use super::decision::{DecisionRule, FrameVerdict};
use super::gallery::{Candidate, Ranking};
use super::geometry::BBox;
use super::ids::StudentId;
use super::tracker::{TrackId, Tracker, TrackerConfig};

/// Settings of the engine for one session.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RollCallConfig {
    /// Threshold, margin and vote rule.
    pub rule: DecisionRule,
    /// Box tracking settings.
    pub tracker: TrackerConfig,
    /// Minutes after the session start after which a new mark is "late".
    pub late_after_minutes: u32,
}

/// One detected face of a frame, with its ranking against the class gallery.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceInput {
    /// Where the face is in the frame.
    pub bbox: BBox,
    /// The closest enrolled students; `None` when the face could not be embedded.
    pub ranking: Option<Ranking>,
    /// Whether `ranking` comes from embedding this frame's face. A settled track (see
    /// [`RollCall::settled_tracks`]) given a ranking kept from an earlier frame repeats its
    /// last outcome: the kept ranking is no new evidence, so it never counts as a vote or a
    /// doubt. It still takes part in this frame's duplicate check.
    pub fresh: bool,
}

/// Why a face is doubtful.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum UncertainReason {
    /// The best and second-best students are too close to tell apart (twins, look-alikes).
    SmallMargin,
    /// Another face in the same frame is a better match for the same student.
    DuplicateInFrame,
    /// The track's recent frames disagree about who this is.
    Flickering,
}

impl UncertainReason {
    /// A short explanation for the teacher.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::SmallMargin => "two students match almost equally well",
            Self::DuplicateInFrame => "another face in the picture matches this student better",
            Self::Flickering => "recent frames disagree about who this is",
        }
    }

    /// The stable name stored in the database.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SmallMargin => "small_margin",
            Self::DuplicateInFrame => "duplicate_in_frame",
            Self::Flickering => "flickering",
        }
    }

    /// The reason stored as `name` (see [`Self::as_str`]).
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        [Self::SmallMargin, Self::DuplicateInFrame, Self::Flickering]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// What the engine decided about one face in one frame.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FaceOutcome {
    /// The student was marked in this frame.
    Marked {
        /// Who.
        student: StudentId,
        /// Present or late.
        status: Status,
    },
    /// A student already marked in this session, seen again.
    Seen {
        /// Who.
        student: StudentId,
    },
    /// A clear match still collecting votes.
    Confirming {
        /// The leading student.
        student: StudentId,
        /// Votes so far in the window.
        votes: usize,
        /// Votes needed.
        needed: usize,
    },
    /// Doubtful: never marked automatically.
    Uncertain {
        /// The closest student, if any.
        candidate: Option<Candidate>,
        /// Why.
        reason: UncertainReason,
    },
    /// Nobody enrolled is close enough.
    Unknown {
        /// The closest student anyway, for display only.
        closest: Option<Candidate>,
    },
}

/// One face of a frame with its track and outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceDecision {
    /// The face's track.
    pub track: TrackId,
    /// Where the face is.
    pub bbox: BBox,
    /// What was decided.
    pub outcome: FaceOutcome,
}

/// The numbers behind an automatic mark, kept with it as evidence.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MarkEvidence {
    /// Distance of the matched student in the confirming frame.
    pub distance: f32,
    /// Distance gap to the runner-up (infinite with one enrolled student).
    pub margin: f32,
    /// The runner-up and its distance.
    pub runner_up: Option<Candidate>,
}

/// A new mark for the store.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarkEvent {
    /// Who.
    pub student: StudentId,
    /// Present or late.
    pub status: Status,
    /// Time of the confirming frame.
    pub frame_ms: i64,
    /// Index of the face in the frame's input.
    pub face_index: usize,
    /// The numbers behind the decision.
    pub evidence: MarkEvidence,
}

/// A doubtful face for the teacher's review queue (one per track).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReviewEvent {
    /// The track that stayed doubtful.
    pub track: TrackId,
    /// The most likely student.
    pub candidate: Candidate,
    /// The next most likely student.
    pub runner_up: Option<Candidate>,
    /// Distance gap between them.
    pub margin: f32,
    /// Why it is doubtful.
    pub reason: UncertainReason,
    /// Time of the frame.
    pub frame_ms: i64,
    /// Index of the face in the frame's input.
    pub face_index: usize,
}

/// Everything that happened in one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrameReport {
    /// One decision per input face, in input order.
    pub faces: Vec<FaceDecision>,
    /// Students marked in this frame.
    pub new_marks: Vec<MarkEvent>,
    /// Students already marked who were seen again (update their last-seen time).
    pub seen_again: Vec<StudentId>,
    /// Doubtful tracks to put in the review queue.
    pub reviews: Vec<ReviewEvent>,
}

#[derive(Clone, Copy, Debug)]
struct Vote {
    student: StudentId,
    distance: f32,
    margin: f32,
    runner_up: Option<Candidate>,
}

/// A doubtful frame: who it most likely is, the runner-up, the gap between them, and why.
#[derive(Clone, Copy, Debug)]
struct Doubt {
    candidate: Candidate,
    runner_up: Option<Candidate>,
    margin: f32,
    reason: UncertainReason,
}

#[derive(Clone, Debug, Default)]
struct TrackState {
    votes: VecDeque<Option<Vote>>,
    doubt: VecDeque<Option<Doubt>>,
    frames_seen: usize,
    confirmed: bool,
    reviewed: bool,
    /// The outcome of the track's last fresh frame.
    last: Option<FaceOutcome>,
}

impl TrackState {
    /// Whether embedding the track's face again can only repeat what is decided: its student
    /// is marked by its own votes; or its last fresh frame was nobody enrolled, as were all
    /// of the last `window` (no vote for anyone and no doubt); or it stayed doubtful and is in
    /// the review queue, where the teacher decides.
    fn settled(&self, window: usize) -> bool {
        match self.last {
            _ if self.confirmed => true,
            Some(FaceOutcome::Unknown { .. }) => {
                self.votes.len() >= window
                    && self.doubt.len() >= window
                    && self.votes.iter().all(Option::is_none)
                    && self.doubt.iter().all(Option::is_none)
            }
            Some(FaceOutcome::Uncertain { .. }) => self.reviewed,
            _ => false,
        }
    }
}

/// The engine state for one session.
#[derive(Clone, Debug)]
pub struct RollCall {
    config: RollCallConfig,
    session_start_ms: i64,
    tracker: Tracker,
    tracks: HashMap<TrackId, TrackState>,
    marked: HashSet<StudentId>,
}

impl RollCall {
    /// An engine for a session that started at `session_start_ms`, in which `already_marked`
    /// students have a mark (for example after a restart, or marked by hand).
    #[must_use]
    pub fn new(
        config: RollCallConfig,
        session_start_ms: i64,
        already_marked: impl IntoIterator<Item = StudentId>,
    ) -> Self {
        let config = RollCallConfig {
            rule: config.rule.normalized(),
            ..config
        };
        Self {
            config,
            session_start_ms,
            tracker: Tracker::new(config.tracker),
            tracks: HashMap::new(),
            marked: already_marked.into_iter().collect(),
        }
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &RollCallConfig {
        &self.config
    }

    /// Records a mark made outside the engine (manual, or accepted from review), so the engine
    /// does not mark the student again.
    pub fn note_marked(&mut self, student: StudentId) {
        self.marked.insert(student);
    }

    /// Whether the student already has a mark in this session.
    #[must_use]
    pub fn is_marked(&self, student: StudentId) -> bool {
        self.marked.contains(&student)
    }

    /// For each box of a frame about to be observed at `frame_ms`, the track it will continue
    /// when that track is settled, so embedding the face again can only repeat what is
    /// decided: its student is marked in this session by this track's own votes, or it has
    /// been nobody enrolled (no vote, no doubt) for a whole window, or it stayed doubtful and
    /// went to review. The caller may pass such a face with its kept ranking (not
    /// [`FaceInput::fresh`]); the track then repeats its last outcome. A track stops being
    /// settled as soon as a fresh frame of it votes (a stranger or a reviewed face that now
    /// matches someone), so it is embedded on every frame again until it is decided. `None` for
    /// a new or undecided track. Nothing changes.
    #[must_use]
    pub fn settled_tracks(&self, frame_ms: i64, boxes: &[BBox]) -> Vec<Option<TrackId>> {
        let window = self.config.rule.window_frames;
        self.tracker
            .peek(frame_ms, boxes)
            .into_iter()
            .map(|t| t.filter(|id| self.tracks.get(id).is_some_and(|s| s.settled(window))))
            .collect()
    }

    /// Processes the faces of one frame taken at `frame_ms`, in three steps: in-frame
    /// de-duplication (two faces are never the same student), voting over each track's recent
    /// frames, and sending tracks that stayed doubtful to review.
    pub fn observe(&mut self, frame_ms: i64, faces: &[FaceInput]) -> FrameReport {
        let rule = self.config.rule;
        let boxes: Vec<BBox> = faces.iter().map(|f| f.bbox).collect();
        let (track_ids, expired) = self.tracker.update(frame_ms, &boxes);
        for id in expired {
            self.tracks.remove(&id);
        }
        let verdicts: Vec<FrameVerdict> = faces
            .iter()
            .map(|f| {
                f.ranking
                    .as_ref()
                    .map_or(FrameVerdict::Unknown { best: None }, |r| rule.judge(r))
            })
            .collect();
        let duplicate = in_frame_duplicates(&verdicts);

        let mut report = FrameReport::default();
        for (i, face) in faces.iter().enumerate() {
            let track_id = track_ids[i];
            let state = self.tracks.entry(track_id).or_default();
            if !face.fresh
                && state.settled(rule.window_frames)
                && let Some(last) = state.last
            {
                let outcome = match last {
                    FaceOutcome::Marked { student, .. } | FaceOutcome::Seen { student } => {
                        report.seen_again.push(student);
                        FaceOutcome::Seen { student }
                    }
                    other => other,
                };
                report.faces.push(FaceDecision {
                    track: track_id,
                    bbox: face.bbox,
                    outcome,
                });
                continue;
            }
            state.frames_seen += 1;
            let (vote, doubt) = frame_vote(&verdicts[i], duplicate[i], face.ranking.as_ref());
            push_window(&mut state.votes, vote, rule.window_frames);

            let outcome = match (vote, doubt) {
                (Some(vote), _) => {
                    let frame = FrameAt {
                        frame_ms,
                        face_index: i,
                        session_start_ms: self.session_start_ms,
                    };
                    vote_outcome(
                        &self.config,
                        state,
                        &mut self.marked,
                        vote,
                        frame,
                        &mut report,
                    )
                }
                (None, Some(d)) => FaceOutcome::Uncertain {
                    candidate: Some(d.candidate),
                    reason: d.reason,
                },
                (None, None) => FaceOutcome::Unknown {
                    closest: match verdicts[i] {
                        FrameVerdict::Unknown { best } => best,
                        _ => None,
                    },
                },
            };
            if vote.is_none() {
                push_window(&mut state.doubt, doubt, rule.window_frames);
            } else if !matches!(outcome, FaceOutcome::Uncertain { .. }) {
                push_window(&mut state.doubt, None, rule.window_frames);
            }
            if let Some(review) = review_due(state, rule.window_frames) {
                report.reviews.push(ReviewEvent {
                    track: track_id,
                    candidate: review.candidate,
                    runner_up: review.runner_up,
                    margin: review.margin,
                    reason: review.reason,
                    frame_ms,
                    face_index: i,
                });
            }
            state.last = Some(outcome);
            report.faces.push(FaceDecision {
                track: track_id,
                bbox: face.bbox,
                outcome,
            });
        }
        report
    }
}

/// Where a face was seen: the frame's time, its index in the frame, and the session's start.
#[derive(Clone, Copy)]
struct FrameAt {
    frame_ms: i64,
    face_index: usize,
    session_start_ms: i64,
}

/// Which faces lose their frame's vote because another face in the same frame is closer to the
/// same student.
fn in_frame_duplicates(verdicts: &[FrameVerdict]) -> Vec<bool> {
    let mut duplicate = vec![false; verdicts.len()];
    let mut best_face: HashMap<StudentId, usize> = HashMap::new();
    for (i, v) in verdicts.iter().enumerate() {
        if let FrameVerdict::Match { best, .. } = v {
            match best_face.get(&best.student) {
                Some(&j) if distance_of(&verdicts[j]) <= best.distance => duplicate[i] = true,
                Some(&j) => {
                    duplicate[j] = true;
                    best_face.insert(best.student, i);
                }
                None => {
                    best_face.insert(best.student, i);
                }
            }
        }
    }
    duplicate
}

/// What one frame says about a face: a vote for a student, or a doubt, or neither (unknown).
fn frame_vote(
    verdict: &FrameVerdict,
    duplicate: bool,
    rankings: Option<&Ranking>,
) -> (Option<Vote>, Option<Doubt>) {
    match *verdict {
        FrameVerdict::Match { best, margin } if duplicate => (
            None,
            Some(Doubt {
                candidate: best,
                runner_up: rankings.and_then(Ranking::runner_up),
                margin,
                reason: UncertainReason::DuplicateInFrame,
            }),
        ),
        FrameVerdict::Match { best, margin } => (
            Some(Vote {
                student: best.student,
                distance: best.distance,
                margin,
                runner_up: rankings.and_then(Ranking::runner_up),
            }),
            None,
        ),
        FrameVerdict::Ambiguous {
            best,
            runner_up,
            margin,
        } => (
            None,
            Some(Doubt {
                candidate: best,
                runner_up,
                margin,
                reason: UncertainReason::SmallMargin,
            }),
        ),
        FrameVerdict::Unknown { .. } => (None, None),
    }
}

/// Counts the track's recent votes with this frame's: the student is marked (once per session)
/// when enough agree and none disagrees; disagreement is a doubt (flickering).
fn vote_outcome(
    config: &RollCallConfig,
    state: &mut TrackState,
    marked: &mut HashSet<StudentId>,
    vote: Vote,
    at: FrameAt,
    report: &mut FrameReport,
) -> FaceOutcome {
    let rule = config.rule;
    let mut counts: HashMap<StudentId, usize> = HashMap::new();
    for v in state.votes.iter().flatten() {
        *counts.entry(v.student).or_default() += 1;
    }
    let votes = counts.get(&vote.student).copied().unwrap_or(0);
    // The window must agree: any vote for another student blocks the mark.
    if votes >= rule.frames_to_confirm && counts.len() == 1 {
        state.confirmed = true;
        if !marked.insert(vote.student) {
            report.seen_again.push(vote.student);
            return FaceOutcome::Seen {
                student: vote.student,
            };
        }
        let status = arrival_status(at.session_start_ms, at.frame_ms, config.late_after_minutes);
        report.new_marks.push(MarkEvent {
            student: vote.student,
            status,
            frame_ms: at.frame_ms,
            face_index: at.face_index,
            evidence: MarkEvidence {
                distance: vote.distance,
                margin: vote.margin,
                runner_up: vote.runner_up,
            },
        });
        FaceOutcome::Marked {
            student: vote.student,
            status,
        }
    } else if counts.len() > 1 {
        let candidate = Candidate {
            student: vote.student,
            distance: vote.distance,
        };
        let doubt = Doubt {
            candidate,
            runner_up: vote.runner_up,
            margin: vote.margin,
            reason: UncertainReason::Flickering,
        };
        push_window(&mut state.doubt, Some(doubt), rule.window_frames);
        FaceOutcome::Uncertain {
            candidate: Some(candidate),
            reason: UncertainReason::Flickering,
        }
    } else {
        FaceOutcome::Confirming {
            student: vote.student,
            votes,
            needed: rule.frames_to_confirm,
        }
    }
}

/// A track that stayed doubtful for a whole window, never confirmed, goes to review once: its
/// latest doubt.
fn review_due(state: &mut TrackState, window_frames: usize) -> Option<Doubt> {
    if state.confirmed || state.reviewed || state.frames_seen < window_frames {
        return None;
    }
    let doubt = state.doubt.iter().rev().flatten().next().copied()?;
    state.reviewed = true;
    Some(doubt)
}

fn distance_of(verdict: &FrameVerdict) -> f32 {
    match verdict {
        FrameVerdict::Match { best, .. } | FrameVerdict::Ambiguous { best, .. } => best.distance,
        FrameVerdict::Unknown { best } => best.map_or(f32::INFINITY, |b| b.distance),
    }
}

fn push_window<T>(window: &mut VecDeque<T>, item: T, len: usize) {
    window.push_back(item);
    while window.len() > len {
        window.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: StudentId = StudentId(1);
    const S2: StudentId = StudentId(2);

    fn config() -> RollCallConfig {
        RollCallConfig {
            rule: DecisionRule {
                max_distance: 0.5,
                min_margin: 0.1,
                frames_to_confirm: 3,
                window_frames: 5,
            },
            tracker: TrackerConfig::default(),
            late_after_minutes: 10,
        }
    }

    fn face(x: f32, ranks: &[(StudentId, f32)]) -> FaceInput {
        FaceInput {
            bbox: BBox::new(x, 0.0, 100.0, 100.0),
            ranking: Some(Ranking {
                top: ranks
                    .iter()
                    .map(|&(student, distance)| Candidate { student, distance })
                    .collect(),
            }),
            fresh: true,
        }
    }

    #[test]
    fn a_clear_match_is_marked_after_k_frames_and_only_once() {
        let mut rc = RollCall::new(config(), 0, []);
        let f = [face(0.0, &[(S1, 0.3), (S2, 0.8)])];
        let r1 = rc.observe(0, &f);
        assert!(matches!(
            r1.faces[0].outcome,
            FaceOutcome::Confirming {
                votes: 1,
                needed: 3,
                ..
            }
        ));
        rc.observe(100, &f);
        let r3 = rc.observe(200, &f);
        assert_eq!(r3.new_marks.len(), 1);
        assert_eq!(r3.new_marks[0].student, S1);
        assert_eq!(r3.new_marks[0].status, Status::Present);
        assert!((r3.new_marks[0].evidence.margin - 0.5).abs() < 1e-6);
        assert_eq!(r3.new_marks[0].evidence.runner_up.unwrap().student, S2);
        let r4 = rc.observe(300, &f);
        assert!(r4.new_marks.is_empty());
        assert_eq!(r4.seen_again, vec![S1]);
        assert!(matches!(
            r4.faces[0].outcome,
            FaceOutcome::Seen { student: S1 }
        ));
    }

    #[test]
    fn a_track_is_settled_once_its_student_is_marked_and_a_new_face_is_not() {
        let mut rc = RollCall::new(config(), 0, []);
        let f = [face(0.0, &[(S1, 0.3), (S2, 0.8)])];
        let boxes = [f[0].bbox, BBox::new(400.0, 0.0, 100.0, 100.0)];
        for t in 0..2 {
            rc.observe(t * 100, &f);
            assert_eq!(rc.settled_tracks(t * 100 + 100, &boxes), vec![None, None]);
        }
        let r = rc.observe(200, &f);
        assert_eq!(r.new_marks.len(), 1);
        let settled = rc.settled_tracks(300, &boxes);
        assert_eq!(settled, vec![Some(r.faces[0].track), None]);
        // Still there a minute later if no frame went by without it (a very slow machine).
        assert_eq!(
            rc.settled_tracks(60_000, &boxes),
            vec![Some(r.faces[0].track), None]
        );
        // Once a frame without it has gone by and the track has timed out, the same place is a
        // new face again.
        rc.observe(400, &[]);
        assert_eq!(rc.settled_tracks(60_000, &boxes), vec![None, None]);
    }

    #[test]
    fn a_stranger_is_settled_after_a_whole_window_and_unsettled_by_a_vote() {
        let mut rc = RollCall::new(config(), 0, []);
        let stranger = [face(0.0, &[(S1, 0.7), (S2, 0.9)])];
        let boxes = [stranger[0].bbox];
        let mut track = None;
        for t in 0..5 {
            assert_eq!(rc.settled_tracks(t * 100, &boxes), vec![None], "frame {t}");
            track = Some(rc.observe(t * 100, &stranger).faces[0].track);
        }
        assert_eq!(rc.settled_tracks(500, &boxes), vec![track]);
        // A kept ranking is no evidence: even one that would match repeats "unknown".
        let kept = [FaceInput {
            fresh: false,
            ..face(0.0, &[(S1, 0.3), (S2, 0.8)])
        }];
        for t in 5..10 {
            let r = rc.observe(t * 100, &kept);
            assert!(matches!(r.faces[0].outcome, FaceOutcome::Unknown { .. }));
            assert!(r.new_marks.is_empty() && r.reviews.is_empty());
        }
        // One fresh frame that votes for a student unsettles the track, and fresh frames mark.
        let fresh = [face(0.0, &[(S1, 0.3), (S2, 0.8)])];
        rc.observe(1_000, &fresh);
        assert_eq!(rc.settled_tracks(1_100, &boxes), vec![None]);
        rc.observe(1_100, &fresh);
        assert_eq!(rc.observe(1_200, &fresh).new_marks.len(), 1);
    }

    #[test]
    fn a_doubtful_face_is_settled_only_once_it_is_in_review() {
        let mut rc = RollCall::new(config(), 0, []);
        let doubtful = [face(0.0, &[(S1, 0.3), (S2, 0.35)])];
        let boxes = [doubtful[0].bbox];
        for t in 0..4 {
            let r = rc.observe(t * 100, &doubtful);
            assert!(r.reviews.is_empty());
            assert_eq!(rc.settled_tracks(t * 100 + 100, &boxes), vec![None]);
        }
        let r = rc.observe(400, &doubtful);
        assert_eq!(r.reviews.len(), 1);
        assert_eq!(rc.settled_tracks(500, &boxes), vec![Some(r.faces[0].track)]);
        let kept = [FaceInput {
            fresh: false,
            ..face(0.0, &[(S1, 0.3), (S2, 0.9)])
        }];
        let r = rc.observe(500, &kept);
        assert!(matches!(r.faces[0].outcome, FaceOutcome::Uncertain { .. }));
        assert!(r.new_marks.is_empty() && r.reviews.is_empty());
    }

    #[test]
    fn a_stranger_is_never_marked_or_queued() {
        let mut rc = RollCall::new(config(), 0, []);
        for t in 0..20 {
            let r = rc.observe(t * 100, &[face(0.0, &[(S1, 0.55), (S2, 0.9)])]);
            assert!(r.new_marks.is_empty() && r.reviews.is_empty());
            assert!(matches!(
                r.faces[0].outcome,
                FaceOutcome::Unknown { closest: Some(_) }
            ));
        }
    }

    #[test]
    fn twins_near_the_threshold_go_to_review_once() {
        let mut rc = RollCall::new(config(), 0, []);
        let mut reviews = Vec::new();
        for t in 0..10 {
            let r = rc.observe(t * 100, &[face(0.0, &[(S1, 0.45), (S2, 0.48)])]);
            assert!(r.new_marks.is_empty());
            assert!(matches!(
                r.faces[0].outcome,
                FaceOutcome::Uncertain {
                    reason: UncertainReason::SmallMargin,
                    ..
                }
            ));
            reviews.extend(r.reviews);
        }
        assert_eq!(reviews.len(), 1);
        assert_eq!(reviews[0].candidate.student, S1);
        assert_eq!(reviews[0].runner_up.unwrap().student, S2);
    }

    #[test]
    fn a_track_that_flickers_between_two_students_is_not_marked() {
        let mut rc = RollCall::new(config(), 0, []);
        let mut reviews = Vec::new();
        for t in 0..12 {
            // Alternating clear matches: each student reaches 3 of the last 5 frames, but the
            // window never agrees, so nobody is marked.
            let who = if t % 2 == 0 {
                [(S1, 0.3), (S2, 0.7)]
            } else {
                [(S2, 0.3), (S1, 0.7)]
            };
            let r = rc.observe(t * 100, &[face(0.0, &who)]);
            assert!(r.new_marks.is_empty(), "marked at frame {t}");
            if t > 0 {
                assert!(matches!(
                    r.faces[0].outcome,
                    FaceOutcome::Uncertain {
                        reason: UncertainReason::Flickering,
                        ..
                    }
                ));
            }
            reviews.extend(r.reviews);
        }
        assert_eq!(reviews.len(), 1);
        assert_eq!(reviews[0].reason, UncertainReason::Flickering);
    }

    #[test]
    fn one_stray_frame_only_delays_the_mark() {
        let mut rc = RollCall::new(config(), 0, []);
        let s1 = [face(0.0, &[(S1, 0.3), (S2, 0.7)])];
        let s2 = [face(0.0, &[(S2, 0.3), (S1, 0.7)])];
        let mut marked_at = None;
        for t in 0..10 {
            let f = if t == 1 { &s2 } else { &s1 };
            let r = rc.observe(t * 100, f);
            if !r.new_marks.is_empty() {
                marked_at = Some(t);
                assert_eq!(r.new_marks[0].student, S1);
            }
        }
        // The stray vote at frame 1 leaves the 5-frame window after frame 5.
        assert_eq!(marked_at, Some(6));
    }

    #[test]
    fn two_faces_claiming_the_same_student_mark_only_the_closer() {
        let mut rc = RollCall::new(config(), 0, []);
        let mut marks = Vec::new();
        let mut last = FrameReport::default();
        for t in 0..5 {
            last = rc.observe(
                t * 100,
                &[face(0.0, &[(S1, 0.35)]), face(500.0, &[(S1, 0.2)])],
            );
            marks.extend(last.new_marks.clone());
        }
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].face_index, 1);
        assert!(matches!(
            last.faces[0].outcome,
            FaceOutcome::Uncertain {
                reason: UncertainReason::DuplicateInFrame,
                ..
            }
        ));
    }

    #[test]
    fn students_marked_before_are_not_marked_again_and_late_rule_applies() {
        let mut rc = RollCall::new(config(), 0, [S1]);
        let eleven_minutes = 11 * 60_000;
        let mut marks = Vec::new();
        for t in 0..3 {
            let r = rc.observe(
                eleven_minutes + t * 100,
                &[face(0.0, &[(S1, 0.2)]), face(400.0, &[(S2, 0.2)])],
            );
            marks.extend(r.new_marks);
        }
        assert_eq!(marks.len(), 1);
        assert_eq!(marks[0].student, S2);
        assert_eq!(marks[0].status, Status::Late);
        assert!(rc.is_marked(S1) && rc.is_marked(S2));
    }

    #[test]
    fn a_face_without_embedding_is_unknown() {
        let mut rc = RollCall::new(config(), 0, []);
        let r = rc.observe(
            0,
            &[FaceInput {
                bbox: BBox::new(0.0, 0.0, 10.0, 10.0),
                ranking: None,
                fresh: true,
            }],
        );
        assert!(matches!(
            r.faces[0].outcome,
            FaceOutcome::Unknown { closest: None }
        ));
    }
}
