//! Tests of replay sources (timing on a manual clock, folders, corrupt and missing files,
//! animations) and of the capture thread (newest frame wins, retries, stopping).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

use super::*;

/// 2023-11-14 22:13:20 UTC, a round Unix time for the manual clock.
const T0: i64 = 1_700_000_000_000;
const MS: fn(u64) -> Duration = Duration::from_millis;

fn synthetic(frames: usize, pacing: Pacing, looping: bool, clock: Arc<dyn Clock>) -> ReplaySource {
    ReplaySource::synthetic(
        SyntheticOptions {
            frames,
            ..SyntheticOptions::default()
        },
        ReplayOptions { pacing, looping },
        clock,
    )
}

fn next(source: &mut impl FrameSource) -> Frame {
    source.next_frame().unwrap().expect("a frame")
}

/// A small image whose red channel says which one it is.
fn write_png(path: &Path, tag: u8) {
    RgbImage::from_pixel(8, 6, Rgb([tag, 0, 0]))
        .save(path)
        .unwrap();
}

fn tag(frame: &Frame) -> u8 {
    frame.image.get_pixel(4, 3)[0]
}

#[test]
fn replay_keeps_to_its_pace_on_a_manual_clock() {
    let clock = ManualClock::new(T0);
    let mut source = synthetic(10, Pacing::Fps(10.0), false, clock.clone());
    let stamps: Vec<i64> = (0..4).map(|_| next(&mut source).captured_ms - T0).collect();
    assert_eq!(stamps, [0, 100, 200, 300]);
    assert_eq!(clock.total_slept(), MS(300));
    // Work that takes 30 ms between frames shortens the wait instead of adding to it.
    clock.advance(MS(30));
    assert_eq!(next(&mut source).captured_ms - T0, 400);
    assert_eq!(clock.total_slept(), MS(370));
    // A consumer 350 ms late gets a frame at once, and the pace restarts from then: no burst.
    clock.advance(MS(450));
    assert_eq!(next(&mut source).captured_ms - T0, 850);
    assert_eq!(next(&mut source).captured_ms - T0, 950);
    let seqs: Vec<u64> = (0..3).map(|_| next(&mut source).seq).collect();
    assert_eq!(seqs, [7, 8, 9]);
    assert!(source.next_frame().unwrap().is_none());
}

#[test]
fn replay_plays_once_or_loops() {
    let clock = ManualClock::new(T0);
    let mut once = synthetic(3, Pacing::Unpaced, false, clock.clone());
    let seen: Vec<usize> = (0..3)
        .map(|_| synthetic_index(&next(&mut once).image).unwrap())
        .collect();
    assert_eq!(seen, [0, 1, 2]);
    assert!(once.next_frame().unwrap().is_none());
    assert!(once.next_frame().unwrap().is_none(), "ended stays ended");

    let mut looping = synthetic(3, Pacing::Unpaced, true, clock.clone());
    let frames: Vec<(u64, usize)> = (0..7)
        .map(|_| {
            let f = next(&mut looping);
            (f.seq, synthetic_index(&f.image).unwrap())
        })
        .collect();
    assert_eq!(
        frames,
        [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2), (6, 0)]
    );
    assert_eq!(clock.total_slept(), Duration::ZERO, "unpaced never sleeps");
}

#[test]
fn a_folder_replays_in_natural_order_and_skips_a_corrupt_frame() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("frame10.png"), 30);
    write_png(&dir.path().join("frame2.png"), 20);
    write_png(&dir.path().join("frame1.png"), 10);
    std::fs::write(dir.path().join("frame3.jpg"), b"\xff\xd8\xff\xe0 truncated").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
    std::fs::write(dir.path().join(".hidden.png"), "").unwrap();
    let clock = ManualClock::new(T0);
    let options = ReplayOptions {
        pacing: Pacing::Fps(5.0),
        looping: false,
    };
    let mut source = ReplaySource::folder(dir.path(), options, clock.clone()).unwrap();
    assert_eq!(source.len(), 4);
    assert_eq!(tag(&next(&mut source)), 10);
    assert_eq!(tag(&next(&mut source)), 20);
    let err = source.next_frame().unwrap_err();
    assert!(err.is_corrupt_frame(), "{err}");
    assert!(err.to_string().contains("frame3.jpg"), "{err}");
    let last = next(&mut source);
    assert_eq!((tag(&last), last.seq, last.captured_ms - T0), (30, 2, 400));
    assert!(source.next_frame().unwrap().is_none());
}

