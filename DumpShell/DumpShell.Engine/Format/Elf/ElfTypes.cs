namespace DumpShell.Format.Elf;

/// <summary>ELF e_machine values this reader knows by name (the ELF gABI's EM_* numbers).</summary>
public enum ElfMachine : ushort
{
    None = 0,
    X86 = 3,
    Arm = 40,
    X86_64 = 62,
    AArch64 = 183,
    RiscV = 243,
    LoongArch = 258,
}

/// <summary>Program header p_type values (PT_*).</summary>
public enum ElfSegmentType : uint
{
    Null = 0,
    Load = 1,
    Dynamic = 2,
    Interp = 3,
    Note = 4,
    Shlib = 5,
    Phdr = 6,
    Tls = 7,
    GnuEhFrame = 0x6474E550,
    GnuStack = 0x6474E551,
    GnuRelro = 0x6474E552,
    GnuProperty = 0x6474E553,
}

/// <summary>Program header p_flags (PF_*): the protection of the mapping the segment was dumped from.</summary>
[Flags]
public enum ElfSegmentFlags : uint
{
    None = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
}

/// <summary>What the first bytes of a mapped file's lowest file-offset-0 mapping hold in the dumped memory.</summary>
public enum ElfImageKind
{
    /// <summary>The first page is not in the core (or the file was never mapped from offset 0).</summary>
    NotCaptured,
    /// <summary>An ELF image (starts with 0x7F 'E' 'L' 'F'): a native executable or shared library.</summary>
    Elf,
    /// <summary>A PE image (starts with "MZ"): on Linux, a managed assembly mapped by the .NET runtime.</summary>
    PE,
    /// <summary>Captured, but neither ELF nor PE: a data file (ICU data, locale archive, a memory-mapped file ...).</summary>
    Other,
}

/// <summary>Note types (n_type) of core files. The number alone is ambiguous: it is read with the note's owner name.</summary>
public static class ElfNoteTypes
{
    // Owner "CORE"
    public const uint PrStatus = 1;
    public const uint FpRegSet = 2;
    public const uint PrPsInfo = 3;
    public const uint TaskStruct = 4;
    public const uint Auxv = 6;
    public const uint SigInfo = 0x53494749;   // "SIGI"
    public const uint File = 0x46494C45;      // "FILE"
    public const uint PrXFpReg = 0x46E62B7F;
    // Owner "LINUX"
    public const uint X86XState = 0x202;
    public const uint ArmVfp = 0x400;
    public const uint ArmTls = 0x401;
    public const uint ArmHwBreak = 0x402;
    public const uint ArmHwWatch = 0x403;
    public const uint ArmSystemCall = 0x404;
    public const uint ArmSve = 0x405;
    public const uint ArmPacMask = 0x406;
    // Owner "GNU"
    public const uint GnuAbiTag = 1;
    public const uint GnuBuildId = 3;
    public const uint GnuProperty = 5;

    /// <summary>"NT_PRSTATUS", "NT_FILE", ... for a note's owner and type; "0x..." when unknown.</summary>
    public static string NameOf(string owner, uint type) => (owner, type) switch
    {
        ("CORE", PrStatus) => "NT_PRSTATUS",
        ("CORE", FpRegSet) => "NT_FPREGSET",
        ("CORE", PrPsInfo) => "NT_PRPSINFO",
        ("CORE", TaskStruct) => "NT_TASKSTRUCT",
        ("CORE", Auxv) => "NT_AUXV",
        ("CORE", SigInfo) => "NT_SIGINFO",
        ("CORE", File) => "NT_FILE",
        ("LINUX", PrXFpReg) => "NT_PRXFPREG",
        ("LINUX", X86XState) => "NT_X86_XSTATE",
        ("LINUX", ArmVfp) => "NT_ARM_VFP",
        ("LINUX", ArmTls) => "NT_ARM_TLS",
        ("LINUX", ArmHwBreak) => "NT_ARM_HW_BREAK",
        ("LINUX", ArmHwWatch) => "NT_ARM_HW_WATCH",
        ("LINUX", ArmSystemCall) => "NT_ARM_SYSTEM_CALL",
        ("LINUX", ArmSve) => "NT_ARM_SVE",
        ("LINUX", ArmPacMask) => "NT_ARM_PAC_MASK",
        ("GNU", GnuAbiTag) => "NT_GNU_ABI_TAG",
        ("GNU", GnuBuildId) => "NT_GNU_BUILD_ID",
        ("GNU", GnuProperty) => "NT_GNU_PROPERTY_TYPE_0",
        _ => $"0x{type:X}",
    };
}

