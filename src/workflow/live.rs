//! The live attendance engine, shared by `rollcall live` and the window: frames go through the
//! face pipeline, faces are ranked against the class's enrolled students, the roll-call rules
//! (`core::rollcall`) decide, and marks and review entries are written as they happen.

use std::collections::HashMap;
use std::time::Instant;

use image::RgbImage;

use super::encoders::reembed;
use crate::core::decision::DecisionRule;
use crate::core::rollcall::{FaceInput, FaceOutcome, RollCall, RollCallConfig};
use crate::core::tracker::{TrackId, TrackerConfig};
use crate::core::{BBox, ClassId, Gallery, MarkSource, Ranking, SessionId, Status, StudentId};
use crate::store::{AutoMark, ClassRow, EncoderRow, RecordOutcome, SessionRow, Store};
use crate::vision::mtcnn::FaceDetection;
use crate::vision::{DetectPass, FacePipeline, StreamConfig, StreamDetector, StreamFace, image_io};

/// One face of a processed frame, for display.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveFace {
    /// Where it is in the frame.
    pub bbox: BBox,
    /// What the engine decided.
    pub outcome: FaceOutcome,
    /// A label for the teacher ("Ada Lovelace 0.41", "unknown", ...).
    pub label: String,
}

/// A student marked in a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMark {
    /// Who.
    pub student: StudentId,
    /// Their name.
    pub name: String,
    /// Present or late.
    pub status: Status,
    /// Distance of the match.
    pub distance: f32,
    /// Gap to the runner-up.
    pub margin: f32,
}

/// What one frame produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveUpdate {
    /// The frame's time (Unix milliseconds).
    pub frame_ms: i64,
    /// Every face found.
    pub faces: Vec<LiveFace>,
    /// Students marked in this frame.
    pub marked: Vec<NewMark>,
    /// Faces sent to the review queue in this frame.
    pub reviews: usize,
    /// Time spent analysing the frame, milliseconds.
    pub analyze_ms: f64,
    /// Whether the whole frame was searched for faces (rather than only where faces were).
    pub full_detection: bool,
    /// Faces embedded in this frame (the others were decided already and kept their match).
    pub embedded: usize,
}

/// How much work the engine saves on a video stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveTuning {
    /// When the frame is searched in full, and when only the faces already there are followed.
    pub stream: StreamConfig,
    /// A face whose track is decided (its student marked by it, or nobody enrolled for a whole
    /// vote window) keeps its match for this long without being embedded again, milliseconds;
    /// 0 embeds every face of every frame.
    pub settled_refresh_ms: i64,
}

impl LiveTuning {
    /// Every frame searched in full and every face embedded: the slow reference the fast
    /// settings are measured against (`rollcall bench live`).
    pub const REFERENCE: Self = Self {
        stream: StreamConfig::EVERY_FRAME,
        settled_refresh_ms: 0,
    };
}

impl Default for LiveTuning {
    /// Full detection once a second; a decided face is embedded again every half second, so a
    /// different person stepping into a decided track, or a student turning towards the
    /// camera, is still caught within half a second.
    fn default() -> Self {
        Self {
            stream: StreamConfig::default(),
            settled_refresh_ms: 500,
        }
    }
}

/// The match of a decided track, and when its face was last embedded.
#[derive(Clone, Debug)]
struct KnownMatch {
    ranking: Option<Ranking>,
    embedded_ms: i64,
}

/// The engine for one session of one class.
pub struct LiveEngine {
    class: ClassRow,
    session: SessionRow,
    encoder: EncoderRow,
    gallery: Gallery,
    names: HashMap<StudentId, String>,
    rollcall: RollCall,
    keep_crops: bool,
    missing: usize,
    tuning: LiveTuning,
    stream: StreamDetector,
    known: HashMap<TrackId, KnownMatch>,
}

impl std::fmt::Debug for LiveEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveEngine")
            .field("class", &self.class.name)
            .field("session", &self.session.id)
            .finish_non_exhaustive()
    }
}

