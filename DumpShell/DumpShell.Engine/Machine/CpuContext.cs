using DumpShell.Format;

namespace DumpShell.Machine;

/// <summary>
/// A thread's register state from a CONTEXT record. Registers the record does not carry (by its
/// ContextFlags or its size) are left out, so an absent register is never shown as zero.
/// </summary>
public sealed class CpuContext
{
    private readonly Dictionary<string, ulong> _registers;

    public CpuArchitecture Architecture { get; }
    public uint ContextFlags { get; }
    /// <summary>Bytes of the record, which may exceed the base CONTEXT when XSTATE follows it.</summary>
    public int Size { get; }

    public IReadOnlyDictionary<string, ulong> Registers => _registers;

    public ulong? InstructionPointer => Get(Architecture switch { CpuArchitecture.X86 => "eip", CpuArchitecture.Arm64 => "pc", _ => "rip" });
    public ulong? StackPointer => Get(Architecture switch { CpuArchitecture.X86 => "esp", CpuArchitecture.Arm64 => "sp", _ => "rsp" });
    /// <summary>ebp, rbp; on arm64 fp (x29).</summary>
    public ulong? FramePointer => Get(Architecture switch { CpuArchitecture.X86 => "ebp", CpuArchitecture.Arm64 => "fp", _ => "rbp" });

    private CpuContext(CpuArchitecture arch, uint flags, int size, Dictionary<string, ulong> registers)
    {
        Architecture = arch;
        ContextFlags = flags;
        Size = size;
        _registers = registers;
    }

    public ulong? Get(string name) => _registers.TryGetValue(name, out var v) ? v : null;

    /// <summary>
    /// A context from registers by name (e.g. <see cref="Model.DumpException.ContextRegisters"/>, or registers a
    /// caller has changed): a stack walk's start. ContextFlags and Size are 0: no record lies behind it.
    /// </summary>
    public static CpuContext FromRegisters(CpuArchitecture arch, IReadOnlyDictionary<string, ulong> registers)
    {
        var regs = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in registers) regs[name] = value;
        return new CpuContext(arch, 0, 0, regs);
    }

    // CONTEXT_i386 / CONTEXT_AMD64 architecture bits and their CONTROL / INTEGER / SEGMENTS parts.
    private const uint ContextX86 = 0x00010000;
    private const uint ContextAmd64 = 0x00100000;
    private const uint PartControl = 0x1, PartInteger = 0x2, PartSegments = 0x4, PartDebug = 0x10;

    /// <summary>Size of the x86 CONTEXT without ExtendedRegisters; Breakpad writes it with them (716 bytes).</summary>
    public const int X86MinimumSize = 0xCC;
    /// <summary>sizeof(CONTEXT) on x64; an XSTATE-extended record is larger.</summary>
    public const int X64Size = 0x4D0;

    /// <summary>
    /// Parses a CONTEXT for <paramref name="arch"/>. Returns null for architectures we have no layout for
    /// or a record too short to hold the control registers.
    /// </summary>
    public static CpuContext? Parse(CpuArchitecture arch, ReadOnlySpan<byte> bytes)
    {
        var r = new ByteReader(bytes);
        return arch switch
        {
            CpuArchitecture.X64 when bytes.Length >= 0x100 => ParseX64(r),
            CpuArchitecture.X86 when bytes.Length >= X86MinimumSize => ParseX86(r),
            _ => null,
        };
    }

    private static CpuContext ParseX64(ByteReader r)
    {
        uint flags = r.U32(0x30);
        // Writers that set no part bits (or no architecture bit) still fill the record; read it whole then.
        bool all = (flags & ContextAmd64) == 0 || (flags & 0xFF) == 0;
        var regs = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        if (all || (flags & PartInteger) != 0)
        {
            // Rsp sits among the integer registers but belongs to CONTEXT_CONTROL.
            string?[] names = ["rax", "rcx", "rdx", "rbx", null, "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
            for (int i = 0; i < names.Length; i++)
                if (names[i] is { } name) regs[name] = r.U64(0x78 + 8 * i);
        }
        if (all || (flags & PartControl) != 0)
        {
            regs["rip"] = r.U64(0xF8);
            regs["rsp"] = r.U64(0x98);
            regs["efl"] = r.U32(0x44);
            regs["cs"] = r.U16(0x38);
            regs["ss"] = r.U16(0x42);
        }
        if (all || (flags & PartSegments) != 0)
        {
            regs["ds"] = r.U16(0x3A);
            regs["es"] = r.U16(0x3C);
            regs["fs"] = r.U16(0x3E);
            regs["gs"] = r.U16(0x40);
        }
        if (all || (flags & PartDebug) != 0)
        {
            regs["dr0"] = r.U64(0x48); regs["dr1"] = r.U64(0x50); regs["dr2"] = r.U64(0x58);
            regs["dr3"] = r.U64(0x60); regs["dr6"] = r.U64(0x68); regs["dr7"] = r.U64(0x70);
        }
        return new CpuContext(CpuArchitecture.X64, flags, r.Length, regs);
    }

    private static CpuContext ParseX86(ByteReader r)
    {
        uint flags = r.U32(0);
        bool all = (flags & ContextX86) == 0 || (flags & 0xFF) == 0;
        var regs = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        if (all || (flags & PartInteger) != 0)
        {
            regs["edi"] = r.U32(0x9C); regs["esi"] = r.U32(0xA0); regs["ebx"] = r.U32(0xA4);
            regs["edx"] = r.U32(0xA8); regs["ecx"] = r.U32(0xAC); regs["eax"] = r.U32(0xB0);
        }
        if (all || (flags & PartControl) != 0)
        {
            regs["ebp"] = r.U32(0xB4); regs["eip"] = r.U32(0xB8); regs["cs"] = r.U32(0xBC);
            regs["efl"] = r.U32(0xC0); regs["esp"] = r.U32(0xC4); regs["ss"] = r.U32(0xC8);
        }
        if (all || (flags & PartSegments) != 0)
        {
            regs["gs"] = r.U32(0x8C); regs["fs"] = r.U32(0x90); regs["es"] = r.U32(0x94); regs["ds"] = r.U32(0x98);
        }
        if (all || (flags & PartDebug) != 0)
        {
            regs["dr0"] = r.U32(0x04); regs["dr1"] = r.U32(0x08); regs["dr2"] = r.U32(0x0C);
            regs["dr3"] = r.U32(0x10); regs["dr6"] = r.U32(0x14); regs["dr7"] = r.U32(0x18);
        }
        return new CpuContext(CpuArchitecture.X86, flags, r.Length, regs);
    }
}
