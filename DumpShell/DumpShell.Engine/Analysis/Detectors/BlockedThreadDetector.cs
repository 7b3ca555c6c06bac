using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Blocked Thread (Software): one Warning per important blocked thread (the main thread, a GUI thread, or a wait for a
/// CriticalSection, SrwLock, Rpc/Alpc, Com or SendMessage); the other blocked threads in one Info summary.
/// </summary>
internal sealed class BlockedThreadDetector : IDetector
{
    private static readonly HashSet<string> ImportantKinds = ["CriticalSection", "SrwLock", "Rpc/Alpc", "Com", "SendMessage"];

    public string Pattern => "Blocked Thread (Software)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var others = new List<(DumpThread Thread, ThreadState State)>();
        var unknown = new List<DumpThread>();
        foreach (var t in dump.Threads)
        {
            var state = context.StateOf(t);
            if (state.Activity == ThreadActivity.Unknown && !context.IsExceptionThread(t)) unknown.Add(t);
            if (state.Activity != ThreadActivity.Blocked) continue;
            bool important = t.Id == context.MainThread?.Id || ThreadStacks.IsGuiThread(dump, t) == true
                             || state.WaitKind is { } k && ImportantKinds.Contains(k);
            if (!important)
            {
                others.Add((t, state));
                continue;
            }
            var frames = context.StackOf(t);
            var matter = context.FramesThatMatter(frames).FirstOrDefault();
            yield return context.Create(Pattern, Severity.Warning,
                $"Thread {DetectorContext.ThreadLabel(t)}{(t.Id == context.MainThread?.Id ? " [main thread]" : "")} blocked: {state.Reason}",
                $"{state.WaitKind?.ToLowerInvariant()}|{(matter is not null ? context.FrameKey(matter) : "no-caller")}", t.Id,
                matter is not null ? dump.ModuleAt(matter.InstructionPointer)?.Name : null, t.InstructionPointer,
                recommendation: "Find what the thread waits for: Get-DumpStack -ThreadId, and the wait-chain patterns.");
        }
        if (others.Count > 0)
            yield return context.Create(Pattern, Severity.Info,
                $"{others.Count} other blocked threads: " + string.Join("; ", others.GroupBy(o => o.State.WaitKind)
                    .Select(g => $"{g.Count()} {g.Key} ({ThreadStacks.Ids(g.Select(o => o.Thread))})")),
                "summary|" + string.Join(",", others.Select(o => o.State.WaitKind).Distinct().Order(StringComparer.Ordinal)).ToLowerInvariant());
        if (unknown.Count > 0)
            yield return context.NotEvaluated(Pattern, "wait-function-names",
                $"{unknown.Count} of {dump.Threads.Count} threads not classified ({ThreadStacks.Ids(unknown)}): {ThreadStacks.UnknownHint}");
    }
}
