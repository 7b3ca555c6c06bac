using System.Globalization;

namespace DumpShell.Symbols;

/// <summary>What a <see cref="SymbolKey"/> names.</summary>
public enum SymbolKeyKind
{
    /// <summary>A PE image (exe, dll, sys), indexed by TimeDateStamp and SizeOfImage.</summary>
    Image,
    /// <summary>A PDB, indexed by its GUID (or old NB10 signature) and age.</summary>
    Pdb,
    /// <summary>A Breakpad text symbol file (.sym), indexed by debug file and debug id.</summary>
    Breakpad,
}

/// <summary>
/// The SymSrv key of a file: <c>&lt;Name&gt;/&lt;Id&gt;/&lt;FileName&gt;</c>, the relative path of the file in
/// a symbol store and on a symbol server.
/// </summary>
/// <remarks>
/// <para>Keys are made only by the factory methods, which check the names. Names come from dumps and are
/// hostile: a key's name is a single file name, at most <see cref="MaxNameLength"/> characters, with no
/// path separator, no drive or stream colon, no "..", no control or invisible format characters, none of
/// <c>\ / : * ? " &lt; &gt; |</c>, no leading or trailing space, no trailing dot and no Windows device
/// name (CON, NUL, COM1…). So <see cref="RelativePath"/> can never leave the folder it is joined to.
/// The id is made from numbers (images, PDBs) or checked to be hex digits (Breakpad).</para>
/// <para>Image: <c>name/&lt;TimeDateStamp %08X&gt;&lt;SizeOfImage %X&gt;/name</c>.
/// PDB: <c>name.pdb/&lt;GUID, 32 uppercase hex digits (the "N" format)&gt;&lt;Age %X&gt;/name.pdb</c>.
/// Breakpad: <c>debugfile/&lt;debug id&gt;/&lt;debugfile without .pdb&gt;.sym</c>.</para>
/// </remarks>
public sealed record SymbolKey
{
    /// <summary>Longest name accepted (the usual file-name limit of Windows and Linux file systems).</summary>
    public const int MaxNameLength = 255;

    /// <summary>Longest Breakpad debug id accepted (ids are 33 hex digits for PDBs and ELF build ids).</summary>
    public const int MaxBreakpadIdLength = 64;

    private static readonly string[] DeviceNames =
    [
        "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
        "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "COM\u00B9", "COM\u00B2", "COM\u00B3",
        "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "LPT\u00B9", "LPT\u00B2", "LPT\u00B3",
    ];

    public SymbolKeyKind Kind { get; }

    /// <summary>The first path segment: the file name the key is filed under.</summary>
    public string Name { get; }

    /// <summary>The second path segment: the index (time stamp and size, GUID and age, or debug id).</summary>
    public string Id { get; }

    /// <summary>The third path segment: the file itself (the same as <see cref="Name"/> except for Breakpad).</summary>
    public string FileName { get; }

    /// <summary><c>Name/Id/FileName</c>, with '/' separators (the server URL suffix).</summary>
    public string RelativePath => $"{Name}/{Id}/{FileName}";

    private SymbolKey(SymbolKeyKind kind, string name, string id, string fileName)
    {
        Kind = kind;
        Name = name;
        Id = id;
        FileName = fileName;
    }

    public override string ToString() => RelativePath;

    /// <summary>The key of a PE image. Throws <see cref="ArgumentException"/> when the name is not acceptable.</summary>
    public static SymbolKey ForImage(string fileName, uint timeDateStamp, uint sizeOfImage) =>
        TryForImage(fileName, timeDateStamp, sizeOfImage, out var key, out string? error) ? key! : throw new ArgumentException(error, nameof(fileName));

    public static bool TryForImage(string? fileName, uint timeDateStamp, uint sizeOfImage, out SymbolKey? key, out string? error)
    {
        key = null;
        error = NameProblem(fileName);
        if (error is not null)
            return false;
        key = new SymbolKey(SymbolKeyKind.Image, fileName!, FormattableString.Invariant($"{timeDateStamp:X8}{sizeOfImage:X}"), fileName!);
        return true;
    }

    /// <summary>The key of a PDB 7.0 file (RSDS record: GUID and age).</summary>
    public static SymbolKey ForPdb(string pdbName, Guid guid, uint age) =>
        TryForPdb(pdbName, guid, age, out var key, out string? error) ? key! : throw new ArgumentException(error, nameof(pdbName));

