//! Why a camera or replay gave no frame, with messages a teacher can act on, and the mapping
//! of nokhwa's error texts onto them.

/// What the Linux hint for "permission denied" says.
pub const VIDEO_GROUP_HINT: &str = "your user may not be in the `video` group: run \
     `sudo usermod -aG video $USER`, then log out and back in";

/// Why no frame came.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    /// No camera at all.
    #[error(
        "no camera found: none is plugged in or the system does not see it (run \
         `rollcall cameras`; use `--camera demo` or `--replay FOLDER` to go on without one)"
    )]
    NoCamera,
    /// No camera matches what was asked for.
    #[error("no camera matches {wanted:?}; cameras here: {available}")]
    NotFound {
        /// What was asked for.
        wanted: String,
        /// The cameras there are, for the message.
        available: String,
    },
    /// The OS refused to open the device.
    #[error("permission denied opening {device}: {hint}")]
    PermissionDenied {
        /// The device.
        device: String,
        /// What to do about it.
        hint: String,
    },
    /// Another program holds the camera.
    #[error(
        "{device} is busy: another program (a video call, a second rollcall) is using it; \
         close that program and rollcall will try again"
    )]
    Busy {
        /// The device.
        device: String,
    },
    /// The camera went away.
    #[error("{device} was unplugged or stopped answering; waiting for it to come back")]
    Disconnected {
        /// The device.
        device: String,
    },
    /// The camera sent nothing for a while.
    #[error("no frame from {device} for {seconds} s; reopening it")]
    Stalled {
        /// The device.
        device: String,
        /// How long it was silent.
        seconds: u64,
    },
    /// Reading a frame failed (transient: the capture thread retries).
    #[error("reading a frame from {device} failed: {message}")]
    Read {
        /// The device.
        device: String,
        /// The driver's message.
        message: String,
    },
    /// The camera could not be opened for another reason.
    #[error("could not open {device}: {message}")]
    Open {
        /// The device.
        device: String,
        /// The driver's message.
        message: String,
    },
    /// The camera offers only formats rollcall cannot decode.
    #[error(
        "{device} offers no picture format rollcall can decode (it offers {offered}; rollcall \
         reads MJPEG, YUYV, NV12, RGB3 and BGR3)"
    )]
    NoUsableFormat {
        /// The device.
        device: String,
        /// The formats it offers.
        offered: String,
    },
    /// One frame was damaged and skipped; the next call goes on.
    #[error("skipped a damaged frame ({what}): {message}")]
    CorruptFrame {
        /// Which frame (a file name, "camera frame").
        what: String,
        /// What was wrong.
        message: String,
    },
    /// A replay path does not exist.
    #[error("nothing to replay at {path}: no such file or folder")]
    ReplayNotFound {
        /// The path.
        path: String,
    },
    /// A replay folder holds no images.
    #[error(
        "the folder {path} holds no images to replay (JPEG, PNG, BMP, GIF, TIFF, WebP or PNM \
         files)"
    )]
    EmptyFolder {
        /// The folder.
        path: String,
    },
    /// Every image of a replay failed to decode.
    #[error("none of the images in {path} could be read")]
    NoReadableFrames {
        /// The folder or file.
        path: String,
    },
    /// A replay file could not be read or decoded.
    #[error("could not read {path}: {message}")]
    Replay {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A source name or option is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The capture thread could not start.
    #[error("could not start the camera thread: {0}")]
    Thread(String),
}

impl CameraError {
    /// Whether trying again later may work (unplugged, busy, stalled, a failed read): the
    /// capture thread retries these with backoff.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Busy { .. }
                | Self::Disconnected { .. }
                | Self::Stalled { .. }
                | Self::Read { .. }
        )
    }

    /// Whether only one frame was lost and the source goes on at once.
    #[must_use]
    pub fn is_corrupt_frame(&self) -> bool {
        matches!(self, Self::CorruptFrame { .. })
    }
}

/// How an OS or driver error text reads, for turning nokhwa's stringly errors into variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// EACCES / EPERM.
    PermissionDenied,
    /// EBUSY.
    Busy,
    /// ENODEV / ENOENT / ENXIO: the device is gone.
    Gone,
    /// Anything else.
    Other,
}

