using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Benchmarks;

/// <summary>
/// Benchmark 4 (issue 3: "frames per second for unwinding and symbolizing all threads of the largest dump"):
/// Get-DumpStack on every thread without the PowerShell pipeline. For each thread, the walk (the exception thread
/// from the exception context, .ecxr, as the cmdlet does) and DumpSymbols.Annotate, with the wine corpus's
/// symbols/ folder (SymSrv layout: the scenario executables and their PDBs) as the symbol path.
/// <list type="bullet">
/// <item>Cold: a new SymbolStore, Dump and DumpSymbols per operation, so each one finds and opens the image files
/// and PDBs again (as Get-DumpStack -SymbolPath on a dump just opened). The files stay in the OS page cache.</item>
/// <item>Warm: the dump and its symbols opened in the global setup and used once there, so images, unwind data and
/// PDBs are loaded; an operation is the walk and the annotation only (a second Get-DumpStack in a session).</item>
/// </list>
/// The Frames column is the frame count of one operation (all threads; counted once per process and printed to the
/// log by the global setup with where the walks stopped and how many frames got names), the Frames/s column that
/// count over the mean. The deep stack is walked twice: with Get-DumpStack's default -MaxFrames 256, which cuts it,
/// and with -MaxFrames 100000, which walks all of it.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(StackColumnsConfig))]
public class StackWalkAllThreads
{
    private Dump? _dump;
    private SymbolStore? _store;
    private DumpSymbols? _symbols;

    /// <summary>
    /// The largest dump of the corpus (30 MB, full memory) and the one with the deepest stack, walked with
    /// Get-DumpStack's default -MaxFrames (256) and with the largest (100 000: its whole stack, 6 878 frames).
    /// </summary>
    public static IEnumerable<StackCase> Cases =>
    [
        new(StackCorpus.LargestDump, StackCorpus.MaxFrames),
        new(StackCorpus.DeepestDump, StackCorpus.MaxFrames),
        new(StackCorpus.DeepestDump, Machine.Unwind.StackWalkOptions.MaxFramesLimit),
    ];

    [ParamsSource(nameof(Cases))]
    public StackCase Case { get; set; } = null!;

    [GlobalSetup(Target = nameof(Cold))]
    public void SetupCold() => StackCorpus.Report(Case);

    [GlobalSetup(Target = nameof(Warm))]
    public void SetupWarm()
    {
        var stats = StackCorpus.Report(Case);
        _store = StackCorpus.NewStore();
        _dump = DumpShell.Dump.Open(Case.Path);
        _symbols = new DumpSymbols(_dump, _store);
        var (frames, _) = StackCorpus.WalkAndAnnotate(_dump, _symbols, Case.MaxFrames);
        if (frames != stats.Frames)
            throw new InvalidOperationException($"{Case}: the warm walk found {frames} frames, the cold one {stats.Frames}.");
    }

    [GlobalCleanup(Target = nameof(Warm))]
    public void CleanupWarm()
    {
        _symbols?.Dispose();
        _dump?.Dispose();
        _store?.Dispose();
        (_symbols, _dump, _store) = (null, null, null);
    }

    [Benchmark]
    public long Cold()
    {
        using var store = StackCorpus.NewStore();
        using var dump = DumpShell.Dump.Open(Case.Path);
        using var symbols = new DumpSymbols(dump, store);
        return StackCorpus.WalkAndAnnotate(dump, symbols, Case.MaxFrames).Checksum;
    }

    [Benchmark]
    public long Warm() => StackCorpus.WalkAndAnnotate(_dump!, _symbols!, Case.MaxFrames).Checksum;
}

/// <summary>A <see cref="StackWalkAllThreads"/> case: a wine dump and Get-DumpStack's -MaxFrames.</summary>
public sealed record StackCase(string Dump, int MaxFrames)
{
    internal string Path => StackCorpus.WineDump(Dump);

    public override string ToString() => MaxFrames == StackCorpus.MaxFrames ? Dump : $"{Dump} -MaxFrames {MaxFrames}";
}

