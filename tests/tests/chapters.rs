//! Each chapter's session, replayed in the VM at that chapter's stage and
//! compared with its snapshot. `cargo insta review` accepts a change.

use vm_tests::{chapter_dir, replay::replay, session};

fn check_chapter(number: u8) {
    let dir = chapter_dir(number).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(dir.join("session.txt")).unwrap();
    let steps = session::parse(&text).unwrap_or_else(|e| panic!("{name}/session.txt: {e}"));
    let result = replay(number, vm::Cgroup::V2, &steps).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    eprintln!(
        "chapter {name}: booted in {:.1} s, session took {:.1} s",
        result.boot.as_secs_f64(),
        result.session.as_secs_f64(),
    );
    if std::env::var_os("MYDOCKER_PRINT_TRANSCRIPT").is_some() {
        eprintln!("{}", result.transcript);
    }
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(name, result.transcript);
    });
}

macro_rules! chapters {
    ($($test:ident = $number:expr;)*) => {$(
        #[test]
        #[ignore = "boots the VM: run with `cargo vm-test` or `cargo chapter N`"]
        fn $test() {
            check_chapter($number);
        }
    )*};
}

chapters! {
    chapter_01 = 1;
    chapter_02 = 2;
    chapter_03 = 3;
    chapter_04 = 4;
    chapter_05 = 5;
}
