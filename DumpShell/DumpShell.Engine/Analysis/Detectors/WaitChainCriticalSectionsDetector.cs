using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Wait Chain (Critical Sections): maximal acyclic paths of critical-section edges covering at least two threads.
/// Warning; Error when the main thread is on it, it covers three or more threads, or it ends at an orphaned critical section.
/// </summary>
internal sealed class WaitChainCriticalSectionsDetector : IDetector
{
    public string Pattern => "Wait Chain (Critical Sections)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var locks = dump.Locks;
        if (!locks.IsApplicable || !locks.HasStackMemory) yield break;
        foreach (var chain in WaitChains.Maximal(locks, csOnly: true))
        {
            bool orphan = chain.Links[^1].Object.IsCriticalSection && chain.Links[^1].Object.OwnerThreadId is null;
            var severity = orphan || chain.ThreadCount >= 3 || LockFindings.InvolvesMain(context, chain.ThreadIds) ? Severity.Error : Severity.Warning;
            string ambiguous = chain.Links.Any(l => locks.Waits.FirstOrDefault(w => w.ThreadId == l.ThreadId)?.Ambiguous == true) ? " (ambiguous critical-section candidates)" : "";
            yield return context.Create(Pattern, severity,
                string.Join(" -> ", chain.Links.Select(LockFindings.Link)) + $" -> {chain.End}{ambiguous}",
                LockFindings.Key(locks, chain.Links), threadId: chain.ThreadId, address: chain.Links[0].Object.Address,
                recommendation: "Look at the thread at the end of the chain: what it does (or why it exited) explains the waiters.");
        }
    }
}
