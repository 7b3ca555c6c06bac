using System.Text;
using DumpShell.Format.Minidump;

namespace DumpShell.Symbols.Pe;

/// <summary>
/// An image's version resource (RT_VERSION): VS_VERSIONINFO with its VS_FIXEDFILEINFO, the StringFileInfo
/// string tables and the VarFileInfo translations. What WinDbg's lmv and !mv print as CompanyName,
/// FileDescription and so on.
/// </summary>
/// <remarks>
/// Read from bytes that may be hostile or cut short: the resource tree walk has a fixed depth and visits a
/// bounded number of entries, the block walk stops at zero-length blocks and caps nesting and counts, and
/// the data read is capped at 64 KiB (VS_VERSIONINFO.wLength is 16 bits). Blocks are descended only along the
/// format's own four levels (VS_VERSIONINFO → StringFileInfo/VarFileInfo → StringTable/Var → String), so
/// nesting depth is fixed. Nothing here throws on content.
/// </remarks>
public sealed class VersionResource
{
    public const ushort RtVersion = 16;
    /// <summary>Entries of one resource directory looked at, at most.</summary>
    public const int MaxDirectoryEntries = 4096;
    /// <summary>Blocks (string tables, strings, vars) read at most in one VS_VERSIONINFO.</summary>
    public const int MaxBlocks = 4096;
    private const int MaxVersionInfoBytes = 0xFFFF;
    private const uint FixedFileInfoSignature = 0xFEEF04BD;
    private const int FixedFileInfoSize = 52;
    private const uint HighBit = 0x8000_0000;

    /// <summary>The well-known StringFileInfo string names.</summary>
    public static readonly IReadOnlyList<string> StandardKeys =
    [
        "CompanyName", "ProductName", "InternalName", "OriginalFilename", "ProductVersion", "FileVersion",
        "PrivateBuild", "SpecialBuild", "FileDescription", "LegalCopyright", "LegalTrademarks", "Comments",
    ];

    private VersionResource(FixedFileInfo? fixedInfo, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> tables,
        IReadOnlyList<(ushort Language, ushort CodePage)> translations)
    {
        FixedFileInfo = fixedInfo;
        StringTables = tables;
        Translations = translations;
        StringTableKey = ChooseTable(tables, translations);
        Strings = StringTableKey is null ? new Dictionary<string, string>() : tables[StringTableKey];
    }

    /// <summary>The language id of the resource entry read (see <see cref="FindVersionEntry"/>); null from <see cref="Parse"/>.</summary>
    public ushort? ResourceLanguage { get; private set; }

    /// <summary>VS_FIXEDFILEINFO, when present with its signature.</summary>
    public FixedFileInfo? FixedFileInfo { get; }

    /// <summary>Every StringTable by its key (language and code page in hex, e.g. "040904B0").</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> StringTables { get; }

    /// <summary>VarFileInfo\Translation: the (language, code page) pairs the file declares.</summary>
    public IReadOnlyList<(ushort Language, ushort CodePage)> Translations { get; }

    /// <summary>The key of the table <see cref="Strings"/> is: US English ("0409…"), else the first translation's, else the first.</summary>
    public string? StringTableKey { get; }

    /// <summary>The chosen string table (keys case-insensitive, as VerQueryValue treats them); empty when there is none.</summary>
    public IReadOnlyDictionary<string, string> Strings { get; }

    public string? CompanyName => Get("CompanyName");
    public string? FileDescription => Get("FileDescription");
    public string? FileVersionString => Get("FileVersion");
    public string? ProductName => Get("ProductName");
    public string? ProductVersionString => Get("ProductVersion");
    public string? OriginalFilename => Get("OriginalFilename");
    public string? InternalName => Get("InternalName");
    public string? LegalCopyright => Get("LegalCopyright");

    private string? Get(string key) => Strings.TryGetValue(key, out var v) ? v : null;

