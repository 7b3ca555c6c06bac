using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Stored Exception: the record the dump writer saved, decoded (code name, access kind and address, fail-fast
/// sub-code, C++ magic), with its chained records. Info; Warning when the stored thread is not in ThreadList.
/// The break-in breakpoint of a manual dump is reported as such.
/// </summary>
internal sealed class StoredExceptionDetector : IDetector
{
    public string Pattern => "Stored Exception";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = dump.Exception;
        if (e is null || ExceptionFacts.IsHarmless(e.Code)) yield break;
        var text = new System.Text.StringBuilder();
        text.Append($"Stored: {ExceptionFacts.CodeText(e)}");
        if (e.AccessType is { } access && e.TargetAddress is { } target) text.Append($" ({access.ToLowerInvariant()} {Hex.Address(target, dump.PointerSize)})");
        if (e.FastFailCode is { } ff) text.Append($" ({ff})");
        if (e.Code == Model.Names.ExceptionCodes.CppException && e.Parameters.Length > 0)
            text.Append(CppThrowInfo.IsValidMagic(e.Parameters[0]) ? $" (C++ magic 0x{e.Parameters[0]:x})" : $" (bad C++ magic 0x{e.Parameters[0]:x})");
        text.Append($" at {context.Where(e.Address)} thread 0x{e.ThreadId:x} non-continuable={(e.IsNonContinuable ? 1 : 0)}");
        for (var n = e.Nested; n is not null; n = n.Nested)
            text.Append($"; chained: {ExceptionFacts.CodeText(n)} at {context.Where(n.Address)}");
        if (e.NestedRecordAddress != 0 && e.Nested is null)
            text.Append($"; chained record at {Hex.Address(e.NestedRecordAddress, dump.PointerSize)} not in the dump");
        if (context.IsWindows && ExceptionFacts.IsBreakpoint(e.Code) && string.Equals(e.Module, "ntdll.dll", StringComparison.OrdinalIgnoreCase))
            text.Append("; the debugger break-in breakpoint (see Manual Dump), not a failure");

        bool threadPresent = dump.Threads.Any(t => t.Id == e.ThreadId);
        Severity severity = Severity.Info;
        if (!threadPresent)
        {
            text.Append($"; thread 0x{e.ThreadId:x} is not in ThreadList: stored exception does not match current thread state");
            severity = Severity.Warning;
        }
        else if (context.IsWindows)
        {
            text.Append("; dispatch frames not checked");
        }
        yield return context.Create(Pattern, severity, text.ToString(), $"0x{e.Code:x8}|{context.LocationKey(e.Address)}", e.ThreadId,
            module: e.Module, address: e.Address,
            recommendation: severity == Severity.Warning ? "Find the thread that really failed: Get-DumpThread, and the stacks once Get-DumpStack exists." : null);
    }
}
