using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace DumpShell.Benchmarks;

/// <summary>
/// DumpShell's benchmarks. From the repository root:
/// <code>
/// dotnet run -c Release --project DumpShell/DumpShell.Benchmarks -- --filter '*'           # the suite, a few minutes
/// dotnet run -c Release --project DumpShell/DumpShell.Benchmarks -- --filter '*' --job dry # smoke: each case once
/// dotnet run -c Release --project DumpShell/DumpShell.Benchmarks -- --check                # the dumps open; no timing
/// </code>
/// Any other BenchmarkDotNet option works too (--list flat, --filter '*ClrMD*', --job short...).
/// Without --job every benchmark runs the "Quick" job: 1 launch, 3 warmup and 10 measured iterations,
/// short enough for the whole suite to finish in a few minutes on a 2-core machine.
/// Results go to BenchmarkDotNet.Artifacts/ in the current folder (ignored by git).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Contains("--check")) return Check();

        IConfig config = DefaultConfig.Instance;
        if (!args.Any(a => a.Equals("--job", StringComparison.OrdinalIgnoreCase) || a.Equals("-j", StringComparison.Ordinal)))
            config = config.AddJob(QuickJob);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    /// <summary>ShortRun with 10 measured iterations: enough for a stable mean of these millisecond-scale operations.</summary>
    public static readonly Job QuickJob = Job.Default
        .WithLaunchCount(1)
        .WithWarmupCount(3)
        .WithIterationCount(10)
        .WithId("Quick");

    /// <summary>Opens every dump the benchmarks use once with each reader and prints what it found.</summary>
    private static int Check()
    {
        Console.WriteLine($"repository: {DumpFiles.RepoRoot}");
        Console.WriteLine($"corpus:     {DumpFiles.Corpus}");
        using var large = LargeDump.Create();
        Console.WriteLine($"4 GiB dump: {large.Path}, {new FileInfo(large.Path).Length:N0} bytes");
        foreach (var path in new[] { DumpFiles.SmallDump, large.Path })
        {
            using (var dump = Dump.Open(path))
            {
                var info = dump.GetInfo();
                Console.WriteLine($"{Path.GetFileName(path)}: DumpShell {dump.Modules.Count} modules, {dump.Threads.Count} threads, " +
                    $"{info.MemoryRangeCount} ranges, {info.MemoryBytes:N0} memory bytes, {dump.Problems.Count} problems");
                foreach (var p in dump.Problems) Console.WriteLine($"  problem: {p}");
                var t = dump.Threads[0];
                Console.WriteLine($"  thread 0: teb 0x{t.Teb:x} ip 0x{t.InstructionPointer:x} sp 0x{t.StackPointer:x} " +
                    $"stack {t.StackLimit:x}..{t.StackBase:x} ({t.StackBoundsSource}) {t.Registers.Count} registers");
            }
            var (modules, threads) = Readers.ClrMDCounts(path);
            Console.WriteLine($"  ClrMD {modules} modules, {threads} threads; " +
                $"checksums DumpShell {Readers.DumpShellModulesAndThreads(path)}, ClrMD {Readers.ClrMDModulesAndThreads(path)}");
        }
        int opened = 0, refused = 0;
        foreach (var file in DumpFiles.AllDumps())
        {
            try { Readers.DumpShellInfo(file); opened++; }
            catch (Format.DumpFormatException e) { refused++; Console.WriteLine($"  refused {file}: {e.Message}"); }
        }
        Console.WriteLine($"GetInfo: {opened} dumps opened, {refused} refused");
        return 0;
    }
}

/// <summary>Adds the Dumps/s column to <see cref="GetInfoAllDumps"/>.</summary>
public sealed class DumpsPerSecondConfig : ManualConfig
{
    public DumpsPerSecondConfig() => AddColumn(new DumpsPerSecondColumn());
}

/// <summary>Dumps per second: the corpus's file count over the mean time of one operation (all files).</summary>
public sealed class DumpsPerSecondColumn() : CountColumn(perSecond: true)
{
    public override string Id => nameof(DumpsPerSecondColumn);
    public override string ColumnName => "Dumps/s";
    public override string Legend => "Dumps opened and summarized (GetInfo) per second: corpus file count / Mean";
    protected override bool AppliesTo(BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => benchmarkCase.Descriptor.Type == typeof(GetInfoAllDumps);
    protected override long? CountOf(BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => DumpFiles.AllDumps().Length;
    protected override string FormatRate(double perSecond, long count) => $"{perSecond:N0} ({count} files)";
}
