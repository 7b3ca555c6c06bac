using System.Globalization;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Handle Leak, from the HandleData stream's counts by type. Warning when the total reaches the threshold (10,000 or
/// -HandleThreshold) or one type reaches half of it, or Thread handles exceed 10 x the live threads and 1,000. Below
/// those, Info when one type holds at least a tenth of the threshold and at least half of all handles: the table is
/// dominated by one type, the usual shape of a leak that has not grown large yet.
/// </summary>
internal sealed class HandleLeakDetector : IDetector
{
    public const int DefaultThreshold = 10_000;

    public string Pattern => "Handle Leak";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        if (!dump.HasHandleData)
        {
            yield return context.NotEvaluated(Pattern, "handledata", "HandleData not captured (MiniDumpWithHandleData; procdump -ma includes it)",
                "Capture with procdump -ma, or MiniDumpWriteDump with MiniDumpWithHandleData.");
            yield break;
        }
        int threshold = context.Options.HandleThreshold ?? DefaultThreshold;
        int perType = Math.Max(1, threshold / 2);
        int dominance = Math.Max(1, threshold / 10);
        var handles = dump.Handles.ToArray();
        var byType = handles.GroupBy(h => string.IsNullOrEmpty(h.Type) ? "(unknown)" : h.Type!)
            .Select(g => (Type: g.Key, Count: g.Count(), Unnamed: g.Count(h => h.ObjectName is null)))
            .OrderByDescending(t => t.Count).ThenBy(t => t.Type, StringComparer.OrdinalIgnoreCase).ToArray();
        int total = handles.Length;
        if (total == 0) yield break;
        var top = byType[0];

        string Table() => string.Create(CultureInfo.InvariantCulture,
            $"{total:N0} handles: {string.Join(", ", byType.Take(3).Select(t => $"{t.Type} {t.Count:N0}" + (t.Count == t.Unnamed ? " (unnamed)" : t.Unnamed > 0 ? $" ({t.Unnamed:N0} unnamed)" : "")))}");
        const string Recommend = "Compare with a later dump of the same process (Get-DumpHandle -Summary) to see which type grows; handle tracing (!htrace, Application Verifier) gives the opening stacks.";

        bool reported = false;
        if (total >= threshold || top.Count >= perType)
        {
            reported = true;
            yield return context.Create(Pattern, Severity.Warning,
                Table() + string.Create(CultureInfo.InvariantCulture, $"; {(total >= threshold ? $"total >= {threshold:N0}" : $"{top.Type} >= {perType:N0}")}"),
                top.Type.ToLowerInvariant(), recommendation: Recommend);
        }

        int liveThreads = dump.Threads.Count;
        var threadHandles = byType.FirstOrDefault(t => t.Type == "Thread");
        if (threadHandles.Count > 1000 && threadHandles.Count > 10 * liveThreads)
            yield return context.Create(Pattern, Severity.Warning,
                string.Create(CultureInfo.InvariantCulture, $"{threadHandles.Count:N0} Thread handles for {liveThreads} live threads: handles to exited threads are not closed"),
                "thread|exited-threads", recommendation: "Close thread handles (CloseHandle) after the thread is created or joined.");

        if (!reported && top.Count >= dominance && top.Count * 2 >= total)
            yield return context.Create(Pattern, Severity.Info,
                Table() + string.Create(CultureInfo.InvariantCulture,
                    $"; {top.Type} is {100.0 * top.Count / total:0} % of the table (below the Warning thresholds {threshold:N0} total / {perType:N0} per type)"),
                top.Type.ToLowerInvariant(), recommendation: Recommend);
    }
}
