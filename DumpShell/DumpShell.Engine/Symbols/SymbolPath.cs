using System.Text;

namespace DumpShell.Symbols;

/// <summary>
/// A symbol path in the syntax of the Windows debuggers (WinDbg, cdb, dbghelp): elements separated by
/// <c>;</c>. Each element is a plain folder, a <c>cache*</c> directive or a symbol server
/// (<c>srv*</c>, <c>symsrv*DLL*</c>).
/// </summary>
/// <remarks>
/// <para>Parsing never fails and never touches the file system or the network: an element is only text
/// until a <see cref="SymbolStore"/> uses it. Empty elements (<c>a;;b</c>, a trailing <c>;</c>) are
/// dropped; whitespace around an element is trimmed. Keywords are matched case-insensitively and kept as
/// written, so <see cref="ToString"/> gives back the input (less empty elements and trimmed whitespace),
/// and <c>Parse(p.ToString())</c> has the same elements as <c>p</c>.</para>
/// <para>Examples (from the debugger documentation):
/// <c>C:\Dir1;C:\Dir2\DirA</c>,
/// <c>srv*c:\mysymbols*https://msdl.microsoft.com/download/symbols</c> (c:\mysymbols is the downstream
/// store, the cache),
/// <c>srv*https://msdl.microsoft.com/download/symbols</c> (the default cache),
/// <c>srv**https://…</c> (the default downstream store, spelled out),
/// <c>cache*c:\myCache;SRV*https://…</c> (a cache for the elements after it),
/// <c>symsrv*symsrv.dll*c:\localcache*\\server\share</c>.</para>
/// </remarks>
public sealed class SymbolPath
{
    /// <summary>Microsoft's public symbol server; what a bare <c>srv*</c> means (as after <c>.symfix</c>).</summary>
    public const string MicrosoftSymbolServer = "https://msdl.microsoft.com/download/symbols";

    /// <summary>Environment variable that overrides <see cref="DefaultCacheDirectory"/>.</summary>
    public const string CacheDirectoryVariable = "DUMPSHELL_SYMBOL_CACHE";

    /// <summary>The main symbol path variable of the Windows debuggers.</summary>
    public const string SymbolPathVariable = "_NT_SYMBOL_PATH";

    /// <summary>The alternate symbol path variable; searched before <see cref="SymbolPathVariable"/>.</summary>
    public const string AltSymbolPathVariable = "_NT_ALT_SYMBOL_PATH";

    public static SymbolPath Empty { get; } = new([]);

    public IReadOnlyList<SymbolPathElement> Elements { get; }

    public bool IsEmpty => Elements.Count == 0;

    public SymbolPath(IEnumerable<SymbolPathElement> elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        Elements = elements.ToArray();
    }

    /// <summary>
    /// The per-user cache used when the path names none: <c>$DUMPSHELL_SYMBOL_CACHE</c> when set, otherwise
    /// <c>&lt;LocalApplicationData&gt;/DumpShell/symbols</c> (<c>%LOCALAPPDATA%\DumpShell\symbols</c> on
    /// Windows, <c>~/.local/share/DumpShell/symbols</c> on Linux). Nothing creates it until a file is
    /// downloaded into it.
    /// </summary>
    public static string DefaultCacheDirectory => DefaultCacheDirectoryFrom(Environment.GetEnvironmentVariable);

    internal static string DefaultCacheDirectoryFrom(Func<string, string?> getEnvironmentVariable)
    {
        string? overridden = getEnvironmentVariable(CacheDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(overridden))
            return Path.GetFullPath(overridden.Trim());
        string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        if (string.IsNullOrEmpty(local))
            local = Path.Combine(Path.GetTempPath(), "DumpShell-" + Environment.UserName);
        return Path.Combine(local, "DumpShell", "symbols");
    }

    /// <summary>Parses a symbol path; null or blank text gives <see cref="Empty"/>.</summary>
    public static SymbolPath Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return Empty;
        var elements = new List<SymbolPathElement>();
        foreach (string raw in text.Split(';'))
        {
            string part = raw.Trim();
            if (part.Length > 0)
                elements.Add(SymbolPathElement.Parse(part));
        }
        return new SymbolPath(elements);
    }

    /// <summary>
    /// The path of the process environment: <c>_NT_ALT_SYMBOL_PATH</c>, then <c>_NT_SYMBOL_PATH</c>.
    /// Empty when neither is set.
    /// </summary>
    public static SymbolPath FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary><see cref="FromEnvironment()"/> with the variables read through <paramref name="getEnvironmentVariable"/>.</summary>
    public static SymbolPath FromEnvironment(Func<string, string?> getEnvironmentVariable)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        return Combine(Parse(getEnvironmentVariable(AltSymbolPathVariable)), Parse(getEnvironmentVariable(SymbolPathVariable)));
    }

    /// <summary>The elements of every path, in order.</summary>
    public static SymbolPath Combine(params SymbolPath[] paths) => new(paths.SelectMany(p => p.Elements));

    public override string ToString() => string.Join(";", Elements.Select(e => e.ToString()));

    /// <summary>True when <paramref name="text"/> starts with <c>http://</c> or <c>https://</c>.</summary>
    public static bool IsHttpUrl(string text) =>
        text.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ||
        text.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
}

