using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Blocking Module: for each Blocked thread, the first frame outside the OS wait layers names the module that made it
/// wait. A module is reported when it blocks the main thread or a GUI thread, or at least 3 threads and at least half of
/// all blocked threads. Warning. OS modules are never reported; passive waits never count.
/// </summary>
internal sealed class BlockingModuleDetector : IDetector
{
    public string Pattern => "Blocking Module";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var blocked = new List<(DumpThread Thread, ThreadState State, DumpModule Module, StackFrame Frame)>();
        int blockedCount = 0;
        var unknown = new List<DumpThread>();
        foreach (var t in dump.Threads)
        {
            var state = context.StateOf(t);
            if (state.Activity == ThreadActivity.Unknown && !context.IsExceptionThread(t)) unknown.Add(t);
            if (state.Activity != ThreadActivity.Blocked) continue;
            blockedCount++;
            var frame = context.StackOf(t).FirstOrDefault(f => dump.ModuleAt(f.InstructionPointer) is { } m && !DetectorContext.IsSystemModule(m));
            if (frame is not null) blocked.Add((t, state, dump.ModuleAt(frame.InstructionPointer)!, frame));
        }
        foreach (var group in blocked.GroupBy(b => b.Module.BaseAddress))
        {
            var module = group.First().Module;
            var main = group.FirstOrDefault(b => b.Thread.Id == context.MainThread?.Id || ThreadStacks.IsGuiThread(dump, b.Thread) == true);
            int n = group.Count();
            if (main.Thread is null && !(n >= 3 && 2 * n >= blockedCount)) continue;
            yield return context.Create(Pattern, Severity.Warning,
                $"{module.Name} blocks {n} of {blockedCount} blocked threads" + (main.Thread is not null ? $" incl. main/input thread {DetectorContext.ThreadLabel(main.Thread)} ({main.State.WaitKind} wait at {context.FrameText(main.Frame)})" : "")
                + $": {ThreadStacks.Ids(group.Select(b => b.Thread))}",
                module.Name.ToLowerInvariant(), main.Thread?.Id, module.Name, module.BaseAddress);
        }
        if (unknown.Count > 0 && blocked.Count == 0)
            yield return context.NotEvaluated(Pattern, "wait-function-names",
                $"{unknown.Count} of {dump.Threads.Count} threads not classified ({ThreadStacks.Ids(unknown)}): {ThreadStacks.UnknownHint}");
    }
}
