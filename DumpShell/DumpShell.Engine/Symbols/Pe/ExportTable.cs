using System.Text;

namespace DumpShell.Symbols.Pe;

/// <summary>One exported function: its name (null when exported by ordinal only), ordinal and RVA.</summary>
public sealed record PeExport(string? Name, uint Ordinal, uint Rva);

/// <summary>
/// The export directory of a PE image (IMAGE_EXPORT_DIRECTORY): the module's own name and its exported
/// functions by name and ordinal. Forwarders (an export whose RVA points back into the export directory,
/// holding "OTHERDLL.Function") have no code in this image and are left out.
/// </summary>
/// <remarks>
/// The directory, its three arrays and the name strings all come from bytes that may be hostile or missing.
/// Counts are capped (<see cref="MaxExports"/>), arrays are read in chunks and only what was actually read is
/// kept, names are cut at <see cref="MaxNameLength"/> bytes, and nothing here throws on content.
/// </remarks>
public sealed class ExportTable
{
    /// <summary>Export address table entries read at most. The name-ordinal table holds 16-bit indexes, so real tables stay below 65536.</summary>
    public const int MaxExports = 0x10000;
    /// <summary>Longest export (or DLL) name read, in bytes.</summary>
    public const int MaxNameLength = 1024;

    private const int DirectorySize = 40;
    private const int Chunk = 1024; // array entries per read

    private readonly PeExport[] _byRva;
    private readonly Dictionary<string, PeExport> _byName;
    private readonly List<string> _problems;

    private ExportTable(string? dllName, uint ordinalBase, uint timeDateStamp, PeExport[] byRva, List<string> problems)
    {
        DllName = dllName;
        OrdinalBase = ordinalBase;
        TimeDateStamp = timeDateStamp;
        _byRva = byRva;
        _problems = problems;
        _byName = new Dictionary<string, PeExport>(StringComparer.Ordinal);
        foreach (var e in byRva)
            if (e.Name is { } n) _byName.TryAdd(n, e);
    }

    /// <summary>The DLL name the directory records (e.g. "KERNEL32.dll"); null when unreadable.</summary>
    public string? DllName { get; }
    /// <summary>The ordinal of the first export address table entry.</summary>
    public uint OrdinalBase { get; }
    public uint TimeDateStamp { get; }

    /// <summary>The exports with code in this image, sorted by RVA (then by name). An RVA exported under several names appears once per name.</summary>
    public IReadOnlyList<PeExport> Exports => _byRva;

    /// <summary>What did not match the format (arrays cut short, counts capped, ...).</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>The export named <paramref name="name"/> (case-sensitive, as the loader matches it).</summary>
    public PeExport? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>The export with the highest RVA at or below <paramref name="rva"/>: the nearest exported symbol before an address.</summary>
    public PeExport? NearestAtOrBelow(uint rva)
    {
        int lo = 0, hi = _byRva.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (_byRva[mid].Rva <= rva) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        if (found < 0) return null;
        // Several names may share the RVA; give the first of them.
        while (found > 0 && _byRva[found - 1].Rva == _byRva[found].Rva) found--;
        return _byRva[found];
    }

