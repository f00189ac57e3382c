//! Tests of device filtering, format choice and camera selection on recorded capability data
//! (`tests/data/camera/`, see its README for how the records were made).

use super::*;
use crate::camera::DeviceSelector;

fn laptop() -> Vec<NodeRecord> {
    serde_json::from_str(include_str!("../../tests/data/camera/laptop-v4l2.json")).unwrap()
}

fn no_permission() -> Vec<NodeRecord> {
    serde_json::from_str(include_str!(
        "../../tests/data/camera/no-permission-v4l2.json"
    ))
    .unwrap()
}

fn fmt(fourcc: &str, width: u32, height: u32, fps: &[u32]) -> FormatRecord {
    FormatRecord {
        fourcc: fourcc.into(),
        width,
        height,
        fps: fps.to_vec(),
    }
}

#[test]
fn metadata_nodes_are_left_out_and_cameras_kept() {
    let scan = scan_nodes(&laptop());
    let listed: Vec<(u32, bool)> = scan.cameras.iter().map(|c| (c.index, c.usable())).collect();
    // video0 colour camera, video2 infrared (grey only: listed, unusable), video4 C920,
    // video10 a virtual camera; video1/3/5 are the metadata nodes.
    assert_eq!(listed, [(0, true), (2, false), (4, true), (10, true)]);
    let skipped: Vec<&str> = scan.skipped.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(skipped, ["/dev/video1", "/dev/video3", "/dev/video5"]);
    assert!(scan.skipped.iter().all(|(_, why)| why.contains("metadata")));
    let c920 = &scan.cameras[2];
    assert_eq!(c920.name, "HD Pro Webcam C920");
    assert_eq!(c920.bus.as_deref(), Some("usb-0000:00:14.0-1"));
    assert_eq!(
        scan.cameras[1].problem,
        Some(CameraProblem::NoUsableFormat {
            offered: "GREY".into()
        })
    );
}

#[test]
fn nodes_that_cannot_be_opened_are_judged_by_their_sysfs_index() {
    let scan = scan_nodes(&no_permission());
    assert_eq!(scan.cameras.len(), 1);
    assert_eq!(
        scan.cameras[0].problem,
        Some(CameraProblem::PermissionDenied)
    );
    assert_eq!(scan.cameras[0].name, "USB2.0 HD UVC WebCam: USB2.0 HD");
    assert_eq!(scan.skipped.len(), 1);
    // Asking for the first camera explains the permission problem instead of "no camera".
    let err = DeviceSelector::First.select(&scan).unwrap_err();
    assert!(matches!(err, CameraError::PermissionDenied { .. }), "{err}");
}

#[test]
fn other_kinds_of_video_node_say_what_they_are() {
    let node = |device_caps: u32, sysfs_index: Option<u32>| NodeRecord {
        index: 7,
        path: "/dev/video7".into(),
        sysfs_name: None,
        sysfs_index,
        access: NodeAccess::Open {
            caps: NodeCaps {
                driver: "x".into(),
                card: "x".into(),
                bus_info: String::new(),
                device_caps,
            },
        },
        formats: vec![fmt("YUYV", 640, 480, &[30])],
    };
    let verdict = |caps, idx| match classify_node(&node(caps, idx)) {
        NodeVerdict::NotACamera(why) => why,
        other => format!("{other:?}"),
    };
    // A hardware codec (bcm2835-codec style), an output-only node, a multi-planar capture node.
    assert!(verdict(CAP_VIDEO_M2M_MPLANE | 0x0400_0000, Some(0)).contains("codec"));
    assert!(verdict(CAP_VIDEO_OUTPUT, Some(0)).contains("output"));
    assert!(verdict(CAP_VIDEO_CAPTURE_MPLANE, Some(0)).contains("multi-planar"));
    // An old driver without per-node flags: the first node counts, later ones do not.
    assert_eq!(classify_node(&node(0, Some(0))), NodeVerdict::Camera);
    assert!(matches!(
        classify_node(&node(0, Some(1))),
        NodeVerdict::NotACamera(_)
    ));
}

#[test]
fn the_format_is_mjpeg_640x480_at_30_when_offered() {
    let scan = scan_nodes(&laptop());
    for camera in [&scan.cameras[0], &scan.cameras[2]] {
        let chosen = choose_format(&camera.formats).unwrap();
        assert_eq!(
            (
                chosen.fourcc.as_str(),
                chosen.width,
                chosen.height,
                chosen.fps
            ),
            ("MJPG", 640, 480, 30),
            "{}",
            camera.name
        );
    }
    // The virtual camera only has YUYV 1280x720.
    let chosen = choose_format(&scan.cameras[3].formats).unwrap();
    assert_eq!((chosen.fourcc.as_str(), chosen.width), ("YUYV", 1280));
    assert_eq!(choose_format(&scan.cameras[1].formats), None);
}

