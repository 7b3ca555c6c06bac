@{
    RootModule           = 'module/bin/DumpShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = 'f5668fa8-d8a6-42cd-8883-dfe0b5b34bf4'
    Author               = 'DumpShell contributors'
    Copyright            = '(c) DumpShell contributors. MIT License.'
    Description          = 'Windows memory dump analysis as PowerShell objects: threads, modules, exceptions, handles and memory of minidumps, on Windows, Linux and macOS.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @(
        'formats/DumpShell.Dump.format.ps1xml'
        'formats/DumpShell.Info.format.ps1xml'
        'formats/DumpShell.Threads.format.ps1xml'
        'formats/DumpShell.Modules.format.ps1xml'
        'formats/DumpShell.Exceptions.format.ps1xml'
        'formats/DumpShell.Handles.format.ps1xml'
        'formats/DumpShell.Memory.format.ps1xml'
        'formats/DumpShell.Stacks.format.ps1xml'
        'formats/DumpShell.Findings.format.ps1xml'
        'formats/DumpShell.Environment.format.ps1xml'
        'formats/DumpShell.Disassembly.format.ps1xml'
        'formats/DumpShell.Locks.format.ps1xml'
        'formats/DumpShell.Analysis.format.ps1xml'
        'formats/DumpShell.Managed.format.ps1xml'
    )
    CmdletsToExport      = @(
        'Open-Dump'
        'Close-Dump'
        'Get-DumpInfo'
        'Get-DumpThread'
        'Get-DumpModule'
        'Get-DumpException'
        'Get-DumpHandle'
        'Get-DumpMemory'
        'Get-DumpStack'
        'Set-DumpSymbolPath'
        'Get-DumpPattern'
        'Invoke-DumpPattern'
        'Get-DumpEnvironment'
        'Get-DumpLastError'
        'Get-DumpDisassembly'
        'Get-DumpCriticalSection'
        'Get-DumpWaitChain'
        'Get-DumpAnalysis'
        'Get-DumpClrRuntime'
        'Get-DumpManagedException'
        'Get-DumpHeap'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('dump', 'minidump', 'debugging', 'windbg', 'crash', 'triage')
        }
    }
}
