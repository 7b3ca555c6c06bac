using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Wild Code: the processor executed bytes that are not code. (a) An execute access violation at 0x10000 or above;
/// (b) an illegal or privileged instruction; (c) the exception address lies in no module and in no executable image
/// region (MemoryInfoList, when present). A process with a JIT runtime (CLR) is left to JIT Code for (c). Error.
/// </summary>
internal sealed class WildCodeDetector : IDetector
{
    private const uint MemImage = 0x1000000;
    private static readonly string[] JitRuntimes = ["coreclr.dll", "clr.dll", "mscorwks.dll", "clrjit.dll", "v8.dll", "chakra.dll", "jscript9.dll"];

    public string Pattern => "Wild Code";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || ExceptionFacts.IsBreakpoint(e.Code)) yield break;
        string? reason = null, key = null;
        if (ExceptionFacts.IsAccessViolation(e, out ulong kind, out ulong target) && kind == 8 && e.Address >= 0x10000)
        {
            reason = $"executed {Hex.Address(target, dump.PointerSize)} (execute access violation)";
            key = "execute-av";
        }
        else if (e.Code is ExceptionFacts.IllegalInstruction or ExceptionFacts.PrivilegedInstruction)
        {
            reason = $"{ExceptionFacts.CodeText(e)}";
            key = e.Code == ExceptionFacts.IllegalInstruction ? "illegal-instruction" : "privileged-instruction";
        }
        else if (e.Address >= 0x10000 && dump.ModuleAt(e.Address) is null && !HasJit(dump) && !InExecutableImage(dump, e.Address))
        {
            reason = $"{ExceptionFacts.CodeText(e)} at an address outside every module";
            key = "outside-modules";
        }
        if (reason is null) yield break;

        string where = dump.ModuleAt(e.Address) is not null ? context.Where(e.Address) : $"{Hex.Address(e.Address, dump.PointerSize)} ({RegionText(dump, e.Address)})";
        string stack = ExceptionFacts.ValueAtStackPointer(dump, e) is { } top
            ? $"; [SP] = {Hex.Address(top, dump.PointerSize)}{(dump.Describe(top) is { } s ? $" -> {s}" : " (not in a module)")}" : "";
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error), $"IP {where}: {reason}{stack}",
            key + "|" + context.LocationKey(e.Address), e.ThreadId, e.Module, e.Address,
            recommendation: "Execution went to a bad address: a corrupted return address (stack overrun), a stale function pointer or a vtable in freed memory. The stack above it is likely broken too.");
    }

    private static bool HasJit(Dump dump) => dump.Modules.Any(m => JitRuntimes.Contains(m.Name, StringComparer.OrdinalIgnoreCase));

    private static bool InExecutableImage(Dump dump, ulong address)
    {
        var r = dump.File?.MemoryInfos.FirstOrDefault(i => address >= i.BaseAddress && address - i.BaseAddress < i.RegionSize);
        return r is not null && r.Type == MemImage && (r.Protect & 0xF0) != 0;
    }

    private static string RegionText(Dump dump, ulong address)
    {
        var infos = dump.File?.MemoryInfos ?? [];
        if (infos.Count == 0) return "no module; MemoryInfoList not captured";
        var r = infos.FirstOrDefault(i => address >= i.BaseAddress && address - i.BaseAddress < i.RegionSize);
        return r is null ? "no module, no region" : r.State switch
        {
            0x10000 => "no module, free memory",
            0x2000 => "no module, reserved memory",
            _ => $"no module, committed {(r.Type == 0x20000 ? "private" : r.Type == 0x40000 ? "mapped" : "image")} memory, protection 0x{r.Protect:x}",
        };
    }
}
