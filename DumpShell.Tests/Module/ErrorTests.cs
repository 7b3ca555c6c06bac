using System.Management.Automation;
using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>Bad input gives ErrorRecords with stable ids, categories and targets; a batch goes on past them.</summary>
public sealed class ErrorTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-errors-");

    public void Dispose()
    {
        _ps.Invoke("Close-Dump -All");
        _temp.Delete(recursive: true);
    }

    private string TempFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_temp.FullName, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ErrorRecord SingleError(Cli.ScriptResult r, string errorId, ErrorCategory category)
    {
        var error = Assert.Single(r.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Equal(category, error.CategoryInfo.Category);
        return error;
    }

    [Fact]
    public void Missing_file()
    {
        var r = _ps.Invoke("Get-DumpThread wine/no-such.dmp");
        var e = SingleError(r, "DumpFileNotFound", ErrorCategory.ObjectNotFound);
        Assert.EndsWith("no-such.dmp", (string)e.TargetObject);
        Assert.EndsWith("GetDumpThreadCommand", e.FullyQualifiedErrorId);
    }

    [Fact]
    public void Wildcard_that_matches_nothing_is_no_error()
    {
        // As with Get-ChildItem: a pattern that matches no file yields nothing, quietly.
        var r = _ps.Invoke("Get-DumpInfo wine/nothing-here*.dmp");
        Assert.Empty(r.Errors);
        Assert.Empty(r.Output);
    }

    [Fact]
    public void Directory_path()
    {
        var e = SingleError(_ps.Invoke("Get-DumpInfo wine"), "PathIsDirectory", ErrorCategory.InvalidArgument);
        Assert.Equal(Path.Combine(TestData.SharedDumps, "wine"), e.TargetObject);
    }

    [Fact]
    public void Text_file_is_not_a_minidump()
    {
        string path = TempFile("notes.dmp", "This is not a dump, it is a text file with more than 32 bytes.\n"u8.ToArray());
        var e = SingleError(_ps.Invoke("Get-DumpInfo $args[0]", path), "NotAMinidump", ErrorCategory.InvalidData);
        Assert.Equal(path, e.TargetObject);
    }

    [Fact]
    public void Empty_and_short_files()
    {
        SingleError(_ps.Invoke("Get-DumpThread $args[0]", TempFile("empty.dmp", [])), "TruncatedHeader", ErrorCategory.InvalidData);
        SingleError(_ps.Invoke("Get-DumpThread $args[0]", TempFile("short.dmp", "MDMP"u8.ToArray())), "TruncatedHeader", ErrorCategory.InvalidData);
    }

    [Fact]
    public void Truncated_dump_returns_what_is_readable_and_says_what_is_not()
    {
        // Cut spin_x64.dmp inside its ModuleList: the threads (earlier in the file) stay readable.
        byte[] whole = File.ReadAllBytes(TestData.WineDump("spin_x64"));
        string path = TempFile("cut.dmp", whole[..0x400]);
        var r = _ps.Invoke("Get-DumpModule $args[0]", path);
        Assert.NotEmpty(r.Errors);
        Assert.All(r.Errors, e => Assert.Equal(path, e.TargetObject));
        Assert.Contains(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("StreamOutOfRange"));
    }

    [Fact]
    public void A_batch_goes_on_past_a_bad_dump()
    {
        string bad = TempFile("bad.dmp", new byte[100]);
        var r = _ps.Invoke("Get-DumpInfo -Path wine/idle_x64.dmp, $args[0], wine/spin_x64.dmp", bad);
        SingleError(r, "NotAMinidump", ErrorCategory.InvalidData);
        Assert.Equal(new[] { "idle_x64.dmp", "spin_x64.dmp" }, r.BaseObjects.OfType<DumpInfo>().Select(i => Path.GetFileName(i.DumpPath)));
    }

    [Fact]
    public void Malformed_real_dumps_report_their_bad_streams()
    {
        // MANIFEST: invalid-range.dmp — the header must parse; its bad stream must be rejected cleanly.
        var r = _ps.Invoke("Get-DumpInfo rust-minidump/invalid-range.dmp, rust-minidump/invalid-record-count.dmp");
        Assert.Equal(2, r.BaseObjects.OfType<DumpInfo>().Count());
        Assert.NotEmpty(r.Errors);
        Assert.All(r.Errors, e => Assert.Equal(ErrorCategory.InvalidData, e.CategoryInfo.Category));
        Assert.Contains(r.Errors, e => ((string)e.TargetObject).EndsWith("invalid-range.dmp") && e.FullyQualifiedErrorId.StartsWith("StreamOutOfRange"));
        Assert.Contains(r.Errors, e => ((string)e.TargetObject).EndsWith("invalid-record-count.dmp") && e.FullyQualifiedErrorId.StartsWith("StreamOutOfRange"));
    }

    [Fact]
    public void Memory_outside_the_dump()
    {
        var e = SingleError(_ps.Invoke("Get-DumpMemory wine/idle_x64.dmp -Address 0x10"), "MemoryNotInDump", ErrorCategory.ObjectNotFound);
        Assert.Equal("0x10", e.TargetObject);
    }

    [Fact]
    public void A_bad_address_is_a_parameter_binding_error()
    {
        var e = Assert.Single(_ps.Invoke("Get-DumpMemory wine/idle_x64.dmp -Address 'xyz'").Errors);
        Assert.IsAssignableFrom<ParameterBindingException>(e.Exception);
        Assert.Contains("is not an address", e.Exception.InnerException?.Message ?? e.Exception.Message);
    }

    [Fact]
    public void Handles_of_a_dump_without_HandleData()
    {
        // MANIFEST: minidump2's streams hold no HandleData (Breakpad's Windows writer).
        SingleError(_ps.Invoke("Get-DumpHandle breakpad/minidump2.dmp"), "NoHandleData", ErrorCategory.ObjectNotFound);
    }
}