    /// <summary>
    /// Finds the image's version resource (resource directory → type 16 → first name → preferred language, see
    /// <see cref="FindVersionEntry"/>) and parses it. Null when the image has no resource directory, no RT_VERSION entry, or its bytes are not
    /// available (e.g. the pages are not in the dump) or not a VS_VERSIONINFO.
    /// </summary>
    public static VersionResource? TryRead(PeImage image)
    {
        if (FindVersionEntry(image) is not var (rva, size, language)) return null;
        var data = new byte[Math.Min(size, (uint)MaxVersionInfoBytes)];
        int got = image.Read(rva, data);
        var version = Parse(data.AsSpan(0, got));
        if (version is not null) version.ResourceLanguage = language;
        return version;
    }

    /// <summary>
    /// The RT_VERSION resource's data entry: its RVA, size and language id (null for a named language entry).
    /// Of several languages, en-US (0x409) is taken, else another English, else LANG_NEUTRAL, else the first.
    /// </summary>
    public static (uint Rva, uint Size, ushort? Language)? FindVersionEntry(PeImage image)
    {
        var dir = image.GetDirectory(PeDirectory.Resource);
        if (dir.IsEmpty) return null;
        uint root = dir.VirtualAddress;
        // Level 1: type. RT_VERSION is an id entry.
        if (FindEntry(image, root, dir.Size, 0, EntryKind.Id, RtVersion, wantDirectory: true) is not ({ } names, _)) return null;
        // Level 2: name (id 1 by convention; take the first).
        if (FindEntry(image, root, dir.Size, names, EntryKind.First, 0, wantDirectory: true) is not ({ } languages, _)) return null;
        // Level 3: language → IMAGE_RESOURCE_DATA_ENTRY. Wine ships one VS_VERSIONINFO per translation (kernel32
        // has 36, Arabic first); English is what lmv shows on an English system, so it is preferred.
        if (FindEntry(image, root, dir.Size, languages, EntryKind.Language, 0, wantDirectory: false) is not ({ } dataEntry, var language)) return null;
        Span<byte> entry = stackalloc byte[16];
        if (ResourceRead(image, root, dir.Size, dataEntry, entry) != entry.Length) return null;
        uint rva = PeImage.U32(entry, 0), size = PeImage.U32(entry, 4);
        if (rva == 0 || size == 0) return null;
        return (rva, size, (language & HighBit) == 0 ? (ushort)language : null);
    }

    private enum EntryKind { Id, First, Language }

    /// <summary>
    /// In the resource directory at <paramref name="directory"/> (offset from the resource directory start),
    /// the entry wanted: the id entry <paramref name="id"/>, the first entry, or the preferred language
    /// (<see cref="LanguageRank"/>), of those whose target is a subdirectory (or a data entry, by
    /// <paramref name="wantDirectory"/>). Returns the target's offset and the entry's name/id field. An entry
    /// pointing back at a directory already walked (a cycle) is only ever followed to the next level, and there
    /// are three levels, so no walk loops; at most <see cref="MaxDirectoryEntries"/> entries are looked at.
    /// </summary>
    private static (uint Target, uint Name)? FindEntry(PeImage image, uint root, uint resourceSize, uint directory,
        EntryKind kind, ushort id, bool wantDirectory)
    {
        Span<byte> header = stackalloc byte[16];
        if (ResourceRead(image, root, resourceSize, directory, header) != header.Length) return null;
        int named = PeImage.U16(header, 12), ids = PeImage.U16(header, 14);
        int total = Math.Min(named + ids, MaxDirectoryEntries);
        int first = kind == EntryKind.Id ? Math.Min(named, total) : 0;
        Span<byte> entry = stackalloc byte[8];
        (uint Target, uint Name)? best = null;
        int bestRank = -1;
        for (int i = first; i < total; i++)
        {
            ulong at = directory + 16UL + 8UL * (ulong)i;
            if (at > uint.MaxValue || ResourceRead(image, root, resourceSize, (uint)at, entry) != entry.Length) break;
            uint name = PeImage.U32(entry, 0), target = PeImage.U32(entry, 4);
            if (kind == EntryKind.Id && ((name & HighBit) != 0 || name != id)) continue;
            bool isDirectory = (target & HighBit) != 0;
            if (isDirectory != wantDirectory) continue;
            int rank = kind == EntryKind.Language ? LanguageRank(name) : int.MaxValue;
            if (rank > bestRank)
            {
                best = (target & ~HighBit, name);
                bestRank = rank;
            }
            if (rank >= 3 || kind != EntryKind.Language) break;
        }
        return best;
    }