/// <summary>Auxiliary vector entry types (AT_*), as the kernel passes them to a new process.</summary>
public enum ElfAuxvType : ulong
{
    Null = 0,
    Ignore = 1,
    ExecFd = 2,
    Phdr = 3,
    PhEnt = 4,
    PhNum = 5,
    PageSize = 6,
    Base = 7,
    Flags = 8,
    Entry = 9,
    NotElf = 10,
    Uid = 11,
    EUid = 12,
    Gid = 13,
    EGid = 14,
    Platform = 15,
    HwCap = 16,
    ClkTck = 17,
    Secure = 23,
    BasePlatform = 24,
    Random = 25,
    HwCap2 = 26,
    RseqFeatureSize = 27,
    RseqAlign = 28,
    HwCap3 = 29,
    HwCap4 = 30,
    ExecFn = 31,
    SysInfo = 32,
    SysInfoEhdr = 33,
    MinSigStackSize = 51,
}

/// <summary>One program header (Elf64_Phdr) as the file states it.</summary>
/// <param name="Index">Position in the program header table.</param>
/// <param name="FileSize">p_filesz: bytes of the segment present in the file (as declared; see <see cref="ElfCoreFile.Memory"/> for clipping).</param>
/// <param name="MemorySize">p_memsz: bytes of the process's address space the segment covers.</param>
public readonly record struct ElfSegment(
    int Index,
    ElfSegmentType Type,
    ElfSegmentFlags Flags,
    ulong FileOffset,
    ulong VirtualAddress,
    ulong FileSize,
    ulong MemorySize,
    ulong Alignment)
{
    /// <summary>Exclusive end of the segment in the address space (saturating at 2^64-1).</summary>
    public ulong EndAddress => VirtualAddress + Math.Min(MemorySize, ulong.MaxValue - VirtualAddress);

    /// <summary>"r-x", "rw-", ... as /proc/pid/maps shows the protection.</summary>
    public string Protection =>
        string.Concat((Flags & ElfSegmentFlags.Read) != 0 ? "r" : "-", (Flags & ElfSegmentFlags.Write) != 0 ? "w" : "-",
            (Flags & ElfSegmentFlags.Execute) != 0 ? "x" : "-");
}

/// <summary>One note of a PT_NOTE segment: its owner name, type and where its descriptor lies in the file.</summary>
/// <param name="Index">Position among all notes of the file, in file order.</param>
/// <param name="DataOffset">File offset of the descriptor (n_desc).</param>
/// <param name="DataSize">Bytes of the descriptor that lie inside the note segment and the file.</param>
/// <param name="DeclaredSize">n_descsz as written; larger than <paramref name="DataSize"/> when the note is cut short.</param>
public readonly record struct ElfNote(int Index, string Owner, uint Type, long DataOffset, int DataSize, uint DeclaredSize)
{
    /// <summary>"NT_PRSTATUS", "NT_FILE", ... or the type in hex.</summary>
    public string TypeName => ElfNoteTypes.NameOf(Owner, Type);
}

