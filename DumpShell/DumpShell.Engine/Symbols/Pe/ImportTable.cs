using System.Text;

namespace DumpShell.Symbols.Pe;

/// <summary>
/// One imported function: the DLL it comes from (as the import descriptor names it, e.g. "KERNEL32.dll"), its name
/// and hint (null name when imported by ordinal), its ordinal (by-ordinal imports only), and the RVA of its import
/// address table slot (the pointer the loader binds and code calls through: <c>call qword ptr [rip+slot]</c>).
/// </summary>
public sealed record PeImport(string DllName, string? Name, ushort Hint, uint? Ordinal, uint SlotRva)
{
    /// <summary>"HeapFree", or "#17" for an import by ordinal; null when neither is known.</summary>
    public string? FunctionText => Name ?? (Ordinal is { } o ? $"#{o}" : null);
}

/// <summary>
/// The import directory of a PE image: the IMAGE_IMPORT_DESCRIPTOR list, and for each DLL its thunks read from the
/// import lookup table (OriginalFirstThunk) and matched to the import address table slots (FirstThunk). By-name
/// entries point to an IMAGE_IMPORT_BY_NAME (hint, name); by-ordinal entries carry the ordinal flag (bit 63 in PE32+,
/// bit 31 in PE32).
/// </summary>
/// <remarks>
/// <para>The bytes may be hostile or missing: the descriptor list is capped at <see cref="MaxDescriptors"/>, the thunks
/// at <see cref="MaxThunksPerDll"/> per DLL and <see cref="MaxImports"/> in all, names at
/// <see cref="MaxNameLength"/> bytes; only what was read is kept, and nothing here throws on content.</para>
/// <para>In a loaded image (dump memory) the import address table holds bound addresses, not name RVAs, so names come
/// from the lookup table. Images without one (OriginalFirstThunk = 0, old linkers) name their imports only in the
/// unbound file: pass its bytes as <c>unbound</c>. A thunk whose name RVA lies outside the image (a bound address
/// read where a name RVA was expected) gives an entry with neither name nor ordinal.</para>
/// </remarks>
public sealed class ImportTable
{
    /// <summary>Import descriptors read at most.</summary>
    public const int MaxDescriptors = 4096;
    /// <summary>Thunks read at most for one DLL.</summary>
    public const int MaxThunksPerDll = 0x10000;
    /// <summary>Imports read at most in all.</summary>
    public const int MaxImports = 0x40000;
    /// <summary>Longest DLL or function name read, in bytes.</summary>
    public const int MaxNameLength = 1024;

    private const int DescriptorSize = 20;
    private const int Chunk = 256; // descriptors or thunks per read

    private readonly PeImport[] _imports;
    private readonly Dictionary<uint, PeImport> _bySlot;
    private readonly List<string> _problems;

    private ImportTable(PeImport[] imports, IReadOnlyList<string> dlls, List<string> problems)
    {
        _imports = imports;
        Dlls = dlls;
        _problems = problems;
        _bySlot = new Dictionary<uint, PeImport>(imports.Length);
        foreach (var i in imports) _bySlot.TryAdd(i.SlotRva, i);
    }

    /// <summary>Every import read, in descriptor order, then thunk order.</summary>
    public IReadOnlyList<PeImport> Imports => _imports;

    /// <summary>The DLL names of the descriptors read, in order.</summary>
    public IReadOnlyList<string> Dlls { get; }

    /// <summary>What did not match the format (lists cut short, counts capped, unreadable names ...).</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>The import whose address table slot is at <paramref name="slotRva"/>; null when no slot is there.</summary>
    public PeImport? FindSlot(uint slotRva) => _bySlot.GetValueOrDefault(slotRva);

    /// <summary>The import of <paramref name="function"/> (case-sensitive) from a DLL whose name matches <paramref name="dll"/> (case-insensitive, with or without ".dll").</summary>
    public PeImport? Find(string dll, string function) =>
        _imports.FirstOrDefault(i => i.Name == function && SameDll(i.DllName, dll));

    private static bool SameDll(string a, string b) =>
        string.Equals(Strip(a), Strip(b), StringComparison.OrdinalIgnoreCase);

    private static string Strip(string name) =>
        name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;

