using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Managed Stack Trace: the managed trace (ClrMD, top 20 frames) of the threads that matter: those with a current
/// exception, the stored exception's thread and the main thread, when they have managed frames. Info.
/// </summary>
internal sealed class ManagedStackTraceDetector : IDetector
{
    public const int TopFrames = 20;

    public string Pattern => "Managed Stack Trace";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (ManagedSpace.Ready(dump, context, Pattern, out var gap) is not { } session)
        {
            if (gap is not null) yield return gap;
            yield break;
        }
        var ids = new List<uint>();
        foreach (var e in ManagedSpace.CurrentExceptions(session))
            if (e.ThreadId is { } id && !ids.Contains(id)) ids.Add(id);
        if (dump.Exception is { ThreadId: not 0 } stored && !ids.Contains(stored.ThreadId)) ids.Add(stored.ThreadId);
        if (context.MainThread is { } main && !ids.Contains(main.Id)) ids.Add(main.Id);
        foreach (uint id in ids)
        {
            var frames = session.ManagedStack(id).Where(f => f.Kind == StackFrameKind.Managed).ToArray();
            if (frames.Length == 0) continue;
            string trace = string.Join(" <- ", frames.Take(TopFrames).Select(f => f.ManagedMethod ?? f.Function));
            if (frames.Length > TopFrames) trace += $" <- ... ({frames.Length} managed frames)";
            string key = string.Join(",", frames.Take(3).Select(f => f.Function)).ToLowerInvariant();
            yield return context.Create(Pattern, Severity.Info, $"0x{id:x}: {trace}", key, id, frames[0].Module,
                recommendation: "The interleaved native and managed view: Get-DumpStack -ThreadId <id>; managed frames only: Get-DumpStack -Managed.");
        }
    }
}
