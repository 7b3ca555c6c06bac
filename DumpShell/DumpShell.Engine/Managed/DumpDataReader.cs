using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DumpShell.Machine;
using DumpShell.Model;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Diagnostics.Runtime.DataReaders.Implementation;

namespace DumpShell.Managed;

/// <summary>
/// ClrMD's view of a dump DumpShell has already opened: memory from <see cref="Dump.Memory"/>, modules from
/// <see cref="Dump.Modules"/>, thread ids and contexts from <see cref="Dump.Threads"/>. ClrMD never opens the
/// file itself, so a dump is mapped and parsed once whichever cmdlets run.
/// </summary>
public sealed class DumpDataReader : IDataReader, IThreadReader
{
    private readonly Dump _dump;
    private readonly DataTargetLimits _limits;
    private IReadOnlyList<ModuleInfo>? _modules;
    private Dictionary<uint, DumpThread>? _threads;

    public DumpDataReader(Dump dump, DataTargetLimits? limits = null)
    {
        _dump = dump ?? throw new ArgumentNullException(nameof(dump));
        _limits = limits ?? new DataTargetLimits();
        PointerSize = dump.PointerSize;
        Architecture = ArchitectureOf(dump.Architecture);
        TargetPlatform = PlatformOf(dump.Platform);
    }

    public string DisplayName => _dump.Path;
    /// <summary>DumpShell's memory reader is thread-safe, but the module and thread maps are built once, lazily.</summary>
    public bool IsThreadSafe => false;
    public OSPlatform TargetPlatform { get; }
    public Architecture Architecture { get; }
    public int PointerSize { get; }

    public int ProcessId
    {
        get
        {
            try { return _dump.GetInfo().ProcessId is { } pid ? (int)pid : -1; }
            catch (Exception) { return -1; }
        }
    }

    public static Architecture ArchitectureOf(CpuArchitecture arch) => arch switch
    {
        CpuArchitecture.X86 => Architecture.X86,
        CpuArchitecture.Arm => Architecture.Arm,
        CpuArchitecture.Arm64 => Architecture.Arm64,
        _ => Architecture.X64,
    };

    /// <summary>The OS the dumped process ran on, from <see cref="Dump.Platform"/>.</summary>
    public static OSPlatform PlatformOf(string platform) => platform switch
    {
        "Linux" or "Android" => OSPlatform.Linux,
        "macOS" or "iOS" => OSPlatform.OSX,
        "FreeBSD" => OSPlatform.FreeBSD,
        _ => OSPlatform.Windows,
    };

    public int Read(ulong address, Span<byte> buffer) => buffer.IsEmpty ? 0 : _dump.Memory.Read(address, buffer);

    public unsafe bool Read<T>(ulong address, out T value) where T : unmanaged
    {
        Span<byte> bytes = stackalloc byte[sizeof(T)];
        if (Read(address, bytes) == bytes.Length)
        {
            value = MemoryMarshal.Read<T>(bytes);
            return true;
        }
        value = default;
        return false;
    }

    public T Read<T>(ulong address) where T : unmanaged => Read(address, out T value) ? value : default;

