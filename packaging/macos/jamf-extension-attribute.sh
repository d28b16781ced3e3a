#!/bin/sh
# Jamf Pro Extension Attribute "azver compliance" (Data Type: String, Input Type: Script).
# Runs `azver-agent check` at every inventory update and reports one word, for smart groups:
#   compliant | not-applicable  the host meets the baseline, or has no Azure client
#   noncompliant                something is below the baseline (Azure CLI < 2.76, Az < 14.3,
#                               Az.Accounts < 5.2.0), or a build runner signs in as a human
#   error                       the check could not decide (exit code 2); see `azver-agent check`
#   not-installed               no agent at /usr/local/bin/azver-agent
agent=/usr/local/bin/azver-agent
if [ ! -x "$agent" ]; then
    echo "<result>not-installed</result>"
    exit 0
fi
json=$("$agent" check --format json 2>/dev/null)
code=$?
case $code in
    0)
        # The document's first "status" is the verdict: compliant or not-applicable.
        status=$(printf '%s' "$json" | sed -n 's/^[^"]*"status"[[:space:]]*:[[:space:]]*"\([a-z-]*\)".*/\1/p' | head -n 1)
        echo "<result>${status:-compliant}</result>"
        ;;
    1) echo "<result>noncompliant</result>" ;;
    *) echo "<result>error</result>" ;;
esac
exit 0
