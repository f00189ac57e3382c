//! `rollcall cameras`: the cameras this machine has and their formats, and a check that runs a
//! source for a few seconds and prints its frame rate; plus [`SourceArgs`], the `--camera` /
//! `--replay` options that every command reading frames flattens in.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{outln, table};
use crate::camera::{
    self, CameraDevice, CameraThread, Clock as _, NextFrame, Pacing, ReplayOptions, Scan,
    SourceSpec, SystemClock,
};

/// Where frames come from: `--camera N|NAME|demo`, or `--replay PATH` with `--fps`/`--loop`.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct SourceArgs {
    /// The camera: its number or name as `rollcall cameras` lists them, or `demo` for the
    /// built-in demo camera [default: the first camera, else the demo camera].
    #[arg(long, value_name = "N|NAME|demo", conflicts_with = "replay")]
    pub camera: Option<String>,
    /// Replay instead of a camera: a folder of images (played in name order), one image, or
    /// an animated GIF, PNG or WebP.
    #[arg(long, value_name = "PATH")]
    pub replay: Option<PathBuf>,
    /// Replay rate, frames per second; 0 plays as fast as frames are taken [default: the
    /// file's own timing, else 10].
    #[arg(long, value_name = "FPS", requires = "replay")]
    pub fps: Option<f64>,
    /// Replay in a loop instead of once.
    #[arg(long = "loop", requires = "replay")]
    pub looping: bool,
}

impl SourceArgs {
    /// The source these options name. With neither `--camera` nor `--replay` it is the first
    /// camera, or the demo camera when there is none; the note then says why.
    pub fn spec(&self) -> anyhow::Result<(SourceSpec, Option<String>)> {
        if let Some(path) = &self.replay {
            let options = ReplayOptions {
                pacing: Pacing::from_fps(self.fps)?,
                looping: self.looping,
            };
            return Ok((
                SourceSpec::Replay {
                    path: path.clone(),
                    options,
                },
                None,
            ));
        }
        Ok(match &self.camera {
            Some(text) => (SourceSpec::parse_camera(text), None),
            None => SourceSpec::camera_or_demo(),
        })
    }
}

/// Options of `rollcall cameras`.
#[derive(Debug, clap::Args)]
pub struct CamerasArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Print the raw record of every video node (Linux), for bug reports and test data.
    #[arg(long, conflicts_with_all = ["json", "check"])]
    pub nodes: bool,
    /// Instead of listing, run the source chosen with --camera/--replay for this many seconds
    /// and print its frame rate, drops and errors.
    #[arg(long, value_name = "SECONDS")]
    pub check: Option<f64>,
    /// With --check: pretend each frame takes this long to process (a slow recogniser), to see
    /// frames being dropped instead of piling up.
    #[arg(long, value_name = "MS", default_value_t = 0, requires = "check")]
    pub work_ms: u64,
    /// The source for --check.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs `rollcall cameras`.
pub fn run(args: &CamerasArgs) -> anyhow::Result<()> {
    if let Some(seconds) = args.check {
        return check(&args.source, seconds, args.work_ms);
    }
    if args.nodes {
        #[cfg(target_os = "linux")]
        outln!("{}", serde_json::to_string_pretty(&camera::probe_nodes())?);
        #[cfg(not(target_os = "linux"))]
        anyhow::bail!("--nodes lists V4L2 nodes, which only Linux has");
        #[cfg(target_os = "linux")]
        return Ok(());
    }
    let scan = camera::list_cameras().context("listing the cameras")?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&json_view(&scan))?);
        return Ok(());
    }
    print_scan(&scan);
    Ok(())
}

