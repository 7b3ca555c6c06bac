using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

public sealed partial class Dump
{
    public DumpInfo GetInfo() => File is { } file ? GetMinidumpInfo(file) : GetElfInfo(ElfCore!);

    private DumpInfo GetMinidumpInfo(MinidumpFile file)
    {
        var system = file.SystemInfo;
        var misc = file.MiscInfo;
        var main = Modules.Count > 0 ? Modules[0] : null;
        DateTimeOffset? created = misc?.ProcessCreateTime is { } t and > 0 ? DateTimeOffset.FromUnixTimeSeconds(t) : null;
        var exception = Exception;
        return new DumpInfo
        {
            DumpPath = Path,
            FileSize = file.File.Length,
            DumpTypeFlags = file.Flags,
            DumpType = DumpTypeFlags.Decode(file.Flags),
            Writer = Writer(file),
            DumpTime = DumpTime,
            Platform = Platform,
            // Breakpad's Linux writer leaves the numbers 0 and puts the kernel's version in the CSD string.
            OSVersion = system is null || (system.MajorVersion | system.MinorVersion | system.BuildNumber) == 0
                ? null : $"{system.MajorVersion}.{system.MinorVersion}.{system.BuildNumber}",
            OSBuild = system?.BuildNumber,
            ServicePack = string.IsNullOrEmpty(system?.CsdVersion) ? null : system.CsdVersion,
            ProductType = system?.ProductType switch { 1 => "Workstation", 2 => "DomainController", 3 => "Server", _ => null },
            Architecture = Architecture,
            IsWow64 = IsWow64,
            ProcessorCount = system?.NumberOfProcessors,
            Processor = ProcessorDescription(system),
            ProcessId = misc?.ProcessId ?? LinuxProcessId(file),
            ImageName = main?.Name,
            ImagePath = main?.Path,
            ProcessCreateTime = created,
            ProcessUptime = created is { } c && DumpTime is { } d && d >= c ? d - c : null,
            ProcessUserTime = misc?.ProcessUserTime is { } u ? TimeSpan.FromSeconds(u) : null,
            ProcessKernelTime = misc?.ProcessKernelTime is { } k ? TimeSpan.FromSeconds(k) : null,
            IntegrityLevel = misc?.ProcessIntegrityLevel is { } il ? IntegrityLevelName(il) : null,
            TimeZone = misc?.TimeZoneStandardName,
            BuildString = misc?.BuildString,
            ThreadCount = file.Threads.Count,
            ModuleCount = file.Modules.Count,
            UnloadedModuleCount = file.UnloadedModules.Count,
            HandleCount = file.Handles?.Count,
            MemoryRangeCount = Memory.RangeCount,
            MemoryBytes = Memory.TotalBytes,
            Streams = file.Directory.Where(e => e.Type != 0).Select(e => e.Name).ToArray(),
            Comments = file.Comments.ToArray(),
            LastEvent = exception is null
                ? "No exception stream: a manual dump (taken on request, not at a crash)."
                : $"{exception.CodeName ?? $"0x{exception.Code:x8}"} on thread 0x{exception.ThreadId:x} at 0x{exception.Address:x}" +
                  (exception.AddressSymbol is { } s ? $" ({s})" : "") + $": {exception.Description}",
        };
    }

    /// <summary>The minidump's stream directory, or an ELF core's notes (Type: the NT_* note type).</summary>
    public IEnumerable<DumpStream> GetStreams() => File is null ? ElfStreams(ElfCore!) : File.Directory.Select(e => new DumpStream
    {
        DumpPath = Path, Index = e.Index, Type = e.Type, Name = e.Name, Size = e.DataSize, Rva = e.Rva,
    });

    /// <summary>A 64-bit dump of a 32-bit process: the WOW64 layer (wow64.dll) is loaded.</summary>
    public bool IsWow64 => Architecture == CpuArchitecture.X64 &&
        Modules.Any(m => m.Name.Equals("wow64.dll", StringComparison.OrdinalIgnoreCase));

    /// <summary>Breakpad's Linux writer has no MiscInfo; the pid is in its copy of /proc/self/status.</summary>
    private static uint? LinuxProcessId(MinidumpFile file) => uint.TryParse(file.ProcStatusValue("Pid"), out uint pid) ? pid : null;

    private static string? Writer(MinidumpFile file)
    {
        foreach (var e in file.Directory)
        {
            switch ((MinidumpStreamType)e.Type)
            {
                case MinidumpStreamType.WineUnixModules: return "Wine dbghelp";
                case MinidumpStreamType.CrashpadInfo: return "Crashpad";
                case MinidumpStreamType.BreakpadInfo:
                case MinidumpStreamType.LinuxMaps: return "Breakpad";
            }
        }
        return null;
    }

    private static string? ProcessorDescription(SystemInfoRecord? system)
    {
        if (system is null) return null;
        string cpu = $"family {system.ProcessorLevel} model {system.ProcessorRevision >> 8} stepping {system.ProcessorRevision & 0xFF}";
        return system.CpuVendor is { } vendor ? $"{vendor} {cpu}" : cpu;
    }

    private static string IntegrityLevelName(uint rid) => rid switch
    {
        0x0000 => "Untrusted",
        0x1000 => "Low",
        0x2000 => "Medium",
        0x2100 => "MediumPlus",
        0x3000 => "High",
        0x4000 => "System",
        0x5000 => "Protected",
        _ => $"0x{rid:X}",
    };
}
