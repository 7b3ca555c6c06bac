using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Incorrect Stack Trace: per thread, frames after the top whose return address has no call before it (code
/// available), that lie outside executable image code, or whose Child-SP is outside the stack or does not increase.
/// Warning for the exception thread and the main thread; Info elsewhere. Frames whose code is not available are
/// not counted (the evidence says how many). Known non-call transitions (KiUserExceptionDispatcher, ...) are skipped.
/// </summary>
internal sealed class IncorrectStackTraceDetector : IDetector
{
    public string Pattern => "Incorrect Stack Trace";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        foreach (var t in dump.Threads)
        {
            var frames = context.LiveStack(t);
            if (frames.Count < 2) continue;
            var problems = new List<string>();
            var keys = new List<string>();
            int unchecked_ = 0;
            for (int i = 1; i < frames.Count; i++)
            {
                var f = frames[i];
                if (StackNames.Matches(f.Function, StackNames.NonCallTransitions) || StackNames.Matches(frames[i - 1].Function, StackNames.NonCallTransitions)) continue;
                var reasons = new List<string>();
                bool? exec = context.InExecutableImage(f.InstructionPointer);
                if (exec == false) reasons.Add(dump.ModuleAt(f.InstructionPointer) is null ? "not in any module" : "not in an executable section");
                else
                {
                    var verdict = context.CallSiteOf(f.InstructionPointer);
                    if (verdict == CallSiteVerdict.NotCall) reasons.Add("no call before return address");
                    else if (verdict == CallSiteVerdict.Unknown) unchecked_++;
                }
                if (t.StackBase is { } b && t.StackLimit is { } l && (f.ChildSP < l || f.ChildSP > b)) reasons.Add("Child-SP outside the stack");
                else if (f.ChildSP <= frames[i - 1].ChildSP) reasons.Add("Child-SP does not increase");
                if (reasons.Count == 0) continue;
                problems.Add($"frame #{i} {context.FrameText(f)}: {string.Join(", ", reasons)}");
                keys.Add(context.FrameKey(f));
            }
            if (problems.Count == 0) continue;
            bool important = context.IsExceptionThread(t) || t.Id == context.MainThread?.Id;
            string evidence = $"Thread {DetectorContext.ThreadLabel(t)}{(context.IsExceptionThread(t) ? " (exception stack)" : "")}: " + string.Join("; ", problems.Take(5))
                              + (problems.Count > 5 ? $"; {problems.Count - 5} more" : "")
                              + (unchecked_ > 0 ? $"; {unchecked_} frames could not be checked (code not available)" : "");
            yield return context.Create(Pattern, important ? Severity.Warning : Severity.Info, evidence,
                string.Join(",", keys.Distinct().Take(3)), t.Id, dump.ModuleAt(frames[0].InstructionPointer)?.Name, frames[0].InstructionPointer,
                recommendation: $"Rebuild the stack by hand: Get-DumpStack -ThreadId {t.Id} -Raw; check symbols (-SymbolPath).");
        }
    }
}
