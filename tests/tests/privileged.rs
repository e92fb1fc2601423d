//! The runtime's privileged tests (`runtime/tests/privileged/`), built
//! statically at each stage and run inside the VM, on cgroup v2 and, where
//! cgroups matter most, on v1 too.

use std::time::Duration;

use vm::stage::{build_privileged_tests, build_runtime, Stage};
use vm::{Assets, Cgroup, ExtraFile, VmOptions};

fn privileged_in_vm(stage: u8, cgroup: Cgroup) {
    let sh = xshell::Shell::new().unwrap();
    let stage = Stage::from_number(stage).unwrap();
    let runtime = build_runtime(&sh, stage).unwrap();
    let tests = build_privileged_tests(&sh, stage).unwrap();
    let assets = Assets::with_files(&[
        ExtraFile::new(runtime, "/usr/bin/mydocker", 0o755),
        ExtraFile::new(tests, "/usr/bin/privileged-tests", 0o755),
    ])
    .unwrap();
    let mut opts = VmOptions::new(&assets).unwrap();
    opts.cgroup = cgroup;
    let script = "MYDOCKER_BIN=/usr/bin/mydocker RUST_BACKTRACE=1 \
                  /usr/bin/privileged-tests --include-ignored --test-threads=1";
    let out = vm::run_script(&opts, script, Duration::from_secs(600), false)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let summary = out
        .output
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))
        .unwrap_or("no summary");
    eprintln!(
        "privileged tests at stage {:02} ({}), cgroup {cgroup:?}: {:.1} s in the VM, {summary}",
        stage.number,
        stage.feature,
        out.duration.as_secs_f64()
    );
    assert_eq!(
        out.status, 0,
        "privileged tests failed in the VM:\n{}",
        out.output
    );
    assert!(
        summary.contains(" 0 failed") && !summary.contains(" 0 passed"),
        "{summary}"
    );
}

macro_rules! privileged {
    ($($test:ident = $stage:expr, $cgroup:expr;)*) => {$(
        #[test]
        #[ignore = "boots the VM: run with `cargo vm-test`"]
        fn $test() {
            privileged_in_vm($stage, $cgroup);
        }
    )*};
}

privileged! {
    stage_01_run = 1, Cgroup::V2;
    stage_02_cgroups_v2 = 2, Cgroup::V2;
    stage_02_cgroups_v1 = 2, Cgroup::V1;
    stage_03_pipe = 3, Cgroup::V2;
    stage_04_rootfs = 4, Cgroup::V2;
    stage_05_overlay_v2 = 5, Cgroup::V2;
    stage_05_overlay_v1 = 5, Cgroup::V1;
}
