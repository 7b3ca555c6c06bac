using System.Text.RegularExpressions;

namespace DumpShell.Tests.Module;

/// <summary>Default views rendered through Out-Default into a capturing host, as a user sees them.</summary>
public sealed partial class ViewTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;

    [GeneratedRegex(@"\x1b\[")]
    private static partial Regex Ansi();

    private string Render(string script)
    {
        string text = _ps.Render(script);
        Assert.DoesNotMatch(Ansi(), text);
        Assert.DoesNotContain("#ERR", text);
        return text;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    [Fact]
    public void Threads_table_reads_like_runaway()
    {
        var lines = Lines(Render("Get-DumpThread wine/spin_x64.dmp"));
        var header = Assert.Single(lines, l => l.Contains("TotalCpuTime"));
        foreach (var column in new[] { "Index", "Id", "Age", "Spiking", "InstructionPointer", "Name" })
            Assert.Contains(column, header);
        // truth: spinner tid 268 = 0x10c, user 2130 ms + kernel 10 ms read by wdump (live_process.threads).
        var spinner = Assert.Single(lines, l => l.TrimEnd().EndsWith("spinner"));
        Assert.Contains("0x10c (268)", spinner);
        Assert.Contains("0:00:02.140", spinner);
        Assert.Contains("True", spinner);
        Assert.Single(lines, l => l.Contains("True"));
    }

    [Fact]
    public void Info_is_a_list()
    {
        var lines = Lines(Render("Get-DumpInfo wine/spin_x64.dmp"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^ProcessId\s+: 0xec \(236\)$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Architecture\s+: X64$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^OSVersion\s+: 6\.1\.7601$"));
    }

    [Fact]
    public void Modules_table_reads_like_lm()
    {
        var lines = Lines(Render("Get-DumpModule breakpad/minidump2.dmp"));
        // MANIFEST: minidump2 — psapi.dll at 0x76bf0000, size 0xb000, version 5.1.2600.2180.
        var psapi = Assert.Single(lines, l => l.Contains("psapi.dll"));
        Assert.Matches(@"^0x76bf0000\s+0x76bfb000\s+psapi\.dll\s+5\.1\.2600\.2180", psapi);
    }

    [Fact]
    public void Exception_list_reads_like_exr()
    {
        string text = Render("Get-DumpException wine/av_null_write_x64.dmp");
        Assert.Matches(@"ExceptionAddress\s+: 0x000000014000225d \(av_null_write_x64\.exe\+0x225d\)", text);
        Assert.Matches(@"ExceptionCode\s+: c0000005 \(EXCEPTION_ACCESS_VIOLATION\)", text);
        Assert.Matches(@"Description\s+: Access violation: writing 0x18\.", text);
    }

    [Fact]
    public void Memory_rows_read_like_db()
    {
        // MANIFEST: minidump2 — u64 0x7c90e9c000000000 at 0x12f31c.
        var lines = Lines(Render("Get-DumpMemory breakpad/minidump2.dmp -Address 0x12f31c -Count 8"));
        var row = Assert.Single(lines);
        Assert.Equal("0x0012f31c  " + "00 00 00 00 c0 e9 90 7c".PadRight(47) + "  .......|", row.TrimEnd());
    }

    [Fact]
    public void Handle_summary_table()
    {
        var lines = Lines(Render("Get-DumpHandle wine/handles_x64.dmp -Summary"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^Event\s+1006$"));
    }

    [Fact]
    public void Errors_render_with_their_message()
    {
        string text = Render("Get-DumpInfo wine");
        Assert.Contains("is a directory, not a dump file", text);
    }
}
