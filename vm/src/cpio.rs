//! A writer for the "newc" cpio format (magic `070701`), the only one the
//! kernel's initramfs unpacker reads. Written here so that building an
//! initramfs needs no `cpio` binary on the host.
//!
//! Layout of one entry: a 110-byte ASCII header (magic + 13 fields of 8 hex
//! digits), the NUL-terminated name, padding to a 4-byte boundary, the data,
//! padding to a 4-byte boundary. The archive ends with an entry named
//! `TRAILER!!!`.

use std::io::{self, Write};

/// File type bits of `st_mode`, as cpio stores them.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

pub const TRAILER: &str = "TRAILER!!!";

/// Streams entries into `W`. Every entry is owned by root with mtime 0, so an
/// archive depends only on its contents (reproducible, cacheable).
pub struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        // Inode numbers start above 0 and are unique per entry: the kernel
        // treats entries with the same (ino, dev) and nlink > 1 as hard links.
        CpioWriter {
            out,
            written: 0,
            next_ino: 1,
        }
    }

    /// A directory. Parents must come before children.
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.entry_full(path, S_IFDIR | (mode & 0o7777), (0, 0), &[])
    }

    /// A regular file with the given permission bits.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.entry_full(path, S_IFREG | (mode & 0o7777), (0, 0), data)
    }

    /// A symbolic link: the target is stored as the entry's data.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry_full(path, S_IFLNK | 0o777, (0, 0), target.as_bytes())
    }

    /// A character device such as `/dev/console` (major 5, minor 1).
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry_full(path, S_IFCHR | (mode & 0o7777), (major, minor), &[])
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.next_ino = 0; // the trailer conventionally has ino 0
        self.entry_full(TRAILER, 0, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Bytes written so far (the archive's size after `finish`).
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    fn entry_full(
        &mut self,
        path: &str,
        mode: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        // The kernel wants names relative to the archive root, without "/".
        let name = path.trim_start_matches('/');
        let name = if name.is_empty() { "." } else { name };
        let ino = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1);
        let nlink = if mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let filesize = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path}: larger than 4 GiB, too big for cpio newc"),
            )
        })?;
        let header = header(ino, mode, nlink, filesize, rdev, name.len() as u32 + 1);
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = padding(self.written);
        self.put(&[0u8; 3][..n])
    }
}

/// Bytes needed to bring `offset` to a multiple of 4.
pub fn padding(offset: u64) -> usize {
    ((4 - offset % 4) % 4) as usize
}

/// The 110-byte newc header. Fields: magic, ino, mode, uid, gid, nlink,
/// mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check.
fn header(
    ino: u32,
    mode: u32,
    nlink: u32,
    filesize: u32,
    rdev: (u32, u32),
    namesize: u32,
) -> String {
    let fields = [
        ino, mode, 0, 0, nlink, 0, filesize, 0, 0, rdev.0, rdev.1, namesize, 0,
    ];
    let mut s = String::with_capacity(110);
    s.push_str("070701");
    for f in fields {
        s.push_str(&format!("{f:08X}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(entry: &[u8], index: usize) -> u32 {
        let start = 6 + index * 8;
        u32::from_str_radix(std::str::from_utf8(&entry[start..start + 8]).unwrap(), 16).unwrap()
    }

    #[test]
    fn header_is_110_bytes_of_magic_and_hex() {
        let h = header(7, S_IFREG | 0o755, 1, 3, (0, 0), 6);
        assert_eq!(h.len(), 110);
        assert!(h.starts_with("070701"));
        assert!(h[6..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn file_entry_fields_and_padding() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("/bin/hello", 0o755, b"abcde").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(field(&bytes, 1), S_IFREG | 0o755, "mode");
        assert_eq!(field(&bytes, 6), 5, "filesize");
        assert_eq!(
            field(&bytes, 11),
            "bin/hello".len() as u32 + 1,
            "namesize counts the NUL"
        );
        // header 110 + name 10 = 120 (aligned), data 5 + 3 padding = 128.
        assert_eq!(&bytes[110..120], b"bin/hello\0");
        assert_eq!(&bytes[120..125], b"abcde");
        assert_eq!(&bytes[125..128], &[0, 0, 0]);
        assert_eq!(&bytes[128..134], b"070701", "next header is 4-aligned");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn dirs_symlinks_devices_and_trailer() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("/", 0o755).unwrap();
        w.symlink("/bin/sh", "busybox").unwrap();
        w.char_dev("/dev/console", 0o600, 5, 1).unwrap();
        let n_before = w.len();
        let bytes = w.finish().unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains(".\0"), "root dir is named '.'");
        // The link target is the data, after the name and its padding.
        let end_of_name = text.find("bin/sh\0").unwrap() + 7;
        let data = end_of_name + padding(end_of_name as u64);
        assert_eq!(&bytes[data..data + 7], b"busybox");
        let console = text.find("dev/console").unwrap() - 110;
        assert_eq!(field(&bytes[console..], 1), S_IFCHR | 0o600);
        assert_eq!(
            (field(&bytes[console..], 9), field(&bytes[console..], 10)),
            (5, 1)
        );
        let trailer = &bytes[n_before as usize..];
        assert_eq!(&trailer[110..121], b"TRAILER!!!\0");
        assert_eq!(field(trailer, 0), 0, "trailer ino");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn padding_values() {
        assert_eq!((0..5).map(padding).collect::<Vec<_>>(), vec![0, 3, 2, 1, 0]);
    }

    #[test]
    fn inodes_are_unique() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("a", 0o644, b"").unwrap();
        w.file("b", 0o644, b"").unwrap();
        let bytes = w.finish().unwrap();
        let second = 112 + padding(112); // header + "a\0" aligned
        assert_ne!(field(&bytes, 0), field(&bytes[second..], 0));
    }
}
