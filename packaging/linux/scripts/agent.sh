# azver-agent: what the maintainer scripts do (see common.sh for how they are assembled).

UNIT=azver-agent.service
ENV_FILE=/etc/azver/agent.env
# Read from the installer's environment (`AZVER_COLLECTOR=... dpkg -i`, `... rpm -i`, `... dnf
# install`) on the first install, when /etc/azver/agent.env does not exist yet.
INSTALL_SETTINGS="AZVER_COLLECTOR AZVER_ENROLL_SECRET AZVER_ROLE AZVER_LABELS AZVER_CA_CERT"

# One value as systemd's EnvironmentFile= reads it: bare when it holds only URL, label and
# base64 characters, else in single quotes (which cannot hold a single quote themselves).
env_value() {
    case $1 in
        *[!A-Za-z0-9_.:/,=@+%~?\&-]*)
            case $1 in
                *"'"*) return 1 ;;
                *) printf "'%s'" "$1" ;;
            esac ;;
        *) printf '%s' "$1" ;;
    esac
}

write_env_file() {
    [ -e "$ENV_FILE" ] && return 0
    any=
    for name in $INSTALL_SETTINGS; do
        eval "value=\${$name-}"
        [ -n "$value" ] && any=1
    done
    [ -n "$any" ] || return 0
    mkdir -p /etc/azver
    tmp="$ENV_FILE.dpkg-new.$$"
    (
        umask 077
        echo "# Written by the azver-agent package from the installer's environment; yours to edit."
        echo "# Read by azver-agent.service (EnvironmentFile=). Keep it root-only: it holds the enrollment secret."
        for name in $INSTALL_SETTINGS; do
            eval "value=\${$name-}"
            [ -n "$value" ] || continue
            if quoted=$(env_value "$value"); then
                printf '%s=%s\n' "$name" "$quoted"
            else
                echo "azver-agent: $name contains a single quote; not written to $ENV_FILE" >&2
            fi
        done
    ) > "$tmp"
    chown root:root "$tmp" 2>/dev/null || true
    chmod 0600 "$tmp"
    mv "$tmp" "$ENV_FILE"
    echo "azver-agent: wrote $ENV_FILE from the installer's environment"
}

# A collector URL is set somewhere the unit will see it.
collector_configured() {
    grep -Eqs '^[[:space:]]*AZVER_COLLECTOR=.' "$ENV_FILE" \
        || grep -Eqs '^[[:space:]]*collector[[:space:]]*=' /etc/azver/agent.toml \
        || grep -Eqrs 'AZVER_COLLECTOR=.' "/etc/systemd/system/$UNIT.d"
}

pkg_preinstall() {
    :
}

pkg_installed() {
    write_env_file
    daemon_reload
    if [ "$1" = fresh ]; then
        enable_unit "$UNIT"
        if collector_configured; then
            start_unit "$UNIT"
        else
            echo "azver-agent: no collector configured yet; set AZVER_COLLECTOR in $ENV_FILE or collector in /etc/azver/agent.toml, then: systemctl restart $UNIT"
        fi
    else
        try_restart_unit "$UNIT"
    fi
}

# The node key, host id and spool go with the settings written at install time.
pkg_purge() {
    forget_unit "$UNIT"
    rm -rf /var/lib/azver
    rm -f "$ENV_FILE"
    rmdir /etc/azver 2>/dev/null || true
}
