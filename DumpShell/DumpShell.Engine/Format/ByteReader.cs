using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Format;

/// <summary>Little-endian field reads at fixed offsets of a record; reads past the end give zero.</summary>
/// <remarks>
/// Records in dumps grow across versions (MINIDUMP_MISC_INFO has five sizes), so a short record is
/// read with its missing tail as zero and the caller decides from the record's size what is present.
/// </remarks>
public readonly ref struct ByteReader
{
    private readonly ReadOnlySpan<byte> _data;

    public ByteReader(ReadOnlySpan<byte> data) => _data = data;

    public int Length => _data.Length;
    public ReadOnlySpan<byte> Span => _data;

    public bool Has(int offset, int size) => offset >= 0 && size >= 0 && offset <= _data.Length - size;

    public byte U8(int offset) => Has(offset, 1) ? _data[offset] : (byte)0;
    public ushort U16(int offset) => Has(offset, 2) ? BinaryPrimitives.ReadUInt16LittleEndian(_data[offset..]) : (ushort)0;
    public uint U32(int offset) => Has(offset, 4) ? BinaryPrimitives.ReadUInt32LittleEndian(_data[offset..]) : 0u;
    public int I32(int offset) => (int)U32(offset);
    public ulong U64(int offset) => Has(offset, 8) ? BinaryPrimitives.ReadUInt64LittleEndian(_data[offset..]) : 0ul;

    /// <summary>A pointer of <paramref name="pointerSize"/> bytes (4 or 8).</summary>
    public ulong Pointer(int offset, int pointerSize) => pointerSize == 8 ? U64(offset) : U32(offset);

    public Guid Guid(int offset) => Has(offset, 16) ? new Guid(_data.Slice(offset, 16)) : System.Guid.Empty;

    public ReadOnlySpan<byte> Bytes(int offset, int size) =>
        Has(offset, 0) ? _data.Slice(offset, Math.Min(size, _data.Length - offset)) : default;

    /// <summary>A fixed-size UTF-16 field that ends at its first NUL (e.g. MINIDUMP_MISC_INFO_4.BuildString).</summary>
    public string Utf16Z(int offset, int maxChars)
    {
        var bytes = Bytes(offset, maxChars * 2);
        var text = Encoding.Unicode.GetString(bytes[..(bytes.Length & ~1)]);
        int nul = text.IndexOf('\0');
        return nul >= 0 ? text[..nul] : text;
    }
}
