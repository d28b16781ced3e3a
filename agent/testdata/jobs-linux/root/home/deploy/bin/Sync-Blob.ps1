$Credential = Import-Clixml -Path "$HOME/.sync-cred.xml"
Login-AzAccount -Credential:$Credential | Out-Null
$spSecret = 'AZVER-SENTINEL-jobs-5d2e-never-leak' | ConvertTo-SecureString -AsPlainText -Force
$spCred = [pscredential]::new('0d5f5a8e-3d4b-4c57-9a53-2f7c0b7b7d11', $spSecret)
Connect-AzAccount -ServicePrincipal -Credential $spCred -Tenant 'contoso.onmicrosoft.com'
