using BenchmarkDotNet.Attributes;

namespace DumpShell.Benchmarks;

/// <summary>The two dumps of the open-and-list benchmarks.</summary>
public enum DumpKind
{
    /// <summary>wine/spin_x64.dmp from the shared corpus: a real ~420 KB Wine minidump.</summary>
    Small,
    /// <summary><see cref="LargeDump"/>: 4 GiB of Memory64 ranges (1024 x 4 MiB), 50 threads, 12 modules.</summary>
    Full4GiB,
}

/// <summary>Shared setup: the path of the dump a benchmark case opens, the 4 GiB one written at setup.</summary>
public abstract class DumpBenchmarkBase
{
    private LargeDump? _large;

    [Params(DumpKind.Small, DumpKind.Full4GiB)]
    public DumpKind Dump { get; set; }

    protected string DumpPath { get; private set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        if (Dump == DumpKind.Full4GiB)
        {
            _large = LargeDump.Create();
            DumpPath = _large.Path;
        }
        else
        {
            DumpPath = DumpFiles.SmallDump;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _large?.Dispose();
        _large = null;
    }
}

/// <summary>
/// Benchmark 1: Dump.Open, every property of every thread, Dispose (Get-DumpThread without the
/// PowerShell pipeline). The acceptance bar: the 4 GiB dump within 2x of the small one.
/// </summary>
[MemoryDiagnoser]
public class OpenListThreads : DumpBenchmarkBase
{
    [Benchmark]
    public long DumpShell() => Readers.DumpShellThreads(DumpPath);
}

/// <summary>
/// Benchmark 2: open + list modules and threads, DumpShell against ClrMD's own minidump reader
/// (the baseline) on the same dumps, so the Ratio column compares them.
/// </summary>
[MemoryDiagnoser]
public class ModulesAndThreadsVsClrMD : DumpBenchmarkBase
{
    [Benchmark(Baseline = true)]
    public long ClrMD() => Readers.ClrMDModulesAndThreads(DumpPath);

    [Benchmark]
    public long DumpShell() => Readers.DumpShellModulesAndThreads(DumpPath);
}

/// <summary>
/// Benchmark 3: Get-DumpInfo on every *.dmp of the shared corpus; one operation opens all of them
/// (the Dumps/s column turns the mean into dumps per second). A file DumpShell refuses to open counts,
/// as the cmdlet's error would.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(DumpsPerSecondConfig))]
public class GetInfoAllDumps
{
    private string[] _files = [];

    [GlobalSetup]
    public void Setup() => _files = DumpFiles.AllDumps();

    [Benchmark]
    public long DumpShell()
    {
        long h = 0;
        foreach (var file in _files)
        {
            try { h += Readers.DumpShellInfo(file); }
            catch (Format.DumpFormatException e) { h += e.Message.Length; }
        }
        return h;
    }
}
