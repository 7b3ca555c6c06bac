using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Truncated Stack Trace: the last frame is not a thread-start frame and its Child-SP is more than 0x100 bytes below
/// TEB.StackBase. Sub-cases: unwind stopped, memory truncated (the captured stack ends below StackBase), frame limit
/// reached. A walk that ends at a return address of 0 reached the bottom of its call chain and is complete. Threads
/// whose SP is outside their stack bounds are "stack switched", not truncated. Warning for the exception and main
/// threads; Info elsewhere.
/// </summary>
internal sealed class TruncatedStackTraceDetector : IDetector
{
    public string Pattern => "Truncated Stack Trace";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        foreach (var t in dump.Threads)
        {
            var frames = context.LiveStack(t);
            if (frames.Count == 0 || t.StackBase is not { } stackBase) continue;
            var first = frames[0];
            if (t.StackLimit is { } limit && (first.ChildSP < limit || first.ChildSP >= stackBase)) continue; // stack switched
            var last = frames[^1];
            if (StackNames.Matches(last.Function, StackNames.ThreadStart)) continue;
            if (last.StopReason is { } stop && stop.Contains("return address is 0", StringComparison.OrdinalIgnoreCase)) continue;
            if (last.ChildSP >= stackBase || stackBase - last.ChildSP <= 0x100) continue;
            ulong gap = stackBase - last.ChildSP;
            string subCase = last.StopReason is { } s && s.Contains("frame limit", StringComparison.OrdinalIgnoreCase) ? "frame limit reached (see Stack Overflow)"
                : !dump.Memory.Contains(stackBase - (ulong)dump.PointerSize) ? "memory truncated (the captured stack ends below StackBase)"
                : "unwind stopped";
            bool important = context.IsExceptionThread(t) || t.Id == context.MainThread?.Id;
            yield return context.Create(Pattern, important ? Severity.Warning : Severity.Info,
                $"Thread {DetectorContext.ThreadLabel(t)}{(context.IsExceptionThread(t) ? " (exception stack)" : "")} {subCase} at frame #{last.Frame} {context.FrameText(last)}"
                + $"; 0x{gap:x} bytes of stack below StackBase unexplained" + (last.StopReason is { } r ? $" ({Text.Clip(r, 160)})" : ""),
                $"{subCase.Split(' ')[0]}|{context.FrameKey(last)}", t.Id, dump.ModuleAt(last.InstructionPointer)?.Name, last.InstructionPointer,
                recommendation: $"Rebuild the rest: Get-DumpStack -ThreadId {t.Id} -Raw.");
        }
    }
}
