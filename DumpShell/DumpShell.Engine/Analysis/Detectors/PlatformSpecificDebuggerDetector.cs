using DumpShell.Managed;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Platform-Specific Debugger: a .NET runtime is loaded (coreclr.dll, clr.dll, mscorwks.dll, libcoreclr.so/.dylib), so
/// managed code needs the runtime's DAC. One Info finding per runtime naming its version, the DAC file and its lookup
/// key (TimeDateStamp/SizeOfImage, or the build id), and whether DumpShell can load that DAC here; when it cannot
/// (a Windows .NET dump analysed on Linux, a build not installed) the evidence says why and the recommendation what
/// to do. mscoree.dll alone (the shim) does not count. Looking the DAC up makes no ClrMD object unless one is found.
/// </summary>
internal sealed class PlatformSpecificDebuggerDetector : IDetector
{
    private static readonly Dictionary<string, (string Flavour, string Dac)> Runtimes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["coreclr.dll"] = (".NET Core / .NET 5+", "mscordaccore.dll"),
        ["clr.dll"] = (".NET Framework 4.x", "mscordacwks.dll"),
        ["mscorwks.dll"] = (".NET Framework 2.0-3.5", "mscordacwks.dll"),
        ["libcoreclr.so"] = (".NET Core / .NET 5+", "libmscordaccore.so"),
        ["libcoreclr.dylib"] = (".NET Core / .NET 5+", "libmscordaccore.dylib"),
    };

    public string Pattern => "Platform-Specific Debugger";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var session = ClrSession.For(dump);
        var primary = session.RuntimeModule?.Module;
        foreach (var m in dump.Modules)
        {
            if (m.IsUnloaded || !Runtimes.TryGetValue(m.Name, out var runtime)) continue;
            string version = m.FileVersion is { Major: > 0 } v ? v.ToString()
                : ReferenceEquals(m, primary) && session.RuntimeModule!.Version is { } rv ? rv : "version unknown";
            string majorMinor = Version.TryParse(version.Split('-')[0], out var parsed) ? $"{parsed.Major}.{parsed.Minor}" : "unknown";
            string key = ManagedSpace.Key(m);
            string state;
            string recommendation;
            if (ReferenceEquals(m, primary))
            {
                var dac = session.Dac!;
                if (!dac.Found)
                {
                    state = $"DAC not available on this host: {dac.Failure}";
                    recommendation = dac.Remedy!;
                }
                else if (session.Failure is { } failure)
                {
                    state = $"DAC found ({dac.HowFound}) but it does not load: {failure.Message}";
                    recommendation = failure.Remedy;
                }
                else
                {
                    state = dac.DacPath is null ? $"DAC by {dac.HowFound}" : $"DAC found: {dac.DacPath} ({dac.HowFound})";
                    recommendation = "Managed analysis runs through ClrMD: Get-DumpClrRuntime, Get-DumpThread -Managed, Get-DumpStack, Get-DumpManagedException, Get-DumpHeap.";
                }
            }
            else
            {
                state = "a second runtime in the process: DumpShell reads the first one only";
                recommendation = $"Analyse this runtime with SOS or ClrMD and its own {runtime.Dac}.";
            }
            yield return context.Create(Pattern, Severity.Info,
                $"{m.Name} {version} ({runtime.Flavour}); DAC {runtime.Dac} {key}: {state}",
                $"{m.Name.ToLowerInvariant()}|{majorMinor}", module: m.Name, address: m.BaseAddress,
                recommendation: recommendation);
        }
    }
}
