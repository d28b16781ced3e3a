# Helpers shared by the maintainer scripts of both packages. packaging/build.sh pastes this file,
# then the package's own file (agent.sh or collector.sh), in front of every deb maintainer script
# and rpm scriptlet, which then call pkg_preinstall, pkg_installed fresh|upgrade, pkg_removing,
# pkg_removed or pkg_purge; the package's file sets UNIT. POSIX sh: dash on Debian and Ubuntu,
# bash on RHEL.

# systemd manages this boot (not a container without it, not a chroot building an image).
systemd_running() {
    [ -d /run/systemd/system ]
}

has_systemctl() {
    command -v systemctl >/dev/null 2>&1
}

daemon_reload() {
    if systemd_running; then
        systemctl daemon-reload || true
    fi
}

# Enabling only writes symlinks, so it works in a chroot or an image build too: the unit starts at
# the next boot. It is done on a fresh install only, so an admin's `systemctl disable` survives
# upgrades.
enable_unit() {
    if has_systemctl; then
        systemctl enable "$1" >/dev/null 2>&1 || echo "$1: could not enable the unit; enable it with: systemctl enable --now $1" >&2
    fi
}

start_unit() {
    if systemd_running; then
        systemctl start "$1" || echo "$1: did not start; see: journalctl -u $1" >&2
    fi
}

# Restart after an upgrade only if it was running.
try_restart_unit() {
    if systemd_running; then
        systemctl try-restart "$1" || echo "$1: did not restart; see: journalctl -u $1" >&2
    fi
}

stop_unit() {
    if systemd_running; then
        systemctl stop "$1" || true
    fi
}

disable_unit() {
    if has_systemctl; then
        systemctl disable "$1" >/dev/null 2>&1 || true
    fi
}

# After the unit file is gone `systemctl disable` may refuse; the symlinks it made go by hand.
forget_unit() {
    rm -f "/etc/systemd/system/multi-user.target.wants/$1"
    rm -rf "/etc/systemd/system/$1.d"
    daemon_reload
}

# Removing either package: stop its unit first, forget it after its files are gone.
pkg_removing() {
    stop_unit "$UNIT"
}

pkg_removed() {
    daemon_reload
}