    public bool ReadPointer(ulong address, out ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        bytes = bytes[..PointerSize];
        if (Read(address, bytes) == PointerSize)
        {
            value = PointerSize == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes) : BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            return true;
        }
        value = 0;
        return false;
    }

    public ulong ReadPointer(ulong address) => ReadPointer(address, out ulong value) ? value : 0;

    public IEnumerable<ModuleInfo> EnumerateModules() => _modules ??= BuildModules();

    private IReadOnlyList<ModuleInfo> BuildModules()
    {
        var modules = new List<ModuleInfo>();
        bool pePlatform = TargetPlatform == OSPlatform.Windows;
        foreach (var m in _dump.Modules)
        {
            if (m.IsUnloaded || m.BaseAddress == 0) continue;
            string name = m.Path ?? m.Name;
            if (name.StartsWith("/dev/", StringComparison.Ordinal)) continue;
            ModuleInfo? info = null;
            try
            {
                // Windows dumps: the module list gives timestamp, size and version even where the dump holds no
                // image bytes. Elsewhere the image's own header (ELF, Mach-O, or a mapped PE assembly) decides.
                info = pePlatform
                    ? ModuleInfo.TryCreate(this, m.BaseAddress, name, (int)m.Size, (int)m.TimeDateStamp, m.FileVersion, _limits)
                      ?? new ListedPEModuleInfo(m.BaseAddress, name, (int)m.Size, (int)m.TimeDateStamp, m.FileVersion)
                    : ModuleInfo.TryCreate(this, m.BaseAddress, name, _limits);
            }
            catch (Exception)
            {
                // An image ClrMD cannot parse is left out, as ClrMD's own readers leave it out.
            }
            if (info is not null) modules.Add(info);
        }
        return modules;
    }

    public void FlushCachedData()
    {
        _modules = null;
        _threads = null;
    }

    private Dictionary<uint, DumpThread> Threads
    {
        get
        {
            if (_threads is { } t) return t;
            var map = new Dictionary<uint, DumpThread>();
            foreach (var thread in _dump.Threads) map.TryAdd(thread.Id, thread);
            return _threads = map;
        }
    }

    public IEnumerable<uint> EnumerateOSThreadIds() => _dump.Threads.Select(t => t.Id);

    public ulong GetThreadTeb(uint osThreadId) => Threads.TryGetValue(osThreadId, out var t) ? t.Teb : 0;

    public bool GetThreadContext(uint threadID, uint contextFlags, Span<byte> context)
    {
        if (!Threads.TryGetValue(threadID, out var thread)) return false;
        return ThreadContext.Write(_dump.Architecture, thread.Registers, context);
    }
}

/// <summary>
/// A PE module known only from a minidump's module list (the dump holds none of its image): what ClrMD needs to
/// recognise a runtime by name and to find its files by timestamp and size.
/// </summary>
internal sealed class ListedPEModuleInfo(ulong imageBase, string fileName, int size, int timeStamp, Version? version)
    : ModuleInfo(imageBase, fileName)
{
    public override ModuleKind Kind => ModuleKind.PortableExecutable;
    protected override long ImageSizeCore => size;
    public override int IndexFileSize => size;
    public override int IndexTimeStamp => timeStamp;
    public override Version Version => version ?? new Version();
}

/// <summary>
/// Writes a thread's registers (by name, as <see cref="DumpThread.Registers"/> holds them from a minidump CONTEXT
/// or an ELF NT_PRSTATUS) into the Windows CONTEXT layout the DAC reads (AMD64Context, X86Context, Arm64Context).
/// </summary>
public static class ThreadContext
{
    public const int Amd64Size = 0x4D0;
    public const int X86Size = 0x2CC;
    public const int Arm64Size = 0x390;

    private const uint Amd64Full = 0x0010_0000 | 0x1 | 0x2 | 0x4;   // CONTROL | INTEGER | SEGMENTS
    private const uint X86Full = 0x0001_0000 | 0x1 | 0x2 | 0x4;
    private const uint Arm64Full = 0x0040_0000 | 0x1 | 0x2;         // CONTROL | INTEGER

    /// <summary>The CONTEXT size for an architecture; 0 for one without a layout.</summary>
    public static int SizeOf(CpuArchitecture arch) => arch switch
    {
        CpuArchitecture.X64 => Amd64Size,
        CpuArchitecture.X86 => X86Size,
        CpuArchitecture.Arm64 => Arm64Size,
        _ => 0,
    };

