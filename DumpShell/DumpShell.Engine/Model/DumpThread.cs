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
}

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
