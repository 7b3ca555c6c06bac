using System.Diagnostics;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using DumpShell.Managed;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Benchmarks;

/// <summary>
/// Benchmark (issue 7: "heap objects per second for -Statistics over the largest generated dump, beside the same count
/// done with ClrMD's own DataTarget.LoadDump in the same run"). Get-DumpHeap -Statistics' work without the PowerShell
/// pipeline: <see cref="ClrSession.HeapStatistics"/> (ClrMD over DumpShell's own reader), and the same per-type count
/// (count and total size per method table) with ClrMD reading the core itself (DataTarget.LoadDump). Both load the
/// DAC of the runtime the benchmark runs on (the one the target ran on), by path.
/// <list type="bullet">
/// <item>Cold: open the core, create the runtime, walk the heap, close (Get-DumpHeap -Statistics on a dump just opened).</item>
/// <item>Warm: the runtime made in the global setup; an operation is the heap walk and the count only.</item>
/// </list>
/// The core is made in the global setup as DumpShell.Tests' CoreDumpFixture makes it: the test targets "heap" and
/// "deadlock" built into a temporary folder and run with createdump enabled (DOTNET_DbgMiniDumpType=2, with the heap);
/// the larger core is used, the folder deleted in the global cleanup. The Objects column is the heap's object count
/// (counted in the setup, which checks both readers agree, and passed to the host in a small file under artifacts/),
/// Objects/s that count over the mean.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(HeapColumnsConfig))]
public class ManagedHeapStatistics
{
    private GeneratedCore? _core;
    private Dump? _dump;
    private ClrSession? _session;
    private DataTarget? _target;
    private ClrRuntime? _runtime;

    [GlobalSetup]
    public void Setup()
    {
        _core = GeneratedCore.MakeLargest();
        long dumpShell = DumpShellCount(_core, out var dumpShellTypes);
        long clrmd = ClrMDCount(_core, out var clrmdTypes);
        Console.WriteLine($"// {_core}: DumpShell {dumpShell:N0} objects in {dumpShellTypes} types, ClrMD {clrmd:N0} objects in {clrmdTypes} types");
        if (dumpShell != clrmd || dumpShellTypes != clrmdTypes)
            throw new InvalidOperationException($"The readers disagree: DumpShell {dumpShell} objects / {dumpShellTypes} types, ClrMD {clrmd} / {clrmdTypes}.");
        HeapColumnsConfig.Save(dumpShell, $"{Path.GetFileName(_core.CorePath)} ({_core.Target}, {new FileInfo(_core.CorePath).Length / 1e6:N0} MB)");

        _dump = DumpShell.Dump.Open(_core.CorePath);
        _session = ClrSession.For(_dump, _core.DacPath);
        _ = _session.HeapStatistics(); // the runtime created, the heap walked once
        _target = DataTarget.LoadDump(_core.CorePath);
        _runtime = _target.ClrVersions[0].CreateRuntime(_core.DacPath, ignoreMismatch: true);
        _ = Count(_runtime, out _);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runtime?.Dispose();
        _target?.Dispose();
        if (_dump is not null)
        {
            ClrSession.Release(_dump);
            _dump.Dispose();
        }
        _core?.Dispose();
        (_runtime, _target, _session, _dump, _core) = (null, null, null, null, null);
    }

    [Benchmark(Baseline = true)]
    public long ClrMDLoadDumpCold() => ClrMDCount(_core!, out _);

    [Benchmark]
    public long DumpShellStatisticsCold() => DumpShellCount(_core!, out _);

    [Benchmark]
    public long ClrMDLoadDumpWarm() => Count(_runtime!, out _);

    [Benchmark]
    public long DumpShellStatisticsWarm() => _session!.HeapStatistics().Sum(s => s.Count);

    /// <summary>Get-DumpHeap -Statistics on a dump just opened: the objects counted and the number of types.</summary>
    private static long DumpShellCount(GeneratedCore core, out int types)
    {
        using var dump = DumpShell.Dump.Open(core.CorePath);
        try
        {
            var stats = ClrSession.For(dump, core.DacPath).HeapStatistics();
            types = stats.Count;
            return stats.Sum(s => s.Count);
        }
        finally
        {
            ClrSession.Release(dump);
        }
    }

