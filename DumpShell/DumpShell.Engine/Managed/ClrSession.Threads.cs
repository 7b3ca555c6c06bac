using System.Runtime.CompilerServices;
using DumpShell.Model;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Managed;

/// <summary>!threads and !clrstack: the CLR's facts per thread, managed frames, and the mixed (native + managed) stack.</summary>
public sealed partial class ClrSession
{
    private IReadOnlyList<ManagedThreadFacts>? _threadFacts;
    private Dictionary<int, string>? _threadNames;

    /// <summary>The CLR's threads (!threads), live ones and dead Thread objects alike; empty when <see cref="Runtime"/> is null.</summary>
    public IReadOnlyList<ManagedThreadFacts> Threads()
    {
        if (Runtime is not { } runtime) return [];
        lock (_lock)
        {
            if (_threadFacts is not null) return _threadFacts;
            var names = ThreadNames(runtime);
            var list = new List<ManagedThreadFacts>();
            foreach (var t in runtime.Threads)
            {
                var state = Safe(() => t.State);
                var kind = ClrThreadKind.None;
                if (Safe(() => t.IsFinalizer)) kind |= ClrThreadKind.Finalizer;
                if (Safe(() => t.IsGc)) kind |= ClrThreadKind.GC;
                if ((state & ClrThreadState.TS_TPWorkerThread) != 0) kind |= ClrThreadKind.ThreadPoolWorker;
                if ((state & ClrThreadState.TS_CompletionPortThread) != 0) kind |= ClrThreadKind.ThreadPoolIO;
                if ((state & ClrThreadState.TS_Background) != 0) kind |= ClrThreadKind.Background;
                if ((state & ClrThreadState.TS_Unstarted) != 0) kind |= ClrThreadKind.Unstarted;
                if ((state & ClrThreadState.TS_Dead) != 0 || !Safe(() => t.IsAlive)) kind |= ClrThreadKind.Dead;
                string? name = names.GetValueOrDefault(t.ManagedThreadId);
                if (name is ".NET Timer" or ".NET ThreadPool Gate") kind |= ClrThreadKind.Timer;
                string? apartment = (state & ClrThreadState.TS_InSTA) != 0 ? "STA" : (state & ClrThreadState.TS_InMTA) != 0 ? "MTA" : null;
                ClrException? exception = Safe(() => t.CurrentException);
                list.Add(new ManagedThreadFacts(
                    t.OSThreadId, t.ManagedThreadId, kind, apartment, Safe(() => t.LockCount) is var locks && locks != uint.MaxValue ? locks : null,
                    Safe(() => t.GCMode) is var mode ? mode.ToString() : null,
                    exception is null ? null : Safe(() => exception.Type?.Name) ?? "<unknown type>",
                    exception?.Address, name, (kind & ClrThreadKind.Dead) == 0));
            }
            return _threadFacts = list;
        }
    }

    /// <summary>The CLR's facts of one OS thread (the live Thread object of it), or null.</summary>
    public ManagedThreadFacts? ThreadFacts(uint osThreadId) =>
        osThreadId == 0 ? null : Threads().FirstOrDefault(t => t.OSThreadId == osThreadId && t.IsAlive)
                                 ?? Threads().FirstOrDefault(t => t.OSThreadId == osThreadId);

    /// <summary>
    /// Thread.Name by managed id, from the System.Threading.Thread objects the runtime's handle table holds (the strong
    /// handle of each thread's exposed object). Objects the dump does not hold are skipped: their names stay unknown.
    /// </summary>
    private Dictionary<int, string> ThreadNames(ClrRuntime runtime)
    {
        if (_threadNames is not null) return _threadNames;
        var names = new Dictionary<int, string>();
        try
        {
            int seen = 0;
            foreach (var handle in runtime.EnumerateHandles())
            {
                if (++seen > 1_000_000) break;
                if (!handle.IsStrong) continue;
                var obj = handle.Object;
                if (!obj.IsValid || obj.Type?.Name != "System.Threading.Thread") continue;
                try
                {
                    int id = obj.ReadField<int>("_managedThreadId");
                    if (obj.ReadStringField("_name") is { } name) names.TryAdd(id, name);
                }
                catch (Exception)
                {
                    // A field the dump does not hold: that thread stays unnamed.
                }
            }
        }
        catch (Exception)
        {
            // The handle table is not in the dump.
        }
        return _threadNames = names;
    }

    /// <summary>
    /// The thread's managed stack (!clrstack): managed methods and runtime frames, innermost first, as StackFrame objects
    /// (Kind Managed or Runtime); empty for a thread the CLR does not know or without a readable runtime.
    /// </summary>
    public IReadOnlyList<StackFrame> ManagedStack(uint osThreadId, int maxFrames = 1024) => ManagedStack(osThreadId, maxFrames, null);

