namespace DumpShell.Model.Names;

/// <summary>MINIDUMP_TYPE flag names.</summary>
public static class DumpTypeFlags
{
    private static readonly string[] Names =
    [
        "MiniDumpWithDataSegs", "MiniDumpWithFullMemory", "MiniDumpWithHandleData", "MiniDumpFilterMemory",
        "MiniDumpScanMemory", "MiniDumpWithUnloadedModules", "MiniDumpWithIndirectlyReferencedMemory",
        "MiniDumpFilterModulePaths", "MiniDumpWithProcessThreadData", "MiniDumpWithPrivateReadWriteMemory",
        "MiniDumpWithoutOptionalData", "MiniDumpWithFullMemoryInfo", "MiniDumpWithThreadInfo", "MiniDumpWithCodeSegs",
        "MiniDumpWithoutAuxiliaryState", "MiniDumpWithFullAuxiliaryState", "MiniDumpWithPrivateWriteCopyMemory",
        "MiniDumpIgnoreInaccessibleMemory", "MiniDumpWithTokenInformation", "MiniDumpWithModuleHeaders",
        "MiniDumpFilterTriage", "MiniDumpWithAvxXStateContext", "MiniDumpWithIptTrace",
        "MiniDumpScanInaccessiblePartialPages", "MiniDumpFilterWriteCombinedMemory",
    ];

    /// <summary>Each set flag's name, lowest bit first; unknown bits as hex; "MiniDumpNormal" for 0.</summary>
    public static string[] Decode(ulong flags)
    {
        if (flags == 0) return ["MiniDumpNormal"];
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            ulong mask = 1UL << bit;
            if ((flags & mask) == 0) continue;
            names.Add(bit < Names.Length ? Names[bit] : $"0x{mask:X}");
        }
        return names.ToArray();
    }
}
