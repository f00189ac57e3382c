//! Simple box tracking across frames: a face keeps its track id while its box overlaps the
//! box it had in the previous frame, so votes can be counted per person rather than per frame.

use super::geometry::BBox;

/// Identifies one tracked face within a session.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TrackId(pub u64);

/// Settings of the tracker.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackerConfig {
    /// Minimum intersection-over-union for a box to continue a track.
    pub min_iou: f32,
    /// A track not seen for this long is forgotten, once at least one analysed frame has
    /// gone by without it. When analysing a frame takes longer than this (a heavily loaded
    /// machine), a face that is still in the next frame keeps its track.
    pub timeout_ms: i64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            min_iou: 0.3,
            timeout_ms: 2_000,
        }
    }
}

#[derive(Clone, Debug)]
struct Track {
    id: TrackId,
    bbox: BBox,
    last_seen_ms: i64,
    /// Frames analysed since `last_seen_ms` in which this track found no box.
    missed_frames: u32,
}

impl Track {
    /// Whether this track is forgotten at a frame taken at `frame_ms`.
    fn expired_at(&self, frame_ms: i64, timeout_ms: i64) -> bool {
        self.missed_frames > 0 && frame_ms - self.last_seen_ms > timeout_ms
    }
}

/// Assigns track ids to face boxes frame after frame.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    /// A tracker with the given settings.
    #[must_use]
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Assigns a track id to each box of the frame taken at `frame_ms` (same order as
    /// `boxes`) and returns the ids of tracks that just expired.
    pub fn update(&mut self, frame_ms: i64, boxes: &[BBox]) -> (Vec<TrackId>, Vec<TrackId>) {
        // Forget tracks that have not been seen for too long.
        let timeout = self.config.timeout_ms;
        let mut expired = Vec::new();
        self.tracks.retain(|t| {
            let keep = !t.expired_at(frame_ms, timeout);
            if !keep {
                expired.push(t.id);
            }
            keep
        });

        let box_track = self.assign(frame_ms, boxes);

        let mut seen = vec![false; self.tracks.len()];
        let mut ids = Vec::with_capacity(boxes.len());
        for (bi, b) in boxes.iter().enumerate() {
            let id = if let Some(ti) = box_track[bi] {
                seen[ti] = true;
                let track = &mut self.tracks[ti];
                track.bbox = *b;
                track.last_seen_ms = frame_ms;
                track.missed_frames = 0;
                track.id
            } else {
                let id = TrackId(self.next_id);
                self.next_id += 1;
                self.tracks.push(Track {
                    id,
                    bbox: *b,
                    last_seen_ms: frame_ms,
                    missed_frames: 0,
                });
                id
            };
            ids.push(id);
        }
        for (track, seen) in self.tracks.iter_mut().zip(seen) {
            if !seen {
                track.missed_frames = track.missed_frames.saturating_add(1);
            }
        }
        (ids, expired)
    }

    /// The track each box of a frame taken at `frame_ms` would continue, without changing
    /// anything: what [`Tracker::update`] would assign, `None` where it would start a new track.
    #[must_use]
    pub fn peek(&self, frame_ms: i64, boxes: &[BBox]) -> Vec<Option<TrackId>> {
        self.assign(frame_ms, boxes)
            .into_iter()
            .map(|t| t.map(|ti| self.tracks[ti].id))
            .collect()
    }

    /// Greedy matching of boxes to the tracks still live at `frame_ms`: the most overlapping
    /// (track, box) pairs first. The index of each box's track in `self.tracks`.
    fn assign(&self, frame_ms: i64, boxes: &[BBox]) -> Vec<Option<usize>> {
        let timeout = self.config.timeout_ms;
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            if track.expired_at(frame_ms, timeout) {
                continue;
            }
            for (bi, b) in boxes.iter().enumerate() {
                let iou = track.bbox.iou(b);
                if iou >= self.config.min_iou {
                    pairs.push((iou, ti, bi));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut box_track: Vec<Option<usize>> = vec![None; boxes.len()];
        let mut track_used = vec![false; self.tracks.len()];
        for (_, ti, bi) in pairs {
            if box_track[bi].is_none() && !track_used[ti] {
                box_track[bi] = Some(ti);
                track_used[ti] = true;
            }
        }
        box_track
    }

    /// The number of live tracks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether no track is live.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_face_keeps_its_track_and_a_new_face_gets_a_new_one() {
        let mut t = Tracker::new(TrackerConfig::default());
        let (a, _) = t.update(0, &[BBox::new(0.0, 0.0, 100.0, 100.0)]);
        let (b, _) = t.update(
            33,
            &[
                BBox::new(10.0, 5.0, 100.0, 100.0),
                BBox::new(300.0, 0.0, 80.0, 80.0),
            ],
        );
        assert_eq!(a[0], b[0]);
        assert_ne!(b[0], b[1]);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn two_boxes_never_share_a_track() {
        let mut t = Tracker::new(TrackerConfig::default());
        let (a, _) = t.update(0, &[BBox::new(0.0, 0.0, 100.0, 100.0)]);
        let (b, _) = t.update(
            33,
            &[
                BBox::new(5.0, 0.0, 100.0, 100.0),
                BBox::new(0.0, 5.0, 100.0, 100.0),
            ],
        );
        assert_ne!(b[0], b[1]);
        assert!(b.contains(&a[0]));
    }

    #[test]
    fn tracks_expire_after_the_timeout() {
        let mut t = Tracker::new(TrackerConfig {
            min_iou: 0.3,
            timeout_ms: 100,
        });
        let (a, _) = t.update(0, &[BBox::new(0.0, 0.0, 10.0, 10.0)]);
        // Out of sight in one frame, and back after the timeout: a new track.
        let (_, expired) = t.update(50, &[]);
        assert!(expired.is_empty());
        assert_eq!(t.len(), 1);
        let (b, expired) = t.update(500, &[BBox::new(0.0, 0.0, 10.0, 10.0)]);
        assert_eq!(expired, a);
        assert_ne!(a[0], b[0]);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn frames_further_apart_than_the_timeout_keep_a_face_that_never_left() {
        // A loaded machine that takes 2.5 s per frame must not restart every track.
        let mut t = Tracker::new(TrackerConfig::default());
        let face = BBox::new(100.0, 100.0, 80.0, 80.0);
        let (first, _) = t.update(0, &[face]);
        for k in 1..=5 {
            let (ids, expired) = t.update(k * 2_500, &[face]);
            assert_eq!(ids, first, "frame {k}");
            assert!(expired.is_empty(), "frame {k}");
        }
        // Once a slow frame goes by without it, the next slow frame forgets it.
        let (_, expired) = t.update(15_000, &[]);
        assert!(expired.is_empty());
        let (again, expired) = t.update(17_500, &[face]);
        assert_eq!(expired, first);
        assert_ne!(again, first);
    }

    #[test]
    fn peek_tells_what_update_will_assign_without_changing_anything() {
        let mut t = Tracker::new(TrackerConfig {
            min_iou: 0.3,
            timeout_ms: 100,
        });
        let (a, _) = t.update(0, &[BBox::new(0.0, 0.0, 100.0, 100.0)]);
        let frame = [
            BBox::new(300.0, 0.0, 80.0, 80.0),
            BBox::new(8.0, 4.0, 100.0, 100.0),
        ];
        let peeked = t.peek(33, &frame);
        assert_eq!(peeked, vec![None, Some(a[0])]);
        // Peeking twice changes nothing.
        assert_eq!(t.peek(33, &frame), peeked);
        let (b, _) = t.update(33, &frame);
        assert_eq!(Some(b[1]), peeked[1]);
        assert_eq!(t.len(), 2);
        // After a frame without them, past the timeout, nothing would continue.
        t.update(66, &[]);
        assert_eq!(t.peek(66, &frame), vec![Some(b[0]), Some(b[1])]);
        assert_eq!(t.peek(500, &frame), vec![None, None]);
        assert_eq!(t.len(), 2);
    }
}