#[test]
fn the_capture_thread_counts_corrupt_frames_it_skipped() {
    let source = ReplaySource::synthetic(
        SyntheticOptions {
            frames: 6,
            corrupt: vec![1, 4],
            ..SyntheticOptions::default()
        },
        ReplayOptions {
            pacing: Pacing::Unpaced,
            looping: false,
        },
        SystemClock::shared(),
    );
    let thread = CameraThread::spawn(Box::new(source), Box::new(|| {})).unwrap();
    let mut got = Vec::new();
    loop {
        match thread.next(Duration::from_secs(10)) {
            NextFrame::Frame(f) => got.push(f.seq),
            NextFrame::Ended => break,
            NextFrame::TimedOut => panic!("no frame in 10 s"),
        }
    }
    let stats = thread.stats();
    assert_eq!(stats.captured, 4);
    assert_eq!(stats.corrupt_skipped, 2);
    assert_eq!(stats.taken + stats.dropped, 4);
    assert!(stats.ended);
    assert!(stats.last_error.unwrap().contains("synthetic frame 4"));
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
}

#[test]
fn missing_empty_and_unreadable_folders_are_clear_errors() {
    let clock = SystemClock::shared();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = ReplaySource::open_path(&missing, ReplayOptions::default(), clock.clone())
        .err()
        .unwrap();
    assert!(matches!(err, CameraError::ReplayNotFound { .. }), "{err}");
    assert!(err.to_string().contains("no such file or folder"));

    std::fs::write(dir.path().join("readme.txt"), "hello").unwrap();
    let err = ReplaySource::open_path(dir.path(), ReplayOptions::default(), clock.clone())
        .err()
        .unwrap();
    assert!(matches!(err, CameraError::EmptyFolder { .. }), "{err}");

    // Only broken images: each is skipped once, then the replay gives up.
    std::fs::write(dir.path().join("a.png"), b"garbage").unwrap();
    std::fs::write(dir.path().join("b.jpg"), b"").unwrap();
    let looping = ReplayOptions {
        pacing: Pacing::Unpaced,
        looping: true,
    };
    let mut source = ReplaySource::open_path(dir.path(), looping, clock.clone()).unwrap();
    assert!(source.next_frame().unwrap_err().is_corrupt_frame());
    assert!(source.next_frame().unwrap_err().is_corrupt_frame());
    let err = source.next_frame().unwrap_err();
    assert!(matches!(err, CameraError::NoReadableFrames { .. }), "{err}");
    assert!(!err.is_transient() && !err.is_corrupt_frame());

    // A broken single image fails at open: there is nothing to skip to.
    let err = ReplaySource::open_path(&dir.path().join("a.png"), looping, clock)
        .err()
        .unwrap();
    assert!(matches!(err, CameraError::Replay { .. }), "{err}");
}

#[test]
fn a_single_image_plays_once_or_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class.png");
    write_png(&path, 77);
    let clock = ManualClock::new(T0);
    let once = ReplayOptions {
        pacing: Pacing::Fps(2.0),
        looping: false,
    };
    let mut source = ReplaySource::open_path(&path, once, clock.clone()).unwrap();
    assert_eq!(tag(&next(&mut source)), 77);
    assert!(source.next_frame().unwrap().is_none());
    let repeat = ReplayOptions {
        looping: true,
        ..once
    };
    let mut source = ReplaySource::image(&path, repeat, clock.clone()).unwrap();
    let stamps: Vec<i64> = (0..3).map(|_| next(&mut source).captured_ms).collect();
    assert_eq!(stamps[2] - stamps[0], 1_000);
}

