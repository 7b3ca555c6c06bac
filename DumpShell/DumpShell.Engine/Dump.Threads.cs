using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;

namespace DumpShell;

public sealed partial class Dump
{
    // MINIDUMP_THREAD_INFO.DumpFlags: the entry's times and addresses are not valid.
    private const uint ThreadInfoInvalidInfo = 0x8;
    /// <summary>Stack bounds further apart than this are not a thread's stack.</summary>
    private const ulong MaxStackSize = 1UL << 32;

    private IReadOnlyList<DumpThread> BuildThreads(MinidumpFile file)
    {
        var infos = new Dictionary<uint, ThreadInfoRecord>();
        foreach (var info in file.ThreadInfos) infos.TryAdd(info.ThreadId, info);
        var names = file.ThreadNames;
        uint? exceptionThread = file.Exception?.ThreadId;

        var threads = new List<DumpThread>(file.Threads.Count);
        foreach (var t in file.Threads)
        {
            infos.TryGetValue(t.ThreadId, out var info);
            bool validInfo = info is not null && (info.DumpFlags & ThreadInfoInvalidInfo) == 0;
            var contextBytes = file.ThreadContextBytes(t);
            if (contextBytes.Length < t.ContextSize)
                file.Report("ThreadContextUnreadable",
                    $"Thread {t.ThreadId}'s context ({t.ContextSize} bytes at 0x{t.ContextRva:X}) is not wholly in the file.",
                    MinidumpStreamType.ThreadList);
            var context = CpuContext.Parse(Architecture, contextBytes);
            var createTime = validInfo ? FromFileTime(info!.CreateTime) : null;
            TimeSpan? age = createTime is { } c && DumpTime is { } d && d >= c ? d - c : null;
            TimeSpan? user = validInfo ? TimeSpan.FromTicks((long)Math.Min(info!.UserTime, long.MaxValue / 2)) : null;
            TimeSpan? kernel = validInfo ? TimeSpan.FromTicks((long)Math.Min(info!.KernelTime, long.MaxValue / 2)) : null;
            TimeSpan? total = user + kernel;
            var (stackBase, stackLimit, boundsSource) = StackBounds(t);

            threads.Add(new DumpThread
            {
                DumpPath = Path,
                Index = t.Index,
                Id = t.ThreadId,
                Name = names.GetValueOrDefault(t.ThreadId),
                Teb = t.Teb,
                SuspendCount = t.SuspendCount,
                PriorityClass = t.PriorityClass,
                Priority = (int)t.Priority,
                CreateTime = createTime,
                Age = age,
                UserTime = user,
                KernelTime = kernel,
                TotalCpuTime = total,
                StartAddress = validInfo ? info!.StartAddress : null,
                Affinity = validInfo ? info!.Affinity : null,
                ExitStatus = validInfo ? info!.ExitStatus : null,
                InstructionPointer = context?.InstructionPointer,
                StackPointer = context?.StackPointer,
                FramePointer = context?.FramePointer,
                StackBase = stackBase,
                StackLimit = stackLimit,
                StackBoundsSource = boundsSource,
                IsExceptionThread = exceptionThread == t.ThreadId,
                Spiking = SpikingRule.IsSpiking(total, age),
                Architecture = context?.Architecture ?? Architecture,
                PointerSize = PointerSize,
                Registers = context?.Registers ?? new Dictionary<string, ulong>(),
            });
        }
        return threads;
    }

    /// <summary>
    /// Stack base and limit from the TEB's NT_TIB when the dump holds it; otherwise the captured stack
    /// memory, which runs from about the stack pointer up to the base.
    /// </summary>
    private (ulong? Base, ulong? Limit, string? Source) StackBounds(ThreadRecord t)
    {
        if (t.Teb != 0 && Architecture is CpuArchitecture.X64 or CpuArchitecture.X86)
        {
            int p = PointerSize;
            if (Memory.TryReadPointer(t.Teb + (ulong)p, p, out ulong stackBase) &&
                Memory.TryReadPointer(t.Teb + (ulong)(2 * p), p, out ulong stackLimit) &&
                stackBase > stackLimit && stackBase - stackLimit <= MaxStackSize)
                return (stackBase, stackLimit, "TEB");
        }
        if (t.Stack.DataSize > 0)
            return (t.Stack.StartOfMemoryRange + t.Stack.DataSize, t.Stack.StartOfMemoryRange, "StackMemory");
        return (null, null, null);
    }
}
