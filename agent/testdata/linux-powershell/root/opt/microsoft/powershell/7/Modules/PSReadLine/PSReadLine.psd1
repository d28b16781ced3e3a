@{
ModuleVersion = '2.3.6'
RootModule = 'PSReadLine.psm1'
}
