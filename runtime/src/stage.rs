//! The tutorial's stages, and which one this binary was built at.
//!
//! Every stage is a Cargo feature that turns on the ones before it, so the
//! number of stage features enabled *is* the stage number. When a student
//! uses a flag or command from a later chapter, [`later_stage_hint`] turns
//! clap's generic "unexpected argument" into a pointer to that chapter.

/// One chapter of the tutorial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    pub number: u8,
    /// The Cargo feature that builds it.
    pub feature: &'static str,
}

/// All eighteen stages, in order. Only the first few exist as features yet;
/// the rest are here so that their flags get a helpful message.
pub const STAGES: [Stage; 18] = [
    Stage {
        number: 1,
        feature: "run",
    },
    Stage {
        number: 2,
        feature: "cgroups",
    },
    Stage {
        number: 3,
        feature: "pipe",
    },
    Stage {
        number: 4,
        feature: "rootfs",
    },
    Stage {
        number: 5,
        feature: "overlay",
    },
    Stage {
        number: 6,
        feature: "volume",
    },
    Stage {
        number: 7,
        feature: "commit",
    },
    Stage {
        number: 8,
        feature: "detach",
    },
    Stage {
        number: 9,
        feature: "ps",
    },
    Stage {
        number: 10,
        feature: "logs",
    },
    Stage {
        number: 11,
        feature: "exec",
    },
    Stage {
        number: 12,
        feature: "stop",
    },
    Stage {
        number: 13,
        feature: "rm",
    },
    Stage {
        number: 14,
        feature: "images",
    },
    Stage {
        number: 15,
        feature: "env",
    },
    Stage {
        number: 16,
        feature: "network",
    },
    Stage {
        number: 17,
        feature: "connect",
    },
    Stage {
        number: 18,
        feature: "ports",
    },
];

/// The stage this binary was built at: 0 when built with no stage feature.
pub const CURRENT: u8 = cfg!(feature = "run") as u8
    + cfg!(feature = "cgroups") as u8
    + cfg!(feature = "pipe") as u8
    + cfg!(feature = "rootfs") as u8
    + cfg!(feature = "overlay") as u8;

/// Which stage introduces each flag and subcommand.
/// Flags are listed in every spelling a user may type.
const INTRODUCED_BY: &[(&str, u8)] = &[
    ("run", 1),
    ("-m", 2),
    ("--memory", 2),
    ("--cpu-shares", 2),
    ("--cpus", 2),
    ("--cpuset-cpus", 2),
    ("--storage-driver", 5),
    ("-v", 6),
    ("--volume", 6),
    ("commit", 7),
    ("-d", 8),
    ("--detach", 8),
    ("ps", 9),
    ("--name", 9),
    ("logs", 10),
    ("exec", 11),
    ("stop", 12),
    ("rm", 13),
    ("images", 14),
    ("-e", 15),
    ("--env", 15),
    ("network", 16),
    ("--net", 17),
    ("--network", 17),
    ("-p", 18),
    ("--publish", 18),
];

/// `mydocker 0.1.0 (stage 05 overlay)`, for `--version`.
pub fn version() -> String {
    let built = match CURRENT {
        0 => "no stage: build with --features run".to_string(),
        n => format!("stage {n:02} {}", STAGES[n as usize - 1].feature),
    };
    format!("{} ({built})", env!("CARGO_PKG_VERSION"))
}

/// If `arg` (a flag like `-v`, `--memory=64m`, or a subcommand like `ps`)
/// belongs to a stage after this build's, say which chapter brings it.
// With no stage built, CURRENT is 0 and clippy calls the comparison absurd.
#[allow(clippy::absurd_extreme_comparisons)]
pub fn later_stage_hint(arg: &str) -> Option<String> {
    let name = arg.split('=').next().unwrap_or(arg);
    let number = INTRODUCED_BY.iter().find(|(n, _)| *n == name)?.1;
    if number <= CURRENT {
        return None;
    }
    let stage = STAGES[number as usize - 1];
    Some(format!(
        "`{name}` arrives in chapter {number:02} ({feature}): build with --features {feature}",
        feature = stage.feature
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_numbered_in_order() {
        for (i, stage) in STAGES.iter().enumerate() {
            assert_eq!(stage.number as usize, i + 1);
        }
    }

    #[test]
    fn later_flags_name_their_chapter() {
        assert_eq!(
            later_stage_hint("-v").unwrap(),
            "`-v` arrives in chapter 06 (volume): build with --features volume"
        );
        assert_eq!(
            later_stage_hint("--publish=80:80").unwrap(),
            "`--publish` arrives in chapter 18 (ports): build with --features ports"
        );
        assert!(later_stage_hint("--no-such-flag").is_none());
    }

    #[test]
    fn flags_of_built_stages_get_no_hint() {
        for (name, number) in INTRODUCED_BY {
            assert_eq!(
                later_stage_hint(name).is_some(),
                *number > CURRENT,
                "{name}"
            );
        }
    }

    #[test]
    fn version_names_the_stage() {
        let v = version();
        if CURRENT == 0 {
            assert!(v.contains("no stage"), "{v}");
        } else {
            let feature = STAGES[CURRENT as usize - 1].feature;
            assert!(v.contains(&format!("stage {CURRENT:02} {feature}")), "{v}");
        }
    }
}
