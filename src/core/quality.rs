//! Quality rules for the one enrollment photo: the figures come from the vision layer, the
//! judgement and the advice to the teacher are here.

/// What was measured on an enrollment photo.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct QualityFigures {
    /// Faces the detector found in the photo.
    pub faces_found: usize,
    /// Detection confidence of the chosen face, in `[0, 1]`.
    pub detection_score: f32,
    /// Distance between the eye centres, in pixels of the original photo.
    pub interocular_px: f32,
    /// Variance of the Laplacian of the grey face chip (higher = sharper).
    pub sharpness: f32,
    /// Mean grey level of the face chip, 0–255.
    pub brightness: f32,
    /// Share of face-chip pixels that are clipped to black or white.
    pub clipped_fraction: f32,
    /// Horizontal head turn from the landmarks: 0 = frontal, ±1 = profile.
    pub yaw: f32,
    /// Head tilt (roll) from the eye line, in degrees.
    pub roll_deg: f32,
}

/// Limits the figures are judged against.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityLimits {
    /// Below this eye distance the face is refused outright.
    pub min_interocular_px: f32,
    /// Below this eye distance the teacher is told to come closer.
    pub good_interocular_px: f32,
    /// Sharpness below this is "blurry".
    pub min_sharpness: f32,
    /// Mean grey level below this is "too dark".
    pub min_brightness: f32,
    /// Mean grey level above this is "too bright".
    pub max_brightness: f32,
    /// Clipped share above this is "over- or under-exposed".
    pub max_clipped_fraction: f32,
    /// |yaw| above this is "turned away".
    pub max_abs_yaw: f32,
    /// |roll| above this is "tilted".
    pub max_abs_roll_deg: f32,
    /// Detection score below this is "unclear face".
    pub min_detection_score: f32,
}

impl Default for QualityLimits {
    fn default() -> Self {
        Self {
            min_interocular_px: 12.0,
            good_interocular_px: 30.0,
            min_sharpness: 40.0,
            min_brightness: 50.0,
            max_brightness: 210.0,
            max_clipped_fraction: 0.2,
            max_abs_yaw: 0.35,
            max_abs_roll_deg: 20.0,
            min_detection_score: 0.9,
        }
    }
}

/// One problem with an enrollment photo.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum QualityIssue {
    /// No face at all.
    NoFace,
    /// Several faces: the largest was used.
    SeveralFaces(usize),
    /// The face is too small to use.
    FaceTooSmall(f32),
    /// The face is usable but small.
    FaceSmall(f32),
    /// The photo is blurry.
    Blurry(f32),
    /// The face is too dark.
    TooDark(f32),
    /// The face is too bright.
    TooBright(f32),
    /// Much of the face is clipped to black or white.
    BadExposure(f32),
    /// The head is turned to the side.
    TurnedAway(f32),
    /// The head is tilted.
    Tilted(f32),
    /// The detector is unsure this is a face.
    UnclearFace(f32),
}

impl QualityIssue {
    /// Whether the photo cannot be enrolled at all with this problem.
    #[must_use]
    pub fn is_blocking(&self) -> bool {
        matches!(self, Self::NoFace | Self::FaceTooSmall(_))
    }

