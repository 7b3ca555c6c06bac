using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace DumpShell.Symbols;

/// <summary>Settings of a <see cref="SymbolStore"/>.</summary>
public sealed record SymbolStoreOptions
{
    /// <summary>
    /// The session cache: where servers with no cache of their own (no downstream store, no <c>cache*</c>
    /// before them) download to, and searched after the path's caches. Null: <see cref="SymbolPath.DefaultCacheDirectory"/>.
    /// </summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Settings of the HTTP client the store makes (ignored when a client is passed in).</summary>
    public SymbolServerOptions Server { get; init; } = new();

    /// <summary>Also look for the bare file name in plain folders (flat layout). Default true.</summary>
    public bool SearchFlat { get; init; } = true;

    /// <summary>
    /// Checks that a file found flat (by name only) is the one the key names (time stamp and size, GUID and
    /// age). Null: flat hits are returned as they are, with <see cref="SymbolSourceKind.FlatFolder"/> so the
    /// caller knows to check.
    /// </summary>
    public Func<string, SymbolKey, bool>? VerifyFlatMatch { get; init; }

    /// <summary>
    /// When the exact path is missing, match the name, id and file segments ignoring case (stores made on
    /// Windows keep the case of the first request). Default true; costs a directory listing per miss.
    /// </summary>
    public bool IgnoreCaseFallback { get; init; } = true;

    /// <summary>
    /// Called while a server download runs, on whatever thread the download runs on. (A lookup made where a
    /// <see cref="SymbolProgressRelay"/> is current also reports to that relay.)
    /// </summary>
    public Action<SymbolDownloadProgress>? Progress { get; init; }
}

/// <summary>Where a <see cref="SymbolStore"/> found a file.</summary>
public enum SymbolSourceKind
{
    None,
    /// <summary>A folder or local store in SymSrv layout (<c>name/id/file</c>, two-tier, or through file.ptr).</summary>
    Folder,
    /// <summary>A plain folder, by file name only: the key was not checked unless <see cref="SymbolStoreOptions.VerifyFlatMatch"/> is set.</summary>
    FlatFolder,
    /// <summary>A cache (downstream store, <c>cache*</c> folder, or the session cache).</summary>
    Cache,
    /// <summary>Downloaded from a symbol server into a cache during this lookup.</summary>
    Server,
}

public enum SymbolLookupStatus
{
    Found,
    NotFound,
    /// <summary>The name (from the dump) is not acceptable as a file name; nothing was looked up.</summary>
    InvalidName,
}

/// <summary>The result of a <see cref="SymbolStore"/> lookup.</summary>
/// <param name="Key">The key looked up; null for <see cref="SymbolLookupStatus.InvalidName"/>.</param>
/// <param name="Path">The local file when found.</param>
/// <param name="Location">The folder, cache or server URL where it was found.</param>
/// <param name="Message">Why it was not found or was rejected.</param>
/// <param name="Notes">What was tried that did not work out (server errors, unreachable folders, file.ptr messages).</param>
public sealed record SymbolLookupResult(
    SymbolLookupStatus Status,
    SymbolKey? Key,
    string? Path,
    SymbolSourceKind Source,
    string? Location,
    string? Message,
    IReadOnlyList<string> Notes)
{
    public bool Found => Status == SymbolLookupStatus.Found;
}

