using System.Text;

namespace DumpShell.Tests.Synth;

/// <summary>
/// Builds synthetic minidumps for tests, written from the minidumpapiset.h format description.
/// Layout: MINIDUMP_HEADER at 0, the stream directory right after it, then every added section
/// in the order added (each aligned to <see cref="DefaultAlignment"/> or its own alignment),
/// and last the Memory64 data, so sparse memory becomes a cheap file hole.
/// All offsets are label fix-ups; callers never compute them.
/// After the first <see cref="Build"/> / <see cref="WriteTo(string)"/> the builder is frozen.
/// </summary>
public sealed class MinidumpBuilder
{
    public const uint MinidumpSignature = 0x504D444D; // "MDMP"
    public const uint MinidumpVersion = 0xA793;       // low word of Version; high word implementation-specific
    public const int HeaderSize = 32;
    public const int DirectoryEntrySize = 12;

    private readonly record struct DirectoryEntry(uint Type, Label DataSize, Label Rva);
    private readonly record struct Memory64Range(ulong Address, long Size);
    private sealed record Layout(List<(long Offset, Section Section)> Sections, long Length);

    private readonly Section _header = new("header");
    private readonly Section _directory = new("directory");
    private readonly Section _memory64Data = new("memory64-data");
    private readonly List<DirectoryEntry> _entries = new();
    private readonly List<Section> _sections = new();
    private readonly HashSet<Section> _sectionSet = new(ReferenceEqualityComparer.Instance);
    private readonly List<MemoryBlock> _memoryBlocks = new();
    private readonly List<Memory64Range> _memory64 = new();
    private readonly List<Action> _finishers = new();
    private Section? _memory64List;
    private ulong? _memory64CountOverride;
    private Label? _memory64BaseRvaOverride;
    private Label? _truncateAt;
    private Layout? _layout;

    // ------------------------------------------------------------------ header fields

    /// <summary>Header Signature; set to something else for a wrong-signature test.</summary>
    public uint Signature { get; set; } = MinidumpSignature;
    public uint Version { get; set; } = MinidumpVersion;
    public uint CheckSum { get; set; }
    public uint TimeDateStamp { get; set; }
    /// <summary>MINIDUMP_TYPE flags (see <see cref="WinConst"/>).</summary>
    public ulong Flags { get; set; }
    /// <summary>Minimum file alignment of every added section (default 4).</summary>
    public int DefaultAlignment { get; set; } = 4;

    // ------------------------------------------------------------------ corruption knobs

    /// <summary>Header NumberOfStreams; default is the number of directory entries written.</summary>
    public uint? NumberOfStreamsOverride { get; set; }
    /// <summary>Header StreamDirectoryRva; default is the directory's offset (32).</summary>
    public Label? StreamDirectoryRvaOverride { get; set; }

    /// <summary>Cut the output at <paramref name="length"/> bytes (or extend it with zeros).</summary>
    public MinidumpBuilder Truncate(long length) => Truncate(Label.Const((ulong)length));

    /// <summary>Cut the output at a label, e.g. <c>threadList.Start + 10</c>.</summary>
    public MinidumpBuilder Truncate(Label length)
    {
        EnsureMutable();
        _truncateAt = length;
        return this;
    }

    // ------------------------------------------------------------------ useful labels

    /// <summary>Offset of the stream directory.</summary>
    public Label DirectoryRva => _directory.Start;
    /// <summary>Length of the laid-out file before truncation; use <c>FileEnd + n</c> for "past the end".</summary>
    public Label FileEnd { get; } = new("file-end");
    /// <summary>BaseRva of the Memory64 data.</summary>
    public Label Memory64BaseRva => _memory64Data.Start;
    /// <summary>Memory blocks created by <see cref="AddMemory(ulong, ReadOnlySpan{byte})"/>, in order.</summary>
    public IReadOnlyList<MemoryBlock> MemoryBlocks => _memoryBlocks;
    /// <summary>Number of directory entries written so far.</summary>
    public int StreamCount => _entries.Count;

    // ------------------------------------------------------------------ generic streams and data

    /// <summary>Add a stream: its section is placed in the file and a directory entry points at it.</summary>
    public Section AddStream(uint streamType, Section data)
    {
        Add(data);
        _entries.Add(new DirectoryEntry(streamType, data.FinalSize, data.Start));
        return data;
    }

