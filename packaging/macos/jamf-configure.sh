#!/bin/sh
# Jamf policy script: writes the azver agent's settings, then restarts the agent if it is loaded.
# Add it to the policy that installs azver-agent-<v>.pkg, priority "Before", with parameters:
#   Parameter 4  collector URL          https://azver.corp.example:50051   (required)
#   Parameter 5  enrollment secret      (stored root-only; leave empty to keep the current one)
#   Parameter 6  role                   developer | build-runner | server  (optional)
#   Parameter 7  labels                 team=payments,site=ams             (optional)
# Jamf passes $1-$3 (mount point, computer name, user name) itself. Settings go to
# /Library/Application Support/azver/agent.toml, which this script owns: edits there are replaced
# at the next run. The secret goes to .../enroll-secret (0600), named by enroll_secret_file.
set -eu
collector=${4:-}
secret=${5:-}
role=${6:-}
labels=${7:-}
dir="/Library/Application Support/azver"

[ -n "$collector" ] || { echo "azver: parameter 4 (collector URL) is required" >&2; exit 1; }
case $role in "" | developer | build-runner | server) ;; *) echo "azver: parameter 6 must be developer, build-runner or server" >&2; exit 1 ;; esac

# A TOML basic string: backslashes and double quotes escaped.
toml_string() {
    printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

umask 077
mkdir -p "$dir"
chmod 0755 "$dir"
if [ -n "$secret" ]; then
    printf '%s\n' "$secret" > "$dir/enroll-secret.tmp"
    chmod 0600 "$dir/enroll-secret.tmp"
    mv "$dir/enroll-secret.tmp" "$dir/enroll-secret"
fi
{
    echo "# Written by jamf-configure.sh (Jamf policy); replaced at every run."
    echo "collector = $(toml_string "$collector")"
    [ -n "$role" ] && echo "role = $(toml_string "$role")"
    [ -e "$dir/enroll-secret" ] && echo "enroll_secret_file = $(toml_string "$dir/enroll-secret")"
    if [ -n "$labels" ]; then
        echo
        echo "[labels]"
        printf '%s\n' "$labels" | tr ',' '\n' | while IFS= read -r pair; do
            [ -n "$pair" ] || continue
            key=${pair%%=*}
            value=${pair#*=}
            [ "$key" != "$pair" ] || { echo "azver: label '$pair' is not key=value" >&2; exit 1; }
            echo "$(toml_string "$key") = $(toml_string "$value")"
        done
    fi
} > "$dir/agent.toml.tmp"
chmod 0644 "$dir/agent.toml.tmp"
mv "$dir/agent.toml.tmp" "$dir/agent.toml"
echo "azver: wrote $dir/agent.toml"

if launchctl print system/com.azver.agent >/dev/null 2>&1; then
    launchctl kickstart -k system/com.azver.agent
fi
exit 0