    /// What the teacher should do about it.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::NoFace => {
                "No face found: take a photo facing the camera, with the whole face visible"
                    .to_owned()
            }
            Self::SeveralFaces(n) => {
                format!(
                    "{n} faces in the photo: the largest was used; take a photo of the student alone"
                )
            }
            Self::FaceTooSmall(px) => {
                format!(
                    "The face is too small ({px:.0} px between the eyes): move closer or crop the photo"
                )
            }
            Self::FaceSmall(px) => {
                format!(
                    "The face is small ({px:.0} px between the eyes): a closer photo will match better"
                )
            }
            Self::Blurry(v) => {
                format!("The photo is blurry (sharpness {v:.0}): hold still and focus")
            }
            Self::TooDark(v) => format!(
                "The face is too dark (brightness {v:.0}/255): add light in front of the face"
            ),
            Self::TooBright(v) => format!(
                "The face is too bright (brightness {v:.0}/255): avoid direct light or flash"
            ),
            Self::BadExposure(f) => format!(
                "{:.0}% of the face is pure black or white: avoid backlight and strong shadows",
                f * 100.0
            ),
            Self::TurnedAway(y) => {
                format!("The head is turned to the side (yaw {y:+.2}): look straight at the camera")
            }
            Self::Tilted(r) => format!("The head is tilted ({r:+.0}°): keep the head upright"),
            Self::UnclearFace(s) => {
                format!("The face is unclear (detector confidence {s:.2}): use a clearer photo")
            }
        }
    }
}

/// Judges the figures against the limits; an empty list means a good photo.
#[must_use]
pub fn assess(f: &QualityFigures, limits: &QualityLimits) -> Vec<QualityIssue> {
    let mut issues = Vec::new();
    if f.faces_found == 0 {
        issues.push(QualityIssue::NoFace);
        return issues;
    }
    if f.faces_found > 1 {
        issues.push(QualityIssue::SeveralFaces(f.faces_found));
    }
    if f.interocular_px < limits.min_interocular_px {
        issues.push(QualityIssue::FaceTooSmall(f.interocular_px));
    } else if f.interocular_px < limits.good_interocular_px {
        issues.push(QualityIssue::FaceSmall(f.interocular_px));
    }
    if f.detection_score < limits.min_detection_score {
        issues.push(QualityIssue::UnclearFace(f.detection_score));
    }
    if f.sharpness < limits.min_sharpness {
        issues.push(QualityIssue::Blurry(f.sharpness));
    }
    if f.brightness < limits.min_brightness {
        issues.push(QualityIssue::TooDark(f.brightness));
    } else if f.brightness > limits.max_brightness {
        issues.push(QualityIssue::TooBright(f.brightness));
    }
    if f.clipped_fraction > limits.max_clipped_fraction {
        issues.push(QualityIssue::BadExposure(f.clipped_fraction));
    }
    if f.yaw.abs() > limits.max_abs_yaw {
        issues.push(QualityIssue::TurnedAway(f.yaw));
    }
    if f.roll_deg.abs() > limits.max_abs_roll_deg {
        issues.push(QualityIssue::Tilted(f.roll_deg));
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> QualityFigures {
        QualityFigures {
            faces_found: 1,
            detection_score: 0.99,
            interocular_px: 60.0,
            sharpness: 200.0,
            brightness: 120.0,
            clipped_fraction: 0.01,
            yaw: 0.05,
            roll_deg: 2.0,
        }
    }

    #[test]
    fn a_good_photo_has_no_issues() {
        assert!(assess(&good(), &QualityLimits::default()).is_empty());
    }

    #[test]
    fn each_problem_is_reported_with_advice() {
        let limits = QualityLimits::default();
        assert_eq!(
            assess(&QualityFigures::default(), &limits),
            vec![QualityIssue::NoFace]
        );
        let bad = QualityFigures {
            faces_found: 3,
            detection_score: 0.5,
            interocular_px: 8.0,
            sharpness: 5.0,
            brightness: 20.0,
            clipped_fraction: 0.5,
            yaw: -0.6,
            roll_deg: 35.0,
        };
        let issues = assess(&bad, &limits);
        assert_eq!(issues.len(), 8);
        assert!(issues.iter().any(QualityIssue::is_blocking));
        assert!(issues.iter().all(|i| !i.message().is_empty()));
        let small = assess(
            &QualityFigures {
                interocular_px: 20.0,
                ..good()
            },
            &limits,
        );
        assert_eq!(small, vec![QualityIssue::FaceSmall(20.0)]);
        assert!(!small[0].is_blocking());
        assert!(small[0].message().contains("20 px"));
    }
}
