using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Coincidental Symbolic Information: a frame of a live stack (after the top) whose value symbolizes to a module but is
/// not a code pointer: (a) in a non-executable section, (b) in code with no call before it, or (c) only an export at
/// offset &gt; 0x1000. Info; Warning on the exception thread's trace.
/// </summary>
internal sealed class CoincidentalSymbolicInformationDetector : IDetector
{
    public string Pattern => "Coincidental Symbolic Information";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        bool noSections = false;
        foreach (var t in dump.Threads)
        {
            var frames = context.LiveStack(t);
            var hits = new List<(StackFrame Frame, string Why)>();
            foreach (var f in frames.Skip(1))
            {
                if (dump.ModuleAt(f.InstructionPointer) is not { } module) continue;
                if (StackNames.Matches(f.Function, StackNames.NonCallTransitions)) continue;
                bool? exec = context.InExecutableImage(f.InstructionPointer);
                if (exec is null) noSections = true;
                string? why = exec == false ? "lies in a non-executable section, not a return address"
                    : exec == true && context.CallSiteOf(f.InstructionPointer) == CallSiteVerdict.NotCall ? "is in code but no call precedes it"
                    : context.Symbols.For(module).Source == Symbols.SymbolSource.Exports && f.Function is not null && f.Offset > 0x1000 ? $"resolves only to an export at offset 0x{f.Offset:x}"
                    : null;
                if (why is not null) hits.Add((f, why));
            }
            if (hits.Count == 0) continue;
            bool exception = context.IsExceptionThread(t);
            yield return context.Create(Pattern, exception ? Severity.Warning : Severity.Info,
                $"Thread {DetectorContext.ThreadLabel(t)}: " + string.Join("; ", hits.Take(5).Select(h => $"frame #{h.Frame.Frame} {context.FrameText(h.Frame)} {h.Why}"))
                + (noSections ? " (section headers unavailable for some modules: only rule (c) applied to them)" : ""),
                string.Join(",", hits.Select(h => context.FrameKey(h.Frame)).Distinct().Take(3)), t.Id,
                dump.ModuleAt(hits[0].Frame.InstructionPointer)?.Name, hits[0].Frame.InstructionPointer);
        }
    }
}
