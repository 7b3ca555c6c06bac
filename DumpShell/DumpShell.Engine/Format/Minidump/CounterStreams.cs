namespace DumpShell.Format.Minidump;

/// <summary>
/// MINIDUMP_PROCESS_VM_COUNTERS_1 or _2 (Revision 1 or 2). The _2-only fields are null for revision 1.
/// </summary>
public sealed record ProcessVmCountersRecord(
    ushort Revision, ushort Flags, uint PageFaultCount, ulong PeakWorkingSetSize, ulong WorkingSetSize,
    ulong QuotaPeakPagedPoolUsage, ulong QuotaPagedPoolUsage, ulong QuotaPeakNonPagedPoolUsage, ulong QuotaNonPagedPoolUsage,
    ulong PagefileUsage, ulong PeakPagefileUsage, ulong PrivateUsage, ulong? PeakVirtualSize, ulong? VirtualSize,
    ulong? PrivateWorkingSetSize, ulong? SharedCommitUsage);

/// <summary>The leading parts of MINIDUMP_SYSTEM_MEMORY_INFO_1: basic system facts and commit totals (in pages).</summary>
public sealed record SystemMemoryInfoRecord(
    ushort Revision, ushort Flags, uint PageSize, uint NumberOfPhysicalPages, uint AllocationGranularity,
    ulong MinimumUserModeAddress, ulong MaximumUserModeAddress, uint NumberOfProcessors,
    ulong AvailablePages, ulong CommittedPages, ulong CommitLimit, ulong PeakCommitment);

public sealed partial class MinidumpFile
{
    private const int VmCounters1Size = 80;
    private const int VmCounters2Size = 152;
    private const int SystemMemoryInfoMinSize = 148;

    private ProcessVmCountersRecord? _vmCounters;
    private bool _vmCountersRead;
    private SystemMemoryInfoRecord? _systemMemory;
    private bool _systemMemoryRead;

    public ProcessVmCountersRecord? ProcessVmCounters => Once(ref _vmCounters, ref _vmCountersRead, ReadVmCounters);
    public SystemMemoryInfoRecord? SystemMemoryInfo => Once(ref _systemMemory, ref _systemMemoryRead, ReadSystemMemoryInfo);

    private ProcessVmCountersRecord? ReadVmCounters()
    {
        const MinidumpStreamType stream = MinidumpStreamType.ProcessVmCounters;
        if (!TryGetStream(stream, out var data)) return null;
        var r = new ByteReader(data);
        ushort revision = r.U16(0);
        bool v2 = revision >= 2;
        int needed = v2 ? VmCounters2Size : VmCounters1Size;
        if (data.Length < needed)
        {
            Report("ProcessVmCountersTruncated", $"The ProcessVmCounters stream (revision {revision}) has {data.Length} of its {needed} bytes.", stream);
            return null;
        }
        // Revision 1 has no Flags: its PageFaultCount is at offset 4 all the same (pack 4).
        return new ProcessVmCountersRecord(revision, v2 ? r.U16(2) : (ushort)0, r.U32(4), r.U64(8), r.U64(16), r.U64(24), r.U64(32),
            r.U64(40), r.U64(48), r.U64(56), r.U64(64), v2 ? r.U64(88) : r.U64(72),
            v2 ? r.U64(72) : null, v2 ? r.U64(80) : null, v2 ? r.U64(96) : null, v2 ? r.U64(104) : null);
    }

    private SystemMemoryInfoRecord? ReadSystemMemoryInfo()
    {
        const MinidumpStreamType stream = MinidumpStreamType.SystemMemoryInfo;
        if (!TryGetStream(stream, out var data)) return null;
        if (data.Length < SystemMemoryInfoMinSize)
        {
            Report("SystemMemoryInfoTruncated", $"The SystemMemoryInfo stream has {data.Length} bytes; at least {SystemMemoryInfoMinSize} are needed.", stream);
            return null;
        }
        var r = new ByteReader(data);
        // Revision, Flags, then MINIDUMP_SYSTEM_BASIC_INFORMATION at 4, the file-cache block at 56 and
        // MINIDUMP_SYSTEM_BASIC_PERFORMANCE_INFORMATION at 116 (everything packed to 4).
        return new SystemMemoryInfoRecord(r.U16(0), r.U16(2), r.U32(8), r.U32(12), r.U32(24), r.U64(28), r.U64(36), r.U32(52),
            r.U64(116), r.U64(124), r.U64(132), r.U64(140));
    }
}
