//! What one MTCNN detection cost, stage by stage (work in multiply-accumulates and wall time),
//! and a small benchmark that repeats a detection and summarises it for a bench command.

use std::fmt;
use std::time::Duration;

use image::RgbImage;

use super::Mtcnn;
use super::nets::{ONET_MACS_PER_CROP, RNET_MACS_PER_CROP};
use crate::vision::VisionError;

/// Work and time of one detection, stage by stage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DetectStats {
    /// Pyramid levels P-Net ran on.
    pub scales: usize,
    /// Multiply-accumulates of P-Net over all levels.
    pub pnet_macs: u64,
    /// P-Net boxes left after its NMS passes.
    pub pnet_boxes: usize,
    /// Crops R-Net scored.
    pub rnet_crops: usize,
    /// Crops O-Net scored.
    pub onet_crops: usize,
    /// Faces returned.
    pub faces: usize,
    /// Time of stage 1 (area table, pyramid, P-Net, NMS).
    pub pnet_time: Duration,
    /// Time of stage 2 (crops, R-Net, NMS).
    pub rnet_time: Duration,
    /// Time of stage 3 (crops, O-Net, landmarks, NMS).
    pub onet_time: Duration,
    /// Time of the whole detection.
    pub total_time: Duration,
}

impl DetectStats {
    /// Multiply-accumulates of R-Net.
    #[must_use]
    pub fn rnet_macs(&self) -> u64 {
        self.rnet_crops as u64 * RNET_MACS_PER_CROP
    }

    /// Multiply-accumulates of O-Net.
    #[must_use]
    pub fn onet_macs(&self) -> u64 {
        self.onet_crops as u64 * ONET_MACS_PER_CROP
    }
}

/// The summary of [`bench_detect`]: mean stage times over the timed runs and the work of one.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Timed runs (after one untimed warm-up run).
    pub runs: usize,
    /// Mean stage times and the work of the last run.
    pub mean: DetectStats,
    /// The fastest whole detection.
    pub fastest: Duration,
    /// CPU time of all the process's threads per run (Linux only; includes the thread pool's
    /// idle spinning), a figure less sensitive than wall time to other load on the machine.
    pub cpu_per_run: Option<Duration>,
}

/// CPU time used so far by all threads of this process, from `/proc/self/task/*/schedstat`
/// (nanoseconds on the CPU); `None` where that is not available.
fn process_cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread may end between the listing and the read; it is skipped.
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// A stand-in for a 640 x 480 webcam frame made from a photo: the largest 4:3 region at the
/// top centre (where a portrait's face is), resized with a triangle filter.
#[must_use]
pub fn webcam_frame(photo: &RgbImage) -> RgbImage {
    let (w, h) = photo.dimensions();
    let (cw, ch) = if u64::from(w) * 3 > u64::from(h) * 4 {
        (h * 4 / 3, h)
    } else {
        (w, w * 3 / 4)
    };
    let region = image::imageops::crop_imm(photo, (w - cw) / 2, 0, cw.max(1), ch.max(1));
    image::imageops::resize(
        &region.to_image(),
        640,
        480,
        image::imageops::FilterType::Triangle,
    )
}

/// Runs `detector` on `image` once to warm up, then `runs` times, and summarises the times.
pub fn bench_detect(
    detector: &Mtcnn,
    image: &RgbImage,
    runs: usize,
) -> Result<BenchReport, VisionError> {
    let runs = runs.max(1);
    detector.detect_with_stats(image)?;
    let mut last = DetectStats::default();
    let mut totals = [Duration::ZERO; 4];
    let mut fastest = Duration::MAX;
    let cpu_start = process_cpu_time();
    for _ in 0..runs {
        let (_, s) = detector.detect_with_stats(image)?;
        fastest = fastest.min(s.total_time);
        for (total, t) in
            totals
                .iter_mut()
                .zip([s.pnet_time, s.rnet_time, s.onet_time, s.total_time])
        {
            *total += t;
        }
        last = s;
    }
    let n = runs as u32;
    let cpu_per_run = process_cpu_time()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start) / n);
    let mean = DetectStats {
        pnet_time: totals[0] / n,
        rnet_time: totals[1] / n,
        onet_time: totals[2] / n,
        total_time: totals[3] / n,
        ..last
    };
    Ok(BenchReport {
        width: image.width(),
        height: image.height(),
        runs,
        mean,
        fastest,
        cpu_per_run,
    })
}

/// Milliseconds, and the rate in GFLOP/s (two FLOPs per multiply-accumulate) of `macs` done in
/// `time`.
fn rate(macs: u64, time: Duration) -> (f64, f64) {
    let secs = time.as_secs_f64();
    let gflops = if secs > 0.0 {
        2.0 * macs as f64 / secs / 1e9
    } else {
        0.0
    };
    (secs * 1e3, gflops)
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.mean;
        writeln!(
            f,
            "MTCNN on {}x{}: mean {:.1} ms, fastest {:.1} ms over {} runs; {} faces",
            self.width,
            self.height,
            m.total_time.as_secs_f64() * 1e3,
            self.fastest.as_secs_f64() * 1e3,
            self.runs,
            m.faces
        )?;
        if let Some(cpu) = self.cpu_per_run {
            writeln!(
                f,
                "  CPU time {:.1} ms per run (all threads)",
                cpu.as_secs_f64() * 1e3
            )?;
        }
        let stages = [
            (
                "P-Net",
                m.pnet_macs,
                m.pnet_time,
                format!("{} levels", m.scales),
            ),
            (
                "R-Net",
                m.rnet_macs(),
                m.rnet_time,
                format!("{} crops", m.rnet_crops),
            ),
            (
                "O-Net",
                m.onet_macs(),
                m.onet_time,
                format!("{} crops", m.onet_crops),
            ),
        ];
        for (name, macs, time, work) in stages {
            let (ms, gflops) = rate(macs, time);
            writeln!(
                f,
                "  {name}: {:7.1} MFLOP ({work}) in {ms:6.1} ms = {gflops:5.1} GFLOP/s",
                2.0 * macs as f64 / 1e6
            )?;
        }
        let total = m.pnet_macs + m.rnet_macs() + m.onet_macs();
        let (ms, gflops) = rate(total, m.total_time);
        write!(
            f,
            "  all:   {:7.1} MFLOP in {ms:6.1} ms = {gflops:5.1} GFLOP/s",
            2.0 * total as f64 / 1e6
        )
    }
}
