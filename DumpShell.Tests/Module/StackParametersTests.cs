using System.Management.Automation;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols;
using DumpShell.Tests.Engine;

namespace DumpShell.Tests.Module;

/// <summary>
/// Get-DumpStack -Parameters (kv) against what the dumps prove, and symbol-server downloads shown as PowerShell
/// progress (against a 127.0.0.1 server: no other address is reached).
/// </summary>
public sealed class StackParametersTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-kvtest-");
    private static string Symbols => Path.Combine(TestData.Wine, "symbols");

    public void Dispose()
    {
        try { _temp.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private StackFrame[] Stack(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        Assert.Empty(r.Errors);
        return r.BaseObjects.OfType<StackFrame>().ToArray();
    }

    private static ulong?[] Slots(Dump dump, ulong address, int size) =>
        Enumerable.Range(0, 4).Select(k => dump.Memory.TryReadPointer(address + (ulong)(k * size), size, out ulong v) ? v : (ulong?)null).ToArray();

    [Fact]
    public void X64_home_area_slots_are_labelled_unverified_and_are_not_divides_arguments()
    {
        // from_scenario: main calls divide(42, 0). The clang -O0 divide keeps ecx/edx in its own frame
        // (mov [rbp+4],ecx; mov [rbp],edx with rbp = rsp), not in the home area: the home slots hold other values.
        var scenario = TestData.Truth("div_zero_pdb_x64").GetProperty("from_scenario");
        uint dividend = scenario.GetProperty("dividend").GetUInt32(), divisor = scenario.GetProperty("divisor").GetUInt32();
        string path = TestData.WineDump("div_zero_pdb_x64");
        var frames = Stack("Get-DumpStack -Path $args[0] -Exception -Parameters -SymbolPath $args[1]", path, Symbols);

        Assert.Equal("divide", frames[0].Function);
        Assert.Equal("main", frames[1].Function);
        using var dump = Dump.Open(path);
        // The home area is right above the return-address slot: the slot holds frame 0's return address, and the four
        // qwords after it (the caller's Child-SP) are the reported arguments.
        Assert.True(dump.Memory.TryReadUInt64(frames[1].ChildSP - 8, out ulong ret));
        Assert.Equal(frames[0].ReturnAddress, ret);
        Assert.Equal(Slots(dump, frames[1].ChildSP, 8), frames[0].Arguments);
        Assert.All(frames[..^1], f => Assert.Equal(FrameArguments.HomeArea, f.ArgumentsSource));
        Assert.All(frames[..^1], f => Assert.Equal(4, f.Arguments!.Length));
        Assert.Null(frames[^1].Arguments); // no caller, no home area we can find

        // Where the real arguments are (divide's locals), and that the home slots are not them: False Function Parameters.
        Assert.True(dump.Memory.TryReadUInt32(frames[0].ChildSP + 4, out uint local0));
        Assert.True(dump.Memory.TryReadUInt32(frames[0].ChildSP, out uint local1));
        Assert.Equal(dividend, local0);
        Assert.Equal(divisor, local1);
        Assert.NotEqual(dividend, (uint)(frames[0].Arguments![0] ?? 0));

        // Without -Parameters nothing is read.
        var plain = Stack("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1]", path, Symbols);
        Assert.All(plain, f => Assert.Null(f.Arguments));
        Assert.All(plain, f => Assert.Null(f.ArgumentsSource));
    }

    [Fact]
    public void X64_av_null_write_home_slots_follow_the_return_address_slot()
    {
        // from_scenario: main calls write_null(NULL, 0x1234); write_null keeps rcx at [rbp-8], edx at [rbp-0xc] (rbp = rsp+0x10).
        var scenario = TestData.Truth("av_null_write_pdb_x64").GetProperty("from_scenario");
        uint value = Convert.ToUInt32(scenario.GetProperty("value_written").GetString(), 16);
        string path = TestData.WineDump("av_null_write_pdb_x64");
        var frames = Stack("Get-DumpStack -Path $args[0] -Exception -Parameters -SymbolPath $args[1]", path, Symbols);
        Assert.Equal("write_null", frames[0].Function);
        using var dump = Dump.Open(path);
        Assert.Equal(Slots(dump, frames[1].ChildSP, 8), frames[0].Arguments);
        Assert.Equal(FrameArguments.HomeArea, frames[0].ArgumentsSource);
        Assert.True(dump.Memory.TryReadUInt64(frames[0].ChildSP + 8, out ulong pointer));
        Assert.True(dump.Memory.TryReadUInt32(frames[0].ChildSP + 4, out uint written));
        Assert.Equal(0UL, pointer);
        Assert.Equal(value, written);
    }

    [Fact]
    public void X86_frames_with_a_frame_pointer_show_EBP_plus_8()
    {
        string path = TestData.Shared("breakpad/minidump2.dmp");
        var frames = Stack("Get-DumpStack -Path $args[0] -Exception -Parameters", path);
        using var dump = Dump.Open(path);
        var withFp = frames.Where(f => f.FramePointer is { } ebp && f.ReturnAddress is { } r && ebp >= f.ChildSP &&
            dump.Memory.TryReadUInt32(ebp + 4, out uint slot) && slot == r).ToArray();
        Assert.NotEmpty(withFp);
        Assert.All(withFp, f =>
        {
            Assert.Equal(Slots(dump, f.FramePointer!.Value + 8, 4), f.Arguments);
            Assert.Equal(FrameArguments.Stack, f.ArgumentsSource);
        });
        Assert.All(frames, f => Assert.Equal(4, f.PointerSize));
    }

    [Fact]
    public void Parameters_view_reads_like_kv_and_the_k_view_is_unchanged()
    {
        string dump = TestData.WineDump("div_zero_pdb_x64");
        string kv = _ps.Render($"Get-DumpStack -Path '{dump}' -Exception -Parameters -SymbolPath '{Symbols}'");
        Assert.Contains("Args to Child", kv);
        Assert.Contains("home area, unverified", kv);
        Assert.Matches(@"\n\s*00 0x000000000011fcf8 0x0000000140001693 0000000000000008 ", kv);
        Assert.DoesNotContain("#ERR", kv);
        string k = _ps.Render($"Get-DumpStack -Path '{dump}' -Exception -SymbolPath '{Symbols}'");
        Assert.DoesNotContain("Args to Child", k);
        Assert.Contains("Trust", k);
    }

    // ================================================================ download progress

    [Fact]
    public void A_symbol_server_download_shows_progress_and_the_second_run_uses_the_cache()
    {
        string path = TestData.WineDump("div_zero_pdb_x64");
        // The server holds the PDB and the image in SymSrv layout (the truth's symstore paths, under /symbols).
        var symbols = TestData.Truth("div_zero_pdb_x64").GetProperty("symbols");
        string pdbPath = symbols.GetProperty("symstore_pdb_path").GetString()!, exePath = symbols.GetProperty("symstore_exe_path").GetString()!;
        string pdbName = symbols.GetProperty("pdb").GetString()!;
        string root = Path.Combine(_temp.FullName, "srvroot"), cache = Path.Combine(_temp.FullName, "cache");
        foreach (string relative in new[] { pdbPath, exePath })
        {
            string target = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(TestData.Wine, relative), target);
        }
        var server = new SymbolServerTests.TinyServer(root);
        try
        {
            string symbolPath = $"srv*{cache}*{server.SymbolsUrl}";

            var (frames, progress) = Run(path, symbolPath);
            Assert.Equal("divide", frames[0].Function);
            Assert.Equal("main", frames[1].Function);
            Assert.Equal(1, server.CountOf("/" + pdbName));
            var shown = progress.Where(p => p.RecordType == ProgressRecordType.Processing && p.ActivityId == 2).ToArray();
            Assert.Contains(shown, p => p.StatusDescription.StartsWith($"Downloading {pdbName} from {server.SymbolsUrl}: ", StringComparison.Ordinal)
                                        && p.StatusDescription.EndsWith(" bytes", StringComparison.Ordinal));
            Assert.Contains(progress, p => p.RecordType == ProgressRecordType.Completed && p.ActivityId == 2);
            Assert.True(File.Exists(Path.Combine(cache, Path.GetRelativePath("symbols", pdbPath))));

            // Again after .reload, which drops the session's stores and their memory: a new store for the same path
            // finds the PDB in the disk cache, so it is not requested or shown.
            _ps.Invoke("Set-DumpSymbolPath -Reload");
            int before = server.RequestCount;
            var (again, progress2) = Run(path, symbolPath);
            Assert.Equal("divide", again[0].Function);
            Assert.Equal(1, server.CountOf("/" + pdbName));
            Assert.DoesNotContain(progress2, p => p.StatusDescription.Contains(pdbName, StringComparison.Ordinal));
            Assert.DoesNotContain(server.Requests.Skip(before), r => r.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase) || r.EndsWith(".exe", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private (StackFrame[] Frames, ProgressRecord[] Progress) Run(string dump, string symbolPath)
    {
        using var ps = PowerShell.Create(_ps.Runspace);
        ps.AddScript("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1]").AddArgument(dump).AddArgument(symbolPath);
        var output = ps.Invoke();
        Assert.Empty(ps.Streams.Error);
        return (output.Select(o => o.BaseObject).OfType<StackFrame>().ToArray(), ps.Streams.Progress.ToArray());
    }
}