    public Section AddStream(uint streamType, ReadOnlySpan<byte> data)
        => AddStream(streamType, new Section($"stream-{streamType}").Bytes(data));

    /// <summary>Add a raw directory entry with arbitrary DataSize/Rva (e.g. past the end of the file).</summary>
    public MinidumpBuilder AddDirectoryEntry(uint streamType, uint dataSize, uint rva)
        => AddDirectoryEntry(streamType, Label.Const(dataSize), Label.Const(rva));

    public MinidumpBuilder AddDirectoryEntry(uint streamType, Label dataSize, Label rva)
    {
        EnsureMutable();
        _entries.Add(new DirectoryEntry(streamType, dataSize, rva));
        return this;
    }

    /// <summary>Place a free-standing section (strings, contexts, memory...). Adding twice is a no-op.</summary>
    public Section Add(Section section)
    {
        ArgumentNullException.ThrowIfNull(section);
        EnsureMutable();
        if (_sectionSet.Add(section)) _sections.Add(section);
        return section;
    }

    /// <summary>Add a MINIDUMP_STRING; its <see cref="Section.Start"/> is the RVA to cite.</summary>
    public Section AddString(string text) => Add(new Section("string").MinidumpString(text));

    /// <summary>Add captured memory (for the memory list, thread stacks...).</summary>
    public MemoryBlock AddMemory(ulong address, ReadOnlySpan<byte> bytes)
    {
        var block = new MemoryBlock(address, bytes);
        Add(block.Data);
        _memoryBlocks.Add(block);
        return block;
    }

    public MemoryBlock AddMemory(ulong address, Section data)
    {
        var block = new MemoryBlock(address, data);
        Add(data);
        _memoryBlocks.Add(block);
        return block;
    }

    // ------------------------------------------------------------------ threads

    /// <summary>MINIDUMP_THREAD_LIST (stream 3): u32 count, 48-byte entries.</summary>
    public Section AddThreadList(IEnumerable<ThreadSpec> threads, uint? countOverride = null)
        => AddThreads(StreamType.ThreadList, threads.ToList(), countOverride, ex: false);

    public Section AddThreadList(params ThreadSpec[] threads) => AddThreadList(threads, null);

    /// <summary>MINIDUMP_THREAD_EX_LIST (stream 8): u32 count, 64-byte entries.</summary>
    public Section AddThreadExList(IEnumerable<ThreadSpec> threads, uint? countOverride = null)
        => AddThreads(StreamType.ThreadExList, threads.ToList(), countOverride, ex: true);

    private Section AddThreads(uint type, List<ThreadSpec> threads, uint? countOverride, bool ex)
    {
        var s = new Section(ex ? "thread-ex-list" : "thread-list").U32(countOverride ?? (uint)threads.Count);
        foreach (var t in threads)
        {
            if (t.Stack is not null) Add(t.Stack.Data);
            if (t.Context is not null) Add(t.Context);
            if (ex && t.BackingStore is not null) Add(t.BackingStore.Data);
            s.U32(t.ThreadId).U32(t.SuspendCount).U32(t.PriorityClass).U32(t.Priority).U64(t.Teb)
             .MemoryDescriptor(t.Stack)
             .LocationDescriptorOrZero(t.Context);
            if (ex) s.MemoryDescriptor(t.BackingStore);
        }
        return AddStream(type, s);
    }

    // ------------------------------------------------------------------ modules

    /// <summary>MINIDUMP_MODULE_LIST (stream 4): u32 count, 108-byte entries.</summary>
    public Section AddModuleList(IEnumerable<ModuleSpec> modules, uint? countOverride = null)
    {
        var list = modules.ToList();
        var s = new Section("module-list").U32(countOverride ?? (uint)list.Count);
        foreach (var m in list)
        {
            s.U64(m.BaseOfImage).U32(m.SizeOfImage).U32(m.CheckSum).U32(m.TimeDateStamp);
            s.U32(m.NameRvaOverride ?? NameRva(m.Name));
            if (m.VersionInfo is null) s.Zeros(FixedFileInfo.Size); else m.VersionInfo.WriteTo(s);
            if (m.CvRecord is not null) Add(m.CvRecord);
            if (m.MiscRecord is not null) Add(m.MiscRecord);
            s.LocationDescriptorOrZero(m.CvRecord).LocationDescriptorOrZero(m.MiscRecord);
            s.U64(m.Reserved0).U64(m.Reserved1);
        }
        return AddStream(StreamType.ModuleList, s);
    }

