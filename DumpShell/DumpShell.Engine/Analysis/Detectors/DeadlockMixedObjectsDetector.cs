using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Deadlock (Mixed Objects, User Space): a cycle of the wait graph with at least one non-critical-section edge. Critical.
/// Managed Monitor edges (C# lock, Monitor.Enter; read with ClrMD when the dump has a CLR) are such edges: a cycle of
/// Monitor waits (a managed lock-order deadlock) is reported here, on any platform, and needs no HandleData.
/// </summary>
internal sealed class DeadlockMixedObjectsDetector : IDetector
{
    public string Pattern => "Deadlock (Mixed Objects, User Space)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var (applicable, handles, gap) = LockFindings.GeneralScope(dump, context, Pattern);
        if (!applicable) yield break;
        if (gap is not null) yield return gap;
        var locks = dump.Locks;
        // Without handle data (or off Windows) only the cycles through managed Monitors are complete.
        foreach (var cycle in locks.Cycles.Where(c => !c.CriticalSectionsOnly && (handles || c.Links.Any(l => l.Object.IsMonitor))))
        {
            string evidence = "Cycle: " + string.Join("; ", cycle.Links.Select(LockFindings.Link))
                + (cycle.FeedingThreadIds.Count > 0 ? $"; also waiting on the cycle: {string.Join(", ", cycle.FeedingThreadIds.Select(locks.Label))}" : "")
                + (cycle.MonitorsOnly ? $"; managed Monitor deadlock: {cycle.Links.Count} threads, lock objects {string.Join(", ", cycle.Links.Select(l => l.Object.Text))}" : "");
            yield return context.Create(Pattern, Severity.Critical, evidence, LockFindings.Key(locks, cycle.Links),
                threadId: cycle.Links[0].ThreadId, address: cycle.Links.Select(l => l.Object.Address).FirstOrDefault(a => a is not null),
                recommendation: cycle.MonitorsOnly
                    ? "Take the managed locks in one global order in every thread (or use Monitor.TryEnter with a timeout); Get-DumpWaitChain shows each thread, the object it waits for and its owner."
                    : "Break the cycle: order lock and object acquisition consistently, and never wait for a thread or mutex while holding a lock that thread needs.");
        }
    }
}
