namespace DumpShell.Format.Minidump;

/// <summary>MINIDUMP_STREAM_TYPE values, plus the vendor streams seen in real dumps.</summary>
public enum MinidumpStreamType : uint
{
    Unused = 0,
    ThreadList = 3,
    ModuleList = 4,
    MemoryList = 5,
    Exception = 6,
    SystemInfo = 7,
    ThreadExList = 8,
    Memory64List = 9,
    CommentA = 10,
    CommentW = 11,
    HandleData = 12,
    FunctionTable = 13,
    UnloadedModuleList = 14,
    MiscInfo = 15,
    MemoryInfoList = 16,
    ThreadInfoList = 17,
    HandleOperationList = 18,
    Token = 19,
    JavaScriptData = 20,
    SystemMemoryInfo = 21,
    ProcessVmCounters = 22,
    IptTrace = 23,
    ThreadNames = 24,

    /// <summary>Wine's dbghelp: a MINIDUMP_MODULE_LIST of the Unix (ELF) modules.</summary>
    WineUnixModules = 0xFFF0,

    BreakpadInfo = 0x47670001,
    BreakpadAssertionInfo = 0x47670002,
    LinuxCpuInfo = 0x47670003,
    LinuxProcStatus = 0x47670004,
    LinuxLsbRelease = 0x47670005,
    LinuxCmdLine = 0x47670006,
    LinuxEnviron = 0x47670007,
    LinuxAuxv = 0x47670008,
    LinuxMaps = 0x47670009,
    LinuxDsoDebug = 0x4767000A,
    CrashpadInfo = 0x43500001,
    MozMacosCrashInfo = 0x4D7A0001,
    MozMacosBootargs = 0x4D7A0002,
    MozLinuxLimits = 0x4D7A0003,
    MozSoftErrors = 0x4D7A0005,
}

public static class MinidumpStreamTypeNames
{
    /// <summary>The stream's name, or its number in hex when it is not one we know (e.g. "0x12345678").</summary>
    public static string NameOf(uint type) =>
        Enum.IsDefined(typeof(MinidumpStreamType), type) ? ((MinidumpStreamType)type).ToString() : $"0x{type:X}";
}