    public Section AddModuleList(params ModuleSpec[] modules) => AddModuleList(modules, null);

    /// <summary>MINIDUMP_UNLOADED_MODULE_LIST (stream 14): header {12, 24, count}, 24-byte entries.</summary>
    public Section AddUnloadedModuleList(IEnumerable<UnloadedModuleSpec> modules, uint? countOverride = null,
        uint sizeOfHeader = 12, uint sizeOfEntry = 24)
    {
        var list = modules.ToList();
        var s = new Section("unloaded-module-list").U32(sizeOfHeader).U32(sizeOfEntry).U32(countOverride ?? (uint)list.Count);
        foreach (var m in list)
            s.U64(m.BaseOfImage).U32(m.SizeOfImage).U32(m.CheckSum).U32(m.TimeDateStamp).U32(NameRva(m.Name));
        return AddStream(StreamType.UnloadedModuleList, s);
    }

    private Label NameRva(string? name) => name is null ? Label.Const(0) : AddString(name).Start;

    // ------------------------------------------------------------------ memory

    /// <summary>
    /// MINIDUMP_MEMORY_LIST (stream 5): u32 count, 16-byte descriptors, in the given order
    /// (so overlapping, duplicate and unsorted ranges are possible).
    /// </summary>
    public Section AddMemoryList(IEnumerable<MemoryBlock> blocks, uint? countOverride = null)
    {
        var list = blocks.ToList();
        var s = new Section("memory-list").U32(countOverride ?? (uint)list.Count);
        foreach (var b in list)
        {
            Add(b.Data);
            s.MemoryDescriptor(b);
        }
        return AddStream(StreamType.MemoryList, s);
    }

    public Section AddMemoryList(params MemoryBlock[] blocks) => AddMemoryList(blocks, null);

    /// <summary>A memory list of every block added with AddMemory, filled in when the dump is built.</summary>
    public Section AddMemoryListOfAllBlocks(uint? countOverride = null)
    {
        var s = new Section("memory-list");
        _finishers.Add(() =>
        {
            s.U32(countOverride ?? (uint)_memoryBlocks.Count);
            foreach (var b in _memoryBlocks) s.MemoryDescriptor(b);
        });
        return AddStream(StreamType.MemoryList, s);
    }

    /// <summary>Append a Memory64 range with real bytes (data goes in the Memory64 region at the end of the file).</summary>
    public MinidumpBuilder AddMemory64(ulong address, ReadOnlySpan<byte> bytes)
    {
        EnsureMutable();
        _memory64Data.Bytes(bytes);
        _memory64.Add(new Memory64Range(address, bytes.Length));
        return this;
    }

    /// <summary>
    /// Append a Memory64 range of <paramref name="size"/> zero bytes that are never allocated and
    /// are written as a file hole. Put sparse ranges last: data after a hole is cheap on Linux
    /// file systems but on NTFS (non-sparse files) it forces the hole to be zero-filled.
    /// </summary>
    public MinidumpBuilder SparseMemory(ulong address, long size)
    {
        EnsureMutable();
        _memory64Data.Hole(size);
        _memory64.Add(new Memory64Range(address, size));
        return this;
    }

    /// <summary>
    /// MINIDUMP_MEMORY64_LIST (stream 9): u64 count, u64 BaseRva, 16-byte {Start, DataSize} pairs
    /// for every AddMemory64/SparseMemory range (filled in when the dump is built). Added
    /// automatically at the end of the directory if ranges exist and this was not called.
    /// </summary>
    public Section AddMemory64List(ulong? countOverride = null, Label? baseRvaOverride = null)
    {
        if (_memory64List is not null) throw new InvalidOperationException("The Memory64 list was already added.");
        _memory64CountOverride = countOverride;
        _memory64BaseRvaOverride = baseRvaOverride;
        _memory64List = new Section("memory64-list");
        return AddStream(StreamType.Memory64List, _memory64List);
    }

