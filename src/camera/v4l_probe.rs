//! Linux: records what each `/dev/videoN` node is (sysfs name and index, `VIDIOC_QUERYCAP`
//! flags, formats, sizes and frame rates) without streaming, so a busy camera can still be
//! listed. [`super::devices`] decides from these records which nodes are cameras.

use std::path::Path;

use v4l::Device;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture as _;

use super::devices::{FormatRecord, NodeAccess, NodeCaps, NodeRecord};
use super::{PREFERRED_FPS, PREFERRED_HEIGHT, PREFERRED_WIDTH};

/// Records every `/dev/videoN` node, by N.
#[must_use]
pub fn probe_nodes() -> Vec<NodeRecord> {
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut nodes: Vec<NodeRecord> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            let index: u32 = name.strip_prefix("video")?.parse().ok()?;
            Some(probe_node(index, &entry.path()))
        })
        .collect();
    nodes.sort_by_key(|n| n.index);
    nodes
}

/// Records one node.
#[must_use]
pub fn probe_node(index: u32, path: &Path) -> NodeRecord {
    let sysfs = Path::new("/sys/class/video4linux").join(format!("video{index}"));
    let read = |file: &str| {
        std::fs::read_to_string(sysfs.join(file))
            .ok()
            .map(|s| s.trim().to_owned())
    };
    let sysfs_name = read("name");
    let sysfs_index = read("index").and_then(|s| s.parse().ok());
    // The v4l crate unwraps the driver's strings as UTF-8; a driver that sends something else
    // must not take the whole program down.
    let queried = std::panic::catch_unwind(|| query(path)).unwrap_or_else(|_| {
        Err(NodeAccess::Failed {
            message: "the driver's reply could not be read".to_owned(),
        })
    });
    let (access, formats) = match queried {
        Ok((caps, formats)) => (NodeAccess::Open { caps }, formats),
        Err(access) => (access, Vec::new()),
    };
    NodeRecord {
        index,
        path: path.display().to_string(),
        sysfs_name,
        sysfs_index,
        access,
        formats,
    }
}

fn query(path: &Path) -> Result<(NodeCaps, Vec<FormatRecord>), NodeAccess> {
    let device = Device::with_path(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            NodeAccess::PermissionDenied
        } else {
            NodeAccess::Failed {
                message: e.to_string(),
            }
        }
    })?;
    let caps = device.query_caps().map_err(|e| NodeAccess::Failed {
        message: e.to_string(),
    })?;
    let caps = NodeCaps {
        driver: caps.driver,
        card: caps.card,
        bus_info: caps.bus,
        device_caps: caps.capabilities.bits(),
    };
    // A node that is not a capture node answers the format queries with nothing.
    let formats = formats(&device);
    Ok((caps, formats))
}

fn formats(device: &Device) -> Vec<FormatRecord> {
    let mut out = Vec::new();
    for description in device.enum_formats().unwrap_or_default() {
        let Ok(fourcc) = description.fourcc.str().map(str::to_owned) else {
            continue;
        };
        for size in device
            .enum_framesizes(description.fourcc)
            .unwrap_or_default()
        {
            for (width, height) in sizes(&size.size) {
                let fps = device
                    .enum_frameintervals(description.fourcc, width, height)
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|i| rates(&i.interval))
                    .collect();
                out.push(FormatRecord {
                    fourcc: fourcc.clone(),
                    width,
                    height,
                    fps,
                });
            }
        }
    }
    out
}

/// The sizes worth recording: a discrete size, or a stepwise range's smallest, 640×480 when
/// the steps reach it, and largest.
fn sizes(size: &FrameSizeEnum) -> Vec<(u32, u32)> {
    match size {
        FrameSizeEnum::Discrete(d) => vec![(d.width, d.height)],
        FrameSizeEnum::Stepwise(s) => {
            let fits = |v: u32, min: u32, max: u32, step: u32| {
                (min..=max).contains(&v) && (step == 0 || (v - min).is_multiple_of(step))
            };
            let mut out = vec![(s.min_width, s.min_height)];
            if fits(PREFERRED_WIDTH, s.min_width, s.max_width, s.step_width)
                && fits(PREFERRED_HEIGHT, s.min_height, s.max_height, s.step_height)
            {
                out.push((PREFERRED_WIDTH, PREFERRED_HEIGHT));
            }
            out.push((s.max_width, s.max_height));
            out.dedup();
            out
        }
    }
}

/// Whole-number frame rates of an interval (nokhwa's V4L2 backend can only set those).
fn rates(interval: &FrameIntervalEnum) -> Vec<u32> {
    let whole = |f: &v4l::Fraction| (f.numerator == 1).then_some(f.denominator);
    match interval {
        FrameIntervalEnum::Discrete(f) => whole(f).into_iter().collect(),
        FrameIntervalEnum::Stepwise(s) => {
            // min is the shortest interval, i.e. the highest rate.
            let (fast, slow) = (whole(&s.min), whole(&s.max));
            let mut out: Vec<u32> = fast.into_iter().chain(slow).collect();
            if let (Some(fast), Some(slow)) = (fast, slow)
                && (slow..=fast).contains(&PREFERRED_FPS)
            {
                out.push(PREFERRED_FPS);
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_without_devices_finds_nothing_and_does_not_fail() {
        let nodes = probe_nodes();
        if nodes.is_empty() {
            eprintln!("NOTE probing_without_devices: no /dev/video* nodes on this machine");
        }
        for node in &nodes {
            assert!(node.path.starts_with("/dev/video"));
        }
    }

    #[test]
    fn stepwise_ranges_record_their_ends_and_640x480() {
        let s = FrameSizeEnum::Stepwise(v4l::framesize::Stepwise {
            min_width: 160,
            max_width: 1920,
            step_width: 16,
            min_height: 120,
            max_height: 1080,
            step_height: 8,
        });
        assert_eq!(sizes(&s), [(160, 120), (640, 480), (1920, 1080)]);
    }
}
