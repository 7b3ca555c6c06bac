using System.Globalization;
using System.Text.Json;
using DumpShell.Analysis;
using DumpShell.Model;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The stack detectors and Get-DumpAnalysis's engine (DumpAnalyzer) against the dump factory's truth: each scenario's
/// pattern, the absences, and FailureBucket equality for the same bug and inequality across builds.
/// </summary>
public sealed class AnalysisTests
{
    private static readonly PatternOptions WithSymbols = new() { SymbolPath = Path.Combine(TestData.Wine, "symbols") };
    private static readonly Dictionary<string, DumpAnalysis> Cache = new();

    private static DumpAnalysis Analysis(string name)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(name, out var a)) return a;
            using var dump = Dump.Open(TestData.WineDump(name));
            var failures = new List<DetectorFailure>();
            a = DumpAnalyzer.Analyze(dump, WithSymbols, failures: failures);
            Assert.Empty(failures);
            return Cache[name] = a;
        }
    }

    private static Finding[] Of(string name, string pattern) => Analysis(name).Findings.Where(f => f.Pattern == pattern).ToArray();

    public static TheoryData<string> WineDumps() => new(TestData.WineDumpNames());

    /// <summary>Exception dumps: trigger second/first_chance_exception in the truth.</summary>
    public static TheoryData<string> ExceptionDumps() =>
        new(TestData.WineDumpNames().Where(n => TestData.Truth(n).Has("exception")));

    private static ulong Rva(string name, ulong address) => address - TestData.Truth(name).GetProperty("from_scenario").U64("image_base");

    /// <summary>A function's RVA range from the truth (PDB symbols, or nm's list ending at the next function).</summary>
    private static (ulong Start, ulong End) FunctionRange(JsonElement truth, string function)
    {
        if (truth.Opt("symbols")?.Items("functions").FirstOrDefault(f => f.Str("name") == function) is { ValueKind: JsonValueKind.Object } pdb)
            return (pdb.U64("rva"), pdb.U64("rva_end"));
        var nm = truth.GetProperty("from_build").Items("functions_from_nm").Select(f => (Name: f.Str("name"), Rva: f.U64("rva"))).OrderBy(f => f.Rva).ToArray();
        int i = Array.FindIndex(nm, f => f.Name == function);
        return (nm[i].Rva, i + 1 < nm.Length ? nm[i + 1].Rva : nm[i].Rva + 0x1000);
    }

    // ------------------------------------------------------------------ detectors that read stacks

    [Theory]
    [MemberData(nameof(ExceptionDumps))]
    public void Every_exception_dump_has_its_exception_stack_trace_and_module(string name)
    {
        var e = TestData.Truth(name).GetProperty("exception");
        var trace = Assert.Single(Of(name, "Exception Stack Trace"));
        Assert.Equal(e.U32("thread"), trace.ThreadId);
        Assert.StartsWith($"0x{e.U32("code"):X8} on 0x{e.U32("thread"):x}: ", trace.Evidence);
        // first_chance in the truth, but nothing in the dump says so (its comment does not): Error.
        Assert.Equal(Severity.Error, trace.Severity);
        var module = Assert.Single(Of(name, "Exception Module"));
        Assert.Equal(Severity.Error, module.Severity);
    }

    [Theory]
    [InlineData("av_null_write_pdb_x64", "write_null")]
    [InlineData("div_zero_pdb_x64", "divide")]
    [InlineData("stack_overflow_pdb_x64", "recurse")]
    public void With_PDB_symbols_the_exception_stack_starts_in_the_scenarios_function(string name, string function)
    {
        Assert.Equal(function, TestData.Truth(name).GetProperty("exception").GetProperty("expected_by_scenario").Str("function"));
        var trace = Assert.Single(Of(name, "Exception Stack Trace"));
        string exe = Path.GetFileNameWithoutExtension(TestData.Truth(name).GetProperty("from_scenario").Str("exe"));
        Assert.Contains($": {exe}!{function}+0x", trace.Evidence);
        var module = Assert.Single(Of(name, "Exception Module"));
        Assert.Equal(exe + ".exe", module.Module);
    }

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void The_spinner_is_the_one_Active_Thread_and_a_Warning(string name)
    {
        var spinner = TestData.Truth(name).Items("threads").Single(t => t.Str("name") == "spinner");
        var f = Assert.Single(Of(name, "Active Thread"));
        Assert.Equal(spinner.U32("tid"), f.ThreadId);
        Assert.Equal(Severity.Warning, f.Severity); // also a Spiking Thread
        if (TestData.Truth(name).Has("symbols")) Assert.Contains("spin_pdb!spin_forever", f.Evidence);
    }

    [Fact]
    public void The_full_memory_deadlock_dump_shows_the_lockers_blocked_on_critical_sections()
    {
        // Its builtin DLL images are whole, so exports name the wait functions: the classifier decides.
        var truth = TestData.Truth("deadlock_cs_x64_full");
        var blocked = Of("deadlock_cs_x64_full", "Blocked Thread (Software)").Where(f => f.Severity == Severity.Warning).ToArray();
        foreach (string locker in new[] { "locker-AB", "locker-BA" })
        {
            uint tid = truth.Items("threads").Single(t => t.Str("name") == locker).U32("tid");
            var f = Assert.Single(blocked, b => b.ThreadId == tid);
            Assert.Contains("CriticalSection wait", f.Evidence);
        }
        uint main = truth.Items("threads").Single(t => t.Str("name") == "main").U32("tid");
        var m = Assert.Single(Of("deadlock_cs_x64_full", "Main Thread"));
        Assert.Equal(main, m.ThreadId);
        Assert.Contains("Object wait", m.Evidence); // WaitForMultipleObjects on the lockers
    }

    [Theory]
    [InlineData("idle_x64")]
    [InlineData("deadlock_cs_x64")]
    public void Without_names_for_system_frames_the_classifier_says_not_evaluated(string name)
    {
        // Wine's normal dumps hold no builtin DLL headers: every waiting thread's top frame is unnamed ntdll code.
        foreach (string pattern in new[] { "Passive Thread (User Space)", "Blocked Thread (Software)", "Blocking Module" })
        {
            var f = Assert.Single(Of(name, pattern));
            Assert.True(f.IsDataGap);
        }
        Assert.Empty(Of(name, "Active Thread"));
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Clean_stacks_give_no_incorrect_or_truncated_stack_residue_or_hidden_exception(string name)
    {
        // stack_bof overwrote its stack (truth: "the stack above is garbage"); heap_corrupt faults in unnamed ntdll code.
        string scenario = TestData.Truth(name).Str("scenario");
        if (scenario is "stack_bof" or "heap_corrupt") return;
        Assert.Empty(Of(name, "Incorrect Stack Trace"));
        Assert.Empty(Of(name, "Truncated Stack Trace"));
        Assert.DoesNotContain(Of(name, "Execution Residue (Unmanaged Space, User)"), f => f.Severity > Severity.Info);
        Assert.Empty(Of(name, "Hidden Exception (User Space)"));
        Assert.Empty(Of(name, "Message Box"));
        Assert.Empty(Of(name, "Language-Specific Subtrace (Rust)"));
        Assert.Empty(Of(name, "Not My Thread"));
        Assert.Empty(Of(name, "Unknown Component"));
        Assert.Empty(Of(name, "Double Free (Process Heap)"));
    }

    [Fact]
    public void Heap_corrupt_is_an_access_violation_inside_the_heap_manager_during_main_s_HeapFree()
    {
        // Truth: Wine raises no 0xC0000374; HeapFree(block2) (the block whose header was overwritten) returned FALSE with
        // error 87, and the crash is the next step, "about to HeapFree(block1)": an AV inside ntdll. ntdll's frames are
        // unnamed in this dump, but the first frame of the executable returns right after "call [HeapFree's IAT slot]".
        var truth = TestData.Truth("heap_corrupt_x64");
        var e = truth.GetProperty("exception");
        var scenario = truth.GetProperty("from_scenario");
        Assert.Equal(0xC0000005u, e.U32("code"));
        Assert.Equal("about to HeapFree(block1)", scenario.Str("stage"));
        var first = Assert.Single(scenario.Items("results"));
        Assert.Equal(("HeapFree(block2)", 87u), (first.Str("op"), first.U32("last_error")));

        var f = Assert.Single(Of("heap_corrupt_x64", "Dynamic Memory Corruption (Process Heap)"));
        Assert.False(f.IsDataGap);
        Assert.Equal(Severity.Critical, f.Severity); // patterns.md: an AV whose frame is inside heap code; Critical
        Assert.Equal(e.U32("thread"), f.ThreadId);
        Assert.Equal(e.U64("address"), f.Address);
        Assert.Equal("ntdll.dll", f.Module);
        Assert.Contains("access violation reading 0xffffffffffffffff at ntdll", f.Evidence);
        Assert.Contains("inside the heap manager during kernel32!HeapFree called from heap_corrupt_x64", f.Evidence);
        // The call lies in main (nm: main at RVA 0x2604, the last function of the scenario's code).
        var (mainStart, mainEnd) = FunctionRange(truth, "main");
        ulong image = scenario.U64("image_base");
        var call = System.Text.RegularExpressions.Regex.Match(f.Evidence, @"\(call at 0x([0-9a-f`]+)\)");
        Assert.True(call.Success, f.Evidence);
        ulong callAt = ulong.Parse(call.Groups[1].Value.Replace("`", ""), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.InRange(callAt - image, mainStart, mainEnd - 1);
        Assert.EndsWith("|kernel32!heapfree", f.Signature);
        // The heap's blocks are not in this normal dump (no heap memory): the finding names no block it cannot show.
        foreach (string block in new[] { "block1", "block2", "block3" })
            Assert.DoesNotContain(scenario.Str(block), f.Evidence);
        // TEB.LastErrorValue is what the dump holds (the truth read 0 there: the sidecar write after the failed
        // HeapFree reset it); 87 is cited only when the TEB shows it.
        uint tebLastError = truth.GetProperty("live_process").Items("threads").Single().U32("last_error_at_teb");
        using (var dump = Dump.Open(TestData.WineDump("heap_corrupt_x64")))
            Assert.Equal(tebLastError, dump.LastErrors.Single(l => l.ThreadId == e.U32("thread")).LastError);
        if (tebLastError == 0) Assert.DoesNotContain("last error", f.Evidence);
        else Assert.Contains($"last error {tebLastError}", f.Evidence);

        // Not a double free: HeapFree(block2) then HeapFree(block1) are different blocks (truth), and without the
        // heap-failure record nothing in the dump shows one block freed twice. Double Free only says what it lacks.
        Assert.NotEqual(scenario.Str("block1"), scenario.Str("block2"));
        Assert.All(Of("heap_corrupt_x64", "Double Free (Process Heap)"), d =>
        {
            Assert.True(d.IsDataGap);
            Assert.Contains("heap failure record unavailable", d.Evidence);
        });
        // The non-canonical read itself is named by Invalid Pointer (General), which the truth allows.
        Assert.Single(Of("heap_corrupt_x64", "Invalid Pointer (General)"));
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void No_heap_pattern_on_any_other_Wine_dump(string name)
    {
        if (TestData.Truth(name).Str("scenario") == "heap_corrupt") return;
        Assert.Empty(Of(name, "Dynamic Memory Corruption (Process Heap)"));
        Assert.Empty(Of(name, "Double Free (Process Heap)"));
    }

    [Fact]
    public void Idle_has_no_error_or_critical_finding()
    {
        var a = Analysis("idle_x64");
        Assert.Equal(0, a.ErrorCount + a.CriticalCount);
        Assert.Equal("NoException", a.FailureClass);
        Assert.Null(a.ExceptionCode);
    }

    // ------------------------------------------------------------------ Get-DumpAnalysis

    [Theory]
    [InlineData("av_null_write_pdb_x64", "c0000005_av_null_write_pdb!write_null", "AccessViolation")]
    [InlineData("div_zero_pdb_x64", "c0000094_div_zero_pdb!divide", "DivideByZero")]
    [InlineData("stack_overflow_pdb_x64", "c00000fd_stack_overflow_pdb!recurse", "StackOverflow")]
    [InlineData("cpp_throw_msvc_pdb_x64", "e06d7363_cpp_throw_msvc_pdb!throw_runtime_error", "CppException")]
    public void With_PDBs_the_bucket_is_code_and_module_function(string name, string bucket, string failureClass)
    {
        var truth = TestData.Truth(name);
        var e = truth.GetProperty("exception");
        // code and function from the truth; the module name is the exe's without extension, as WinDbg writes it
        string function = e.GetProperty("expected_by_scenario").Str("function");
        string exe = Path.GetFileNameWithoutExtension(truth.GetProperty("from_scenario").Str("exe"));
        Assert.Equal($"{e.U32("code"):x8}_{exe}!{function}", bucket);
        var a = Analysis(name);
        Assert.Equal(bucket, a.FailureBucket);
        Assert.Equal(failureClass, a.FailureClass);
        Assert.Equal(e.U32("code"), a.ExceptionCode);
        Assert.Equal(e.U32("thread"), a.FaultingThreadId);
        Assert.Equal($"{exe}!{function}", a.FaultingFunction);
        Assert.Equal(exe + ".exe", a.FaultingModule);
        Assert.NotEmpty(a.Frames);
        Assert.Equal(a.Findings.Select(f => f.Severity).OrderByDescending(s => s), a.Findings.Select(f => f.Severity));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Frames_that_matter_hold_no_duplicates_and_end_at_the_thread_start(bool withSymbols)
    {
        // Without image files no call site can be disproved: a scan past kernel32/ntdll's start code found the start
        // address (mainCRTStartup, live_process.threads[].start_address) twice, as stale values.
        const string name = "av_null_write_x64";
        var truth = TestData.Truth(name);
        uint tid = truth.GetProperty("exception").U32("thread");
        ulong start = truth.GetProperty("live_process").Items("threads").First(t => t.U32("tid") == tid).U64("start_address");
        var options = withSymbols ? WithSymbols : PatternOptions.Default;
        using var dump = Dump.Open(TestData.WineDump(name));
        using var context = new DetectorContext(dump, options);
        var stack = context.ExceptionStack;
        // The thread-start frame: the first return address into the start function (mainCRTStartup+0x16).
        var startFrame = stack.First(f => f.InstructionPointer > start && f.InstructionPointer - start < 0x100);
        var matter = context.FramesThatMatter(stack).ToArray();
        Assert.NotEmpty(matter);
        Assert.Equal(startFrame, matter[^1]);
        Assert.All(matter, f => Assert.True(f.ChildSP <= startFrame.ChildSP, $"{context.FrameText(f)} lies below the thread start"));
        Assert.DoesNotContain(matter, f => f.InstructionPointer == start);

        var a = DumpAnalyzer.Analyze(dump, options);
        Assert.Equal(a.FramesThatMatter.Distinct().Count(), a.FramesThatMatter.Length);
        Assert.Equal(context.FrameText(startFrame), a.FramesThatMatter[^1]);
    }

    [Theory]
    [InlineData("av_null_write_x64", "write_null")]
    [InlineData("div_zero_x64", "divide")]
    [InlineData("stack_overflow_x64", "recurse")]
    public void Without_symbols_the_bucket_is_code_and_module_rva_inside_the_function(string name, string function)
    {
        var truth = TestData.Truth(name);
        var e = truth.GetProperty("exception");
        var a = Analysis(name);
        string exe = Path.GetFileNameWithoutExtension(truth.GetProperty("from_scenario").Str("exe"));
        // The fault is in the exe: its frame is the first that matters; the exception address's RVA from the truth.
        ulong rva = Rva(name, e.U64("address"));
        Assert.Equal($"{e.U32("code"):x8}_{exe}+0x{rva:x}", a.FailureBucket);
        var (start, end) = FunctionRange(truth, function);
        Assert.InRange(rva, start, end - 1);
        Assert.DoesNotContain($"{e.U64("address"):x}", a.FailureBucket);
    }

    [Fact]
    public void The_same_bug_built_twice_gives_two_buckets_and_two_dumps_of_one_exe_one()
    {
        Assert.NotEqual(Analysis("av_null_write_x64").FailureBucket, Analysis("av_null_write_pdb_x64").FailureBucket);
        Assert.NotEqual(Analysis("stack_overflow_x64").FailureBucket, Analysis("stack_overflow_pdb_x64").FailureBucket);
        // deadlock_cs_x64 and deadlock_cs_x64_full: one executable (same symstore image), two runs (other pid and tids).
        Assert.Equal(TestData.Truth("deadlock_cs_x64").Str("symstore_image"), TestData.Truth("deadlock_cs_x64_full").Str("symstore_image"));
        Assert.Equal(Analysis("deadlock_cs_x64").FailureBucket, Analysis("deadlock_cs_x64_full").FailureBucket);
        // Buckets never hold thread ids in hex or absolute addresses.
        foreach (string name in TestData.WineDumpNames())
        {
            var a = Analysis(name);
            Assert.DoesNotContain(TestData.Truth(name).Items("threads").Select(t => $"0x{t.U32("tid"):x}"), t => a.FailureBucket.Contains(t + "_", StringComparison.Ordinal) || a.FailureBucket.EndsWith(t, StringComparison.Ordinal));
            if (a.ExceptionAddress is { } x and >= 0x10000) Assert.DoesNotContain(x.ToString("x", CultureInfo.InvariantCulture), a.FailureBucket);
        }
    }

    [Fact]
    public void A_dump_copied_elsewhere_has_the_same_bucket()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"dumpshell-bucket-{Environment.ProcessId}.dmp");
        File.Copy(TestData.WineDump("null_call_x64"), copy, true);
        try
        {
            using var dump = Dump.Open(copy);
            Assert.Equal(Analysis("null_call_x64").FailureBucket, DumpAnalyzer.Analyze(dump, WithSymbols).FailureBucket);
        }
        finally { File.Delete(copy); }
    }

    [Fact]
    public void Null_call_buckets_on_the_caller_inside_call_through_null()
    {
        var truth = TestData.Truth("null_call_pdb_x64");
        Assert.Equal("c0000005_null_call_pdb!call_through_null", Analysis("null_call_pdb_x64").FailureBucket);
        Assert.Equal("AccessViolation", Analysis("null_call_pdb_x64").FailureClass);
        Assert.Equal(0x0UL, truth.GetProperty("exception").U64("address"));
    }
}