/// <summary>
/// Finds files on a <see cref="SymbolPath"/> by their SymSrv key: PE images by TimeDateStamp and
/// SizeOfImage, PDBs by GUID and age, Breakpad .sym files by debug file and id.
/// </summary>
/// <remarks>
/// <para>Order: first the local folders (plain folders and local upstream stores, in path order: SymSrv layout,
/// two-tier layout when the folder has <c>index2.txt</c>, <c>file.ptr</c>, then flat for plain folders);
/// then the caches (downstream stores, <c>cache*</c> folders, the session cache); then the HTTP servers, in
/// path order, each downloading into its cache (its first downstream store, else the nearest <c>cache*</c>
/// before it, else the session cache). So the network is asked only when no local copy exists.</para>
/// <para>Names from dumps are hostile: a name that is not a single plain file name (see
/// <see cref="SymbolKey"/>) gives <see cref="SymbolLookupStatus.InvalidName"/> and nothing is read or
/// requested. Every path is built by <see cref="SymbolKey"/> and checked to stay inside its folder.</para>
/// <para>Each key is looked up once: its result (the path, or not found) is kept in memory for the life of
/// the store. Cancelled lookups are not kept. A store is meant to live for a session; thread-safe.</para>
/// <para>Element paths written for Windows (<c>c:\symbols</c>, <c>\\server\share</c>) are skipped with a note
/// on other systems, so that they never turn into relative folders of the working directory.</para>
/// </remarks>
public sealed class SymbolStore : IDisposable
{
    private sealed record FolderSource(string Root, bool Plain);
    private sealed record HttpSource(string Url, string CacheRoot);

    private readonly List<FolderSource> _folders = [];
    private readonly List<string> _caches = [];
    private readonly List<HttpSource> _servers = [];
    private readonly List<string> _pathNotes = [];
    private readonly bool _ownsClient;
    private readonly ConcurrentDictionary<string, SymbolLookupResult> _results = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _keyLocks = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _twoTier = new(StringComparer.Ordinal);

    public SymbolPath SymbolPath { get; }
    public SymbolStoreOptions Options { get; }
    public SymbolServerClient Client { get; }

    /// <summary>The session cache (full path).</summary>
    public string CacheDirectory { get; }

    /// <summary>Elements of the path that cannot be used here (e.g. Windows paths on Linux).</summary>
    public IReadOnlyList<string> PathNotes => _pathNotes;

    /// <summary>The local folders searched first, in order.</summary>
    public IReadOnlyList<string> Folders => _folders.Select(f => f.Root).ToArray();

    /// <summary>The caches searched second, in order.</summary>
    public IReadOnlyList<string> Caches => _caches;

    /// <summary>The HTTP servers asked last, in order, each with the cache it downloads into.</summary>
    public IReadOnlyList<(string Url, string Cache)> Servers => _servers.Select(s => (s.Url, s.CacheRoot)).ToArray();

    /// <param name="path">The symbol path.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <param name="client">A shared HTTP client; null makes one (disposed with the store).</param>
    public SymbolStore(SymbolPath path, SymbolStoreOptions? options = null, SymbolServerClient? client = null)
    {
        SymbolPath = path ?? throw new ArgumentNullException(nameof(path));
        Options = options ?? new SymbolStoreOptions();
        CacheDirectory = Path.GetFullPath(Options.CacheDirectory ?? SymbolPath.DefaultCacheDirectory);
        _ownsClient = client is null;
        Client = client ?? new SymbolServerClient(Options.Server);
        Plan();
    }

    public void Dispose()
    {
        if (_ownsClient)
            Client.Dispose();
    }

    private void Plan()
    {
        string? currentCache = null;
        foreach (var element in SymbolPath.Elements)
        {
            switch (element)
            {
                case SymbolFolderElement folder:
                    if (Resolve(folder.Path, element) is { } root)
                        _folders.Add(new FolderSource(root, Plain: true));
                    break;
                case SymbolCacheElement cache:
                    currentCache = cache.IsDefault ? CacheDirectory : Resolve(cache.Directory, element);
                    if (currentCache is not null)
                        AddCache(currentCache);
                    break;
                case SymbolServerElement server:
                    var downstream = new List<string>();
                    foreach (string store in server.Downstream)
                    {
                        if (store.Length == 0)
                            downstream.Add(CacheDirectory);
                        else if (SymbolPath.IsHttpUrl(store))
                            _pathNotes.Add($"'{element}': the http store '{store}' is not the last one; only the last store can be a server.");
                        else if (Resolve(store, element) is { } local)
                            downstream.Add(local);
                    }
                    foreach (string d in downstream)
                        AddCache(d);
                    if (server.IsHttp)
                    {
                        if (Uri.TryCreate(server.Upstream, UriKind.Absolute, out _))
                            _servers.Add(new HttpSource(server.Upstream.TrimEnd('/'), downstream.FirstOrDefault() ?? currentCache ?? CacheDirectory));
                        else
                            _pathNotes.Add($"'{element}': '{server.Upstream}' is not a valid URL.");
                    }
                    else if (Resolve(server.Upstream, element) is { } upstream)
                    {
                        _folders.Add(new FolderSource(upstream, Plain: false));
                    }
                    break;
            }
        }
        AddCache(CacheDirectory);
    }

