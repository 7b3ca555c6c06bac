using System.Buffers.Binary;
using System.Text.Json;
using DumpShell.Analysis;
using DumpShell.Model;
using DumpShell.Tests.Synth;

namespace DumpShell.Tests.Engine;

/// <summary>Critical sections, wait chains and deadlocks (issue 5) against the dump factory's truth and synthetic dumps.</summary>
public sealed class LockTests : IDisposable
{
    private readonly StackWalkDumpFiles _files = new();

    public void Dispose() => _files.Dispose();

    public static TheoryData<string> DeadlockDumps() => new("deadlock_cs_x64", "deadlock_cs_x64_full", "deadlock_cs_pdb_x64");

    private static ulong Hex(JsonElement e) => Convert.ToUInt64(e.GetString(), 16);

    [Theory]
    [MemberData(nameof(DeadlockDumps))]
    public void CriticalSection_locked_set_is_exactly_the_truths_locks(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var locked = dump.Locks.CriticalSections.Where(c => c.IsLocked).OrderBy(c => c.Address).ToArray();
        var expected = truth.GetProperty("locks").EnumerateArray().OrderBy(l => Hex(l.GetProperty("address"))).ToArray();
        Assert.Equal(expected.Length, locked.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            var l = expected[i];
            var cs = locked[i];
            Assert.Equal(Hex(l.GetProperty("address")), cs.Address);
            Assert.Equal((ulong)l.GetProperty("owner_tid").GetUInt32(), cs.OwningThread);
            Assert.Equal(l.GetProperty("waiter_tids").EnumerateArray().Select(w => w.GetUInt32()).Order(), cs.WaitingThreadIds);
            var fields = l.GetProperty("fields_at_ready");
            Assert.Equal(fields.GetProperty("LockCount").GetInt32(), cs.LockCount);
            Assert.Equal(fields.GetProperty("RecursionCount").GetInt32(), cs.RecursionCount);
            Assert.Equal(Hex(fields.GetProperty("DebugInfo")), cs.DebugInfo);
            // Wine keeps the pre-Vista meaning although it reports 6.1: decided from the values.
            Assert.Equal(LockCountEncoding.PreVista, cs.Encoding);
            Assert.StartsWith("values:", cs.EncodingReason);
            Assert.True(cs.PreVistaLocked);
            Assert.Equal(1, cs.PreVistaWaiterCount);
            Assert.False(cs.VistaLocked);
            Assert.Equal(1, cs.WaiterCount);
            Assert.False(cs.IsOrphaned);
            Assert.StartsWith("stack of ", cs.Location);
        }
    }

    [Theory]
    [MemberData(nameof(DeadlockDumps))]
    public void Deadlock_cycle_names_both_lockers_and_both_locks(string name)
    {
        var truth = TestData.Truth(name);
        using var dump = Dump.Open(TestData.WineDump(name));
        var threads = truth.GetProperty("threads").EnumerateArray().ToArray();
        var ab = threads.Single(t => t.GetProperty("name").GetString() == "locker-AB");
        var ba = threads.Single(t => t.GetProperty("name").GetString() == "locker-BA");

        var cycle = Assert.Single(dump.Locks.Cycles);
        Assert.True(cycle.CriticalSectionsOnly);
        Assert.Equal(new[] { ab.GetProperty("tid").GetUInt32(), ba.GetProperty("tid").GetUInt32() }.Order(), cycle.ThreadIds.Order());
        foreach (var t in new[] { ab, ba })
        {
            var link = cycle.Links.Single(l => l.ThreadId == t.GetProperty("tid").GetUInt32());
            Assert.Equal(Hex(t.GetProperty("waits_on")), link.Object.Address);
        }
        // main waits on both lockers' thread handles and so runs into the cycle.
        Assert.Equal([truth.GetProperty("from_scenario").GetProperty("main_tid").GetUInt32()], cycle.FeedingThreadIds);

        var findings = PatternRunner.Findings(dump).ToArray();
        var deadlock = Assert.Single(findings, f => f.Pattern == "Deadlock (Critical Sections)");
        Assert.Equal(Severity.Critical, deadlock.Severity);
        Assert.Contains("locker-AB", deadlock.Evidence);
        Assert.Contains("locker-BA", deadlock.Evidence);
        foreach (var l in truth.GetProperty("locks").EnumerateArray())
        {
            Assert.Contains($"0x{Hex(l.GetProperty("address")):x16}", deadlock.Evidence);
            Assert.DoesNotContain($"{Hex(l.GetProperty("address")):x}", deadlock.Signature);
        }
        foreach (var t in threads) Assert.DoesNotContain($"0x{t.GetProperty("tid").GetUInt32():x}>", deadlock.Signature);
        Assert.StartsWith("Deadlock (Critical Sections)|", deadlock.Signature);
        Assert.DoesNotContain(findings, f => f.Pattern == "Deadlock (Mixed Objects, User Space)");
        Assert.DoesNotContain(findings, f => f.Pattern == "Wait Chain (Critical Sections)");
    }