    private void FinishMemory64()
    {
        if (_memory64List is null)
        {
            if (_memory64.Count == 0) return;
            AddMemory64List();
        }
        var s = _memory64List!;
        s.U64(_memory64CountOverride ?? (ulong)_memory64.Count).U64(_memory64BaseRvaOverride ?? _memory64Data.Start);
        foreach (var r in _memory64) s.U64(r.Address).U64((ulong)r.Size);
    }

    /// <summary>MINIDUMP_MEMORY_INFO_LIST (stream 16): header {16, 48, u64 count}, 48-byte entries.</summary>
    public Section AddMemoryInfoList(IEnumerable<MemoryInfoSpec> regions, ulong? countOverride = null,
        uint sizeOfHeader = 16, uint sizeOfEntry = 48)
    {
        var list = regions.ToList();
        var s = new Section("memory-info-list").U32(sizeOfHeader).U32(sizeOfEntry).U64(countOverride ?? (ulong)list.Count);
        foreach (var r in list)
        {
            s.U64(r.BaseAddress).U64(r.AllocationBase).U32(r.AllocationProtect).U32(0)
             .U64(r.RegionSize).U32(r.State).U32(r.Protect).U32(r.Type).U32(0);
        }
        return AddStream(StreamType.MemoryInfoList, s);
    }

    // ------------------------------------------------------------------ exception, system, misc

    /// <summary>MINIDUMP_EXCEPTION_STREAM (stream 6, 168 bytes).</summary>
    public Section AddException(ExceptionSpec e)
    {
        if (e.Parameters.Length > 15) throw new ArgumentException("EXCEPTION_RECORD holds at most 15 parameters.");
        if (e.Context is not null) Add(e.Context);
        var s = new Section("exception")
            .U32(e.ThreadId).U32(0)
            .U32(e.ExceptionCode).U32(e.ExceptionFlags).U64(e.ExceptionRecord).U64(e.ExceptionAddress)
            .U32(e.NumberParametersOverride ?? (uint)e.Parameters.Length).U32(0);
        for (int i = 0; i < 15; i++) s.U64(i < e.Parameters.Length ? e.Parameters[i] : 0);
        s.LocationDescriptorOrZero(e.Context);
        return AddStream(StreamType.Exception, s);
    }

    /// <summary>MINIDUMP_SYSTEM_INFO (stream 7, 56 bytes).</summary>
    public Section AddSystemInfo(SystemInfoSpec info)
    {
        var s = new Section("system-info")
            .U16(info.ProcessorArchitecture).U16(info.ProcessorLevel).U16(info.ProcessorRevision)
            .U8(info.NumberOfProcessors).U8(info.ProductType)
            .U32(info.MajorVersion).U32(info.MinorVersion).U32(info.BuildNumber).U32(info.PlatformId)
            .U32(info.CsdVersionRvaOverride ?? NameRva(info.CsdVersion))
            .U16(info.SuiteMask).U16(info.Reserved2);
        if (info.VendorId is not null)
        {
            var vendor = new byte[12];
            Encoding.ASCII.GetBytes(info.VendorId.Length > 12 ? info.VendorId[..12] : info.VendorId).CopyTo(vendor, 0);
            s.Bytes(vendor).U32(info.VersionInformation).U32(info.FeatureInformation).U32(info.AmdExtendedCpuFeatures);
        }
        else
        {
            // OtherCpuInfo is 16 bytes; the union is as large as X86CpuInfo (24).
            s.U64(info.ProcessorFeatures0).U64(info.ProcessorFeatures1).Zeros(8);
        }
        if (s.Size != 56) throw new InvalidOperationException($"Bug: MINIDUMP_SYSTEM_INFO is {s.Size} bytes, expected 56.");
        return AddStream(StreamType.SystemInfo, s);
    }