impl LiveEngine {
    /// Prepares the engine: embeds enrollment photos the encoder has not seen yet, uses the
    /// given session (or the class's open one, or starts one), and loads the class's gallery.
    pub fn start(
        store: &Store,
        pipeline: &FacePipeline,
        class: ClassId,
        session: Option<SessionId>,
    ) -> anyhow::Result<Self> {
        let class = store.class(class)?;
        // The pipeline comes from `enroll::pipeline_for`, which registered its encoder.
        let encoder = store.encoder(pipeline.encoder().model_id())?;
        if let Some(active) = store.active_encoder()?
            && active.id != encoder.id
        {
            anyhow::bail!(
                "attendance is set to use the encoder {}, but this pipeline embeds with {}; switch with `rollcall encoders use`",
                active.id,
                encoder.id
            );
        }
        reembed(store, pipeline, |_, _| {})?;
        let settings = store.settings()?;
        let point = store.operating_point(&class, &encoder)?;
        let (threshold, margin) = (point.threshold, point.margin);
        let session = match session {
            Some(id) => {
                let s = store.session_in_class(id, &class)?;
                anyhow::ensure!(
                    s.ended_ms.is_none(),
                    "session #{id} is stopped; start a new one"
                );
                s
            }
            None => match store.open_session(class.id)? {
                Some(s) => s,
                None => store.session(store.start_session(class.id, Some(&point))?)?,
            },
        };
        if session.model_id.is_none() {
            store.set_session_settings(session.id, &point)?;
        }
        let (gallery, missing) =
            store.class_gallery(class.id, &encoder.id, encoder.metric, encoder.dim)?;
        let names = store
            .list_students(Some(class.id))?
            .into_iter()
            .map(|s| (s.id, s.display_name))
            .collect();
        let already: Vec<StudentId> = store.marks(session.id)?.iter().map(|m| m.student).collect();
        let config = RollCallConfig {
            rule: DecisionRule {
                max_distance: threshold,
                min_margin: margin,
                frames_to_confirm: settings.frames_to_confirm as usize,
                window_frames: settings.window_frames as usize,
            },
            tracker: TrackerConfig::default(),
            late_after_minutes: session.late_after_minutes,
        };
        let rollcall = RollCall::new(config, session.started_ms, already);
        Ok(Self {
            class,
            session,
            encoder,
            gallery,
            names,
            rollcall,
            keep_crops: settings.keep_evidence_crops,
            missing,
            tuning: LiveTuning::default(),
            stream: StreamDetector::new(LiveTuning::default().stream),
            known: HashMap::new(),
        })
    }

    /// The engine with other speed settings (before the first frame).
    #[must_use]
    pub fn with_tuning(mut self, tuning: LiveTuning) -> Self {
        self.tuning = tuning;
        self.stream = StreamDetector::new(tuning.stream);
        self.known.clear();
        self
    }

    /// The speed settings in force.
    #[must_use]
    pub fn tuning(&self) -> LiveTuning {
        self.tuning
    }

    /// The session being taken.
    #[must_use]
    pub fn session(&self) -> &SessionRow {
        &self.session
    }

    /// The class.
    #[must_use]
    pub fn class(&self) -> &ClassRow {
        &self.class
    }

    /// The rules in force.
    #[must_use]
    pub fn rule(&self) -> DecisionRule {
        self.rollcall.config().rule
    }

    /// Enrolled students with an embedding, and members without one.
    #[must_use]
    pub fn gallery_size(&self) -> (usize, usize) {
        (self.gallery.len(), self.missing)
    }

    /// Records a mark made outside the engine (by hand or from review), so it is not repeated.
    pub fn note_marked(&mut self, student: StudentId) {
        self.rollcall.note_marked(student);
    }

    fn name(&self, student: StudentId) -> String {
        self.names
            .get(&student)
            .cloned()
            .unwrap_or_else(|| format!("#{student}"))
    }

