using System.Management.Automation;
using System.Text.RegularExpressions;
using DumpShell.Model;
using DumpShell.Tests.Engine;

namespace DumpShell.Tests.Module;

/// <summary>
/// Invoke-DumpPattern, Get-DumpPattern, Get-DumpEnvironment and Get-DumpLastError as a PowerShell user drives them,
/// checked against the dump factory's truth; their views rendered as a user sees them.
/// </summary>
public sealed partial class PatternCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;

    private static T[] Objects<T>(Cli.ScriptResult r) => r.BaseObjects.OfType<T>().ToArray();

    [GeneratedRegex(@"\x1b\[")]
    private static partial Regex Ansi();

    private string Render(string script)
    {
        string text = _ps.Render(script);
        Assert.DoesNotMatch(Ansi(), text);
        Assert.DoesNotContain("#ERR", text);
        return text;
    }

    // ------------------------------------------------------------------ Invoke-DumpPattern

    [Fact]
    public void A_folder_of_dumps_piped_to_Invoke_DumpPattern_streams_findings_for_every_dump()
    {
        var r = _ps.Invoke("[IO.DirectoryInfo]::new($args[0]).GetFiles('*.dmp') | Invoke-DumpPattern -All", TestData.Wine);
        Assert.Empty(r.Errors);
        var findings = Objects<Finding>(r);
        var dumps = Directory.GetFiles(TestData.Wine, "*.dmp").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(dumps, findings.Select(f => Path.GetFileName(f.DumpPath)).Distinct().Order());
        // Streamed dump by dump: each dump's findings come together, in the order the files were piped.
        var order = findings.Select(f => f.DumpPath).Distinct().ToArray();
        Assert.Equal(order.Length, findings.Select(f => f.DumpPath).Where((p, i) => i == 0 || findings[i - 1].DumpPath != p).Count());
        // The scenarios' patterns are among them (truth: idle is a manual dump, lasterror sets five values).
        Assert.Contains(findings, f => f.Pattern == "Manual Dump (Process)" && f.DumpPath.EndsWith("idle_x64.dmp", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.Pattern == "C++ Exception" && f.Evidence.Contains("std::runtime_error", StringComparison.Ordinal));
    }

    [Fact]
    public void A_bad_file_in_the_batch_gives_one_error_and_the_batch_goes_on()
    {
        string bad = Path.Combine(Path.GetTempPath(), $"dumpshell-pattern-bad-{Environment.ProcessId}.dmp");
        File.WriteAllText(bad, "not a dump at all, just some text that is long enough");
        try
        {
            var r = _ps.Invoke("""
                $files = @([IO.FileInfo]::new($args[0]), [IO.FileInfo]::new($args[1]), [IO.FileInfo]::new($args[2]))
                $files | Invoke-DumpPattern -All
                """, TestData.WineDump("idle_x64"), bad, TestData.WineDump("lasterror_x64"));
            var error = Assert.Single(r.Errors);
            Assert.Equal("NotAMinidump", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(bad, error.TargetObject);
            var files = Objects<Finding>(r).Select(f => Path.GetFileName(f.DumpPath)).Distinct().ToArray();
            Assert.Equal(new[] { "idle_x64.dmp", "lasterror_x64.dmp" }, files);
        }
        finally
        {
            File.Delete(bad);
        }
    }

    [Fact]
    public void Name_selects_patterns_by_canonical_name_alias_detector_id_or_wildcard()
    {
        var lastError = _ps.Invoke("Invoke-DumpPattern wine/lasterror_x64.dmp -Name 'Last Error Collection'");
        Assert.Empty(lastError.Errors);
        Assert.Equal("Last Error Collection", Assert.Single(Objects<Finding>(lastError)).Pattern);

        var alias = _ps.Invoke("Invoke-DumpPattern wine/idle_x64.dmp -Name 'Manual Dump'");
        Assert.Equal("Manual Dump (Process)", Assert.Single(Objects<Finding>(alias)).Pattern);

        var id = _ps.Invoke("Invoke-DumpPattern wine/av_null_write_x64.dmp -Name NullPointerData, StoredException");
        Assert.Equal(new[] { "NULL Pointer (Data)", "Stored Exception" }, Objects<Finding>(id).Select(f => f.Pattern).Order(StringComparer.Ordinal));

        var wildcard = _ps.Invoke("Invoke-DumpPattern wine/null_call_x64.dmp -Name 'NULL Pointer*'");
        Assert.Equal("NULL Pointer (Code)", Assert.Single(Objects<Finding>(wildcard)).Pattern);
    }

    [Fact]
    public void An_unknown_name_is_one_error_and_a_view_pattern_a_warning()
    {
        var r = _ps.Invoke("Invoke-DumpPattern wine/idle_x64.dmp -Name 'No Such Pattern', 'Stack Trace', 'Manual Dump'");
        var error = Assert.Single(r.Errors);
        Assert.Equal("PatternNotFound", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(r.Warnings, w => w.Contains("'Stack Trace' is a view pattern", StringComparison.Ordinal) && w.Contains("Get-DumpStack", StringComparison.Ordinal));
        Assert.Equal("Manual Dump (Process)", Assert.Single(Objects<Finding>(r)).Pattern);
    }

    [Fact]
    public void Category_selects_the_patterns_of_a_category()
    {
        var r = _ps.Invoke("Invoke-DumpPattern wine/null_call_x64.dmp -Category 'Pointer Patterns'");
        Assert.Empty(r.Errors);
        var f = Assert.Single(Objects<Finding>(r));
        Assert.Equal("NULL Pointer (Code)", f.Pattern);
        Assert.Equal("Pointer Patterns", f.Category);

        var threads = _ps.Invoke("Invoke-DumpPattern wine/spin_x64.dmp -Category 'Thread*', 'CPU*'");
        Assert.All(Objects<Finding>(threads), x => Assert.Matches("^(Thread|CPU)", x.Category));
        Assert.Contains(Objects<Finding>(threads), x => x.Pattern == "Spiking Thread");
    }

    [Fact]
    public void MinimumSeverity_drops_lower_findings_and_the_data_gaps()
    {
        // MANIFEST: breakpad/minidump2.dmp lacks ThreadInfoList, HandleData, MemoryInfoList and TEBs: several data gaps.
        var all = Objects<Finding>(_ps.Invoke("Invoke-DumpPattern breakpad/minidump2.dmp"));
        Assert.Contains(all, f => f.Evidence.StartsWith("Not evaluated:", StringComparison.Ordinal));
        var r = _ps.Invoke("Invoke-DumpPattern breakpad/minidump2.dmp -MinimumSeverity Warning");
        var kept = Objects<Finding>(r);
        Assert.NotEmpty(kept);
        Assert.All(kept, f => Assert.True(f.Severity >= Severity.Warning));
        Assert.DoesNotContain(kept, f => f.Evidence.StartsWith("Not evaluated:", StringComparison.Ordinal));
        Assert.Equal(all.Count(f => f.Severity >= Severity.Warning), kept.Length);

        var errors = Objects<Finding>(_ps.Invoke("[IO.DirectoryInfo]::new($args[0]).GetFiles('*.dmp') | Invoke-DumpPattern -MinimumSeverity Error", TestData.Wine));
        Assert.All(errors, f => Assert.True(f.Severity >= Severity.Error));
        Assert.DoesNotContain(errors, f => f.DumpPath.EndsWith("idle_x64.dmp", StringComparison.Ordinal));
    }

    [Fact]
    public void A_failing_detector_writes_one_DetectorFailed_error_naming_it_and_the_others_go_on()
    {
        var r = _ps.Invoke("""
            class BoomDetector : DumpShell.Analysis.IDetector {
                [string] $Pattern = 'Wild Code'
                [System.Collections.Generic.IEnumerable[DumpShell.Model.Finding]] Run([DumpShell.Dump] $dump, [DumpShell.Analysis.DetectorContext] $context) {
                    throw 'boom'
                }
            }
            Invoke-DumpPattern -Path wine/idle_x64.dmp, wine/spin_x64.dmp -Name 'Manual Dump', 'Spiking Thread' -Detector ([BoomDetector]::new())
            """);
        Assert.Equal(2, r.Errors.Count); // one per dump
        Assert.All(r.Errors, e =>
        {
            Assert.Equal("DetectorFailed", e.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Contains("'Wild Code' (BoomDetector)", e.ErrorDetails.Message);
            Assert.Contains("boom", e.ErrorDetails.Message);
        });
        var findings = Objects<Finding>(r);
        Assert.Equal(2, findings.Count(f => f.Pattern == "Manual Dump (Process)"));
        Assert.Single(findings, f => f.Pattern == "Spiking Thread");
    }

    [Fact]
    public void Options_reach_the_detectors()
    {
        var r = _ps.Invoke("Invoke-DumpPattern wine/handles_x64.dmp -Name 'Handle Leak' -HandleThreshold 2000");
        Assert.Equal(Severity.Warning, Assert.Single(Objects<Finding>(r)).Severity);

        string baseline = Path.Combine(Path.GetTempPath(), $"dumpshell-baseline-{Environment.ProcessId}.csv");
        File.WriteAllText(baseline, "Module,MinVersion\nntdll.dll,99.0\n");
        try
        {
            // Wine's ntdll.dll reports 6.1.7601.x (the Not My Version finding of every Wine dump).
            var checkedAgainst = _ps.Invoke("Invoke-DumpPattern wine/idle_x64.dmp -Name NotMyVersion -Baseline $args[0]", baseline);
            var f = Assert.Single(Objects<Finding>(checkedAgainst));
            Assert.Equal("Not My Version (Software)|ntdll.dll|below-min", f.Signature);
        }
        finally
        {
            File.Delete(baseline);
        }
        // An unreadable baseline stops the command (a statement-terminating error) before any dump is read.
        var missing = _ps.Invoke("Invoke-DumpPattern wine/idle_x64.dmp -Baseline ./no-such-baseline.csv");
        Assert.Empty(missing.Output);
        Assert.Equal("BaselineUnreadable", Assert.Single(missing.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void Findings_chain_into_other_cmdlets_by_DumpPath()
    {
        var r = _ps.Invoke("Invoke-DumpPattern wine/lasterror_x64.dmp -Name 'Last Error Collection' | Get-DumpLastError -NonZero");
        Assert.Empty(r.Errors);
        Assert.Equal(5, Objects<DumpLastError>(r).Length);
    }

    // ------------------------------------------------------------------ Get-DumpPattern

    [Fact]
    public void Get_DumpPattern_lists_the_catalogue()
    {
        var all = Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern"));
        Assert.Equal(58, all.Length); // patterns.md: "Totals: 58 patterns: 50 detect, 8 view, 0 later."
        Assert.Equal(50, all.Count(p => p.Kind == PatternKind.Detect));
        Assert.Equal(8, Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern -Kind View")).Length);
        Assert.Empty(Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern -Kind Later")));

        var so = Assert.Single(Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern 'Stack Overflow'")));
        Assert.Equal("Stack Overflow (User Mode)", so.Name);
        Assert.True(so.Detected);
        Assert.Equal("StackOverflow", so.DetectorId);
        Assert.Equal("Invoke-DumpPattern", so.ShownBy);

        var raw = Assert.Single(Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern -Name 'Rough Stack Trace*'")));
        Assert.Equal("Get-DumpStack -Raw", raw.ShownBy);
        Assert.False(raw.Detected);

        var pointers = Objects<PatternInfo>(_ps.Invoke("Get-DumpPattern -Category 'Pointer Patterns'"));
        Assert.Equal(4, pointers.Length); // patterns.md Categories: Pointer Patterns 4

        var unknown = _ps.Invoke("Get-DumpPattern -Name 'nope'");
        Assert.Equal("PatternNotFound", Assert.Single(unknown.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    // ------------------------------------------------------------------ Get-DumpEnvironment, Get-DumpLastError

    [Fact]
    public void Get_DumpEnvironment_reads_the_PEB()
    {
        var live = TestData.Truth("lasterror_x64").GetProperty("live_process");
        var r = _ps.Invoke("Get-DumpEnvironment wine/lasterror_x64.dmp");
        Assert.Empty(r.Errors);
        var env = Assert.Single(Objects<ProcessEnvironment>(r));
        Assert.Equal(live.U64("peb"), env.PebAddress);
        Assert.Equal(live.Str("command_line"), env.CommandLine);
        Assert.Equal(live.Str("current_directory"), env.CurrentDirectory);

        var none = _ps.Invoke("Get-DumpEnvironment breakpad/minidump2.dmp");
        Assert.Empty(none.Output);
        Assert.Equal("PebNotInDump", Assert.Single(none.Errors).FullyQualifiedErrorId.Split(',')[0]);
        var linux = _ps.Invoke("Get-DumpEnvironment rust-minidump/linux-mini.dmp");
        Assert.Equal("NoProcessEnvironment", Assert.Single(linux.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void Get_DumpLastError_gives_each_thread_and_NonZero_the_five_values()
    {
        var truth = TestData.Truth("lasterror_x64").Items("threads").ToArray();
        var all = _ps.Invoke("Get-DumpLastError wine/lasterror_x64.dmp");
        Assert.Empty(all.Errors);
        Assert.Equal(truth.Length, Objects<DumpLastError>(all).Length);

        var nonZero = Objects<DumpLastError>(_ps.Invoke("Get-DumpLastError wine/lasterror_x64.dmp -NonZero"));
        var expected = truth.Where(t => t.Has("last_error")).ToDictionary(t => t.U32("tid"), t => t.U32("last_error"));
        Assert.Equal(expected.OrderBy(p => p.Key), nonZero.ToDictionary(e => e.ThreadId, e => e.LastError!.Value).OrderBy(p => p.Key));

        var one = truth.Single(t => t.Str("name") == "lasterror-1");
        var single = Assert.Single(Objects<DumpLastError>(_ps.Invoke($"Get-DumpLastError wine/lasterror_x64.dmp -ThreadId {one.U32("tid")}")));
        Assert.Equal(one.Str("last_error_name"), single.LastErrorName);

        var none = _ps.Invoke("Get-DumpLastError breakpad/minidump2.dmp -NonZero");
        Assert.Empty(none.Output);
        Assert.Equal("TebNotInDump", Assert.Single(none.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    // ------------------------------------------------------------------ views

    [Fact]
    public void Findings_table_renders_grouped_by_dump()
    {
        string text = Render("Invoke-DumpPattern wine/av_null_write_x64.dmp -MinimumSeverity Error");
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Contains(lines, l => l.Contains("Dump:", StringComparison.Ordinal) && l.Contains("av_null_write_x64.dmp", StringComparison.Ordinal));
        var header = Assert.Single(lines, l => l.Contains("Evidence", StringComparison.Ordinal));
        foreach (string column in new[] { "Severity", "Pattern", "ThreadId", "Module" }) Assert.Contains(column, header);
        // truth: thread 236 (0xec) wrote to 0x18.
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Error\s+NULL Pointer \(Data\)\s+0xec\s+av_null_write_x64\.exe\s+Write of 0x0000000000000018"));
    }

    [Fact]
    public void Pattern_catalogue_table_renders()
    {
        string text = Render("Get-DumpPattern -Category 'Exception Patterns'");
        Assert.Matches(@"C\+\+ Exception\s+Detect\s+True\s+Exception Patterns\s+Invoke-DumpPattern", text);
        Assert.Matches(@"Exception Stack Trace\s+Detect\s+True\s+Exception Patterns", text);
    }

    [Fact]
    public void Environment_list_renders_like_peb()
    {
        var live = TestData.Truth("lasterror_x64").GetProperty("live_process");
        string text = Render("Get-DumpEnvironment wine/lasterror_x64.dmp");
        Assert.Matches(@"PebAddress\s+: 0x0000000067ff0000", text);
        Assert.Matches($@"CommandLine\s+: {Regex.Escape(live.Str("command_line"))}", text);
        Assert.Matches(@"BeingDebugged\s+: Yes", text);
        Assert.Contains("USERNAME=dumpshell", text); // wdump.c's fixed environment
        Assert.Matches($@"EnvironmentBlock\s+: 0x0000000000340370 \({live.GetProperty("environment_size").GetInt32()} bytes\)", text);
    }

    [Fact]
    public void LastError_table_renders_like_gle()
    {
        string text = Render("Get-DumpLastError wine/lasterror_x64.dmp -NonZero");
        // truth: lasterror-1 (tid 268 = 0x10c) set 5.
        Assert.Matches(@"0x10c \(268\)\s+lasterror-1\s+5 ERROR_ACCESS_DENIED\s+0x00000000 STATUS_SUCCESS\s+Access is denied\.", text);
    }
}
