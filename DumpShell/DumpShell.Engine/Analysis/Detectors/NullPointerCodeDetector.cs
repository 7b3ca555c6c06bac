using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// NULL Pointer (Code): execution jumped below 0x10000 (a NULL function pointer or vtable slot): an access violation
/// whose exception address is below 0x10000. The caller is the return address at [SP]. Error.
/// </summary>
internal sealed class NullPointerCodeDetector : IDetector
{
    public string Pattern => "NULL Pointer (Code)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || !ExceptionFacts.IsAccessViolation(e, out ulong kind, out _)) yield break;
        if (e.Address >= 0x10000 || kind is not (0 or 8)) yield break;
        string caller;
        string key;
        string? module = null;
        if (ExceptionFacts.ValueAtStackPointer(dump, e) is { } ret && dump.ModuleAt(ret) is { } m)
        {
            caller = $"caller {context.Where(ret)} (return address at [SP {Hex.Address(e.StackPointer, dump.PointerSize)}])";
            caller += Disassembly.CallBefore(dump, ret) is { } call ? $": {call}" : " (its call instruction's bytes are not in the dump)";
            key = "caller|" + context.LocationKey(ret);
            module = m.Name;
        }
        else
        {
            caller = e.StackPointer is null ? "no exception context" : "the value at [SP] is not a return address into a module";
            key = "caller|unknown";
        }
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
            $"Executed {Hex.Address(e.Address, dump.PointerSize)}; {caller}",
            key, e.ThreadId, module, e.Address,
            recommendation: "The caller called through a NULL function pointer or an empty vtable slot: look at the call instruction before the return address.");
    }
}
