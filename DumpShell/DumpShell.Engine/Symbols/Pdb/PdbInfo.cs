using System.Buffers.Binary;

namespace DumpShell.Symbols.Pdb;

/// <summary>
/// The PDB information stream (stream 1): header, named stream map, feature codes.
/// </summary>
/// <param name="Version">PDBImpv* value, normally 20000404 (VC70).</param>
/// <param name="Signature">A time stamp written by the linker; not used for matching.</param>
/// <param name="Age">
/// The age in this stream. Tools that rewrite a PDB after linking (pdbstr/srctool source indexing) raise it,
/// so it can be larger than the age in the executable's RSDS record; see <see cref="PdbFile.Age"/> for the
/// age that is compared.
/// </param>
/// <param name="Guid">The GUID the executable's RSDS CodeView record names (Guid.Empty before VC70).</param>
/// <param name="NamedStreams">Stream name → stream index, e.g. "/names", "/LinkInfo", "/src/headerblock".</param>
/// <param name="Features">Feature codes after the map (20091201 VC110, 20140508 VC140, 'MINI', 'NOTM').</param>
public sealed record PdbInfo(
    uint Version,
    uint Signature,
    uint Age,
    Guid Guid,
    IReadOnlyDictionary<string, int> NamedStreams,
    IReadOnlyList<uint> Features)
{
    public const uint VersionVC70 = 20000404;
    public const uint FeatureVC110 = 20091201;
    public const uint FeatureVC140 = 20140508;
    public const uint FeatureNoTypeMerge = 0x4D544F4E;
    public const uint FeatureMinimalDebugInfo = 0x494E494D;

    /// <summary>The stream index of a named stream, or -1.</summary>
    public int GetNamedStream(string name) => NamedStreams.TryGetValue(name, out int index) ? index : -1;

    /// <summary>Linked with /DEBUG:FASTLINK: symbols stay in the object files.</summary>
    public bool IsMinimalDebugInfo => Features.Contains(FeatureMinimalDebugInfo);

    /// <summary>
    /// Layout (LLVM "The PDB Info Stream", pdb-rs docs/pdb/pdb_stream.md): Version, Signature, Age, GUID (VC70+),
    /// then the named stream map (u32 string-buffer size, the buffer, u32 entry count, u32 capacity, present
    /// bit vector (u32 word count + words), deleted bit vector, count × (u32 name offset, u32 stream)), a u32
    /// niMac, and the feature codes to the end. A map that does not fit keeps the entries read so far.
    /// </summary>
    internal static PdbInfo Parse(ReadOnlySpan<byte> data, List<string> problems)
    {
        if (data.Length < 12)
            throw new PdbFormatException($"The PDB info stream is {data.Length} bytes; its header needs at least 12.");
        uint version = U32(data, 0);
        uint signature = U32(data, 4);
        uint age = U32(data, 8);
        var guid = Guid.Empty;
        int pos = 12;
        if (version >= VersionVC70)
        {
            if (data.Length < 28)
                throw new PdbFormatException($"The PDB info stream is {data.Length} bytes; a VC70 header with a GUID needs 28.");
            guid = new Guid(data.Slice(12, 16));
            pos = 28;
        }

        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var features = new List<uint>();
        if (!ReadNamedStreams(data, ref pos, names))
        {
            problems.Add("The named stream map in the PDB info stream is cut short; named streams after the cut are missing.");
            return new PdbInfo(version, signature, age, guid, names, features);
        }

        pos += 4; // niMac
        for (; pos + 4 <= data.Length; pos += 4)
            features.Add(U32(data, pos));
        return new PdbInfo(version, signature, age, guid, names, features);
    }

    private static bool ReadNamedStreams(ReadOnlySpan<byte> data, ref int pos, Dictionary<string, int> names)
    {
        if (pos == data.Length) return true; // no map at all (pre-VC70 layouts)
        if (pos + 4 > data.Length) return false;
        uint keysSize = U32(data, pos);
        pos += 4;
        if (keysSize > (uint)(data.Length - pos)) return false;
        var keys = data.Slice(pos, (int)keysSize);
        pos += (int)keysSize;

        if (pos + 8 > data.Length) return false;
        uint count = U32(data, pos);
        pos += 8; // count, capacity
        for (int vector = 0; vector < 2; vector++) // present, deleted
        {
            if (pos + 4 > data.Length) return false;
            uint words = U32(data, pos);
            pos += 4;
            if (words > (uint)(data.Length - pos) / 4) return false;
            pos += 4 * (int)words;
        }

        if (count > (uint)(data.Length - pos) / 8) return false;
        for (int i = 0; i < count; i++, pos += 8)
        {
            uint keyOffset = U32(data, pos);
            int stream = (int)U32(data, pos + 4);
            if (keyOffset >= keys.Length) continue;
            string name = PdbText.CString(keys, (int)keyOffset);
            names.TryAdd(name, stream);
        }
        return true;
    }

    private static uint U32(ReadOnlySpan<byte> data, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
}
