using DumpShell.Format.Minidump;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Invalid Pointer (General): an access violation reading or writing at 0x10000 or above, or at a non-canonical address
/// (all bits set: not reported), classified by the MemoryInfoList region: free, reserved, no-access/guard, write to
/// read-only, write to image, non-canonical. Execute faults belong to Wild Code and NULL Pointer (Code). Error.
/// </summary>
internal sealed class InvalidPointerDetector : IDetector
{
    private const uint MemCommit = 0x1000, MemReserve = 0x2000, MemFree = 0x10000, MemImage = 0x1000000;
    private const uint PageNoAccess = 0x01, PageReadOnly = 0x02, PageExecute = 0x10, PageExecuteRead = 0x20, PageGuard = 0x100;

    public string Pattern => "Invalid Pointer (General)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null || !ExceptionFacts.IsAccessViolation(e, out ulong kind, out ulong target)) yield break;
        if (kind is not (0 or 1) || target < 0x10000) yield break;
        string verb = kind == 0 ? "Read" : "Write";
        string cls = Classify(dump, target, kind == 1, out string classKey);
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
            $"{verb} of {Hex.Address(target, dump.PointerSize)} at {context.Where(e.Address)}: {cls}",
            $"{verb.ToLowerInvariant()}|{classKey}|{context.LocationKey(e.Address)}", e.ThreadId, e.Module, e.Address,
            recommendation: "Find where the pointer came from: freed or never-allocated memory, a garbage value, or a write to read-only data. Page heap (gflags /p /enable) makes heap misuse fault at the culprit.");
    }

    private static string Classify(Dump dump, ulong target, bool write, out string key)
    {
        bool x64 = dump.PointerSize == 8;
        if (target == ulong.MaxValue || (!x64 && target == uint.MaxValue))
        {
            key = "non-canonical";
            return "non-canonical (the address was not reported: all bits set, as for a non-canonical x64 address)";
        }
        if (x64 && target >= 0x0000_8000_0000_0000 && target < 0xFFFF_8000_0000_0000)
        {
            key = "non-canonical";
            return "non-canonical address";
        }
        if (x64 && target >= 0xFFFF_8000_0000_0000)
        {
            key = "kernel-address";
            return "kernel-space address";
        }
        var infos = dump.File?.MemoryInfos ?? [];
        if (infos.Count == 0)
        {
            key = "unknown";
            return "unknown (MemoryInfoList not captured)";
        }
        var r = infos.FirstOrDefault(i => target >= i.BaseAddress && target - i.BaseAddress < i.RegionSize);
        if (r is null || r.State == MemFree)
        {
            key = "free";
            return r is null ? "in no region of MemoryInfoList (free)" : $"free memory (MEM_FREE region {Region(dump, r)})";
        }
        if (r.State == MemReserve)
        {
            key = "reserved";
            return $"reserved, not committed (region {Region(dump, r)})";
        }
        uint protect = r.Protect & 0xFF;
        if ((r.Protect & PageGuard) != 0 || protect == PageNoAccess)
        {
            bool pageHeap = dump.ProcessEnvironment?.NtGlobalFlag is { } f && (f & GlobalFlags.PageHeap) != 0;
            key = "no-access";
            return $"committed {((r.Protect & PageGuard) != 0 ? "PAGE_GUARD" : "PAGE_NOACCESS")} (region {Region(dump, r)})" +
                   (pageHeap ? ": a page-heap guard page (block overrun or use after free)" : "");
        }
        if (write && protect is PageReadOnly or PageExecute or PageExecuteRead)
        {
            key = r.Type == MemImage ? "write-to-image" : "write-to-read-only";
            return $"write to {(r.Type == MemImage ? "image" : "read-only")} memory (protection 0x{r.Protect:x}, region {Region(dump, r)}{(dump.Describe(target) is { } s ? $", {s}" : "")})";
        }
        key = "committed";
        return $"committed memory (protection 0x{r.Protect:x}, region {Region(dump, r)}): the fault is not explained by the region, so the page may have changed after the fault";
    }

    private static string Region(Dump dump, MemoryInfoRecord r) => $"{Hex.Address(r.BaseAddress, dump.PointerSize)}+0x{r.RegionSize:x}";
}
