using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Tests.Synth;

/// <summary>
/// A little-endian byte buffer with label fix-ups, in the style of Breakpad's test_assembler.
/// Values of <see cref="Label"/>s are written when the enclosing dump is laid out.
/// A section may contain "holes" (<see cref="Hole"/>): zero-filled ranges that take no memory
/// and become file holes when written with <see cref="MinidumpBuilder.WriteTo(string)"/>.
/// Every emitter returns <c>this</c> so calls chain.
/// </summary>
public class Section
{
    private sealed class Segment
    {
        public long Start;
        public long Length;
        public byte[]? Data; // null => hole (zeros, not materialized)
    }

    private readonly record struct Fixup(long Offset, int Width, Label Label);

    private readonly List<Segment> _segments = new();
    private readonly List<Fixup> _fixups = new();
    private readonly List<Fixup> _patches = new();
    private readonly List<(long Offset, Label Label)> _marks = new();
    private readonly List<(long Offset, Section Child)> _children = new();
    private long _size;
    private string? _frozenBy;

    public Section(string? name = null)
    {
        Name = name ?? "section";
        Start = new Label(Name + ".start");
        FinalSize = new Label(Name + ".size");
    }

    /// <summary>Name used in labels and error messages.</summary>
    public string Name { get; }

    /// <summary>File offset of the section's first byte; bound when the section is placed.</summary>
    public Label Start { get; }

    /// <summary>Size of the section in bytes; bound when the section is placed.</summary>
    public Label FinalSize { get; }

    /// <summary>File offset just past the section (<c>Start + FinalSize</c>).</summary>
    public Label End => Start + FinalSize;

    /// <summary>Current size in bytes (holes included).</summary>
    public long Size => _size;

    /// <summary>
    /// Required alignment of the section's file offset. <see cref="Align"/> raises it, so
    /// alignment inside a section is also alignment in the file.
    /// </summary>
    public int Alignment { get; set; } = 1;

    /// <summary>True when the section contains holes.</summary>
    public bool HasHoles => _segments.Any(s => s.Data is null);

    // ---------------------------------------------------------------- integers

