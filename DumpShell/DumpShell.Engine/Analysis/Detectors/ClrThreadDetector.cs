using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// CLR Thread: one summary of the threads the runtime knows (counts by role: finalizer, GC, thread pool, background,
/// dead), and a Warning when the finalizer thread is running a finalizer (a Finalize method on its managed stack)
/// instead of waiting for work. Dead Thread objects are counted, not analysed.
/// </summary>
internal sealed class ClrThreadDetector : IDetector
{
    public string Pattern => "CLR Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (ManagedSpace.Ready(dump, context, Pattern, out var gap) is not { } session)
        {
            if (gap is not null) yield return gap;
            yield break;
        }
        var threads = session.Threads();
        var live = threads.Where(t => t.IsAlive).ToArray();
        int Count(ClrThreadKind k) => live.Count(t => (t.Kind & k) != 0);
        var finalizer = live.FirstOrDefault(t => (t.Kind & ClrThreadKind.Finalizer) != 0);
        var parts = new List<string> { $"{live.Length} managed threads" };
        if (finalizer is not null) parts.Add($"finalizer 0x{finalizer.OSThreadId:x}");
        if (Count(ClrThreadKind.GC) is > 0 and var gc) parts.Add($"{gc} GC");
        if (Count(ClrThreadKind.ThreadPoolWorker) is > 0 and var w) parts.Add($"{w} thread-pool workers");
        if (Count(ClrThreadKind.ThreadPoolIO) is > 0 and var io) parts.Add($"{io} thread-pool I/O");
        if (Count(ClrThreadKind.Timer) is > 0 and var timer) parts.Add($"{timer} timer");
        if (Count(ClrThreadKind.Background) is > 0 and var bg) parts.Add($"{bg} background");
        if (live.Count(t => t.CurrentExceptionType is not null) is > 0 and var ex) parts.Add($"{ex} with an exception in flight");
        if (live.Count(t => t.LockCount > 0) is > 0 and var locks) parts.Add($"{locks} holding locks");
        if (threads.Count - live.Length is > 0 and var dead) parts.Add($"{dead} dead Thread objects");
        var named = live.Where(t => t.Name is not null).Select(t => $"0x{t.OSThreadId:x} {t.Name}").Take(8).ToArray();
        string evidence = string.Join("; ", parts) + (named.Length > 0 ? $" (named: {string.Join(", ", named)})" : "");
        yield return context.Create(Pattern, Severity.Info, evidence, "summary",
            recommendation: "The CLR's view of the threads: Get-DumpThread -Managed.");

        if (finalizer is not null)
        {
            var finalize = session.ManagedStack(finalizer.OSThreadId)
                .FirstOrDefault(f => f.Kind == StackFrameKind.Managed && f.Function?.EndsWith(".Finalize", StringComparison.Ordinal) == true);
            if (finalize is not null)
                yield return context.Create(Pattern, Severity.Warning,
                    $"finalizer 0x{finalizer.OSThreadId:x} is running {finalize.ManagedMethod ?? finalize.Function}, not waiting for work: while it runs no other object is finalized",
                    $"finalizer-busy|{finalize.Function!.ToLowerInvariant()}", finalizer.OSThreadId, finalize.Module,
                    recommendation: "See what the finalizer waits for: Get-DumpStack -ThreadId <finalizer>; a blocked finalizer leaks every finalizable object.");
        }
    }
}
