using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>Deadlock (Mixed Objects, User Space): a cycle of the wait graph with at least one non-critical-section edge. Critical.</summary>
internal sealed class DeadlockMixedObjectsDetector : IDetector
{
    public string Pattern => "Deadlock (Mixed Objects, User Space)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var locks = dump.Locks;
        if (!locks.IsApplicable || !locks.HasStackMemory) yield break;
        if (!dump.HasHandleData)
        {
            yield return context.NotEvaluated(Pattern, "handledata", "HandleData not captured (MiniDumpWithHandleData; procdump -ma includes it)",
                "Capture with procdump -ma, or MiniDumpWriteDump with MiniDumpWithHandleData.");
            yield break;
        }
        foreach (var cycle in locks.Cycles.Where(c => !c.CriticalSectionsOnly))
        {
            string evidence = "Cycle: " + string.Join("; ", cycle.Links.Select(LockFindings.Link))
                + (cycle.FeedingThreadIds.Count > 0 ? $"; also waiting on the cycle: {string.Join(", ", cycle.FeedingThreadIds.Select(locks.Label))}" : "");
            yield return context.Create(Pattern, Severity.Critical, evidence, LockFindings.Key(locks, cycle.Links),
                threadId: cycle.Links[0].ThreadId, address: cycle.Links.Select(l => l.Object.Address).FirstOrDefault(a => a is not null),
                recommendation: "Break the cycle: order lock and object acquisition consistently, and never wait for a thread or mutex while holding a lock that thread needs.");
        }
    }
}