fn json_view(scan: &Scan) -> serde_json::Value {
    let cameras: Vec<serde_json::Value> = scan
        .cameras
        .iter()
        .map(|c| {
            serde_json::json!({
                "index": c.index,
                "name": c.name,
                "bus": c.bus,
                "path": c.path,
                "driver": c.driver,
                "usable": c.usable(),
                "problem": c.problem.as_ref().map(|p| p.to_error(&c.label()).to_string()),
                "chosen_format": camera::choose_format(&c.formats),
                "formats": c.formats,
            })
        })
        .collect();
    let skipped: Vec<serde_json::Value> = scan
        .skipped
        .iter()
        .map(|(path, reason)| serde_json::json!({ "path": path, "reason": reason }))
        .collect();
    serde_json::json!({ "cameras": cameras, "not_cameras": skipped })
}

fn print_scan(scan: &Scan) {
    if scan.cameras.is_empty() {
        outln!("No camera found.");
        outln!("  - Is it plugged in? On Linux, `ls /dev/video*` lists the video devices.");
        outln!("  - Laptop cameras can be switched off by a key, a shutter or the firmware.");
        outln!(
            "You can still use rollcall: `--camera demo` plays the built-in demo camera, and \
             `--replay FOLDER` plays a folder of photos."
        );
    } else {
        let rows: Vec<Vec<String>> = scan
            .cameras
            .iter()
            .map(|c| {
                vec![
                    c.index.to_string(),
                    c.name.clone(),
                    c.path.clone().unwrap_or_default(),
                    c.bus.clone().unwrap_or_default(),
                    status(c),
                ]
            })
            .collect();
        table::print(&["#", "name", "device", "bus", "uses"], &rows);
        for c in &scan.cameras {
            if c.formats.is_empty() {
                continue;
            }
            outln!("\n{} {}:", c.index, c.name);
            for line in format_lines(c) {
                outln!("  {line}");
            }
        }
        outln!(
            "\nChoose one with --camera N or --camera NAME; --camera demo plays the demo camera."
        );
    }
    if !scan.skipped.is_empty() {
        outln!("\nVideo devices that are not cameras (left out):");
        for (path, reason) in &scan.skipped {
            outln!("  {path}: {reason}");
        }
    }
}

/// What the camera will be opened with, or why it cannot be.
fn status(camera: &CameraDevice) -> String {
    if let Some(problem) = &camera.problem {
        return format!("cannot be used: {}", problem.to_error(&camera.label()));
    }
    match camera::choose_format(&camera.formats) {
        Some(f) => format!("{} {}x{} at {} fps", f.fourcc, f.width, f.height, f.fps),
        None if camera.formats.is_empty() => "formats known once opened".to_owned(),
        None => "no decodable format".to_owned(),
    }
}

/// One line per pixel format: "MJPG  1280x720 (30), 640x480 (30, 15)".
fn format_lines(camera: &CameraDevice) -> Vec<String> {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for f in &camera.formats {
        let rates = f
            .fps
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let size = format!("{}x{} ({rates})", f.width, f.height);
        match lines.iter_mut().find(|(fourcc, _)| *fourcc == f.fourcc) {
            Some((_, sizes)) => sizes.push(size),
            None => lines.push((f.fourcc.clone(), vec![size])),
        }
    }
    lines
        .into_iter()
        .map(|(fourcc, sizes)| {
            let readable = if camera::DECODABLE_FOURCCS.contains(&fourcc.as_str()) {
                ""
            } else {
                " [not decodable]"
            };
            format!("{fourcc:<5} {}{readable}", sizes.join(", "))
        })
        .collect()
}