    /// Processes one frame: analyses it, decides, and writes marks and reviews through `out`
    /// (a store, or a lesson that carries on in its offline copy when the server goes away,
    /// so a decided mark is never lost).
    pub fn process(
        &mut self,
        out: &mut impl Writes,
        pipeline: &FacePipeline,
        image: &RgbImage,
        frame_ms: i64,
    ) -> anyhow::Result<LiveUpdate> {
        let t = Instant::now();
        let (detections, pass) = self.stream.detect(pipeline, image, frame_ms)?;
        let boxes: Vec<BBox> = detections.iter().map(|d| d.bbox).collect();
        let reused = self.reused_matches(frame_ms, &boxes);
        let embed: Vec<bool> = reused.iter().map(Option::is_none).collect();
        let faces = pipeline.analyze_partly(image, &detections, &embed)?;
        let mut inputs = Vec::with_capacity(faces.len());
        for (f, reused) in faces.iter().zip(reused) {
            let fresh = reused.is_none();
            let ranking = match (reused, &f.embedding) {
                (Some(kept), _) => kept.ranking,
                (None, Some(embedding)) => self.gallery.rank(embedding)?,
                (None, None) => None,
            };
            inputs.push(FaceInput {
                bbox: f.bbox,
                ranking,
                fresh,
            });
        }
        let report = self.rollcall.observe(frame_ms, &inputs);
        // Remember the fresh matches of this frame's tracks; forget tracks not in it.
        let mut known = HashMap::with_capacity(report.faces.len());
        for (i, d) in report.faces.iter().enumerate() {
            let entry = if embed[i] {
                Some(KnownMatch {
                    ranking: inputs[i].ranking.clone(),
                    embedded_ms: frame_ms,
                })
            } else {
                self.known.remove(&d.track)
            };
            if let Some(entry) = entry {
                known.insert(d.track, entry);
            }
        }
        self.known = known;
        let mut update = LiveUpdate {
            frame_ms,
            analyze_ms: t.elapsed().as_secs_f64() * 1e3,
            full_detection: pass == DetectPass::Full,
            embedded: embed.iter().filter(|e| **e).count(),
            ..LiveUpdate::default()
        };
        for m in &report.new_marks {
            let crop = if self.keep_crops {
                crop_png(pipeline, image, &faces, &detections, m.face_index)?
            } else {
                None
            };
            let mark = AutoMark {
                session: self.session.id,
                student: m.student,
                status: m.status,
                source: MarkSource::Auto,
                frame_ms,
                evidence: Some(m.evidence),
                model_id: Some(&self.encoder.id),
                evidence_crop: crop.as_deref(),
            };
            let outcome = out.write(&self.session, |store| store.record_auto_mark(&mark))?;
            if outcome == RecordOutcome::Marked {
                update.marked.push(NewMark {
                    student: m.student,
                    name: self.name(m.student),
                    status: m.status,
                    distance: m.evidence.distance,
                    margin: m.evidence.margin,
                });
            }
        }
        for s in &report.seen_again {
            out.write(&self.session, |store| {
                store.touch_last_seen(self.session.id, *s, frame_ms)
            })?;
        }
        for r in &report.reviews {
            // The crop is what the teacher looks at to decide; it is deleted once decided.
            let crop = crop_png(pipeline, image, &faces, &detections, r.face_index)?;
            out.write(&self.session, |store| {
                store.add_review(self.session.id, r, Some(&self.encoder.id), crop.as_deref())
            })?;
            update.reviews += 1;
        }
        update.faces = report
            .faces
            .iter()
            .map(|d| LiveFace {
                bbox: d.bbox,
                outcome: d.outcome,
                label: self.label(&d.outcome),
            })
            .collect();
        Ok(update)
    }

    /// For each box, the kept match of its settled track when the face need not be embedded
    /// in this frame. A settled face is embedded again once its match is `settled_refresh_ms`
    /// old; of several due in one frame only the most overdue is (so that checks spread over
    /// frames rather than piling up in one), unless a match is twice that old.
    fn reused_matches(&self, frame_ms: i64, boxes: &[BBox]) -> Vec<Option<KnownMatch>> {
        let refresh = self.tuning.settled_refresh_ms;
        if refresh <= 0 {
            return vec![None; boxes.len()];
        }
        let kept: Vec<Option<&KnownMatch>> = self
            .rollcall
            .settled_tracks(frame_ms, boxes)
            .into_iter()
            .map(|track| track.and_then(|id| self.known.get(&id)))
            .collect();
        let age = |k: &KnownMatch| frame_ms - k.embedded_ms;
        let most_overdue = kept
            .iter()
            .enumerate()
            .filter_map(|(i, k)| k.map(|k| (i, age(k))))
            .filter(|&(_, a)| a >= refresh)
            .max_by_key(|&(_, a)| a)
            .map(|(i, _)| i);
        kept.into_iter()
            .enumerate()
            .map(|(i, k)| {
                k.filter(|k| {
                    let a = age(k);
                    a >= 0 && (a < refresh || (Some(i) != most_overdue && a < 2 * refresh))
                })
                .cloned()
            })
            .collect()
    }

    /// A short label for a face's outcome.
    #[must_use]
    pub fn label(&self, outcome: &FaceOutcome) -> String {
        match *outcome {
            FaceOutcome::Marked { student, status } => format!("{} ({status})", self.name(student)),
            FaceOutcome::Seen { student } => self.name(student),
            FaceOutcome::Confirming {
                student,
                votes,
                needed,
            } => format!("{}? {votes}/{needed}", self.name(student)),
            FaceOutcome::Uncertain { candidate, reason } => match candidate {
                Some(c) => format!("{}? ({})", self.name(c.student), reason.describe()),
                None => "uncertain".to_owned(),
            },
            FaceOutcome::Unknown { .. } => "unknown".to_owned(),
        }
    }
}

/// The face crop of face `i` as PNG: its chip when it was embedded in this frame, else cut now
/// (a decided face that was not embedded again).
fn crop_png(
    pipeline: &FacePipeline,
    image: &RgbImage,
    faces: &[StreamFace],
    detections: &[FaceDetection],
    i: usize,
) -> anyhow::Result<Option<Vec<u8>>> {
    let chip = match faces.get(i).and_then(|f| f.chip.as_ref()) {
        Some(chip) => Some(image_io::encode_png(chip)?),
        None => detections
            .get(i)
            .map(|d| image_io::encode_png(&pipeline.chip(image, d)))
            .transpose()?,
    };
    Ok(chip)
}

