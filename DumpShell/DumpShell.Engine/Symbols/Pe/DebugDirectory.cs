using DumpShell.Format;
using DumpShell.Format.Minidump;

namespace DumpShell.Symbols.Pe;

/// <summary>
/// The image's own CodeView record (IMAGE_DEBUG_DIRECTORY of type CODEVIEW). Dump writers usually copy
/// it into the module list; Wine's does not, so the PDB's identity is read from the image instead.
/// </summary>
public static class DebugDirectory
{
    private const int EntrySize = 28;
    private const uint TypeCodeView = 2;
    private const int MaxEntries = 64;
    private const int MaxRecordSize = 4096;
    private const uint Rsds = 0x53445352;

    /// <summary>The RSDS record (GUID, age, PDB name), or null when the image has none readable.</summary>
    public static CodeViewRecord? TryReadCodeView(PeImage image)
    {
        var directory = image.GetDirectory(PeDirectory.Debug);
        if (directory.IsEmpty) return null;
        int count = (int)Math.Min(directory.Size / EntrySize, MaxEntries);
        Span<byte> entry = stackalloc byte[EntrySize];
        for (int i = 0; i < count; i++)
        {
            if (image.Read(directory.VirtualAddress + (uint)(i * EntrySize), entry) < EntrySize) return null;
            var e = new ByteReader(entry);
            if (e.U32(12) != TypeCodeView) continue;
            uint size = e.U32(16), rva = e.U32(20);
            if (size < 24 || size > MaxRecordSize || rva == 0) continue;
            var bytes = new byte[size];
            if (image.Read(rva, bytes) < size) continue;
            var r = new ByteReader(bytes);
            if (r.U32(0) != Rsds) continue;
            int nul = Array.IndexOf(bytes, (byte)0, 24);
            string name = System.Text.Encoding.UTF8.GetString(bytes, 24, (nul < 0 ? bytes.Length : nul) - 24);
            return new CodeViewRecord("RSDS", name, r.Guid(4), null, r.U32(20), null);
        }
        return null;
    }
}
