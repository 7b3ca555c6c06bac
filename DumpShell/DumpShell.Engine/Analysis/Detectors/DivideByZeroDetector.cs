using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Divide by Zero (User Mode): 0xC0000094 integer divide by zero, with 0xC0000095 (quotient overflow, INT_MIN / -1)
/// and 0xC000008E (floating-point divide by zero, unmasked) as sub-cases. The faulting instruction and its register
/// operand are shown when the code bytes are in the dump. Error.
/// </summary>
internal sealed class DivideByZeroDetector : IDetector
{
    public string Pattern => "Divide by Zero (User Mode)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || e.Code is not (ExceptionFacts.IntDivideByZero or ExceptionFacts.IntOverflow or ExceptionFacts.FloatDivideByZero)) yield break;
        string what = e.Code switch
        {
            ExceptionFacts.IntOverflow => "integer overflow (quotient too large, e.g. INT_MIN / -1)",
            ExceptionFacts.FloatDivideByZero => "floating-point division by zero (FP exceptions unmasked)",
            _ => "integer division by zero",
        };
        string instruction = Disassembly.Describe(dump, e.Address, e.ContextRegisters) is { } text
            ? $": {text}" : " (instruction bytes not in the dump)";
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
            $"0x{e.Code:X8} at {context.Where(e.Address)}{instruction}; {what}",
            $"0x{e.Code:x8}|{context.LocationKey(e.Address)}", e.ThreadId, e.Module, e.Address,
            recommendation: "Find why the divisor was zero (an empty collection, an uninitialised count, bad input) and check it before dividing.");
    }
}
