using System.Globalization;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Active Thread: each thread the classifier finds executing (not at a wait stub) with its top 5 frames. Info; Warning
/// when it is also spiking. The exception thread, the dump writer and a debugger break-in thread are excluded.
/// </summary>
internal sealed class ActiveThreadDetector : IDetector
{
    public string Pattern => "Active Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        foreach (var t in dump.Threads)
        {
            if (context.IsExceptionThread(t)) continue;
            var state = context.StateOf(t);
            if (state.Activity != ThreadActivity.Active || ThreadStacks.IsToolThread(context, t)) continue;
            var frames = context.StackOf(t);
            if (frames.Count == 0 || frames.Any(f => StackNames.Matches(f.Function, ["KiUserExceptionDispatcher"]))) continue;
            string cpu = t.TotalCpuTime is { } c ? string.Create(CultureInfo.InvariantCulture, $"; CPU {c.TotalSeconds:0.##} s") : "";
            yield return context.Create(Pattern, t.Spiking ? Severity.Warning : Severity.Info,
                $"Thread {DetectorContext.ThreadLabel(t)} running {ThreadStacks.Top(context, frames, 5)} (not in a wait){cpu}" + (t.Spiking ? "; also a Spiking Thread" : ""),
                context.FrameKey(frames[0]), t.Id, dump.ModuleAt(frames[0].InstructionPointer)?.Name, frames[0].InstructionPointer);
        }
    }
}
