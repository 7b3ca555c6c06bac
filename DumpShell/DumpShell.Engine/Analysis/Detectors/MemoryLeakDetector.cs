using System.Globalization;
using System.Buffers.Binary;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Memory Leak (Process Heap). Three readings of one dump:
/// <list type="number">
/// <item>Size (the catalogue's rule): private commit (VmCounters PrivateUsage, else committed MEM_PRIVATE regions of
/// MemoryInfoList) at or above -LeakThreshold (2 GiB for 64-bit processes, 60 % of the user address space for 32-bit
/// ones) with at least half of it in the PEB's heaps: Warning; Error when an allocation failure is visible too.</item>
/// <item>Same-size blocks: a table in captured memory of at least 1,000 pointers into committed private memory that
/// lie a constant distance apart, the footprint of many equal allocations that are all still referenced (heap
/// statistics showing many same-size blocks). Warning when they hold at least half of the private commit, else Info.</item>
/// <item>Repeated contents: one 8-byte value filling at least a quarter (and 1 MiB) of the captured private memory,
/// as equal blocks with the same contents do (full-memory dumps only).</item>
/// </list>
/// Thread stacks, mapped files and images never count as heap.
/// </summary>
internal sealed class MemoryLeakDetector : IDetector
{
    private const uint MemCommit = 0x1000;
    private const uint MemPrivate = 0x20000;
    private const ulong DefaultThreshold64 = 2UL << 30;
    private const int MinTableBlocks = 1000;
    private const long MinBlockStride = 16, MaxBlockStride = 1 << 20;
    private const long ScanBudget = 256L << 20;
    private const ulong MinRepeatedBytes = 1 << 20;
    private const int SampleStride = 56;

    public string Pattern => "Memory Leak (Process Heap)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var infos = dump.File?.MemoryInfos ?? [];
        if (infos.Count == 0)
        {
            yield return context.NotEvaluated(Pattern, "memoryinfolist", "MemoryInfoList not captured (MiniDumpWithFullMemoryInfo; procdump -ma includes it)",
                "Capture with procdump -ma, or MiniDumpWriteDump with MiniDumpWithFullMemoryInfo.");
            yield break;
        }

        var privateRegions = infos.Where(r => r.State == MemCommit && r.Type == MemPrivate).ToArray();
        ulong regionSum = (ulong)privateRegions.Sum(r => (decimal)r.RegionSize);
        ulong? vmPrivate = dump.File?.ProcessVmCounters?.PrivateUsage is { } pu and > 0 ? pu : null;
        ulong privateCommit = vmPrivate ?? regionSum;
        string commitSource = vmPrivate is null ? "committed private regions of MemoryInfoList" : "VmCounters PrivateUsage";

        var stackBases = StackAllocationBases(dump, infos);
        var heapRegions = privateRegions.Where(r => !stackBases.Contains(r.AllocationBase)).ToArray();

        // Heap share: private regions allocated at one of the PEB's heaps.
        var env = dump.ProcessEnvironment;
        var heaps = env?.ProcessHeaps?.Where(h => h != 0).ToHashSet() ?? (env?.ProcessHeap is { } ph and not 0 ? [ph] : null);
        ulong? heapBytes = heaps is null ? null : (ulong)privateRegions.Where(r => heaps.Contains(r.AllocationBase)).Sum(r => (decimal)r.RegionSize);

        bool is32 = env?.PointerSize == 4 || dump.Architecture == CpuArchitecture.X86;
        ulong threshold = context.Options.LeakThreshold ?? (is32 ? UserSpace32(dump) * 6 / 10 : DefaultThreshold64);
        string commitText = $"Private commit {DetectorContext.Bytes(privateCommit)} ({commitSource})";
        string heapText = heapBytes is { } hb ? $"{DetectorContext.Bytes(hb)} in {heaps!.Count} PEB heap(s)" : "heap share unknown (PEB not captured)";

