using System.Management.Automation;
using System.Text.Json;
using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpStack and Set-DumpSymbolPath as a user drives them, against the dump factory's truth.</summary>
public sealed class StackCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private static string Symbols => Path.Combine(TestData.Wine, "symbols");

    public static TheoryData<string> PdbExceptionDumps()
    {
        var data = new TheoryData<string>();
        foreach (var name in TestData.WineDumpNames())
            if (name.Contains("_pdb_") && TestData.Truth(name).GetProperty("exception").ValueKind == JsonValueKind.Object)
                data.Add(name);
        return data;
    }

    private StackFrame[] Stack(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        Assert.Empty(r.Errors);
        return r.BaseObjects.OfType<StackFrame>().ToArray();
    }

    [Theory]
    [MemberData(nameof(PdbExceptionDumps))]
    public void Exception_stack_reaches_the_scenario_function_and_main_with_PDB_symbols(string name)
    {
        var truth = TestData.Truth(name);
        var exception = truth.GetProperty("exception");
        // "function" names the scenario's function first, sometimes followed by a remark in parentheses.
        string function = exception.GetProperty("expected_by_scenario").GetProperty("function").GetString()!.Split(' ')[0];
        ulong rip = Convert.ToUInt64(exception.GetProperty("context").GetProperty("rip").GetString(), 16);
        string source = truth.GetProperty("scenario").GetString() + ".c";

        // The stack overflow's main lies under thousands of recurse frames.
        var frames = Stack("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1] -MaxFrames 20000", TestData.WineDump(name), Symbols);

        Assert.Equal(rip, frames[0].InstructionPointer);
        Assert.Equal(FrameTrust.Context, frames[0].Trust);
        Assert.All(frames, f => Assert.Equal(exception.GetProperty("thread").GetUInt32(), f.ThreadId));
        Assert.Equal(Enumerable.Range(0, frames.Length), frames.Select(f => f.Frame));
        Assert.NotNull(frames[^1].StopReason);
        if (name.StartsWith("stack_bof"))
        {
            // overflow_local returned into its own overwritten stack: 0x41414141 is no code, and the walk says so.
            Assert.Null(frames[0].Module);
            return;
        }
        var inFunction = frames.Take(4).First(f => f.Function == function);
        Assert.EndsWith(source, inFunction.SourceFile);
        Assert.True(inFunction.Line > 0);
        var main = frames.First(f => f.Function == "main");
        Assert.True(main.Frame > inFunction.Frame);
        Assert.Equal(FrameTrust.UnwindInfo, main.Trust);
        Assert.StartsWith($"{Path.GetFileNameWithoutExtension(truth.GetProperty("symbols").GetProperty("exe").GetString())}!main+0x", main.Symbol);
    }

    [Fact]
    public void Thread_objects_pipe_into_Get_DumpStack()
    {
        // spin_pdb: the spinner (truth name "spinner") runs spin_forever.
        var spinner = TestData.Truth("spin_pdb_x64").GetProperty("threads").EnumerateArray()
            .Single(t => t.GetProperty("name").GetString() == "spinner").GetProperty("tid").GetUInt32();
        var frames = Stack("Get-DumpThread -Path $args[0] | Where Spiking | Get-DumpStack -SymbolPath $args[1]",
            TestData.WineDump("spin_pdb_x64"), Symbols);
        Assert.All(frames, f => Assert.Equal(spinner, f.ThreadId));
        Assert.Equal("spin_forever", frames[0].Function);
    }

    [Fact]
    public void The_session_symbol_path_is_used_until_changed()
    {
        try
        {
            string dump = TestData.WineDump("div_zero_pdb_x64");
            var without = Stack("Set-DumpSymbolPath ''; Get-DumpStack -Path $args[0] -Exception", dump);
            Assert.Null(without[0].Function);
            Assert.StartsWith("div_zero_pdb+0x", without[0].Symbol);

            var with = Stack("Set-DumpSymbolPath $args[1]; Get-DumpStack -Path $args[0] -Exception", dump, Symbols);
            Assert.Equal("divide", with[0].Function);

            var path = _ps.Invoke("Set-DumpSymbolPath -Reload -PassThru").BaseObjects.Single();
            Assert.Equal(Symbols, path);
        }
        finally
        {
            _ps.Invoke("Set-DumpSymbolPath ''");
        }
    }

    [Fact]
    public void A_relative_SymbolPath_resolves_against_the_current_location()
    {
        // The fixture's location is ../shared/dumps, so "wine/symbols" is the factory's symbol store.
        var frames = Stack("Get-DumpStack -Path $args[0] -Exception -SymbolPath wine/symbols", TestData.WineDump("div_zero_pdb_x64"));
        Assert.Equal("divide", frames[0].Function);
    }

    [Fact]
    public void Every_thread_is_walked_without_a_selection()
    {
        var threads = TestData.Truth("waitchain_x64").GetProperty("threads").EnumerateArray().Select(t => t.GetProperty("tid").GetUInt32()).Order();
        var frames = Stack("Get-DumpStack -Path $args[0]", TestData.WineDump("waitchain_x64"));
        Assert.Equal(threads, frames.Select(f => f.ThreadId).Distinct().Order());
        Assert.All(frames.GroupBy(f => f.ThreadId), g => Assert.Equal(FrameTrust.Context, g.First().Trust));
    }

    [Fact]
    public void Errors_name_what_is_wrong()
    {
        static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];
        var r = _ps.Invoke("Get-DumpStack -Path $args[0] -Exception", TestData.WineDump("idle_x64"));
        Assert.Equal("NoException", Id(Assert.Single(r.Errors)));
        r = _ps.Invoke("Get-DumpStack -Path $args[0] -ThreadId 99999", TestData.WineDump("idle_x64"));
        Assert.Equal("ThreadNotFound", Id(Assert.Single(r.Errors)));
        r = _ps.Invoke("Get-DumpStack -Path $args[0] -Context 0x1000", TestData.WineDump("idle_x64"));
        Assert.Equal("ContextNeedsOneThread", Id(Assert.Single(r.Errors)));
        r = _ps.Invoke("Get-DumpStack -Path $args[0] -Index 0 -Context 0x10", TestData.WineDump("idle_x64"));
        Assert.Equal("ContextNotInDump", Id(Assert.Single(r.Errors)));
    }

    [Fact]
    public void Stack_view_reads_like_k()
    {
        string text = _ps.Render($"Get-DumpStack -Path '{TestData.WineDump("av_null_write_pdb_x64")}' -Exception -SymbolPath '{Symbols}'");
        Assert.Contains("Child-SP", text);
        Assert.Matches(@"\n\s*00 0x000000000011fcf0 0x[0-9a-f]{16} Context\s+av_null_write_pdb!write_null\+0x18 \[", text);
        Assert.Matches(@"av_null_write\.c\s+@\s+\d+\]", text);
        Assert.DoesNotContain("#ERR", text);
    }
}