    /// <summary>
    /// Reads the export directory of <paramref name="image"/>. Null when the image has no export directory or its
    /// header cannot be read; otherwise the exports that could be read (see <see cref="Problems"/>).
    /// </summary>
    public static ExportTable? TryRead(PeImage image)
    {
        var dir = image.GetDirectory(PeDirectory.Export);
        if (dir.IsEmpty) return null;
        Span<byte> header = stackalloc byte[DirectorySize];
        if (image.Read(dir.VirtualAddress, header) < DirectorySize) return null;

        var problems = new List<string>();
        uint timeDateStamp = PeImage.U32(header, 4);
        uint nameRva = PeImage.U32(header, 12);
        uint ordinalBase = PeImage.U32(header, 16);
        uint functionCount = PeImage.U32(header, 20);
        uint nameCount = PeImage.U32(header, 24);
        uint functionsRva = PeImage.U32(header, 28);
        uint namesRva = PeImage.U32(header, 32);
        uint ordinalsRva = PeImage.U32(header, 36);

        if (functionCount > MaxExports)
        {
            problems.Add($"NumberOfFunctions is {functionCount}; the first {MaxExports} are read.");
            functionCount = MaxExports;
        }
        if (nameCount > MaxExports)
        {
            problems.Add($"NumberOfNames is {nameCount}; the first {MaxExports} are read.");
            nameCount = MaxExports;
        }

        var functions = ReadU32Array(image, functionsRva, (int)functionCount, problems, "export address table");
        var nameRvas = ReadU32Array(image, namesRva, (int)nameCount, problems, "export name pointer table");
        var ordinals = ReadU16Array(image, ordinalsRva, Math.Min((int)nameCount, nameRvas.Count), problems);

        ulong dirStart = dir.VirtualAddress, dirEnd = dirStart + dir.Size;
        bool IsForwarder(uint rva) => rva >= dirStart && rva < dirEnd;

        var exports = new List<PeExport>(functions.Count);
        var named = new bool[functions.Count];
        int pairs = Math.Min(nameRvas.Count, ordinals.Count);
        for (int i = 0; i < pairs; i++)
        {
            int index = ordinals[i];
            if (index >= functions.Count) continue; // an index past the address table (or past what could be read)
            uint rva = functions[index];
            if (rva == 0 || IsForwarder(rva)) { named[index] = true; continue; }
            string? name = ReadName(image, nameRvas[i]);
            if (name is null) continue;
            named[index] = true;
            exports.Add(new PeExport(name, ordinalBase + (uint)index, rva));
        }
        for (int index = 0; index < functions.Count; index++)
        {
            uint rva = functions[index];
            if (named[index] || rva == 0 || IsForwarder(rva)) continue;
            exports.Add(new PeExport(null, ordinalBase + (uint)index, rva));
        }
        exports.Sort((a, b) =>
        {
            int c = a.Rva.CompareTo(b.Rva);
            return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
        });
        return new ExportTable(ReadName(image, nameRva), ordinalBase, timeDateStamp, exports.ToArray(), problems);
    }

    private static List<uint> ReadU32Array(PeImage image, uint rva, int count, List<string> problems, string what)
    {
        var values = new List<uint>(Math.Min(count, Chunk));
        var buffer = new byte[Chunk * 4];
        while (values.Count < count)
        {
            ulong at = rva + (ulong)values.Count * 4;
            if (at > uint.MaxValue) break;
            int n = Math.Min(Chunk, count - values.Count);
            int got = image.Read((uint)at, buffer.AsSpan(0, n * 4)) / 4;
            for (int i = 0; i < got; i++) values.Add(PeImage.U32(buffer, i * 4));
            if (got < n) break;
        }
        if (values.Count < count) problems.Add($"Only {values.Count} of {count} entries of the {what} could be read.");
        return values;
    }

    private static List<ushort> ReadU16Array(PeImage image, uint rva, int count, List<string> problems)
    {
        var values = new List<ushort>(Math.Min(count, Chunk));
        var buffer = new byte[Chunk * 2];
        while (values.Count < count)
        {
            ulong at = rva + (ulong)values.Count * 2;
            if (at > uint.MaxValue) break;
            int n = Math.Min(Chunk, count - values.Count);
            int got = image.Read((uint)at, buffer.AsSpan(0, n * 2)) / 2;
            for (int i = 0; i < got; i++) values.Add(PeImage.U16(buffer, i * 2));
            if (got < n) break;
        }
        if (values.Count < count) problems.Add($"Only {values.Count} of {count} entries of the export ordinal table could be read.");
        return values;
    }

    /// <summary>A NUL-terminated ASCII name at <paramref name="rva"/>; null when unreadable, empty or unterminated within the limit.</summary>
    internal static string? ReadName(PeImage image, uint rva)
    {
        if (rva == 0) return null;
        Span<byte> buffer = stackalloc byte[128];
        var name = new StringBuilder();
        for (int done = 0; done < MaxNameLength; done += buffer.Length)
        {
            if ((ulong)rva + (ulong)done > uint.MaxValue) return null;
            int got = image.Read(rva + (uint)done, buffer);
            if (got == 0) return null;
            int nul = buffer[..got].IndexOf((byte)0);
            if (nul >= 0)
            {
                name.Append(Encoding.Latin1.GetString(buffer[..nul]));
                return name.Length > 0 ? name.ToString() : null;
            }
            name.Append(Encoding.Latin1.GetString(buffer[..got]));
            if (got < buffer.Length) return null;
        }
        return null;
    }
}
