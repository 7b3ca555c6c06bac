#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester tests of DumpShell's user-visible behaviour, for pwsh users: ./build.ps1 Test runs them when Pester 5+
# is installed. The xunit suite (DumpShell.Tests/Module) covers the same ground in a hosted runspace.
# Expected values come from ../shared: the dump factory's *.truth.json and dumps/MANIFEST.md.

BeforeAll {
    $repo = Split-Path $PSScriptRoot -Parent
    Import-Module (Join-Path $repo 'DumpShell.psd1') -Force
    $dumps = Join-Path (Split-Path $repo -Parent) 'shared/dumps'
    $wine = Join-Path $dumps 'wine'
    function Get-Truth([string] $Name) { Get-Content -Raw (Join-Path $wine "$Name.truth.json") | ConvertFrom-Json }
}

AfterAll {
    Close-Dump -All
    Remove-Module DumpShell -ErrorAction SilentlyContinue
}

Describe 'Get-DumpThread' {
    It 'finds exactly the spinning thread of spin_x64' {
        $spinner = (Get-Truth spin_x64).threads | Where-Object name -EQ 'spinner'
        $spiking = @(Get-DumpThread -Path (Join-Path $wine 'spin_x64.dmp') | Where-Object Spiking)
        $spiking.Count | Should -Be 1
        $spiking[0].Id | Should -Be $spinner.tid
        $spiking[0].Name | Should -Be 'spinner'
    }

    It 'finds no spinning thread in an idle process' {
        @(Get-DumpThread -Path (Join-Path $wine 'idle_x64.dmp') | Where-Object Spiking).Count | Should -Be 0
    }

    It 'lists the threads in ThreadList order with their names' {
        $truth = Get-Truth spin_x64
        $threads = Get-DumpThread -Path (Join-Path $wine 'spin_x64.dmp')
        $threads.Id | Should -Be $truth.live_process.threads.tid
        $threads.Name | Should -Be $truth.live_process.threads.name
    }
}

Describe 'Get-ChildItem pipelines' {
    It 'binds FileInfo objects by FullName' {
        $infos = Get-ChildItem $wine -Filter 'spin*.dmp' | Get-DumpInfo
        ($infos.DumpPath | ForEach-Object { Split-Path $_ -Leaf } | Sort-Object) | Should -Be @('spin_pdb_x64.dmp', 'spin_x64.dmp')
    }

    It 'goes on past a bad file with one error' {
        $bad = Join-Path $TestDrive 'bad.dmp'
        Set-Content -Path $bad -Value 'not a dump at all, just some text that is long enough'
        $infos = Get-DumpInfo -Path (Join-Path $wine 'idle_x64.dmp'), $bad -ErrorVariable errs -ErrorAction SilentlyContinue
        @($infos).Count | Should -Be 1
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'NotAMinidump,*'
        $errs[0].TargetObject | Should -Be $bad
    }
}

Describe 'Get-DumpException' {
    It 'decodes the access violation of av_null_write_x64' {
        $truth = (Get-Truth av_null_write_x64).exception
        $e = Get-DumpException -Path (Join-Path $wine 'av_null_write_x64.dmp')
        $e.Code | Should -Be ([uint32]$truth.code)
        $e.Address | Should -Be ([uint64]$truth.address)
        $e.AccessType | Should -Be 'Write'
        $e.TargetAddress | Should -Be 0x18
    }

    It 'returns nothing for a manual dump' {
        Get-DumpException -Path (Join-Path $wine 'idle_x64.dmp') | Should -BeNullOrEmpty
    }
}

Describe 'Get-DumpHandle' {
    It 'counts handles by type like !handle 0 0' {
        $expected = (Get-Truth handles_x64).live_process.handles.counts_by_type
        $summary = Get-DumpHandle -Path (Join-Path $wine 'handles_x64.dmp') -Summary
        foreach ($row in $summary) { $row.Count | Should -Be $expected.($row.Type) }
        ($summary | Measure-Object).Count | Should -Be @($expected.PSObject.Properties).Count
    }
}

