//! Whether this process may open cameras on Linux: membership of the `video` group, read from
//! `/etc/group` and `/proc/self/status` (for the "permission denied" hint).

/// Whether this process is in the `video` group: `None` when it cannot be told.
#[must_use]
pub fn in_video_group() -> Option<bool> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    video_group_member(&groups, &status)
}

/// Whether the `Groups:` of a `/proc/self/status` text include the gid of `video` in an
/// `/etc/group` text.
#[must_use]
pub fn video_group_member(etc_group: &str, proc_status: &str) -> Option<bool> {
    let gid: u32 = etc_group.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == "video").then_some(())?;
        fields.nth(1)?.trim().parse().ok()
    })?;
    let groups = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))?;
    Some(
        groups
            .split_whitespace()
            .filter_map(|g| g.parse::<u32>().ok())
            .any(|g| g == gid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_group_membership_is_read_from_the_group_list() {
        let etc_group = "root:x:0:\nvideo:x:44:alice\nusers:x:100:\n";
        assert_eq!(
            video_group_member(etc_group, "Name:\tx\nGroups:\t24 44 100 \n"),
            Some(true)
        );
        assert_eq!(
            video_group_member(etc_group, "Name:\tx\nGroups:\t24 100\n"),
            Some(false)
        );
        assert_eq!(video_group_member("root:x:0:\n", "Groups:\t44\n"), None);
    }
}
