//! A made-up class at real size, for trying the window and for its tests: synthetic students
//! (drawn faces, random embeddings with a few look-alike pairs), weeks of past sessions with
//! marks, and an open session with faces waiting for review. No real photo goes into it, and
//! the same seed always builds the same class.

use std::io::Cursor;

use super::db::params;

use super::{EncoderRow, NewEnrollment, Result, Store, StoreError};
use crate::core::{ClassId, Embedding, Metric, ReviewId, SessionId, StudentId};

/// What to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleSpec {
    /// The new class's name.
    pub class_name: String,
    /// Students in it (2 to 500).
    pub students: usize,
    /// Past, finished sessions (one per school day before today, up to 400).
    pub sessions: usize,
    /// Faces waiting for review in today's open session (up to 500).
    pub reviews: usize,
    /// The same seed builds the same class.
    pub seed: u64,
}

impl Default for SampleSpec {
    /// A class of 40 students, 30 sessions and 20 faces to review.
    fn default() -> Self {
        Self {
            class_name: "Sample 9C".to_owned(),
            students: 40,
            sessions: 30,
            reviews: 20,
            seed: 7,
        }
    }
}

/// What was built.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleClass {
    /// The class.
    pub class: ClassId,
    /// Its students, in the order they were added.
    pub students: Vec<StudentId>,
    /// The finished sessions, oldest first.
    pub past_sessions: Vec<SessionId>,
    /// Today's open session.
    pub open_session: SessionId,
    /// The faces waiting for review in it, oldest first.
    pub reviews: Vec<ReviewId>,
    /// Pairs of students whose embeddings were made close on purpose.
    pub look_alikes: Vec<(StudentId, StudentId)>,
}

const FIRST: [&str; 40] = [
    "Amara", "Ben", "Chiara", "Dmitri", "Elif", "Farah", "Gabriel", "Hana", "Ines", "Jonas",
    "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sami", "Tara", "Umar",
    "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Darius", "Esme", "Felix",
    "Greta", "Hugo", "Isla", "Jamal", "Kira", "Luca", "Maya", "Noah",
];
const LAST: [&str; 40] = [
    "Abara",
    "Bergstrom",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fontaine",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Takahashi",
    "Ulloa",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zielinski",
    "Andersen",
    "Bianchi",
    "Costa",
    "Dang",
    "Evans",
    "Fischer",
    "Gomez",
    "Horvat",
    "Ito",
    "Jovanovic",
    "Kim",
    "Lopez",
    "Mensah",
    "Novak",
];

/// The drawn faces' colours: skin, hair, shirt and background.
const SKIN: [[u8; 3]; 6] = [
    [241, 205, 176],
    [224, 172, 138],
    [198, 134, 96],
    [161, 102, 66],
    [120, 74, 48],
    [92, 56, 38],
];
const HAIR: [[u8; 3]; 6] = [
    [30, 24, 20],
    [80, 50, 30],
    [150, 100, 50],
    [200, 170, 110],
    [110, 40, 20],
    [60, 60, 60],
];
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// The sample's random draws, over the project's one deterministic generator.
struct Rng(crate::core::rng::SplitMix64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(1e-12);
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A random direction in `dim` dimensions.
    fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f64> = (0..dim).map(|_| self.normal()).collect();
        normalize(&v)
    }
}

fn normalize(v: &[f64]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (x / n) as f32).collect()
}

/// A unit vector at exactly `distance` from the unit vector `a` under `metric`.
fn vector_at(rng: &mut Rng, a: &[f32], distance: f32, metric: Metric) -> Vec<f32> {
    let d = f64::from(distance);
    let angle = match metric {
        Metric::Euclidean => 2.0 * (d / 2.0).clamp(0.0, 1.0).asin(),
        Metric::Cosine => (1.0 - d).clamp(-1.0, 1.0).acos(),
    };
    // A random direction orthogonal to `a`.
    let r = rng.unit_vector(a.len());
    let along: f64 = a
        .iter()
        .zip(&r)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let ortho: Vec<f64> = r
        .iter()
        .zip(a)
        .map(|(y, x)| f64::from(*y) - along * f64::from(*x))
        .collect();
    let u = normalize(&ortho);
    let v: Vec<f64> = a
        .iter()
        .zip(&u)
        .map(|(x, y)| angle.cos() * f64::from(*x) + angle.sin() * f64::from(*y))
        .collect();
    normalize(&v)
}