/// Where the live engine writes its marks and reviews.
pub trait Writes {
    /// Runs `f` on the store in use for `session`. A lesson on a school server moves to its
    /// offline copy when the server goes away and runs `f` there.
    fn write<T>(
        &mut self,
        session: &SessionRow,
        f: impl Fn(&Store) -> crate::store::Result<T>,
    ) -> anyhow::Result<T>;
}

impl Writes for &Store {
    fn write<T>(
        &mut self,
        _session: &SessionRow,
        f: impl Fn(&Store) -> crate::store::Result<T>,
    ) -> anyhow::Result<T> {
        Ok(f(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops;

    /// A class of two from the demo photos, and frames of one of the photos (smaller),
    /// drifting sideways.
    fn class_and_frames() -> (Store, ClassId, FacePipeline, Vec<RgbImage>) {
        let dir = tempfile::tempdir().unwrap();
        let demo = crate::testdata::repo_file("assets/demo");
        std::fs::copy(demo.join("obama.jpg"), dir.path().join("Barack_Obama.jpg")).unwrap();
        std::fs::copy(demo.join("biden.jpg"), dir.path().join("Joe_Biden.jpg")).unwrap();
        let store = Store::open_in_memory().unwrap();
        let class = store.add_class("7B").unwrap();
        let pipeline = super::super::enroll::pipeline_for(&store).unwrap();
        super::super::enroll::import_folder(&store, &pipeline, dir.path(), class, "the office")
            .unwrap();
        let photo = image_io::load_rgb(&demo.join("obama.jpg")).unwrap();
        let photo = imageops::resize(&photo, 560, 420, imageops::FilterType::Triangle);
        let frames = (0..24)
            .map(|i| {
                let mut frame = RgbImage::from_pixel(640, 480, image::Rgb([40, 40, 44]));
                imageops::overlay(&mut frame, &photo, 4 + i * 3, 30);
                frame
            })
            .collect();
        (store, class, pipeline, frames)
    }

    fn run(
        store: &Store,
        class: ClassId,
        pipeline: &FacePipeline,
        frames: &[RgbImage],
        tuning: LiveTuning,
    ) -> (Vec<LiveUpdate>, SessionId) {
        let mut engine = LiveEngine::start(store, pipeline, class, None)
            .unwrap()
            .with_tuning(tuning);
        let session = engine.session().id;
        let start = engine.session().started_ms;
        let mut out = store;
        let updates = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                engine
                    .process(&mut out, pipeline, f, start + i as i64 * 100)
                    .unwrap()
            })
            .collect();
        store.stop_session(session).unwrap();
        (updates, session)
    }

    #[test]
    fn the_fast_settings_mark_the_same_student_with_less_work() {
        let (store, class, pipeline, frames) = class_and_frames();
        let (slow, slow_session) = run(&store, class, &pipeline, &frames, LiveTuning::REFERENCE);
        let (fast, fast_session) = run(&store, class, &pipeline, &frames, LiveTuning::default());
        let marks = |s| {
            store
                .marks(s)
                .unwrap()
                .iter()
                .map(|m| m.student)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            marks(slow_session).len(),
            1,
            "{:?}",
            slow.iter().map(|u| &u.faces).collect::<Vec<_>>()
        );
        assert_eq!(marks(fast_session), marks(slow_session));
        // The reference searches and embeds everything; the fast settings follow the face
        // between full detections (one a second: 3 in 2.4 s) and stop embedding it once
        // decided, except for the check every half second.
        assert!(
            slow.iter()
                .all(|u| u.full_detection && u.embedded == u.faces.len()),
            "{:?}",
            slow.iter().map(|u| u.faces.len()).collect::<Vec<_>>()
        );
        let full = fast.iter().filter(|u| u.full_detection).count();
        assert_eq!(
            full,
            3,
            "{:?}",
            fast.iter().map(|u| u.full_detection).collect::<Vec<_>>()
        );
        let embedded: usize = fast.iter().map(|u| u.embedded).sum();
        assert!(embedded < 12, "embedded {embedded} times in 24 frames");
        // Every frame still has the student's face, with the same decision as the reference.
        // (A one-frame false "face" the reference finds in a corner, unknown, is found by
        // the fast settings only if it is there at a full detection.)
        for (s, f) in slow.iter().zip(&fast) {
            for face in s
                .faces
                .iter()
                .filter(|g| !matches!(g.outcome, FaceOutcome::Unknown { .. }))
            {
                let same = f.faces.iter().find(|g| g.bbox.iou(&face.bbox) > 0.7);
                assert_eq!(same.map(|g| g.outcome), Some(face.outcome), "{s:?} {f:?}");
            }
        }
    }
}
