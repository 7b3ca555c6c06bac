using System.Text.Json;

namespace DumpShell.Tests;

/// <summary>
/// Where the shared test dumps live: <c>&lt;repo&gt;/../shared/dumps</c>, found from the test binary's folder.
/// </summary>
public static class TestData
{
    private static readonly Lazy<string> RepoRootLazy = new(FindRepoRoot);

    /// <summary>The folder that holds DumpShell.slnx.</summary>
    public static string RepoRoot => RepoRootLazy.Value;

    /// <summary>The shared real-dump corpus (MANIFEST.md, breakpad/, lldb/, rust-minidump/, wine/).</summary>
    public static string SharedDumps => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "dumps"));

    /// <summary>The Wine-made dumps and their .truth.json files.</summary>
    public static string Wine => Path.Combine(SharedDumps, "wine");

    /// <summary>The path of a Wine dump by name, with or without ".dmp".</summary>
    public static string WineDump(string dumpName) => Path.Combine(Wine, StripDmp(dumpName) + ".dmp");

    /// <summary>A dump of the MANIFEST corpus by its relative path, e.g. "breakpad/minidump2.dmp".</summary>
    public static string Shared(string relativePath) => Path.Combine(SharedDumps, relativePath);

    /// <summary>The names (without ".dmp") of every Wine dump that has a truth file, sorted.</summary>
    public static IReadOnlyList<string> WineDumpNames() =>
        Directory.EnumerateFiles(Wine, "*.truth.json")
            .Select(p => Path.GetFileName(p)[..^".truth.json".Length])
            .Where(n => File.Exists(Path.Combine(Wine, n + ".dmp")))
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();

    /// <summary>Every .dmp file under the shared corpus, as paths relative to <see cref="SharedDumps"/> with '/' separators.</summary>
    public static IReadOnlyList<string> AllSharedDumps() =>
        Directory.EnumerateFiles(SharedDumps, "*.dmp", SearchOption.AllDirectories)
            .Where(p => !p.Contains(Path.DirectorySeparatorChar + "symbols" + Path.DirectorySeparatorChar))
            .Select(p => Path.GetRelativePath(SharedDumps, p).Replace('\\', '/'))
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToArray();

    private static readonly Dictionary<string, JsonElement> TruthCache = new();

    /// <summary>The parsed <c>wine/&lt;dumpName&gt;.truth.json</c> (root element).</summary>
    public static JsonElement Truth(string dumpName)
    {
        string name = StripDmp(dumpName);
        lock (TruthCache)
        {
            if (TruthCache.TryGetValue(name, out var cached)) return cached;
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Wine, name + ".truth.json")));
            var root = doc.RootElement.Clone();
            TruthCache[name] = root;
            return root;
        }
    }

    private static string StripDmp(string name) =>
        name.EndsWith(".dmp", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DumpShell.slnx")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No folder containing DumpShell.slnx above '{AppContext.BaseDirectory}'.");
    }
}