    [Fact]
    public void Deadlock_signature_is_the_same_across_dumps_of_the_same_build()
    {
        using var a = Dump.Open(TestData.WineDump("deadlock_cs_x64"));
        using var b = Dump.Open(TestData.WineDump("deadlock_cs_x64_full"));
        string Sig(Dump d) => PatternRunner.Findings(d).Single(f => f.Pattern == "Deadlock (Critical Sections)").Signature;
        Assert.Equal(Sig(a), Sig(b));
    }

    [Fact]
    public void WaitChain_follows_chain_C_to_A_to_the_named_mutex_and_B_waits_on_the_event()
    {
        const string name = "waitchain_x64";
        var scenario = TestData.Truth(name).GetProperty("from_scenario");
        var steps = scenario.GetProperty("chain").EnumerateArray().ToArray();
        using var dump = Dump.Open(TestData.WineDump(name));
        var locks = dump.Locks;
        Assert.Empty(locks.Cycles);
        Assert.DoesNotContain(locks.CriticalSections, c => c.IsLocked);

        uint c = steps[0].GetProperty("waiter_tid").GetUInt32();
        var chain = Assert.Single(locks.Chains, ch => ch.ThreadId == c);
        Assert.False(chain.IsCycle);
        // chain-C -> chain-A's thread handle
        Assert.Equal(c, chain.Links[0].ThreadId);
        Assert.Equal("Thread", chain.Links[0].Object.Kind);
        Assert.Equal(Hex(steps[0].GetProperty("handle")), chain.Links[0].Object.Handle);
        Assert.Equal(steps[0].GetProperty("held_by_tid").GetUInt32(), chain.Links[0].Object.OwnerThreadId);
        Assert.True(chain.Links[0].Object.OwnerInferred);
        // chain-A -> the named mutex; its owner (chain-B) is not in the dump's handle data, so it is reported unknown
        Assert.Equal(steps[1].GetProperty("waiter_tid").GetUInt32(), chain.Links[1].ThreadId);
        Assert.Equal("Mutant", chain.Links[1].Object.Kind);
        Assert.EndsWith(steps[1].GetProperty("name").GetString()!, chain.Links[1].Object.Name);
        Assert.Equal(Hex(steps[1].GetProperty("handle")), chain.Links[1].Object.Handle);
        Assert.True(chain.Links[1].Object.OwnerThreadId is null || chain.Links[1].Object.OwnerThreadId == steps[1].GetProperty("held_by_tid").GetUInt32());
        if (chain.Links[1].Object.OwnerThreadId is null) Assert.StartsWith("owner unknown", chain.Links[1].Object.Owner);
        Assert.Equal(2, chain.Links.Count);

        // chain-B -> the never-set event: no owner
        uint b = steps[2].GetProperty("waiter_tid").GetUInt32();
        var bWait = locks.Waits.Single(w => w.ThreadId == b);
        var ev = Assert.Single(bWait.Objects);
        Assert.Equal("Event", ev.Kind);
        Assert.EndsWith(steps[2].GetProperty("name").GetString()!, ev.Name);
        Assert.Equal(Hex(steps[2].GetProperty("handle")), ev.Handle);
        Assert.Null(ev.OwnerThreadId);
        Assert.Contains("False Function Parameters", ev.FoundAt);

        // main waits on chain-C's thread handle, so its chain is the longest: main -> C -> A -> mutex
        uint main = scenario.GetProperty("main_tid").GetUInt32();
        var mainChain = Assert.Single(locks.Chains, ch => ch.ThreadId == main);
        Assert.Equal([main, c, steps[1].GetProperty("waiter_tid").GetUInt32()], mainChain.ThreadIds);

        var findings = PatternRunner.Findings(dump).ToArray();
        var general = Assert.Single(findings, f => f.Pattern == "Wait Chain (General)");
        Assert.Equal(Severity.Error, general.Severity);
        Assert.Contains("chain-C", general.Evidence);
        Assert.Contains("chain-A", general.Evidence);
        Assert.Contains("DumpShell_WaitChain_Mutex", general.Evidence);
        Assert.DoesNotContain(findings, f => f.Pattern.StartsWith("Deadlock", StringComparison.Ordinal));
    }

