# Weekly cost report
$AdminPassword = "AZVER-SENTINEL-jobs-5d2e-never-leak"
$cred = New-Object System.Management.Automation.PSCredential("alice@contoso.com", (ConvertTo-SecureString $AdminPassword -AsPlainText -Force))
Connect-AzAccount -Credential $cred | Out-Null
Get-AzConsumptionUsageDetail -BillingPeriodName 202510 | Export-Csv ~/cost.csv