/// Runs the source for `seconds` through the capture thread and prints what it measured.
fn check(source: &SourceArgs, seconds: f64, work_ms: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0,
        "--check takes a number of seconds between 0 and 3600"
    );
    let (spec, note) = source.spec()?;
    if let Some(note) = note {
        outln!("Using the demo camera: {note}");
    }
    let frames = spec
        .open()
        .with_context(|| format!("opening {}", spec.label()))?;
    let mut thread = CameraThread::spawn(frames, Box::new(|| {}))?;
    let clock = SystemClock::new();
    let started = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let (mut taken, mut age_ms_sum, mut size) = (0_u64, 0_i64, None);
    let mut last_seq = None;
    let mut seq_gaps = 0_u64;
    while started.elapsed() < duration {
        match thread.next(Duration::from_millis(200)) {
            NextFrame::Frame(frame) => {
                taken += 1;
                age_ms_sum += clock.wall_ms() - frame.captured_ms;
                size = Some(frame.image.dimensions());
                if let Some(last) = last_seq {
                    seq_gaps += frame.seq.saturating_sub(last + 1);
                }
                last_seq = Some(frame.seq);
                if work_ms > 0 {
                    std::thread::sleep(Duration::from_millis(work_ms));
                }
            }
            NextFrame::TimedOut => {}
            NextFrame::Ended => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = thread.stats();
    thread.stop();
    outln!(
        "{}: {elapsed:.1} s{}",
        stats.source,
        if stats.ended {
            " (the source ended)"
        } else {
            ""
        }
    );
    outln!(
        "  captured {} frames ({:.1} fps overall, {:.1} fps in the last second)",
        stats.captured,
        stats.captured as f64 / elapsed,
        stats.fps
    );
    outln!(
        "  taken {taken} ({:.1} per second{}), dropped {} (newest frame wins; {seq_gaps} \
         sequence gaps seen), damaged skipped {}, retries {}",
        taken as f64 / elapsed,
        if work_ms > 0 {
            format!(" with {work_ms} ms of work per frame")
        } else {
            String::new()
        },
        stats.dropped,
        stats.corrupt_skipped,
        stats.retries
    );
    if let Some((w, h)) = size {
        outln!(
            "  frames {w}x{h}; mean age when taken {:.1} ms",
            age_ms_sum as f64 / taken.max(1) as f64
        );
    }
    if let Some(error) = &stats.last_error {
        if taken == 0 {
            anyhow::bail!("{error}");
        }
        outln!("  last error: {error}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::DeviceSelector;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        source: SourceArgs,
    }

    fn parse(args: &[&str]) -> Result<SourceArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|w| w.source)
    }

    #[test]
    fn source_options_parse_into_specs() {
        let (spec, note) = parse(&["--camera", "2"]).unwrap().spec().unwrap();
        assert_eq!(spec, SourceSpec::Camera(DeviceSelector::Index(2)));
        assert!(note.is_none());
        let (spec, _) = parse(&["--camera", "Demo"]).unwrap().spec().unwrap();
        assert_eq!(spec, SourceSpec::Demo);
        let (spec, _) = parse(&["--camera", "HD Pro Webcam"])
            .unwrap()
            .spec()
            .unwrap();
        assert_eq!(
            spec,
            SourceSpec::Camera(DeviceSelector::Name("HD Pro Webcam".into()))
        );
        let (spec, _) = parse(&["--replay", "clips", "--fps", "0", "--loop"])
            .unwrap()
            .spec()
            .unwrap();
        assert_eq!(
            spec,
            SourceSpec::Replay {
                path: "clips".into(),
                options: ReplayOptions {
                    pacing: Pacing::Unpaced,
                    looping: true
                }
            }
        );
    }

    #[test]
    fn contradictory_or_bad_source_options_are_refused() {
        assert!(parse(&["--camera", "0", "--replay", "x"]).is_err());
        assert!(parse(&["--fps", "5"]).is_err(), "--fps needs --replay");
        let bad_rate = parse(&["--replay", "x", "--fps=-3"]).unwrap();
        let err = bad_rate.spec().unwrap_err().to_string();
        assert!(err.contains("between 0"), "{err}");
    }

    #[test]
    fn without_options_it_is_a_camera_or_the_demo_camera_with_a_note() {
        let (spec, note) = SourceArgs::default().spec().unwrap();
        match spec {
            SourceSpec::Demo => assert!(note.is_some()),
            SourceSpec::Camera(DeviceSelector::First) => assert!(note.is_none()),
            other => panic!("unexpected {other:?}"),
        }
    }
}
