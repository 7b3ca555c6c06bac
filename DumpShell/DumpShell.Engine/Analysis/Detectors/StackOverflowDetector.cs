using System.Buffers.Binary;
using System.Globalization;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Stack Overflow (User Mode): (a) the stored exception is 0xC00000FD (Error); (b) any other thread whose stack pointer
/// has used at least 90 % of its reservation (StackBase - TEB.DeallocationStack, or the MemoryInfoList reservation when
/// the TEB is missing) (Warning). The recursion is the shortest frame cycle repeating at least 10 times on the unwound stack (the exception stack is
/// walked to 100,000 frames), named module!function with symbols and module+RVA without; when the frames show none,
/// the code address that repeats most often in stack memory above SP.
/// </summary>
internal sealed class StackOverflowDetector : IDetector
{
    private const int MinRepeats = 10;
    private const ulong MaxScan = 16UL << 20;

    public string Pattern => "Stack Overflow (User Mode)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var e = ExceptionFacts.Stored(dump);
        uint? overflowThread = e?.Code == ExceptionFacts.StackOverflow ? e.ThreadId : null;
        foreach (var t in dump.Threads)
        {
            bool stored = overflowThread == t.Id;
            ulong? sp = stored ? e!.StackPointer ?? t.StackPointer : t.StackPointer;
            var (used, reserved) = Usage(dump, t, sp);
            double ratio = used is { } u && reserved is { } r && r > 0 ? (double)u / r : 0;
            if (!stored && ratio < 0.9) continue;

            var parts = new List<string>();
            if (stored) parts.Add($"0x{e!.Code:X8} on thread {DetectorContext.ThreadLabel(t)} at {context.Where(e.Address)}");
            else parts.Add($"Thread {DetectorContext.ThreadLabel(t)} is near the end of its stack (no stack-overflow exception)");
            if (used is { } uu && reserved is { } rr)
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"stack used {uu / 1024:N0} KB of {rr / 1024:N0} KB ({100 * ratio:0} %)"));
            else
                parts.Add("stack reservation unknown (TEB and MemoryInfoList not captured)");
            var frames = stored ? context.ExceptionStack : context.StackOf(t);
            var cycle = FindCycle(context, frames);
            var repeat = cycle is null && sp is { } s ? RepeatedCodeAddress(dump, s, t.StackBase) : null;
            string key;
            string? module = null;
            if (cycle is { } c)
            {
                string named = string.Join(", ", c.Frames.Select(context.FrameText));
                var entry = frames.Skip(c.End).Take(2).ToArray();
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"cycle [{named}] x {c.Repeats:N0}")
                    + (entry.Length > 0 ? $"; entered from {string.Join(" <- ", entry.Select(context.FrameText))}" : "")
                    + (frames[^1].StopReason is { } why && why.Contains("frame limit", StringComparison.OrdinalIgnoreCase) ? $" (walk stopped at the frame limit, {frames.Count:N0} frames)" : ""));
                key = string.Join(",", c.Frames.Select(context.FrameKey));
                module = dump.ModuleAt(c.Frames[0].InstructionPointer)?.Name;
            }
            else if (repeat is { } rep)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture,
                    $"return address {context.Where(rep.Address)} repeats {rep.Count:N0} times in the stack (the recursion; the unwound frames show no cycle)"));
                key = context.LocationKey(rep.Address);
                module = dump.ModuleAt(rep.Address)?.Name;
            }
            else
            {
                parts.Add("no frame cycle and no repeated return address in the captured stack");
                key = stored ? context.LocationKey(e!.Address) : "no-cycle";
            }
            ulong? address = stored ? e!.Address : t.InstructionPointer;
            yield return context.Create(Pattern, stored ? context.ExceptionSeverity(Severity.Error) : Severity.Warning, string.Join("; ", parts),
                (stored ? $"0x{e!.Code:x8}|" : "near-limit|") + key, t.Id,
                module ?? (address is { } a ? dump.ModuleAt(a)?.Name : null), address,
                recommendation: "Unbounded recursion or very large locals: find the function that calls itself (the cycle) and its exit condition.");
        }
    }

    /// <summary>
    /// The shortest run of frames (1 to 8, by function, or by return address without names) that repeats at least
    /// <see cref="MinRepeats"/> times back to back, starting within the first 16 frames after the top.
    /// </summary>
    private static (StackFrame[] Frames, int Repeats, int End)? FindCycle(DetectorContext context, IReadOnlyList<StackFrame> frames)
    {
        if (frames.Count < MinRepeats + 1) return null;
        var keys = frames.Select(context.FrameKey).ToArray();
        for (int length = 1; length <= 8; length++)
        {
            for (int start = 1; start <= Math.Min(16, keys.Length - length); start++)
            {
                int k = start + length;
                while (k < keys.Length && keys[k] == keys[start + (k - start) % length]) k++;
                int repeats = (k - start) / length;
                if (repeats >= MinRepeats && keys[start] != "no-module")
                    return (frames.Skip(start).Take(length).ToArray(), repeats, start + repeats * length);
            }
        }
        return null;
    }

    /// <summary>Bytes of stack in use (StackBase - SP) and the reservation (StackBase - DeallocationStack).</summary>
    private static (ulong? Used, ulong? Reserved) Usage(Dump dump, DumpThread t, ulong? sp)
    {
        if (sp is not { } s || t.StackBase is not { } stackBase || stackBase <= s) return (null, null);
        ulong? bottom = dump.NativeTeb(t)?.DeallocationStack is { } d and not 0 && d < s ? d : null;
        if (bottom is null)
        {
            var r = dump.File?.MemoryInfos.FirstOrDefault(i => s >= i.BaseAddress && s - i.BaseAddress < i.RegionSize);
            if (r is not null && r.AllocationBase < s) bottom = r.AllocationBase;
        }
        return bottom is { } b && stackBase > b ? (stackBase - s, stackBase - b) : (stackBase - s, null);
    }

    /// <summary>The code address (in a module) that occurs most often as a pointer-sized value from SP up to the stack base.</summary>
    private static (ulong Address, int Count)? RepeatedCodeAddress(Dump dump, ulong sp, ulong? stackBase)
    {
        int p = dump.PointerSize;
        ulong end = stackBase is { } b && b > sp ? Math.Min(b, sp + MaxScan) : sp + 64 * 1024;
        var counts = new Dictionary<ulong, int>();
        var buffer = new byte[64 * 1024];
        for (ulong at = sp - sp % (ulong)p; at < end;)
        {
            int want = (int)Math.Min((ulong)buffer.Length, end - at);
            int got = dump.Memory.Read(at, buffer.AsSpan(0, want));
            for (int i = 0; i + p <= got; i += p)
            {
                ulong v = p == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i)) : BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i));
                if (v >= 0x10000) counts[v] = counts.GetValueOrDefault(v) + 1;
            }
            if (got < want) break;
            at += (ulong)got;
        }
        foreach (var (value, count) in counts.OrderByDescending(kv => kv.Value))
        {
            if (count < MinRepeats) break;
            if (dump.ModuleAt(value) is not null) return (value, count);
        }
        return null;
    }
}
