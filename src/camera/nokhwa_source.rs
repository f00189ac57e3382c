//! The webcam, through nokhwa.
//!
//! nokhwa's `Camera` may not move between threads, so it lives on a small worker thread that
//! answers one frame request at a time (no queue, so no stale frames: nokhwa issue #140). The
//! worker opens the camera on the first request, finding it again by name and bus each time
//! (its `/dev/videoN` number can change on replug: nokhwa issue #215), asks for MJPEG 640×480 at
//! 30 fps or the closest decodable format, and closes it after a failed read (nokhwa issue #47)
//! so the next request reopens it. [`NokhwaSource::next_frame`] gives up waiting after
//! [`STALL_TIMEOUT`]; the capture thread retries transient errors with backoff.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::Duration;

use image::RgbImage;
use nokhwa::Camera;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution,
};

use super::clock::Clock;
use super::devices::{CameraChoice, ChosenFormat, DeviceSelector, Scan, choose_format};
use super::error::{CameraError, ErrorKind, classify_message, open_error, read_error};

use super::{Frame, FrameSource, PREFERRED_FPS, PREFERRED_HEIGHT, PREFERRED_WIDTH};

/// How long to wait for a frame before reporting the camera as stalled.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(5);
const WORKER_NAME: &str = "rollcall-camera-device";

/// Lists the cameras (and, on Linux, the video nodes that are not cameras).
pub fn list_cameras() -> Result<Scan, CameraError> {
    #[cfg(target_os = "linux")]
    {
        Ok(super::devices::scan_nodes(&super::v4l_probe::probe_nodes()))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let infos =
            nokhwa::query(nokhwa::utils::ApiBackend::Auto).map_err(|e| CameraError::Open {
                device: "the camera list".to_owned(),
                message: e.to_string(),
            })?;
        Ok(Scan {
            cameras: infos
                .iter()
                .enumerate()
                .map(|(i, info)| super::devices::CameraDevice {
                    index: info.index().as_index().unwrap_or(i as u32),
                    name: info.human_name(),
                    bus: Some(info.misc()).filter(|m| !m.is_empty()),
                    path: None,
                    driver: None,
                    formats: Vec::new(),
                    problem: None,
                })
                .collect(),
            skipped: Vec::new(),
        })
    }
}

/// The webcam as a [`FrameSource`].
pub struct NokhwaSource {
    target: Target,
    clock: Arc<dyn Clock>,
    worker: Option<Worker>,
    /// Whether a frame ever came; after that every failure is treated as transient.
    streamed: bool,
    seq: u64,
}

/// What the worker looks for.
#[derive(Debug, Clone)]
struct Target {
    choice: CameraChoice,
    label: String,
}

type Reply = Result<RgbImage, CameraError>;

struct Worker {
    requests: SyncSender<()>,
    replies: Receiver<Reply>,
    pending: bool,
}

impl NokhwaSource {
    /// Finds the camera now (a quick look at the device list; errors say "no camera",
    /// "permission denied", "no usable format"); it is opened on the first frame.
    pub fn open(selector: &DeviceSelector, clock: Arc<dyn Clock>) -> Result<Self, CameraError> {
        let scan = list_cameras()?;
        let camera = selector.select(&scan)?;
        Ok(Self {
            target: Target {
                choice: CameraChoice::of(camera),
                label: camera.label(),
            },
            clock,
            worker: None,
            streamed: false,
            seq: 0,
        })
    }

    /// The camera to remember in settings.
    #[must_use]
    pub fn choice(&self) -> &CameraChoice {
        &self.target.choice
    }

    fn stopped(&mut self, what: &str) -> CameraError {
        self.worker = None;
        CameraError::Read {
            device: self.target.label.clone(),
            message: format!("the camera driver {what}; reopening it"),
        }
    }
}