    public static TheoryData<string> NonDeadlockDumps()
    {
        var data = new TheoryData<string>();
        foreach (var n in TestData.WineDumpNames())
            if (TestData.Truth(n).GetProperty("scenario").GetString() != "deadlock_cs") data.Add(n);
        return data;
    }

    [Theory]
    [MemberData(nameof(NonDeadlockDumps))]
    public void Deadlock_is_absent_from_spin_idle_waitchain_and_crash_dumps(string name)
    {
        using var dump = Dump.Open(TestData.WineDump(name));
        Assert.Empty(dump.Locks.Cycles);
        var findings = PatternRunner.Run(dump).ToArray();
        Assert.All(findings, r => Assert.Null(r.Failure));
        Assert.DoesNotContain(findings, r => r.Finding!.Pattern.StartsWith("Deadlock", StringComparison.Ordinal));
        Assert.DoesNotContain(dump.Locks.CriticalSections, c => c.IsLocked && c.Source == "Stack" && c.WaitingThreadIds.Count == 0);
    }

    // ------------------------------------------------------------------ synthetic dumps

    private const ulong NtdllBase = 0x7ff8_0000_0000, HeapBase = 0x50_0000;

    /// <summary>
    /// x64 threads whose instruction pointers lie in ntdll; thread i owns CS i and its stack holds a pointer to CS
    /// (i+1) mod n at SP+0x40. The critical sections lie on the heap (outside every module).
    /// </summary>
    private Dump CsDump(int lockCount, uint osMajor, int threads)
    {
        var b = new MinidumpBuilder { TimeDateStamp = 0x60000000 };
        b.AddSystemInfo(new SystemInfoSpec { MajorVersion = osMajor, CsdVersion = "" });
        b.AddModuleList(new ModuleSpec { BaseOfImage = NtdllBase, SizeOfImage = 0x10_0000, TimeDateStamp = 1, Name = @"C:\Windows\System32\ntdll.dll" });
        var heap = new byte[0x28 * threads];
        var specs = new List<ThreadSpec>();
        for (int i = 0; i < threads; i++)
        {
            uint tid = 0x100 + 4 * (uint)i;
            var cs = heap.AsSpan(0x28 * i);
            BinaryPrimitives.WriteUInt64LittleEndian(cs, ulong.MaxValue);          // DebugInfo -1
            BinaryPrimitives.WriteInt32LittleEndian(cs[8..], lockCount);
            BinaryPrimitives.WriteInt32LittleEndian(cs[0xC..], 1);                 // RecursionCount
            BinaryPrimitives.WriteUInt64LittleEndian(cs[0x10..], tid);             // OwningThread
            BinaryPrimitives.WriteUInt64LittleEndian(cs[0x20..], 0x20007d0);       // SpinCount with flag bits
            ulong low = 0x10_0000 + 0x1_0000 * (ulong)i;
            var stack = new byte[0x400];
            BinaryPrimitives.WriteUInt64LittleEndian(stack.AsSpan(0x40), HeapBase + 0x28 * (ulong)((i + 1) % threads));
            var block = b.AddMemory(low, stack);
            specs.Add(new ThreadSpec { ThreadId = tid, Stack = block, Context = Contexts.Amd64(NtdllBase + 0x1234, low, 0) });
        }
        b.AddMemory(HeapBase, heap);
        b.AddThreadList(specs);
        b.AddMemoryListOfAllBlocks();
        return _files.Open(b);
    }