/// <summary>
/// Benchmark 5 (issue 3: "symbolizing every frame of every thread of a 100-thread dump, symbols loaded, takes
/// milliseconds"): DumpSymbols.Annotate over 100 threads' stacks, with every module's symbols already loaded.
/// No dump of the corpus has 100 threads (the most is 11), so the global setup walks every thread of the wine *_pdb_x64 dumps
/// (the scenarios built with PDBs) and repeats those real stacks, in order, until there are
/// <see cref="StackCorpus.TargetThreads"/> of them; a repeated stack is annotated again as a new one would be
/// (DumpSymbols keeps no per-address cache). Each dump has its own DumpSymbols, all over one SymbolStore.
/// The walks use Get-DumpStack's default -MaxFrames (256). The Mean is the total time for all 100 threads; the Frames
/// column says how many frames that is, Frames/s the rate.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(StackColumnsConfig))]
public class StackSymbolize100Threads
{
    private readonly List<Dump> _dumps = [];
    private readonly List<DumpSymbols> _symbols = [];
    private SymbolStore? _store;
    private (DumpSymbols Symbols, IReadOnlyList<StackFrame> Frames)[] _threads = [];

    [GlobalSetup]
    public void Setup()
    {
        _store = StackCorpus.NewStore();
        var real = new List<(DumpSymbols, IReadOnlyList<StackFrame>)>();
        foreach (string path in StackCorpus.PdbDumps())
        {
            var dump = DumpShell.Dump.Open(path);
            _dumps.Add(dump);
            var symbols = new DumpSymbols(dump, _store);
            _symbols.Add(symbols);
            foreach (var frames in StackCorpus.Walk(dump, symbols))
            {
                symbols.Annotate(frames); // loads every module's symbols
                real.Add((symbols, frames));
            }
        }
        _threads = StackCorpus.RepeatTo(real, StackCorpus.TargetThreads).ToArray();
        int count = _threads.Sum(t => t.Frames.Count);
        var expected = StackCorpus.Symbolize100Stats();
        Console.WriteLine($"// {nameof(StackSymbolize100Threads)}: {real.Count} real threads in {_dumps.Count} *_pdb dumps, " +
            $"repeated to {_threads.Length} threads, {count} frames; {expected.Summary}");
        if (count != expected.Frames)
            throw new InvalidOperationException($"The setup walked {count} frames, the column counts {expected.Frames}.");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var s in _symbols) s.Dispose();
        foreach (var d in _dumps) d.Dispose();
        _store?.Dispose();
        _symbols.Clear();
        _dumps.Clear();
        _store = null;
    }

    [Benchmark]
    public long Annotate()
    {
        long h = 0;
        foreach (var (symbols, frames) in _threads)
        {
            symbols.Annotate(frames);
            h += frames[^1].Symbol?.Length ?? 0;
        }
        return h;
    }
}

/// <summary>What the stack benchmarks walk and how many frames that gives (computed once per process).</summary>
internal static class StackCorpus
{
    public const string LargestDump = "deadlock_cs_x64_full.dmp";
    public const string DeepestDump = "stack_overflow_x64.dmp";
    public const int TargetThreads = 100;
    /// <summary>Get-DumpStack's default -MaxFrames.</summary>
    public const int MaxFrames = 256;

    private static readonly ConcurrentDictionary<string, StackStats> Stats = new(StringComparer.Ordinal);
    private static readonly Lazy<StackStats> Symbolize100 = new(ComputeSymbolize100);

    public static string Wine => Path.Combine(DumpFiles.Corpus, "wine");

    /// <summary>The symbol path of every walk: the wine corpus's symbols/ folder (SymSrv layout).</summary>
    public static string SymbolFolder =>
        Directory.Exists(Path.Combine(Wine, "symbols")) ? Path.Combine(Wine, "symbols")
            : throw new DirectoryNotFoundException($"No symbol folder at '{Path.Combine(Wine, "symbols")}'.");

    public static string WineDump(string name)
    {
        string path = Path.Combine(Wine, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"Benchmark dump missing: '{path}'.", path);
    }

