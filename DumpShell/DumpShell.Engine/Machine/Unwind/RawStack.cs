using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Machine.Unwind;

/// <summary>
/// A thread's raw stack (WinDbg's dps over the stack range): every pointer-sized slot from a stack pointer up to the
/// stack base, each value named when it points into a module and checked for a call instruction right before it
/// (<see cref="CallSite"/>), so that return addresses of real calls (execution residue) stand apart from values that
/// only look like code (coincidental symbolic information).
/// </summary>
public static class RawStack
{
    /// <summary>Slots read at most unless asked otherwise: 512 KiB of an x64 stack.</summary>
    public const int DefaultMaxSlots = 1 << 16;

    /// <summary>
    /// The slots of [<paramref name="from"/>, <paramref name="to"/>) (from aligned down to the pointer size), at most
    /// <paramref name="maxSlots"/>, lowest address first. Reads as it goes.
    /// </summary>
    public static IEnumerable<RawStackSlot> Read(Dump dump, DumpSymbols symbols, uint threadId, ulong from, ulong to, int maxSlots = DefaultMaxSlots)
    {
        int size = dump.PointerSize;
        from &= ~(ulong)(size - 1);
        var known = new Dictionary<ulong, (string? Symbol, bool Return, bool Code, CallSiteVerdict? Verdict)>();
        int done = 0;
        for (ulong at = from; at < to && done < maxSlots; at += (ulong)size, done++)
        {
            if (!dump.Memory.TryReadPointer(at, size, out ulong value))
            {
                yield return new RawStackSlot { DumpPath = dump.Path, ThreadId = threadId, Address = at, PointerSize = size };
            }
            else
            {
                if (!known.TryGetValue(value, out var facts))
                {
                    facts = Examine(dump, symbols, value);
                    if (known.Count < 1 << 16) known[value] = facts;
                }
                yield return new RawStackSlot
                {
                    DumpPath = dump.Path,
                    ThreadId = threadId,
                    Address = at,
                    Value = value,
                    Symbol = facts.Symbol,
                    IsReturnAddress = facts.Return,
                    LooksLikeCode = facts.Code,
                    CallSite = facts.Verdict,
                    PointerSize = size,
                };
            }
            if (at > ulong.MaxValue - (ulong)size) yield break;
        }
    }

    /// <summary>What a value points at: its symbol, and for module code whether a call ends right before it.</summary>
    private static (string? Symbol, bool Return, bool Code, CallSiteVerdict? Verdict) Examine(Dump dump, DumpSymbols symbols, ulong value)
    {
        if (dump.ModuleAt(value) is not { } module) return (null, false, false, null);
        string symbol = symbols.For(module).Resolve(value).Text;
        var image = symbols.Images.Get(module);
        bool? executable = image.IsExecutable(value);
        if (executable == false) return (symbol, false, false, null);
        // Without a section table at least the headers are no code: a PE image's first page, an ELF/Mach-O header.
        if (executable is null && value - module.BaseAddress < (dump.Platform == "Windows" ? 0x1000UL : 0x100UL))
            return (symbol, false, false, null);
        int bitness = image.Pe is { } pe ? (pe.Is64Bit ? 64 : 32) : dump.Architecture == CpuArchitecture.X86 ? 32 : 64;
        if (dump.Architecture is not (CpuArchitecture.X64 or CpuArchitecture.X86)) return (symbol, false, true, CallSiteVerdict.Unknown);
        var verdict = CallSite.Check(value, bitness, (a, buffer) =>
            dump.ModuleAt(a) is { } m ? symbols.Images.Get(m).Read(a, buffer) : dump.Memory.Read(a, buffer));
        bool isReturn = verdict == CallSiteVerdict.Call;
        return (symbol, isReturn, !isReturn, verdict);
    }
}