    /// <summary>Fills <paramref name="context"/>; false when the architecture has no layout, the span is too short or the registers lack the IP/SP.</summary>
    public static bool Write(CpuArchitecture arch, IReadOnlyDictionary<string, ulong> registers, Span<byte> context)
    {
        int size = SizeOf(arch);
        if (size == 0 || context.Length < size) return false;
        var regs = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        foreach (var (k, v) in registers) regs[k] = v;
        context[..size].Clear();
        return arch switch
        {
            CpuArchitecture.X64 => WriteAmd64(regs, context),
            CpuArchitecture.X86 => WriteX86(regs, context),
            CpuArchitecture.Arm64 => WriteArm64(regs, context),
            _ => false,
        };
    }

    private static ulong Get(Dictionary<string, ulong> regs, params string[] names)
    {
        foreach (var n in names) if (regs.TryGetValue(n, out var v)) return v;
        return 0;
    }

    private static bool WriteAmd64(Dictionary<string, ulong> r, Span<byte> c)
    {
        if (!r.ContainsKey("rip") || !r.ContainsKey("rsp")) return false;
        BinaryPrimitives.WriteUInt32LittleEndian(c[0x30..], Amd64Full);
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x38..], (ushort)Get(r, "cs"));
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x3A..], (ushort)Get(r, "ds"));
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x3C..], (ushort)Get(r, "es"));
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x3E..], (ushort)Get(r, "fs"));
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x40..], (ushort)Get(r, "gs"));
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x42..], (ushort)Get(r, "ss"));
        BinaryPrimitives.WriteUInt32LittleEndian(c[0x44..], (uint)Get(r, "efl", "eflags", "rflags"));
        string[] integer = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
        for (int i = 0; i < integer.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(c[(0x78 + 8 * i)..], Get(r, integer[i]));
        BinaryPrimitives.WriteUInt64LittleEndian(c[0xF8..], Get(r, "rip"));
        return true;
    }

    private static bool WriteX86(Dictionary<string, ulong> r, Span<byte> c)
    {
        if (!r.ContainsKey("eip") || !r.ContainsKey("esp")) return false;
        BinaryPrimitives.WriteUInt32LittleEndian(c, X86Full);
        (int Offset, string Name)[] slots =
        [
            (0x8C, "gs"), (0x90, "fs"), (0x94, "es"), (0x98, "ds"), (0x9C, "edi"), (0xA0, "esi"), (0xA4, "ebx"),
            (0xA8, "edx"), (0xAC, "ecx"), (0xB0, "eax"), (0xB4, "ebp"), (0xB8, "eip"), (0xBC, "cs"), (0xC4, "esp"), (0xC8, "ss"),
        ];
        foreach (var (offset, name) in slots) BinaryPrimitives.WriteUInt32LittleEndian(c[offset..], (uint)Get(r, name));
        BinaryPrimitives.WriteUInt32LittleEndian(c[0xC0..], (uint)Get(r, "efl", "eflags"));
        return true;
    }

    private static bool WriteArm64(Dictionary<string, ulong> r, Span<byte> c)
    {
        if (!r.ContainsKey("pc") || !r.ContainsKey("sp")) return false;
        BinaryPrimitives.WriteUInt32LittleEndian(c, Arm64Full);
        BinaryPrimitives.WriteUInt32LittleEndian(c[4..], (uint)Get(r, "cpsr", "pstate"));
        for (int i = 0; i <= 28; i++) BinaryPrimitives.WriteUInt64LittleEndian(c[(8 + 8 * i)..], Get(r, $"x{i}"));
        BinaryPrimitives.WriteUInt64LittleEndian(c[0xF0..], Get(r, "fp", "x29"));
        BinaryPrimitives.WriteUInt64LittleEndian(c[0xF8..], Get(r, "lr", "x30"));
        BinaryPrimitives.WriteUInt64LittleEndian(c[0x100..], Get(r, "sp"));
        BinaryPrimitives.WriteUInt64LittleEndian(c[0x108..], Get(r, "pc"));
        return true;
    }
}
