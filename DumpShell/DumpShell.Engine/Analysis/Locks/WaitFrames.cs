using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell.Analysis.Locks;

/// <summary>One pointer-sized stack slot of a thread's wait frames.</summary>
internal readonly record struct StackSlot(ulong Address, ulong Value, int Frame);

/// <summary>A thread's walk and its wait frames (see <see cref="LockAnalysis"/> for the rule).</summary>
internal sealed class WaitFrames
{
    public required DumpThread Thread { get; init; }
    public required IReadOnlyList<StackFrame> Frames { get; init; }
    public bool IsWaiting { get; init; }
    public IReadOnlyList<StackSlot> Slots { get; init; } = [];
    public string? TopFrame { get; init; }
    public string? WaitingFrom { get; init; }
    public string? WaitingFromKey { get; init; }
    /// <summary>The Child-SP where the wait frames end (exclusive).</summary>
    public ulong End { get; init; }

    public string Describe(StackSlot s)
    {
        ulong sp = Thread.StackPointer ?? s.Address;
        string frame = s.Frame >= 0 && s.Frame < Frames.Count ? $" in frame #{s.Frame} {FrameText(Frames[s.Frame])}" : "";
        return $"stack slot 0x{s.Address:x} (SP+0x{s.Address - sp:x}){frame}";
    }

    private static string FrameText(StackFrame f) => f.Symbol ?? $"0x{f.InstructionPointer:x}";

    public static string ModuleStem(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "";
        string file = name.Replace('\\', '/');
        file = file[(file.LastIndexOf('/') + 1)..];
        int dot = file.LastIndexOf('.');
        return dot > 0 ? file[..dot] : file;
    }

    public static WaitFrames Of(Dump dump, DumpThread thread, StackWalkOptions? walk, Func<ulong, string?>? resolve)
    {
        IReadOnlyList<StackFrame> frames;
        try
        {
            frames = dump.WalkStack(thread, new StackWalkOptions
            {
                MaxFrames = LockAnalysis.MaxWalkFrames, Images = walk?.Images, FindImageFile = walk?.FindImageFile,
                X86FrameData = walk?.X86FrameData,
            });
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            frames = [];
        }
        string? Name(ulong address, bool returnAddress)
        {
            ulong lookup = returnAddress && address > 0 ? address - 1 : address;
            string? text = resolve?.Invoke(lookup) ?? dump.Describe(lookup);
            if (text is not null && returnAddress && resolve is not null && text.LastIndexOf("+0x", StringComparison.Ordinal) is int p and > 0
                && ulong.TryParse(text[(p + 3)..], System.Globalization.NumberStyles.HexNumber, null, out ulong off))
                text = $"{text[..p]}+0x{off + 1:x}";
            return text;
        }
        foreach (var f in frames) f.Symbol ??= Name(f.InstructionPointer, f.Frame > 0) ?? $"0x{f.InstructionPointer:x}";

        bool InLayer(ulong ip, bool withRuntime)
        {
            string stem = ModuleStem(dump.ModuleAt(ip)?.Name);
            return LockAnalysis.WaitLayers.Contains(stem) || (withRuntime && LockAnalysis.RuntimeLayers.Contains(stem));
        }

        ulong? ip0 = frames.Count > 0 ? frames[0].InstructionPointer : thread.InstructionPointer;
        bool waiting = !thread.IsExceptionThread && ip0 is { } ip && InLayer(ip, withRuntime: false);
        var boundary = frames.FirstOrDefault(f => !InLayer(f.InstructionPointer, withRuntime: true));
        ulong sp = thread.StackPointer ?? 0;
        ulong end = boundary is not null && boundary.ChildSP > sp && boundary.ChildSP - sp <= LockAnalysis.MaxWaitBytes
            ? boundary.ChildSP
            : sp + LockAnalysis.FallbackWaitBytes;
        if (thread.StackBase is { } stackBase && stackBase > sp && end > stackBase) end = stackBase;

        var slots = new List<StackSlot>();
        if (sp != 0)
        {
            int size = dump.PointerSize;
            int frame = 0;
            for (ulong a = sp; a + (ulong)size <= end; a += (ulong)size)
            {
                while (frame + 1 < frames.Count && frames[frame + 1].ChildSP <= a) frame++;
                if (dump.Memory.TryReadPointer(a, size, out ulong v)) slots.Add(new StackSlot(a, v, frame));
            }
        }
        string? key = null;
        if (boundary is not null)
        {
            ulong lookup = boundary.Frame > 0 ? boundary.InstructionPointer - 1 : boundary.InstructionPointer;
            string? named = resolve?.Invoke(lookup);
            if (named is not null && named.Contains('!'))
            {
                int plus = named.LastIndexOf("+0x", StringComparison.Ordinal);
                key = (plus > 0 ? named[..plus] : named).ToLowerInvariant();
            }
            else if (dump.ModuleAt(boundary.InstructionPointer) is { } m)
                key = $"{ModuleStem(m.Name).ToLowerInvariant()}+0x{boundary.InstructionPointer - m.BaseAddress:x}";
            else key = "no-module";
        }
        return new WaitFrames
        {
            Thread = thread, Frames = frames, IsWaiting = waiting, Slots = slots, End = end,
            TopFrame = frames.Count > 0 ? frames[0].Symbol : null,
            WaitingFrom = boundary?.Symbol, WaitingFromKey = key,
        };
    }
}