    private void AddCache(string directory)
    {
        if (!_caches.Contains(directory, PathComparer))
            _caches.Add(directory);
    }

    private static StringComparer PathComparer =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    private static readonly Regex WindowsOnlyPath = new(@"^([A-Za-z]:|\\\\)", RegexOptions.CultureInvariant);

    private string? Resolve(string text, SymbolPathElement element)
    {
        if (!OperatingSystem.IsWindows() && WindowsOnlyPath.IsMatch(text))
        {
            _pathNotes.Add($"'{element}': '{text}' is a Windows path; skipped on this system.");
            return null;
        }
        try
        {
            return Path.GetFullPath(text);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            _pathNotes.Add($"'{element}': '{text}' is not a usable path ({e.Message}).");
            return null;
        }
    }

    /// <summary>Forgets every remembered result (found and not found); the HTTP client's memory of misses stays.</summary>
    public void ClearMemory() => _results.Clear();

    // ---- lookups by the values a dump gives -------------------------------------------------------------

    /// <summary>A PE image by file name (from the module list), TimeDateStamp and SizeOfImage.</summary>
    public SymbolLookupResult FindImage(string fileName, uint timeDateStamp, uint sizeOfImage, CancellationToken cancellationToken = default) =>
        SymbolProgressRelay.Wait(FindImageAsync(fileName, timeDateStamp, sizeOfImage, cancellationToken));

    public Task<SymbolLookupResult> FindImageAsync(string fileName, uint timeDateStamp, uint sizeOfImage, CancellationToken cancellationToken = default) =>
        SymbolKey.TryForImage(fileName, timeDateStamp, sizeOfImage, out var key, out string? error)
            ? FindAsync(key!, cancellationToken)
            : Task.FromResult(Invalid(fileName, error!));

    /// <summary>A PDB by the file name of its CodeView record (just the name: see <see cref="SymbolKey.FileNameFromPath"/>), GUID and age.</summary>
    public SymbolLookupResult FindPdb(string pdbName, Guid guid, uint age, CancellationToken cancellationToken = default) =>
        SymbolProgressRelay.Wait(FindPdbAsync(pdbName, guid, age, cancellationToken));

    public Task<SymbolLookupResult> FindPdbAsync(string pdbName, Guid guid, uint age, CancellationToken cancellationToken = default) =>
        SymbolKey.TryForPdb(pdbName, guid, age, out var key, out string? error)
            ? FindAsync(key!, cancellationToken)
            : Task.FromResult(Invalid(pdbName, error!));

    /// <summary>A Breakpad symbol file by debug file name and debug id.</summary>
    public SymbolLookupResult FindBreakpad(string debugFile, string debugId, CancellationToken cancellationToken = default) =>
        SymbolProgressRelay.Wait(FindBreakpadAsync(debugFile, debugId, cancellationToken));

    public Task<SymbolLookupResult> FindBreakpadAsync(string debugFile, string debugId, CancellationToken cancellationToken = default) =>
        SymbolKey.TryForBreakpad(debugFile, debugId, out var key, out string? error)
            ? FindAsync(key!, cancellationToken)
            : Task.FromResult(Invalid(debugFile, error!));

    private static SymbolLookupResult Invalid(string? name, string error) =>
        new(SymbolLookupStatus.InvalidName, null, null, SymbolSourceKind.None, null,
            $"Not looked up: the name '{Printable(name)}' is not acceptable. {error}", []);

    private static string Printable(string? name)
    {
        if (name is null)
            return "(null)";
        string shown = new(name.Take(80).Select(c => char.IsControl(c) || char.GetUnicodeCategory(c) == System.Globalization.UnicodeCategory.Format ? '?' : c).ToArray());
        return name.Length > 80 ? shown + "…" : shown;
    }

