using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Exception Stack Trace: the stack unwound from the stored exception's context (.ecxr), top 10 frames. Error (Warning
/// on a first-chance dump). Not for the break-in breakpoint of a manual dump or the harmless codes.
/// </summary>
internal sealed class ExceptionStackTraceDetector : IDetector
{
    public const int TopFrames = 10;

    public string Pattern => "Exception Stack Trace";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || ExceptionFacts.IsBreakpoint(e.Code)) yield break;
        var frames = context.ExceptionStack;
        if (frames.Count == 0)
        {
            yield return context.NotEvaluated(Pattern, "exception-context",
                $"0x{e.Code:X8} on thread 0x{e.ThreadId:x}: the exception context or the thread's stack memory is not in the dump, so no stack was unwound from it");
            yield break;
        }
        string trace = string.Join(" <- ", frames.Take(TopFrames).Select(context.FrameText));
        if (frames.Count > TopFrames) trace += $" <- ... ({frames.Count} frames)";
        var first = context.FramesThatMatter(frames).FirstOrDefault();
        string key = $"0x{e.Code:x8}|" + string.Join(",", frames.Take(3).Select(context.FrameKey));
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
            $"0x{e.Code:X8} on 0x{e.ThreadId:x}: {trace}", key, e.ThreadId,
            first is not null ? context.Dump.ModuleAt(first.InstructionPointer)?.Name : e.Module, e.Address,
            recommendation: "Read the frames below the fault: Get-DumpStack -Exception (add -SymbolPath for names and source lines).");
    }
}
