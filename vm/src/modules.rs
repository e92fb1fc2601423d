//! Kernel modules the runtime needs (overlay, bridge, veth, netfilter/NAT),
//! picked from Debian's kernel package and put in load order for `insmod`.
//!
//! Debian's package ships no `modules.dep` (it is made at install time), so
//! `depmod -b` makes one inside the unpacked package; we read the order from
//! it. Whatever the kernel's config builds in (`=y`) is not shipped.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// Module name → config symbol that builds it. Dependencies (stp, llc,
/// nfnetlink, libcrc32c…) come from modules.dep and need no entry here.
pub const WANTED: &[(&str, &str)] = &[
    // libcrc32c (used by nf_conntrack/nf_nat) only softdeps on crc32c, which
    // modules.dep does not list: load the generic implementation first.
    ("crc32c_generic", "CRYPTO_CRC32C"),
    ("overlay", "OVERLAY_FS"),
    ("bridge", "BRIDGE"),
    ("br_netfilter", "BRIDGE_NETFILTER"),
    ("veth", "VETH"),
    ("nf_conntrack", "NF_CONNTRACK"),
    ("nf_nat", "NF_NAT"),
    ("x_tables", "NETFILTER_XTABLES"),
    ("xt_tcpudp", "NETFILTER_XTABLES"),
    ("xt_nat", "NETFILTER_XT_NAT"),
    ("xt_MASQUERADE", "NETFILTER_XT_TARGET_MASQUERADE"),
    ("xt_conntrack", "NETFILTER_XT_MATCH_CONNTRACK"),
    ("xt_addrtype", "NETFILTER_XT_MATCH_ADDRTYPE"),
    ("ip_tables", "IP_NF_IPTABLES"),
    ("iptable_filter", "IP_NF_FILTER"),
    ("iptable_nat", "IP_NF_NAT"),
    ("nf_tables", "NF_TABLES"),
    ("nft_compat", "NFT_COMPAT"),
    ("nft_chain_nat", "NFT_NAT"),
    ("nft_masq", "NFT_MASQ"),
];

/// One module file, ready to ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub name: String,
    /// Path under `/lib/modules/<version>/`, without compression suffix.
    pub rel: String,
    /// The uncompressed `.ko` on the host.
    pub host: PathBuf,
}

/// `fs/overlayfs/overlay.ko.xz` → `overlay`; `-` and `_` are the same to
/// the kernel, we keep `_`.
pub fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split(".ko").next().unwrap_or(base);
    stem.replace('-', "_")
}

/// Parses modules.dep: name → (path, dependency paths).
pub fn parse_modules_dep(text: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let Some((path, deps)) = line.split_once(':') else {
            continue;
        };
        let deps = deps.split_whitespace().map(String::from).collect();
        map.insert(module_name(path), (path.trim().to_string(), deps));
    }
    map
}

