namespace DumpShell.Model;

/// <summary>One object a thread waits on: a critical section, a handle from HandleData, or a managed object's Monitor.</summary>
public sealed class WaitObject
{
    /// <summary>"CriticalSection", "Monitor" (a managed object's lock), or the handle's type: "Thread", "Process", "Mutant", "Event", "Semaphore", ...</summary>
    public required string Kind { get; init; }
    /// <summary>The critical section's address, or the managed object's address (Monitor).</summary>
    public ulong? Address { get; init; }
    public ulong? Handle { get; init; }
    /// <summary>The object's name from HandleData (mutexes, events), the critical section's symbol, or the managed object's type (Monitor).</summary>
    public string? Name { get; init; }
    /// <summary>The thread that holds it (critical section owner, mutant owner, the thread a thread handle names); null when none or unknown.</summary>
    public uint? OwnerThreadId { get; init; }
    public string? OwnerThreadName { get; init; }
    /// <summary>How the owner is known, or why it is not ("OwningThread", "owner unknown: ...", "no owner (Event)").</summary>
    public required string Owner { get; init; }
    /// <summary>True when the owner was inferred rather than read (thread handles paired with threads by creation order).</summary>
    public bool OwnerInferred { get; init; }
    /// <summary>Where the value was found (stack slot, frame, register) and how far to trust it.</summary>
    public required string FoundAt { get; init; }
    public int PointerSize { get; init; } = 8;

    public bool IsCriticalSection => Kind == "CriticalSection";
    /// <summary>True for a managed object's Monitor (C# lock, Monitor.Enter).</summary>
    public bool IsMonitor => Kind == "Monitor";

    /// <summary>"CS 0x21fcd0", "Monitor App.Resource 0x7f0d49809a40", "Mutant DumpShell_WaitChain_Mutex (handle 0x50)", "Thread handle 0x44".</summary>
    public string Text => IsCriticalSection
        ? $"CS {Hex.Address(Address ?? 0, PointerSize)}" + (Name is { Length: > 0 } s ? $" ({s})" : "")
        : IsMonitor ? $"Monitor {Name ?? "<unknown type>"} {Hex.Address(Address ?? 0, PointerSize)}"
        : Name is { Length: > 0 } n ? $"{Kind} {ShortName(n)} (handle 0x{Handle:x})" : $"{Kind} handle 0x{Handle:x}";

    /// <summary>The last component of an object path (\Sessions\1\BaseNamedObjects\X → X).</summary>
    public static string ShortName(string name) => name.LastIndexOf('\\') is int i and >= 0 && i < name.Length - 1 ? name[(i + 1)..] : name;

    public override string ToString() => Text;
}

/// <summary>What one thread waits on, as recovered from its stack (the wait graph's edges out of a thread).</summary>
public sealed class ThreadWait
{
    public required string DumpPath { get; init; }
    public uint ThreadId { get; init; }
    public string? ThreadName { get; init; }
    /// <summary>True when the thread sits in a wait layer (its instruction pointer is in ntdll, win32u, ...).</summary>
    public bool IsWaiting { get; init; }
    /// <summary>"CriticalSection", "Object", "Monitor" (Monitor.Enter on a managed object), "Unknown" (waiting, object not recovered), or "None" (not waiting).</summary>
    public required string WaitKind { get; init; }
    /// <summary>The CLR's thread id for a managed thread (Monitor waits); null otherwise.</summary>
    public int? ManagedThreadId { get; init; }
    public IReadOnlyList<WaitObject> Objects { get; init; } = [];
    /// <summary>Several critical-section candidates validated: the wait is reported as ambiguous, none is chosen.</summary>
    public bool Ambiguous { get; init; }
    /// <summary>The top frame's symbol.</summary>
    public string? TopFrame { get; init; }
    /// <summary>The first frame outside the OS wait layers: the code that waits.</summary>
    public string? WaitingFrom { get; init; }
    /// <summary>The signature key of <see cref="WaitingFrom"/>: lower-case module+0xrva or module!function.</summary>
    public string? WaitingFromKey { get; init; }
    public string? Note { get; init; }
}

