#!/bin/bash
set -euo pipefail
AZ_USER="backup@contoso.com"
AZ_PASS='AZVER-SENTINEL-jobs-5d2e-never-leak'
# Sign in as the backup account (az login -u backup -p AZVER-SENTINEL-jobs-5d2e-never-leak until we get a managed identity)
echo "signing in as $AZ_USER"
az login \
  --username "$AZ_USER" \
  --password "$AZ_PASS" \
  --output none
az storage blob upload-batch --account-name contosobackups -d nightly -s /srv/reports
