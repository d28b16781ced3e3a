@{
ModuleVersion = '5.8.4'
}