/// <summary>One <c>;</c>-separated element of a <see cref="SymbolPath"/>.</summary>
public abstract record SymbolPathElement
{
    /// <summary>The element as it appears in a path; <see cref="SymbolPath.ToString"/> joins these.</summary>
    public abstract override string ToString();

    /// <summary>Parses one element (already trimmed, not empty).</summary>
    public static SymbolPathElement Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int star = text.IndexOf('*');
        if (star > 0)
        {
            string keyword = text[..star];
            string rest = text[(star + 1)..];
            if (keyword.Equals("srv", StringComparison.OrdinalIgnoreCase))
                return new SymbolServerElement(keyword, null, SplitStores(rest));
            if (keyword.Equals("symsrv", StringComparison.OrdinalIgnoreCase))
            {
                // symsrv*ServerDll*store*store...
                int next = rest.IndexOf('*');
                string dll = next < 0 ? rest : rest[..next];
                string[] stores = next < 0 ? [] : rest[(next + 1)..].Split('*');
                return new SymbolServerElement(keyword, dll, stores);
            }
            if (keyword.Equals("cache", StringComparison.OrdinalIgnoreCase))
                return new SymbolCacheElement(keyword, rest);
        }
        else if (star < 0 && SymbolPath.IsHttpUrl(text))
        {
            // A bare URL (accepted by Visual Studio, not by WinDbg): a server with the default cache.
            return new SymbolServerElement("", null, [text]);
        }
        return new SymbolFolderElement(text);
    }

    private static string[] SplitStores(string text) => text.Length == 0 ? [] : text.Split('*');
}

/// <summary>
/// A plain folder. A <see cref="SymbolStore"/> looks in it in SymSrv layout (<c>name/id/name</c>, and the
/// two-tier layout when it has <c>index2.txt</c>) and flat (<c>name</c>, <c>ext/name</c>,
/// <c>symbols/ext/name</c>, as dbghelp does).
/// </summary>
public sealed record SymbolFolderElement(string Path) : SymbolPathElement
{
    public override string ToString() => Path;
}

/// <summary>
/// <c>cache*dir</c>: <paramref name="Directory"/> caches what servers after this element download.
/// An empty directory (<c>cache*</c>) means the default cache.
/// </summary>
/// <param name="Keyword">"cache" as written (any case).</param>
public sealed record SymbolCacheElement(string Keyword, string Directory) : SymbolPathElement
{
    public SymbolCacheElement(string directory) : this("cache", directory) { }

    /// <summary>True for <c>cache*</c> with no folder: the default cache.</summary>
    public bool IsDefault => Directory.Length == 0;

    public override string ToString() => Keyword + "*" + Directory;
}

/// <summary>
/// A symbol server: <c>srv*[downstream*…]upstream</c> or <c>symsrv*ServerDll*[downstream*…]upstream</c>.
/// The last store is the upstream one (an http(s) URL or a folder / share in SymSrv layout); the stores
/// before it are downstream stores (caches), nearest first. An empty downstream store (<c>srv**url</c>)
/// means the default cache. A bare <c>srv*</c> means Microsoft's public symbol server with the default cache.
/// </summary>
/// <param name="Keyword">"srv" or "symsrv" as written (any case); "" for a bare URL element.</param>
/// <param name="ServerDll">For <c>symsrv*</c>: the server DLL named (symsrv.dll); null for <c>srv*</c>.</param>
/// <param name="Stores">The <c>*</c>-separated stores as written.</param>
public sealed record SymbolServerElement(string Keyword, string? ServerDll, IReadOnlyList<string> Stores) : SymbolPathElement
{
    public SymbolServerElement(string upstream, params string[] downstream)
        : this("srv", null, [.. downstream, upstream]) { }

    /// <summary>Where files come from: the last store, or Microsoft's server for a bare <c>srv*</c>.</summary>
    public string Upstream => Stores.Count == 0 || (Stores.Count == 1 && Stores[0].Length == 0)
        ? SymbolPath.MicrosoftSymbolServer
        : Stores[^1];

    /// <summary>The caches, nearest first; "" is the default cache. Empty when none is named.</summary>
    public IReadOnlyList<string> Downstream => Stores.Count <= 1 ? [] : Stores.Take(Stores.Count - 1).ToArray();

    /// <summary>True when the upstream store is an http(s) URL.</summary>
    public bool IsHttp => SymbolPath.IsHttpUrl(Upstream);

    public override string ToString()
    {
        if (Keyword.Length == 0)
            return string.Join("*", Stores);
        var sb = new StringBuilder(Keyword).Append('*');
        if (ServerDll is not null)
        {
            sb.Append(ServerDll);
            if (Stores.Count > 0)
                sb.Append('*');
        }
        sb.AppendJoin('*', Stores);
        return sb.ToString();
    }

    public bool Equals(SymbolServerElement? other) =>
        other is not null && Keyword == other.Keyword && ServerDll == other.ServerDll && Stores.SequenceEqual(other.Stores);

    public override int GetHashCode() => HashCode.Combine(Keyword, ServerDll, Stores.Count > 0 ? Stores[^1] : null);
}
