namespace DumpShell.Tests.Synth;

// Plain descriptions of records that MinidumpBuilder's typed helpers turn into bytes.
// Sections referenced from a spec (contexts, memory, CodeView records...) are added to the
// dump automatically if they were not added already.

/// <summary>A MINIDUMP_THREAD / MINIDUMP_THREAD_EX entry.</summary>
public sealed class ThreadSpec
{
    public uint ThreadId { get; set; }
    public uint SuspendCount { get; set; }
    public uint PriorityClass { get; set; } = 0x20; // NORMAL_PRIORITY_CLASS
    public uint Priority { get; set; }
    public ulong Teb { get; set; }
    /// <summary>Stack memory; null writes a zero MINIDUMP_MEMORY_DESCRIPTOR.</summary>
    public MemoryBlock? Stack { get; set; }
    /// <summary>CONTEXT section; null writes a zero location.</summary>
    public Section? Context { get; set; }
    /// <summary>MINIDUMP_THREAD_EX only (IA-64 backing store); null writes zeros.</summary>
    public MemoryBlock? BackingStore { get; set; }
}

/// <summary>VS_FIXEDFILEINFO (52 bytes).</summary>
public sealed class FixedFileInfo
{
    public uint Signature { get; set; } = 0xFEEF04BD;
    public uint StrucVersion { get; set; } = 0x00010000;
    public uint FileVersionMS { get; set; }
    public uint FileVersionLS { get; set; }
    public uint ProductVersionMS { get; set; }
    public uint ProductVersionLS { get; set; }
    public uint FileFlagsMask { get; set; } = 0x3F;
    public uint FileFlags { get; set; }
    public uint FileOS { get; set; } = 0x00040004;  // VOS_NT_WINDOWS32
    public uint FileType { get; set; } = 0x2;       // VFT_DLL
    public uint FileSubtype { get; set; }
    public uint FileDateMS { get; set; }
    public uint FileDateLS { get; set; }

    /// <summary>File and product version a.b.c.d.</summary>
    public static FixedFileInfo FromVersion(ushort major, ushort minor, ushort build, ushort revision)
    {
        uint ms = ((uint)major << 16) | minor, ls = ((uint)build << 16) | revision;
        return new FixedFileInfo { FileVersionMS = ms, FileVersionLS = ls, ProductVersionMS = ms, ProductVersionLS = ls };
    }

    internal void WriteTo(Section s) => s
        .U32(Signature).U32(StrucVersion)
        .U32(FileVersionMS).U32(FileVersionLS).U32(ProductVersionMS).U32(ProductVersionLS)
        .U32(FileFlagsMask).U32(FileFlags).U32(FileOS).U32(FileType).U32(FileSubtype)
        .U32(FileDateMS).U32(FileDateLS);

    public const int Size = 52;
}

/// <summary>CodeView debug records referenced by MINIDUMP_MODULE.CvRecord.</summary>
public static class CodeView
{
    public const uint RsdsSignature = 0x53445352; // "RSDS"
    public const uint Nb10Signature = 0x3031424E; // "NB10"

    /// <summary>CV_INFO_PDB70: "RSDS", GUID, Age, UTF-8 PDB path, NUL.</summary>
    public static Section Rsds(Guid guid, uint age, string pdbName)
        => new Section("cv-rsds").U32(RsdsSignature).Guid(guid).U32(age).Utf8(pdbName, nulTerminate: true);

    /// <summary>CV_INFO_PDB20: "NB10", Offset, Signature (timestamp), Age, ANSI PDB path, NUL.</summary>
    public static Section Nb10(uint signature, uint age, string pdbName, uint offset = 0)
        => new Section("cv-nb10").U32(Nb10Signature).U32(offset).U32(signature).U32(age).Ansi(pdbName, nulTerminate: true);
}

/// <summary>A MINIDUMP_MODULE (108 bytes).</summary>
public sealed class ModuleSpec
{
    public ulong BaseOfImage { get; set; }
    public uint SizeOfImage { get; set; }
    public uint CheckSum { get; set; }
    public uint TimeDateStamp { get; set; }
    /// <summary>Module path, written as a MINIDUMP_STRING. Null writes ModuleNameRva = 0.</summary>
    public string? Name { get; set; }
    /// <summary>Corruption knob: write this ModuleNameRva instead of the name string's offset.</summary>
    public Label? NameRvaOverride { get; set; }
    /// <summary>Null writes 52 zero bytes.</summary>
    public FixedFileInfo? VersionInfo { get; set; }
    /// <summary>E.g. <see cref="CodeView.Rsds"/>; null writes a zero location.</summary>
    public Section? CvRecord { get; set; }
    /// <summary>IMAGE_DEBUG_MISC or anything else; null writes a zero location.</summary>
    public Section? MiscRecord { get; set; }
    public ulong Reserved0 { get; set; }
    public ulong Reserved1 { get; set; }
}

