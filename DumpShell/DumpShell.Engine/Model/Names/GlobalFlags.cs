namespace DumpShell.Model.Names;

/// <summary>NtGlobalFlag bits (gflags) that matter in user-mode dumps.</summary>
public static class GlobalFlags
{
    public const uint ShowLoaderSnaps = 0x2;
    public const uint HeapTailCheck = 0x10;
    public const uint HeapFreeCheck = 0x20;
    public const uint HeapParameterCheck = 0x40;
    public const uint HeapValidateAll = 0x80;
    public const uint ApplicationVerifier = 0x100;
    /// <summary>ptg: a kernel flag (always on since Windows Server 2003) that shows up in user-mode PEBs too.</summary>
    public const uint PoolTagging = 0x400;
    public const uint HeapTagging = 0x800;
    public const uint UserStackTraceDb = 0x1000;
    public const uint PageHeap = 0x02000000;
    /// <summary>What Windows sets for a process started under a debugger: heap tail, free and parameter checks.</summary>
    public const uint DebuggerDefault = HeapTailCheck | HeapFreeCheck | HeapParameterCheck;

    private static readonly (uint Bit, string Name)[] Names =
    [
        (ShowLoaderSnaps, "sls (loader snaps)"),
        (HeapTailCheck, "htc (heap tail check)"),
        (HeapFreeCheck, "hfc (heap free check)"),
        (HeapParameterCheck, "hpc (heap parameter check)"),
        (HeapValidateAll, "hvc (heap validate on call)"),
        (ApplicationVerifier, "vrf (application verifier)"),
        (PoolTagging, "ptg (pool tagging, kernel)"),
        (HeapTagging, "htg (heap tagging)"),
        (UserStackTraceDb, "ust (user-mode stack trace database)"),
        (PageHeap, "hpa (page heap)"),
    ];

    /// <summary>The set bits by name, comma-separated; unknown bits as hex; "" for 0.</summary>
    public static string Describe(uint flags)
    {
        var parts = new List<string>();
        uint known = 0;
        foreach (var (bit, name) in Names)
        {
            known |= bit;
            if ((flags & bit) != 0) parts.Add(name);
        }
        if ((flags & ~known) != 0) parts.Add($"0x{flags & ~known:x}");
        return string.Join(", ", parts);
    }
}