    /// <summary>
    /// Reads the import directory of <paramref name="image"/>. Null when the image has no import directory or its first
    /// descriptor cannot be read; otherwise what could be read (see <see cref="Problems"/>).
    /// </summary>
    /// <param name="unbound">The image file's bytes (not bound by a loader), for DLLs without a lookup table; may be null.</param>
    public static ImportTable? TryRead(PeImage image, IImageBytes? unbound = null)
    {
        var dir = image.GetDirectory(PeDirectory.Import);
        if (dir.IsEmpty) return null;
        var problems = new List<string>();
        var descriptors = ReadDescriptors(image.Bytes, dir.VirtualAddress, problems);
        if (descriptors is null) return null;

        bool pe64 = image.Is64Bit;
        int thunkSize = pe64 ? 8 : 4;
        ulong ordinalFlag = pe64 ? 1UL << 63 : 1UL << 31;
        uint sizeOfImage = image.SizeOfImage;
        var imports = new List<PeImport>();
        Span<byte> hintBytes = stackalloc byte[2];
        var dlls = new List<string>();
        foreach (var (lookupRva, nameRva, slotsRva) in descriptors)
        {
            if (imports.Count >= MaxImports)
            {
                problems.Add($"More than {MaxImports} imports; the rest are not read.");
                break;
            }
            string? dll = ReadName(image.Bytes, nameRva);
            if (dll is null)
            {
                problems.Add($"The DLL name at RVA 0x{nameRva:x} could not be read; its imports are skipped.");
                continue;
            }
            dlls.Add(dll);
            if (slotsRva == 0)
            {
                problems.Add($"{dll}: FirstThunk is 0; its imports are skipped.");
                continue;
            }
            // Names from the lookup table; without one, from the address table of the unbound file (or, failing that,
            // of whatever bytes there are: unbound in an image file, bound in a loaded image).
            var source = lookupRva != 0 ? image.Bytes : unbound ?? image.Bytes;
            uint tableRva = lookupRva != 0 ? lookupRva : slotsRva;
            int limit = Math.Min(MaxThunksPerDll, MaxImports - imports.Count);
            var thunks = ReadThunks(source, tableRva, thunkSize, limit, out bool terminated);
            if (!terminated)
                problems.Add(thunks.Count >= limit
                    ? $"{dll}: more than {limit} thunks; the rest are not read."
                    : $"{dll}: the thunk table at RVA 0x{tableRva:x} ends after {thunks.Count} entries without its terminating 0.");
            for (int i = 0; i < thunks.Count; i++)
            {
                ulong slot = slotsRva + (ulong)i * (ulong)thunkSize;
                if (slot > uint.MaxValue) break;
                ulong value = thunks[i];
                if ((value & ordinalFlag) != 0)
                {
                    imports.Add(new PeImport(dll, null, 0, (uint)(value & 0xFFFF), (uint)slot));
                    continue;
                }
                // IMAGE_IMPORT_BY_NAME: a 2-byte hint, then the name. An RVA outside the image is not one.
                uint hintRva = (uint)(value & 0x7FFF_FFFF);
                bool inImage = value <= 0x7FFF_FFFF && (sizeOfImage == 0 || hintRva < sizeOfImage);
                string? name = null;
                ushort hint = 0;
                if (inImage)
                {
                    if (source.Read(hintRva, hintBytes) == 2) hint = PeImage.U16(hintBytes, 0);
                    name = hintRva <= uint.MaxValue - 2 ? ReadName(source, hintRva + 2) : null;
                }
                if (name is null) hint = 0;
                imports.Add(new PeImport(dll, name, hint, null, (uint)slot));
            }
        }
        return new ImportTable(imports.ToArray(), dlls, problems);
    }

    /// <summary>(OriginalFirstThunk, Name, FirstThunk) of each descriptor up to the all-zero one; null when the first cannot be read.</summary>
    private static List<(uint Lookup, uint Name, uint Slots)>? ReadDescriptors(IImageBytes bytes, uint rva, List<string> problems)
    {
        var list = new List<(uint, uint, uint)>();
        var buffer = new byte[Chunk * DescriptorSize];
        bool first = true;
        while (list.Count < MaxDescriptors)
        {
            ulong at = rva + (ulong)list.Count * DescriptorSize;
            if (at > uint.MaxValue) break;
            int n = Math.Min(Chunk, MaxDescriptors - list.Count);
            int got = bytes.Read((uint)at, buffer.AsSpan(0, n * DescriptorSize)) / DescriptorSize;
            if (got == 0 && first) return null;
            first = false;
            for (int i = 0; i < got; i++)
            {
                var d = buffer.AsSpan(i * DescriptorSize, DescriptorSize);
                uint lookup = PeImage.U32(d, 0), name = PeImage.U32(d, 12), slots = PeImage.U32(d, 16);
                if (lookup == 0 && name == 0 && slots == 0 && PeImage.U32(d, 4) == 0 && PeImage.U32(d, 8) == 0) return list;
                list.Add((lookup, name, slots));
            }
            if (got < n)
            {
                problems.Add($"The import descriptor list ends after {list.Count} entries without its terminating null descriptor.");
                return list;
            }
        }
        problems.Add($"More than {MaxDescriptors} import descriptors; the rest are not read.");
        return list;
    }

    /// <summary>Thunks (4 or 8 bytes each) up to the 0 that ends the table, at most <paramref name="limit"/>.</summary>
    private static List<ulong> ReadThunks(IImageBytes bytes, uint rva, int size, int limit, out bool terminated)
    {
        terminated = false;
        var values = new List<ulong>();
        var buffer = new byte[Chunk * size];
        while (values.Count < limit)
        {
            ulong at = rva + (ulong)values.Count * (ulong)size;
            if (at > uint.MaxValue) return values;
            int n = Math.Min(Chunk, limit - values.Count);
            int got = bytes.Read((uint)at, buffer.AsSpan(0, n * size)) / size;
            for (int i = 0; i < got; i++)
            {
                ulong v = size == 8 ? PeImage.U64(buffer, i * 8) : PeImage.U32(buffer, i * 4);
                if (v == 0)
                {
                    terminated = true;
                    return values;
                }
                values.Add(v);
            }
            if (got < n) return values;
        }
        return values;
    }

    /// <summary>A NUL-terminated name at <paramref name="rva"/>; null when unreadable, empty, unterminated within the limit or not printable.</summary>
    private static string? ReadName(IImageBytes bytes, uint rva)
    {
        if (rva == 0) return null;
        Span<byte> buffer = stackalloc byte[128];
        var name = new StringBuilder();
        for (int done = 0; done < MaxNameLength; done += buffer.Length)
        {
            if ((ulong)rva + (ulong)done > uint.MaxValue) return null;
            int got = bytes.Read(rva + (uint)done, buffer);
            if (got == 0) return null;
            int nul = buffer[..got].IndexOf((byte)0);
            var part = nul >= 0 ? buffer[..nul] : buffer[..got];
            foreach (byte b in part)
                if (b < 0x20 || b >= 0x7F) return null;
            name.Append(Encoding.ASCII.GetString(part));
            if (nul >= 0) return name.Length > 0 ? name.ToString() : null;
            if (got < buffer.Length) return null;
        }
        return null;
    }
}
