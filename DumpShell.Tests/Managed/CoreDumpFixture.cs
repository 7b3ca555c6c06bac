using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace DumpShell.Tests.Managed;

/// <summary>The tests that share the generated core dumps (one build and one crash per target per test run).</summary>
[CollectionDefinition(Name)]
public sealed class CoreDumpCollection : ICollectionFixture<CoreDumpFixture>
{
    public const string Name = "Core dumps";
}

/// <summary>What a test target said about itself (its JSON sidecar) and where createdump put its core file.</summary>
/// <param name="DumpType">DOTNET_DbgMiniDumpType the target ran with: 1 (mini) or 2 (with heap).</param>
/// <param name="Output">The target's stdout and stderr, createdump's messages among them.</param>
public sealed record CoreDump(
    string Target,
    string CorePath,
    JsonElement Facts,
    string TargetDirectory,
    int DumpType,
    int ExitCode,
    string Output,
    TimeSpan BuildTime,
    TimeSpan RunTime)
{
    /// <summary>The target's own assembly, as it lies in its build folder (and in the core's NT_FILE).</summary>
    public string AssemblyPath => Path.Combine(TargetDirectory, Target + ".dll");

    public int ProcessId => Facts.GetProperty("pid").GetInt32();

    /// <summary>The runtime folder the target ran on (RuntimeEnvironment.GetRuntimeDirectory()).</summary>
    public string RuntimeDirectory => Facts.GetProperty("runtimeDirectory").GetString()!;

    /// <summary>A thread the target recorded: "main", "worker-crash", "locker-1", "locker-2".</summary>
    public ThreadFacts Thread(string name)
    {
        foreach (var t in Facts.GetProperty("threads").EnumerateArray())
            if (t.GetProperty("name").GetString() == name)
                return new ThreadFacts(name, t.GetProperty("managedId").GetInt32(),
                    t.GetProperty("osId").ValueKind == JsonValueKind.Number ? t.GetProperty("osId").GetInt32() : null);
        throw new KeyNotFoundException($"The {Target} target recorded no thread named '{name}'.");
    }

    public IReadOnlyList<ThreadFacts> Threads =>
        Facts.GetProperty("threads").EnumerateArray().Select(t => Thread(t.GetProperty("name").GetString()!)).ToArray();

    public override string ToString() => $"{Target} core {CorePath}";
}

/// <param name="OsId">gettid() in the thread: the id NT_PRSTATUS gives; null off Linux.</param>
public sealed record ThreadFacts(string Name, int ManagedId, int? OsId);

/// <summary>
/// Builds the test targets in DumpShell.Tests/TestTargets (each once per test run, into
/// artifacts/testtargets/&lt;name&gt;) and runs each with createdump enabled so it writes an ELF core file of itself
/// into a temporary folder, with a JSON sidecar of its own facts. All targets start building at once when the
/// fixture is made; <see cref="Get"/> waits for the one a test needs. The folder is deleted in Dispose: the
/// dumps are never kept or committed.
/// </summary>
public sealed class CoreDumpFixture : IDisposable
{
    /// <summary>The targets and the DOTNET_DbgMiniDumpType each runs with.</summary>
    /// <remarks>
    /// The deadlock target is dumped with the heap (2): a type-1 dump holds no sync block table or lock objects,
    /// and naming the locked objects of a Monitor deadlock needs them.
    /// </remarks>
    public static readonly IReadOnlyDictionary<string, int> Targets = new Dictionary<string, int>
    {
        ["crash"] = 1,
        ["heap"] = 2,
        ["deadlock"] = 2,
    };

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, Task<CoreDump>> _dumps = new();
    private readonly List<Process> _running = new();

    /// <summary>The temporary folder the cores and sidecars are written to.</summary>
    public string WorkDirectory { get; }

    /// <summary>ClrMD's symbol cache for tests that load the cores with it (inside <see cref="WorkDirectory"/>).</summary>
    public string SymbolCache => Path.Combine(WorkDirectory, "clrmd-cache");

    public static string TargetsSource => Path.Combine(TestData.RepoRoot, "DumpShell.Tests", "TestTargets");
    public static string TargetsOutput => Path.Combine(TestData.RepoRoot, "artifacts", "testtargets");