/// How a drawn face looks.
#[derive(Clone, Copy)]
struct Look {
    skin: [u8; 3],
    hair: [u8; 3],
    shirt: [u8; 3],
    background: [u8; 3],
    hair_length: f32,
}

impl Look {
    fn of(rng: &mut Rng) -> Self {
        let pastel = |rng: &mut Rng| {
            [
                rng.range(150.0, 235.0) as u8,
                rng.range(150.0, 235.0) as u8,
                rng.range(150.0, 235.0) as u8,
            ]
        };
        Self {
            skin: SKIN[rng.below(SKIN.len())],
            hair: HAIR[rng.below(HAIR.len())],
            shirt: [
                rng.range(40.0, 200.0) as u8,
                rng.range(40.0, 200.0) as u8,
                rng.range(40.0, 200.0) as u8,
            ],
            background: pastel(rng),
            hair_length: rng.range(0.0, 1.0) as f32,
        }
    }
}

/// Draws a simple face (head, hair, eyes, mouth, shoulders) as a PNG: a stand-in for an ID
/// photo, clearly not a real person. `shift` moves it (a camera's crop is never centred the
/// same way) and `light` scales the brightness.
fn draw_face(look: Look, size: u32, shift: (f32, f32), light: f32) -> Vec<u8> {
    let s = size as f32 / 112.0;
    let inside = |x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32| {
        let (dx, dy) = (
            (x - cx * s - shift.0) / (rx * s),
            (y - cy * s - shift.1) / (ry * s),
        );
        dx * dx + dy * dy <= 1.0
    };
    let img = image::RgbImage::from_fn(size, size, |px, py| {
        let (x, y) = (px as f32 + 0.5, py as f32 + 0.5);
        let mut c = look.background;
        if inside(x, y, 56.0, 128.0, 50.0, 30.0) {
            c = look.shirt;
        }
        if inside(
            x,
            y,
            56.0,
            52.0 + 14.0 * look.hair_length,
            35.0,
            30.0 + 14.0 * look.hair_length,
        ) {
            c = look.hair;
        }
        if inside(x, y, 56.0, 62.0, 28.0, 36.0) && !inside(x, y, 56.0, 30.0, 32.0, 16.0) {
            c = look.skin;
        }
        if inside(x, y, 45.0, 58.0, 3.5, 4.0) || inside(x, y, 67.0, 58.0, 3.5, 4.0) {
            c = [35, 30, 30];
        }
        let mouth = inside(x, y, 56.0, 76.0, 10.0, 6.0) && !inside(x, y, 56.0, 73.0, 11.0, 6.0);
        if mouth {
            c = [150, 60, 60];
        }
        image::Rgb(c.map(|v| (f32::from(v) * light).clamp(0.0, 255.0) as u8))
    });
    let mut png = Vec::new();
    // Encoding an in-memory RGB image as PNG cannot fail; an empty crop would only show as
    // "no photo".
    let _ = img.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png);
    png
}

/// 08:00 (UTC) on the school day `back` school days before `now` (weekends skipped).
fn school_day(now: i64, back: usize) -> i64 {
    let mut day = now.div_euclid(DAY_MS);
    let mut left = back;
    while left > 0 {
        day -= 1;
        // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays, 5 and 6 on weekends.
        if (day + 3).rem_euclid(7) < 5 {
            left -= 1;
        }
    }
    day * DAY_MS + 8 * 60 * MINUTE_MS
}

