using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;

namespace DumpShell.Commands;

/// <summary>
/// The dumps opened in one runspace, by full path, so a pipeline of cmdlets maps and parses a dump once.
/// A file that changed on disk since it was opened is opened again.
/// </summary>
internal sealed class DumpCache
{
    private sealed record Entry(Dump Dump, DateTime LastWriteUtc, long Length);

    private static readonly ConditionalWeakTable<Runspace, DumpCache> PerRunspace = new();
    private static readonly DumpCache NoRunspace = new();

    private readonly ConcurrentDictionary<string, Entry> _open = new(PathComparer);

    internal static StringComparer PathComparer =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>The cache of the runspace running the current pipeline.</summary>
    public static DumpCache Current =>
        Runspace.DefaultRunspace is { } rs ? PerRunspace.GetValue(rs, _ => new DumpCache()) : NoRunspace;

    public Dump Open(string fullPath)
    {
        var info = new FileInfo(fullPath);
        if (_open.TryGetValue(fullPath, out var entry))
        {
            if (info.Exists && entry.LastWriteUtc == info.LastWriteTimeUtc && entry.Length == info.Length) return entry.Dump;
            Close(fullPath);
        }
        var dump = Dump.Open(fullPath);
        var added = _open.GetOrAdd(fullPath, new Entry(dump, info.LastWriteTimeUtc, info.Length));
        if (!ReferenceEquals(added.Dump, dump)) dump.Dispose();
        return added.Dump;
    }

    /// <summary>The dump already open for this path (and unchanged on disk), or null; opens nothing.</summary>
    public Dump? TryGet(string fullPath)
    {
        if (!_open.TryGetValue(fullPath, out var entry)) return null;
        var info = new FileInfo(fullPath);
        return info.Exists && entry.LastWriteUtc == info.LastWriteTimeUtc && entry.Length == info.Length ? entry.Dump : null;
    }

    /// <summary>Releases one dump; true when it was open.</summary>
    public bool Close(string fullPath)
    {
        if (!_open.TryRemove(fullPath, out var entry)) return false;
        entry.Dump.Dispose();
        return true;
    }

    public IReadOnlyCollection<string> OpenPaths => _open.Keys.ToArray();

    public void CloseAll()
    {
        foreach (var path in OpenPaths) Close(path);
    }
}