        // 1. Size.
        if (privateCommit >= threshold)
        {
            bool heapHeavy = heapBytes is { } h && h * 2 >= privateCommit;
            var failure = AllocationFailure(dump, is32, infos);
            var severity = heapBytes is null ? Severity.Info : !heapHeavy ? Severity.Info : failure is not null ? Severity.Error : Severity.Warning;
            yield return context.Create(Pattern, severity,
                $"{commitText} >= threshold {DetectorContext.Bytes(threshold)}; {heapText}" + (failure is null ? "" : $"; {failure}") + Uptime(dump),
                "private-commit" + (failure is null ? "" : "|allocation-failure"),
                recommendation: "Take a second dump later (Invoke-DumpPattern -Compare) to see growth; heap statistics (!heap -stat) show which block size grows.");
        }

        // 2. Same-size blocks referenced from a pointer table.
        var scan = Scan(dump, heapRegions);
        if (scan.Table is { } table)
        {
            ulong blockBytes = (ulong)table.Blocks * (ulong)table.Stride;
            double share = (double)blockBytes / Math.Max(privateCommit, 1);
            string where = dump.Describe(table.Address) is { } inModule ? $"{inModule} ({dump.ModuleAt(table.Address)!.Name} data)" : Hex.Address(table.Address, dump.PointerSize);
            string tableKey = dump.ModuleAt(table.Address) is { } tm ? tm.Name.ToLowerInvariant() : "heap";
            yield return context.Create(Pattern, share >= 0.5 ? Severity.Warning : Severity.Info,
                string.Create(CultureInfo.InvariantCulture,
                    $"{table.Blocks:N0} pointers to heap blocks {table.Stride} bytes apart ({table.Steps:N0} of {table.Blocks - 1:N0} steps) in a table at {where}: many same-size allocations, all still referenced, about {DetectorContext.Bytes(blockBytes)} = {100 * share:0} % of private commit; {commitText}; {heapText}") + Uptime(dump),
                $"same-size-blocks|{tableKey}|{table.Stride}", module: dump.ModuleAt(table.Address)?.Name, address: table.Address,
                recommendation: "Many equal allocations, all still referenced: find the code that fills this table (its module and offset) and what should free the blocks; a later dump shows whether the count grows.");
        }