#[test]
fn an_animated_gif_replays_with_its_own_frame_delays() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame as GifFrame, Rgba, RgbaImage};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.gif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut encoder = GifEncoder::new(file);
        for (shade, delay_ms) in [(10_u8, 50_u32), (120, 200), (250, 50)] {
            let image = RgbaImage::from_pixel(8, 6, Rgba([shade, 0, 0, 255]));
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder
                .encode_frame(GifFrame::from_parts(image, 0, 0, delay))
                .unwrap();
        }
    }
    let clock = ManualClock::new(T0);
    let mut source = ReplaySource::open_path(&path, ReplayOptions::default(), clock).unwrap();
    assert_eq!(source.len(), 3);
    let frames: Vec<(i64, u8)> = (0..3)
        .map(|_| {
            let f = next(&mut source);
            (f.captured_ms - T0, tag(&f))
        })
        .collect();
    // GIF stores delays in 10 ms units: 50 ms and 200 ms survive exactly. Red 10/120/250 come
    // back within the GIF palette's rounding.
    assert_eq!(frames.iter().map(|f| f.0).collect::<Vec<_>>(), [0, 50, 250]);
    assert!(
        frames
            .iter()
            .zip([10_u8, 120, 250])
            .all(|(f, want)| f.1.abs_diff(want) <= 8)
    );
    assert!(source.next_frame().unwrap().is_none());
}

#[test]
fn newest_frame_wins_when_nobody_takes_frames() {
    let source = synthetic(50, Pacing::Fps(200.0), false, SystemClock::shared());
    let thread = CameraThread::spawn(Box::new(source), Box::new(|| {})).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !thread.is_ended() {
        assert!(Instant::now() < deadline, "the source did not end");
        std::thread::sleep(MS(2));
    }
    let frame = thread.try_take().expect("the newest frame waits");
    assert_eq!(frame.seq, 49);
    assert_eq!(synthetic_index(&frame.image), Some(49));
    let stats = thread.stats();
    assert_eq!((stats.captured, stats.dropped, stats.taken), (50, 49, 1));
    assert!(matches!(thread.next(MS(10)), NextFrame::Ended));
}

#[test]
fn a_slow_consumer_gets_ever_newer_frames_and_the_rest_are_counted_as_dropped() {
    // A 200 fps camera for one second; recognition takes 20 ms a frame.
    let source = synthetic(200, Pacing::Fps(200.0), false, SystemClock::shared());
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&wakes);
    let wake = Box::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let thread = CameraThread::spawn(Box::new(source), wake).unwrap();
    let mut seqs = Vec::new();
    loop {
        match thread.next(Duration::from_secs(10)) {
            NextFrame::Frame(frame) => {
                seqs.push(frame.seq);
                std::thread::sleep(MS(20)); // slow recognition
            }
            NextFrame::Ended => break,
            NextFrame::TimedOut => panic!("no frame in 10 s"),
        }
    }
    let stats = thread.stats();
    assert_eq!(stats.captured, 200);
    assert_eq!(stats.taken, seqs.len() as u64);
    assert_eq!(
        stats.taken + stats.dropped,
        200,
        "every frame is taken or dropped"
    );
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(*seqs.last().unwrap(), 199, "the last frame is never lost");
    assert!(wakes.load(Ordering::Relaxed) >= 200, "a wake-up per frame");
}

#[test]
fn an_unpaced_replay_hands_every_frame_to_a_slow_consumer() {
    let source = synthetic(30, Pacing::Unpaced, false, SystemClock::shared());
    let thread = CameraThread::spawn(Box::new(source), Box::new(|| {})).unwrap();
    let mut seqs = Vec::new();
    while let NextFrame::Frame(frame) = thread.next(Duration::from_secs(10)) {
        seqs.push(frame.seq);
        std::thread::sleep(MS(2));
    }
    assert_eq!(seqs, (0..30).collect::<Vec<u64>>());
    let stats = thread.stats();
    assert_eq!((stats.captured, stats.taken, stats.dropped), (30, 30, 0));
}