/// <summary>A MINIDUMP_UNLOADED_MODULE (24 bytes).</summary>
public sealed class UnloadedModuleSpec
{
    public ulong BaseOfImage { get; set; }
    public uint SizeOfImage { get; set; }
    public uint CheckSum { get; set; }
    public uint TimeDateStamp { get; set; }
    public string? Name { get; set; }
}

/// <summary>MINIDUMP_EXCEPTION_STREAM (168 bytes).</summary>
public sealed class ExceptionSpec
{
    public uint ThreadId { get; set; }
    public uint ExceptionCode { get; set; }
    public uint ExceptionFlags { get; set; }
    /// <summary>Pointer to the next (chained) EXCEPTION_RECORD in the target.</summary>
    public ulong ExceptionRecord { get; set; }
    public ulong ExceptionAddress { get; set; }
    /// <summary>Up to 15 ExceptionInformation values.</summary>
    public ulong[] Parameters { get; set; } = [];
    /// <summary>Corruption knob: NumberParameters field (default Parameters.Length).</summary>
    public uint? NumberParametersOverride { get; set; }
    public Section? Context { get; set; }
}

/// <summary>MINIDUMP_SYSTEM_INFO (56 bytes).</summary>
public sealed class SystemInfoSpec
{
    public ushort ProcessorArchitecture { get; set; } = Synth.ProcessorArchitecture.Amd64;
    public ushort ProcessorLevel { get; set; } = 6;
    public ushort ProcessorRevision { get; set; }
    public byte NumberOfProcessors { get; set; } = 4;
    public byte ProductType { get; set; } = WinConst.NtWorkstation;
    public uint MajorVersion { get; set; } = 10;
    public uint MinorVersion { get; set; }
    public uint BuildNumber { get; set; } = 19045;
    public uint PlatformId { get; set; } = WinConst.PlatformWin32Nt;
    /// <summary>Service pack string (MINIDUMP_STRING). Null writes CSDVersionRva = 0.</summary>
    public string? CsdVersion { get; set; } = "";
    /// <summary>Corruption knob: CSDVersionRva value.</summary>
    public Label? CsdVersionRvaOverride { get; set; }
    public ushort SuiteMask { get; set; } = 0x100; // VER_SUITE_SINGLEUSERTS
    public ushort Reserved2 { get; set; }
    /// <summary>
    /// x86 CPU information: when set (12 ASCII chars, e.g. "GenuineIntel"), the CPU_INFORMATION
    /// union is written as X86CpuInfo; otherwise as OtherCpuInfo (ProcessorFeatures).
    /// </summary>
    public string? VendorId { get; set; }
    public uint VersionInformation { get; set; }
    public uint FeatureInformation { get; set; }
    public uint AmdExtendedCpuFeatures { get; set; }
    public ulong ProcessorFeatures0 { get; set; }
    public ulong ProcessorFeatures1 { get; set; }
}

/// <summary>SYSTEMTIME (16 bytes).</summary>
public readonly record struct SystemTime(
    ushort Year, ushort Month, ushort DayOfWeek, ushort Day,
    ushort Hour = 0, ushort Minute = 0, ushort Second = 0, ushort Milliseconds = 0);

/// <summary>TIME_ZONE_INFORMATION (172 bytes).</summary>
public sealed class TimeZoneSpec
{
    public int Bias { get; set; }
    public string StandardName { get; set; } = "";
    public SystemTime StandardDate { get; set; }
    public int StandardBias { get; set; }
    public string DaylightName { get; set; } = "";
    public SystemTime DaylightDate { get; set; }
    public int DaylightBias { get; set; }
}

/// <summary>
/// MINIDUMP_MISC_INFO .. MINIDUMP_MISC_INFO_5. Fields left null are written as zero and
/// their Flags1 bit is clear; Flags1 is computed from the fields set unless overridden.
/// Setting a field that the chosen <see cref="Version"/> does not contain throws.
/// </summary>
public sealed class MiscInfoSpec
{
    /// <summary>1..5; sizes 24, 44, 232, 832, 1364 bytes.</summary>
    public int Version { get; set; } = 5;
    public uint? Flags1Override { get; set; }
    public uint? SizeOfInfoOverride { get; set; }

