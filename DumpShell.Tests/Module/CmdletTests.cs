using System.Management.Automation;
using System.Text.Json;
using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>The cmdlets as a PowerShell user drives them, checked against the dumps' ground truth.</summary>
public sealed class CmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;

    private static T[] Objects<T>(Cli.ScriptResult r) => r.BaseObjects.OfType<T>().ToArray();

    [Fact]
    public void Module_exports_every_cmdlet_it_implements_and_nothing_else()
    {
        // Three lists that must agree: the cmdlet classes in DumpShell.dll, the manifest's explicit
        // CmdletsToExport, and what PowerShell actually exports.
        var implemented = _ps.Invoke("""
            (Get-Module DumpShell).ImplementingAssembly.GetExportedTypes() |
                ForEach-Object { $_.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false) } |
                ForEach-Object { '{0}-{1}' -f $_.VerbName, $_.NounName }
            """).BaseObjects.Cast<string>().Order().ToArray();
        var exported = _ps.Invoke("(Get-Command -Module DumpShell).Name").BaseObjects.Cast<string>().Order().ToArray();
        var manifest = _ps.Invoke("(Test-ModuleManifest -Path $args[0]).ExportedCmdlets.Keys", Path.Combine(TestData.RepoRoot, "DumpShell.psd1"))
            .BaseObjects.Cast<string>().Order().ToArray();
        Assert.Contains("Get-DumpThread", implemented);
        Assert.Equal(implemented, exported);
        Assert.Equal(implemented, manifest);
    }

    [Fact]
    public void Manifest_is_valid_and_explicit()
    {
        var r = _ps.Invoke("Test-ModuleManifest -Path $args[0]", Path.Combine(TestData.RepoRoot, "DumpShell.psd1"));
        Assert.Empty(r.Errors);
        var manifest = Assert.IsType<PSModuleInfo>(Assert.Single(r.BaseObjects));
        Assert.Equal(new Version(7, 6), manifest.PowerShellVersion);
        Assert.Equal(new[] { "Core" }, manifest.CompatiblePSEditions);
        Assert.Empty(manifest.ExportedFunctions);
        Assert.Empty(manifest.ExportedAliases);
        Assert.Empty(manifest.ExportedVariables);
        Assert.DoesNotContain(manifest.ExportedCmdlets.Keys, k => k.Contains('*'));
        var formats = Directory.GetFiles(Path.Combine(TestData.RepoRoot, "formats"), "*.format.ps1xml").Select(Path.GetFileName).Order();
        Assert.Equal(formats, manifest.ExportedFormatFiles.Select(Path.GetFileName).Order());
    }

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void Where_Spiking_returns_exactly_the_spinning_thread(string name)
    {
        var spinner = TestData.Truth(name).GetProperty("threads").EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == "spinner").GetProperty("tid").GetUInt32();
        var r = _ps.Invoke($"Get-DumpThread -Path wine/{name}.dmp | Where Spiking");
        Assert.Empty(r.Errors);
        var thread = Assert.Single(Objects<DumpThread>(r));
        Assert.Equal(spinner, thread.Id);
        Assert.Equal("spinner", thread.Name);
    }

    [Fact]
    public void Idle_dump_has_no_spiking_thread_and_no_exception()
    {
        var r = _ps.Invoke("Get-DumpThread wine/idle_x64.dmp | Where Spiking; Get-DumpException wine/idle_x64.dmp");
        Assert.Empty(r.Errors);
        Assert.Empty(r.Output);
    }

    [Fact]
    public void FileInfo_objects_bind_by_FullName_and_wildcards_expand()
    {
        // Get-ChildItem is not in the SMA test host; FileInfo objects are what it emits.
        var fromFiles = _ps.Invoke("[System.IO.DirectoryInfo]::new($args[0]).GetFiles('spin*.dmp') | Get-DumpInfo", TestData.Wine);
        var fromWildcard = _ps.Invoke("Get-DumpInfo -Path wine/spin*.dmp");
        Assert.Empty(fromFiles.Errors);
        Assert.Empty(fromWildcard.Errors);
        var expected = new[] { "spin_pdb_x64.dmp", "spin_x64.dmp" };
        Assert.Equal(expected, Objects<DumpInfo>(fromFiles).Select(i => Path.GetFileName(i.DumpPath)).Order());
        Assert.Equal(expected, Objects<DumpInfo>(fromWildcard).Select(i => Path.GetFileName(i.DumpPath)).Order());
    }

    [Fact]
    public void Several_dumps_show_progress_and_one_does_not()
    {
        static ProgressRecord[] Progress(Cli.ModuleSession session, string script)
        {
            using var ps = PowerShell.Create(session.Runspace);
            ps.AddScript(script).Invoke();
            return ps.Streams.Progress.ToArray();
        }
        var several = Progress(_ps, "Get-DumpInfo wine/spin*.dmp");
        Assert.Contains(several, p => p.StatusDescription.StartsWith("1 of 2: spin_pdb_x64.dmp"));
        Assert.Contains(several, p => p.RecordType == ProgressRecordType.Completed);
        Assert.Empty(Progress(_ps, "Get-DumpInfo wine/spin_x64.dmp"));
    }

    [Fact]
    public void Output_objects_carry_their_dump_path_so_cmdlets_chain()
    {
        // A thread's DumpPath binds to -Path of the next cmdlet.
        var r = _ps.Invoke("Get-DumpThread wine/av_null_write_x64.dmp | Where IsExceptionThread | Get-DumpException");
        Assert.Empty(r.Errors);
        var e = Assert.Single(Objects<DumpException>(r));
        var truth = TestData.Truth("av_null_write_x64").GetProperty("exception");
        Assert.Equal(Convert.ToUInt32(truth.GetProperty("code").GetString(), 16), e.Code);
        Assert.Equal(Convert.ToUInt64(truth.GetProperty("address").GetString(), 16), e.Address);
        Assert.Equal(truth.GetProperty("thread").GetUInt32(), e.ThreadId);
        Assert.Equal("Write", e.AccessType);
        Assert.Equal(0x18UL, e.TargetAddress);
    }

    [Fact]
    public void An_opened_dump_is_reused_in_the_runspace_until_closed()
    {
        var r = _ps.Invoke("""
            $a = Open-Dump wine/idle_x64.dmp
            $b = Open-Dump wine/idle_x64.dmp
            [object]::ReferenceEquals($a, $b)
            (Get-DumpThread -Dump $a).Count -eq (Get-DumpThread -Path wine/idle_x64.dmp).Count
            Close-Dump -Dump $a
            $c = Open-Dump wine/idle_x64.dmp
            [object]::ReferenceEquals($a, $c)
            Close-Dump -Path wine/idle_x64.dmp
            """);
        Assert.Empty(r.Errors);
        Assert.Equal(new object[] { true, true, false }, r.BaseObjects.ToArray());
    }

    [Fact]
    public void Handle_summary_counts_match_the_live_process()
    {
        var expected = TestData.Truth("handles_x64").GetProperty("live_process").GetProperty("handles").GetProperty("counts_by_type")
            .EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var r = _ps.Invoke("Get-DumpHandle wine/handles_x64.dmp -Summary");
        Assert.Empty(r.Errors);
        var actual = Objects<DumpHandleSummary>(r).ToDictionary(s => s.Type, s => s.Count);
        Assert.Equal(expected.OrderBy(p => p.Key), actual.OrderBy(p => p.Key));

        var events = _ps.Invoke("Get-DumpHandle wine/handles_x64.dmp -Type Event");
        Assert.Equal(expected["Event"], Objects<DumpHandle>(events).Length);
    }

    [Fact]
    public void Module_names_filter_with_wildcards()
    {
        var r = _ps.Invoke("Get-DumpModule breakpad/minidump2.dmp -Name 'kernel*', '*.exe'");
        Assert.Empty(r.Errors);
        // MANIFEST: minidump2 — c:\test_app.exe first, kernel32.dll among the 13 (test_minidump.rs:94-111).
        Assert.Equal(new[] { "test_app.exe", "kernel32.dll" }, Objects<DumpModule>(r).Select(m => m.Name));
    }

    [Theory]
    [InlineData("0x12f31c")]
    [InlineData("12f31c")]
    [InlineData("00000000`0012f31c")]
    [InlineData("0n1241884")]
    public void Memory_addresses_parse_as_WinDbg_users_type_them(string address)
    {
        // MANIFEST: minidump2 — u64 0x7c90e9c000000000 at 0x12f31c (rust-minidump test_minidump.rs:286-301).
        var r = _ps.Invoke($"Get-DumpMemory breakpad/minidump2.dmp -Address '{address}' -Format QWord -Count 1");
        Assert.Empty(r.Errors);
        var row = Assert.Single(Objects<DumpMemoryRow>(r));
        Assert.Equal(0x12f31cUL, row.Address);
        Assert.Equal(0x7c90e9c000000000UL, row.Values[0]);
    }

    [Fact]
    public void Memory_accepts_a_number_and_marks_bytes_not_in_the_dump()
    {
        // MANIFEST: minidump2 — u64 0x405443 at 0x12fff8, the last 8 bytes of thread 0xbf4's stack.
        var r = _ps.Invoke("Get-DumpMemory breakpad/minidump2.dmp -Address 0x12fff8 -Count 16");
        Assert.Empty(r.Errors);
        var row = Assert.Single(Objects<DumpMemoryRow>(r));
        Assert.Equal(new ulong?[] { 0x43, 0x54, 0x40, 0, 0, 0, 0, 0, null, null, null, null, null, null, null, null }, row.Values);
        Assert.StartsWith("43 54 40 00 00 00 00 00-?? ??", row.Hex);
    }
}
