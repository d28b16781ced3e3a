# azver-collector: what the maintainer scripts do (see common.sh for how they are assembled).

UNIT=azver-collector.service
USER_NAME=azver-collector
STATE_DIR=/var/lib/azver-collector

create_user() {
    getent group "$USER_NAME" >/dev/null || groupadd --system "$USER_NAME"
    getent passwd "$USER_NAME" >/dev/null \
        || useradd --system --gid "$USER_NAME" --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "azver collector" "$USER_NAME"
}

pkg_preinstall() {
    create_user
}

pkg_installed() {
    create_user
    # systemd makes the state dir at start too (StateDirectory=); making it now lets the admin
    # run `azver-collector secret create` before the first start.
    if [ ! -d "$STATE_DIR" ]; then
        install -d -o "$USER_NAME" -g "$USER_NAME" -m 0750 "$STATE_DIR"
    fi
    daemon_reload
    if [ "$1" = fresh ]; then
        enable_unit "$UNIT"
        start_unit "$UNIT"
    else
        try_restart_unit "$UNIT"
    fi
}

# Purge deletes the fleet database. The system user stays (its id may own files elsewhere, e.g.
# backups); `userdel azver-collector` removes it.
pkg_purge() {
    forget_unit "$UNIT"
    rm -rf "$STATE_DIR"
    rmdir /etc/azver 2>/dev/null || true
}