    public uint? ProcessId { get; set; }
    /// <summary>Setting any of the three times sets MINIDUMP_MISC1_PROCESS_TIMES.</summary>
    public uint? ProcessCreateTime { get; set; }
    public uint? ProcessUserTime { get; set; }
    public uint? ProcessKernelTime { get; set; }

    // v2: setting any sets MINIDUMP_MISC1_PROCESSOR_POWER_INFO
    public uint? ProcessorMaxMhz { get; set; }
    public uint? ProcessorCurrentMhz { get; set; }
    public uint? ProcessorMhzLimit { get; set; }
    public uint? ProcessorMaxIdleState { get; set; }
    public uint? ProcessorCurrentIdleState { get; set; }

    // v3
    public uint? ProcessIntegrityLevel { get; set; }
    public uint? ProcessExecuteFlags { get; set; }
    public uint? ProtectedProcess { get; set; }
    /// <summary>TimeZoneId and/or TimeZone set MINIDUMP_MISC3_TIMEZONE.</summary>
    public uint? TimeZoneId { get; set; }
    public TimeZoneSpec? TimeZone { get; set; }

    // v4: either sets MINIDUMP_MISC4_BUILDSTRING
    public string? BuildString { get; set; }   // WCHAR[260]
    public string? DbgBldStr { get; set; }     // WCHAR[40]

    // v5
    /// <summary>XSTATE_CONFIG_FEATURE_MSC_INFO: written only if set (SizeOfInfo 528).</summary>
    public uint? XStateContextSize { get; set; }
    public ulong XStateEnabledFeatures { get; set; }
    /// <summary>Up to 64 (Offset, Size) XSTATE_FEATURE entries.</summary>
    public (uint Offset, uint Size)[] XStateFeatures { get; set; } = [];
    public uint? ProcessCookie { get; set; }

    public static int SizeOf(int version) => version switch
    {
        1 => 24,
        2 => 44,
        3 => 232,
        4 => 832,
        5 => 1364,
        _ => throw new ArgumentOutOfRangeException(nameof(version), "MINIDUMP_MISC_INFO version must be 1..5."),
    };
}

/// <summary>MINIDUMP_MEMORY_INFO (48 bytes).</summary>
public sealed class MemoryInfoSpec
{
    public ulong BaseAddress { get; set; }
    public ulong AllocationBase { get; set; }
    public uint AllocationProtect { get; set; }
    public ulong RegionSize { get; set; }
    public uint State { get; set; } = WinConst.MemCommit;
    public uint Protect { get; set; } = WinConst.PageReadWrite;
    public uint Type { get; set; } = WinConst.MemPrivate;
}

/// <summary>MINIDUMP_THREAD_INFO (64 bytes).</summary>
public sealed class ThreadInfoSpec
{
    public uint ThreadId { get; set; }
    public uint DumpFlags { get; set; }
    public uint DumpError { get; set; }
    public uint ExitStatus { get; set; }
    public ulong CreateTime { get; set; }
    public ulong ExitTime { get; set; }
    public ulong KernelTime { get; set; }
    public ulong UserTime { get; set; }
    public ulong StartAddress { get; set; }
    public ulong Affinity { get; set; }
}

/// <summary>MINIDUMP_HANDLE_DESCRIPTOR (32 bytes) / MINIDUMP_HANDLE_DESCRIPTOR_2 (40 bytes).</summary>
public sealed class HandleSpec
{
    public ulong Handle { get; set; }
    /// <summary>MINIDUMP_STRING; null writes RVA 0.</summary>
    public string? TypeName { get; set; }
    /// <summary>MINIDUMP_STRING; null writes RVA 0.</summary>
    public string? ObjectName { get; set; }
    public uint Attributes { get; set; }
    public uint GrantedAccess { get; set; }
    public uint HandleCount { get; set; }
    public uint PointerCount { get; set; }
    /// <summary>Descriptor v2 only: section with MINIDUMP_HANDLE_OBJECT_INFORMATION; null writes RVA 0.</summary>
    public Section? ObjectInfo { get; set; }
    public uint Reserved0 { get; set; }
}

/// <summary>
/// MINIDUMP_SYSTEM_MEMORY_INFO_1 (492 bytes, Revision 1) or _2 (524 bytes, Revision 2).
/// </summary>
public sealed class SystemMemoryInfoSpec
{
    public ushort Revision { get; set; } = 1;
    public ushort Flags { get; set; }