    /// <summary>The wine dumps built with PDBs (*_pdb_x64.dmp), sorted.</summary>
    public static string[] PdbDumps()
    {
        var files = Directory.GetFiles(Wine, "*_pdb_*.dmp");
        Array.Sort(files, StringComparer.Ordinal);
        return files.Length > 0 ? files : throw new FileNotFoundException($"No *_pdb_*.dmp under '{Wine}'.");
    }

    public static SymbolStore NewStore() => new(SymbolPath.Parse(SymbolFolder));

    /// <summary>Every thread's stack, as Get-DumpStack walks them (not yet annotated).</summary>
    public static IEnumerable<IReadOnlyList<StackFrame>> Walk(Dump dump, DumpSymbols symbols, int maxFrames = MaxFrames)
    {
        var options = symbols.WalkOptions(maxFrames);
        foreach (var thread in dump.Threads)
        {
            // The exception thread's own context is inside the exception dispatcher; its story starts at .ecxr.
            yield return thread.IsExceptionThread && dump.ExceptionContext is { } ecxr
                ? dump.WalkStack(thread.Id, ecxr, options)
                : dump.WalkStack(thread, options);
        }
    }

    /// <summary>Walks and annotates every thread; the frame count and a checksum of what was found.</summary>
    public static (int Frames, long Checksum) WalkAndAnnotate(Dump dump, DumpSymbols symbols, int maxFrames)
    {
        int count = 0;
        long h = 0;
        foreach (var frames in Walk(dump, symbols, maxFrames))
        {
            symbols.Annotate(frames);
            count += frames.Count;
            foreach (var f in frames) h += (long)f.InstructionPointer + (f.Symbol?.Length ?? 0) + (f.Line ?? 0);
        }
        return (count, h);
    }

    public static IEnumerable<T> RepeatTo<T>(IReadOnlyList<T> items, int count)
    {
        if (items.Count == 0) throw new InvalidOperationException("No thread to repeat.");
        for (int i = 0; i < Math.Max(count, items.Count); i++) yield return items[i % items.Count];
    }

    /// <summary>The frames of one <see cref="StackWalkAllThreads"/> operation; printed to the log.</summary>
    public static StackStats Report(StackCase c)
    {
        var stats = For(c);
        Console.WriteLine($"// {c}: {stats.Summary}");
        return stats;
    }

    public static StackStats For(StackCase c) => Stats.GetOrAdd(c.ToString(), _ =>
    {
        using var store = NewStore();
        using var dump = Dump.Open(c.Path);
        using var symbols = new DumpSymbols(dump, store);
        var threads = new List<WalkedThread>();
        foreach (var frames in Walk(dump, symbols, c.MaxFrames))
        {
            symbols.Annotate(frames);
            threads.Add(new WalkedThread(dump, symbols, frames));
        }
        return StackStats.Of(threads, threads.Count);
    });

    public static StackStats Symbolize100Stats() => Symbolize100.Value;

    private static StackStats ComputeSymbolize100()
    {
        using var store = NewStore();
        var real = new List<WalkedThread>();
        var all = new List<DumpSymbols>();
        var dumps = new List<Dump>();
        try
        {
            foreach (string path in PdbDumps())
            {
                var dump = Dump.Open(path);
                dumps.Add(dump);
                var symbols = new DumpSymbols(dump, store);
                all.Add(symbols);
                foreach (var frames in Walk(dump, symbols))
                {
                    symbols.Annotate(frames);
                    real.Add(new WalkedThread(dump, symbols, frames));
                }
            }
            return StackStats.Of(RepeatTo(real, TargetThreads).ToList(), real.Count);
        }
        finally
        {
            foreach (var s in all) s.Dispose();
            foreach (var d in dumps) d.Dispose();
        }
    }
}

/// <summary>One walked, annotated thread with the dump and symbols it came from.</summary>
internal readonly record struct WalkedThread(Dump Dump, DumpSymbols Symbols, IReadOnlyList<StackFrame> Frames);

