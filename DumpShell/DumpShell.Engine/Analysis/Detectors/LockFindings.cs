using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>Evidence and signature text shared by the wait-chain and deadlock detectors.</summary>
internal static class LockFindings
{
    /// <summary>
    /// What the wait graph beyond critical sections can show in this dump: whether to look at all (native waits on
    /// Windows with stack memory, or managed Monitor waits anywhere), whether its handle edges are complete
    /// (HandleData), and the data-gap finding to report when HandleData is missing.
    /// </summary>
    public static (bool Applicable, bool Handles, Finding? Gap) GeneralScope(Dump dump, DetectorContext context, string pattern)
    {
        var locks = dump.Locks;
        bool native = context.IsWindows && locks.IsApplicable && locks.HasStackMemory;
        if (!native && !locks.HasManagedWaits) return (false, false, null);
        var gap = native && !dump.HasHandleData
            ? context.NotEvaluated(pattern, "handledata", "HandleData not captured (MiniDumpWithHandleData; procdump -ma includes it)",
                "Capture with procdump -ma, or MiniDumpWriteDump with MiniDumpWithHandleData.")
            : null;
        return (true, native && dump.HasHandleData, gap);
    }

    public static string Link(WaitChainLink l) =>
        $"{l.ThreadText} waits {l.Object.Text} ({(l.Object.OwnerThreadId is not null ? l.Object.Owner : l.Object.Owner)})";

    /// <summary>Signature key: the waiting code of each thread (module+0xrva or module!function) and the object kinds; no addresses or ids.</summary>
    public static string Key(LockAnalysis locks, IEnumerable<WaitChainLink> links)
    {
        var parts = links.Select(l =>
        {
            string from = locks.Waits.FirstOrDefault(w => w.ThreadId == l.ThreadId)?.WaitingFromKey ?? "unknown";
            string obj = l.Object.IsCriticalSection
                ? "cs" + (l.Object.Name is { Length: > 0 } n && n.Contains('!') ? ":" + n.Split('+')[0].ToLowerInvariant() : "")
                : l.Object.Kind.ToLowerInvariant() + (l.Object.Name is { Length: > 0 } on ? ":" + WaitObject.ShortName(on).ToLowerInvariant() : "");
            return $"{from}>{obj}";
        });
        return string.Join(",", parts.Order(StringComparer.Ordinal));
    }

    public static bool InvolvesMain(DetectorContext context, IEnumerable<uint> threads) =>
        context.MainThread is { } m && threads.Contains(m.Id);
}

/// <summary>Selects the chains the wait-chain detectors report.</summary>
internal static class WaitChains
{
    /// <summary>
    /// Acyclic chains covering two or more threads that start at a thread no other thread waits on through an edge of the
    /// same kind (so each path is reported once, from its start). <paramref name="csOnly"/>: only critical-section edges;
    /// otherwise chains with at least one non-critical-section edge.
    /// </summary>
    public static IEnumerable<WaitChain> Maximal(LockAnalysis locks, bool csOnly)
    {
        var candidates = locks.Chains.Where(c => !c.IsCycle && c.ThreadCount >= 2 && (csOnly ? c.CriticalSectionsOnly : !c.CriticalSectionsOnly))
            .ToArray();
        var waitedOn = locks.Chains.SelectMany(c => c.Links)
            .Where(l => (!csOnly || l.Object.IsCriticalSection) && l.Object.OwnerThreadId is not null)
            .Select(l => l.Object.OwnerThreadId!.Value).ToHashSet();
        // Chains of the cycle's feeders are reported by the deadlock detectors.
        var inCycles = locks.Cycles.SelectMany(c => c.ThreadIds).ToHashSet();
        return candidates.Where(c => !waitedOn.Contains(c.ThreadId) && !c.ThreadIds.Any(inCycles.Contains));
    }
}
