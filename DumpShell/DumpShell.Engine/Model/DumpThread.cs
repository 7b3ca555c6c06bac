using DumpShell.Machine;

namespace DumpShell.Model;

/// <summary>One thread of the dumped process (WinDbg's ~, !runaway, !teb).</summary>
public sealed class DumpThread
{
    public required string DumpPath { get; init; }
    /// <summary>Debugger-style ordinal: the thread's position in the ThreadList.</summary>
    public int Index { get; init; }
    /// <summary>The OS thread id.</summary>
    public uint Id { get; init; }
    public string? Name { get; init; }
    public ulong Teb { get; init; }
    public uint SuspendCount { get; init; }
    public uint PriorityClass { get; init; }
    public int Priority { get; init; }
    public DateTimeOffset? CreateTime { get; init; }
    /// <summary>Time from the thread's creation to the dump.</summary>
    public TimeSpan? Age { get; init; }
    public TimeSpan? UserTime { get; init; }
    public TimeSpan? KernelTime { get; init; }
    public TimeSpan? TotalCpuTime { get; init; }
    public ulong? StartAddress { get; init; }
    public ulong? Affinity { get; init; }
    public uint? ExitStatus { get; init; }
    public ulong? InstructionPointer { get; init; }
    public ulong? StackPointer { get; init; }
    public ulong? FramePointer { get; init; }
    public ulong? StackBase { get; init; }
    public ulong? StackLimit { get; init; }
    /// <summary>Where StackBase and StackLimit come from: "TEB" (NT_TIB) or "StackMemory" (the captured range).</summary>
    public string? StackBoundsSource { get; init; }
    public bool IsExceptionThread { get; init; }
    /// <summary>See <see cref="SpikingRule"/>.</summary>
    public bool Spiking { get; init; }
    public CpuArchitecture Architecture { get; init; }

    /// <summary>The dump's pointer size in bytes (4 or 8): how wide addresses print.</summary>
    public int PointerSize { get; init; } = 8;
    /// <summary>The thread's registers by name (WinDbg's r).</summary>
    public required IReadOnlyDictionary<string, ulong> Registers { get; init; }

    // ------------------------------------------------------------------ managed facts (!threads), from ClrMD
    // Filled only for a dump whose CLR can be read (see Get-DumpThread); null/false/None otherwise.

    /// <summary>True when the CLR knows this OS thread (it ran or runs managed code, or is one of the runtime's threads).</summary>
    public bool IsManaged { get; private set; }
    /// <summary>The managed thread id (Environment.CurrentManagedThreadId); null for a thread the CLR does not know.</summary>
    public int? ManagedThreadId { get; private set; }
    /// <summary>The CLR's roles of the thread: Finalizer, GC, ThreadPoolWorker, ThreadPoolIO, Timer, Background, ...</summary>
    public ClrThreadKind ClrKind { get; private set; }
    /// <summary>COM apartment as the CLR records it: "STA", "MTA", or null when the thread entered none (always on Linux).</summary>
    public string? Apartment { get; private set; }
    /// <summary>How many managed locks the thread holds as the CLR's thread object counts them; null where the runtime does not keep the count.</summary>
    public uint? LockCount { get; private set; }
    /// <summary>"Cooperative" (running managed code) or "Preemptive" (in native code or waiting).</summary>
    public string? GCMode { get; private set; }
    /// <summary>The type of the thread's current managed exception (!pe), e.g. "System.InvalidOperationException".</summary>
    public string? CurrentExceptionType { get; private set; }
    /// <summary>The address of the current managed exception object.</summary>
    public ulong? CurrentExceptionAddress { get; private set; }
    /// <summary>The name of the managed thread object (Thread.Name), when the dump holds it.</summary>
    public string? ManagedName { get; private set; }

    /// <summary>This thread with the CLR's facts about it: a copy; the dump's own thread objects stay native-only.</summary>
    public DumpThread WithManaged(ManagedThreadFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var copy = (DumpThread)MemberwiseClone();
        copy.IsManaged = true;
        copy.ManagedThreadId = facts.ManagedThreadId;
        copy.ClrKind = facts.Kind;
        copy.Apartment = facts.Apartment;
        copy.LockCount = facts.LockCount;
        copy.GCMode = facts.GCMode;
        copy.CurrentExceptionType = facts.CurrentExceptionType;
        copy.CurrentExceptionAddress = facts.CurrentExceptionAddress;
        copy.ManagedName = facts.Name;
        return copy;
    }
}

/// <summary>The CLR's roles of a thread (ClrMD: IsFinalizer, IsGc and the runtime's thread-state flags).</summary>
[Flags]
public enum ClrThreadKind
{
    None = 0,
    Finalizer = 0x1,
    GC = 0x2,
    /// <summary>A thread-pool worker thread (TS_TPWorkerThread).</summary>
    ThreadPoolWorker = 0x4,
    /// <summary>A thread-pool I/O completion-port thread (TS_CompletionPortThread).</summary>
    ThreadPoolIO = 0x8,
    /// <summary>The thread pool's timer thread (the managed thread named ".NET Timer" / ".NET Long Running Task" are not timers).</summary>
    Timer = 0x10,
    /// <summary>A background thread (IsBackground).</summary>
    Background = 0x20,
    /// <summary>A Thread object that was never started (no OS thread).</summary>
    Unstarted = 0x40,
    /// <summary>A Thread object whose OS thread has ended.</summary>
    Dead = 0x80,
}

/// <summary>What the CLR says about one thread (see <see cref="DumpThread.WithManaged"/>).</summary>
public sealed record ManagedThreadFacts(
    uint OSThreadId,
    int ManagedThreadId,
    ClrThreadKind Kind,
    string? Apartment,
    uint? LockCount,
    string? GCMode,
    string? CurrentExceptionType,
    ulong? CurrentExceptionAddress,
    string? Name,
    bool IsAlive);

/// <summary>
/// A thread is spiking when it has used at least <see cref="MinimumCpu"/> of CPU and, over its life up to
/// the dump, at least <see cref="MinimumShareOfOneCpu"/> of one processor (TotalCpuTime / Age). The rule
/// needs each thread's CPU and create times (ThreadInfoList) and the dump time; without them no thread
/// is called spiking.
/// </summary>
public static class SpikingRule
{
    public static readonly TimeSpan MinimumCpu = TimeSpan.FromSeconds(1);
    public const double MinimumShareOfOneCpu = 0.5;

    public static bool IsSpiking(TimeSpan? totalCpu, TimeSpan? age) =>
        totalCpu is { } cpu && age is { } a && cpu >= MinimumCpu &&
        cpu.TotalMilliseconds >= MinimumShareOfOneCpu * Math.Max(a.TotalMilliseconds, 1);
}