    /// <param name="outermostContext">Receives the register context of the outermost managed method (where the native walk below it starts).</param>
    private IReadOnlyList<StackFrame> ManagedStack(uint osThreadId, int maxFrames, StrongBox<Machine.CpuContext?>? outermostContext)
    {
        if (Runtime is not { } runtime) return [];
        ClrThread? thread;
        lock (_lock) thread = runtime.Threads.FirstOrDefault(t => t.OSThreadId == osThreadId && t.IsAlive);
        if (thread is null) return [];
        var frames = new List<StackFrame>();
        try
        {
            foreach (var f in thread.EnumerateStackTrace(includeContext: outermostContext is not null, maxFrames))
            {
                var frame = ToFrame(f, osThreadId, frames.Count);
                if (frame is null) continue;
                frames.Add(frame);
                if (outermostContext is not null && frame.Kind == StackFrameKind.Managed && !f.Context.IsEmpty)
                    outermostContext.Value = Machine.CpuContext.Parse(Dump.Architecture, f.Context);
            }
        }
        catch (Exception)
        {
            // A stack the dump does not hold beyond this point: what was read is kept.
        }
        return frames;
    }

    private StackFrame? ToFrame(ClrStackFrame f, uint threadId, int number)
    {
        if (f.Kind == ClrStackFrameKind.ManagedMethod && f.Method is { } m)
        {
            string type = m.Type?.Name ?? "<unknown type>";
            string function = $"{type}.{m.Name}";
            string? module = m.Type?.Module?.Name is { } path ? Dump.FileNameOf(path) : null;
            string? sig = Safe(() => m.Signature) ?? function + "()";
            ulong start = Safe(() => m.NativeCode);
            return new StackFrame
            {
                DumpPath = Dump.Path,
                ThreadId = threadId,
                Frame = number,
                ChildSP = f.StackPointer,
                InstructionPointer = f.InstructionPointer,
                Trust = FrameTrust.UnwindInfo,
                PointerSize = Dump.PointerSize,
                Kind = StackFrameKind.Managed,
                IsJitCode = IsJitMethod(m, f.InstructionPointer),
                Module = module,
                Function = function,
                ManagedMethod = sig,
                Offset = start != 0 && start != ulong.MaxValue && f.InstructionPointer >= start ? f.InstructionPointer - start : null,
                Symbol = $"{(module is null ? "" : Symbols.ModuleNames.DebuggerName(module) + "!")}{sig}",
            };
        }
        if (f.Kind == ClrStackFrameKind.Runtime)
        {
            string name = $"[{f.FrameName ?? "Runtime"}]";
            return new StackFrame
            {
                DumpPath = Dump.Path,
                ThreadId = threadId,
                Frame = number,
                ChildSP = f.StackPointer,
                InstructionPointer = f.InstructionPointer,
                Trust = FrameTrust.UnwindInfo,
                PointerSize = Dump.PointerSize,
                Kind = StackFrameKind.Runtime,
                Function = name,
                Symbol = name,
            };
        }
        return null;
    }

    /// <summary>
    /// True when <paramref name="ip"/> is in code the JIT wrote: a managed method whose code is JIT-compiled (not
    /// ReadyToRun/NGEN) and that lies in no module image.
    /// </summary>
    public bool IsJitCode(ulong ip) => MethodAt(ip) is { } m && IsJitMethod(m, ip);

    /// <summary>The managed method whose code holds <paramref name="ip"/>, or null.</summary>
    public ClrMethod? MethodAt(ulong ip)
    {
        if (ip == 0 || Runtime is not { } runtime) return null;
        lock (_lock) return Safe(() => runtime.GetMethodByInstructionPointer(ip));
    }

    private bool IsJitMethod(ClrMethod m, ulong ip) =>
        Dump.ModuleAt(ip) is null && Safe(() => m.CompilationType) != MethodCompilationType.Ngen;

    /// <summary>
    /// One stack of native and managed frames: the native walk (already symbolized) with ClrMD's frames merged in by
    /// stack pointer. ClrMD's walk is the authority on managed code: a native frame at a managed frame's instruction
    /// pointer and stack pointer becomes that managed frame, and the native walk's other frames in managed code (stale
    /// return addresses a stack scan picked up) are left out. Below the outermost managed method the native walk is
    /// continued from that method's context with <paramref name="walkFrom"/> (the thread start), when given. Frames are
    /// renumbered from 0. A thread without managed frames keeps its native frames as they are.
    /// </summary>
    public IReadOnlyList<StackFrame> MergeStack(uint osThreadId, IReadOnlyList<StackFrame> native,
        Func<Machine.CpuContext, IReadOnlyList<StackFrame>>? walkFrom = null, int maxFrames = 1024)
    {
        var outermost = new StrongBox<Machine.CpuContext?>();
        var managed = ManagedStack(osThreadId, maxFrames, walkFrom is null ? null : outermost);
        if (managed.Count == 0) return native;

        var nativeFrames = native.ToList();
        var lastManaged = managed.LastOrDefault(f => f.Kind == StackFrameKind.Managed);
        if (walkFrom is not null && outermost.Value is { } context && lastManaged is not null)
        {
            IReadOnlyList<StackFrame> tail;
            try { tail = walkFrom(context); }
            catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException or IndexOutOfRangeException) { tail = []; }
            var seen = nativeFrames.Select(f => (f.InstructionPointer, f.ChildSP)).ToHashSet();
            foreach (var f in tail)
                if (f.ChildSP > lastManaged.ChildSP && seen.Add((f.InstructionPointer, f.ChildSP))) nativeFrames.Add(f);
        }