/// A camera that fails like an unplugged one a few times, then streams.
struct Flaky {
    failures_left: usize,
    fatal: bool,
    seq: u64,
}

impl FrameSource for Flaky {
    fn name(&self) -> String {
        "flaky camera".into()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        if self.fatal {
            return Err(CameraError::PermissionDenied {
                device: "/dev/video0".into(),
                hint: "join the video group".into(),
            });
        }
        if self.failures_left > 0 {
            self.failures_left -= 1;
            return Err(CameraError::Disconnected {
                device: "/dev/video0".into(),
            });
        }
        std::thread::sleep(MS(2));
        self.seq += 1;
        Ok(Some(Frame {
            image: RgbImage::new(4, 4),
            captured_ms: T0,
            seq: self.seq - 1,
        }))
    }
}

#[test]
fn the_thread_retries_an_unplugged_camera_and_resumes() {
    let source = Flaky {
        failures_left: 3,
        fatal: false,
        seq: 0,
    };
    let backoff = Backoff::new(MS(1), MS(4));
    let thread = CameraThread::spawn_with(Box::new(source), Box::new(|| {}), backoff).unwrap();
    let NextFrame::Frame(frame) = thread.next(Duration::from_secs(10)) else {
        panic!("no frame after the camera came back");
    };
    assert_eq!(frame.image.dimensions(), (4, 4));
    let stats = thread.stats();
    assert!(stats.captured >= 1);
    assert_eq!(stats.retries, 3);
    assert!(!stats.retrying && !stats.ended);
    assert_eq!(stats.last_error, None, "cleared once frames flow again");
}

#[test]
fn a_fatal_error_ends_the_thread_with_the_message() {
    let source = Flaky {
        failures_left: 0,
        fatal: true,
        seq: 0,
    };
    let thread = CameraThread::spawn(Box::new(source), Box::new(|| {})).unwrap();
    assert!(matches!(
        thread.next(Duration::from_secs(10)),
        NextFrame::Ended
    ));
    let stats = thread.stats();
    assert!(stats.ended);
    assert!(stats.last_error.unwrap().contains("join the video group"));
    assert_eq!(stats.retries, 0);
}

/// A source stuck in a driver call.
struct Stuck;

impl FrameSource for Stuck {
    fn name(&self) -> String {
        "stuck".into()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        std::thread::sleep(Duration::from_secs(30));
        Ok(None)
    }
}

#[test]
fn stopping_is_prompt_and_never_hangs_on_a_stuck_source() {
    let source = synthetic(1_000, Pacing::Fps(10.0), true, SystemClock::shared());
    let mut thread = CameraThread::spawn(Box::new(source), Box::new(|| {})).unwrap();
    assert!(matches!(
        thread.next(Duration::from_secs(10)),
        NextFrame::Frame(_)
    ));
    let started = Instant::now();
    thread.stop();
    assert!(started.elapsed() < STOP_WAIT, "{:?}", started.elapsed());
    assert!(thread.is_ended());

    let stuck = CameraThread::spawn(Box::new(Stuck), Box::new(|| {})).unwrap();
    let started = Instant::now();
    drop(stuck);
    assert!(started.elapsed() < STOP_WAIT + Duration::from_secs(2));
}

#[test]
fn the_demo_camera_needs_no_files_and_loops() {
    let clock = ManualClock::new(T0);
    let mut demo = SourceSpec::Demo.open_with_clock(clock.clone()).unwrap();
    assert_eq!(demo.name(), DEMO_NAME);
    let first = next(&mut demo);
    let second = next(&mut demo);
    assert_eq!(first.image.dimensions(), (640, 480));
    assert_eq!(second.captured_ms - first.captured_ms, 83, "12 fps");
    assert_ne!(first.image, second.image);
}