    /// <summary>3 for en-US, 2 for another English, 1 for LANG_NEUTRAL, 0 otherwise (named entries too).</summary>
    private static int LanguageRank(uint name) =>
        (name & HighBit) != 0 ? 0 : name == 0x409 ? 3 : (name & 0x3FF) == 0x09 ? 2 : name == 0 ? 1 : 0;

    /// <summary>Reads at an offset inside the resource section (as the directory's offsets count).</summary>
    private static int ResourceRead(PeImage image, uint root, uint resourceSize, uint offset, Span<byte> buffer)
    {
        // Directory offsets are relative to the resource directory and must lie inside it.
        if (offset >= resourceSize || (uint)buffer.Length > resourceSize - offset) return 0;
        ulong rva = (ulong)root + offset;
        if (rva > uint.MaxValue) return 0;
        return image.Read((uint)rva, buffer);
    }

    /// <summary>
    /// Parses a VS_VERSIONINFO block (the RT_VERSION resource's data). Null when it is not one (too short,
    /// or its key is not "VS_VERSION_INFO").
    /// </summary>
    public static VersionResource? Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxVersionInfoBytes) data = data[..MaxVersionInfoBytes];
        if (!TryBlock(data, 0, data.Length, out var root) || root.Key != "VS_VERSION_INFO") return null;

        FixedFileInfo? fixedInfo = null;
        if (root.ValueLength >= FixedFileInfoSize && root.ValueStart + FixedFileInfoSize <= root.End)
        {
            var f = data.Slice(root.ValueStart, FixedFileInfoSize);
            if (PeImage.U32(f, 0) == FixedFileInfoSignature)
                fixedInfo = new FixedFileInfo(PeImage.U32(f, 8), PeImage.U32(f, 12), PeImage.U32(f, 16), PeImage.U32(f, 20),
                    PeImage.U32(f, 24), PeImage.U32(f, 28), PeImage.U32(f, 32), PeImage.U32(f, 36), PeImage.U32(f, 40),
                    ((ulong)PeImage.U32(f, 44) << 32) | PeImage.U32(f, 48));
        }

        var tables = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);
        var translations = new List<(ushort, ushort)>();
        int budget = MaxBlocks;
        // The root's value is VS_FIXEDFILEINFO, binary whatever wType says: children follow its wValueLength bytes.
        int childrenAt = Align4(root.ValueStart + root.ValueLength);
        foreach (var child in Children(data, childrenAt, root.End, budget))
        {
            if (--budget <= 0) break;
            if (child.Key == "StringFileInfo")
            {
                foreach (var table in Children(data, child.ChildrenStart(data), child.End, budget))
                {
                    if (--budget <= 0) break;
                    var strings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var s in Children(data, table.ChildrenStart(data), table.End, budget))
                    {
                        if (--budget <= 0) break;
                        if (s.Key.Length > 0) strings.TryAdd(s.Key, s.Text(data));
                    }
                    tables.TryAdd(table.Key, strings);
                }
            }
            else if (child.Key == "VarFileInfo")
            {
                foreach (var v in Children(data, child.ChildrenStart(data), child.End, budget))
                {
                    if (--budget <= 0) break;
                    if (v.Key != "Translation") continue;
                    int end = Math.Min(v.ValueStart + v.ValueLength, v.End);
                    for (int at = v.ValueStart; at + 4 <= end && translations.Count < 256; at += 4)
                        translations.Add((PeImage.U16(data, at), PeImage.U16(data, at + 2)));
                }
            }
        }
        return new VersionResource(fixedInfo, tables, translations);
    }

    private static string? ChooseTable(IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> tables,
        IReadOnlyList<(ushort Language, ushort CodePage)> translations)
    {
        if (tables.Count == 0) return null;
        foreach (var key in tables.Keys)
            if (key.StartsWith("0409", StringComparison.Ordinal)) return key;
        foreach (var (language, codePage) in translations)
        {
            string key = $"{language:X4}{codePage:X4}";
            if (tables.ContainsKey(key)) return tables.Keys.First(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
        }
        return tables.Keys.First();
    }

    /// <summary>One block header: wLength, wValueLength, wType, szKey; offsets into the data.</summary>
    private readonly record struct Block(int Start, int End, int ValueLength, int Type, string Key, int ValueStart)
    {
        /// <summary>
        /// Where the children start. The value is wValueLength bytes when binary (wType 0) and wValueLength
        /// characters when text (wType 1), but writers disagree (some count bytes for text), so for text the
        /// value is taken to run to its NUL.
        /// </summary>
        public int ChildrenStart(ReadOnlySpan<byte> data) =>
            Math.Min(End, Align4(ValueStart + (Type == 1 ? TextBytes(data) : ValueLength)));

        private int TextBytes(ReadOnlySpan<byte> data)
        {
            if (ValueLength == 0) return 0;
            int at = ValueStart;
            while (at + 2 <= End && (data[at] | data[at + 1]) != 0) at += 2;
            return Math.Min(at + 2, End) - ValueStart;
        }

        /// <summary>The value as text: UTF-16 to the first NUL within the block (wValueLength is not trusted).</summary>
        public string Text(ReadOnlySpan<byte> data)
        {
            if (ValueLength == 0 || ValueStart >= End) return "";
            return Utf16Z(data[ValueStart..End], out _);
        }
    }

    private static IEnumerable<Block> Children(ReadOnlySpan<byte> data, int start, int end, int budget)
    {
        var list = new List<Block>();
        int at = Align4(start);
        while (at < end && list.Count < budget)
        {
            if (!TryBlock(data, at, end, out var block)) break;
            list.Add(block);
            at = Align4(block.End);
        }
        return list;
    }

    /// <summary>Reads the block at <paramref name="at"/>, clipped to <paramref name="limit"/>. False when there is none.</summary>
    private static bool TryBlock(ReadOnlySpan<byte> data, int at, int limit, out Block block)
    {
        block = default;
        limit = Math.Min(limit, data.Length);
        if (at < 0 || at + 6 > limit) return false;
        int length = PeImage.U16(data, at);
        if (length < 6) return false; // a zero length would never advance
        int end = Math.Min(at + length, limit);
        int valueLength = PeImage.U16(data, at + 2);
        int type = PeImage.U16(data, at + 4);
        string key = Utf16Z(data[(at + 6)..end], out int keyBytes);
        int valueStart = Math.Min(end, Align4(at + 6 + keyBytes));
        block = new Block(at, end, valueLength, type, key, valueStart);
        return true;
    }

    /// <summary>UTF-16LE up to the first NUL; <paramref name="consumed"/> counts the bytes including the NUL.</summary>
    private static string Utf16Z(ReadOnlySpan<byte> bytes, out int consumed)
    {
        int chars = 0;
        while (2 * chars + 2 <= bytes.Length && (bytes[2 * chars] | bytes[2 * chars + 1]) != 0) chars++;
        bool terminated = 2 * chars + 2 <= bytes.Length;
        consumed = 2 * chars + (terminated ? 2 : 0);
        return Encoding.Unicode.GetString(bytes[..(2 * chars)]);
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
