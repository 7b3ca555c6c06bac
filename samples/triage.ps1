# First look at a crash dump, as a WinDbg user would start: vertarget, .exr, .ecxr + k, ~, lm, !analyze -v.
#   dotnet run --project DumpShell/DumpShell.Cli -- samples/triage.ps1 samples/av_null_write_x64.dmp
param([Parameter(Mandatory)] [string[]] $Path)

# Each result goes to Out-Default on its own: one output stream of mixed types would show every type
# after the first as a plain property list.
$dump = Open-Dump -Path $Path
Get-DumpInfo -Dump $dump | Out-Default
Get-DumpException -Dump $dump | Out-Default
Get-DumpStack -Dump $dump -Exception | Out-Default
Get-DumpThread -Dump $dump | Out-Default
Get-DumpModule -Dump $dump | Out-Default
Get-DumpAnalysis -Dump $dump | Out-Default