    // ---- the lookup ------------------------------------------------------------------------------------

    public SymbolLookupResult Find(SymbolKey key, CancellationToken cancellationToken = default) =>
        SymbolProgressRelay.Wait(FindAsync(key, cancellationToken));

    /// <summary>Looks <paramref name="key"/> up (once per store; later calls return the remembered result).</summary>
    public async Task<SymbolLookupResult> FindAsync(SymbolKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        string memoryKey = key.RelativePath;
        if (_results.TryGetValue(memoryKey, out var known))
            return known;

        var gate = _keyLocks.GetOrAdd(memoryKey, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_results.TryGetValue(memoryKey, out known))
                return known;
            var result = await LookUpAsync(key, cancellationToken).ConfigureAwait(false);
            _results[memoryKey] = result;
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<SymbolLookupResult> LookUpAsync(SymbolKey key, CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        // The caller's relay (a cmdlet's pipeline thread) hears of the download too; see SymbolProgressRelay.
        var progress = Options.Progress;
        if (SymbolProgressRelay.Current is { } relay)
            progress = progress is null ? relay.Post : progress + relay.Post;

        foreach (var folder in _folders)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (FindInLayout(folder.Root, key, notes) is { } path)
                return Found(key, path, SymbolSourceKind.Folder, folder.Root, notes);
            if (folder.Plain && Options.SearchFlat && FindFlat(folder.Root, key, notes) is { } flat)
                return Found(key, flat, SymbolSourceKind.FlatFolder, folder.Root, notes);
        }

        foreach (string cache in _caches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (FindInLayout(cache, key, notes) is { } path)
                return Found(key, path, SymbolSourceKind.Cache, cache, notes);
        }

        foreach (var server in _servers)
        {
            var download = await Client.DownloadAsync(server.Url, key, server.CacheRoot, progress, cancellationToken).ConfigureAwait(false);
            if (download.Succeeded)
                return Found(key, download.Path!, download.Status == SymbolDownloadStatus.Cached ? SymbolSourceKind.Cache : SymbolSourceKind.Server,
                    download.Status == SymbolDownloadStatus.Cached ? server.CacheRoot : server.Url, notes);
            if (download.Status != SymbolDownloadStatus.NotFound)
                notes.Add($"{server.Url}: {download.Status}{(download.Message is null ? "" : ": " + download.Message)}");
        }

        string where = _folders.Count + _caches.Count + _servers.Count == 0 ? "The symbol path is empty." : "Not on the symbol path.";
        return new SymbolLookupResult(SymbolLookupStatus.NotFound, key, null, SymbolSourceKind.None, null, where, notes);
    }

    private static SymbolLookupResult Found(SymbolKey key, string path, SymbolSourceKind source, string location, List<string> notes) =>
        new(SymbolLookupStatus.Found, key, path, source, location, null, notes);

    /// <summary>SymSrv layout (<c>root/name/id/file</c>), two-tier (<c>root/na/name/id/file</c> with index2.txt), file.ptr, case fallback.</summary>
    private string? FindInLayout(string root, SymbolKey key, List<string> notes)
    {
        if (!Directory.Exists(root))
            return null;
        string exact = StorePaths.Combine(root, key);
        if (File.Exists(exact))
            return exact;

        string layoutRoot = root;
        if (IsTwoTier(root))
        {
            string tier = key.Name.Length >= 2 ? key.Name[..2] : key.Name;
            if (SymbolKey.IsValidName(tier))
            {
                layoutRoot = StorePaths.Combine(root, tier);
                string twoTier = StorePaths.Combine(layoutRoot, key);
                if (File.Exists(twoTier))
                    return twoTier;
            }
        }

        string? idDirectory = Path.GetDirectoryName(StorePaths.Combine(layoutRoot, key));
        if (idDirectory is not null && !Directory.Exists(idDirectory) && Options.IgnoreCaseFallback)
        {
            if (FindEntryIgnoringCase(layoutRoot, key.Name, directory: true) is { } nameDirectory
                && FindEntryIgnoringCase(nameDirectory, key.Id, directory: true) is { } idDir)
                idDirectory = idDir;
        }
        if (idDirectory is null || !Directory.Exists(idDirectory))
            return null;

        string candidate = Path.Combine(idDirectory, key.FileName);
        if (File.Exists(candidate))
            return candidate;
        if (Options.IgnoreCaseFallback && FindEntryIgnoringCase(idDirectory, key.FileName, directory: false) is { } other)
            return other;

        // symstore /p: the store holds a pointer to the file instead of the file.
        string pointer = Path.Combine(idDirectory, "file.ptr");
        if (File.Exists(pointer))
            return FollowLocalPointer(pointer, notes);
        return null;
    }

