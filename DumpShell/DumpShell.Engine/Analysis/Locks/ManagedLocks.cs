using DumpShell.Managed;
using DumpShell.Model;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Analysis.Locks;

/// <summary>
/// Managed Monitor locks (C# <c>lock</c>, Monitor.Enter) as ClrMD shows them, for the wait graph: which thread holds
/// each locked object (!syncblk: the sync block's holding thread; a thin lock's owner in the object header) and which
/// object each thread waits to enter.
/// <para>
/// <b>Waiting.</b> A managed thread waits on a Monitor when its top managed frames (runtime frames such as
/// InlinedCallFrame aside) are System.Threading.Monitor's Enter/ReliableEnter/TryEnter methods. The object is the stack
/// root the runtime reports in those Monitor frames; without one, the single object among the roots of the calling frame
/// that another thread holds. Monitor.Wait (waiting for a Pulse, the lock released) is not an enter and is not an edge.
/// </para>
/// <para>
/// Only read when the dump names a CLR (<see cref="ClrRuntimeModule.Find"/>): a native dump creates no ClrMD objects.
/// </para>
/// </summary>
internal sealed class ManagedLocks
{
    private const int MaxFrames = 64;

    private ManagedLocks(ManagedStatus status, string? note)
    {
        Status = status;
        Note = note;
    }

    public ManagedStatus Status { get; }
    /// <summary>Why the managed locks were not read (DAC failure), or null.</summary>
    public string? Note { get; }
    /// <summary>OS thread id → the Monitor wait of that thread.</summary>
    public IReadOnlyDictionary<uint, ManagedWait> Waits { get; private init; } = new Dictionary<uint, ManagedWait>();
    /// <summary>Every held Monitor (sync blocks and thin locks met on waiting threads' stacks).</summary>
    public IReadOnlyList<MonitorLock> Held { get; private init; } = [];
    /// <summary>OS thread id → the managed Thread's name (Thread.Name), for threads that have one.</summary>
    public IReadOnlyDictionary<uint, string> ThreadNames { get; private init; } = new Dictionary<uint, string>();

    public static ManagedLocks Read(Dump dump)
    {
        if (ClrRuntimeModule.Find(dump) is null) return new ManagedLocks(ManagedStatus.NoClr, null);
        var session = ClrSession.For(dump);
        ClrRuntime? runtime;
        try { runtime = session.Runtime; }
        catch (Exception e) when (e is not OutOfMemoryException) { return new ManagedLocks(ManagedStatus.DacNotAvailable, e.Message); }
        if (runtime is null) return new ManagedLocks(ManagedStatus.DacNotAvailable, session.Failure?.ToString());
        try
        {
            return ReadRuntime(dump, runtime);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ManagedLocks(ManagedStatus.DacNotAvailable, $"managed locks could not be read: {e.Message}");
        }
    }

