//! Chapter 05: the image is a read-only layer under the container's own.

use crate::support::{stderr, stdout, Host};

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn writes_never_reach_the_image_layer() {
    let host = Host::new();
    let out = host.run(&[
        "run",
        "sh",
        "-c",
        "echo hi > /written; rm /bin/ls; cat /written; mount | grep ' / '",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("hi\noverlay on / type overlay"), "{text}");
    let image = host.root().join("images/busybox");
    assert!(
        !image.join("written").exists(),
        "the write reached the image"
    );
    assert!(
        image.join("bin/ls").exists(),
        "the delete reached the image"
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn each_container_starts_from_the_clean_image() {
    let host = Host::new();
    host.run(&["run", "sh", "-c", "echo hi > /written"]);
    let out = host.run(&["run", "sh", "-c", "[ -e /written ] && echo leaked; true"]);
    assert_eq!(stdout(&out), "");
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn aufs_on_a_kernel_without_it_is_refused_cleanly() {
    let host = Host::new();
    let has_aufs = std::fs::read_to_string("/proc/filesystems")
        .unwrap()
        .contains("aufs");
    if has_aufs {
        return; // nothing to refuse on this kernel
    }
    let out = host.run(&["run", "--storage-driver", "aufs", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("no aufs"), "{}", stderr(&out));
    host.assert_clean();
}
