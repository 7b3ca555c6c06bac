using DumpShell.Model;
using DumpShell.Tests.Engine;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpAnalysis and the fleet path of Invoke-DumpPattern (-SymbolPath, -ThrottleLimit, bad dumps) as a user drives them.</summary>
public sealed class AnalysisCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;

    private static string Symbols => Path.Combine(TestData.Wine, "symbols");

    [Fact]
    public void Get_DumpAnalysis_gives_one_object_per_dump_with_the_bucket()
    {
        var r = _ps.Invoke("Get-DumpAnalysis -Path $args[0], $args[1] -SymbolPath $args[2]",
            TestData.WineDump("av_null_write_pdb_x64"), TestData.WineDump("idle_x64"), Symbols);
        Assert.Empty(r.Errors);
        var a = r.BaseObjects.OfType<DumpAnalysis>().ToArray();
        Assert.Equal(2, a.Length);
        var e = TestData.Truth("av_null_write_pdb_x64").GetProperty("exception");
        Assert.Equal($"{e.U32("code"):x8}_av_null_write_pdb!{e.GetProperty("expected_by_scenario").Str("function")}", a[0].FailureBucket);
        Assert.Equal(e.U32("thread"), a[0].FaultingThreadId);
        Assert.Equal("NoException", a[1].FailureClass);
        Assert.Equal(0, a[1].ErrorCount + a[1].CriticalCount);
    }

    [Fact]
    public void A_folder_through_the_pool_gives_the_same_output_in_the_same_order_as_one_at_a_time()
    {
        const string script = "[IO.DirectoryInfo]::new($args[0]).GetFiles('*.dmp', 'AllDirectories') | Get-DumpAnalysis -SymbolPath $args[1] -ThrottleLimit $args[2]";
        var one = _ps.Invoke(script, TestData.Wine, Symbols, 1);
        var four = _ps.Invoke(script, TestData.Wine, Symbols, 4);
        Assert.Equal(one.Errors.Count, four.Errors.Count);
        var a = one.BaseObjects.OfType<DumpAnalysis>().Select(x => (x.DumpPath, x.FailureBucket)).ToArray();
        var b = four.BaseObjects.OfType<DumpAnalysis>().Select(x => (x.DumpPath, x.FailureBucket)).ToArray();
        Assert.Equal(Directory.GetFiles(TestData.Wine, "*.dmp", SearchOption.AllDirectories).Length, a.Length);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Invoke_DumpPattern_in_parallel_names_the_recursion_with_SymbolPath_and_a_bad_file_is_one_error()
    {
        string bad = Path.Combine(Path.GetTempPath(), $"dumpshell-fleet-bad-{Environment.ProcessId}.dmp");
        File.WriteAllText(bad, "not a dump at all, just some text that is long enough");
        try
        {
            var r = _ps.Invoke("""
                @([IO.FileInfo]::new($args[0]), [IO.FileInfo]::new($args[1]), [IO.FileInfo]::new($args[2])) |
                    Invoke-DumpPattern -Name 'Stack Overflow', 'Exception Stack Trace' -SymbolPath $args[3] -ThrottleLimit 2
                """, TestData.WineDump("stack_overflow_pdb_x64"), bad, TestData.WineDump("idle_x64"), Symbols);
            var error = Assert.Single(r.Errors);
            Assert.Equal("NotAMinidump", error.FullyQualifiedErrorId.Split(',')[0]);
            var findings = r.BaseObjects.OfType<Finding>().ToArray();
            var so = Assert.Single(findings, f => f.Pattern == "Stack Overflow (User Mode)");
            Assert.Contains("cycle [stack_overflow_pdb!recurse+0x", so.Evidence);
            Assert.Contains(findings, f => f.Pattern == "Exception Stack Trace");
        }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void A_dump_open_in_the_session_stays_open_and_others_are_closed()
    {
        var r = _ps.Invoke("""
            $d = Open-Dump -Path $args[0]
            $null = Get-DumpAnalysis -Path $args[0], $args[1] -ThrottleLimit 2
            [object]::ReferenceEquals($d, (Open-Dump -Path $args[0]))
            $d.Threads.Count
            """, TestData.WineDump("idle_x64"), TestData.WineDump("spin_x64"));
        Assert.Empty(r.Errors);
        // The session's dump was used and not closed: Open-Dump returns the same object and it still reads.
        Assert.True(r.BaseObjects.OfType<bool>().Single());
        Assert.Equal(TestData.Truth("idle_x64").Items("threads").Count(), r.BaseObjects.OfType<int>().Single());
    }

    [Fact]
    public void Analysis_view_renders_like_analyze_v()
    {
        string text = _ps.Render($"Get-DumpAnalysis wine/div_zero_pdb_x64.dmp -SymbolPath '{Symbols}'");
        Assert.DoesNotContain("#ERR", text);
        Assert.Matches(@"FailureBucket\s+: c0000094_div_zero_pdb!divide", text);
        Assert.Matches(@"FaultingFunction\s+: div_zero_pdb!divide", text);
        Assert.Matches(@"ExceptionCode\s+: c0000094", text);
    }
}
