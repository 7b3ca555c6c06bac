using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DumpShell.Analysis;
using DumpShell.Symbols;

namespace DumpShell.Benchmarks;

/// <summary>
/// Fleet triage (issue 4): Get-DumpAnalysis over every dump of ../shared/dumps, the set repeated 20 times, as the
/// cmdlet's batch runs it without the PowerShell pipeline: per dump, open, load its symbols from the shared symbol
/// store (the wine corpus's symbols/ folder), run every detector and build the DumpAnalysis, then close the dump and
/// its symbols (bounded memory). ThrottleLimit 1 is sequential; 2 keeps two dumps in flight on worker threads (the
/// cmdlet's pool), results taken in input order. One operation is the whole fleet, measured once (Monitoring).
/// The Dumps/s column is the fleet's dump count over the mean; the global cleanup prints the peak working set and
/// the managed heap (GC.GetTotalMemory) of the benchmark process.
/// <code>dotnet run -c Release --project DumpShell/DumpShell.Benchmarks -- --filter '*Fleet*'</code>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 3, id: "Fleet")]
[Config(typeof(FleetColumnsConfig))]
public class FleetTriage
{
    public const int Repeats = 20;

    private string[] _fleet = [];
    private SymbolStore? _store;
    private long _peakManaged;

    [Params(1, 2)]
    public int ThrottleLimit { get; set; }

    /// <summary>Dumps in one operation: the corpus times <see cref="Repeats"/>.</summary>
    public static int FleetSize => DumpFiles.AllDumps().Length * Repeats;

    [GlobalSetup]
    public void Setup()
    {
        var files = DumpFiles.AllDumps();
        _fleet = Enumerable.Repeat(files, Repeats).SelectMany(f => f).ToArray();
        _store = new SymbolStore(SymbolPath.Parse(Path.Combine(DumpFiles.Corpus, "wine", "symbols")));
    }

    [Benchmark]
    public int AnalyzeFleet()
    {
        int buckets = 0;
        var running = new Queue<Task<string?>>();
        foreach (string file in _fleet)
        {
            if (ThrottleLimit == 1)
            {
                if (AnalyzeOne(file) is not null) buckets++;
                continue;
            }
            while (running.Count >= ThrottleLimit)
                if (running.Dequeue().GetAwaiter().GetResult() is not null) buckets++;
            string f = file;
            running.Enqueue(Task.Run(() => AnalyzeOne(f)));
        }
        while (running.Count > 0)
            if (running.Dequeue().GetAwaiter().GetResult() is not null) buckets++;
        return buckets;
    }

    /// <summary>One dump as the cmdlet's batch does it; null when the dump cannot be opened (the batch goes on).</summary>
    private string? AnalyzeOne(string file)
    {
        Dump dump;
        try
        {
            dump = Dump.Open(file);
        }
        catch (Exception e) when (e is DumpShell.Format.DumpFormatException or IOException)
        {
            return null;
        }
        using (dump)
        using (var symbols = new DumpSymbols(dump, _store))
        {
            string bucket = DumpAnalyzer.Analyze(dump, PatternOptions.Default, symbols).FailureBucket;
            long managed = GC.GetTotalMemory(false);
            if (managed > Interlocked.Read(ref _peakManaged)) Interlocked.Exchange(ref _peakManaged, managed);
            return bucket;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.Dispose();
        using var self = Process.GetCurrentProcess();
        Console.WriteLine($"// Fleet ThrottleLimit={ThrottleLimit}: {_fleet.Length} dumps per operation; peak working set " +
                          $"{self.PeakWorkingSet64 / (1024.0 * 1024):0.0} MiB; peak managed heap seen {_peakManaged / (1024.0 * 1024):0.0} MiB; " +
                          $"managed heap now {GC.GetTotalMemory(true) / (1024.0 * 1024):0.0} MiB");
    }
}

/// <summary>Adds Dumps/s (fleet size over the mean) to the default columns.</summary>
public sealed class FleetColumnsConfig : ManualConfig
{
    public FleetColumnsConfig() => AddColumn(new DumpsPerSecondColumn());

    private sealed class DumpsPerSecondColumn() : CountColumn(perSecond: true)
    {
        public override string Id => "DumpsPerSecond";
        public override string ColumnName => "Dumps/s";
        public override string Legend => $"Dumps analysed per second (the corpus x {FleetTriage.Repeats} over the mean)";
        protected override bool AppliesTo(BenchmarkCase benchmarkCase) => true;
        protected override long? CountOf(BenchmarkCase benchmarkCase) => FleetTriage.FleetSize;
        protected override string NoMean => "-";
        protected override string FormatRate(double perSecond, long count) => perSecond.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
    }
}
