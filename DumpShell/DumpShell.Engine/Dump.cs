using DumpShell.Format;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

/// <summary>
/// An opened dump: the model (threads, modules, exception, handles, memory) built lazily over the format
/// layer. Everything a cmdlet shows comes from here; nothing here knows about PowerShell.
/// </summary>
public sealed partial class Dump : IDisposable
{
    private readonly Lazy<IReadOnlyList<DumpThread>> _threads;
    private readonly Lazy<IReadOnlyList<DumpModule>> _modules;
    private readonly Lazy<DumpException?> _exception;

    public MinidumpFile File { get; }
    public string Path => File.Path;
    public CpuArchitecture Architecture { get; }
    public int PointerSize => Architecture.PointerSize();
    /// <summary>"Windows", "Linux", "macOS", ... from SystemInfo.PlatformId; "Unknown" without SystemInfo.</summary>
    public string Platform { get; }
    /// <summary>When the dump was written (header TimeDateStamp); null when the writer left it 0.</summary>
    public DateTimeOffset? DumpTime { get; }

    /// <summary>Problems found so far while reading the file.</summary>
    public IReadOnlyCollection<DumpProblem> Problems => File.Problems;

    public MemoryReader Memory => File.Memory;

    private Dump(MinidumpFile file)
    {
        File = file;
        var system = file.SystemInfo;
        Architecture = ArchitectureOf(system?.ProcessorArchitecture);
        Platform = PlatformOf(system?.PlatformId);
        DumpTime = file.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(file.TimeDateStamp);
        _threads = new(BuildThreads);
        _modules = new(() => file.Modules.Select(m => BuildModule(m)).ToArray());
        _exception = new(BuildStoredException);
    }

    /// <summary>Opens a dump file. Throws <see cref="DumpFormatException"/> when the file is not a readable minidump.</summary>
    public static Dump Open(string path) => new(MinidumpFile.Open(System.IO.Path.GetFullPath(path)));

    public IReadOnlyList<DumpThread> Threads => _threads.Value;
    public IReadOnlyList<DumpModule> Modules => _modules.Value;
    public DumpException? Exception => _exception.Value;

    public void Dispose() => File.Dispose();

    private static CpuArchitecture ArchitectureOf(ushort? arch) => arch switch
    {
        ProcessorArchitectures.X86 => CpuArchitecture.X86,
        ProcessorArchitectures.Amd64 => CpuArchitecture.X64,
        ProcessorArchitectures.Arm => CpuArchitecture.Arm,
        ProcessorArchitectures.Arm64 or 0x8003 => CpuArchitecture.Arm64, // 0x8003: Breakpad's older ARM64 value
        _ => CpuArchitecture.Unknown,
    };

    private static string PlatformOf(uint? id) => id switch
    {
        null => "Unknown",
        PlatformIds.Win32NT or PlatformIds.Win32Windows or PlatformIds.Win32s => "Windows",
        PlatformIds.MacOS => "macOS",
        PlatformIds.IOS => "iOS",
        PlatformIds.Linux => "Linux",
        PlatformIds.Solaris => "Solaris",
        PlatformIds.Android => "Android",
        PlatformIds.PS3 => "PS3",
        PlatformIds.NaCl => "NaCl",
        PlatformIds.Fuchsia => "Fuchsia",
        _ => $"Unknown (0x{id:X})",
    };

    internal static DateTimeOffset? FromFileTime(ulong fileTime) =>
        fileTime is > 0 and < 0x8000_0000_0000_0000 && (long)fileTime <= DateTime.MaxValue.ToFileTimeUtc()
            ? new DateTimeOffset(DateTime.FromFileTimeUtc((long)fileTime))
            : null;

    /// <summary>The module whose image contains <paramref name="address"/>, if any.</summary>
    public DumpModule? ModuleAt(ulong address)
    {
        foreach (var m in Modules)
            if (address >= m.BaseAddress && address - m.BaseAddress < m.Size) return m;
        return null;
    }

    /// <summary>"module+0xoffset" for an address inside a module; null otherwise.</summary>
    public string? Describe(ulong address) =>
        ModuleAt(address) is { } m ? $"{m.Name}+0x{address - m.BaseAddress:x}" : null;
}