Describe 'Get-DumpModule' {
    It 'lists the 13 modules of minidump2 with c:\test_app.exe first' {
        # MANIFEST: minidump2 — 13 modules, c:\test_app.exe first (rust-minidump test_minidump.rs:65,94-111).
        $modules = Get-DumpModule -Path (Join-Path $dumps 'breakpad/minidump2.dmp')
        $modules.Count | Should -Be 13
        $modules[0].Path | Should -Be 'c:\test_app.exe'
        $modules[0].BaseAddress | Should -Be 0x400000
    }
}

Describe 'Get-DumpMemory' {
    It 'reads memory at a WinDbg-style address' {
        # MANIFEST: minidump2 — u64 0x7c90e9c000000000 at 0x12f31c.
        $row = Get-DumpMemory -Path (Join-Path $dumps 'breakpad/minidump2.dmp') -Address '00000000`0012f31c' -Format QWord -Count 1
        $row.Values[0] | Should -Be 0x7c90e9c000000000
    }
}

Describe 'Errors' {
    It 'names a missing file' {
        Get-DumpInfo -Path (Join-Path $wine 'missing.dmp') -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'DumpFileNotFound,*'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'says a directory is not a dump' {
        Get-DumpInfo -Path $wine -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'PathIsDirectory,*'
    }
}

Describe 'Views' {
    It 'renders threads like !runaway' {
        $text = Get-DumpThread -Path (Join-Path $wine 'spin_x64.dmp') | Out-String -Width 120
        $text | Should -Match 'TotalCpuTime'
        $text | Should -Match '0x10c \(268\)'
    }
}

Describe 'Invoke-DumpPattern' {
    It 'finds each scenario''s pattern in a folder of dumps' {
        $findings = Get-ChildItem $wine -Filter '*.dmp' | Invoke-DumpPattern -All
        ($findings | Where-Object { $_.DumpPath -like '*idle_x64.dmp' }).Pattern | Should -Contain 'Manual Dump (Process)'
        $spin = (Get-Truth spin_x64).threads | Where-Object name -EQ 'spinner'
        ($findings | Where-Object { $_.DumpPath -like '*spin_x64.dmp' -and $_.Pattern -eq 'Spiking Thread' }).ThreadId | Should -Be $spin.tid
        $cpp = (Get-Truth cpp_throw_msvc_x64).from_scenario.cpp_exception
        ($findings | Where-Object { $_.DumpPath -like '*cpp_throw_msvc_x64.dmp' -and $_.Pattern -eq 'C++ Exception' }).Evidence | Should -Match ([regex]::Escape($cpp.thrown_type))
        @($findings | Where-Object { $_.DumpPath -like '*idle_x64.dmp' -and $_.Severity -ge 'Error' }).Count | Should -Be 0
    }

    It 'exports one flat CSV row per finding' {
        $csv = Invoke-DumpPattern -Path (Join-Path $wine 'lasterror_x64.dmp') -Name 'Last Error Collection' | ConvertTo-Csv -NoTypeInformation
        $csv.Count | Should -Be 2
        $csv[0] | Should -Match '"Pattern","Category","Severity","ThreadId","Module","Address","Evidence"'
    }

    It 'lists the catalogue' {
        @(Get-DumpPattern).Count | Should -Be 58
        (Get-DumpPattern 'Manual Dump').Name | Should -Be 'Manual Dump (Process)'
    }
}

Describe 'Get-DumpEnvironment and Get-DumpLastError' {
    It 'reads the command line from the PEB' {
        $live = (Get-Truth lasterror_x64).live_process
        (Get-DumpEnvironment -Path (Join-Path $wine 'lasterror_x64.dmp')).CommandLine | Should -Be $live.command_line
    }

    It 'reads the five last errors' {
        $expected = (Get-Truth lasterror_x64).threads | Where-Object { $null -ne $_.last_error }
        $errors = Get-DumpLastError -Path (Join-Path $wine 'lasterror_x64.dmp') -NonZero
        ($errors | Sort-Object ThreadId).LastError | Should -Be ($expected | Sort-Object tid).last_error
    }
}
