using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Hidden Exception (User Space): EXCEPTION_RECORD + CONTEXT pairs in a thread's stack memory that pass the
/// exception-record validator of ../shared/docs/patterns.md (known code or 0xC/0xE top nibble, flags ≤ 0xFF, at most 15
/// parameters, address in executable image code; the CONTEXT has the architecture bit, its SP on the thread's stack
/// and its IP equal to the record's address), other than the stored exception and the harmless codes. Full-memory
/// dumps are searched from StackLimit; others from SP (exceptions still being dispatched). Info; Warning for
/// 0xC0000374 and 0xC0000409.
/// </summary>
internal sealed class HiddenExceptionDetector : IDetector
{
    private const int MaxSlots = 1 << 17;

    public string Pattern => "Hidden Exception (User Space)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows || dump.Architecture is not (CpuArchitecture.X64 or CpuArchitecture.X86)) yield break;
        var stored = dump.Exception;
        bool x64 = dump.Architecture == CpuArchitecture.X64;
        int p = dump.PointerSize;
        foreach (var t in dump.Threads)
        {
            if (t.StackBase is not { } stackBase) continue;
            ulong low = t.StackLimit ?? 0;
            ulong from = context.HasFullMemory && t.StackLimit is { } l ? l : t.StackPointer ?? stackBase;
            var reported = new HashSet<(uint, ulong)>();
            int slots = 0;
            for (ulong at = from & ~(ulong)(p - 1); at < stackBase && slots < MaxSlots; at += (ulong)p, slots++)
            {
                if (!dump.Memory.TryReadUInt32(at, out uint code) || !PlausibleCode(code)) continue;
                if (!dump.Memory.TryReadUInt32(at + 4, out uint flags) || flags > 0xFF) continue;
                ulong addressAt = at + (x64 ? 0x10UL : 0xCUL), countAt = at + (x64 ? 0x18UL : 0x10UL);
                if (!dump.Memory.TryReadPointer(addressAt, p, out ulong address) || !dump.Memory.TryReadUInt32(countAt, out uint count) || count > 15) continue;
                if (context.InExecutableImage(address) != true) continue;
                if (ExceptionFacts.IsHarmless(code)) continue;
                if (stored is not null && stored.Code == code && stored.Address == address) continue;
                if (!reported.Add((code, address))) continue;
                var cpu = FindContext(dump, at, address, low, stackBase, x64);
                if (cpu is null) continue;
                string where = context.Symbols.Resolve(address)?.Text ?? context.Where(address);
                string stack = "";
                try
                {
                    var frames = dump.WalkStack(t.Id, cpu.Value.Context, context.Symbols.WalkOptions(4));
                    context.Symbols.Annotate(frames);
                    stack = " <- " + string.Join(" <- ", frames.Skip(1).Take(3).Select(context.FrameText));
                }
                catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException) { }
                bool warn = code is 0xC0000374 or 0xC0000409;
                string name = ExceptionCodes.Describe(code, "Windows").Name is { } n ? $" {n}" : "";
                yield return context.Create(Pattern, warn ? Severity.Warning : Severity.Info,
                    $"Thread {DetectorContext.ThreadLabel(t)}: 0x{code:X8}{name} at {where}{stack}; record at {Hex.Address(at, p)}, context at {Hex.Address(cpu.Value.At, p)}"
                    + (context.HasFullMemory ? "" : "; past handled exceptions cannot be searched (below-SP memory not captured)"),
                    $"0x{code:x8}|{(dump.ModuleAt(address) is { } m ? (context.Symbols.Resolve(address)?.Function is { } fn ? $"{ModuleKey(m)}!{fn}" : $"{ModuleKey(m)}+0x{address - m.BaseAddress:x}").ToLowerInvariant() : "no-module")}",
                    t.Id, dump.ModuleAt(address)?.Name, address);
            }
        }
    }

    private static string ModuleKey(DumpModule m) => Symbols.ModuleNames.DebuggerName(m.Name);

    private static bool PlausibleCode(uint code) =>
        code is 0x80000003 or 0x4000001F or 0x80000004 or 0xE06D7363 or 0xE0434352 or 0xE0434F4D || (code >> 28) is 0xC or 0xE;

    /// <summary>A CONTEXT near the record (x64: 0x4F0 bytes below it first) whose flags, SP and IP pass the validator.</summary>
    private static (ulong At, CpuContext Context)? FindContext(Dump dump, ulong record, ulong address, ulong low, ulong high, bool x64)
    {
        IEnumerable<ulong> candidates = x64
            ? new[] { record - 0x4F0 }.Concat(Enumerable.Range(-0x100, 0x200).Select(i => record + (ulong)(long)(i * 16)))
            : Enumerable.Range(-0x200, 0x400).Select(i => record + (ulong)(long)(i * 4));
        foreach (ulong at in candidates)
        {
            if (at < low || at >= high) continue;
            if (!dump.Memory.TryReadUInt32(at + (x64 ? 0x30UL : 0UL), out uint flags) || (flags & (x64 ? 0x100000u : 0x10000u)) == 0) continue;
            if (!dump.Memory.TryReadPointer(at + (x64 ? 0xF8UL : 0xB8UL), dump.PointerSize, out ulong ip) || ip != address) continue;
            if (!dump.Memory.TryReadPointer(at + (x64 ? 0x98UL : 0xC4UL), dump.PointerSize, out ulong sp) || sp < low || sp >= high) continue;
            if (dump.ReadContext(at) is { } cpu) return (at, cpu);
        }
        return null;
    }
}