        // 3. Repeated contents in captured private memory (full-memory dumps).
        if (scan.Repeated is { } repeated)
        {
            yield return context.Create(Pattern, Severity.Info,
                $"The 8-byte value 0x{repeated.Value:x16} (\"{Printable(repeated.Value)}\") fills about {DetectorContext.Bytes(repeated.Bytes)} of {DetectorContext.Bytes(scan.PrivateBytesScanned)} captured private memory: many blocks with the same contents; {commitText}",
                $"repeated-contents|{Printable(repeated.Value).ToLowerInvariant()}", address: repeated.FirstAddress,
                recommendation: "Look at one block (Get-DumpMemory -Address) to recognise its type and the code that allocates it.");
        }
    }

    private static string Uptime(Dump dump) =>
        dump.File?.MiscInfo?.ProcessCreateTime is { } pc and > 0 && dump.DumpTime is { } d && d >= DateTimeOffset.FromUnixTimeSeconds(pc)
            ? $"; uptime {DetectorContext.Duration(d - DateTimeOffset.FromUnixTimeSeconds(pc))}" : "";

    private static string Printable(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        var chars = new char[8];
        for (int i = 0; i < 8; i++) chars[i] = b[i] is >= 0x20 and < 0x7F ? (char)b[i] : '.';
        return new string(chars);
    }

    /// <summary>The user address space of a 32-bit process: 4 GiB when large-address-aware under WOW64, else 2 GiB.</summary>
    private static ulong UserSpace32(Dump dump)
    {
        if (!dump.IsWow64 || dump.Modules.Count == 0) return 2UL << 30;
        var main = dump.Modules[0];
        var image = Symbols.Pe.PeImage.TryParse(new Symbols.Pe.DumpImageBytes(dump.Memory, main.BaseAddress, main.Size));
        return image is not null && (image.Characteristics & 0x20) != 0 ? 4UL << 30 : 2UL << 30;
    }

    /// <summary>A visible allocation failure: STATUS_NO_MEMORY, std::bad_alloc, out-of-memory last errors, or a 32-bit address space with no 64 MiB free.</summary>
    private static string? AllocationFailure(Dump dump, bool is32, IReadOnlyList<MemoryInfoRecord> infos)
    {
        if (dump.Exception is { Code: 0xC0000017 }) return "stored exception STATUS_NO_MEMORY";
        if (dump.Exception is { Code: 0xE06D7363 } e && CppThrowInfo.Decode(dump, e) is { TypeName: "std::bad_alloc" }) return "stored exception std::bad_alloc";
        var oom = dump.LastErrors.FirstOrDefault(l => l.LastError is 8 or 14 || l.LastStatus is 0xC0000017 || l.LastError == 0x8007000E);
        if (oom is not null) return $"thread 0x{oom.ThreadId:x} last error {(oom.LastError is 8 or 14 ? ErrorCodes.FormatWin32(oom.LastError!.Value) : ErrorCodes.FormatStatus(oom.LastStatus ?? 0))}";
        if (is32)
        {
            ulong largestFree = infos.Where(r => r.State == 0x10000 && r.BaseAddress < 0x1_0000_0000).Select(r => r.RegionSize).DefaultIfEmpty(0UL).Max();
            if (largestFree < 64UL << 20) return $"largest free region {DetectorContext.Bytes(largestFree)} (< 64 MB)";
        }
        return null;
    }

    /// <summary>Allocation bases of the regions that hold a thread's stack.</summary>
    private static HashSet<ulong> StackAllocationBases(Dump dump, IReadOnlyList<MemoryInfoRecord> infos)
    {
        var bases = new HashSet<ulong>();
        foreach (var t in dump.Threads)
        {
            foreach (ulong? at in new[] { t.StackPointer, t.StackBase is { } b && b > 0 ? b - 1 : null, t.StackLimit })
            {
                if (at is not { } a) continue;
                var r = Region(infos, a);
                if (r is not null) bases.Add(r.AllocationBase);
            }
        }
        return bases;
    }

    private static MemoryInfoRecord? Region(IReadOnlyList<MemoryInfoRecord> infos, ulong address) =>
        infos.FirstOrDefault(r => address >= r.BaseAddress && address - r.BaseAddress < r.RegionSize);

    private sealed record BlockTable(ulong Address, int Blocks, int Steps, long Stride);
    private sealed record RepeatedValue(ulong Value, ulong Bytes, ulong FirstAddress);
    private sealed record ScanResult(BlockTable? Table, RepeatedValue? Repeated, ulong PrivateBytesScanned);

    /// <summary>
    /// One pass over the captured memory (up to <see cref="ScanBudget"/> bytes): runs of pointer-sized values pointing
    /// into <paramref name="heapRegions"/> with a constant stride, and the most frequent 8-byte value of the captured
    /// parts of those regions.
    /// </summary>
    private static ScanResult Scan(Dump dump, IReadOnlyList<MemoryInfoRecord> heapRegions)
    {
        int p = dump.PointerSize;
        var regions = heapRegions.OrderBy(r => r.BaseAddress).ToArray();
        var starts = regions.Select(r => r.BaseAddress).ToArray();
        bool InHeap(ulong v)
        {
            int i = Array.BinarySearch(starts, v);
            if (i < 0) i = ~i - 1;
            return i >= 0 && v - regions[i].BaseAddress < regions[i].RegionSize;
        }

        BlockTable? best = null;
        // The current run of heap pointers: where it starts, its length, the last value, its stride and how many steps kept it.
        ulong runStart = 0, last = 0, expectedNext = 0;
        int runLength = 0, strideHits = 0;
        long stride = 0;
        void EndRun()
        {
            if (runLength >= MinTableBlocks && strideHits + 1 >= MinTableBlocks && strideHits + 1 >= runLength * 9 / 10 &&
                (best is null || strideHits > best.Steps))
                best = new BlockTable(runStart, runLength, strideHits, Math.Abs(stride));
            runLength = strideHits = 0;
            stride = 0;
        }

        var counts = new Dictionary<ulong, long>();
        var firstSeen = new Dictionary<ulong, ulong>();
        ulong privateScanned = 0;
        long budget = ScanBudget;
        var buffer = new byte[1 << 20];
        foreach (var (start, size) in dump.Memory.Ranges)
        {
            if (budget <= 0) break;
            if (start != expectedNext) EndRun();
            bool privateRange = InHeap(start);
            ulong offset = 0;
            while (offset < size && budget > 0)
            {
                int want = (int)Math.Min((ulong)buffer.Length, size - offset);
                int got = dump.Memory.Read(start + offset, buffer.AsSpan(0, want));
                if (got <= 0) break;
                budget -= got;
                ulong at = start + offset;
                int misalign = (int)((ulong)p - at % (ulong)p) % p;
                for (int i = misalign; i + p <= got; i += p)
                {
                    ulong v = p == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i)) : BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(i));
                    if (v != 0 && InHeap(v))
                    {
                        if (runLength == 0) { runStart = at + (ulong)i; runLength = 1; }
                        else
                        {
                            long d = (long)(v - last);
                            long abs = Math.Abs(d);
                            if (abs is >= MinBlockStride and <= MaxBlockStride)
                            {
                                if (strideHits == 0 || d != stride)
                                {
                                    // A new stride wins only while the run has not settled on one.
                                    if (strideHits < 8) { stride = d; strideHits = 1; }
                                }
                                else strideHits++;
                            }
                            runLength++;
                        }
                        last = v;
                    }
                    else if (runLength > 0)
                    {
                        EndRun();
                    }
                }
                if (privateRange)
                {
                    // Sample every 7th aligned qword of heap memory for repeated contents (7 is odd, so blocks of any
                    // power-of-two size are sampled at every offset).
                    int align8 = (int)((8 - at % 8) % 8);
                    for (int i = align8; i + 8 <= got; i += SampleStride)
                    {
                        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(i));
                        if (IsFill(v)) continue;
                        counts[v] = counts.GetValueOrDefault(v) + 1;
                        firstSeen.TryAdd(v, at + (ulong)i);
                    }
                    privateScanned += (ulong)got;
                }
                offset += (ulong)got;
                if (got < want) break;
            }
            expectedNext = start + size;
        }
        EndRun();

        RepeatedValue? repeated = null;
        if (counts.Count > 0 && privateScanned > 0)
        {
            var (value, samples) = counts.MaxBy(kv => kv.Value);
            ulong bytes = (ulong)samples * SampleStride;
            if (bytes >= MinRepeatedBytes && bytes * 4 >= privateScanned)
                repeated = new RepeatedValue(value, bytes, firstSeen[value]);
        }
        return new ScanResult(best, repeated, privateScanned);
    }

    /// <summary>Values every heap is full of: all bytes equal (0, 0xFF.., fill patterns like 0xFEEEFEEE's bytes), or a small number.</summary>
    private static bool IsFill(ulong v)
    {
        if (v < 0x10000) return true;
        byte b = (byte)v;
        if (v == b * 0x0101010101010101UL) return true;
        uint lo = (uint)v, hi = (uint)(v >> 32);
        return lo == hi && (lo == 0xFEEEFEEE || lo == 0xBAADF00D || lo == 0xABABABAB || lo == 0xCDCDCDCD || lo == 0xDDDDDDDD);
    }
}
