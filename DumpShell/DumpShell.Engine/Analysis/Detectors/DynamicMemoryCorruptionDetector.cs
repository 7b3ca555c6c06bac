using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Dynamic Memory Corruption (Process Heap): the stored exception is 0xC0000374 (heap corruption), or an access violation
/// or 0xC0000409/3 whose exception-stack frames are inside heap-manager code (RtlpFreeHeap*, RtlpAllocateHeap*,
/// RtlpLowFragHeap*, RtlpCoalesceFreeBlocks, RtlpHp*, RtlReportCriticalFailure...). Critical. An access violation in
/// ntdll whose frames carry no function names (no ntdll symbols, as in Wine's dumps) cannot be tied to the heap
/// manager: one "Not evaluated" finding says so instead of guessing. The heap-failure record needs ntdll symbols, so
/// the failure type is "unknown".
/// </summary>
internal sealed class DynamicMemoryCorruptionDetector : IDetector
{
    public const uint HeapCorruption = 0xC0000374;

    public string Pattern => "Dynamic Memory Corruption (Process Heap)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null) yield break;
        bool av = e.Code == 0xC0000005, failFast3 = e.Code == 0xC0000409 && e.Parameters.Length > 0 && e.Parameters[0] == 3;
        if (e.Code != HeapCorruption && !av && !failFast3) yield break;
        var frames = context.ExceptionStack;
        var heapFrame = frames.FirstOrDefault(f => StackNames.Matches(f.Function, [.. StackNames.HeapCode, .. StackNames.HeapFailure]));
        var caller = context.FramesThatMatter(frames).FirstOrDefault();
        string during = caller is not null ? $" during {context.FrameText(caller)}" : "";
        if (e.Code == HeapCorruption || heapFrame is not null)
        {
            string what = e.Code == HeapCorruption ? $"0x{e.Code:X8} heap corruption" : av ? $"access violation in heap code {context.FrameText(heapFrame!)}" : $"0xC0000409/3 (corrupt list entry) in heap code {context.FrameText(heapFrame!)}";
            string invalidArg = av && e.Parameters.Length > 1 && e.Parameters[1] is var target && !InAnyRegion(dump, target)
                ? "; invalid argument rather than metadata damage (address in no region)" : "";
            yield return context.Create(Pattern, Severity.Critical,
                $"{what} (failure type unknown: the heap-failure record needs ntdll symbols){during}{invalidArg}",
                $"0x{e.Code:x8}|{(caller is not null ? context.FrameKey(caller) : heapFrame is not null ? context.FrameKey(heapFrame) : "no-caller")}",
                e.ThreadId, dump.ModuleAt(e.Address)?.Name, e.Address,
                recommendation: "The failing stack is usually innocent: capture again with page heap (gflags /p /enable app.exe /full) or Application Verifier to stop at the corrupting write.");
            yield break;
        }
        // An AV (or fail-fast 3) in ntdll with unnamed frames: heap code cannot be recognised.
        var module = dump.ModuleAt(e.Address);
        if (module is not null && module.Name.Equals("ntdll.dll", StringComparison.OrdinalIgnoreCase)
            && frames.Where(f => dump.ModuleAt(f.InstructionPointer) == module).Any(f => f.Function is null))
            yield return context.NotEvaluated(Pattern, "ntdll-names",
                $"0x{e.Code:X8} at {context.Where(e.Address)} is inside ntdll.dll, whose functions are not named in this dump (no ntdll symbols or exports); heap-manager frames (RtlpFreeHeap*, RtlpHeap*, RtlReportCriticalFailure) cannot be recognised{during}",
                "Load ntdll symbols (Set-DumpSymbolPath -Microsoft) or capture a full-memory dump, then run the pattern again.");
    }

    private static bool InAnyRegion(Dump dump, ulong address) =>
        dump.File.MemoryInfos.Count == 0 || dump.File.MemoryInfos.Any(i => address >= i.BaseAddress && address - i.BaseAddress < i.RegionSize && i.State != 0x10000);
}