    // MINIDUMP_SYSTEM_BASIC_INFORMATION (52)
    public uint TimerResolution { get; set; } = 156250;
    public uint PageSize { get; set; } = 4096;
    public uint NumberOfPhysicalPages { get; set; }
    public uint LowestPhysicalPageNumber { get; set; }
    public uint HighestPhysicalPageNumber { get; set; }
    public uint AllocationGranularity { get; set; } = 65536;
    public ulong MinimumUserModeAddress { get; set; } = 0x10000;
    public ulong MaximumUserModeAddress { get; set; } = 0x7FFF_FFFE_FFFF;
    public ulong ActiveProcessorsAffinityMask { get; set; }
    public uint NumberOfProcessors { get; set; }

    // MINIDUMP_SYSTEM_FILECACHE_INFORMATION (60)
    public ulong FileCacheCurrentSize { get; set; }
    public ulong FileCachePeakSize { get; set; }
    public uint FileCachePageFaultCount { get; set; }
    public ulong FileCacheMinimumWorkingSet { get; set; }
    public ulong FileCacheMaximumWorkingSet { get; set; }
    public ulong FileCacheCurrentSizeIncludingTransitionInPages { get; set; }
    public ulong FileCachePeakSizeIncludingTransitionInPages { get; set; }
    public uint FileCacheTransitionRePurposeCount { get; set; }
    public uint FileCacheFlags { get; set; }

    // MINIDUMP_SYSTEM_BASIC_PERFORMANCE_INFORMATION (32)
    public ulong AvailablePages { get; set; }
    public ulong CommittedPages { get; set; }
    public ulong CommitLimit { get; set; }
    public ulong PeakCommitment { get; set; }

    // MINIDUMP_SYSTEM_PERFORMANCE_INFORMATION (344; _2 adds 32)
    public ulong IdleProcessTime { get; set; }
    public ulong IoReadTransferCount { get; set; }
    public ulong IoWriteTransferCount { get; set; }
    public ulong IoOtherTransferCount { get; set; }
    /// <summary>
    /// The 70 ULONG counters IoReadOperationCount .. SystemCalls in declaration order;
    /// missing entries are zero.
    /// </summary>
    public uint[] PerfCounters { get; set; } = [];
    public ulong CcTotalDirtyPages { get; set; }
    public ulong CcDirtyPageThreshold { get; set; }
    public long ResidentAvailablePages { get; set; }
    public ulong SharedCommittedPages { get; set; }
    // Revision 2 only
    public ulong MdlPagesAllocated { get; set; }
    public ulong PfnDatabaseCommittedPages { get; set; }
    public ulong SystemPageTableCommittedPages { get; set; }
    public ulong ContiguousPagesAllocated { get; set; }

    public const int PerfCounterCount = 70;
    public const int SizeRevision1 = 492;
    public const int SizeRevision2 = 524;
}

/// <summary>MINIDUMP_PROCESS_VM_COUNTERS_1 (80 bytes) / _2 (152 bytes).</summary>
public sealed class VmCountersSpec
{
    /// <summary>1 or 2.</summary>
    public ushort Revision { get; set; } = 2;
    /// <summary>Revision 2 only (MINIDUMP_PROCESS_VM_COUNTERS* bits); default: all 0x1F.</summary>
    public ushort Flags { get; set; } = 0x1F;
    public uint PageFaultCount { get; set; }
    public ulong PeakWorkingSetSize { get; set; }
    public ulong WorkingSetSize { get; set; }
    public ulong QuotaPeakPagedPoolUsage { get; set; }
    public ulong QuotaPagedPoolUsage { get; set; }
    public ulong QuotaPeakNonPagedPoolUsage { get; set; }
    public ulong QuotaNonPagedPoolUsage { get; set; }
    public ulong PagefileUsage { get; set; }
    public ulong PeakPagefileUsage { get; set; }
    public ulong PrivateUsage { get; set; }
    // Revision 2 only
    public ulong PeakVirtualSize { get; set; }
    public ulong VirtualSize { get; set; }
    public ulong PrivateWorkingSetSize { get; set; }
    public ulong SharedCommitUsage { get; set; }
    public ulong JobSharedCommitUsage { get; set; }
    public ulong JobPrivateCommitUsage { get; set; }
    public ulong JobPeakPrivateCommitUsage { get; set; }
    public ulong JobPrivateCommitLimit { get; set; }
    public ulong JobTotalCommitLimit { get; set; }

    public const int SizeRevision1 = 80;
    public const int SizeRevision2 = 152;
}