/// Classifies a driver error text by the OS error it carries. Rust formats `io::Error` as
/// "Permission denied (os error 13)", and nokhwa passes those texts on inside its own messages.
#[must_use]
pub fn classify_message(message: &str) -> ErrorKind {
    let m = message.to_ascii_lowercase();
    if m.contains("os error 13") || m.contains("os error 1)") || m.contains("permission denied") {
        ErrorKind::PermissionDenied
    } else if m.contains("os error 16") || m.contains("busy") {
        ErrorKind::Busy
    } else if m.contains("os error 19")
        || m.contains("os error 2)")
        || m.contains("os error 6)")
        || m.contains("no such device")
        || m.contains("no such file")
    {
        ErrorKind::Gone
    } else {
        ErrorKind::Other
    }
}

/// The error for a failed open of `device`, by what its message says.
#[must_use]
pub fn open_error(device: &str, message: &str) -> CameraError {
    let device = device.to_owned();
    match classify_message(message) {
        ErrorKind::PermissionDenied => CameraError::PermissionDenied {
            device,
            hint: permission_hint(),
        },
        ErrorKind::Busy => CameraError::Busy { device },
        ErrorKind::Gone => CameraError::Disconnected { device },
        ErrorKind::Other => CameraError::Open {
            device,
            message: message.to_owned(),
        },
    }
}

/// The error for a failed frame read on `device`: every read failure is transient, but a
/// vanished device says so.
#[must_use]
pub fn read_error(device: &str, message: &str) -> CameraError {
    let device = device.to_owned();
    match classify_message(message) {
        ErrorKind::Gone => CameraError::Disconnected { device },
        ErrorKind::Busy => CameraError::Busy { device },
        ErrorKind::PermissionDenied | ErrorKind::Other => CameraError::Read {
            device,
            message: message.to_owned(),
        },
    }
}

/// What to do about "permission denied" on this platform.
#[must_use]
pub fn permission_hint() -> String {
    #[cfg(target_os = "linux")]
    let hint = linux_permission_hint(super::video_group::in_video_group());
    #[cfg(target_os = "macos")]
    let hint = "allow camera access for this terminal or app in System Settings → Privacy & \
                Security → Camera"
        .to_owned();
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    let hint = "allow camera access in the system's privacy settings".to_owned();
    hint
}

/// The Linux hint, given whether the user is in the `video` group (`None`: unknown).
#[must_use]
pub fn linux_permission_hint(in_video_group: Option<bool>) -> String {
    match in_video_group {
        Some(false) => VIDEO_GROUP_HINT.replace("may not be", "is not"),
        Some(true) => "your user is in the `video` group, so something else denies access (a \
                       sandbox such as Flatpak or Snap, or the device's permissions)"
            .to_owned(),
        None => VIDEO_GROUP_HINT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The texts are what nokhwa 0.10 builds around `io::Error` (see
    // nokhwa-bindings-linux/src/lib.rs: "V4L2 Error: {why}", OpenStreamError(why.to_string())).
    #[test]
    fn driver_messages_map_to_the_right_variant() {
        assert_eq!(
            classify_message("V4L2 Error: Permission denied (os error 13)"),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            classify_message("Device or resource busy (os error 16)"),
            ErrorKind::Busy
        );
        assert_eq!(
            classify_message("V4L2 Error: No such file or directory (os error 2)"),
            ErrorKind::Gone
        );
        assert_eq!(
            classify_message("No such device (os error 19)"),
            ErrorKind::Gone
        );
        assert_eq!(
            classify_message("Invalid argument (os error 22)"),
            ErrorKind::Other
        );
        assert!(matches!(
            open_error(
                "/dev/video0",
                "V4L2 Error: Device or resource busy (os error 16)"
            ),
            CameraError::Busy { .. }
        ));
        assert!(read_error("cam", "No such device (os error 19)").is_transient());
        assert!(read_error("cam", "Invalid argument (os error 22)").is_transient());
        assert!(!open_error("cam", "Invalid argument (os error 22)").is_transient());
    }

    #[test]
    fn permission_message_names_the_video_group_on_linux() {
        let err = open_error("/dev/video0", "Permission denied (os error 13)");
        let text = err.to_string();
        assert!(
            text.starts_with("permission denied opening /dev/video0"),
            "{text}"
        );
        if cfg!(target_os = "linux") {
            assert!(text.contains("`video` group"), "{text}");
        }
        assert!(!err.is_transient());
        assert!(linux_permission_hint(Some(false)).starts_with("your user is not in the `video`"));
        assert!(linux_permission_hint(Some(true)).contains("Flatpak"));
    }
}
