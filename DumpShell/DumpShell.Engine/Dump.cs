using DumpShell.Format;
using DumpShell.Format.Elf;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

/// <summary>
/// An opened dump: the model (threads, modules, exception, handles, memory) built lazily over the format
/// layer, a minidump (<see cref="File"/>) or a Linux ELF core file (<see cref="ElfCore"/>); each model builder has one
/// way per format (Dump.Elf.cs holds the ELF ones). Everything a cmdlet shows comes from here; nothing here knows about PowerShell.
/// </summary>
public sealed partial class Dump : IDisposable
{
    private readonly Lazy<IReadOnlyList<DumpThread>> _threads;
    private readonly Lazy<IReadOnlyList<DumpModule>> _modules;
    private readonly Lazy<DumpException?> _exception;

    /// <summary>The minidump this dump reads; null when it is an ELF core file (<see cref="ElfCore"/>).</summary>
    public MinidumpFile? File { get; }
    /// <summary>The Linux ELF core file this dump reads; null when it is a minidump (<see cref="File"/>).</summary>
    public ElfCoreFile? ElfCore { get; }
    /// <summary>Which of the two the file is.</summary>
    public DumpFormat FileFormat => ElfCore is null ? DumpFormat.Minidump : DumpFormat.ElfCore;
    public string Path { get; }
    public CpuArchitecture Architecture { get; }
    public int PointerSize => Architecture.PointerSize();
    /// <summary>"Windows", "Linux", "macOS", ... from SystemInfo.PlatformId ("Linux" for an ELF core); "Unknown" without SystemInfo.</summary>
    public string Platform { get; }
    /// <summary>When the dump was written (header TimeDateStamp); null when the writer left it 0, and for ELF cores (they hold no time).</summary>
    public DateTimeOffset? DumpTime { get; }

    /// <summary>
    /// Problems found so far while reading the file. A problem's <see cref="DumpProblem.Stream"/> is a minidump stream
    /// type for a minidump and an ELF note type (NT_*) for a core file; null for the header either way.
    /// </summary>
    public IReadOnlyCollection<DumpProblem> Problems => File?.Problems ?? ElfCore!.Problems;

    public MemoryReader Memory => File?.Memory ?? ElfCore!.Memory;

    private Dump(MinidumpFile file)
    {
        File = file;
        Path = file.Path;
        var system = file.SystemInfo;
        Architecture = ArchitectureOf(system?.ProcessorArchitecture);
        Platform = PlatformOf(system?.PlatformId);
        DumpTime = file.TimeDateStamp == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(file.TimeDateStamp);
        _threads = new(() => BuildThreads(file));
        _modules = new(() => file.Modules.Select(m => BuildModule(m)).ToArray());
        _exception = new(() => BuildStoredException(file));
    }

    private Dump(ElfCoreFile core)
    {
        ElfCore = core;
        Path = core.Path;
        Architecture = ArchitectureOf(core.Machine);
        Platform = "Linux";
        DumpTime = null;
        _threads = new(() => BuildElfThreads(core));
        _modules = new(() => core.Modules.Select((m, i) => BuildElfModule(m, i)).ToArray());
        _exception = new(() => BuildElfException(core));
    }

    /// <summary>
    /// Opens a dump file: a minidump ("MDMP") or a Linux ELF core file (0x7F "ELF"). Throws <see cref="DumpFormatException"/>
    /// when the file is neither, or its header cannot be read ("NotAMinidump", "TruncatedHeader", "NotAnElfCore", ...).
    /// </summary>
    public static Dump Open(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        return StartsWithElfSignature(full) ? new Dump(ElfCoreFile.Open(full)) : new Dump(MinidumpFile.Open(full));
    }

    /// <summary>True when the file begins with 0x7F 'E' 'L' 'F'; false when it does not or cannot be read (the minidump reader then says why).</summary>
    private static bool StartsWithElfSignature(string path)
    {
        try
        {
            if (!System.IO.File.Exists(path)) return false;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> start = stackalloc byte[4];
            return stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && ElfCoreFile.HasElfSignature(start);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public IReadOnlyList<DumpThread> Threads => _threads.Value;
    public IReadOnlyList<DumpModule> Modules => _modules.Value;
    public DumpException? Exception => _exception.Value;

    public void Dispose()
    {
        // ClrMD reads through this dump: release it before the mapping goes.
        Managed.ClrSession.Release(this);
        File?.Dispose();
        ElfCore?.Dispose();
    }

    private static CpuArchitecture ArchitectureOf(ushort? arch) => arch switch
    {
        ProcessorArchitectures.X86 => CpuArchitecture.X86,
        ProcessorArchitectures.Amd64 => CpuArchitecture.X64,
        ProcessorArchitectures.Arm => CpuArchitecture.Arm,
        ProcessorArchitectures.Arm64 or 0x8003 => CpuArchitecture.Arm64, // 0x8003: Breakpad's older ARM64 value
        _ => CpuArchitecture.Unknown,
    };

    private static CpuArchitecture ArchitectureOf(ElfMachine machine) => machine switch
    {
        ElfMachine.X86_64 => CpuArchitecture.X64,
        ElfMachine.AArch64 => CpuArchitecture.Arm64,
        ElfMachine.X86 => CpuArchitecture.X86,
        ElfMachine.Arm => CpuArchitecture.Arm,
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
