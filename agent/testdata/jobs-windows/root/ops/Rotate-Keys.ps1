# Rotates the storage keys; runs as a scheduled task.
$secure = ConvertTo-SecureString -String 'AZVER-SENTINEL-jobs-5d2e-never-leak' -AsPlainText -Force
$credential = [System.Management.Automation.PSCredential]::new('rotate@contoso.com', $secure)
Connect-AzAccount -Credential $credential -Tenant contoso.onmicrosoft.com -WarningAction SilentlyContinue
New-AzStorageAccountKey -ResourceGroupName reports -Name contosoreports -KeyName key1
