#!/bin/busybox sh
# The guest's init, run by busybox as PID 1 in two phases.
#
# Phase 1 (on the initramfs): pivot_root(2) fails with EINVAL while / is the
# initramfs itself, and the runtime needs pivot_root. So copy everything into
# a tmpfs and switch_root there. Phase 2 (on the tmpfs) sets up a host that
# looks like a systemd one, then runs a shell or the requested script.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-linux}

if [ "$1" != phase2 ]; then
    mkdir -p /newroot
    mount -t tmpfs -o mode=0755 tmpfs /newroot
    for entry in /*; do
        case "$entry" in /newroot|/proc|/sys|/dev) continue ;; esac
        cp -a "$entry" /newroot/
    done
    mkdir -p /newroot/proc /newroot/sys /newroot/dev
    # switch_root deletes the initramfs' files, freeing their memory.
    exec switch_root /newroot /init phase2
fi

fail() { echo "vm-init: $*" >&2; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /var/lib/mydocker /var/run
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
chmod 1777 /tmp
# Like systemd: every mount shared, which is what trips up pivot_root in
# runtimes that forget to make their mount namespace private.
mount --make-rshared /

cgroup=v2 run=
for word in $(cat /proc/cmdline); do
    case "$word" in
        mydocker.cgroup=*) cgroup=${word#*=} ;;
        mydocker.run=*) run=${word#*=} ;;
    esac
done

# Modules, dependencies first (the list is computed on the host).
release=$(uname -r)
if [ -f "/lib/modules/$release/modules.load" ]; then
    while read -r module; do
        insmod "/lib/modules/$release/$module" || fail "insmod $module failed"
    done <"/lib/modules/$release/modules.load"
fi

mount_v1() {
    mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
    # One hierarchy per controller, co-mounting the pairs systemd co-mounts.
    for ctrls in $(awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups | sed \
        -e 's/^cpu$/cpu,cpuacct/' -e '/^cpuacct$/d' \
        -e 's/^net_cls$/net_cls,net_prio/' -e '/^net_prio$/d'); do
        mkdir -p "/sys/fs/cgroup/$ctrls"
        mount -t cgroup -o "$ctrls" cgroup "/sys/fs/cgroup/$ctrls" || fail "cgroup v1 $ctrls"
        case "$ctrls" in *,*)
            for c in $(echo "$ctrls" | tr , ' '); do ln -s "$ctrls" "/sys/fs/cgroup/$c"; done ;;
        esac
    done
}
case "$cgroup" in
    v1) mount_v1 ;;
    hybrid)
        # systemd's hybrid layout, as on the development host.
        mount_v1
        mkdir -p /sys/fs/cgroup/unified
        mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified ;;
    *)
        mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
        for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
            echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || fail "cannot enable cgroup controller $c"
        done ;;
esac

hostname vm
ip link set lo up

# Reports a status the host can read back: a marker line on the console and
# isa-debug-exit (QEMU then exits with (status << 1) | 1).
report() {
    echo
    echo "@@mydocker-vm-exit=$1@@"
    sync
    # The host stops QEMU when the marker arrives; should it never see it,
    # isa-debug-exit carries the status (after a pause for the UART to drain).
    sleep 2
    value=$(( $1 & 127 ))
    if [ "$value" = 0 ]; then
        dd if=/dev/zero of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    else
        printf "$(printf '\\%03o' "$value")" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
    fi
    off
}

# Quiet even the kernel's emergency-level "reboot: Power down".
off() { echo 0 >/proc/sys/kernel/printk; poweroff -f; }

cd /
if [ -n "$run" ]; then
    # cttyhack gives the script the console as its controlling tty, so
    # `mydocker run -ti` works in scripts too.
    setsid cttyhack sh "$run"
    report $?
fi

export PS1='vm# '
# Not exec'd: when the shell exits, power off instead of panicking. PID 1
# stays this shell, whose waits reap orphans (detached containers).
setsid cttyhack sh
off
