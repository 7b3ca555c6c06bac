using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Dynamic Memory Corruption (Process Heap): the stored exception is 0xC0000374 (heap corruption), or an access violation
/// or 0xC0000409/3 whose exception-stack frames are inside heap-manager code (RtlpFreeHeap*, RtlpAllocateHeap*,
/// RtlpLowFragHeap*, RtlpCoalesceFreeBlocks, RtlpHp*, RtlReportCriticalFailure...). Critical. When the heap's system
/// modules are unnamed (no ntdll symbols, as in Wine's dumps), a fault in them is tied to the heap manager by the
/// program's call: the first caller frame outside them (with an unwound chain below it) returns right after a call to
/// a heap API (HeapFree, RtlFreeHeap, free, operator delete...), named through its import slot. Otherwise one
/// "Not evaluated" finding says what is missing instead of guessing. The heap-failure record needs ntdll symbols, so
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
        // The fault lies in the heap's system modules and the first caller outside them called a heap function: the
        // fault is inside that call, whatever the unnamed frames between are.
        if (HeapCallSite(dump, context, e.Address, frames) is { } site)
        {
            string what = av ? $"access violation{Access(e)} at {context.Where(e.Address)}" : $"0xC0000409/3 (corrupt list entry) at {context.Where(e.Address)}";
            string lastError = LastErrorOf(dump, e.ThreadId) is { } le ? $"; thread's last error {le}" : "";
            yield return context.Create(Pattern, Severity.Critical,
                $"{what} inside the heap manager during {site.Api} called from {context.FrameText(site.Caller)} " +
                $"(call at {Hex.Address(site.CallAddress, dump.PointerSize)}){lastError}; failure type unknown: the heap-failure record needs ntdll symbols",
                $"0x{e.Code:x8}|{context.FrameKey(site.Caller)}|{site.Api.ToLowerInvariant()}",
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

    /// <summary>Modules that hold the heap manager and its wrappers (the fault of a heap call lies in one of them).</summary>
    private static readonly HashSet<string> HeapModules = new(StringComparer.OrdinalIgnoreCase)
        { "ntdll", "kernelbase", "kernel32", "msvcrt", "ucrtbase", "ucrtbased" };

    /// <summary>Heap functions a program calls (the part after "module!"; a leading "_" is ignored).</summary>
    internal static readonly HashSet<string> HeapApis = new(StringComparer.Ordinal)
    {
        "HeapFree", "HeapAlloc", "HeapReAlloc", "HeapSize", "HeapValidate", "HeapWalk", "HeapCompact", "HeapDestroy",
        "RtlFreeHeap", "RtlAllocateHeap", "RtlReAllocateHeap", "RtlSizeHeap", "RtlValidateHeap", "RtlWalkHeap", "RtlDestroyHeap",
        "LocalFree", "LocalAlloc", "LocalReAlloc", "GlobalFree", "GlobalAlloc", "GlobalReAlloc",
        "free", "malloc", "realloc", "calloc", "free_base", "malloc_base", "realloc_base", "calloc_base", "free_dbg", "malloc_dbg",
        "aligned_free", "aligned_malloc", "aligned_realloc", "recalloc", "expand", "msize",
        // operator new/delete: MSVC-decorated, undecorated, and Itanium-mangled (gcc, clang).
        "??2@YAPEAX_K@Z", "??3@YAXPEAX@Z", "??_U@YAPEAX_K@Z", "??_V@YAXPEAX@Z", "??3@YAXPEAX_K@Z", "??_V@YAXPEAX_K@Z",
        "??2@YAPAXI@Z", "??3@YAXPAX@Z", "??_U@YAPAXI@Z", "??_V@YAXPAX@Z", "??3@YAXPAXI@Z", "??_V@YAXPAXI@Z",
        "operator new", "operator delete", "operator new[]", "operator delete[]",
        "Znwm", "Znam", "ZdlPv", "ZdaPv", "ZdlPvm", "ZdaPvm", "Znwj", "Znaj", "ZdlPvj", "ZdaPvj",
    };

    /// <summary>Whether "module!function" (or "function") names a heap API.</summary>
    internal static bool IsHeapApi(string? name)
    {
        if (name is null) return false;
        int bang = name.IndexOf('!');
        string f = bang >= 0 ? name[(bang + 1)..] : name;
        int plus = f.IndexOf("+0x", StringComparison.Ordinal);
        if (plus > 0) f = f[..plus];
        if (f.StartsWith("__imp_", StringComparison.Ordinal)) f = f[6..];
        int at = f.IndexOf('@');
        if (at > 0 && !f.StartsWith('?')) f = f[..at]; // x86 stdcall "_HeapFree@12"
        return HeapApis.Contains(f.StartsWith('?') ? f : f.TrimStart('_'));
    }

    internal sealed record HeapCall(StackFrame Caller, ulong CallAddress, string Api);

    /// <summary>
    /// The heap call the fault lies inside: the exception frame and every frame above the first caller frame are in
    /// the heap's system modules (ntdll, kernelbase, kernel32, the C runtimes), and the instruction before the caller's
    /// return address is a call (checked in the code) to a heap API, named through the import slot it calls through,
    /// the import stub it calls, or the symbols of its target. Null when any of that is not shown.
    /// </summary>
    internal static HeapCall? HeapCallSite(Dump dump, DetectorContext context, ulong faultAddress, IReadOnlyList<StackFrame> frames)
    {
        if (frames.Count < 2 || !IsHeapModule(dump.ModuleAt(faultAddress))) return null;
        for (int i = 1; i < frames.Count; i++)
        {
            var f = frames[i];
            var module = dump.ModuleAt(f.InstructionPointer);
            if (IsHeapModule(module)) continue;
            // Frames between the unnamed system code and the real caller may be stale return addresses a scan found
            // (earlier calls' leftovers in the stack the heap code now uses). The caller is the first frame outside the
            // heap's modules from which the rest of the program's frames unwind by unwind data or frame pointers; a
            // frame whose onward chain needed a scan is passed over.
            if (!CleanChainFrom(dump, frames, i)) continue;
            if (module is null || DetectorContext.IsSystemModule(module) || DetectorContext.IsRaisingHelper(module)) return null;
            if (context.Disassembler.CallBefore(f.InstructionPointer) is not { } call || !IsHeapApi(call.Name)) return null;
            return new HeapCall(f, call.CallAddress, call.Name!);
        }
        return null;
    }

    /// <summary>Whether every frame below <paramref name="index"/> in a program module (not a system module) was unwound, not scanned.</summary>
    private static bool CleanChainFrom(Dump dump, IReadOnlyList<StackFrame> frames, int index)
    {
        bool any = false;
        for (int j = index + 1; j < frames.Count; j++)
        {
            var m = dump.ModuleAt(frames[j].InstructionPointer);
            if (m is null || DetectorContext.IsSystemModule(m) || DetectorContext.IsRaisingHelper(m)) continue;
            if (frames[j].Trust == FrameTrust.Scan) return false;
            any = true;
        }
        return any || index == frames.Count - 1 || frames.Skip(index + 1).All(x => IsHeapModule(dump.ModuleAt(x.InstructionPointer)) || DetectorContext.IsSystemModule(dump.ModuleAt(x.InstructionPointer)));
    }

    private static bool IsHeapModule(DumpModule? module) =>
        module is not null && HeapModules.Contains(ModuleNames.DebuggerName(module.Name));

    private static string Access(DumpException e) =>
        e.Parameters.Length > 1
            ? $" {(e.Parameters[0] switch { 0 => "reading", 1 => "writing", 8 => "executing", _ => "at" })} {Hex.Address(e.Parameters[1], 8)}"
            : "";

    /// <summary>"87 (ERROR_INVALID_PARAMETER)" from the thread's TEB; null when the TEB is not in the dump or the value is 0.</summary>
    private static string? LastErrorOf(Dump dump, uint threadId)
    {
        var le = dump.LastErrors.FirstOrDefault(x => x.ThreadId == threadId);
        if (le?.LastError is not { } value || value == 0) return null;
        return le.LastErrorName is { } n ? $"{value} ({n})" : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static bool InAnyRegion(Dump dump, ulong address) =>
        dump.File is not { } file || file.MemoryInfos.Count == 0 || file.MemoryInfos.Any(i => address >= i.BaseAddress && address - i.BaseAddress < i.RegionSize && i.State != 0x10000);
}