    private static ManagedLocks ReadRuntime(Dump dump, ClrRuntime runtime)
    {
        var heap = runtime.Heap;
        var threads = runtime.Threads.Where(t => t.OSThreadId != 0).ToArray();
        var byAddress = threads.GroupBy(t => t.Address).ToDictionary(g => g.Key, g => g.First());
        var names = ThreadNamesOf(runtime, threads);

        // Held monitors from the sync block table (!syncblk).
        var held = new Dictionary<ulong, MonitorLock>();
        foreach (var sb in heap.EnumerateSyncBlocks())
        {
            if (!sb.IsMonitorHeld || sb.Object == 0) continue;
            uint? owner = byAddress.TryGetValue(sb.HoldingThreadAddress, out var ot) ? ot.OSThreadId : null;
            held[sb.Object] = new MonitorLock
            {
                DumpPath = dump.Path, PointerSize = dump.PointerSize, Address = sb.Object,
                Type = heap.GetObjectType(sb.Object)?.Name ?? "<unknown type>",
                OwnerThreadId = owner, OwnerThreadName = owner is { } o ? names.GetValueOrDefault(o) : null,
                OwnerManagedThreadId = owner is not null ? ot!.ManagedThreadId : null,
                RecursionCount = sb.RecursionCount, WaitingThreadCount = sb.WaitingThreadCount, Source = "SyncBlock",
                HoldingThreadAddress = sb.HoldingThreadAddress,
            };
        }

        MonitorLock? HeldAt(ulong address)
        {
            if (held.TryGetValue(address, out var m)) return m;
            ClrThinLock? thin;
            try { thin = heap.GetObject(address).GetThinLock(); }
            catch (Exception) { thin = null; }
            if (thin?.Thread is not { } holder) return null;
            uint tid = holder.OSThreadId;
            return held[address] = new MonitorLock
            {
                DumpPath = dump.Path, PointerSize = dump.PointerSize, Address = address,
                Type = heap.GetObjectType(address)?.Name ?? "<unknown type>",
                OwnerThreadId = tid, OwnerThreadName = names.GetValueOrDefault(tid), OwnerManagedThreadId = holder.ManagedThreadId,
                RecursionCount = (int)thin.Recursion + 1, Source = "ThinLock", HoldingThreadAddress = holder.Address,
            };
        }

        var waits = new Dictionary<uint, ManagedWait>();
        foreach (var thread in threads)
        {
            if (!thread.IsAlive) continue;
            var frames = new List<ClrStackFrame>();
            try { frames.AddRange(thread.EnumerateStackTrace().Take(MaxFrames)); }
            catch (Exception) { continue; }
            var managed = frames.Where(f => f.Method is not null).ToList();
            if (managed.Count == 0 || !IsMonitorEnter(managed[0].Method!)) continue;
            var monitorFrames = managed.TakeWhile(f => IsMonitor(f.Method!)).ToHashSet();
            var caller = managed.FirstOrDefault(f => !IsMonitor(f.Method!));

            var roots = new List<ClrStackRoot>();
            try { roots.AddRange(thread.EnumerateStackRoots().Take(4096)); }
            catch (Exception) { }
            ulong target = 0;
            string foundAt = "";
            var inMonitor = roots.FirstOrDefault(r => r.StackFrame is { } f && monitorFrames.Contains(f) && r.Object.Address != 0 && !r.IsInterior);
            if (inMonitor is not null)
            {
                target = inMonitor.Object.Address;
                foundAt = $"stack root at 0x{inMonitor.Address:x} in {MethodName(inMonitor.StackFrame!.Method!)} (the object Monitor.Enter was given)";
            }
            else if (caller is not null)
            {
                var candidates = roots.Where(r => r.StackFrame == caller && !r.IsInterior && r.Object.Address != 0)
                    .Select(r => r.Object.Address).Distinct()
                    .Where(a => HeldAt(a) is { OwnerThreadId: { } o } && o != thread.OSThreadId).ToArray();
                if (candidates.Length == 1)
                {
                    target = candidates[0];
                    foundAt = $"the only object held by another thread among the stack roots of {MethodName(caller.Method!)}";
                }
            }
            string waitingFrom = caller?.Method is { } cm ? MethodName(cm) : MethodName(managed[0].Method!);
            string module = caller?.Method?.Type?.Module?.Name is { } path ? Path.GetFileNameWithoutExtension(path) : "managed";
            waits[thread.OSThreadId] = new ManagedWait
            {
                ThreadId = thread.OSThreadId, ManagedThreadId = thread.ManagedThreadId, ThreadName = names.GetValueOrDefault(thread.OSThreadId),
                ObjectAddress = target == 0 ? null : target,
                ObjectType = target == 0 ? null : heap.GetObjectType(target)?.Name ?? "<unknown type>",
                Lock = target == 0 ? null : HeldAt(target),
                TopFrame = MethodName(managed[0].Method!),
                WaitingFrom = waitingFrom,
                WaitingFromKey = $"{module}!{waitingFrom}".ToLowerInvariant(),
                FoundAt = target == 0 ? "Monitor.Enter's object not recovered: no stack root in the Monitor frames and no single held object in the caller's" : foundAt,
            };
        }
        return new ManagedLocks(ManagedStatus.Ready, null)
        {
            Waits = waits,
            Held = held.Values.OrderBy(h => h.Address).ToArray(),
            ThreadNames = names,
        };
    }

    private static bool IsMonitor(ClrMethod m) => m.Type?.Name == "System.Threading.Monitor";

    private static bool IsMonitorEnter(ClrMethod m) =>
        IsMonitor(m) && m.Name is { } n && (n.StartsWith("Enter", StringComparison.Ordinal) || n.StartsWith("ReliableEnter", StringComparison.Ordinal)
                                           || n.StartsWith("TryEnter", StringComparison.Ordinal));

    private static string MethodName(ClrMethod m) => $"{m.Type?.Name}.{m.Name}";

    /// <summary>
    /// Thread.Name of each managed thread: the System.Threading.Thread objects the runtime's handle table points at
    /// (each thread's exposed object), matched by _managedThreadId. No heap walk.
    /// </summary>
    private static Dictionary<uint, string> ThreadNamesOf(ClrRuntime runtime, ClrThread[] threads)
    {
        var byManagedId = threads.GroupBy(t => t.ManagedThreadId).ToDictionary(g => g.Key, g => g.First().OSThreadId);
        var names = new Dictionary<uint, string>();
        try
        {
            foreach (var h in runtime.EnumerateHandles())
            {
                var obj = h.Object;
                if (obj.Address == 0 || obj.Type?.Name != "System.Threading.Thread") continue;
                if (obj.Type.GetFieldByName("_managedThreadId") is null || obj.Type.GetFieldByName("_name") is null) continue;
                int id = obj.ReadField<int>("_managedThreadId");
                if (!byManagedId.TryGetValue(id, out uint os) || names.ContainsKey(os)) continue;
                if (obj.ReadStringField("_name") is { Length: > 0 } name) names[os] = name;
            }
        }
        catch (Exception)
        {
            // Names are labels only; a handle table the dump does not hold leaves them out.
        }
        return names;
    }
}

/// <summary>What one managed thread waits to enter (Monitor.Enter).</summary>
internal sealed class ManagedWait
{
    public uint ThreadId { get; init; }
    public int ManagedThreadId { get; init; }
    public string? ThreadName { get; init; }
    /// <summary>The object whose Monitor the thread waits for; null when it could not be recovered.</summary>
    public ulong? ObjectAddress { get; init; }
    public string? ObjectType { get; init; }
    /// <summary>Who holds that object's Monitor; null when nobody (or not known).</summary>
    public MonitorLock? Lock { get; init; }
    public required string TopFrame { get; init; }
    public required string WaitingFrom { get; init; }
    public required string WaitingFromKey { get; init; }
    public required string FoundAt { get; init; }
}
