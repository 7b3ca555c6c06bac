using System.Buffers.Binary;
using System.Text;

namespace DumpShell.Symbols.Pdb;

/// <summary>Bounds-checked reads of PDB byte data: NUL-terminated UTF-8 and little-endian integers.</summary>
internal static class PdbText
{
    /// <summary>The UTF-8 string at <paramref name="offset"/> up to its NUL or the end of <paramref name="data"/>; "" when the offset is outside.</summary>
    public static string CString(ReadOnlySpan<byte> data, int offset) => CString(data, offset, out _);

    /// <summary>As <see cref="CString(ReadOnlySpan{byte}, int)"/>; <paramref name="next"/> is the offset after the NUL (or data.Length).</summary>
    public static string CString(ReadOnlySpan<byte> data, int offset, out int next)
    {
        if ((uint)offset >= (uint)data.Length)
        {
            next = data.Length;
            return "";
        }
        var rest = data[offset..];
        int nul = rest.IndexOf((byte)0);
        if (nul < 0)
        {
            next = data.Length;
            return Encoding.UTF8.GetString(rest);
        }
        next = offset + nul + 1;
        return nul == 0 ? "" : Encoding.UTF8.GetString(rest[..nul]);
    }

    public static bool Has(ReadOnlySpan<byte> data, int offset, int size) =>
        offset >= 0 && size >= 0 && offset <= data.Length - size;

    public static ushort U16(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(data[offset..]);

    public static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);

    public static int I32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadInt32LittleEndian(data[offset..]);

    /// <summary>A u16 stream index with 0xFFFF ("none") as -1.</summary>
    public static int StreamIndex(ushort value) => value == 0xFFFF ? -1 : value;

    public static int Align4(int value) => (value + 3) & ~3;
}
