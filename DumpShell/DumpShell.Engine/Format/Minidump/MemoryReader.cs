namespace DumpShell.Format.Minidump;

/// <summary>
/// Reads virtual addresses of the dumped process from the captured ranges. Ranges may overlap or repeat
/// (Wine writes thousands of tiny ranges, some twice) and need not be sorted; a read that crosses from one
/// range into an adjacent one continues there.
/// </summary>
public sealed class MemoryReader
{
    private readonly MappedFile _file;
    // Sorted by start, non-overlapping: where ranges overlap, the earlier-listed one's bytes are kept.
    private readonly ulong[] _starts;
    private readonly ulong[] _ends; // exclusive; ulong.MaxValue ranges are clipped by one byte
    private readonly ulong[] _fileOffsets;

    internal MemoryReader(MappedFile file, IReadOnlyList<MemoryDescriptor> ranges)
    {
        _file = file;
        (_starts, _ends, _fileOffsets) = TryIndexSimple(ranges) ?? IndexOverlapping(ranges);
    }

    private static (ulong Start, ulong End) Bounds(MemoryDescriptor r) =>
        (r.StartOfMemoryRange, r.StartOfMemoryRange + Math.Min(r.DataSize, ulong.MaxValue - r.StartOfMemoryRange));

    /// <summary>
    /// The common case, cheaply: ranges that do not overlap, or overlap only by repeating (inside) a range
    /// listed earlier, which then keeps its bytes. Null when the general sweep is needed.
    /// </summary>
    private static (ulong[], ulong[], ulong[])? TryIndexSimple(IReadOnlyList<MemoryDescriptor> ranges)
    {
        int n = ranges.Count;
        var keys = new ulong[n];
        var order = new int[n];
        for (int i = 0; i < n; i++)
        {
            keys[i] = ranges[i].StartOfMemoryRange;
            order[i] = i;
        }
        Array.Sort(keys, order);
        // Array.Sort is not stable: put equal starts back in list order, so the first-listed comes first.
        for (int i = 0; i < n;)
        {
            int j = i + 1;
            while (j < n && keys[j] == keys[i]) j++;
            if (j - i > 1) Array.Sort(order, i, j - i);
            i = j;
        }

        var starts = new ulong[n];
        var ends = new ulong[n];
        var offsets = new ulong[n];
        int count = 0, lastOwner = -1;
        foreach (int index in order)
        {
            var (start, end) = Bounds(ranges[index]);
            if (end <= start) continue;
            if (count == 0 || start >= ends[count - 1])
            {
                starts[count] = start;
                ends[count] = end;
                offsets[count] = ranges[index].Rva;
                lastOwner = index;
                count++;
            }
            else if (end > ends[count - 1] || index < lastOwner || start < starts[count - 1])
            {
                return null;
            }
        }
        if (count < n)
        {
            Array.Resize(ref starts, count);
            Array.Resize(ref ends, count);
            Array.Resize(ref offsets, count);
        }
        return (starts, ends, offsets);
    }

