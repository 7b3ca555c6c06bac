namespace DumpShell.Benchmarks;

/// <summary>Where the benchmarks find their dumps.</summary>
internal static class DumpFiles
{
    /// <summary>Overrides the dump corpus folder (default: shared/dumps beside the repository).</summary>
    public const string CorpusVariable = "DUMPSHELL_DUMPS";

    /// <summary>
    /// The repository root: the first folder above the running assembly that holds DumpShell.slnx.
    /// BenchmarkDotNet runs each benchmark from a generated project below artifacts/, so walking up
    /// from AppContext.BaseDirectory finds the same root as from the host.
    /// </summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared real-dump corpus: $DUMPSHELL_DUMPS, else ../shared/dumps from the repository root.</summary>
    public static string Corpus =>
        Environment.GetEnvironmentVariable(CorpusVariable) is { Length: > 0 } v
            ? Path.GetFullPath(v)
            : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "dumps"));

    /// <summary>A small real dump: Wine, x64, a spinning thread (~420 KB).</summary>
    public static string SmallDump => Require(Path.Combine(Corpus, "wine", "spin_x64.dmp"));

    /// <summary>Every *.dmp under the corpus, sorted so every run opens them in the same order.</summary>
    public static string[] AllDumps()
    {
        if (!Directory.Exists(Corpus))
            throw new DirectoryNotFoundException($"No dump corpus at '{Corpus}' (set {CorpusVariable} to its folder).");
        var files = Directory.GetFiles(Corpus, "*.dmp", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        if (files.Length == 0) throw new FileNotFoundException($"No *.dmp file under '{Corpus}'.");
        return files;
    }

    private static string Require(string path) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"Benchmark dump missing: '{path}' (set {CorpusVariable}).", path);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DumpShell.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException(
            $"No folder holding DumpShell.slnx above '{AppContext.BaseDirectory}'; run the benchmarks from the repository.");
    }
}