    private static string? FollowLocalPointer(string pointerFile, List<string> notes)
    {
        try
        {
            var info = new FileInfo(pointerFile);
            if (info.Length > 64 * 1024)
            {
                notes.Add($"{pointerFile}: too large for a file.ptr.");
                return null;
            }
            var (target, message) = SymbolServerClient.ParseFilePointer(File.ReadAllText(pointerFile));
            if (message is not null)
            {
                notes.Add($"{pointerFile}: MSG: {message}");
                return null;
            }
            if (string.IsNullOrEmpty(target) || SymbolPath.IsHttpUrl(target) || !Path.IsPathFullyQualified(target))
            {
                notes.Add($"{pointerFile}: PATH '{target}' is not a full local path.");
                return null;
            }
            if (target.EndsWith('_'))
            {
                notes.Add($"{pointerFile}: points to a compressed file ({target}); not supported.");
                return null;
            }
            if (File.Exists(target))
                return target;
            notes.Add($"{pointerFile}: points to '{target}', which does not exist.");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            notes.Add($"{pointerFile}: {e.Message}");
            return null;
        }
    }

    /// <summary>Flat: <c>root/file</c>, <c>root/ext/file</c>, <c>root/symbols/ext/file</c> (the dbghelp order is the reverse of importance; any hit is equal).</summary>
    private string? FindFlat(string root, SymbolKey key, List<string> notes)
    {
        var candidates = new List<string> { StorePaths.Combine(root, key.FileName) };
        string ext = Path.GetExtension(key.FileName).TrimStart('.');
        if (ext.Length > 0 && SymbolKey.IsValidName(ext))
        {
            candidates.Add(StorePaths.Combine(root, ext, key.FileName));
            candidates.Add(StorePaths.Combine(root, "symbols", ext, key.FileName));
        }
        foreach (string candidate in candidates)
        {
            string? path = File.Exists(candidate) ? candidate : null;
            if (path is null && Options.IgnoreCaseFallback && Directory.Exists(Path.GetDirectoryName(candidate)))
                path = FindEntryIgnoringCase(Path.GetDirectoryName(candidate)!, key.FileName, directory: false);
            if (path is null)
                continue;
            if (Options.VerifyFlatMatch is { } verify && !verify(path, key))
            {
                notes.Add($"{path}: has the name but not the key {key.Id}.");
                continue;
            }
            return path;
        }
        return null;
    }

    private bool IsTwoTier(string root) =>
        _twoTier.GetOrAdd(root, r => File.Exists(Path.Combine(r, "index2.txt")));

    private static readonly EnumerationOptions IgnoreCaseEnumeration = new()
    {
        MatchCasing = MatchCasing.CaseInsensitive,
        MatchType = MatchType.Simple,
        RecurseSubdirectories = false,
        IgnoreInaccessible = true,
        AttributesToSkip = 0,
    };

    /// <summary>An entry of <paramref name="folder"/> named <paramref name="name"/> in any case (the name has no wildcard: keys reject '*' and '?').</summary>
    private static string? FindEntryIgnoringCase(string folder, string name, bool directory)
    {
        try
        {
            if (!Directory.Exists(folder))
                return null;
            var entries = directory
                ? Directory.EnumerateDirectories(folder, name, IgnoreCaseEnumeration)
                : Directory.EnumerateFiles(folder, name, IgnoreCaseEnumeration);
            return entries.FirstOrDefault();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
