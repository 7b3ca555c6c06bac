using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Deadlock (Critical Sections): a cycle of the wait graph whose edges are all critical-section edges. Critical.
/// An ambiguous critical-section wait prevents the finding.
/// </summary>
internal sealed class DeadlockCriticalSectionsDetector : IDetector
{
    public string Pattern => "Deadlock (Critical Sections)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var locks = dump.Locks;
        if (!locks.IsApplicable || !locks.HasStackMemory) yield break;
        foreach (var cycle in locks.Cycles.Where(c => c.CriticalSectionsOnly))
        {
            if (cycle.Links.Any(l => locks.Waits.FirstOrDefault(w => w.ThreadId == l.ThreadId)?.Ambiguous == true)) continue;
            string evidence = "Cycle: " + string.Join("; ", cycle.Links.Select(LockFindings.Link))
                + (cycle.FeedingThreadIds.Count > 0 ? $"; also waiting on the cycle: {string.Join(", ", cycle.FeedingThreadIds.Select(locks.Label))}" : "")
                + $"; LockCount read as {(locks.Encoding == LockCountEncoding.PreVista ? "pre-Vista" : "Vista+")} ({locks.EncodingReason})";
            yield return context.Create(Pattern, Severity.Critical, evidence, LockFindings.Key(locks, cycle.Links),
                threadId: cycle.Links[0].ThreadId, address: cycle.Links[0].Object.Address,
                recommendation: "Acquire the critical sections in one global order in every thread, or do not call out while holding a lock; Get-DumpWaitChain and Get-DumpCriticalSection -Locked show the cycle.");
        }
    }
}
