#Requires -Modules Az.Accounts
<#
.SYNOPSIS
    Rotates the app secrets. Used to run:
    Connect-AzAccount -Credential $cred
#>
param([string]$VaultName = 'contoso-ops')

$password = ConvertTo-SecureString 'AZVER-SENTINEL-jobs-5d2e-never-leak' -AsPlainText -Force
$cred = New-Object System.Management.Automation.PSCredential ('deploy@contoso.com', $password)
Write-Host "Connect-AzAccount -Credential $cred"
connect-azaccount `
    -CREDENTIAL $cred `
    -Tenant 'contoso.onmicrosoft.com'
Get-AzKeyVaultSecret -VaultName $VaultName | Out-Null
Connect-AzAccount -Identity   # the target state
