using DumpShell.Analysis.Locks;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Wait Chain (General): maximal acyclic paths covering at least two threads with at least one non-critical-section edge.
/// Warning; Error when the main thread is on it or it covers three or more threads. Chains through managed Monitor
/// waits (read with ClrMD when the dump has a CLR) are reported on any platform and need no HandleData.
/// </summary>
internal sealed class WaitChainGeneralDetector : IDetector
{
    public string Pattern => "Wait Chain (General)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var (applicable, handles, gap) = LockFindings.GeneralScope(dump, context, Pattern);
        if (!applicable) yield break;
        if (gap is not null) yield return gap;
        var locks = dump.Locks;
        foreach (var chain in WaitChains.Maximal(locks, csOnly: false).Where(c => handles || c.HasMonitor))
        {
            var severity = chain.ThreadCount >= 3 || LockFindings.InvolvesMain(context, chain.ThreadIds) ? Severity.Error : Severity.Warning;
            yield return context.Create(Pattern, severity,
                string.Join(" -> ", chain.Links.Select(LockFindings.Link)) + $" -> {chain.End}",
                LockFindings.Key(locks, chain.Links), threadId: chain.ThreadId, address: chain.Links[0].Object.Address,
                recommendation: "Follow the chain to its last thread; an event or semaphore at the end names no owner: find the code that should signal it.");
        }
    }
}