    /// <summary>MINIDUMP_MISC_INFO[_2.._5] (stream 15).</summary>
    public Section AddMiscInfo(MiscInfoSpec m)
    {
        int version = m.Version;
        int size = MiscInfoSpec.SizeOf(version);
        void Require(int minVersion, bool isSet, string field)
        {
            if (isSet && version < minVersion)
                throw new ArgumentException($"MiscInfo field {field} needs version >= {minVersion}, not {version}.");
        }
        bool power = m.ProcessorMaxMhz is not null || m.ProcessorCurrentMhz is not null || m.ProcessorMhzLimit is not null
                     || m.ProcessorMaxIdleState is not null || m.ProcessorCurrentIdleState is not null;
        bool times = m.ProcessCreateTime is not null || m.ProcessUserTime is not null || m.ProcessKernelTime is not null;
        bool tz = m.TimeZoneId is not null || m.TimeZone is not null;
        bool build = m.BuildString is not null || m.DbgBldStr is not null;
        Require(2, power, "processor power");
        Require(3, m.ProcessIntegrityLevel is not null, nameof(m.ProcessIntegrityLevel));
        Require(3, m.ProcessExecuteFlags is not null, nameof(m.ProcessExecuteFlags));
        Require(3, m.ProtectedProcess is not null, nameof(m.ProtectedProcess));
        Require(3, tz, "time zone");
        Require(4, build, "build strings");
        Require(5, m.ProcessCookie is not null || m.XStateContextSize is not null, "XState / ProcessCookie");

        uint flags = 0;
        if (m.ProcessId is not null) flags |= MiscInfoFlags.ProcessId;
        if (times) flags |= MiscInfoFlags.ProcessTimes;
        if (power) flags |= MiscInfoFlags.ProcessorPowerInfo;
        if (m.ProcessIntegrityLevel is not null) flags |= MiscInfoFlags.ProcessIntegrity;
        if (m.ProcessExecuteFlags is not null) flags |= MiscInfoFlags.ProcessExecuteFlags;
        if (tz) flags |= MiscInfoFlags.TimeZone;
        if (m.ProtectedProcess is not null) flags |= MiscInfoFlags.ProtectedProcess;
        if (build) flags |= MiscInfoFlags.BuildString;
        if (m.ProcessCookie is not null) flags |= MiscInfoFlags.ProcessCookie;

        var s = new Section($"misc-info-{version}")
            .U32(m.SizeOfInfoOverride ?? (uint)size).U32(m.Flags1Override ?? flags)
            .U32(m.ProcessId ?? 0).U32(m.ProcessCreateTime ?? 0).U32(m.ProcessUserTime ?? 0).U32(m.ProcessKernelTime ?? 0);
        if (version >= 2)
        {
            s.U32(m.ProcessorMaxMhz ?? 0).U32(m.ProcessorCurrentMhz ?? 0).U32(m.ProcessorMhzLimit ?? 0)
             .U32(m.ProcessorMaxIdleState ?? 0).U32(m.ProcessorCurrentIdleState ?? 0);
        }
        if (version >= 3)
        {
            s.U32(m.ProcessIntegrityLevel ?? 0).U32(m.ProcessExecuteFlags ?? 0).U32(m.ProtectedProcess ?? 0).U32(m.TimeZoneId ?? 0);
            var z = m.TimeZone ?? new TimeZoneSpec();
            s.I32(z.Bias).FixedUtf16(z.StandardName, 32);
            WriteSystemTime(s, z.StandardDate);
            s.I32(z.StandardBias).FixedUtf16(z.DaylightName, 32);
            WriteSystemTime(s, z.DaylightDate);
            s.I32(z.DaylightBias);
        }
        if (version >= 4)
        {
            s.FixedUtf16(m.BuildString, 260).FixedUtf16(m.DbgBldStr, 40);
        }
        if (version >= 5)
        {
            // XSTATE_CONFIG_FEATURE_MSC_INFO: SizeOfInfo, ContextSize, EnabledFeatures, Features[64]{Offset, Size}.
            if (m.XStateFeatures.Length > 64) throw new ArgumentException("At most 64 XSTATE features.");
            if (m.XStateContextSize is null) s.Zeros(528);
            else
            {
                s.U32(528).U32(m.XStateContextSize.Value).U64(m.XStateEnabledFeatures);
                for (int i = 0; i < 64; i++)
                {
                    var (off, len) = i < m.XStateFeatures.Length ? m.XStateFeatures[i] : (0u, 0u);
                    s.U32(off).U32(len);
                }
            }
            s.U32(m.ProcessCookie ?? 0);
        }
        if (s.Size != size) throw new InvalidOperationException($"Bug: misc info v{version} is {s.Size} bytes, expected {size}.");
        return AddStream(StreamType.MiscInfo, s);
    }