/// <summary>A managed object whose Monitor is held (!syncblk): the object, its type, the owning thread.</summary>
public sealed class MonitorLock
{
    public required string DumpPath { get; init; }
    public int PointerSize { get; init; } = 8;
    /// <summary>The locked object's address.</summary>
    public ulong Address { get; init; }
    public required string Type { get; init; }
    /// <summary>The owner's OS thread id; null when the holding thread is not among the runtime's threads.</summary>
    public uint? OwnerThreadId { get; init; }
    public string? OwnerThreadName { get; init; }
    public int? OwnerManagedThreadId { get; init; }
    /// <summary>The CLR Thread object's address of the holder (the sync block's HoldingThread).</summary>
    public ulong HoldingThreadAddress { get; init; }
    public int RecursionCount { get; init; }
    /// <summary>Threads waiting for it as the sync block counts them (sync blocks only; thin locks have no waiters).</summary>
    public int WaitingThreadCount { get; init; }
    /// <summary>"SyncBlock" or "ThinLock" (the owner in the object header).</summary>
    public required string Source { get; init; }

    public override string ToString() =>
        $"{Type} {Hex.Address(Address, PointerSize)} held by {(OwnerThreadId is { } t ? $"0x{t:x}" : "an unknown thread")}";
}

/// <summary>One step of a wait chain: a thread and the object it waits on.</summary>
public sealed class WaitChainLink
{
    public uint ThreadId { get; init; }
    public string? ThreadName { get; init; }
    public required WaitObject Object { get; init; }

    public string ThreadText => ThreadName is { Length: > 0 } n ? $"0x{ThreadId:x} ({n})" : $"0x{ThreadId:x}";
}

/// <summary>A path through the wait graph from one waiting thread to its end (Get-DumpWaitChain).</summary>
public sealed class WaitChain
{
    public required string DumpPath { get; init; }
    public int PointerSize { get; init; } = 8;
    /// <summary>The thread the chain starts at.</summary>
    public uint ThreadId { get; init; }
    public string? ThreadName { get; init; }
    public required IReadOnlyList<WaitChainLink> Links { get; init; }
    /// <summary>Every thread on the chain, in order (the last one may be the thread the chain ends at).</summary>
    public required IReadOnlyList<uint> ThreadIds { get; init; }
    /// <summary>True when the chain runs into a cycle (a deadlock).</summary>
    public bool IsCycle { get; init; }
    /// <summary>How the chain ends: "cycle back to 0x10c (locker-AB)", "0x110 is not waiting", "owner unknown", ...</summary>
    public required string End { get; init; }
    public int ThreadCount => ThreadIds.Count;
    /// <summary>True when every edge is a critical-section edge.</summary>
    public bool CriticalSectionsOnly => Links.All(l => l.Object.IsCriticalSection);
    /// <summary>True when an edge is a managed Monitor wait.</summary>
    public bool HasMonitor => Links.Any(l => l.Object.IsMonitor);

    /// <summary>The chain as lines a person reads top to bottom.</summary>
    public string Text
    {
        get
        {
            var lines = new List<string>();
            foreach (var l in Links)
            {
                lines.Add($"{l.ThreadText} waits on {l.Object.Text}");
                lines.Add($"    {(l.Object.OwnerThreadId is not null ? "held by " : "")}{l.Object.Owner}");
            }
            lines.Add($"=> {End}");
            return string.Join(Environment.NewLine, lines);
        }
    }

    /// <summary>One line: "0x10c -> CS 0x21fcf8 (owner 0x110) -> 0x110 -> ...".</summary>
    public string Summary => string.Join(" -> ", Links.Select(l => $"{l.ThreadText} waits {l.Object.Text}")) + $" => {End}";

    public override string ToString() => Summary;
}

/// <summary>A cycle of the wait graph: a deadlock.</summary>
public sealed class WaitCycle
{
    /// <summary>The links of the cycle, starting at the thread with the lowest id.</summary>
    public required IReadOnlyList<WaitChainLink> Links { get; init; }
    public IEnumerable<uint> ThreadIds => Links.Select(l => l.ThreadId);
    public bool CriticalSectionsOnly => Links.All(l => l.Object.IsCriticalSection);
    /// <summary>True when every edge is a managed Monitor wait (a managed lock-order deadlock).</summary>
    public bool MonitorsOnly => Links.All(l => l.Object.IsMonitor);
    /// <summary>Threads outside the cycle whose chains run into it.</summary>
    public IReadOnlyList<uint> FeedingThreadIds { get; init; } = [];
}
