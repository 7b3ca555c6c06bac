using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>NULL Pointer (Data): an access violation reading or writing below 0x10000 (NULL plus a field offset). Error.</summary>
internal sealed class NullPointerDataDetector : IDetector
{
    public string Pattern => "NULL Pointer (Data)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || !ExceptionFacts.IsAccessViolation(e, out ulong kind, out ulong target)) yield break;
        if (kind is not (0 or 1) || target >= 0x10000) yield break;
        string verb = kind == 0 ? "Read" : "Write";
        string instruction = Disassembly.Describe(dump, e.Address, e.ContextRegisters) is { } text
            ? $": {text}" : " (instruction bytes not in the dump)";
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
            $"{verb} of {Hex.Address(target, dump.PointerSize)} at {context.Where(e.Address)}{instruction}; field offset 0x{target:x} from a NULL pointer",
            $"{verb.ToLowerInvariant()}|{context.LocationKey(e.Address)}", e.ThreadId, e.Module, e.Address,
            recommendation: "Find which pointer was NULL at the faulting instruction (the base register), and why it was not set or checked.");
    }
}
