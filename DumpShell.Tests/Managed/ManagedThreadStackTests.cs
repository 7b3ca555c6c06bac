using DumpShell.Analysis;
using DumpShell.Model;
using DumpShell.Tests.Module;
using Xunit.Abstractions;

namespace DumpShell.Tests.Managed;

/// <summary>
/// Issue 7's remaining parts on the createdump cores of this run (facts from each target's sidecar): managed facts on
/// Get-DumpThread, mixed native/managed stacks from Get-DumpStack, the .NET detectors and Get-DumpAnalysis' managed
/// failure bucket; Platform-Specific Debugger on a synthetic Windows coreclr minidump; no managed finding on any native dump.
/// </summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ManagedThreadStackTests(CoreDumpFixture cores, ModuleFixture module, ITestOutputHelper output)
    : IClassFixture<ModuleFixture>, IDisposable
{
    private static readonly string[] ManagedPatterns =
        ["CLR Thread", "Managed Code Exception", "Managed Stack Trace", "JIT Code (.NET)", "Platform-Specific Debugger"];

    private readonly Cli.ModuleSession _ps = module.Session;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-managed-threads-");

    public void Dispose()
    {
        _ps.Invoke("Close-Dump -All");
        _temp.Delete(recursive: true);
    }

    private Cli.ScriptResult Invoke(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        foreach (var e in r.Errors) output.WriteLine($"error {e.FullyQualifiedErrorId}: {e}");
        return r;
    }

    private static string[] ExpectedMethods(CoreDump dump) =>
        dump.Facts.GetProperty("exception").GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToArray();

    [Fact]
    public void Threads_of_the_crash_core_carry_managed_ids_kinds_and_the_current_exception()
    {
        var dump = cores.Crash;
        var r = Invoke("Get-DumpThread -Path $args[0]", dump.CorePath);
        Assert.Empty(r.Errors);
        var threads = r.BaseObjects.Cast<DumpThread>().ToArray();
        foreach (var t in threads)
            output.WriteLine($"{t.Id} managed={t.IsManaged} id={t.ManagedThreadId} kind={t.ClrKind} gc={t.GCMode} locks={t.LockCount} ex={t.CurrentExceptionType} name={t.ManagedName}");
        foreach (var facts in dump.Threads)
        {
            var t = Assert.Single(threads, x => x.Id == (uint)facts.OsId!.Value);
            Assert.True(t.IsManaged, facts.Name);
            Assert.Equal(facts.ManagedId, t.ManagedThreadId);
        }
        var worker = threads.Single(t => t.Id == (uint)dump.Thread("worker-crash").OsId!.Value);
        Assert.Equal("App.OrderProcessingException", worker.CurrentExceptionType);
        Assert.NotNull(worker.CurrentExceptionAddress);
        Assert.Equal(ClrThreadKind.None, worker.ClrKind & (ClrThreadKind.Finalizer | ClrThreadKind.GC | ClrThreadKind.Background));
        var main = threads.Single(t => t.Id == (uint)dump.Thread("main").OsId!.Value);
        Assert.Null(main.CurrentExceptionType);
        Assert.Single(threads, t => (t.ClrKind & ClrThreadKind.Finalizer) != 0);
        Assert.Null(worker.Apartment); // no COM apartments on Linux
        Assert.Contains(threads, t => !t.IsManaged); // native-only threads of the runtime stay as they are
        Assert.All(threads.Where(t => !t.IsManaged), t => Assert.Null(t.ManagedThreadId));

        // -Managed: the CLR's view only.
        var managed = Invoke("Get-DumpThread -Path $args[0] -Managed", dump.CorePath).BaseObjects.Cast<DumpThread>().ToArray();
        Assert.Equal(threads.Count(t => t.IsManaged), managed.Length);
        Assert.All(managed, t => Assert.True(t.IsManaged));

        // The dump's own thread objects stay native-only.
        using var opened = Dump.Open(dump.CorePath);
        Assert.All(opened.Threads, t => Assert.False(t.IsManaged));
    }

    [Fact]
    public void Thread_names_come_from_the_managed_thread_objects()
    {
        var dump = cores.Deadlock; // a heap dump: the Thread objects are in it
        var threads = Invoke("Get-DumpThread -Path $args[0] -Managed", dump.CorePath).BaseObjects.Cast<DumpThread>().ToArray();
        foreach (var name in new[] { "locker-1", "locker-2" })
        {
            var facts = dump.Thread(name);
            var t = Assert.Single(threads, x => x.Id == (uint)facts.OsId!.Value);
            Assert.Equal(name, t.ManagedName);
            Assert.Equal(facts.ManagedId, t.ManagedThreadId);
            Assert.True((t.ClrKind & ClrThreadKind.Background) != 0, $"{name} is a background thread: {t.ClrKind}");
            // The CLR's own lock count: null where this runtime does not keep it (Monitor is managed code since .NET 9).
            Assert.True(t.LockCount is null or >= 1, $"{name} holds a Monitor: LockCount {t.LockCount}");
        }
        var main = Assert.Single(threads, x => x.Id == (uint)dump.Thread("main").OsId!.Value);
        Assert.Equal(ClrThreadKind.None, main.ClrKind & ClrThreadKind.Background);

        // The views: the table falls back to the managed name, the list shows the CLR's facts.
        string table = _ps.Render($"Get-DumpThread -Path '{dump.CorePath}' -Managed");
        Assert.Contains("locker-1", table);
        var locker = threads.Single(x => x.ManagedName == "locker-1");
        var items = Tests.Module.ListViewCheck.Evaluate(_ps, "DumpShell.Threads.format.ps1xml", "DumpShell.Model.DumpThread", locker);
        Assert.Equal("locker-1", items["ManagedName"]);
        Assert.Equal(dump.Thread("locker-1").ManagedId.ToString(), items["ManagedThreadId"]);
        Assert.Contains("Background", items["ClrKind"]);
    }

    [Fact]
    public void Worker_crash_stack_shows_the_managed_methods_in_order_among_native_frames()
    {
        var dump = cores.Crash;
        var worker = dump.Thread("worker-crash");
        var r = Invoke("Get-DumpStack -Path $args[0] -ThreadId $args[1]", dump.CorePath, (uint)worker.OsId!.Value);
        Assert.Empty(r.Errors);
        var frames = r.BaseObjects.Cast<StackFrame>().ToArray();
        foreach (var f in frames) output.WriteLine($"{f.Frame,3} {f.Kind,-7} {(f.IsJitCode ? "JIT" : "   ")} sp=0x{f.ChildSP:x} ip=0x{f.InstructionPointer:x} {f.Symbol}");
        Assert.Equal(Enumerable.Range(0, frames.Length), frames.Select(f => f.Frame));
        var expected = ExpectedMethods(dump);
        Assert.Equal(expected, frames.Where(f => f.Kind == StackFrameKind.Managed && expected.Contains(f.Function)).Select(f => f.Function).Distinct().ToArray());
        // Native frames above (the runtime's throw path) and below (the thread start) the managed ones.
        int first = Array.FindIndex(frames, f => f.Function == expected[0]);
        int last = Array.FindLastIndex(frames, f => f.Function == expected[^1]);
        Assert.Contains(frames.Take(first), f => f.Kind == StackFrameKind.Native);
        Assert.Contains(frames.Skip(last + 1), f => f.Kind == StackFrameKind.Native);
        // C, B, A run JIT-compiled code (NoOptimization: never ReadyToRun), with their signatures.
        var c = frames.First(f => f.Function == "App.Program.C");
        Assert.True(c.IsJitCode);
        Assert.Equal("App.Program.C()", c.ManagedMethod);
        Assert.Contains("App.Program.C()", c.Symbol);
        Assert.All(frames.Where(f => f.Kind == StackFrameKind.Native), f => Assert.False(f.IsJitCode));
        for (int i = 1; i < frames.Length; i++) Assert.True(frames[i - 1].ChildSP <= frames[i].ChildSP || i == 1, $"frame {i} SP order");

        // -Managed: managed (and runtime) frames only, renumbered, in the same order.
        var managed = Invoke("Get-DumpStack -Path $args[0] -ThreadId $args[1] -Managed", dump.CorePath, (uint)worker.OsId!.Value)
            .BaseObjects.Cast<StackFrame>().ToArray();
        Assert.NotEmpty(managed);
        Assert.All(managed, f => Assert.NotEqual(StackFrameKind.Native, f.Kind));
        Assert.Equal(Enumerable.Range(0, managed.Length), managed.Select(f => f.Frame));
        Assert.Equal(expected, managed.Where(f => expected.Contains(f.Function)).Select(f => f.Function).Distinct().ToArray());

        // The table view marks JIT code; the list view's items evaluate.
        string text = _ps.Render($"Get-DumpStack -Path '{dump.CorePath}' -ThreadId {worker.OsId}");
        Assert.Contains("crash!App.Program.C()  (JIT)", text);
        var items = Tests.Module.ListViewCheck.Evaluate(_ps, "DumpShell.Stacks.format.ps1xml", "DumpShell.Model.StackFrame", c);
        Assert.Equal("Managed", items["Kind"]);
        Assert.Equal("True", items["IsJitCode"]);
        Assert.Equal("App.Program.C()", items["ManagedMethod"]);
    }

    [Fact]
    public void Detectors_on_the_crash_core_name_the_exception_threads_and_trace()
    {
        var dump = cores.Crash;
        var worker = (uint)dump.Thread("worker-crash").OsId!.Value;
        using var opened = Dump.Open(dump.CorePath);
        var results = PatternRunner.Run(opened).ToArray();
        Assert.DoesNotContain(results, r => r.Failure is not null && ManagedPatterns.Contains(r.Failure.Pattern));
        var findings = results.Where(r => r.Finding is not null).Select(r => r.Finding!).Where(f => ManagedPatterns.Contains(f.Pattern)).ToArray();
        foreach (var f in findings) output.WriteLine($"{f.Severity} {f.Pattern}: {f.Evidence} [{f.Signature}]");
        Assert.DoesNotContain(findings, f => f.IsDataGap);

        var exception = Assert.Single(findings, f => f.Pattern == "Managed Code Exception" && f.ThreadId == worker);
        Assert.Equal(Severity.Error, exception.Severity);
        Assert.Contains("App.OrderProcessingException", exception.Evidence);
        Assert.Contains("order 42 failed", exception.Evidence);
        Assert.Contains("System.InvalidOperationException", exception.Evidence);
        Assert.Equal("Managed Code Exception|app.orderprocessingexception|app.program.c", exception.Signature);

        var clr = Assert.Single(findings, f => f.Pattern == "CLR Thread" && f.Severity == Severity.Info);
        Assert.Contains("managed threads", clr.Evidence);
        Assert.Contains("finalizer 0x", clr.Evidence);

        var trace = Assert.Single(findings, f => f.Pattern == "Managed Stack Trace" && f.ThreadId == worker);
        var expected = ExpectedMethods(dump);
        int at = -1;
        foreach (var m in expected)
        {
            int next = trace.Evidence.IndexOf(m + "(", StringComparison.Ordinal);
            Assert.True(next > at, $"{m} after the previous method in: {trace.Evidence}");
            at = next;
        }

        var platform = Assert.Single(findings, f => f.Pattern == "Platform-Specific Debugger");
        Assert.Equal(Severity.Info, platform.Severity);
        Assert.Contains("libcoreclr.so", platform.Evidence);
        Assert.Contains("DAC found", platform.Evidence);
        Assert.Contains(dump.Facts.GetProperty("runtimeVersion").GetString()!, platform.Evidence);

        var analysis = DumpAnalyzer.Analyze(opened);
        output.WriteLine($"{analysis.FailureClass} {analysis.FailureBucket} thread {analysis.FaultingThreadId}");
        Assert.Equal("ClrException", analysis.FailureClass);
        Assert.Equal("clr_app.orderprocessingexception_app.program.c", analysis.FailureBucket);
        Assert.Equal(worker, analysis.FaultingThreadId);
    }

    [Fact]
    public void Get_DumpAnalysis_reports_the_unhandled_managed_exception()
    {
        var dump = cores.Crash;
        var r = Invoke("Get-DumpAnalysis -Path $args[0]", dump.CorePath);
        var analysis = Assert.Single(r.BaseObjects.OfType<DumpAnalysis>());
        Assert.Equal("ClrException", analysis.FailureClass);
        Assert.Equal("clr_app.orderprocessingexception_app.program.c", analysis.FailureBucket);
        Assert.Equal("Managed Code Exception", analysis.PrimaryPattern);
    }

    [Fact]
    public void Windows_coreclr_minidump_gives_Platform_Specific_Debugger_Info_and_only_data_gaps()
    {
        if (OperatingSystem.IsWindows()) return; // there ClrMD's download applies
        string path = Path.Combine(_temp.FullName, "windows-dotnet.dmp");
        ManagedEngineTests.WindowsDotnetMinidump("coreclr.dll", @"C:\Program Files\dotnet\shared\Microsoft.NETCore.App\8.0.11\coreclr.dll", 8, 0, 1124, 51903).WriteTo(path);
        using var dump = Dump.Open(path);
        var findings = PatternRunner.Findings(dump).Where(f => ManagedPatterns.Contains(f.Pattern)).ToArray();
        foreach (var f in findings) output.WriteLine($"{f.Severity} {f.Pattern}: {f.Evidence} -> {f.Recommendation}");
        var platform = Assert.Single(findings, f => f.Pattern == "Platform-Specific Debugger");
        Assert.Equal(Severity.Info, platform.Severity);
        Assert.Contains("coreclr.dll 8.0.1124.51903", platform.Evidence);
        Assert.Contains("mscordaccore.dll", platform.Evidence);
        Assert.Contains("not available", platform.Evidence);
        Assert.Contains("Analyse the dump on Windows", platform.Recommendation);
        Assert.Equal("Platform-Specific Debugger|coreclr.dll|8.0", platform.Signature);
        // The other .NET detectors each say once that they could not look (and guess nothing).
        Assert.All(findings.Where(f => f != platform), f => Assert.True(f.IsDataGap && f.Severity == Severity.Info, f.ToString()));
        Assert.Contains(findings, f => f.Pattern == "CLR Thread");
        Assert.Contains(findings, f => f.Pattern == "Managed Code Exception");

        // Get-DumpThread still lists the thread (no managed facts, no error); -Managed is the one clear error.
        var threads = Invoke("Get-DumpThread -Path $args[0]", path);
        Assert.Empty(threads.Errors);
        Assert.False(Assert.Single(threads.BaseObjects.Cast<DumpThread>()).IsManaged);
        var m = Invoke("Get-DumpThread -Path $args[0] -Managed", path);
        Assert.Empty(m.Output);
        Assert.Equal("DacNotAvailable", Assert.Single(m.Errors).FullyQualifiedErrorId.Split(',')[0]);
        var s = Invoke("Get-DumpStack -Path $args[0] -Managed", path);
        Assert.Empty(s.Output);
        Assert.Equal("DacNotAvailable", Assert.Single(s.Errors).FullyQualifiedErrorId.Split(',')[0]);
    }

    [Fact]
    public void No_native_dump_in_the_shared_corpus_has_a_managed_finding_or_managed_facts()
    {
        int dumps = 0;
        foreach (var relative in TestData.AllSharedDumps())
        {
            string path = TestData.Shared(relative);
            Dump dump;
            try { dump = Dump.Open(path); }
            catch (Exception e) when (e is InvalidDataException or IOException) { continue; }
            using (dump)
            {
                dumps++;
                var findings = PatternRunner.Findings(dump, BuiltInDetectors.All.Where(d => ManagedPatterns.Contains(d.Pattern))).ToArray();
                Assert.True(findings.Length == 0, $"{relative}: {string.Join("; ", findings.Select(f => f.ToString()))}");
                Assert.Equal(DumpShell.Managed.ManagedStatus.NoClr, DumpShell.Managed.ClrSession.For(dump).Status);
            }
            var threads = _ps.Invoke("Get-DumpThread -Path $args[0]", path).BaseObjects.OfType<DumpThread>();
            Assert.All(threads, t => Assert.False(t.IsManaged));
            var managed = _ps.Invoke("Get-DumpThread -Path $args[0] -Managed", path);
            Assert.Empty(managed.Output);
            Assert.DoesNotContain(managed.Errors, e => e.FullyQualifiedErrorId.StartsWith("DacNotAvailable"));
            _ps.Invoke("Close-Dump -Path $args[0]", path);
        }
        Assert.True(dumps > 0);
    }
}
