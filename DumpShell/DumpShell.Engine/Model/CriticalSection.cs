namespace DumpShell.Model;

/// <summary>How an RTL_CRITICAL_SECTION's LockCount is read.</summary>
public enum LockCountEncoding
{
    /// <summary>NT 4 to Windows Server 2003 (and Wine): -1 = free, 0 = owned without waiters, n = owned with n waiters.</summary>
    PreVista,
    /// <summary>Windows Vista and later: bit 0 clear = locked, bit 1 clear = a waiter has been woken, waiters = (-1 - LockCount) &gt;&gt; 2.</summary>
    VistaPlus,
}

/// <summary>One RTL_CRITICAL_SECTION found in the dump (WinDbg's !cs, !locks).</summary>
public sealed class DumpCriticalSection
{
    public required string DumpPath { get; init; }
    public int PointerSize { get; init; } = 8;
    public ulong Address { get; init; }
    /// <summary>The symbol of the address when it lies in a module ("module!name+0x..", "module+0x..."); null elsewhere.</summary>
    public string? Symbol { get; set; }
    /// <summary>Where the structure lives: "stack of 0xfc (main)", "module data", "heap or other memory".</summary>
    public string? Location { get; init; }
    /// <summary>How it was found: "Stack" (a pointer in a waiting thread's wait frames), "DebugList" (ProcessLocksList), or both.</summary>
    public required string Source { get; init; }

    public ulong DebugInfo { get; init; }
    /// <summary>The raw LockCount field.</summary>
    public int LockCount { get; init; }
    public int RecursionCount { get; init; }
    /// <summary>The owner's thread id (the OwningThread field); 0 when not owned.</summary>
    public ulong OwningThread { get; init; }
    /// <summary>The owner's thread name when the owner is a thread of the dump.</summary>
    public string? OwnerThreadName { get; init; }
    public ulong LockSemaphore { get; init; }
    public ulong SpinCount { get; init; }
    /// <summary>RTL_CRITICAL_SECTION_DEBUG.EntryCount / ContentionCount, when the debug info is in the dump.</summary>
    public uint? EntryCount { get; init; }
    public uint? ContentionCount { get; init; }

    /// <summary>The pre-Vista reading of LockCount: locked when LockCount &gt;= 0.</summary>
    public bool PreVistaLocked => LockCount >= 0;
    /// <summary>The pre-Vista reading of LockCount: waiters = LockCount when locked.</summary>
    public int PreVistaWaiterCount => Math.Max(LockCount, 0);
    /// <summary>The Vista+ reading: bit 0 clear = locked.</summary>
    public bool VistaLocked => (LockCount & 1) == 0;
    /// <summary>The Vista+ reading: bit 1 clear = a waiting thread has been woken.</summary>
    public bool VistaWaiterWoken => (LockCount & 2) == 0;
    /// <summary>The Vista+ reading: waiters = (-1 - LockCount) &gt;&gt; 2.</summary>
    public int VistaWaiterCount => (int)((-1L - LockCount) >> 2);

    /// <summary>The meaning used for this dump (see <see cref="EncodingReason"/>).</summary>
    public LockCountEncoding Encoding { get; init; }
    public string? EncodingReason { get; init; }

    /// <summary>Locked under <see cref="Encoding"/> (and owned: OwningThread != 0, RecursionCount &gt;= 1).</summary>
    public bool IsLocked { get; init; }
    /// <summary>The waiter count LockCount gives under <see cref="Encoding"/>.</summary>
    public int WaiterCount => !IsLocked ? 0 : Encoding == LockCountEncoding.PreVista ? PreVistaWaiterCount : VistaWaiterCount;
    /// <summary>Threads whose wait frames hold a pointer to this critical section (see LockAnalysis for the rule).</summary>
    public IReadOnlyList<uint> WaitingThreadIds { get; init; } = [];
    /// <summary>Locked by a thread id that is not in the dump: the owner exited or unwound without leaving.</summary>
    public bool IsOrphaned { get; init; }

    public string OwnerText => OwningThread == 0 ? "" :
        OwnerThreadName is { Length: > 0 } n ? $"0x{OwningThread:x} ({n})" : $"0x{OwningThread:x}" + (IsOrphaned ? " (not in dump)" : "");
    public string WaitersText => string.Join(" ", WaitingThreadIds.Select(t => $"0x{t:x}"));
}
