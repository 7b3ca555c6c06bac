using System.Management.Automation;
using DumpShell.Model;
using DumpShell.Tests.Module;
using Xunit.Abstractions;

namespace DumpShell.Tests.Managed;

/// <summary>
/// Get-DumpClrRuntime, Get-DumpManagedException and Get-DumpHeap in a hosted PowerShell, on the cores createdump
/// wrote for the test targets in this run (checked against each target's own facts), on the shared native dumps
/// (no managed data, no error), and on a synthetic Windows .NET minidump read on a non-Windows host (one
/// DacNotAvailable error).
/// </summary>
[Collection(CoreDumpCollection.Name)]
public sealed class ManagedCmdletTests(CoreDumpFixture cores, ModuleFixture module, ITestOutputHelper output)
    : IClassFixture<ModuleFixture>, IDisposable
{
    private readonly Cli.ModuleSession _ps = module.Session;
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-managed-");

    public void Dispose()
    {
        _ps.Invoke("Close-Dump -All");
        _temp.Delete(recursive: true);
    }

    private static string[] ExpectedMethods(CoreDump dump) =>
        dump.Facts.GetProperty("exception").GetProperty("methods").EnumerateArray().Select(e => e.GetString()!).ToArray();

    private Cli.ScriptResult Invoke(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        foreach (var e in r.Errors) output.WriteLine($"error {e.FullyQualifiedErrorId}: {e}");
        return r;
    }

    [Fact]
    public void Crash_core_managed_exception_names_type_message_inner_and_methods_in_order()
    {
        var dump = cores.Crash;
        var r = Invoke("Get-DumpManagedException -Path $args[0]", dump.CorePath);
        Assert.Empty(r.Errors);
        var worker = dump.Thread("worker-crash");
        var e = Assert.Single(r.BaseObjects.Cast<ManagedException>(), x => x.ThreadId == (uint)worker.OsId!.Value);
        var facts = dump.Facts.GetProperty("exception");
        Assert.Equal("App.OrderProcessingException", e.Type);
        Assert.Equal(facts.GetProperty("type").GetString(), e.Type);
        Assert.Equal("order 42 failed", e.Message);
        Assert.Equal(worker.ManagedId, e.ManagedThreadId);
        Assert.NotEqual(0UL, e.Address);
        Assert.Equal(unchecked((int)0x80131500), e.HResult); // COR_E_EXCEPTION: Exception(message, inner)
        Assert.Equal("System.InvalidOperationException", e.InnerType);
        Assert.Equal("inventory is empty", e.InnerMessage);
        Assert.Equal("System.InvalidOperationException", e.InnerException!.Type);
        Assert.Equal(1, e.InnerException.Depth);
        Assert.Null(e.InnerException.InnerException);
        output.WriteLine($"{e.StackTraceSource}: {string.Join(" | ", e.StackTrace)}");

        var expected = ExpectedMethods(dump);
        Assert.Equal(expected, e.StackTrace.Where(expected.Contains).Distinct().ToArray());
        // The inner exception's own trace starts where it was thrown.
        Assert.Contains("App.Program.TakeFromInventory", e.InnerException.StackTrace);
    }

    [Fact]
    public void Exception_by_address_and_the_view()
    {
        var dump = cores.Crash;
        var current = Invoke("Get-DumpManagedException -Path $args[0]", dump.CorePath).BaseObjects.Cast<ManagedException>()
            .Single(x => x.Type == "App.OrderProcessingException");
        var r = Invoke("Get-DumpManagedException -Path $args[0] -Address $args[1]", dump.CorePath, $"0x{current.Address:x}");
        Assert.Empty(r.Errors);
        var e = Assert.Single(r.BaseObjects.Cast<ManagedException>());
        Assert.Equal(current.Address, e.Address);
        Assert.Null(e.ThreadId);
        Assert.Equal("order 42 failed", e.Message);
        Assert.Equal("inventory is empty", e.InnerMessage);

        // The inner exception's address works too; a non-exception address is one error.
        var inner = Invoke("Get-DumpManagedException -Path $args[0] -Address $args[1]", dump.CorePath, current.InnerException!.Address);
        Assert.Equal("System.InvalidOperationException", Assert.Single(inner.BaseObjects.Cast<ManagedException>()).Type);
        var bad = Invoke("Get-DumpManagedException -Path $args[0] -Address 0x10", dump.CorePath);
        Assert.Equal("NotAnException", Assert.Single(bad.Errors).FullyQualifiedErrorId.Split(',')[0]);

        string text = _ps.Render($"Get-DumpManagedException -Path '{dump.CorePath}' | Where-Object Type -eq 'App.OrderProcessingException'");
        output.WriteLine(text);
        Assert.Contains("App.OrderProcessingException", text);
        Assert.Contains("order 42 failed", text);
        Assert.Contains("System.InvalidOperationException: inventory is empty", text);
        Assert.Contains("App.Program.C", text);
    }

    [Fact]
    public void Crash_core_runtime_names_the_DAC_and_how_it_was_found()
    {
        var dump = cores.Crash;
        var r = Invoke("Get-DumpClrRuntime -Path $args[0]", dump.CorePath);
        Assert.Empty(r.Errors);
        var info = Assert.Single(r.BaseObjects.Cast<ClrRuntimeInfo>());
        output.WriteLine($"{info.Flavor} {info.Version} DAC {info.DacPath} ({info.DacFoundBy}) GC {info.GCMode} x{info.HeapCount} domains {string.Join(",", info.AppDomains)}");
        Assert.Equal("Core", info.Flavor);
        Assert.Equal(dump.Facts.GetProperty("runtimeVersion").GetString(), info.Version);
        Assert.NotNull(info.DacPath);
        Assert.True(File.Exists(info.DacPath), info.DacPath);
        Assert.Equal("libmscordaccore.so", Path.GetFileName(info.DacPath));
        Assert.Contains("build id", info.DacFoundBy);
        Assert.Contains(info.RuntimeModuleBuildId!, info.DacFoundBy);
        Assert.EndsWith("libcoreclr.so", info.RuntimeModule);
        Assert.Equal("Workstation", info.GCMode);
        Assert.True(info.HeapCount >= 1);
        Assert.NotEmpty(info.AppDomains);
        Assert.True(info.ThreadCount >= 2);

        string text = _ps.Render($"Get-DumpClrRuntime -Path '{dump.CorePath}'");
        Assert.Contains("DacFoundBy", text);
        Assert.Contains("Workstation mode", text);
    }

    [Fact]
    public void DacPath_given_is_used_and_said_so()
    {
        var dump = cores.Crash;
        string dac = Invoke("Get-DumpClrRuntime -Path $args[0]", dump.CorePath).BaseObjects.Cast<ClrRuntimeInfo>().Single().DacPath!;
        var info = Invoke("Get-DumpClrRuntime -Path $args[0] -DacPath $args[1]", dump.CorePath, dac).BaseObjects.Cast<ClrRuntimeInfo>().Single();
        Assert.Equal(dac, info.DacPath);
        Assert.Equal("-DacPath", info.DacFoundBy);

        var missing = Invoke("Get-DumpManagedException -Path $args[0] -DacPath $args[1]", dump.CorePath, Path.Combine(_temp.FullName, "libmscordaccore.so"));
        Assert.Empty(missing.Output);
        var error = Assert.Single(missing.Errors);
        Assert.Equal("DacNotAvailable", error.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains("does not exist", error.ToString());
    }

    [Fact]
    public void Heap_statistics_count_exactly_the_orders_the_heap_target_allocated()
    {
        var dump = cores.Heap;
        var r = Invoke("Get-DumpHeap -Path $args[0] -Statistics | Where-Object Type -eq 'App.Order'", dump.CorePath);
        Assert.Empty(r.Errors);
        var order = Assert.Single(r.BaseObjects.Cast<HeapTypeStatistics>());
        Assert.Equal(dump.Facts.GetProperty("objectCount").GetInt32(), order.Count);
        Assert.Equal(1234, order.Count);
        Assert.Equal(0UL, order.TotalSize % (ulong)order.Count); // one fixed size per App.Order

        // Sorted like !dumpheap -stat: by total size, smallest first.
        var all = Invoke("Get-DumpHeap -Path $args[0] -Statistics", dump.CorePath).BaseObjects.Cast<HeapTypeStatistics>().ToArray();
        Assert.True(all.Length > 10);
        for (int i = 1; i < all.Length; i++) Assert.True(all[i - 1].TotalSize <= all[i].TotalSize);
        Assert.Equal(all.Length, all.Select(s => s.MethodTable).Distinct().Count()); // one line per method table

        // Objects streamed with -Type (wildcards): the orders and the list's array of them.
        var objects = Invoke("Get-DumpHeap -Path $args[0] -Type 'App.Ord*'", dump.CorePath).BaseObjects.Cast<HeapObject>().ToArray();
        Assert.Equal(1234, objects.Count(o => o.Type == "App.Order"));
        Assert.Contains(objects, o => o.Type == "App.Order[]");
        objects = objects.Where(o => o.Type == "App.Order").ToArray();
        Assert.All(objects, o => Assert.StartsWith("Gen", o.Generation));
        Assert.All(objects, o => Assert.Equal(order.TotalSize / 1234, o.Size));
    }

    [Fact]
    public void Every_native_dump_in_the_shared_corpus_gives_no_managed_data_and_no_error()
    {
        foreach (var relative in TestData.AllSharedDumps())
        {
            string path = TestData.Shared(relative);
            var errorsWithout = _ps.Invoke("Get-DumpModule -Path $args[0] | Out-Null", path).Errors.Select(e => e.FullyQualifiedErrorId).ToArray();
            foreach (var cmd in new[] { "Get-DumpClrRuntime", "Get-DumpManagedException", "Get-DumpHeap -Statistics" })
            {
                var r = _ps.Invoke($"{cmd} -Path $args[0] -Verbose 4>$null", path);
                Assert.Empty(r.Output);
                // Only the file's own problems (the ones Get-DumpModule reports too), never a managed error.
                Assert.DoesNotContain(r.Errors, e => e.FullyQualifiedErrorId.StartsWith("DacNotAvailable") || e.FullyQualifiedErrorId.StartsWith("DumpReadFailed"));
                Assert.All(r.Errors, e => Assert.Contains(e.FullyQualifiedErrorId, errorsWithout));
            }
            _ps.Invoke("Close-Dump -Path $args[0]", path);
        }
    }

    [Fact]
    public void Windows_dotnet_minidump_on_this_host_gives_one_DacNotAvailable_per_cmdlet()
    {
        if (OperatingSystem.IsWindows()) return; // on Windows ClrMD's download applies
        string path = Path.Combine(_temp.FullName, "windows-dotnet.dmp");
        ManagedEngineTests.WindowsDotnetMinidump("coreclr.dll", @"C:\Program Files\dotnet\shared\Microsoft.NETCore.App\8.0.11\coreclr.dll", 8, 0, 1124, 51903).WriteTo(path);
        foreach (var cmd in new[] { "Get-DumpClrRuntime", "Get-DumpManagedException", "Get-DumpHeap -Statistics", "Get-DumpHeap" })
        {
            var r = Invoke($"{cmd} -Path $args[0]", path);
            Assert.Empty(r.Output);
            var error = Assert.Single(r.Errors);
            Assert.Equal("DacNotAvailable", error.FullyQualifiedErrorId.Split(',')[0]);
            Assert.Equal(ErrorCategory.NotInstalled, error.CategoryInfo.Category);
            Assert.Equal(path, error.TargetObject);
            string message = error.ErrorDetails?.Message ?? error.Exception.Message;
            Assert.Contains("8.0.1124.51903", message);
            Assert.Contains("coreclr.dll", message);
            Assert.Contains("Windows", message);
            Assert.NotNull(error.ErrorDetails?.RecommendedAction);
        }

        // .NET Framework (clr.dll) too.
        string desktop = Path.Combine(_temp.FullName, "windows-framework.dmp");
        ManagedEngineTests.WindowsDotnetMinidump("clr.dll", @"C:\Windows\Microsoft.NET\Framework64\v4.0.30319\clr.dll", 4, 8, 9310, 0).WriteTo(desktop);
        var fx = Invoke("Get-DumpManagedException -Path $args[0]", desktop);
        var fxError = Assert.Single(fx.Errors);
        Assert.Equal("DacNotAvailable", fxError.FullyQualifiedErrorId.Split(',')[0]);
        Assert.Contains(".NET Framework 4.8.9310.0", fxError.ErrorDetails!.Message);
    }
}