#[test]
fn format_fallbacks_prefer_size_then_frame_rate_then_mjpeg() {
    // YUYV at 640x480 and 30 fps beats MJPEG at 640x480 but only 15 fps.
    let chosen = choose_format(&[
        fmt("MJPG", 640, 480, &[15]),
        fmt("YUYV", 640, 480, &[30, 15]),
    ])
    .unwrap();
    assert_eq!((chosen.fourcc.as_str(), chosen.fps), ("YUYV", 30));
    // Without 640x480, the nearest size; H.264 is never chosen.
    let chosen = choose_format(&[
        fmt("H264", 640, 480, &[30]),
        fmt("MJPG", 1920, 1080, &[30]),
        fmt("NV12", 800, 600, &[60, 20]),
    ])
    .unwrap();
    assert_eq!(
        (chosen.fourcc.as_str(), chosen.width, chosen.fps),
        ("NV12", 800, 60)
    );
    assert_eq!(choose_format(&[fmt("H264", 640, 480, &[30])]), None);
    assert_eq!(choose_format(&[]), None);
}

#[test]
fn a_remembered_camera_is_found_again_after_a_replug() {
    let scan = scan_nodes(&laptop());
    let c920 = CameraChoice::of(&scan.cameras[2]);
    assert_eq!(c920.find(&scan.cameras).unwrap().index, 4);
    // Replugged into another port: renumbered to video6 on another bus, found by name.
    let mut replugged = laptop();
    for node in &mut replugged[4..6] {
        node.index += 2;
        node.path = format!("/dev/video{}", node.index);
        if let NodeAccess::Open { caps } = &mut node.access {
            caps.bus_info = "usb-0000:00:14.0-2".into();
        }
    }
    let rescan = scan_nodes(&replugged);
    let found = c920.find(&rescan.cameras).unwrap();
    assert_eq!(
        (found.index, found.bus.as_deref()),
        (6, Some("usb-0000:00:14.0-2"))
    );
    // The choice survives a round trip through settings.
    let json = serde_json::to_string(&c920).unwrap();
    assert_eq!(serde_json::from_str::<CameraChoice>(&json).unwrap(), c920);
}

#[test]
fn two_identical_cameras_are_told_apart_by_their_bus() {
    let mut nodes = laptop();
    let mut twin = nodes[4].clone();
    twin.index = 8;
    twin.path = "/dev/video8".into();
    if let NodeAccess::Open { caps } = &mut twin.access {
        caps.bus_info = "usb-0000:00:14.0-3".into();
    }
    nodes.push(twin);
    let scan = scan_nodes(&nodes);
    let second = scan.cameras.iter().find(|c| c.index == 8).unwrap();
    assert_eq!(
        CameraChoice::of(second).find(&scan.cameras).unwrap().index,
        8
    );
}

#[test]
fn selectors_find_cameras_by_number_name_path_or_bus() {
    let scan = scan_nodes(&laptop());
    let pick = |s: &str| DeviceSelector::parse(s).select(&scan).map(|c| c.index);
    assert_eq!(pick("4").unwrap(), 4);
    assert_eq!(pick("c920").unwrap(), 4);
    assert_eq!(pick("/dev/video10").unwrap(), 10);
    assert_eq!(pick("usb-0000:00:14.0-1").unwrap(), 4);
    assert_eq!(DeviceSelector::First.select(&scan).unwrap().index, 0);
    // A metadata node by number says what it is.
    let err = pick("1").unwrap_err().to_string();
    assert!(err.contains("/dev/video1 is not a camera"), "{err}");
    // "Integrated Camera" matches the colour and the infrared camera.
    let err = pick("integrated camera").unwrap_err().to_string();
    assert!(err.contains("matches several cameras"), "{err}");
    // The infrared camera by its full name: there, but unusable, and the error says why.
    let err = pick("Integrated Camera: Integrated I").unwrap_err();
    assert!(matches!(err, CameraError::NoUsableFormat { .. }), "{err}");
    let err = pick("Logitech Brio").unwrap_err().to_string();
    assert!(err.contains("no camera matches") && err.contains("4 \"HD Pro Webcam C920\""));
    assert!(matches!(
        DeviceSelector::First.select(&Scan::default()),
        Err(CameraError::NoCamera)
    ));
}