        const ulong SpSlack = 0x200;
        var unmatched = managed.Where(m => m.Kind == StackFrameKind.Managed).ToList();
        var merged = new List<(StackFrame Frame, int Order)>();
        int order = 0;
        for (int i = 0; i < nativeFrames.Count; i++)
        {
            var n = nativeFrames[i];
            var m = unmatched.FirstOrDefault(x => x.InstructionPointer == n.InstructionPointer &&
                                                 (x.ChildSP > n.ChildSP ? x.ChildSP - n.ChildSP : n.ChildSP - x.ChildSP) <= SpSlack);
            if (m is not null)
            {
                unmatched.Remove(m);
                merged.Add((Copy(m, n.ChildSP, n.Trust, n.FramePointer), order++));
                continue;
            }
            ulong lookup = n.Frame > 0 && n.InstructionPointer > 0 ? n.InstructionPointer - 1 : n.InstructionPointer;
            if (i > 0 && MethodAt(lookup) is not null) continue; // managed code ClrMD did not place here: a stale scan hit
            merged.Add((n, order++));
        }
        foreach (var m in managed)
            if (m.Kind != StackFrameKind.Managed || unmatched.Contains(m)) merged.Add((m, order++));

        // Innermost first: by stack pointer, keeping each walk's own order among equal ones (native first).
        var sorted = merged.OrderBy(p => p.Frame.ChildSP == 0 ? ulong.MaxValue : p.Frame.ChildSP).ThenBy(p => p.Order).Select(p => p.Frame).ToList();
        // The context frame stays on top whatever its SP says.
        if (native.Count > 0 && sorted[0] != native[0] && sorted.Remove(native[0])) sorted.Insert(0, native[0]);

        var result = new List<StackFrame>(Math.Min(sorted.Count, maxFrames));
        for (int i = 0; i < sorted.Count && i < maxFrames; i++) result.Add(Renumber(sorted[i], i));
        for (int i = 0; i < result.Count; i++)
        {
            result[i].ReturnAddress = i + 1 < result.Count ? result[i + 1].InstructionPointer : null;
            if (i < result.Count - 1) result[i].StopReason = null;
        }
        var lastNative = nativeFrames.Count > 0 ? nativeFrames[^1] : null;
        if (lastNative?.StopReason is { } stop && result.Count > 0) result[^1].StopReason ??= stop;
        return result;
    }

    private static StackFrame Copy(StackFrame m, ulong childSp, FrameTrust trust, ulong? framePointer) => new()
    {
        DumpPath = m.DumpPath, ThreadId = m.ThreadId, Frame = m.Frame, ChildSP = childSp, InstructionPointer = m.InstructionPointer,
        FramePointer = framePointer, Module = m.Module, Function = m.Function, Offset = m.Offset, Symbol = m.Symbol, Trust = trust,
        PointerSize = m.PointerSize, Kind = m.Kind, IsJitCode = m.IsJitCode, ManagedMethod = m.ManagedMethod,
        SourceFile = m.SourceFile, Line = m.Line,
    };

    private static StackFrame Renumber(StackFrame f, int number) => new StackFrame
    {
        DumpPath = f.DumpPath, ThreadId = f.ThreadId, Frame = number, ChildSP = f.ChildSP, InstructionPointer = f.InstructionPointer,
        FramePointer = f.FramePointer, Module = f.Module, Function = f.Function, Offset = f.Offset, Symbol = f.Symbol, Trust = f.Trust,
        PointerSize = f.PointerSize, Kind = f.Kind, IsJitCode = f.IsJitCode, ManagedMethod = f.ManagedMethod,
        SourceFile = f.SourceFile, Line = f.Line, StopReason = f.StopReason,
    };

    private static T? Safe<T>(Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is not OutOfMemoryException) { return default; }
    }
}

public sealed partial class ClrSession
{
    private IReadOnlyList<ManagedException>? _currentExceptions;

    /// <summary><see cref="CurrentExceptions"/>, read once and kept (the detectors of one run share it).</summary>
    public IReadOnlyList<ManagedException> CachedCurrentExceptions()
    {
        if (_currentExceptions is { } done) return done;
        var list = CurrentExceptions().ToArray();
        lock (_lock) return _currentExceptions ??= list;
    }
}