/// <summary>Counts of one set of walked, annotated stacks (computed while their dumps are open).</summary>
internal sealed record StackStats(int Threads, int Frames, string Summary)
{
    public static StackStats Of(IReadOnlyList<WalkedThread> threads, int realThreads)
    {
        var frames = threads.SelectMany(t => t.Frames).ToList();
        int noModule = frames.Count(f => f.Function is null && f.Offset is null);
        int noFunction = frames.Count(f => f.Function is null);
        int withLine = frames.Count(f => f.Line is not null);
        string trust = string.Join(", ", frames.GroupBy(f => f.Trust).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        // Where the names came from: the symbol source of each frame's module, counted by frame.
        var sources = new Dictionary<string, int>(StringComparer.Ordinal);
        var noName = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in threads)
        {
            foreach (var f in t.Frames)
            {
                ulong lookup = f.Frame > 0 && f.InstructionPointer > 0 ? f.InstructionPointer - 1 : f.InstructionPointer;
                var m = t.Dump.ModuleAt(lookup);
                string source = m is null ? "no module" : t.Symbols.For(m).Source.ToString();
                sources[source] = sources.GetValueOrDefault(source) + 1;
                if (f.Function is null)
                {
                    string where = m?.Name ?? "no module";
                    noName[where] = noName.GetValueOrDefault(where) + 1;
                }
            }
        }
        string bySource = string.Join(", ", sources.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"));
        string unnamed = noName.Count == 0 ? "none"
            : string.Join(", ", noName.OrderByDescending(p => p.Value).Take(6).Select(p => $"{p.Key} {p.Value}"));
        var depths = threads.Select(t => t.Frames.Count).ToList();
        string stops = string.Join("; ", threads.Select(t => Shorten(t.Frames[^1].StopReason)).GroupBy(s => s)
            .OrderByDescending(g => g.Count()).Take(4).Select(g => $"{g.Count()}x \"{g.Key}\""));
        string summary = $"{threads.Count} threads ({realThreads} real), {frames.Count} frames (depth {depths.Min()}..{depths.Max()}, " +
            $"mean {depths.Average():F1}); without a function name {noFunction} (outside every module {noModule}; by module: {unnamed}); " +
            $"with a source line {withLine}; frames by module symbol source: {bySource}; trust: {trust}; last frames: {stops}";
        return new StackStats(threads.Count, frames.Count, summary);
    }

    private static string Shorten(string? text) => text is null ? "(no stop reason)" : text.Length <= 100 ? text : text[..100] + "...";
}

/// <summary>Adds the Frames and Frames/s columns to the stack benchmarks.</summary>
public sealed class StackColumnsConfig : ManualConfig
{
    public StackColumnsConfig()
    {
        SummaryStyle = SummaryStyle.Default.WithMaxParameterColumnWidth(48);
        AddColumn(new StackFramesColumn(perSecond: false));
        AddColumn(new StackFramesColumn(perSecond: true));
    }
}

/// <summary>
/// The frames one operation walks or annotates (counted once per process, in the host as in the benchmark's global
/// setup), or that count over the mean time of the operation.
/// </summary>
public sealed class StackFramesColumn(bool perSecond) : CountColumn(perSecond)
{
    public override string Id => nameof(StackFramesColumn) + (PerSecond ? ".PerSecond" : ".Count");
    public override string ColumnName => PerSecond ? "Frames/s" : "Frames";
    public override string Legend => PerSecond
        ? "Stack frames walked and/or symbolized per second: Frames / Mean"
        : "Stack frames one operation walks and/or symbolizes (all threads)";
    protected override bool AppliesTo(BenchmarkCase benchmarkCase) => FramesOf(benchmarkCase) is not null;
    protected override long? CountOf(BenchmarkCase benchmarkCase) => FramesOf(benchmarkCase);

    private static int? FramesOf(BenchmarkCase benchmarkCase)
    {
        var type = benchmarkCase.Descriptor.Type;
        if (type == typeof(StackWalkAllThreads))
            return benchmarkCase.Parameters[nameof(StackWalkAllThreads.Case)] is StackCase c ? StackCorpus.For(c).Frames : null;
        if (type == typeof(StackSymbolize100Threads)) return StackCorpus.Symbolize100Stats().Frames;
        return null;
    }
}
