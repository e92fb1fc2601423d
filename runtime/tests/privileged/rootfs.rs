//! Chapter 04: the container's root is the busybox image.

use std::path::Path;

use crate::support::{stdout, Host};

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_root_is_the_image_not_the_host() {
    let host = Host::new();
    // A path that exists on the host and cannot exist in the image.
    let here = host.root().join("host-only");
    std::fs::write(&here, "").unwrap();
    let script = format!(
        "readlink /bin/sh; [ -e {} ] && echo host visible; [ -c /dev/null ] && echo null ok; \
         [ -c /dev/urandom ] && echo urandom ok; [ -d /dev/pts ] && echo pts ok; ls /proc/1/ns | wc -l",
        here.display()
    );
    let out = host.run(&["run", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        ["/bin/busybox", "null ok", "urandom ok", "pts ok"],
        "{text}"
    );
    host.assert_clean();
}

#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn the_image_can_come_from_a_docker_export_tar() {
    let host = Host::new();
    let images = host.root().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let mut tar = tar::Builder::new(std::fs::File::create(images.join("busybox.tar")).unwrap());
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is installed");
    tar.append_path_with_name(busybox, "bin/busybox").unwrap();
    let mut link = header(tar::EntryType::Symlink, 0o777, 0);
    tar.append_link(&mut link, "bin/sh", "busybox").unwrap();
    for dir in ["proc", "dev"] {
        let mut dir_header = header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut dir_header, dir, std::io::empty())
            .unwrap();
    }
    let mut marker = header(tar::EntryType::Regular, 0o644, 9);
    tar.append_data(&mut marker, "from-tar", &b"imported\n"[..])
        .unwrap();
    tar.finish().unwrap();
    drop(tar);

    let out = host.run(&["run", "/bin/sh", "-c", "/bin/busybox cat /from-tar"]);
    assert_eq!(stdout(&out), "imported\n");
    assert!(images.join("busybox/from-tar").exists());
    host.assert_clean();
}

/// A header as `docker export` writes them: owned by root.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

/// Stage 04's lesson: without a layer of its own, the container writes
/// straight into the image. Chapter 05 turns this around.
#[cfg(not(feature = "overlay"))]
#[test]
#[ignore = "needs root: just test-root, or the VM"]
fn at_stage_04_writes_land_in_the_image() {
    let host = Host::new();
    let out = host.run(&["run", "sh", "-c", "echo hi > /written"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(host.root().join("images/busybox/written").exists());
    host.assert_clean();
}
