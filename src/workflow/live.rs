//! The live attendance engine, shared by `rollcall live` and the window: frames go through the
//! face pipeline, faces are ranked against the class's enrolled students, the roll-call rules
//! (`core::rollcall`) decide, and marks and review entries are written as they happen.

use std::collections::HashMap;
use std::time::Instant;

use image::RgbImage;

use super::encoders::reembed;
use crate::core::decision::DecisionRule;
use crate::core::rollcall::{FaceInput, FaceOutcome, RollCall, RollCallConfig};
use crate::core::tracker::TrackerConfig;
use crate::core::{BBox, ClassId, Gallery, MarkSource, SessionId, Status, StudentId};
use crate::store::{AutoMark, ClassRow, EncoderRow, RecordOutcome, SessionRow, Store};
use crate::vision::{FacePipeline, image_io};

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
        })
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
        let faces = pipeline.analyze(image)?;
        let mut inputs = Vec::with_capacity(faces.len());
        for f in &faces {
            inputs.push(FaceInput {
                bbox: f.bbox,
                ranking: self.gallery.rank(&f.embedding)?,
            });
        }
        let report = self.rollcall.observe(frame_ms, &inputs);
        let mut update = LiveUpdate {
            frame_ms,
            analyze_ms: t.elapsed().as_secs_f64() * 1e3,
            ..LiveUpdate::default()
        };
        for m in &report.new_marks {
            let crop = if self.keep_crops {
                faces
                    .get(m.face_index)
                    .map(|f| image_io::encode_png(&f.chip))
                    .transpose()?
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
            let crop = faces
                .get(r.face_index)
                .map(|f| image_io::encode_png(&f.chip))
                .transpose()?;
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