impl Store {
    /// Adds a made-up class of `spec.students` synthetic students with drawn photos and random
    /// embeddings from `encoder` (which must be registered), a few look-alike pairs among them,
    /// `spec.sessions` finished sessions on past school days with their marks, and an open
    /// session today with `spec.reviews` faces waiting for review. All in one transaction.
    #[allow(clippy::too_many_lines)] // One recipe, read top to bottom: students, then sessions, then today.
    pub fn add_sample_class(&self, spec: &SampleSpec, encoder: &EncoderRow) -> Result<SampleClass> {
        if !(2..=500).contains(&spec.students) || spec.sessions > 400 || spec.reviews > 500 {
            return Err(StoreError::Invalid(format!(
                "a sample class has 2 to 500 students, up to 400 sessions and up to 500 reviews \
                 (asked for {} students, {} sessions, {} reviews)",
                spec.students, spec.sessions, spec.reviews
            )));
        }
        self.encoder(&encoder.id)?;
        let class = self.add_class(&spec.class_name)?;
        let now = self.now_ms();
        // The students joined the day before the first session (a roll lists only members).
        let joined = school_day(now, spec.sessions) - DAY_MS;
        let mut rng = Rng(crate::core::rng::SplitMix64(spec.seed ^ 0x5EED));
        let threshold = encoder.default_threshold;
        let margin = encoder.default_margin;
        let built = self.in_transaction(|tx| {
            tx.execute(
                "UPDATE classes SET created_ms = ?2 WHERE id = ?1",
                params![class.0, joined],
            )?;
            // Students: every 17th has no consent (marked by hand), every 13th a photo warning.
            let mut students = Vec::new();
            let mut looks = Vec::new();
            let mut vectors: Vec<Option<Vec<f32>>> = Vec::new();
            for i in 0..spec.students {
                let first = FIRST[(i * 7) % FIRST.len()];
                let last = LAST[(i * 11 + i / LAST.len()) % LAST.len()];
                let id = super::students::insert_student(
                    tx,
                    &format!("{first} {last}"),
                    Some(&format!("S{:02}{:03}", class.0, i + 1)),
                    &[class],
                    joined,
                )?;
                let look = Look::of(&mut rng);
                looks.push(look);
                students.push(id);
                if i % 17 == 5 {
                    vectors.push(None);
                    continue;
                }
                super::consent::insert_consent(
                    tx,
                    id,
                    "Sample consent form",
                    super::consent::DEFAULT_PURPOSE,
                    joined,
                    "sample class",
                )?;
                vectors.push(Some(rng.unit_vector(encoder.dim)));
            }
            // Look-alike pairs: one per eight students, from well under the threshold to just
            // past it (they still count as look-alikes within the margin).
            let with_photo: Vec<usize> = (0..spec.students).filter(|&i| vectors[i].is_some()).collect();
            let pairs = (spec.students / 8).min(with_photo.len() / 2);
            let mut look_alikes = Vec::new();
            for k in 0..pairs {
                let a = with_photo[(k * 2) % with_photo.len()];
                let b = with_photo[(k * 2 + with_photo.len() / 2) % with_photo.len()];
                let t = if pairs > 1 { k as f32 / (pairs - 1) as f32 } else { 0.0 };
                let distance = (0.8 * threshold) + t * (0.2 * threshold + 0.9 * margin);
                let Some(va) = vectors[a].clone() else { continue };
                vectors[b] = Some(vector_at(&mut rng, &va, distance, encoder.metric));
                looks[b] = Look { skin: looks[a].skin, hair: looks[a].hair, ..looks[b] };
                look_alikes.push((students[a], students[b]));
            }
            for (i, &id) in students.iter().enumerate() {
                let Some(v) = &vectors[i] else { continue };
                let photo = draw_face(looks[i], 160, (0.0, 0.0), 1.0);
                let crop = draw_face(looks[i], 112, (0.0, 0.0), 1.0);
                let warnings: Vec<&str> = if i % 13 == 3 {
                    vec!["The face is small in the photo (62 px across): use a closer photo"]
                } else {
                    Vec::new()
                };
                let quality = serde_json::json!({ "figures": {}, "warnings": warnings }).to_string();
                let embedding = Embedding::new(encoder.id.clone(), v.clone())?;
                super::enrollment::write_enrollment(
                    tx,
                    id,
                    &NewEnrollment {
                        photo: &photo,
                        photo_format: "png",
                        face_crop: Some(&crop),
                        quality_json: Some(&quality),
                        embedding: Some(&embedding),
                    },
                    joined,
                )?;
            }
            // Past sessions: most students come nearly always, every ninth misses a third.
            let insert_session = |started: i64, ended: Option<i64>| -> super::db::DbResult<SessionId> {
                let id = tx.query_row(
                    "INSERT INTO sessions (class_id, started_ms, ended_ms, model_id, threshold, margin, late_after_minutes)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 10) RETURNING id",
                    params![class.0, started, ended, encoder.id.as_str(), f64::from(threshold), f64::from(margin)],
                    |r| r.get(0),
                )?;
                Ok(SessionId(id))
            };
            let insert_mark = |rng: &mut Rng, session: SessionId, student: StudentId, status: &str, source: &str, at: i64| -> super::db::DbResult<()> {
                let auto = source != "manual";
                let score = auto.then(|| rng.range(0.35, 0.75) * f64::from(threshold));
                let gap = auto.then(|| rng.range(0.2, 0.6));
                tx.execute(
                    "INSERT INTO marks (session_id, student_id, status, source, marked_ms, last_seen_ms, score, margin, model_id, frame_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9)",
                    params![session.0, student.0, status, source, at, score, gap,
                        auto.then(|| encoder.id.as_str()), auto.then_some(at)],
                )?;
                Ok(())
            };
            let mut past_sessions = Vec::new();
            for k in 0..spec.sessions {
                let started = school_day(now, spec.sessions - k);
                let session = insert_session(started, Some(started + 45 * MINUTE_MS))?;
                past_sessions.push(session);
                for (i, &student) in students.iter().enumerate() {
                    let attends = if i % 9 == 4 { 0.66 } else { 0.96 };
                    let manual = vectors[i].is_none();
                    if rng.unit() < attends {
                        let late = rng.unit() < 0.07;
                        let at = started
                            + if late { rng.range(11.0, 25.0) } else { rng.range(0.0, 9.0) } as i64 * MINUTE_MS;
                        let source = if manual { "manual" } else if rng.unit() < 0.06 { "review" } else { "auto" };
                        insert_mark(&mut rng, session, student, if late { "late" } else { "present" }, source, at)?;
                    } else if rng.unit() < 0.3 {
                        insert_mark(&mut rng, session, student, "excused", "manual", started)?;
                    }
                }
            }
            // Today: a session open since 25 minutes ago, most faces marked, some doubtful.
            let today = now - 25 * MINUTE_MS;
            let open_session = insert_session(today, None)?;
            let mut candidates: Vec<usize> = with_photo.clone();
            // Look-alikes first: they are the faces the engine doubts.
            candidates.sort_by_key(|&i| !look_alikes.iter().any(|&(a, b)| students[i] == a || students[i] == b));
            let doubted: Vec<usize> = (0..spec.reviews).map(|r| candidates[r % candidates.len()]).collect();
            for &i in &with_photo {
                if !doubted.contains(&i) && rng.unit() < 0.9 {
                    let at = today + rng.range(0.0, 12.0) as i64 * MINUTE_MS;
                    insert_mark(&mut rng, open_session, students[i], "present", "auto", at)?;
                }
            }
            let mut reviews = Vec::new();
            for (r, &i) in doubted.iter().enumerate() {
                let partner = look_alikes.iter().find_map(|&(a, b)| {
                    if a == students[i] { Some(b) } else if b == students[i] { Some(a) } else { None }
                });
                let runner_up = partner.or_else(|| {
                    let j = (i + 1 + rng.below(with_photo.len() - 1)) % spec.students;
                    vectors[j].as_ref().map(|_| students[j])
                }).filter(|&s| s != students[i]);
                let score = rng.range(0.86, 0.99) * f64::from(threshold);
                let runner_up_score = runner_up.map(|_| score + rng.range(0.1, 0.9) * f64::from(margin.max(0.01)));
                let reason = match r % 7 {
                    3 => "flickering",
                    6 => "duplicate_in_frame",
                    _ => "small_margin",
                };
                let frame_ms = today + (r as i64 + 1) * 40_000;
                let crop = draw_face(
                    looks[i],
                    112,
                    (rng.range(-6.0, 6.0) as f32, rng.range(-6.0, 6.0) as f32),
                    rng.range(0.75, 1.05) as f32,
                );
                let id = tx.query_row(
                    "INSERT INTO review_queue (session_id, candidate_student_id, score, margin, runner_up_student_id,
                       runner_up_score, model_id, reason, frame_ms, face_crop, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9) RETURNING id",
                    params![
                        open_session.0,
                        students[i].0,
                        score,
                        runner_up_score.map(|u| u - score),
                        runner_up.map(|s| s.0),
                        runner_up_score,
                        encoder.id.as_str(),
                        reason,
                        frame_ms,
                        crop,
                    ],
                    |r| r.get(0),
                )?;
                reviews.push(ReviewId(id));
            }
            Ok(SampleClass {
                class,
                students,
                past_sessions,
                open_session,
                reviews,
                look_alikes,
            })
        });
        if built.is_err() {
            // The class row was added outside the transaction: take it back.
            let _ = self
                .db()
                .execute("DELETE FROM classes WHERE id = ?1", [class.0]);
        }
        built
    }
}
