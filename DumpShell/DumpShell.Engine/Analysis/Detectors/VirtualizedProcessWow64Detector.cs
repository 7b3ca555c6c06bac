using DumpShell.Machine;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Virtualized Process (WOW64): an AMD64 dump whose module list has wow64.dll, wow64cpu.dll or wow64win.dll, and a
/// second, 32-bit ntdll (under SysWOW64, below 4 GB). x86 dumps and x64 emulation on ARM64 do not trigger.
/// </summary>
internal sealed class VirtualizedProcessWow64Detector : IDetector
{
    public string Pattern => "Virtualized Process (WOW64)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows || dump.Architecture != CpuArchitecture.X64) yield break;
        DumpModule? Named(string name) => dump.Modules.FirstOrDefault(m => m.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
        var wow64 = Named("wow64.dll");
        var cpu = Named("wow64cpu.dll") ?? Named("wow64win.dll");
        var ntdll32 = dump.Modules.FirstOrDefault(m => m.Name.Equals("ntdll.dll", StringComparison.OrdinalIgnoreCase) &&
            m.BaseAddress < 0x1_0000_0000 && (m.Path ?? "").Contains("syswow64", StringComparison.OrdinalIgnoreCase));
        if (wow64 is null || cpu is null || ntdll32 is null) yield break;
        var main = dump.Modules.Count > 0 ? dump.Modules[0] : null;
        yield return context.Create(Pattern, Severity.Info,
            $"AMD64 dump of a 32-bit process: {wow64.Name}, {cpu.Name}, {ntdll32.Path} at {Hex.Address(ntdll32.BaseAddress, 8)}",
            "wow64", module: main?.Name, address: ntdll32.BaseAddress,
            recommendation: "The threads' 64-bit stacks show the WOW64 layer; the program's own 32-bit stacks and registers need a 32-bit view (Get-DumpEnvironment shows both PEBs).");
    }
}
