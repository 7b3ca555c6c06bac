namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_MEMORY_DESCRIPTOR (and the 64-bit form, whose data lies in the Memory64List's block).</summary>
public readonly record struct MemoryDescriptor(ulong StartOfMemoryRange, ulong DataSize, ulong Rva);

/// <summary>MINIDUMP_THREAD or MINIDUMP_THREAD_EX.</summary>
public sealed record ThreadRecord(
    int Index,
    uint ThreadId,
    uint SuspendCount,
    uint PriorityClass,
    uint Priority,
    ulong Teb,
    MemoryDescriptor Stack,
    uint ContextSize,
    uint ContextRva,
    MemoryDescriptor? BackingStore);

/// <summary>MINIDUMP_THREAD_INFO: times are FILETIME ticks (CreateTime, ExitTime) or 100 ns counts (KernelTime, UserTime).</summary>
public sealed record ThreadInfoRecord(
    uint ThreadId,
    uint DumpFlags,
    uint DumpError,
    uint ExitStatus,
    ulong CreateTime,
    ulong ExitTime,
    ulong KernelTime,
    ulong UserTime,
    ulong StartAddress,
    ulong Affinity);

public sealed partial class MinidumpFile
{
    private const int ThreadSize = 48;
    private const int ThreadExSize = 64;
    private const int ThreadInfoMinEntrySize = 64;

    private IReadOnlyList<ThreadRecord> _threads = [];
    private bool _threadsRead;
    private IReadOnlyList<ThreadInfoRecord> _threadInfos = [];
    private bool _threadInfosRead;
    private IReadOnlyDictionary<uint, string> _threadNames = new Dictionary<uint, string>();
    private bool _threadNamesRead;

    /// <summary>The ThreadList stream's threads, or the ThreadExList's when there is no ThreadList.</summary>
    public IReadOnlyList<ThreadRecord> Threads => Once(ref _threads, ref _threadsRead, ReadThreads);

    /// <summary>The ThreadInfoList stream's entries (CPU times, create time, start address), in stream order.</summary>
    public IReadOnlyList<ThreadInfoRecord> ThreadInfos => Once(ref _threadInfos, ref _threadInfosRead, ReadThreadInfos);

    /// <summary>Thread id to name, from the ThreadNames stream.</summary>
    public IReadOnlyDictionary<uint, string> ThreadNames => Once(ref _threadNames, ref _threadNamesRead, ReadThreadNames);

    private IReadOnlyList<ThreadRecord> ReadThreads()
    {
        bool ex = false;
        if (!TryGetStream(MinidumpStreamType.ThreadList, out var data))
        {
            if (!TryGetStream(MinidumpStreamType.ThreadExList, out data)) return [];
            ex = true;
        }
        var stream = ex ? MinidumpStreamType.ThreadExList : MinidumpStreamType.ThreadList;
        int entrySize = ex ? ThreadExSize : ThreadSize;
        var r = new ByteReader(data);
        if (data.Length < 4)
        {
            Report($"{stream}Truncated", $"The {stream} stream is {data.Length} bytes: too short for its count.", stream);
            return [];
        }
        uint declared = r.U32(0);
        int at = ListHeaderSize(data.Length, declared, entrySize);
        int count = FittingCount(stream, declared, data.Length - at, entrySize, "threads");
        var threads = new ThreadRecord[count];
        for (int i = 0; i < count; i++, at += entrySize)
        {
            MemoryDescriptor? backing = ex ? new MemoryDescriptor(r.U64(at + 48), r.U32(at + 56), r.U32(at + 60)) : null;
            threads[i] = new ThreadRecord(i, r.U32(at), r.U32(at + 4), r.U32(at + 8), r.U32(at + 12), r.U64(at + 16),
                new MemoryDescriptor(r.U64(at + 24), r.U32(at + 32), r.U32(at + 36)),
                r.U32(at + 40), r.U32(at + 44), backing);
        }
        return threads;
    }

    private IReadOnlyList<ThreadInfoRecord> ReadThreadInfos()
    {
        const MinidumpStreamType stream = MinidumpStreamType.ThreadInfoList;
        if (!TryGetStream(stream, out var data)) return [];
        var r = new ByteReader(data);
        uint headerSize = r.U32(0), entrySize = r.U32(4), declared = r.U32(8);
        if (data.Length < 12 || headerSize < 12 || headerSize > data.Length || entrySize < ThreadInfoMinEntrySize)
        {
            Report("ThreadInfoListCorrupt",
                $"The ThreadInfoList header is unusable (stream {data.Length} bytes, header {headerSize}, entry {entrySize}).", stream);
            return [];
        }
        int count = FittingCount(stream, declared, data.Length - (int)headerSize, (int)entrySize, "entries");
        var infos = new ThreadInfoRecord[count];
        for (int i = 0; i < count; i++)
        {
            int at = (int)headerSize + i * (int)entrySize;
            infos[i] = new ThreadInfoRecord(r.U32(at), r.U32(at + 4), r.U32(at + 8), r.U32(at + 12), r.U64(at + 16),
                r.U64(at + 24), r.U64(at + 32), r.U64(at + 40), r.U64(at + 48), r.U64(at + 56));
        }
        return infos;
    }

    private IReadOnlyDictionary<uint, string> ReadThreadNames()
    {
        const MinidumpStreamType stream = MinidumpStreamType.ThreadNames;
        const int entrySize = 12;
        var names = new Dictionary<uint, string>();
        if (!TryGetStream(stream, out var data)) return names;
        var r = new ByteReader(data);
        int count = FittingCount(stream, r.U32(0), data.Length - 4, entrySize, "names");
        for (int i = 0; i < count; i++)
        {
            int at = 4 + i * entrySize;
            uint tid = r.U32(at);
            ulong rva = r.U64(at + 4);
            string? name = ReadString(rva);
            if (name is null)
                Report("ThreadNameUnreadable", $"The name of thread {tid} at RVA 0x{rva:X} is not a readable MINIDUMP_STRING.", stream);
            else if (name.Length > 0)
                names.TryAdd(tid, name);
        }
        return names;
    }

    /// <summary>The raw CONTEXT bytes of a thread (clipped to the file).</summary>
    public ReadOnlySpan<byte> ThreadContextBytes(ThreadRecord thread) => ReadLocation(thread.ContextSize, thread.ContextRva);
}
