using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>
/// The runspace's symbol path (Set-DumpSymbolPath; _NT_SYMBOL_PATH when none was set), its one symbol
/// store and cache, and each open dump's loaded symbols under it.
/// </summary>
internal sealed class SymbolSession
{
    private static readonly ConditionalWeakTable<Runspace, SymbolSession> PerRunspace = new();
    private static readonly SymbolSession NoRunspace = new();

    private readonly object _lock = new();
    private SymbolPath? _path;
    private SymbolStore? _store;
    private ConditionalWeakTable<Dump, DumpSymbols> _perDump = new();
    private readonly Dictionary<string, SymbolStore?> _pathStores = new(StringComparer.Ordinal);

    public static SymbolSession Current =>
        Runspace.DefaultRunspace is { } rs ? PerRunspace.GetValue(rs, _ => new SymbolSession()) : NoRunspace;

    /// <summary>The path in effect: the one set for the session, else the environment's.</summary>
    public SymbolPath Path
    {
        get { lock (_lock) return _path ??= SymbolPath.FromEnvironment(); }
    }

    public void SetPath(SymbolPath path)
    {
        lock (_lock)
        {
            _path = path;
            _store = null;
            _perDump = new();
        }
    }

    /// <summary>Forgets loaded symbols and remembered misses (.reload); the path stays.</summary>
    public void Reload()
    {
        lock (_lock)
        {
            _store = null;
            _perDump = new();
            foreach (var store in _pathStores.Values) store?.Dispose();
            _pathStores.Clear();
        }
    }

    /// <summary>
    /// A symbol path as typed, with its plain folders resolved against PowerShell's current location (as every
    /// other path of these cmdlets is); srv*, cache* and URL elements are kept as they are. Null stays null.
    /// </summary>
    public static string? ResolveFolders(System.Management.Automation.PSCmdlet cmdlet, string? text)
    {
        if (text is null) return null;
        var parts = text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Contains('*') || p.Contains("://", StringComparison.Ordinal) ? p : cmdlet.GetUnresolvedProviderPathFromPSPath(p));
        return string.Join(';', parts);
    }

    /// <summary>The symbols of <paramref name="dump"/> under the session's path, or under <paramref name="overridePath"/> for one call.</summary>
    public DumpSymbols For(Dump dump, string? overridePath = null)
    {
        if (overridePath is not null)
        {
            // One store per -SymbolPath text for the session: its cache use and remembered misses carry over between calls.
            SymbolStore? store;
            lock (_lock)
                if (!_pathStores.TryGetValue(overridePath, out store))
                    _pathStores[overridePath] = store = StoreFor(SymbolPath.Parse(overridePath));
            return new DumpSymbols(dump, store);
        }
        lock (_lock)
        {
            _store ??= StoreFor(Path);
            var store = _store;
            return _perDump.GetValue(dump, d => new DumpSymbols(d, store));
        }
    }

    /// <summary>The session's symbol store (made once), or null when no path is set: for batches that load symbols per dump and drop them.</summary>
    public SymbolStore? SharedStore()
    {
        lock (_lock) return _store ??= StoreFor(Path);
    }

    /// <summary>A store for a path given to one cmdlet call (the caller disposes it), or null for an empty path.</summary>
    public static SymbolStore? StoreFor(string path) => StoreFor(SymbolPath.Parse(path));

    private static SymbolStore? StoreFor(SymbolPath path) => path.IsEmpty ? null : new SymbolStore(path);
}
