#!/bin/sh
pwsh -NoProfile -Command "Connect-AzureRmAccount -Credential (New-Object PSCredential('ops@contoso.com', (ConvertTo-SecureString 'AZVER-SENTINEL-jobs-5d2e-never-leak' -AsPlainText -Force)))"
