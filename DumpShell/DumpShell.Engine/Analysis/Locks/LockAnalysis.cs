using System.Runtime.CompilerServices;
using DumpShell.Machine.Unwind;
using DumpShell.Managed;
using DumpShell.Model;

namespace DumpShell.Analysis.Locks;

/// <summary>
/// Critical sections, what each thread waits on, and the wait graph's chains and cycles, recovered from a Windows
/// user-mode dump as an expert does by hand (!cs, !locks, and reading the wait frames' stack memory).
/// <para>
/// <b>Wait frames.</b> A thread is <i>waiting</i> when its instruction pointer lies in an OS wait layer
/// (<see cref="WaitLayers"/>: ntdll, win32u, kernelbase, kernel32, user32, ...) and it is not the exception thread.
/// Its <i>wait frames</i> are the stack slots from its stack pointer up to the Child-SP of the first frame of the walk
/// (at most <see cref="MaxWalkFrames"/> frames) that lies outside the wait layers and the C runtime, at most
/// <see cref="MaxWaitBytes"/> bytes; when the walk finds no such frame, the first <see cref="FallbackWaitBytes"/>
/// bytes above the stack pointer.
/// </para>
/// <para>
/// <b>Critical sections.</b> (a) Every pointer-sized value in a waiting thread's wait frames that points at a plausible
/// RTL_CRITICAL_SECTION (<see cref="CriticalSectionReader"/>: owner is a thread of the dump, counts in range, DebugInfo
/// null, -1 or a pointer back to it); (b) the ntdll debug list (RTL_CRITICAL_SECTION_DEBUG.ProcessLocksList) entered
/// from PEB.LoaderLock when memory has it (full dumps). A thread <i>waits</i> on a locked critical section that it does
/// not own when the critical section's address is a value in its wait frames.
/// </para>
/// <para>
/// <b>Handles.</b> For a waiting thread without a critical-section wait: scanning the wait frames up from the stack
/// pointer, the first value equal to a waitable handle of HandleData (Thread, Process, Mutant, Event, Semaphore, Timer),
/// with the values right after it that are waitable handles too (a WaitForMultipleObjects array); else a non-volatile
/// register holding one. On x64 these slots are home/spill slots, not verified arguments (False Function Parameters),
/// and the evidence says so.
/// </para>
/// </summary>
public sealed class LockAnalysis
{
    /// <summary>Modules whose frames are the OS wait layers (lower-case, without extension).</summary>
    public static readonly IReadOnlySet<string> WaitLayers = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "ntdll", "win32u", "kernelbase", "kernel32", "user32", "combase", "rpcrt4", "sechost", "wow64", "wow64cpu", "wow64win",
    };

    /// <summary>Runtime libraries skipped together with the wait layers when finding the waiting code.</summary>
    public static readonly IReadOnlySet<string> RuntimeLayers = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "msvcrt", "ucrtbase", "ucrtbased", "vcruntime140", "vcruntime140d", "msvcp140",
    };

    public const int MaxWalkFrames = 64;
    public const int MaxWaitBytes = 0x4000;
    public const int FallbackWaitBytes = 0x1000;

    private static readonly string[] WaitableTypes = ["Thread", "Process", "Mutant", "Event", "Semaphore", "Timer"];
    private static readonly ConditionalWeakTable<Dump, LockAnalysis> Cache = new();

    private readonly Dump _dump;
    private readonly Dictionary<uint, DumpThread> _threads;
    private readonly Dictionary<uint, WaitFrames> _frames = [];
    private readonly CriticalSectionReader? _reader;
    private readonly Func<ulong, string?>? _resolve;
    private readonly ManagedLocks _managed;

    /// <summary>The analysis of <paramref name="dump"/> with the default stack walk (images from dump memory), made once per dump.</summary>
    public static LockAnalysis For(Dump dump) => Cache.GetValue(dump, d => new LockAnalysis(d, null, null));

    /// <param name="walk">Stack-walk options (images on the symbol path); null uses dump memory.</param>
    /// <param name="resolve">Names an address (DumpSymbols.Resolve); null uses module+0xoffset.</param>
    public LockAnalysis(Dump dump, StackWalkOptions? walk, Func<ulong, string?>? resolve)
    {
        _dump = dump;
        _threads = dump.Threads.GroupBy(t => t.Id).ToDictionary(g => g.Key, g => g.First());
        // Managed Monitor waits: read only when the dump names a CLR (a native dump creates no ClrMD objects).
        _managed = ManagedLocks.Read(dump);
        IsApplicable = dump.HasWindowsTebLayout && dump.Threads.Count > 0;
        if (!IsApplicable)
        {
            Encoding = LockCountEncoding.VistaPlus;
            EncodingReason = "not a Windows x64/x86 dump";
            if (_managed.Status != ManagedStatus.Ready || dump.Threads.Count == 0) return;
            Waits = MergeManaged(dump.Threads.Select(t => new ThreadWait
            {
                DumpPath = _dump.Path, ThreadId = t.Id, ThreadName = NameOf(t.Id), IsWaiting = false, WaitKind = "None",
                Note = "not in a Monitor wait (native waits are recovered from Windows dumps only)",
            }).ToList());
        }
        else
        {
            foreach (var t in dump.Threads)
                if (!_frames.ContainsKey(t.Id)) _frames[t.Id] = WaitFrames.Of(dump, t, walk, resolve);
            HasStackMemory = _frames.Values.Any(f => f.Slots.Count > 0);

            var reader = _reader = new CriticalSectionReader(dump, _threads);
            _resolve = resolve;
            var found = reader.Find(_frames.Values.Where(f => f.IsWaiting));
            (Encoding, EncodingReason) = reader.DecideEncoding(found);
            CriticalSections = reader.Build(found, Encoding, EncodingReason, _frames, resolve);
            Waits = MergeManaged(BuildWaits());
        }
        var graph = new WaitGraph(dump, Waits, NameOf, _threads.ContainsKey);
        Chains = graph.Chains;
        Cycles = graph.Cycles;
    }

    /// <summary>
    /// Whether managed Monitor waits were read: NoClr for a native dump, DacNotAvailable when the runtime cannot be read
    /// here (see <see cref="ManagedNote"/>), Ready when they were.
    /// </summary>
    public Managed.ManagedStatus ManagedStatus => _managed.Status;
    /// <summary>Why managed locks were not read, or null.</summary>
    public string? ManagedNote => _managed.Note;
    /// <summary>True when at least one thread waits in Monitor.Enter.</summary>
    public bool HasManagedWaits => _managed.Waits.Count > 0;
    /// <summary>Held managed Monitors (!syncblk), empty without a CLR.</summary>
    public IReadOnlyList<MonitorLock> Monitors => _managed.Held;

    /// <summary>False for dumps that are not of a Windows x64/x86 process or have no threads.</summary>
    public bool IsApplicable { get; }
    /// <summary>True when at least one thread's stack memory is in the dump.</summary>
    public bool HasStackMemory { get; }
    public LockCountEncoding Encoding { get; }
    public string EncodingReason { get; }
    public IReadOnlyList<DumpCriticalSection> CriticalSections { get; } = [];
    /// <summary>One entry per thread.</summary>
    public IReadOnlyList<ThreadWait> Waits { get; } = [];
    public IReadOnlyList<WaitChain> Chains { get; } = [];
    public IReadOnlyList<WaitCycle> Cycles { get; } = [];

    /// <summary>
    /// The critical section at <paramref name="address"/> (!cs &lt;address&gt;): the one found, else the structure read there
    /// without validation (Source "Address"); null when the dump lacks its bytes.
    /// </summary>
    public DumpCriticalSection? At(ulong address)
    {
        if (CriticalSections.FirstOrDefault(c => c.Address == address) is { } known) return known;
        if (_reader?.Read(address, false, false) is not { } raw) return null;
        return _reader.Build([raw with { FromDebugList = true }], Encoding, EncodingReason, _frames, _resolve)
            .Select(c => new DumpCriticalSection
            {
                DumpPath = c.DumpPath, PointerSize = c.PointerSize, Address = c.Address, Symbol = c.Symbol, Location = c.Location,
                Source = "Address", DebugInfo = c.DebugInfo, LockCount = c.LockCount, RecursionCount = c.RecursionCount,
                OwningThread = c.OwningThread, OwnerThreadName = c.OwnerThreadName, LockSemaphore = c.LockSemaphore,
                SpinCount = c.SpinCount, EntryCount = c.EntryCount, ContentionCount = c.ContentionCount, Encoding = c.Encoding,
                EncodingReason = c.EncodingReason, IsLocked = c.IsLocked, WaitingThreadIds = c.WaitingThreadIds, IsOrphaned = c.IsOrphaned,
            }).FirstOrDefault();
    }

    /// <summary>The wait frames of a thread (for detectors' keys and evidence).</summary>
    internal WaitFrames? FramesOf(uint threadId) => _frames.GetValueOrDefault(threadId);

    private List<ThreadWait> BuildWaits()
    {
        var locked = CriticalSections.Where(c => c.IsLocked).ToDictionary(c => c.Address);
        var handles = _dump.HasHandleData
            ? _dump.Handles.Where(h => h.Type is { } t && WaitableTypes.Contains(t, StringComparer.OrdinalIgnoreCase))
                .GroupBy(h => h.Handle).ToDictionary(g => g.Key, g => g.First())
            : [];
        var threadHandles = ThreadHandleMap.Infer(_dump, _threads);
        var waits = new List<ThreadWait>();
        foreach (var t in _dump.Threads)
        {
            var f = _frames[t.Id];
            if (!f.IsWaiting)
            {
                waits.Add(new ThreadWait
                {
                    DumpPath = _dump.Path, ThreadId = t.Id, ThreadName = t.Name, IsWaiting = false, WaitKind = "None",
                    TopFrame = f.TopFrame, WaitingFrom = f.WaitingFrom, WaitingFromKey = f.WaitingFromKey,
                    Note = t.IsExceptionThread ? "exception thread" : "not in a wait layer",
                });
                continue;
            }
            // Critical sections first: a thread in EnterCriticalSection also passes the lock's wait handle around.
            var csHits = new List<(ulong Address, string Where)>();
            foreach (var s in f.Slots)
                if (locked.TryGetValue(s.Value, out var cs) && cs.OwningThread != t.Id && csHits.All(h => h.Address != s.Value))
                    csHits.Add((s.Value, f.Describe(s)));
            if (csHits.Count > 0)
            {
                var objects = csHits.Select(h => CsObject(locked[h.Address], h.Where)).ToArray();
                waits.Add(new ThreadWait
                {
                    DumpPath = _dump.Path, ThreadId = t.Id, ThreadName = t.Name, IsWaiting = true, WaitKind = "CriticalSection",
                    Objects = objects, Ambiguous = objects.Length > 1, TopFrame = f.TopFrame, WaitingFrom = f.WaitingFrom,
                    WaitingFromKey = f.WaitingFromKey,
                    Note = objects.Length > 1 ? $"ambiguous: {objects.Length} locked critical sections in the wait frames" : null,
                });
                continue;
            }
            var handleObjects = new List<WaitObject>();
            if (handles.Count > 0)
            {
                for (int i = 0; i < f.Slots.Count; i++)
                {
                    if (!handles.ContainsKey(f.Slots[i].Value)) continue;
                    for (int j = i; j < f.Slots.Count && handles.TryGetValue(f.Slots[j].Value, out var h)
                         && (j == i || f.Slots[j].Address == f.Slots[j - 1].Address + (ulong)_dump.PointerSize); j++)
                        if (handleObjects.All(o => o.Handle != h.Handle))
                            handleObjects.Add(HandleObject(h, f.Describe(f.Slots[j]) + StackCaveat(), threadHandles));
                    break;
                }
                if (handleObjects.Count == 0)
                    foreach (string reg in NonVolatileRegisters())
                        if (t.Registers.TryGetValue(reg, out ulong v) && handles.TryGetValue(v, out var h) && handleObjects.All(o => o.Handle != v))
                            handleObjects.Add(HandleObject(h, $"register {reg} of the thread's context (non-volatile; may be stale)", threadHandles));
            }
            waits.Add(new ThreadWait
            {
                DumpPath = _dump.Path, ThreadId = t.Id, ThreadName = t.Name, IsWaiting = true,
                WaitKind = handleObjects.Count > 0 ? "Object" : "Unknown", Objects = handleObjects,
                TopFrame = f.TopFrame, WaitingFrom = f.WaitingFrom, WaitingFromKey = f.WaitingFromKey,
                Note = handleObjects.Count > 0 ? null
                    : !_dump.HasHandleData ? "wait object not recovered: HandleData not captured"
                    : "wait object not recovered: no critical section or waitable handle value in the wait frames",
            });
        }
        return waits;
    }

    private string StackCaveat() => _dump.PointerSize == 8
        ? " (x64: a home/spill slot of the wait wrappers, not a verified argument; see False Function Parameters)"
        : " (x86: a stack argument slot of the wait wrappers; confirm with the call site's disassembly)";

    private string[] NonVolatileRegisters() => _dump.PointerSize == 8
        ? ["rbx", "rsi", "rdi", "r12", "r13", "r14", "r15", "rbp"]
        : ["ebx", "esi", "edi", "ebp"];

    private WaitObject CsObject(DumpCriticalSection cs, string where)
    {
        uint? owner = cs.OwningThread <= uint.MaxValue && _threads.ContainsKey((uint)cs.OwningThread) ? (uint)cs.OwningThread : null;
        return new WaitObject
        {
            Kind = "CriticalSection", Address = cs.Address, Name = cs.Symbol, PointerSize = _dump.PointerSize,
            OwnerThreadId = owner, OwnerThreadName = owner is { } o ? _threads[o].Name : null,
            Owner = owner is { } id ? $"owner {Label(id)} (OwningThread)"
                : $"owner 0x{cs.OwningThread:x} is not a thread of the dump (orphaned critical section)",
            FoundAt = where,
        };
    }

    private WaitObject HandleObject(DumpHandle h, string where, IReadOnlyDictionary<ulong, uint> threadHandles)
    {
        string kind = h.Type!;
        uint? owner = null;
        string ownerText;
        bool inferred = false;
        switch (kind)
        {
            case "Thread" when threadHandles.TryGetValue(h.Handle, out uint tid):
                owner = tid;
                inferred = true;
                ownerText = $"thread {Label(tid)} (waits for it to exit; handle paired with the thread by creation order: " +
                            "the process's thread handles and its threads after the first, both in creation order)";
                break;
            case "Thread":
                ownerText = "thread unknown: the handle's object information is not in the dump and handles cannot be paired with threads";
                break;
            case "Process":
                ownerText = "waits on a process (exit): another process";
                break;
            case "Mutant":
                ownerText = "owner unknown: the dump's HandleData has no object information for it (mutant owner not recorded)";
                break;
            default:
                ownerText = $"no owner ({kind}): any thread may signal it";
                break;
        }
        return new WaitObject
        {
            Kind = kind, Handle = h.Handle, Name = h.ObjectName, PointerSize = _dump.PointerSize,
            OwnerThreadId = owner, OwnerThreadName = owner is { } o && _threads.TryGetValue(o, out var ot) ? ot.Name : null,
            Owner = ownerText, OwnerInferred = inferred, FoundAt = where,
        };
    }

    internal string Label(uint tid) => NameOf(tid) is { Length: > 0 } n ? $"0x{tid:x} ({n})" : $"0x{tid:x}";

    /// <summary>A thread's name: the dump's, else the managed Thread.Name, else the dump's (empty) one.</summary>
    private string? NameOf(uint tid) =>
        _threads.TryGetValue(tid, out var t) && !string.IsNullOrEmpty(t.Name) ? t.Name
        : _managed.ThreadNames.TryGetValue(tid, out var managed) ? managed
        : t?.Name;

    /// <summary>
    /// Replaces the wait of each thread that waits in Monitor.Enter with its Monitor edge (on Windows such a thread
    /// sits in the OS wait layers too, and its native wait object is the runtime's own event, not the lock).
    /// </summary>
    private List<ThreadWait> MergeManaged(List<ThreadWait> waits)
    {
        if (_managed.Waits.Count == 0) return waits;
        for (int i = 0; i < waits.Count; i++)
        {
            var native = waits[i];
            if (!_managed.Waits.TryGetValue(native.ThreadId, out var m)) continue;
            WaitObject[] objects = m.ObjectAddress is { } address ? [MonitorObject(m, address)] : [];
            waits[i] = new ThreadWait
            {
                DumpPath = _dump.Path, ThreadId = native.ThreadId, ThreadName = NameOf(native.ThreadId), IsWaiting = true,
                WaitKind = objects.Length > 0 ? "Monitor" : "Unknown", ManagedThreadId = m.ManagedThreadId, Objects = objects,
                TopFrame = native.TopFrame ?? m.TopFrame, WaitingFrom = m.WaitingFrom, WaitingFromKey = m.WaitingFromKey,
                Note = objects.Length > 0 ? null : m.FoundAt,
            };
        }
        return waits;
    }

    private WaitObject MonitorObject(ManagedWait m, ulong address)
    {
        var held = m.Lock;
        uint? owner = held?.OwnerThreadId is { } o && o != m.ThreadId ? o : null;
        string ownerText = held is null ? "not held: the Monitor has no owner in the dump (it may have just been released)"
            : held.OwnerThreadId is null ? $"owner unknown: the holding CLR thread 0x{held.HoldingThreadAddress:x} is not among the runtime's threads"
            : held.OwnerThreadId == m.ThreadId ? $"held by the waiting thread itself (recursion {held.RecursionCount})"
            : $"owner {Label(owner!.Value)} ({(held.Source == "SyncBlock" ? $"sync block: monitor held, recursion {held.RecursionCount}, {held.WaitingThreadCount} waiting" : "thin lock in the object header")})";
        return new WaitObject
        {
            Kind = "Monitor", Address = address, Name = m.ObjectType, PointerSize = _dump.PointerSize,
            OwnerThreadId = owner, OwnerThreadName = owner is { } id ? NameOf(id) : null, Owner = ownerText,
            FoundAt = $"{m.FoundAt}; waiting in {m.TopFrame} from {m.WaitingFrom}",
        };
    }
}