    /// <summary>Any overlaps: between two range boundaries the bytes belong to the earliest-listed range covering them.</summary>
    private static (ulong[], ulong[], ulong[]) IndexOverlapping(IReadOnlyList<MemoryDescriptor> ranges)
    {
        // Each non-empty range as [start, end) with its position in the list.
        var items = new List<(ulong Start, ulong End, ulong Offset, int Order)>(ranges.Count);
        for (int i = 0; i < ranges.Count; i++)
        {
            var (start, end) = Bounds(ranges[i]);
            if (end > start) items.Add((start, end, ranges[i].Rva, i));
        }
        items.Sort((a, b) => a.Start.CompareTo(b.Start));

        // Sweep the distinct range boundaries (a min-heap on list position; ranges that ended are dropped lazily).
        var points = new ulong[items.Count * 2];
        for (int i = 0; i < items.Count; i++)
        {
            points[2 * i] = items[i].Start;
            points[2 * i + 1] = items[i].End;
        }
        Array.Sort(points);
        int distinct = 0;
        for (int i = 0; i < points.Length; i++)
            if (distinct == 0 || points[distinct - 1] != points[i]) points[distinct++] = points[i];

        var starts = new List<ulong>(items.Count);
        var ends = new List<ulong>(items.Count);
        var offsets = new List<ulong>(items.Count);
        var active = new PriorityQueue<int, int>();
        int next = 0, lastOwner = -1;
        for (int k = 0; k + 1 < distinct; k++)
        {
            ulong at = points[k];
            while (next < items.Count && items[next].Start == at) { active.Enqueue(next, items[next].Order); next++; }
            while (active.TryPeek(out int top, out _) && items[top].End <= at) active.Dequeue();
            if (!active.TryPeek(out int owner, out _))
            {
                lastOwner = -1;
                continue;
            }
            if (owner == lastOwner)
            {
                ends[^1] = points[k + 1]; // the same range goes on
                continue;
            }
            starts.Add(at);
            ends.Add(points[k + 1]);
            offsets.Add(items[owner].Offset + (at - items[owner].Start));
            lastOwner = owner;
        }
        return (starts.ToArray(), ends.ToArray(), offsets.ToArray());
    }

    /// <summary>Number of distinct (non-overlapping) ranges.</summary>
    public int RangeCount => _starts.Length;

    /// <summary>Total bytes of process memory the dump holds.</summary>
    public ulong TotalBytes
    {
        get
        {
            ulong total = 0;
            for (int i = 0; i < _starts.Length; i++) total += _ends[i] - _starts[i];
            return total;
        }
    }

    /// <summary>The captured ranges as (start, size), sorted and without overlaps.</summary>
    public IEnumerable<(ulong Start, ulong Size)> Ranges
    {
        get
        {
            for (int i = 0; i < _starts.Length; i++) yield return (_starts[i], _ends[i] - _starts[i]);
        }
    }

    private int IndexOf(ulong address)
    {
        int index = Array.BinarySearch(_starts, address);
        if (index < 0) index = ~index - 1;
        return index >= 0 && address < _ends[index] ? index : -1;
    }

    public bool Contains(ulong address) => IndexOf(address) >= 0;

    /// <summary>
    /// Copies process memory at <paramref name="address"/> into <paramref name="buffer"/> and returns how many
    /// bytes were there, contiguously from the start: a partial read stops at the first byte not captured.
    /// </summary>
    public int Read(ulong address, Span<byte> buffer)
    {
        int done = 0;
        int index = IndexOf(address);
        while (index >= 0 && done < buffer.Length)
        {
            ulong offsetInRange = address - _starts[index];
            ulong left = _ends[index] - address;
            int chunk = (int)Math.Min((ulong)(buffer.Length - done), left);
            var bytes = _file.Slice((long)(_fileOffsets[index] + offsetInRange), chunk);
            bytes.CopyTo(buffer[done..]);
            done += bytes.Length;
            if (bytes.Length < chunk) break;
            address += (ulong)chunk;
            if (done == buffer.Length || address == 0) break;
            index = index + 1 < _starts.Length && _starts[index + 1] == address ? index + 1 : -1;
        }
        return done;
    }

    public bool TryReadUInt32(ulong address, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = Read(address, b) == 4;
        value = ok ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return ok;
    }

    public bool TryReadUInt64(ulong address, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = Read(address, b) == 8;
        value = ok ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    /// <summary>Reads a pointer of the dump's width (4 or 8 bytes).</summary>
    public bool TryReadPointer(ulong address, int pointerSize, out ulong value)
    {
        if (pointerSize == 8) return TryReadUInt64(address, out value);
        bool ok = TryReadUInt32(address, out uint v);
        value = v;
        return ok;
    }
}