    public Section U8(byte value) { Reserve(1)[0] = value; return this; }
    public Section U16(ushort value) { BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value); return this; }
    public Section U32(uint value) { BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value); return this; }
    public Section U64(ulong value) { BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value); return this; }
    public Section I16(short value) => U16(unchecked((ushort)value));
    public Section I32(int value) => U32(unchecked((uint)value));
    public Section I64(long value) => U64(unchecked((ulong)value));

    public Section U8(Label label) => EmitLabel(label, 1);
    public Section U16(Label label) => EmitLabel(label, 2);
    public Section U32(Label label) => EmitLabel(label, 4);
    public Section U64(Label label) => EmitLabel(label, 8);

    /// <summary>128-bit little-endian value (M128A / NEON128 registers).</summary>
    public Section U128(UInt128 value)
    {
        U64((ulong)value);
        return U64((ulong)(value >> 64));
    }

    private Section EmitLabel(Label label, int width)
    {
        ArgumentNullException.ThrowIfNull(label);
        long offset = _size;
        Reserve(width);
        _fixups.Add(new Fixup(offset, width, label));
        return this;
    }

    // ---------------------------------------------------------------- raw bytes

    public Section Bytes(ReadOnlySpan<byte> bytes)
    {
        // Copy in bounded chunks so a very large span does not need one huge segment.
        while (!bytes.IsEmpty)
        {
            int n = Math.Min(bytes.Length, 1 << 24);
            bytes[..n].CopyTo(Reserve(n));
            bytes = bytes[n..];
        }
        return this;
    }

    public Section Bytes(params byte[] bytes) => Bytes((ReadOnlySpan<byte>)bytes);

    /// <summary>Append <paramref name="count"/> materialized zero bytes.</summary>
    public Section Zeros(long count) => Fill(0, count);

    public Section Fill(byte value, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        while (count > 0)
        {
            int n = (int)Math.Min(count, 1 << 24);
            Reserve(n).Fill(value);
            count -= n;
        }
        return this;
    }

    /// <summary>
    /// Append <paramref name="count"/> zero bytes that are never allocated: <see cref="MinidumpBuilder.Build"/>
    /// materializes them, <see cref="MinidumpBuilder.WriteTo(string)"/> writes a file hole.
    /// </summary>
    public Section Hole(long count)
    {
        EnsureMutable();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0) return this;
        if (_segments.Count > 0 && _segments[^1].Data is null)
            _segments[^1].Length += count;
        else
            _segments.Add(new Segment { Start = _size, Length = count, Data = null });
        _size += count;
        return this;
    }

    /// <summary>
    /// Pad with <paramref name="fill"/> to a multiple of <paramref name="alignment"/> from the section start,
    /// and require the section itself to be placed at that alignment.
    /// </summary>
    public Section Align(int alignment, byte fill = 0)
    {
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), "Alignment must be a power of two.");
        Alignment = Math.Max(Alignment, alignment);
        long pad = (alignment - (_size & (alignment - 1))) & (alignment - 1);
        return Fill(fill, pad);
    }

    // ---------------------------------------------------------------- text

    /// <summary>Latin-1 ("ANSI") bytes, optionally NUL-terminated.</summary>
    public Section Ansi(string text, bool nulTerminate = false)
    {
        Bytes(Encoding.Latin1.GetBytes(text));
        return nulTerminate ? U8(0) : this;
    }

    /// <summary>UTF-8 bytes, optionally NUL-terminated.</summary>
    public Section Utf8(string text, bool nulTerminate = false)
    {
        Bytes(Encoding.UTF8.GetBytes(text));
        return nulTerminate ? U8(0) : this;
    }

    /// <summary>UTF-16LE code units, optionally followed by a 2-byte NUL.</summary>
    public Section Utf16(string text, bool nulTerminate = false)
    {
        Bytes(Encoding.Unicode.GetBytes(text));
        return nulTerminate ? U16(0) : this;
    }

    /// <summary>
    /// A fixed WCHAR[<paramref name="chars"/>] field: the text (truncated to chars-1 code units)
    /// then NULs up to the field size.
    /// </summary>
    public Section FixedUtf16(string? text, int chars)
    {
        text ??= string.Empty;
        if (text.Length > chars - 1) text = text[..Math.Max(0, chars - 1)];
        Utf16(text);
        return Zeros(2L * (chars - text.Length));
    }

    /// <summary>
    /// MINIDUMP_STRING: u32 Length in bytes (excluding the terminator), UTF-16LE code units, 2-byte NUL.
    /// </summary>
    public Section MinidumpString(string text) => MinidumpString(text, (uint)(text.Length * 2));

    /// <summary>MINIDUMP_STRING with an arbitrary (possibly wrong) Length field.</summary>
    public Section MinidumpString(string text, uint lengthField)
    {
        U32(lengthField);
        return Utf16(text, nulTerminate: true);
    }

    /// <summary>A GUID in Windows memory layout (Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4[8]).</summary>
    public Section Guid(Guid guid)
    {
        Span<byte> b = stackalloc byte[16];
        guid.TryWriteBytes(b);
        return Bytes(b);
    }

    // ---------------------------------------------------------------- locations

    /// <summary>MINIDUMP_LOCATION_DESCRIPTOR {DataSize u32, Rva u32} of a section.</summary>
    public Section LocationDescriptor(Section target)
        => U32(target.FinalSize).U32(target.Start);

    /// <summary>MINIDUMP_LOCATION_DESCRIPTOR64 {DataSize u64, Rva u64} of a section.</summary>
    public Section LocationDescriptor64(Section target)
        => U64(target.FinalSize).U64(target.Start);

    /// <summary>MINIDUMP_LOCATION_DESCRIPTOR, or 8 zero bytes when <paramref name="target"/> is null.</summary>
    public Section LocationDescriptorOrZero(Section? target)
        => target is null ? U32(0).U32(0) : LocationDescriptor(target);

    /// <summary>MINIDUMP_MEMORY_DESCRIPTOR {StartOfMemoryRange u64, Memory location}; zeros when null.</summary>
    public Section MemoryDescriptor(MemoryBlock? block)
        => block is null ? U64(0).U32(0).U32(0) : U64(block.Address).LocationDescriptor(block.Data);

    // ---------------------------------------------------------------- labels

    /// <summary>Bind <paramref name="label"/> to the file offset of the current position (once placed).</summary>
    public Section Mark(Label label)
    {
        EnsureMutable();
        _marks.Add((_size, label));
        return this;
    }

    /// <summary>A new label bound to the file offset of the current position.</summary>
    public Label Here(string? name = null)
    {
        var label = new Label(name ?? $"{Name}+0x{_size:X}");
        Mark(label);
        return label;
    }

    // ---------------------------------------------------------------- composition / patches

    /// <summary>
    /// Append a copy of <paramref name="child"/> (bytes, holes, fix-ups and marks). The child's
    /// <see cref="Start"/>/<see cref="FinalSize"/> are bound when this section is placed.
    /// The child cannot be changed or placed elsewhere afterwards.
    /// </summary>
    public Section Append(Section child)
    {
        ArgumentNullException.ThrowIfNull(child);
        if (ReferenceEquals(child, this)) throw new ArgumentException("A section cannot be appended to itself.");
        child.EnsureMutable();
        if (child.Alignment > 1) Align(child.Alignment);
        long baseOffset = _size;
        foreach (var seg in child._segments)
        {
            if (seg.Data is null) Hole(seg.Length);
            else Bytes(seg.Data.AsSpan(0, (int)seg.Length));
        }
        foreach (var f in child._fixups) _fixups.Add(f with { Offset = f.Offset + baseOffset });
        foreach (var p in child._patches) _patches.Add(p with { Offset = p.Offset + baseOffset });
        foreach (var (off, label) in child._marks) _marks.Add((off + baseOffset, label));
        foreach (var (off, grandChild) in child._children) _children.Add((off + baseOffset, grandChild));
        _children.Add((baseOffset, child));
        child._frozenBy = $"appended to section '{Name}'";
        return this;
    }

    /// <summary>Overwrite a u32 at <paramref name="offset"/> after all fix-ups are applied (corruption knob).</summary>
    public Section PatchU32(long offset, uint value) => Patch(offset, 4, Label.Const(value));
    public Section PatchU64(long offset, ulong value) => Patch(offset, 8, Label.Const(value));
    public Section PatchU16(long offset, ushort value) => Patch(offset, 2, Label.Const(value));
    public Section PatchU8(long offset, byte value) => Patch(offset, 1, Label.Const(value));
    public Section PatchU32(long offset, Label value) => Patch(offset, 4, value);

    private Section Patch(long offset, int width, Label value)
    {
        EnsureMutable();
        if (offset < 0 || offset + width > _size)
            throw new ArgumentOutOfRangeException(nameof(offset), $"Patch at {offset} (+{width}) is outside section '{Name}' of size {_size}.");
        _patches.Add(new Fixup(offset, width, value));
        return this;
    }

    // ---------------------------------------------------------------- materialization

    /// <summary>Contents as an array (holes as zeros). Label fix-ups are filled in only once the dump has been built.</summary>
    public byte[] ToArray()
    {
        if (_size > Array.MaxLength) throw new InvalidOperationException($"Section '{Name}' is too large ({_size} bytes) for an array.");
        var result = new byte[_size];
        CopyTo(result, 0, _size);
        return result;
    }

    internal void Place(long fileOffset, string owner)
    {
        if (_frozenBy is not null && !_frozenBy.StartsWith("placed", StringComparison.Ordinal))
            throw new InvalidOperationException($"Section '{Name}' was {_frozenBy}; it cannot be placed by {owner}.");
        _frozenBy = "placed by " + owner;
        Start.Set((ulong)fileOffset);
        FinalSize.Set((ulong)_size);
        foreach (var (off, label) in _marks) label.Set((ulong)(fileOffset + off));
        foreach (var (off, child) in _children)
        {
            child.Start.Set((ulong)(fileOffset + off));
            child.FinalSize.Set((ulong)child._size);
        }
    }

    internal void ResolveFixups()
    {
        Span<byte> tmp = stackalloc byte[8];
        foreach (var list in new[] { _fixups, _patches })
        {
            foreach (var f in list)
            {
                if (!f.Label.TryGetValue(out var value))
                    throw new InvalidOperationException(
                        $"Section '{Name}' offset {f.Offset}: label '{f.Label.Name}' was never bound.");
                if (f.Width < 8 && value >> (f.Width * 8) != 0)
                    throw new OverflowException(
                        $"Section '{Name}' offset {f.Offset}: label '{f.Label.Name}' = 0x{value:X} does not fit in {f.Width} bytes.");
                BinaryPrimitives.WriteUInt64LittleEndian(tmp, value);
                WriteAt(f.Offset, tmp[..f.Width]);
            }
        }
    }

    /// <summary>Copy <paramref name="count"/> bytes starting at <paramref name="sectionOffset"/> into dest.</summary>
    internal void CopyTo(Span<byte> dest, long sectionOffset, long count)
    {
        long end = sectionOffset + count;
        foreach (var seg in _segments)
        {
            long s = Math.Max(seg.Start, sectionOffset);
            long e = Math.Min(seg.Start + seg.Length, end);
            if (s >= e) continue;
            var target = dest.Slice((int)(s - sectionOffset), (int)(e - s));
            if (seg.Data is null) target.Clear();
            else seg.Data.AsSpan((int)(s - seg.Start), (int)(e - s)).CopyTo(target);
        }
    }

    /// <summary>
    /// Write the first <paramref name="limit"/> bytes at the stream's current position. Holes are
    /// skipped by seeking when <paramref name="sparse"/> and the stream can seek; otherwise written as zeros.
    /// </summary>
    internal void WriteTo(Stream stream, long limit, bool sparse)
    {
        byte[]? zeros = null;
        foreach (var seg in _segments)
        {
            if (seg.Start >= limit) break;
            long len = Math.Min(seg.Length, limit - seg.Start);
            if (seg.Data is not null)
            {
                stream.Write(seg.Data, 0, (int)len);
            }
            else if (sparse && stream.CanSeek)
            {
                stream.Seek(len, SeekOrigin.Current);
            }
            else
            {
                zeros ??= new byte[1 << 16];
                while (len > 0)
                {
                    int n = (int)Math.Min(len, zeros.Length);
                    stream.Write(zeros, 0, n);
                    len -= n;
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    private void EnsureMutable()
    {
        if (_frozenBy is not null)
            throw new InvalidOperationException($"Section '{Name}' can no longer change: it was {_frozenBy}.");
    }

    private Span<byte> Reserve(int count)
    {
        EnsureMutable();
        Segment seg;
        if (_segments.Count > 0 && _segments[^1].Data is not null)
        {
            seg = _segments[^1];
            long needed = seg.Length + count;
            if (needed > seg.Data!.Length)
            {
                if (needed > Array.MaxLength)
                {
                    // Start a fresh data segment rather than growing past the array limit.
                    seg = new Segment { Start = _size, Length = 0, Data = new byte[Math.Max(count, 256)] };
                    _segments.Add(seg);
                }
                else
                {
                    long newCap = Math.Min(Array.MaxLength, Math.Max(needed, (long)seg.Data.Length * 2));
                    Array.Resize(ref seg.Data, (int)newCap);
                }
            }
        }
        else
        {
            seg = new Segment { Start = _size, Length = 0, Data = new byte[Math.Max(count, 256)] };
            _segments.Add(seg);
        }
        var span = seg.Data!.AsSpan((int)seg.Length, count);
        seg.Length += count;
        _size += count;
        return span;
    }

    private void WriteAt(long offset, ReadOnlySpan<byte> bytes)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            long pos = offset + i;
            var seg = FindSegment(pos);
            if (seg.Data is null)
                throw new InvalidOperationException($"Section '{Name}': cannot write a fix-up into a hole at offset {pos}.");
            seg.Data[pos - seg.Start] = bytes[i];
        }
    }

    private Segment FindSegment(long offset)
    {
        int lo = 0, hi = _segments.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            var seg = _segments[mid];
            if (offset < seg.Start) hi = mid - 1;
            else if (offset >= seg.Start + seg.Length) lo = mid + 1;
            else return seg;
        }
        throw new ArgumentOutOfRangeException(nameof(offset), $"Offset {offset} is outside section '{Name}'.");
    }

    public override string ToString() => $"Section '{Name}' ({_size} bytes)";
}