    private static void WriteSystemTime(Section s, SystemTime t)
        => s.U16(t.Year).U16(t.Month).U16(t.DayOfWeek).U16(t.Day).U16(t.Hour).U16(t.Minute).U16(t.Second).U16(t.Milliseconds);

    // ------------------------------------------------------------------ thread info, names, handles

    /// <summary>MINIDUMP_THREAD_INFO_LIST (stream 17): header {12, 64, count}, 64-byte entries.</summary>
    public Section AddThreadInfoList(IEnumerable<ThreadInfoSpec> threads, uint? countOverride = null,
        uint sizeOfHeader = 12, uint sizeOfEntry = 64)
    {
        var list = threads.ToList();
        var s = new Section("thread-info-list").U32(sizeOfHeader).U32(sizeOfEntry).U32(countOverride ?? (uint)list.Count);
        foreach (var t in list)
        {
            s.U32(t.ThreadId).U32(t.DumpFlags).U32(t.DumpError).U32(t.ExitStatus)
             .U64(t.CreateTime).U64(t.ExitTime).U64(t.KernelTime).U64(t.UserTime).U64(t.StartAddress).U64(t.Affinity);
        }
        return AddStream(StreamType.ThreadInfoList, s);
    }

    /// <summary>MINIDUMP_THREAD_NAME_LIST (stream 24): u32 count, 12-byte {ThreadId u32, RVA64 of MINIDUMP_STRING}.</summary>
    public Section AddThreadNames(IEnumerable<(uint ThreadId, string Name)> names, uint? countOverride = null)
    {
        var list = names.ToList();
        var s = new Section("thread-names").U32(countOverride ?? (uint)list.Count);
        foreach (var (tid, name) in list) s.U32(tid).U64(AddString(name).Start);
        return AddStream(StreamType.ThreadNames, s);
    }

    /// <summary>
    /// MINIDUMP_HANDLE_DATA_STREAM (stream 12): header {16, 32|40, count, 0}, then
    /// MINIDUMP_HANDLE_DESCRIPTOR (version 1) or MINIDUMP_HANDLE_DESCRIPTOR_2 (version 2).
    /// </summary>
    public Section AddHandleData(IEnumerable<HandleSpec> handles, int descriptorVersion = 2, uint? countOverride = null,
        uint? sizeOfDescriptorOverride = null)
    {
        if (descriptorVersion is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(descriptorVersion));
        var list = handles.ToList();
        uint entrySize = descriptorVersion == 1 ? 32u : 40u;
        var s = new Section("handle-data").U32(16).U32(sizeOfDescriptorOverride ?? entrySize)
            .U32(countOverride ?? (uint)list.Count).U32(0);
        foreach (var h in list)
        {
            s.U64(h.Handle).U32(NameRva(h.TypeName)).U32(NameRva(h.ObjectName))
             .U32(h.Attributes).U32(h.GrantedAccess).U32(h.HandleCount).U32(h.PointerCount);
            if (descriptorVersion == 2)
            {
                if (h.ObjectInfo is not null) Add(h.ObjectInfo);
                s.U32(h.ObjectInfo?.Start ?? Label.Const(0)).U32(h.Reserved0);
            }
        }
        return AddStream(StreamType.HandleData, s);
    }

    // ------------------------------------------------------------------ comments

    /// <summary>CommentStreamA (stream 10): Latin-1 bytes, NUL-terminated by default.</summary>
    public Section AddCommentA(string text, bool nulTerminate = true)
        => AddStream(StreamType.CommentA, new Section("comment-a").Ansi(text, nulTerminate));

    /// <summary>CommentStreamW (stream 11): UTF-16LE, NUL-terminated by default.</summary>
    public Section AddCommentW(string text, bool nulTerminate = true)
        => AddStream(StreamType.CommentW, new Section("comment-w").Utf16(text, nulTerminate));

    // ------------------------------------------------------------------ system memory / VM counters