impl FrameSource for NokhwaSource {
    fn name(&self) -> String {
        self.target.choice.name.clone()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, CameraError> {
        if self.worker.is_none() {
            self.worker = Some(spawn_worker(self.target.clone(), self.streamed)?);
        }
        let Some(worker) = self.worker.as_mut() else {
            return Err(self.stopped("did not start"));
        };
        if !worker.pending {
            if worker.requests.send(()).is_err() {
                return Err(self.stopped("stopped"));
            }
            worker.pending = true;
        }
        match worker.replies.recv_timeout(STALL_TIMEOUT) {
            Ok(reply) => {
                worker.pending = false;
                let image = reply?;
                self.streamed = true;
                let frame = Frame {
                    image,
                    captured_ms: self.clock.wall_ms(),
                    seq: self.seq,
                };
                self.seq += 1;
                Ok(Some(frame))
            }
            Err(RecvTimeoutError::Timeout) => Err(CameraError::Stalled {
                device: self.target.label.clone(),
                seconds: STALL_TIMEOUT.as_secs(),
            }),
            Err(RecvTimeoutError::Disconnected) if !self.streamed => {
                // The camera library failed while opening it: trying again will not help.
                self.worker = None;
                Err(CameraError::Open {
                    device: self.target.label.clone(),
                    message: "the camera library failed while opening it (see the log)".to_owned(),
                })
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.stopped("stopped unexpectedly")),
        }
    }
}

fn spawn_worker(target: Target, streamed: bool) -> Result<Worker, CameraError> {
    let (requests, request_rx) = sync_channel::<()>(1);
    let (reply_tx, replies) = sync_channel::<Reply>(1);
    std::thread::Builder::new()
        .name(WORKER_NAME.to_owned())
        .spawn(move || {
            let mut device = DeviceState {
                target,
                camera: None,
                streamed,
            };
            while request_rx.recv().is_ok() {
                if reply_tx.send(device.grab()).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| CameraError::Thread(e.to_string()))?;
    Ok(Worker {
        requests,
        replies,
        pending: false,
    })
}

/// The worker's camera, open or not.
struct DeviceState {
    target: Target,
    camera: Option<(Camera, String)>,
    streamed: bool,
}

impl DeviceState {
    fn grab(&mut self) -> Reply {
        if self.camera.is_none() {
            match open_device(&self.target) {
                Ok(open) => self.camera = Some(open),
                // Once it has streamed, a failed reopen means "not back yet".
                Err(err) if self.streamed && !err.is_transient() => {
                    return Err(CameraError::Disconnected {
                        device: self.target.label.clone(),
                    });
                }
                Err(err) => return Err(err),
            }
        }
        let Some((camera, label)) = self.camera.as_mut() else {
            return Err(CameraError::Disconnected {
                device: self.target.label.clone(),
            });
        };
        match camera.frame() {
            Ok(buffer) => {
                self.streamed = true;
                buffer
                    .decode_image::<RgbFormat>()
                    .map_err(|e| CameraError::CorruptFrame {
                        what: format!("a frame from {label}"),
                        message: e.to_string(),
                    })
            }
            Err(err) => {
                let err = read_error(label, &err.to_string());
                // Close it; the next request reopens it.
                self.camera = None;
                Err(err)
            }
        }
    }
}

/// Finds the target again (its index may have changed) and opens it streaming.
fn open_device(target: &Target) -> Result<(Camera, String), CameraError> {
    let scan = list_cameras()?;
    let Some(device) = target.choice.find(&scan.cameras) else {
        return Err(CameraError::Disconnected {
            device: target.label.clone(),
        });
    };
    let label = device.label();
    if let Some(problem) = &device.problem {
        return Err(problem.to_error(&label));
    }
    let camera = open_nokhwa(device.index, choose_format(&device.formats).as_ref())
        .map_err(|message| open_error(&label, &message))?;
    let format = camera.camera_format();
    log::info!(
        "opened {label}: {} {}x{} at {} fps",
        format.format(),
        format.width(),
        format.height(),
        format.frame_rate()
    );
    Ok((camera, label))
}

fn frame_format(fourcc: &str) -> Option<FrameFormat> {
    Some(match fourcc {
        "MJPG" => FrameFormat::MJPEG,
        "YUYV" => FrameFormat::YUYV,
        "NV12" => FrameFormat::NV12,
        "RGB3" => FrameFormat::RAWRGB,
        "BGR3" => FrameFormat::RAWBGR,
        _ => return None,
    })
}

/// Opens camera `index` streaming: the chosen format exactly, else the closest to 640×480 at
/// 30 fps in that pixel format (MJPEG when none was chosen), else the first decodable format.
fn open_nokhwa(index: u32, chosen: Option<&ChosenFormat>) -> Result<Camera, String> {
    let chosen_format = chosen.and_then(|c| frame_format(&c.fourcc));
    let preferred = chosen_format.unwrap_or(FrameFormat::MJPEG);
    let closest = CameraFormat::new(
        Resolution::new(PREFERRED_WIDTH, PREFERRED_HEIGHT),
        preferred,
        PREFERRED_FPS,
    );
    let only_preferred = [preferred];
    let mut requests = Vec::new();
    if let (Some(c), Some(format)) = (chosen, chosen_format) {
        let exact = CameraFormat::new(Resolution::new(c.width, c.height), format, c.fps);
        requests.push(RequestedFormat::with_formats(
            RequestedFormatType::Exact(exact),
            &only_preferred,
        ));
    }
    requests.push(RequestedFormat::with_formats(
        RequestedFormatType::Closest(closest),
        &only_preferred,
    ));
    requests.push(RequestedFormat::new::<RgbFormat>(RequestedFormatType::None));
    let mut last = String::from("no format to ask for");
    for request in requests {
        match Camera::new(CameraIndex::Index(index), request) {
            Ok(mut camera) => match camera.open_stream() {
                Ok(()) => return Ok(camera),
                Err(err) => return Err(err.to_string()),
            },
            Err(err) => {
                last = err.to_string();
                // Another format will not help a device that is busy, gone or forbidden.
                if classify_message(&last) != ErrorKind::Other {
                    break;
                }
                log::debug!("camera {index}: {request} failed: {last}");
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::super::clock::SystemClock;
    use super::*;

    /// Runs only where a usable camera exists; elsewhere it says so and passes.
    #[test]
    fn a_real_camera_streams_frames_when_there_is_one() {
        let scan = list_cameras().unwrap();
        if !scan.cameras.iter().any(super::super::CameraDevice::usable) {
            eprintln!(
                "SKIPPED a_real_camera_streams_frames_when_there_is_one: no usable camera here \
                 ({} listed, {} other video nodes)",
                scan.cameras.len(),
                scan.skipped.len()
            );
            return;
        }
        let mut source = NokhwaSource::open(&DeviceSelector::First, SystemClock::shared()).unwrap();
        let mut seqs = Vec::new();
        for _ in 0..3 {
            match source.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.image.width() > 0 && frame.image.height() > 0);
                    seqs.push(frame.seq);
                }
                Ok(None) => panic!("a camera does not end"),
                Err(err) if err.is_transient() || err.is_corrupt_frame() => {
                    eprintln!("NOTE: {err}");
                }
                Err(err) => panic!("{err}"),
            }
        }
        assert!(!seqs.is_empty(), "no frame in three tries");
    }

    #[test]
    fn without_a_camera_opening_one_says_so() {
        let scan = list_cameras().unwrap();
        if !scan.cameras.is_empty() {
            eprintln!("SKIPPED without_a_camera_opening_one_says_so: this machine has a camera");
            return;
        }
        let clock = SystemClock::shared();
        let err = NokhwaSource::open(&DeviceSelector::First, clock.clone())
            .err()
            .unwrap();
        assert_eq!(err, CameraError::NoCamera);
        assert!(err.to_string().contains("--camera demo"), "{err}");
        let err = NokhwaSource::open(&DeviceSelector::Index(3), clock)
            .err()
            .unwrap();
        assert!(matches!(err, CameraError::NotFound { .. }), "{err}");
    }

    #[test]
    fn nokhwa_errors_for_a_missing_device_read_as_gone() {
        if std::path::Path::new("/dev/video99").exists() {
            eprintln!(
                "SKIPPED nokhwa_errors_for_a_missing_device_read_as_gone: /dev/video99 exists"
            );
            return;
        }
        // This goes through nokhwa's real open path; its message carries the OS error.
        let message = open_nokhwa(99, None).err().unwrap();
        eprintln!("nokhwa says: {message}");
        if cfg!(target_os = "linux") {
            assert_eq!(classify_message(&message), ErrorKind::Gone, "{message}");
            assert!(open_error("/dev/video99", &message).is_transient());
        }
    }

    #[test]
    fn fourccs_map_onto_nokhwa_formats() {
        assert_eq!(frame_format("MJPG"), Some(FrameFormat::MJPEG));
        assert_eq!(frame_format("BGR3"), Some(FrameFormat::RAWBGR));
        assert_eq!(frame_format("GREY"), None);
        for fourcc in super::super::devices::DECODABLE_FOURCCS {
            assert!(frame_format(fourcc).is_some(), "{fourcc}");
        }
    }
}
