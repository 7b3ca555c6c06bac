namespace DumpShell.Format.Elf;

/// <summary>
/// A thread's general-purpose registers from NT_PRSTATUS's pr_reg, named as the kernel's user_regs_struct
/// (x86_64: r15 ... gs, "eflags" not "efl") or user_pt_regs (aarch64: x0 ... x30, sp, pc, pstate).
/// Registers the note does not hold (a cut-short note) are absent, never zero.
/// </summary>
public sealed class ElfRegisters
{
    /// <summary>x86_64 user_regs_struct, in pr_reg order.</summary>
    public static IReadOnlyList<string> X86_64Names { get; } =
    [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ];

    /// <summary>aarch64 user_pt_regs, in pr_reg order.</summary>
    public static IReadOnlyList<string> AArch64Names { get; } =
        [.. Enumerable.Range(0, 31).Select(i => $"x{i}"), "sp", "pc", "pstate"];

    /// <summary>The register names of pr_reg for a machine; empty for machines without a known layout.</summary>
    public static IReadOnlyList<string> NamesFor(ElfMachine machine) => machine switch
    {
        ElfMachine.X86_64 => X86_64Names,
        ElfMachine.AArch64 => AArch64Names,
        _ => [],
    };

    private readonly ulong[] _values;

    public ElfMachine Machine { get; }

    /// <summary>Names of the registers present, in pr_reg order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Values of the registers present, in pr_reg order (parallel to <see cref="Names"/>).</summary>
    public IReadOnlyList<ulong> Values => _values;

    /// <summary>True when the note held every register of the machine's layout.</summary>
    public bool IsComplete => _values.Length == NamesFor(Machine).Count && _values.Length > 0;

    internal ElfRegisters(ElfMachine machine, ulong[] values)
    {
        Machine = machine;
        _values = values;
        var all = NamesFor(machine);
        Names = all.Count == values.Length ? all : all.Take(values.Length).ToArray();
    }

    /// <summary>A register by name (case-insensitive), or null when the layout has no such register or the note lacks it.</summary>
    public ulong? Get(string name)
    {
        for (int i = 0; i < Names.Count; i++)
            if (string.Equals(Names[i], name, StringComparison.OrdinalIgnoreCase)) return _values[i];
        return null;
    }

    public ulong? InstructionPointer => Get(Machine == ElfMachine.AArch64 ? "pc" : "rip");
    public ulong? StackPointer => Get(Machine == ElfMachine.AArch64 ? "sp" : "rsp");
    /// <summary>rbp on x86_64, x29 on aarch64.</summary>
    public ulong? FramePointer => Get(Machine == ElfMachine.AArch64 ? "x29" : "rbp");
    /// <summary>The link register x30 on aarch64; null on x86_64.</summary>
    public ulong? LinkRegister => Machine == ElfMachine.AArch64 ? Get("x30") : null;

    /// <summary>The registers by name (case-insensitive), e.g. for <c>CpuContext.FromRegisters</c>.</summary>
    public IReadOnlyDictionary<string, ulong> ToDictionary()
    {
        var map = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < Names.Count; i++) map[Names[i]] = _values[i];
        return map;
    }
}

/// <summary>
/// A thread of the dumped process: one NT_PRSTATUS note (struct elf_prstatus) and the notes that follow it up to
/// the next NT_PRSTATUS (its NT_FPREGSET, NT_X86_XSTATE, ... and, in kernel cores, the process-wide notes the
/// kernel writes after the first thread's status).
/// </summary>
public sealed class ElfThread
{
    /// <summary>Position among the threads, in note order (the kernel writes the thread that dumped first; createdump does not).</summary>
    public int Index { get; }
    /// <summary>pr_pid: the kernel's thread id (what gettid() returned in the thread).</summary>
    public int ThreadId { get; }
    public int ParentProcessId { get; }
    public int ProcessGroupId { get; }
    public int SessionId { get; }
    /// <summary>pr_cursig: the signal the thread was stopped by; 0 for threads other than the crashing one in createdump cores.</summary>
    public int Signal { get; }
    /// <summary>pr_info.si_code.</summary>
    public int SignalCode { get; }
    public ulong PendingSignals { get; }
    public ulong HeldSignals { get; }
    public TimeSpan UserTime { get; }
    public TimeSpan SystemTime { get; }
    public ElfRegisters Registers { get; }
    /// <summary>The NT_PRSTATUS note itself.</summary>
    public ElfNote StatusNote { get; }
    /// <summary>Notes after the status up to the next thread's status (NT_FPREGSET, NT_X86_XSTATE, NT_ARM_* ...).</summary>
    public IReadOnlyList<ElfNote> Notes { get; }

    internal ElfThread(int index, ElfNote status, ByteReader r, ElfMachine machine, IReadOnlyList<ElfNote> notes)
    {
        Index = index;
        StatusNote = status;
        Notes = notes;
        // struct elf_prstatus (64-bit): pr_info {si_signo, si_code, si_errno} @0, pr_cursig @12, pr_sigpend @16,
        // pr_sighold @24, pr_pid @32, pr_ppid @36, pr_pgrp @40, pr_sid @44, pr_utime @48, pr_stime @64,
        // pr_cutime @80, pr_cstime @96, pr_reg @112, pr_fpvalid after pr_reg.
        SignalCode = r.I32(4);
        Signal = (short)r.U16(12);
        PendingSignals = r.U64(16);
        HeldSignals = r.U64(24);
        ThreadId = r.I32(32);
        ParentProcessId = r.I32(36);
        ProcessGroupId = r.I32(40);
        SessionId = r.I32(44);
        UserTime = TimeVal(r, 48);
        SystemTime = TimeVal(r, 64);
        int count = ElfRegisters.NamesFor(machine).Count;
        int present = Math.Clamp((r.Length - PrRegOffset) / 8, 0, count);
        var values = new ulong[present];
        for (int i = 0; i < present; i++) values[i] = r.U64(PrRegOffset + 8 * i);
        Registers = new ElfRegisters(machine, values);
    }

    internal const int PrRegOffset = 112;

    /// <summary>sizeof(struct elf_prstatus) for a machine: pr_reg, pr_fpvalid and padding to 8.</summary>
    internal static int ExpectedSize(ElfMachine machine) => PrRegOffset + 8 * ElfRegisters.NamesFor(machine).Count + 8;

    private static TimeSpan TimeVal(ByteReader r, int at)
    {
        long seconds = (long)r.U64(at), micros = (long)r.U64(at + 8);
        if (seconds is < 0 or > 100L * 365 * 86400 || micros is < 0 or >= 1_000_000) return TimeSpan.Zero;
        return TimeSpan.FromSeconds(seconds) + TimeSpan.FromTicks(micros * 10);
    }

    public override string ToString() => $"Thread {ThreadId} (signal {Signal})";
}