    /// <summary>MINIDUMP_SYSTEM_MEMORY_INFO_1 (stream 21, 492 bytes) or _2 (524 bytes, Revision 2).</summary>
    public Section AddSystemMemoryInfo(SystemMemoryInfoSpec m)
    {
        if (m.PerfCounters.Length > SystemMemoryInfoSpec.PerfCounterCount)
            throw new ArgumentException($"At most {SystemMemoryInfoSpec.PerfCounterCount} performance counters.");
        var s = new Section("system-memory-info").U16(m.Revision).U16(m.Flags)
            // MINIDUMP_SYSTEM_BASIC_INFORMATION
            .U32(m.TimerResolution).U32(m.PageSize).U32(m.NumberOfPhysicalPages).U32(m.LowestPhysicalPageNumber)
            .U32(m.HighestPhysicalPageNumber).U32(m.AllocationGranularity)
            .U64(m.MinimumUserModeAddress).U64(m.MaximumUserModeAddress).U64(m.ActiveProcessorsAffinityMask)
            .U32(m.NumberOfProcessors)
            // MINIDUMP_SYSTEM_FILECACHE_INFORMATION (packed 4: the u64s after PageFaultCount are not 8-aligned)
            .U64(m.FileCacheCurrentSize).U64(m.FileCachePeakSize).U32(m.FileCachePageFaultCount)
            .U64(m.FileCacheMinimumWorkingSet).U64(m.FileCacheMaximumWorkingSet)
            .U64(m.FileCacheCurrentSizeIncludingTransitionInPages).U64(m.FileCachePeakSizeIncludingTransitionInPages)
            .U32(m.FileCacheTransitionRePurposeCount).U32(m.FileCacheFlags)
            // MINIDUMP_SYSTEM_BASIC_PERFORMANCE_INFORMATION
            .U64(m.AvailablePages).U64(m.CommittedPages).U64(m.CommitLimit).U64(m.PeakCommitment)
            // MINIDUMP_SYSTEM_PERFORMANCE_INFORMATION
            .U64(m.IdleProcessTime).U64(m.IoReadTransferCount).U64(m.IoWriteTransferCount).U64(m.IoOtherTransferCount);
        for (int i = 0; i < SystemMemoryInfoSpec.PerfCounterCount; i++)
            s.U32(i < m.PerfCounters.Length ? m.PerfCounters[i] : 0);
        s.U64(m.CcTotalDirtyPages).U64(m.CcDirtyPageThreshold).I64(m.ResidentAvailablePages).U64(m.SharedCommittedPages);
        if (m.Revision >= 2)
            s.U64(m.MdlPagesAllocated).U64(m.PfnDatabaseCommittedPages).U64(m.SystemPageTableCommittedPages).U64(m.ContiguousPagesAllocated);
        return AddStream(StreamType.SystemMemoryInfo, s);
    }

    /// <summary>MINIDUMP_PROCESS_VM_COUNTERS_1 (stream 22, 80 bytes) or _2 (152 bytes).</summary>
    public Section AddProcessVmCounters(VmCountersSpec v)
    {
        var s = new Section("process-vm-counters").U16(v.Revision);
        // Revision 1 has no Flags: the u16 slot is alignment padding before PageFaultCount.
        s.U16(v.Revision >= 2 ? v.Flags : (ushort)0);
        s.U32(v.PageFaultCount)
         .U64(v.PeakWorkingSetSize).U64(v.WorkingSetSize)
         .U64(v.QuotaPeakPagedPoolUsage).U64(v.QuotaPagedPoolUsage)
         .U64(v.QuotaPeakNonPagedPoolUsage).U64(v.QuotaNonPagedPoolUsage)
         .U64(v.PagefileUsage).U64(v.PeakPagefileUsage);
        if (v.Revision >= 2)
        {
            s.U64(v.PeakVirtualSize).U64(v.VirtualSize).U64(v.PrivateUsage).U64(v.PrivateWorkingSetSize).U64(v.SharedCommitUsage)
             .U64(v.JobSharedCommitUsage).U64(v.JobPrivateCommitUsage).U64(v.JobPeakPrivateCommitUsage)
             .U64(v.JobPrivateCommitLimit).U64(v.JobTotalCommitLimit);
        }
        else
        {
            s.U64(v.PrivateUsage);
        }
        return AddStream(StreamType.ProcessVmCounters, s);
    }

    // ------------------------------------------------------------------ vendor streams

