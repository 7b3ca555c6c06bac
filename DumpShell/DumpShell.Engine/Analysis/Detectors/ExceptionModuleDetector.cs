using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Exception Module: the module of the exception address; when that is a raising helper (ntdll, kernelbase, kernel32,
/// the C/C++ runtimes, the CLR), the first exception-stack frame outside them. No module: "&lt;no module&gt;" (Wild Code's case).
/// </summary>
internal sealed class ExceptionModuleDetector : IDetector
{
    public string Pattern => "Exception Module";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || ExceptionFacts.IsBreakpoint(e.Code)) yield break;
        var severity = context.ExceptionSeverity(Severity.Error);
        var module = dump.ModuleAt(e.Address);
        string at = context.Where(e.Address);
        if (module is null)
        {
            yield return context.Create(Pattern, severity, $"0x{e.Code:X8} at {at}: <no module> (see Wild Code / NULL Pointer (Code))",
                $"0x{e.Code:x8}|no-module", e.ThreadId, null, e.Address);
            yield break;
        }
        if (!DetectorContext.IsRaisingHelper(module))
        {
            var top = context.ExceptionStack.FirstOrDefault();
            string named = top is not null && top.InstructionPointer == e.Address ? $" ({context.FrameText(top)})" : "";
            yield return context.Create(Pattern, severity, $"0x{e.Code:X8} at {at}{named}: {module.Name}",
                $"0x{e.Code:x8}|{module.Name.ToLowerInvariant()}", e.ThreadId, module.Name, e.Address);
            yield break;
        }
        var frames = context.ExceptionStack;
        var first = context.FramesThatMatter(frames).FirstOrDefault();
        if (first is null)
        {
            yield return context.NotEvaluated(Pattern, "caller-frame",
                $"0x{e.Code:X8} at {at} is in {module.Name}, a raising helper, and the exception stack ({frames.Count} frames) has no frame outside the OS and runtime modules");
            yield break;
        }
        var caller = dump.ModuleAt(first.InstructionPointer)!;
        yield return context.Create(Pattern, severity,
            $"0x{e.Code:X8} at {at} in {module.Name}; first frame outside the raising helpers: {context.FrameText(first)} (frame #{first.Frame}, {first.Trust}): {caller.Name}",
            $"0x{e.Code:x8}|{caller.Name.ToLowerInvariant()}", e.ThreadId, caller.Name, e.Address);
    }
}
