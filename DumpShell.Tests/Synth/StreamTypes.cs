namespace DumpShell.Tests.Synth;

/// <summary>MINIDUMP_STREAM_TYPE values (minidumpapiset.h) plus the Breakpad / Crashpad vendor streams.</summary>
public static class StreamType
{
    public const uint Unused = 0;
    public const uint Reserved0 = 1;
    public const uint Reserved1 = 2;
    public const uint ThreadList = 3;
    public const uint ModuleList = 4;
    public const uint MemoryList = 5;
    public const uint Exception = 6;
    public const uint SystemInfo = 7;
    public const uint ThreadExList = 8;
    public const uint Memory64List = 9;
    public const uint CommentA = 10;
    public const uint CommentW = 11;
    public const uint HandleData = 12;
    public const uint FunctionTable = 13;
    public const uint UnloadedModuleList = 14;
    public const uint MiscInfo = 15;
    public const uint MemoryInfoList = 16;
    public const uint ThreadInfoList = 17;
    public const uint HandleOperationList = 18;
    public const uint Token = 19;
    public const uint JavaScriptData = 20;
    public const uint SystemMemoryInfo = 21;
    public const uint ProcessVmCounters = 22;
    public const uint IptTrace = 23;
    public const uint ThreadNames = 24;
    public const uint LastReserved = 0xFFFF;

    // Breakpad ("Gg") extensions.
    public const uint BreakpadInfo = 0x47670001;
    public const uint AssertionInfo = 0x47670002;
    public const uint LinuxCpuInfo = 0x47670003;
    public const uint LinuxProcStatus = 0x47670004;
    public const uint LinuxLsbRelease = 0x47670005;
    public const uint LinuxCmdLine = 0x47670006;
    public const uint LinuxEnviron = 0x47670007;
    public const uint LinuxAuxv = 0x47670008;
    public const uint LinuxMaps = 0x47670009;
    public const uint LinuxDsoDebug = 0x4767000A;

    // Crashpad ("CP") extension.
    public const uint CrashpadInfo = 0x43500001;
}

/// <summary>PROCESSOR_ARCHITECTURE_* values for MINIDUMP_SYSTEM_INFO.ProcessorArchitecture.</summary>
public static class ProcessorArchitecture
{
    public const ushort X86 = 0;
    public const ushort Arm = 5;
    public const ushort Ia64 = 6;
    public const ushort Amd64 = 9;
    public const ushort Arm64 = 12;
    public const ushort Unknown = 0xFFFF;
}

/// <summary>Assorted Windows constants that commonly appear in dumps.</summary>
public static class WinConst
{
    public const uint PlatformWin32Nt = 2;   // VER_PLATFORM_WIN32_NT
    public const byte NtWorkstation = 1;     // VER_NT_WORKSTATION
    public const byte NtDomainController = 2;
    public const byte NtServer = 3;

    // MEMORY_BASIC_INFORMATION.State
    public const uint MemCommit = 0x1000;
    public const uint MemReserve = 0x2000;
    public const uint MemFree = 0x10000;
    // .Type
    public const uint MemPrivate = 0x20000;
    public const uint MemMapped = 0x40000;
    public const uint MemImage = 0x1000000;
    // .Protect
    public const uint PageNoAccess = 0x01;
    public const uint PageReadOnly = 0x02;
    public const uint PageReadWrite = 0x04;
    public const uint PageWriteCopy = 0x08;
    public const uint PageExecute = 0x10;
    public const uint PageExecuteRead = 0x20;
    public const uint PageExecuteReadWrite = 0x40;
    public const uint PageExecuteWriteCopy = 0x80;
    public const uint PageGuard = 0x100;

    // Exception codes
    public const uint StatusAccessViolation = 0xC0000005;
    public const uint StatusBreakpoint = 0x80000003;
    public const uint StatusStackOverflow = 0xC00000FD;
    public const uint StatusIntegerDivideByZero = 0xC0000094;
    public const uint ClrException = 0xE0434352;
    public const uint CppException = 0xE06D7363;
    public const uint ExceptionNoncontinuable = 0x1;

    // MINIDUMP_TYPE flags (header Flags)
    public const ulong MiniDumpNormal = 0x0;
    public const ulong MiniDumpWithDataSegs = 0x1;
    public const ulong MiniDumpWithFullMemory = 0x2;
    public const ulong MiniDumpWithHandleData = 0x4;
    public const ulong MiniDumpWithUnloadedModules = 0x20;
    public const ulong MiniDumpWithProcessThreadData = 0x100;
    public const ulong MiniDumpWithFullMemoryInfo = 0x800;
    public const ulong MiniDumpWithThreadInfo = 0x1000;
}

/// <summary>MINIDUMP_MISC_INFO Flags1 bits.</summary>
public static class MiscInfoFlags
{
    public const uint ProcessId = 0x001;
    public const uint ProcessTimes = 0x002;
    public const uint ProcessorPowerInfo = 0x004;
    public const uint ProcessIntegrity = 0x010;
    public const uint ProcessExecuteFlags = 0x020;
    public const uint TimeZone = 0x040;
    public const uint ProtectedProcess = 0x080;
    public const uint BuildString = 0x100;
    public const uint ProcessCookie = 0x200;
}

/// <summary>A block of captured memory: a virtual address and the section holding its bytes.</summary>
public sealed class MemoryBlock
{
    public MemoryBlock(ulong address, Section data)
    {
        Address = address;
        Data = data ?? throw new ArgumentNullException(nameof(data));
    }

    public MemoryBlock(ulong address, ReadOnlySpan<byte> bytes)
        : this(address, new Section($"memory@0x{address:X}").Bytes(bytes))
    {
    }

    public ulong Address { get; }
    public Section Data { get; }
    public long Size => Data.Size;
}