    [Fact]
    public void Synthetic_VistaPlus_encoding_is_decided_from_the_values_and_decoded()
    {
        // -6: bit 0 clear = locked, bit 1 set = no waiter woken, (-1 - -6) >> 2 = 1 waiter. Pre-Vista cannot read -6.
        using var dump = CsDump(-6, osMajor: 5, threads: 2);
        var locks = dump.Locks;
        Assert.Equal(LockCountEncoding.VistaPlus, locks.Encoding);
        Assert.StartsWith("values:", locks.EncodingReason);
        Assert.Equal(2, locks.CriticalSections.Count);
        Assert.All(locks.CriticalSections, cs =>
        {
            Assert.True(cs.IsLocked);
            Assert.True(cs.VistaLocked);
            Assert.False(cs.VistaWaiterWoken);
            Assert.Equal(1, cs.VistaWaiterCount);
            Assert.Equal(1, cs.WaiterCount);
            Assert.False(cs.PreVistaLocked);
            Assert.Equal("heap or other memory", cs.Location);
            Assert.Single(cs.WaitingThreadIds);
        });
        Assert.Single(locks.Cycles);
    }

    [Theory]
    [InlineData(5u, LockCountEncoding.PreVista)]
    [InlineData(10u, LockCountEncoding.VistaPlus)]
    public void Synthetic_without_telling_values_the_OS_version_decides(uint major, LockCountEncoding expected)
    {
        // LockCount -1 is "free" in both meanings: nothing to decide from, so SystemInfo's version decides.
        using var dump = CsDump(-1, major, threads: 2);
        Assert.Equal(expected, dump.Locks.Encoding);
        Assert.StartsWith("OS version", dump.Locks.EncodingReason);
    }

    [Fact]
    public void Synthetic_LockCount_zero_with_an_owner_fits_only_the_pre_Vista_meaning()
    {
        // Vista+ would read 0 as locked with (-1 - 0) >> 2 = -1 waiters: impossible, so the values decide even on 10.0.
        using var dump = CsDump(0, osMajor: 10, threads: 2);
        Assert.Equal(LockCountEncoding.PreVista, dump.Locks.Encoding);
        Assert.StartsWith("values:", dump.Locks.EncodingReason);
        Assert.All(dump.Locks.CriticalSections, cs => { Assert.True(cs.IsLocked); Assert.Equal(0, cs.WaiterCount); });
        Assert.Single(dump.Locks.Cycles);
    }

    [Fact]
    public void Synthetic_three_thread_cycle_is_one_critical_section_deadlock()
    {
        using var dump = CsDump(-6, osMajor: 10, threads: 3);
        var cycle = Assert.Single(dump.Locks.Cycles);
        Assert.Equal([0x100u, 0x104u, 0x108u], cycle.ThreadIds);
        Assert.True(cycle.CriticalSectionsOnly);
        Assert.Equal([HeapBase + 0x28, HeapBase + 0x50, HeapBase], cycle.Links.Select(l => l.Object.Address!.Value));
        var finding = Assert.Single(PatternRunner.Findings(dump), f => f.Pattern == "Deadlock (Critical Sections)");
        foreach (string t in new[] { "0x100", "0x104", "0x108" }) Assert.Contains(t, finding.Evidence);
        Assert.DoesNotContain("0x10", finding.Signature.Split('|')[1].Replace("+0x", "+"));
    }

    [Fact]
    public void Synthetic_residue_that_fails_validation_is_not_a_lock()
    {
        // Owner 0x100 exists but LockCount -1 with RecursionCount 1 fits no meaning of a held lock: not reported.
        using var dump = CsDump(-1, osMajor: 10, threads: 2);
        Assert.Empty(dump.Locks.CriticalSections);
        Assert.Empty(dump.Locks.Cycles);
    }
}