    /// <summary>The same count with ClrMD reading the core itself.</summary>
    private static long ClrMDCount(GeneratedCore core, out int types)
    {
        using var target = DataTarget.LoadDump(core.CorePath);
        using var runtime = target.ClrVersions[0].CreateRuntime(core.DacPath, ignoreMismatch: true);
        return Count(runtime, out types);
    }

    /// <summary>Per method table: count and total size, as ClrSession.HeapStatistics counts (one walk, one entry per type).</summary>
    private static long Count(ClrRuntime runtime, out int types)
    {
        var counts = new Dictionary<ulong, (long Count, ulong Size)>();
        long total = 0;
        foreach (var obj in runtime.Heap.EnumerateObjects())
        {
            ulong size = obj.Size;
            ulong mt = obj.Type?.MethodTable ?? 0;
            counts.TryGetValue(mt, out var e);
            counts[mt] = (e.Count + 1, e.Size + size);
            total++;
        }
        types = counts.Count;
        return total;
    }
}

/// <summary>
/// A core file made for the benchmark: a test target of DumpShell.Tests/TestTargets built and run with createdump enabled,
/// as DumpShell.Tests' CoreDumpFixture does it (a small copy of its steps; the build goes to a temporary folder with its
/// own obj/, so it never touches the tests' build of the same target). Dispose deletes the folder.
/// </summary>
internal sealed class GeneratedCore : IDisposable
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private GeneratedCore(string target, string workDirectory, string corePath, JsonElement facts)
    {
        Target = target;
        WorkDirectory = workDirectory;
        CorePath = corePath;
        Facts = facts;
    }

    public string Target { get; }
    public string WorkDirectory { get; }
    public string CorePath { get; }
    public JsonElement Facts { get; }

    /// <summary>The DAC of the runtime the target ran on (this machine's): libmscordaccore.so beside it.</summary>
    public string DacPath
    {
        get
        {
            string dir = Facts.GetProperty("runtimeDirectory").GetString()!;
            string name = OperatingSystem.IsWindows() ? "mscordaccore.dll" : OperatingSystem.IsMacOS() ? "libmscordaccore.dylib" : "libmscordaccore.so";
            string path = Path.Combine(dir, name);
            return File.Exists(path) ? path : throw new FileNotFoundException($"No DAC beside the runtime at '{path}'.", path);
        }
    }

    public override string ToString() => $"{Target} core {CorePath} ({new FileInfo(CorePath).Length:N0} bytes)";

    /// <summary>The heap and deadlock targets' type-2 cores, made at once; the larger one is kept.</summary>
    public static GeneratedCore MakeLargest()
    {
        string work = Path.Combine(Path.GetTempPath(), "dumpshell-bench-cores-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        try
        {
            var made = new[] { "heap", "deadlock" }.Select(t => Task.Run(() => Make(t, work))).ToArray();
            var cores = made.Select(t => t.GetAwaiter().GetResult()).ToArray();
            var largest = cores.OrderByDescending(c => new FileInfo(c.Core).Length).First();
            foreach (var c in cores.Where(c => c.Core != largest.Core)) File.Delete(c.Core);
            return new GeneratedCore(largest.Target, work, largest.Core, largest.Facts);
        }
        catch
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
            throw;
        }
    }

    private static (string Target, string Core, JsonElement Facts) Make(string target, string work)
    {
        string project = Path.Combine(DumpFiles.RepoRoot, "DumpShell.Tests", "TestTargets", target, target + ".csproj");
        string output = Path.Combine(work, "bin", target);
        var (buildExit, buildLog) = Run(DotnetHost(),
            ["build", project, "-c", "Release", "-o", output, $"-p:BaseIntermediateOutputPath={Path.Combine(work, "obj", target)}/",
             "--nologo", "-v", "q", "-nodeReuse:false"],
            env =>
            {
                foreach (var key in env.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray()) env.Remove(key);
                env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
                env["DOTNET_NOLOGO"] = "1";
                env["MSBUILDDISABLENODEREUSE"] = "1";
            }, work, BuildTimeout);
        string assembly = Path.Combine(output, target + ".dll");
        if (buildExit != 0 || !File.Exists(assembly))
            throw new InvalidOperationException($"Building test target '{target}' failed (exit {buildExit}):\n{buildLog}");

        string core = Path.Combine(work, target + ".core");
        string facts = Path.Combine(work, target + ".json");
        string[] command = File.Exists("/bin/sh")
            ? ["/bin/sh", "-c", "ulimit -c 0 2>/dev/null; exec \"$0\" \"$@\"", DotnetHost(), assembly, facts]
            : [DotnetHost(), assembly, facts];
        var (exit, log) = Run(command[0], command[1..], env =>
        {
            foreach (var key in env.Keys.Where(k => k.StartsWith("DOTNET_Dbg", StringComparison.OrdinalIgnoreCase) ||
                                                    k.StartsWith("COMPlus_", StringComparison.OrdinalIgnoreCase)).ToArray())
                env.Remove(key);
            env["DOTNET_DbgEnableMiniDump"] = "1";
            env["DOTNET_DbgMiniDumpType"] = "2";
            env["DOTNET_DbgMiniDumpName"] = core;
        }, work, RunTimeout);
        if (!File.Exists(core) || new FileInfo(core).Length == 0 || !File.Exists(facts))
            throw new InvalidOperationException($"Test target '{target}' wrote no core or facts (exit {exit}):\n{log}");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(facts));
        return (target, core, doc.RootElement.Clone());
    }

    private static string DotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    private static (int ExitCode, string Output) Run(string file, string[] args, Action<IDictionary<string, string?>> environment, string work, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = work,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        environment(info.Environment);
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"'{file} {string.Join(' ', args)}' did not finish in {timeout.TotalSeconds} s:\n{output}");
        }
        process.WaitForExit();
        lock (output) return (process.ExitCode, output.ToString());
    }

    public void Dispose()
    {
        try { Directory.Delete(WorkDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Adds the Objects and Objects/s columns to <see cref="ManagedHeapStatistics"/>.</summary>
public sealed class HeapColumnsConfig : ManualConfig
{
    public HeapColumnsConfig()
    {
        AddColumn(new HeapObjectsColumn(perSecond: false));
        AddColumn(new HeapObjectsColumn(perSecond: true));
    }

    /// <summary>
    /// Where the benchmark process leaves the object count for the host (each benchmark runs in its own process, which
    /// makes its own core): artifacts/benchmarks/managed-heap-objects.txt, "count|description". The cores of one run
    /// come from the same two programs; each setup overwrites it, and a setup fails when its two readers disagree.
    /// </summary>
    private static string CountFile => Path.Combine(DumpFiles.RepoRoot, "artifacts", "benchmarks", "managed-heap-objects.txt");

    internal static void Save(long objects, string description)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(CountFile)!);
        File.WriteAllText(CountFile, $"{objects}|{description}");
    }

    internal static (long Objects, string Description)? Load()
    {
        try
        {
            var parts = File.ReadAllText(CountFile).Split('|', 2);
            return (long.Parse(parts[0]), parts.Length > 1 ? parts[1] : "");
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>The heap's object count (Objects) or that count over the mean (Objects/s).</summary>
public sealed class HeapObjectsColumn(bool perSecond) : CountColumn(perSecond)
{
    public override string Id => nameof(HeapObjectsColumn) + (PerSecond ? "PerSecond" : "");
    public override string ColumnName => PerSecond ? "Objects/s" : "Objects";
    public override string Legend => PerSecond
        ? "Heap objects counted per second: Objects / Mean"
        : "Objects on the managed heap of the generated core (both readers count the same)";
    protected override bool AppliesTo(BenchmarkCase benchmarkCase) => benchmarkCase.Descriptor.Type == typeof(ManagedHeapStatistics);
    protected override long? CountOf(BenchmarkCase benchmarkCase) => HeapColumnsConfig.Load()?.Objects;
}