    public CoreDumpFixture()
    {
        WorkDirectory = Path.Combine(Path.GetTempPath(), "dumpshell-cores-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(WorkDirectory);
        foreach (var (target, type) in Targets)
            _dumps[target] = Task.Run(() => Make(target, type));
    }

    public CoreDump Crash => Get("crash");
    public CoreDump Heap => Get("heap");
    public CoreDump Deadlock => Get("deadlock");

    /// <summary>The core of a target, building and running it if that has not finished yet. Throws with the tools' output when that failed.</summary>
    public CoreDump Get(string target) => _dumps[target].GetAwaiter().GetResult();

    private CoreDump Make(string target, int dumpType)
    {
        string project = Path.Combine(TargetsSource, target, target + ".csproj");
        string output = Path.Combine(TargetsOutput, target);
        var build = Stopwatch.StartNew();
        var (buildExit, buildLog) = RunProcess(DotnetHost(),
            ["build", project, "-c", "Release", "-o", output, "--nologo", "-v", "q", "-nodeReuse:false"],
            BuildEnvironment, BuildTimeout);
        build.Stop();
        string assembly = Path.Combine(output, target + ".dll");
        if (buildExit != 0 || !File.Exists(assembly))
            throw new InvalidOperationException($"Building test target '{target}' failed (exit {buildExit}):\n{buildLog}");

        string core = Path.Combine(WorkDirectory, target + ".core");
        string facts = Path.Combine(WorkDirectory, target + ".json");
        var run = Stopwatch.StartNew();
        // Through sh with `ulimit -c 0`: after createdump the runtime aborts, and a machine whose kernel writes
        // cores (apport, systemd-coredump) would otherwise write a second, unwanted one.
        string[] command = File.Exists("/bin/sh")
            ? ["/bin/sh", "-c", "ulimit -c 0 2>/dev/null; exec \"$0\" \"$@\"", DotnetHost(), assembly, facts]
            : [DotnetHost(), assembly, facts];
        var (exit, log) = RunProcess(command[0], command[1..], env =>
        {
            foreach (var key in env.Keys.Where(k => k.StartsWith("DOTNET_Dbg", StringComparison.OrdinalIgnoreCase) ||
                                                    k.StartsWith("COMPlus_", StringComparison.OrdinalIgnoreCase) ||
                                                    k.StartsWith("DOTNET_EnableCrashReport", StringComparison.OrdinalIgnoreCase)).ToArray())
                env.Remove(key);
            env["DOTNET_DbgEnableMiniDump"] = "1";
            env["DOTNET_DbgMiniDumpType"] = dumpType.ToString();
            env["DOTNET_DbgMiniDumpName"] = core;
        }, RunTimeout);
        run.Stop();

        if (!File.Exists(core) || new FileInfo(core).Length == 0)
            throw new InvalidOperationException($"Test target '{target}' wrote no core file at {core} (exit {exit}):\n{log}");
        if (!File.Exists(facts))
            throw new InvalidOperationException($"Test target '{target}' wrote no facts at {facts} (exit {exit}):\n{log}");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(facts));
        return new CoreDump(target, core, doc.RootElement.Clone(), output, dumpType, exit, log, build.Elapsed, run.Elapsed);
    }

    /// <summary>MSBuild's variables from the `dotnet test` that runs us would steer the nested build; leave them out.</summary>
    private static void BuildEnvironment(IDictionary<string, string?> env)
    {
        foreach (var key in env.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) ||
                                                k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToArray())
            env.Remove(key);
        env["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        env["DOTNET_NOLOGO"] = "1";
        env["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        env["MSBUILDDISABLENODEREUSE"] = "1";
    }

    /// <summary>The dotnet host running these tests (so targets run on the same runtime install), else dotnet from PATH.</summary>
    private static string DotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        string? self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    private (int ExitCode, string Output) RunProcess(string file, string[] args, Action<IDictionary<string, string?>> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = WorkDirectory,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        environment(info.Environment);

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        lock (_running) _running.Add(process);
        try
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new TimeoutException($"'{file} {string.Join(' ', args)}' did not finish in {timeout.TotalSeconds} s:\n{output}");
            }
            process.WaitForExit(); // drains the output readers
            lock (output) return (process.ExitCode, output.ToString());
        }
        finally
        {
            lock (_running) _running.Remove(process);
        }
    }

    public void Dispose()
    {
        lock (_running)
            foreach (var p in _running)
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        try { Task.WaitAll(_dumps.Values.ToArray(), TimeSpan.FromSeconds(30)); } catch (AggregateException) { }
        try { Directory.Delete(WorkDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
