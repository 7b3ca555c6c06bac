#Requires -Version 7.6
<#
.SYNOPSIS
    Builds, tests and packages DumpShell.
.EXAMPLE
    ./build.ps1                 # Build (Release)
    ./build.ps1 Test            # dotnet test, then Pester when it is installed
    ./build.ps1 Package         # out/DumpShell: a module folder Import-Module takes on another machine
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package')]
    [string[]] $Task = 'Build',
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    [string] $OutputPath = (Join-Path $PSScriptRoot 'out')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Invoke-Dotnet {
    & dotnet @args
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($args -join ' ') failed with exit code $LASTEXITCODE." }
}

$solution = Join-Path $PSScriptRoot 'DumpShell.slnx'
foreach ($step in $Task) {
    switch ($step) {
        'Build' {
            Invoke-Dotnet build $solution -c $Configuration
        }
        'Test' {
            Invoke-Dotnet test $solution -c $Configuration
            if (Get-Module -ListAvailable Pester | Where-Object Version -ge '5.0') {
                Import-Module Pester -MinimumVersion 5.0
                $result = Invoke-Pester -Path (Join-Path $PSScriptRoot 'DumpShell.Tests') -PassThru -Output Detailed
                if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed." }
            }
            else {
                Write-Warning 'Pester 5+ is not installed: skipped DumpShell.Tests/*.Tests.ps1 (Install-Module Pester).'
            }
        }
        'Package' {
            Invoke-Dotnet build (Join-Path $PSScriptRoot 'DumpShell/DumpShell.Commands/DumpShell.Commands.csproj') -c $Configuration
            $target = Join-Path $OutputPath 'DumpShell'
            if (Test-Path $target) { Remove-Item $target -Recurse -Force }
            New-Item -ItemType Directory -Path (Join-Path $target 'module') -Force | Out-Null
            Copy-Item (Join-Path $PSScriptRoot 'DumpShell.psd1') $target
            Copy-Item (Join-Path $PSScriptRoot 'formats') $target -Recurse
            Copy-Item (Join-Path $PSScriptRoot 'module/bin') (Join-Path $target 'module') -Recurse
            Get-ChildItem $target -Recurse -Filter *.pdb | Remove-Item
            Test-ModuleManifest (Join-Path $target 'DumpShell.psd1') | Out-Null
            Write-Host "Module folder: $target (Import-Module $target/DumpShell.psd1)"
        }
    }
}
