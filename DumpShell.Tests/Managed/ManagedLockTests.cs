using System.Collections;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using DumpShell.Analysis;
using DumpShell.Managed;
using DumpShell.Model;
using DumpShell.Tests.Module;
using Xunit.Abstractions;

namespace DumpShell.Tests.Managed;

/// <summary>
/// Managed Monitor deadlocks in the wait graph (issues 5 and 7): the deadlock target's core, where locker-1 and locker-2
/// each hold one App.Resource's Monitor and wait for the other's, checked against the target's own facts (thread names
/// and ids, which resource each holds and waits for): the Monitor edges, the chains and the cycle in the engine and in
/// Get-DumpWaitChain, the Deadlock (Mixed Objects, User Space) finding, and Get-DumpAnalysis's Deadlock failure class on a
/// core of the hung process taken without a signal. Native dumps: no ClrMD objects, results as before.
/// </summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ManagedLockTests(CoreDumpFixture cores, ModuleFixture module, ITestOutputHelper output)
    : IClassFixture<ModuleFixture>, IDisposable
{
    private const string MixedDeadlock = "Deadlock (Mixed Objects, User Space)";

    private readonly Cli.ModuleSession _ps = module.Session;

    public void Dispose() => _ps.Invoke("Close-Dump -All");

    private Cli.ScriptResult Invoke(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        foreach (var e in r.Errors) output.WriteLine($"error {e.FullyQualifiedErrorId}: {e}");
        return r;
    }

    /// <summary>The facts of one locker: its OS thread id, the resource it holds and the one it waits for.</summary>
    private static (uint Tid, string Holds, string WaitsFor) Locker(CoreDump dump, string name)
    {
        var locks = dump.Facts.GetProperty("locks").GetProperty(name);
        return ((uint)dump.Thread(name).OsId!.Value, locks.GetProperty("holds").GetString()!, locks.GetProperty("waitsFor").GetString()!);
    }

    /// <summary>The Name of the App.Resource at <paramref name="address"/>, read from the dump's heap.</summary>
    private static string ResourceName(Dump dump, ulong address)
    {
        var obj = ClrSession.For(dump).Runtime!.Heap.GetObject(address);
        Assert.Equal("App.Resource", obj.Type?.Name);
        return obj.ReadStringField("<Name>k__BackingField")!;
    }

    [Fact]
    public void Engine_monitor_waits_and_the_cycle_match_the_targets_facts()
    {
        var core = cores.Deadlock;
        using var dump = Dump.Open(core.CorePath);
        var locks = dump.Locks;
        Assert.Equal(ManagedStatus.Ready, locks.ManagedStatus);
        Assert.True(locks.HasManagedWaits);
        Assert.False(locks.IsApplicable); // no Windows TEBs: the Monitor edges are the whole graph
        Assert.Equal("App.Resource", core.Facts.GetProperty("locks").GetProperty("type").GetString());

        var l1 = Locker(core, "locker-1");
        var l2 = Locker(core, "locker-2");
        foreach (var (me, other, name, otherName) in new[] { (l1, l2, "locker-1", "locker-2"), (l2, l1, "locker-2", "locker-1") })
        {
            var wait = Assert.Single(locks.Waits, w => w.ThreadId == me.Tid);
            Assert.True(wait.IsWaiting);
            Assert.Equal("Monitor", wait.WaitKind);
            Assert.Equal(name, wait.ThreadName);
            Assert.Equal(core.Thread(name).ManagedId, wait.ManagedThreadId);
            Assert.Equal("App.Program.Lock", wait.WaitingFrom);
            Assert.Equal("deadlock!app.program.lock", wait.WaitingFromKey);
            var obj = Assert.Single(wait.Objects);
            Assert.True(obj.IsMonitor);
            Assert.Equal("App.Resource", obj.Name);
            Assert.Equal(me.WaitsFor, ResourceName(dump, obj.Address!.Value));
            Assert.Equal(other.Tid, obj.OwnerThreadId);
            Assert.Equal(otherName, obj.OwnerThreadName);
            Assert.StartsWith($"Monitor App.Resource 0x", obj.Text);

            // The Monitor it holds (!syncblk): the resource of its facts.
            var held = Assert.Single(locks.Monitors, m => m.OwnerThreadId == me.Tid);
            Assert.Equal(me.Holds, ResourceName(dump, held.Address));
            Assert.Equal("App.Resource", held.Type);
            Assert.Equal("SyncBlock", held.Source);
            Assert.Equal(1, held.RecursionCount);
            Assert.Equal(1, held.WaitingThreadCount);
        }
        // The main thread (in FailFast) and the runtime's threads wait on nothing managed.
        Assert.All(locks.Waits.Where(w => w.ThreadId != l1.Tid && w.ThreadId != l2.Tid), w => Assert.False(w.IsWaiting));

        var cycle = Assert.Single(locks.Cycles);
        Assert.True(cycle.MonitorsOnly);
        Assert.Equal(new[] { l1.Tid, l2.Tid }.Order(), cycle.ThreadIds.Order());
        Assert.Empty(cycle.FeedingThreadIds);
        Assert.Equal(2, locks.Chains.Count);
        Assert.All(locks.Chains, c => Assert.True(c.IsCycle));
    }

    [Fact]
    public void WaitChain_cmdlet_reads_locker_1_resource_locker_2_resource_and_the_cycle()
    {
        var core = cores.Deadlock;
        var l1 = Locker(core, "locker-1");
        var l2 = Locker(core, "locker-2");
        var r = Invoke("Get-DumpWaitChain -Path $args[0]", core.CorePath);
        Assert.Empty(r.Errors);
        var chains = r.BaseObjects.Cast<WaitChain>().ToArray();
        Assert.Equal(2, chains.Length);
        var chain = Assert.Single(chains, c => c.ThreadId == l1.Tid);
        Assert.Equal("locker-1", chain.ThreadName);
        Assert.True(chain.IsCycle);
        Assert.Equal([l1.Tid, l2.Tid], chain.ThreadIds);
        Assert.Equal(2, chain.Links.Count);
        Assert.Equal(("locker-1", "locker-2"), (chain.Links[0].ThreadName, chain.Links[0].Object.OwnerThreadName));
        Assert.Equal(("locker-2", "locker-1"), (chain.Links[1].ThreadName, chain.Links[1].Object.OwnerThreadName));
        Assert.All(chain.Links, l => Assert.Equal("App.Resource", l.Object.Name));
        Assert.StartsWith("cycle: back to", chain.End);
        Assert.Contains("(locker-1)", chain.End);
        output.WriteLine(chain.Text);

        // The text a person reads top to bottom: locker-1 → its resource (held by locker-2) → locker-2 → the other.
        var lines = chain.Text.Split(Environment.NewLine);
        Assert.Matches(@"^0x[0-9a-f]+ \(locker-1\) waits on Monitor App\.Resource 0x[0-9a-f]+$", lines[0]);
        Assert.Contains("held by owner", lines[1]);
        Assert.Contains("(locker-2)", lines[1]);
        Assert.Matches(@"^0x[0-9a-f]+ \(locker-2\) waits on Monitor App\.Resource 0x[0-9a-f]+$", lines[2]);
        Assert.Contains("(locker-1)", lines[3]);
        Assert.Contains("deadlock", lines[4]);

        // The two objects are the two resources, each named by the resource its waiter waits for.
        using var dump = Dump.Open(core.CorePath);
        Assert.Equal(l1.WaitsFor, ResourceName(dump, chain.Links[0].Object.Address!.Value));
        Assert.Equal(l2.WaitsFor, ResourceName(dump, chain.Links[1].Object.Address!.Value));

        string view = _ps.Render($"Get-DumpWaitChain -Path '{core.CorePath}' -ThreadId {l1.Tid}");
        Assert.Contains("(locker-1) waits on Monitor App.Resource", view);
        Assert.Contains("(locker-2) waits on Monitor App.Resource", view);
    }

    [Fact]
    public void Pattern_reports_the_monitor_deadlock_naming_both_threads_and_both_lock_objects()
    {
        var core = cores.Deadlock;
        var l1 = Locker(core, "locker-1");
        var l2 = Locker(core, "locker-2");
        var r = Invoke("Invoke-DumpPattern -Path $args[0] -All", core.CorePath);
        Assert.Empty(r.Errors);
        var findings = r.BaseObjects.Cast<Finding>().ToArray();
        var f = Assert.Single(findings, x => x.Pattern.StartsWith("Deadlock", StringComparison.Ordinal));
        output.WriteLine(f.Evidence);
        Assert.Equal(MixedDeadlock, f.Pattern);
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.Contains(f.ThreadId, new uint?[] { l1.Tid, l2.Tid });

        using var dump = Dump.Open(core.CorePath);
        var lockObjects = dump.Locks.Monitors.Select(m => m.Address).ToArray();
        Assert.Equal(2, lockObjects.Length);
        foreach (var tid in new[] { l1.Tid, l2.Tid }) Assert.Contains($"0x{tid:x} (", f.Evidence);
        foreach (var name in new[] { "(locker-1)", "(locker-2)" }) Assert.Contains(name, f.Evidence);
        foreach (var a in lockObjects) Assert.Contains($"App.Resource 0x{a:x16}", f.Evidence);
        Assert.Contains(f.Address, lockObjects.Select(a => (ulong?)a));

        // The signature groups the same deadlock across runs: code and object types, no addresses or thread ids.
        Assert.Equal($"{MixedDeadlock}|deadlock!app.program.lock>monitor:app.resource,deadlock!app.program.lock>monitor:app.resource", f.Signature);
        Assert.DoesNotContain("0x", f.Signature);
        Assert.DoesNotContain(l1.Tid.ToString(), f.Signature);
        // All the chains run into the cycle: no wait-chain finding beside the deadlock; no critical-section deadlock.
        Assert.DoesNotContain(findings, x => x.Pattern.StartsWith("Wait Chain", StringComparison.Ordinal));
    }

    [Fact]
    public void Analysis_of_a_hung_core_without_a_signal_is_a_Deadlock()
    {
        var hung = HungDeadlockCore();
        using (var dump = Dump.Open(hung.CorePath))
            Assert.Null(dump.Exception); // taken on request: the hang is the only failure in it

        var r = Invoke("Get-DumpAnalysis -Path $args[0]", hung.CorePath);
        Assert.Empty(r.Errors);
        var a = Assert.Single(r.BaseObjects.Cast<DumpAnalysis>());
        output.WriteLine($"{a.FailureClass} {a.FailureBucket} {a.PrimaryPattern}");
        Assert.Equal("Deadlock", a.FailureClass);
        Assert.Equal("deadlock_deadlock!app.program.lock>monitor:app.resource,deadlock!app.program.lock>monitor:app.resource", a.FailureBucket);
        Assert.Equal(MixedDeadlock, a.PrimaryPattern);
        Assert.Contains("(locker-1)", a.PrimaryEvidence);
        Assert.Contains("(locker-2)", a.PrimaryEvidence);
        Assert.Null(a.ExceptionCode);
    }

    [Theory]
    [InlineData("deadlock_cs_x64")]
    [InlineData("deadlock_cs_x64_full")]
    [InlineData("waitchain_x64")]
    public void Native_dumps_read_no_managed_locks_and_create_no_ClrMD_objects(string name)
    {
        using var dump = Dump.Open(TestData.WineDump(name));
        var locks = dump.Locks;
        Assert.Empty(ClrSessionsOf(dump)); // the lock analysis looked at the module list only
        Assert.Equal(ManagedStatus.NoClr, locks.ManagedStatus);
        Assert.False(locks.HasManagedWaits);
        Assert.Empty(locks.Monitors);
        Assert.DoesNotContain(locks.Waits, w => w.WaitKind == "Monitor" || w.ManagedThreadId is not null);
        Assert.DoesNotContain(locks.Chains.SelectMany(c => c.Links), l => l.Object.IsMonitor);
        var analysis = DumpAnalyzer.Analyze(dump);
        // The .NET detectors may ask for the dump's session; it stays without a DataTarget or runtime.
        foreach (var session in ClrSessionsOf(dump))
        {
            Assert.Equal(ManagedStatus.NoClr, session.Status);
            Assert.Null(typeof(ClrSession).GetField("_target", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(session));
        }
        // The results the native analysis gave before Monitor edges existed (LockTests checks them against the truth).
        if (name.StartsWith("deadlock_cs", StringComparison.Ordinal))
        {
            Assert.Equal("Deadlock", analysis.FailureClass);
            Assert.Single(analysis.Findings, f => f.Pattern == "Deadlock (Critical Sections)");
            Assert.DoesNotContain(analysis.Findings, f => f.Pattern == MixedDeadlock && !f.IsDataGap);
        }
        else
        {
            Assert.DoesNotContain(analysis.Findings, f => f.Pattern.StartsWith("Deadlock", StringComparison.Ordinal) && !f.IsDataGap);
            Assert.Contains(analysis.Findings, f => f.Pattern == "Wait Chain (General)" && !f.IsDataGap);
        }
    }

    /// <summary>The ClrSessions made for <paramref name="dump"/> (ClrSession's per-dump table, by reflection).</summary>
    private static IReadOnlyList<ClrSession> ClrSessionsOf(Dump dump)
    {
        var table = (IEnumerable)typeof(ClrSession).GetField("Sessions", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
        foreach (var entry in table)
        {
            if (!ReferenceEquals(entry.GetType().GetProperty("Key")!.GetValue(entry), dump)) continue;
            var perDump = entry.GetType().GetProperty("Value")!.GetValue(entry)!;
            var byDac = (IDictionary)perDump.GetType().GetField("ByDac")!.GetValue(perDump)!;
            return byDac.Values.Cast<ClrSession>().ToArray();
        }
        return [];
    }

    // ------------------------------------------------------------------------------------ the hung core

    private static readonly object HungGate = new();
    private static (string WorkDirectory, CoreDump Core)? s_hung;

    /// <summary>
    /// A core of the deadlock target taken while it hangs (its "--hang" mode), with createdump from the runtime it runs
    /// on (--withheap, as type 2): no signal, so no exception in the dump. Made once per run, in the fixture's folder.
    /// </summary>
    private CoreDump HungDeadlockCore()
    {
        var built = cores.Deadlock; // the target's build
        lock (HungGate)
        {
            if (s_hung is { } h && h.WorkDirectory == cores.WorkDirectory) return h.Core;
            string core = Path.Combine(cores.WorkDirectory, "deadlock-hung.core");
            string facts = Path.Combine(cores.WorkDirectory, "deadlock-hung.json");
            string? host = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
            var info = new ProcessStartInfo(host) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(built.AssemblyPath);
            info.ArgumentList.Add(facts);
            info.ArgumentList.Add("--hang");
            foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("DOTNET_Dbg", StringComparison.OrdinalIgnoreCase)).ToArray())
                info.Environment.Remove(key);
            using var target = Process.Start(info)!;
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (!File.Exists(facts) && DateTime.UtcNow < deadline && !target.HasExited) Thread.Sleep(50);
                Assert.True(File.Exists(facts), $"the hung deadlock target wrote no facts (exited: {target.HasExited})");
                using var doc = JsonDocument.Parse(File.ReadAllBytes(facts));
                string createdump = Path.Combine(doc.RootElement.GetProperty("runtimeDirectory").GetString()!, "createdump");
                var dumpInfo = new ProcessStartInfo(createdump) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { "-f", core, "--withheap", target.Id.ToString() }) dumpInfo.ArgumentList.Add(a);
                using var cd = Process.Start(dumpInfo)!;
                string log = cd.StandardOutput.ReadToEnd() + cd.StandardError.ReadToEnd();
                Assert.True(cd.WaitForExit(60_000), "createdump did not finish");
                Assert.True(cd.ExitCode == 0 && File.Exists(core), $"createdump failed (exit {cd.ExitCode}):\n{log}");
                var result = new CoreDump("deadlock", core, doc.RootElement.Clone(), built.TargetDirectory, 2, 0, log, TimeSpan.Zero, TimeSpan.Zero);
                s_hung = (cores.WorkDirectory, result);
                return result;
            }
            finally
            {
                try { target.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                target.WaitForExit(10_000);
            }
        }
    }
}
