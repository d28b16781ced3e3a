# Uninstalls every installed version of the azver agent, whatever its product code (the product
# code changes with every build; the UpgradeCode does not). For Intune's uninstall command or a
# ConfigMgr uninstall program:
#   powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\Uninstall-AzverAgent.ps1
# The agent's state (C:\ProgramData\azver: node key, spool, logs) stays; delete it to forget the host.
$upgradeCode = '{6D26B5F0-B11C-445F-89DD-7F45019202E1}'
$installer = New-Object -ComObject WindowsInstaller.Installer
$products = @($installer.RelatedProducts($upgradeCode))
$exit = 0
foreach ($product in $products) {
    $p = Start-Process -FilePath msiexec.exe -ArgumentList @('/x', $product, '/qn', '/norestart') -Wait -PassThru
    # 3010: uninstalled, a reboot is pending.
    if ($p.ExitCode -ne 0 -and $p.ExitCode -ne 3010) { $exit = $p.ExitCode }
}
exit $exit