    /// <summary>Breakpad MDRawBreakpadInfo (0x47670001): validity, dump thread id, requesting thread id.</summary>
    public Section AddBreakpadInfo(uint? dumpThreadId, uint? requestingThreadId)
    {
        uint validity = (dumpThreadId is null ? 0u : 1u) | (requestingThreadId is null ? 0u : 2u);
        return AddStream(StreamType.BreakpadInfo,
            new Section("breakpad-info").U32(validity).U32(dumpThreadId ?? 0).U32(requestingThreadId ?? 0));
    }

    // ------------------------------------------------------------------ output

    /// <summary>Lay out the dump and return its bytes (holes as zeros). Throws if larger than an array can hold.</summary>
    public byte[] Build()
    {
        var layout = EnsureLayout();
        if (layout.Length > Array.MaxLength)
            throw new InvalidOperationException($"The dump is {layout.Length} bytes; use WriteTo for dumps that do not fit in an array.");
        var result = new byte[layout.Length];
        foreach (var (offset, section) in layout.Sections)
        {
            if (offset >= layout.Length) break;
            long count = Math.Min(section.Size, layout.Length - offset);
            section.CopyTo(result.AsSpan((int)offset, (int)count), 0, count);
        }
        return result;
    }

    /// <summary>
    /// Write the dump to a file. Holes (sparse memory, padding) are skipped by seeking, so a
    /// multi-gigabyte sparse Memory64 dump costs neither the RAM nor the disk for its bytes.
    /// </summary>
    public void WriteTo(string path)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 1 << 16);
        WriteTo(fs);
    }

    /// <summary>Write the dump to a stream at its current position (seekable streams get holes).</summary>
    public void WriteTo(Stream stream)
    {
        var layout = EnsureLayout();
        long origin = stream.CanSeek ? stream.Position : 0;
        long written = 0;
        byte[]? zeros = null;
        foreach (var (offset, section) in layout.Sections)
        {
            if (offset >= layout.Length) break;
            if (offset > written)
            {
                if (stream.CanSeek) stream.Position = origin + offset;
                else
                {
                    zeros ??= new byte[64];
                    for (long pad = offset - written; pad > 0; pad -= Math.Min(pad, zeros.Length))
                        stream.Write(zeros, 0, (int)Math.Min(pad, zeros.Length));
                }
            }
            long limit = Math.Min(section.Size, layout.Length - offset);
            section.WriteTo(stream, limit, sparse: true);
            written = offset + limit;
        }
        if (stream.CanSeek)
        {
            // Covers trailing holes, and a truncation/extension length.
            stream.SetLength(origin + layout.Length);
        }
        else if (layout.Length > written)
        {
            var pad = new byte[1 << 16];
            for (long left = layout.Length - written; left > 0; left -= Math.Min(left, pad.Length))
                stream.Write(pad, 0, (int)Math.Min(left, pad.Length));
        }
        stream.Flush();
    }

    /// <summary>Total file length (after truncation), laying out the dump if needed.</summary>
    public long Length => EnsureLayout().Length;

    private Layout EnsureLayout()
    {
        if (_layout is not null) return _layout;

        foreach (var finish in _finishers) finish();
        FinishMemory64();

        _header.U32(Signature).U32(Version)
            .U32(NumberOfStreamsOverride ?? (uint)_entries.Count)
            .U32(StreamDirectoryRvaOverride ?? _directory.Start)
            .U32(CheckSum).U32(TimeDateStamp).U64(Flags);
        foreach (var e in _entries) _directory.U32(e.Type).U32(e.DataSize).U32(e.Rva);

        var ordered = new List<Section>(_sections.Count + 3) { _header, _directory };
        ordered.AddRange(_sections);
        ordered.Add(_memory64Data);

        var placed = new List<(long, Section)>(ordered.Count);
        long offset = 0;
        foreach (var s in ordered)
        {
            long align = Math.Max(1, Math.Max(DefaultAlignment, s.Alignment));
            offset = (offset + align - 1) / align * align;
            s.Place(offset, "MinidumpBuilder");
            placed.Add((offset, s));
            offset += s.Size;
        }
        FileEnd.Set((ulong)offset);

        foreach (var s in ordered) s.ResolveFixups();

        long length = _truncateAt is null ? offset : checked((long)_truncateAt.Value);
        _layout = new Layout(placed, length);
        return _layout;
    }

    private void EnsureMutable()
    {
        if (_layout is not null) throw new InvalidOperationException("The dump was already built; create a new MinidumpBuilder.");
    }
}