/// The paths to insmod, dependencies first, each once.
pub fn load_order(
    dep: &BTreeMap<String, (String, Vec<String>)>,
    wanted: &[&str],
) -> Result<Vec<String>> {
    fn visit(
        name: &str,
        dep: &BTreeMap<String, (String, Vec<String>)>,
        done: &mut HashSet<String>,
        stack: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<()> {
        if done.contains(name) {
            return Ok(());
        }
        if stack.iter().any(|s| s == name) {
            bail!("dependency cycle: {} -> {name}", stack.join(" -> "));
        }
        let (path, deps) = dep
            .get(name)
            .with_context(|| format!("module {name} is not in modules.dep"))?;
        stack.push(name.to_string());
        for d in deps {
            visit(&module_name(d), dep, done, stack, order)?;
        }
        stack.pop();
        done.insert(name.to_string());
        order.push(path.clone());
        Ok(())
    }
    let (mut done, mut order) = (HashSet::new(), Vec::new());
    for name in wanted {
        visit(name, dep, &mut done, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

/// Value of `CONFIG_<symbol>` in a kernel config: `Some("y")`, `Some("m")`…
pub fn config_value<'a>(config: &'a str, symbol: &str) -> Option<&'a str> {
    let key = format!("CONFIG_{symbol}=");
    config.lines().find_map(|l| l.strip_prefix(&key))
}

/// Selects, orders and decompresses the wanted modules of the unpacked
/// package at `root` into `out` (with `modules.load` listing the order and a
/// trimmed `modules.dep` for busybox's modprobe).
pub fn prepare(sh: &Shell, root: &Path, version: &str, out: &Path) -> Result<()> {
    let config_path = root.join(format!("boot/config-{version}"));
    let config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let moddir = root.join("lib/modules").join(version);
    if !moddir.join("modules.dep").exists() {
        cmd!(sh, "depmod -b {root} {version}")
            .quiet()
            .run()
            .context("depmod -b failed")?;
    }
    let dep = parse_modules_dep(&std::fs::read_to_string(moddir.join("modules.dep"))?);
    let mut wanted = Vec::new();
    for (name, symbol) in WANTED {
        match config_value(&config, symbol) {
            Some("m") => wanted.push(*name),
            Some("y") => {} // built in: nothing to load
            other => eprintln!(
                "vm: warning: CONFIG_{symbol}={} in {version}: no {name}",
                other.unwrap_or("(unset)")
            ),
        }
    }
    let order = load_order(&dep, &wanted)?;
    let _ = std::fs::remove_dir_all(out);
    let (mut load, mut trimmed) = (String::new(), String::new());
    let strip = |p: &str| {
        p.trim_end_matches(".xz")
            .trim_end_matches(".zst")
            .trim_end_matches(".gz")
            .to_string()
    };
    for path in &order {
        let rel = strip(path);
        let dest = out.join(&rel);
        std::fs::create_dir_all(dest.parent().unwrap())?;
        decompress(sh, &moddir.join(path), &dest)?;
        let deps: Vec<String> = dep[&module_name(path)].1.iter().map(|d| strip(d)).collect();
        load.push_str(&format!("{rel}\n"));
        trimmed.push_str(&format!("{rel}: {}\n", deps.join(" ")));
    }
    std::fs::write(out.join("modules.load"), load)?;
    std::fs::write(out.join("modules.dep"), trimmed)?;
    Ok(())
}

fn decompress(sh: &Shell, src: &Path, dest: &Path) -> Result<()> {
    let name = src.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        "xz"
    } else if name.ends_with(".zst") {
        crate::util::ensure_program(sh, "zstd", "zstd")?;
        "zstd"
    } else if name.ends_with(".gz") {
        "gzip"
    } else {
        std::fs::copy(src, dest).with_context(|| format!("cannot copy {}", src.display()))?;
        return Ok(());
    };
    let data = cmd!(sh, "{tool} -dc {src}")
        .quiet()
        .output()
        .with_context(|| format!("{tool} -dc {name} failed"))?;
    std::fs::write(dest, data.stdout)?;
    Ok(())
}

/// The modules prepared by [`prepare`], in load order.
pub fn load_prepared(out: &Path) -> Result<Vec<Module>> {
    let list = std::fs::read_to_string(out.join("modules.load"))
        .with_context(|| format!("no modules.load in {}", out.display()))?;
    Ok(list
        .lines()
        .filter(|l| !l.is_empty())
        .map(|rel| Module {
            name: module_name(rel),
            rel: rel.to_string(),
            host: out.join(rel),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
kernel/fs/overlayfs/overlay.ko.xz:
kernel/net/802/stp.ko: kernel/net/llc/llc.ko
kernel/net/llc/llc.ko:
kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko kernel/net/llc/llc.ko
kernel/net/netfilter/x_tables.ko:
kernel/net/netfilter/xt_MASQUERADE.ko: kernel/net/netfilter/nf_nat.ko kernel/net/netfilter/x_tables.ko
kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_conntrack.ko
kernel/net/netfilter/nf_conntrack.ko:
kernel/drivers/net/veth.ko:
";

    #[test]
    fn names_drop_dirs_and_suffixes() {
        assert_eq!(module_name("kernel/fs/overlayfs/overlay.ko.xz"), "overlay");
        assert_eq!(
            module_name("kernel/net/netfilter/xt_MASQUERADE.ko"),
            "xt_MASQUERADE"
        );
        assert_eq!(module_name("crc32c-generic.ko.zst"), "crc32c_generic");
    }

    #[test]
    fn dependencies_come_first_and_once() {
        let dep = parse_modules_dep(SAMPLE);
        let order = load_order(
            &dep,
            &["br_netfilter", "bridge", "xt_MASQUERADE", "overlay"],
        )
        .unwrap();
        let names: Vec<String> = order.iter().map(|p| module_name(p)).collect();
        assert_eq!(
            names,
            [
                "llc",
                "stp",
                "bridge",
                "br_netfilter",
                "nf_conntrack",
                "nf_nat",
                "x_tables",
                "xt_MASQUERADE",
                "overlay"
            ]
        );
    }

    #[test]
    fn unknown_module_and_cycles_are_errors() {
        let dep = parse_modules_dep(SAMPLE);
        assert!(load_order(&dep, &["aufs"])
            .unwrap_err()
            .to_string()
            .contains("aufs"));
        let cyclic = parse_modules_dep("a.ko: b.ko\nb.ko: a.ko\n");
        assert!(load_order(&cyclic, &["a"])
            .unwrap_err()
            .to_string()
            .contains("cycle"));
    }

    #[test]
    fn reads_config_values() {
        let config = "CONFIG_OVERLAY_FS=m\n# CONFIG_AUFS is not set\nCONFIG_TMPFS=y\n";
        assert_eq!(config_value(config, "OVERLAY_FS"), Some("m"));
        assert_eq!(config_value(config, "TMPFS"), Some("y"));
        assert_eq!(config_value(config, "AUFS"), None);
    }
}