    public static bool TryForPdb(string? pdbName, Guid guid, uint age, out SymbolKey? key, out string? error)
    {
        key = null;
        error = NameProblem(pdbName);
        if (error is not null)
            return false;
        string id = guid.ToString("N").ToUpperInvariant() + age.ToString("X", CultureInfo.InvariantCulture);
        key = new SymbolKey(SymbolKeyKind.Pdb, pdbName!, id, pdbName!);
        return true;
    }

    /// <summary>The key of a PDB 2.0 file (NB10 record: 32-bit signature and age): <c>%08X%X</c>.</summary>
    public static SymbolKey ForPdb(string pdbName, uint signature, uint age)
    {
        string? error = NameProblem(pdbName);
        if (error is not null)
            throw new ArgumentException(error, nameof(pdbName));
        return new SymbolKey(SymbolKeyKind.Pdb, pdbName, FormattableString.Invariant($"{signature:X8}{age:X}"), pdbName);
    }

    /// <summary>
    /// The key of a Breakpad symbol file: <c>debugFile/DEBUGID/debugFile-without-.pdb.sym</c>. The id is
    /// upper-cased (the Breakpad convention).
    /// </summary>
    public static SymbolKey ForBreakpad(string debugFile, string debugId) =>
        TryForBreakpad(debugFile, debugId, out var key, out string? error) ? key! : throw new ArgumentException(error, nameof(debugFile));

    public static bool TryForBreakpad(string? debugFile, string? debugId, out SymbolKey? key, out string? error)
    {
        key = null;
        error = NameProblem(debugFile);
        if (error is not null)
            return false;
        if (string.IsNullOrEmpty(debugId) || debugId.Length > MaxBreakpadIdLength || !debugId.All(char.IsAsciiHexDigit))
        {
            error = $"The Breakpad debug id is not 1 to {MaxBreakpadIdLength} hex digits.";
            return false;
        }
        string stem = debugFile!.EndsWith(".pdb", StringComparison.OrdinalIgnoreCase) ? debugFile[..^4] : debugFile;
        string fileName = stem + ".sym";
        error = NameProblem(fileName);
        if (error is not null)
            return false;
        key = new SymbolKey(SymbolKeyKind.Breakpad, debugFile, debugId.ToUpperInvariant(), fileName);
        return true;
    }

    /// <summary>
    /// The last component of a path as a CodeView record or a module list writes it (either separator):
    /// <c>C:\build\x\foo.pdb</c> → <c>foo.pdb</c>. The result still has to pass the key checks.
    /// </summary>
    public static string FileNameFromPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        int cut = path.LastIndexOfAny(['\\', '/']);
        return cut < 0 ? path : path[(cut + 1)..];
    }

    /// <summary>True when <paramref name="name"/> is acceptable as a key's name.</summary>
    public static bool IsValidName(string? name) => NameProblem(name) is null;

    /// <summary>Why <paramref name="name"/> is not acceptable as a single file name in a store, or null when it is.</summary>
    public static string? NameProblem(string? name)
    {
        if (string.IsNullOrEmpty(name))
            return "The file name is empty.";
        if (name.Length > MaxNameLength)
            return $"The file name is longer than {MaxNameLength} characters.";
        if (name.Contains("..", StringComparison.Ordinal))
            return "The file name contains \"..\".";
        if (name[0] == ' ' || name[^1] == ' ' || name[^1] == '.')
            return "The file name starts or ends with a space or ends with a dot.";
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            switch (c)
            {
                case '\\' or '/':
                    return "The file name contains a path separator.";
                case ':' or '*' or '?' or '"' or '<' or '>' or '|':
                    return $"The file name contains the character '{c}'.";
            }
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }
            var category = char.GetUnicodeCategory(c);
            if (c < 0x20 || category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                    or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                return $"The file name contains the control or format character U+{(int)c:X4}.";
        }
        int dot = name.IndexOf('.');
        string stem = (dot < 0 ? name : name[..dot]).TrimEnd(' ');
        if (DeviceNames.Contains(stem, StringComparer.OrdinalIgnoreCase))
            return $"The file name is the Windows device name {stem.ToUpperInvariant()}.";
        return null;
    }
}