/// <summary>One entry of the auxiliary vector (NT_AUXV).</summary>
public readonly record struct ElfAuxvEntry(ulong Type, ulong Value)
{
    /// <summary>The kernel's name ("AT_PAGESZ", "AT_SYSINFO_EHDR" ...), or "AT_&lt;number&gt;" when unknown.</summary>
    public string Name => (ElfAuxvType)Type switch
    {
        ElfAuxvType.Null => "AT_NULL",
        ElfAuxvType.Ignore => "AT_IGNORE",
        ElfAuxvType.ExecFd => "AT_EXECFD",
        ElfAuxvType.Phdr => "AT_PHDR",
        ElfAuxvType.PhEnt => "AT_PHENT",
        ElfAuxvType.PhNum => "AT_PHNUM",
        ElfAuxvType.PageSize => "AT_PAGESZ",
        ElfAuxvType.Base => "AT_BASE",
        ElfAuxvType.Flags => "AT_FLAGS",
        ElfAuxvType.Entry => "AT_ENTRY",
        ElfAuxvType.NotElf => "AT_NOTELF",
        ElfAuxvType.Uid => "AT_UID",
        ElfAuxvType.EUid => "AT_EUID",
        ElfAuxvType.Gid => "AT_GID",
        ElfAuxvType.EGid => "AT_EGID",
        ElfAuxvType.Platform => "AT_PLATFORM",
        ElfAuxvType.HwCap => "AT_HWCAP",
        ElfAuxvType.ClkTck => "AT_CLKTCK",
        ElfAuxvType.Secure => "AT_SECURE",
        ElfAuxvType.BasePlatform => "AT_BASE_PLATFORM",
        ElfAuxvType.Random => "AT_RANDOM",
        ElfAuxvType.HwCap2 => "AT_HWCAP2",
        ElfAuxvType.RseqFeatureSize => "AT_RSEQ_FEATURE_SIZE",
        ElfAuxvType.RseqAlign => "AT_RSEQ_ALIGN",
        ElfAuxvType.HwCap3 => "AT_HWCAP3",
        ElfAuxvType.HwCap4 => "AT_HWCAP4",
        ElfAuxvType.ExecFn => "AT_EXECFN",
        ElfAuxvType.SysInfo => "AT_SYSINFO",
        ElfAuxvType.SysInfoEhdr => "AT_SYSINFO_EHDR",
        ElfAuxvType.MinSigStackSize => "AT_MINSIGSTKSZ",
        _ => $"AT_{Type}",
    };
}

/// <summary>One mapped file of NT_FILE: [Start, End) of the address space maps the file from <see cref="FileOffset"/>.</summary>
/// <param name="PageOffset">The file offset as written, in units of NT_FILE's page size.</param>
/// <param name="FileOffset">PageOffset times the page size: the byte offset in the file.</param>
public readonly record struct ElfFileMapping(ulong Start, ulong End, ulong PageOffset, ulong FileOffset, string Path)
{
    public ulong Size => End - Start;
}

/// <summary>Process facts of NT_PRPSINFO (struct elf_prpsinfo).</summary>
/// <param name="State">pr_sname: 'R', 'S', 'D', 'T', 'Z' ... ('\0' when the writer left it empty).</param>
/// <param name="FileName">pr_fname: the executable's name as the kernel keeps it (at most 15 characters).</param>
/// <param name="Arguments">pr_psargs: the start of the command line (at most 79 characters; createdump leaves it empty).</param>
public sealed record ElfProcessInfo(
    char State,
    byte Zombie,
    sbyte Nice,
    ulong Flags,
    uint UserId,
    uint GroupId,
    int ProcessId,
    int ParentProcessId,
    int ProcessGroupId,
    int SessionId,
    string FileName,
    string Arguments);

/// <summary>The signal a core was written for (NT_SIGINFO, a siginfo_t).</summary>
/// <param name="FaultAddress">si_addr for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP; null for other signals.</param>
/// <param name="SenderProcessId">si_pid when the signal was sent by a process (si_code &lt;= 0, e.g. kill, tkill, abort); else null.</param>
public sealed record ElfSignalInfo(int Signal, int ErrorNumber, int Code, ulong? FaultAddress, int? SenderProcessId, uint? SenderUserId)
{
    /// <summary>"SIGSEGV", "SIGABRT", ... or the number.</summary>
    public string SignalName => ElfSignals.NameOf(Signal);
}

/// <summary>Linux signal names (x86_64 and aarch64 share the numbering).</summary>
public static class ElfSignals
{
    private static readonly string[] Names =
    [
        "0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1",
        "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
        "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    public static string NameOf(int signal) =>
        signal > 0 && signal < Names.Length ? Names[signal] : signal >= 34 && signal <= 64 ? $"SIGRTMIN+{signal - 34}" : signal.ToString();
}
