# Intune Remediations, detection script: runs `azver-agent check` on the device.
#   exit 0  compliant, or no Azure client on the device (not applicable)
#   exit 1  below the baseline (Azure CLI < 2.76, Az < 14.3, Az.Accounts < 5.2.0), signed in as a
#           human on a build runner, the check could not decide, or no agent installed
# The last line written is what Intune shows as the detection output. Settings in Intune: run as
# SYSTEM (not the signed-in user), "Run script in 64-bit PowerShell" = Yes, signature check off
# unless you sign it.
$programFiles = if ($env:ProgramW6432) { $env:ProgramW6432 } else { $env:ProgramFiles }
$agent = Join-Path $programFiles 'azver\azver-agent.exe'
if (-not (Test-Path -LiteralPath $agent)) {
    Write-Output 'azver: agent not installed'
    exit 1
}

$json = & $agent check --format json 2>$null | Out-String
$code = $LASTEXITCODE
$result = $null
try { $result = $json | ConvertFrom-Json } catch { }

switch ($code) {
    0 {
        $status = if ($result) { $result.status } else { 'compliant' }
        Write-Output "azver: $status"
        exit 0
    }
    1 {
        $findings = @()
        if ($result) {
            $findings = @($result.findings | ForEach-Object {
                if ($_.installed) { "$($_.product) $($_.installed) < $($_.required)" } else { "$($_.kind) ($($_.product))" }
            })
        }
        Write-Output ("azver: noncompliant: " + ($findings -join '; '))
        exit 1
    }
    default {
        Write-Output "azver: the check could not decide (exit code $code); run '$agent check' on the device"
        exit 1
    }
}
