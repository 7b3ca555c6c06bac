using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Platform-Specific Debugger: a .NET runtime is loaded (clr.dll, coreclr.dll, mscorwks.dll), so managed code needs the
/// runtime's DAC. One finding per runtime naming its version, the DAC file and its lookup key (TimeDateStamp/SizeOfImage).
/// mscoree.dll alone (the shim) does not count.
/// </summary>
internal sealed class PlatformSpecificDebuggerDetector : IDetector
{
    private static readonly (string Runtime, string Flavour, string Dac)[] Runtimes =
    [
        ("coreclr.dll", ".NET Core / .NET 5+", "mscordaccore.dll"),
        ("clr.dll", ".NET Framework 4.x", "mscordacwks.dll"),
        ("mscorwks.dll", ".NET Framework 2.0-3.5", "mscordacwks.dll"),
    ];

    public string Pattern => "Platform-Specific Debugger";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        foreach (var (runtime, flavour, dac) in Runtimes)
        {
            var m = dump.Modules.FirstOrDefault(x => x.Name.Equals(runtime, StringComparison.OrdinalIgnoreCase));
            if (m is null) continue;
            string version = m.FileVersion?.ToString() ?? "version unknown";
            string majorMinor = m.FileVersion is { } v ? $"{v.Major}.{v.Minor}" : "unknown";
            yield return context.Create(Pattern, Severity.Info,
                $"{m.Name} {version} ({flavour}); DAC {dac} key {m.TimeDateStamp:X8}/{m.Size:X}: this build does not look the DAC up",
                $"{runtime}|{majorMinor}", module: m.Name, address: m.BaseAddress,
                recommendation: $"Managed analysis needs {dac} matching this runtime (symbol server key {m.TimeDateStamp:X8}{m.Size:X}); ClrMD or SOS load it.");
        }
    }
}
