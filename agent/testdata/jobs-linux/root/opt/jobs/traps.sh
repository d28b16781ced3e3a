#!/bin/bash
# Things that look like a user sign-in but are not.
VAULT_SECRET="$(cat /run/secrets/sp)"
echo "az login -u ops@contoso.com -p AZVER-SENTINEL-jobs-5d2e-never-leak"
printf '%s\n' "az login --username ops --password AZVER-SENTINEL-jobs-5d2e-never-leak"
: "az login -u ops -p AZVER-SENTINEL-jobs-5d2e-never-leak"
az login --service-principal -u 0d5f5a8e-3d4b-4c57-9a53-2f7c0b7b7d11 -p "$VAULT_SECRET" --tenant contoso.onmicrosoft.com
az login --service-principal -u 0d5f5a8e-3d4b-4c57-9a53-2f7c0b7b7d11 --federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --tenant contoso.onmicrosoft.com
az login --identity --username 3c6b6d2e-1111-4a0e-9e61-0a1b2c3d4e5f
az login -u ops@contoso.com   # prompts for a password: never runs unattended
az account show -o none # az login -u x -p AZVER-SENTINEL-jobs-5d2e-never-leak
