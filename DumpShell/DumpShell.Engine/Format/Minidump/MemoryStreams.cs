namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_MEMORY_INFO: one region of the process's address space (VirtualQuery's view).</summary>
public sealed record MemoryInfoRecord(
    ulong BaseAddress, ulong AllocationBase, uint AllocationProtect, ulong RegionSize, uint State, uint Protect, uint Type);

public sealed partial class MinidumpFile
{
    private const int MemoryDescriptorSize = 16;
    private const int MemoryInfoMinEntrySize = 48;

    private IReadOnlyList<MemoryDescriptor> _memoryRanges = [];
    private bool _memoryRangesRead;
    private MemoryReader? _memory;
    private bool _memoryRead;
    private IReadOnlyList<MemoryInfoRecord> _memoryInfos = [];
    private bool _memoryInfosRead;

    /// <summary>Every captured range from MemoryList and Memory64List, in stream order, with the file offset of its bytes.</summary>
    public IReadOnlyList<MemoryDescriptor> MemoryRanges => Once(ref _memoryRanges, ref _memoryRangesRead, ReadMemoryRanges);

    /// <summary>Reads process memory at virtual addresses from the captured ranges.</summary>
    public MemoryReader Memory => Once(ref _memory, ref _memoryRead, () => new MemoryReader(File, MemoryRanges))!;

    /// <summary>The MemoryInfoList stream: every region with its state, protection and type.</summary>
    public IReadOnlyList<MemoryInfoRecord> MemoryInfos => Once(ref _memoryInfos, ref _memoryInfosRead, ReadMemoryInfos);

    private IReadOnlyList<MemoryDescriptor> ReadMemoryRanges()
    {
        var ranges = new List<MemoryDescriptor>();
        if (TryGetStream(MinidumpStreamType.MemoryList, out var list))
        {
            var r = new ByteReader(list);
            uint declared = r.U32(0);
            int at = ListHeaderSize(list.Length, declared, MemoryDescriptorSize);
            int count = FittingCount(MinidumpStreamType.MemoryList, declared, list.Length - at, MemoryDescriptorSize, "ranges");
            ranges.Capacity = count;
            for (int i = 0; i < count; i++, at += MemoryDescriptorSize)
                AddRange(ranges, new MemoryDescriptor(r.U64(at), r.U32(at + 8), r.U32(at + 12)), MinidumpStreamType.MemoryList);
        }
        if (TryGetStream(MinidumpStreamType.Memory64List, out var list64))
        {
            var r = new ByteReader(list64);
            ulong declared = r.U64(0);
            ulong rva = r.U64(8);
            int count = FittingCount(MinidumpStreamType.Memory64List, declared, list64.Length - 16, MemoryDescriptorSize, "ranges");
            ranges.Capacity = ranges.Count + count;
            for (int i = 0, at = 16; i < count; i++, at += MemoryDescriptorSize)
            {
                ulong size = r.U64(at + 8);
                AddRange(ranges, new MemoryDescriptor(r.U64(at), size, rva), MinidumpStreamType.Memory64List);
                // Saturate: a hostile size must not wrap the offset back into the file for the ranges after it.
                rva = size > ulong.MaxValue - rva ? ulong.MaxValue : rva + size;
            }
        }
        return ranges;
    }

    /// <summary>Keeps the part of a range whose bytes are in the file; reports the rest.</summary>
    private void AddRange(List<MemoryDescriptor> ranges, MemoryDescriptor d, MinidumpStreamType stream)
    {
        if (d.DataSize == 0) return;
        ulong inFile = d.Rva >= (ulong)File.Length ? 0 : Math.Min(d.DataSize, (ulong)File.Length - d.Rva);
        ulong room = ulong.MaxValue - d.StartOfMemoryRange; // a range may end at the top of the address space, not past it
        if (inFile < d.DataSize || d.DataSize - 1 > room)
            Report("MemoryRangeOutOfFile",
                $"The memory range at 0x{d.StartOfMemoryRange:X} ({d.DataSize} bytes) has only {inFile} bytes in the file or wraps the address space.",
                stream);
        inFile = Math.Min(inFile, room);
        if (inFile > 0) ranges.Add(d with { DataSize = inFile });
    }

    private IReadOnlyList<MemoryInfoRecord> ReadMemoryInfos()
    {
        const MinidumpStreamType stream = MinidumpStreamType.MemoryInfoList;
        if (!TryGetStream(stream, out var data)) return [];
        var r = new ByteReader(data);
        uint headerSize = r.U32(0), entrySize = r.U32(4);
        ulong declared = r.U64(8);
        if (data.Length < 16 || headerSize < 16 || headerSize > data.Length || entrySize < MemoryInfoMinEntrySize)
        {
            Report("MemoryInfoListCorrupt", $"The MemoryInfoList header is unusable (header {headerSize}, entry {entrySize}).", stream);
            return [];
        }
        int count = FittingCount(stream, declared, data.Length - (int)headerSize, (int)entrySize, "regions");
        var infos = new MemoryInfoRecord[count];
        for (int i = 0; i < count; i++)
        {
            int at = (int)headerSize + i * (int)entrySize;
            infos[i] = new MemoryInfoRecord(r.U64(at), r.U64(at + 8), r.U32(at + 16), r.U64(at + 24), r.U32(at + 32), r.U32(at + 36), r.U32(at + 40));
        }
        return infos;
    }
}
