using System.Collections.Concurrent;
using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Analysis;

/// <summary>What the thread classifier of ../shared/docs/patterns.md ("Shared building blocks", 4) says a thread is doing.</summary>
public enum ThreadActivity
{
    /// <summary>Not decided: the top frame is in system code whose functions are not named (no symbols, no exports).</summary>
    Unknown,
    /// <summary>Executing: not at a wait stub (or in a non-waiting system call).</summary>
    Active,
    /// <summary>Idle in a known dispatcher's wait for work (thread-pool worker, message pump, completion port...).</summary>
    Passive,
    /// <summary>In any other wait.</summary>
    Blocked,
}

/// <summary>A thread's classification: activity, wait kind (CriticalSection, Object, Sleep, ...) and why.</summary>
public sealed record ThreadState(ThreadActivity Activity, string? WaitKind, string Reason);

/// <summary>Stacks, symbols and the thread classifier, shared by the detectors of one run over one dump (each thread walked once).</summary>
public sealed partial class DetectorContext
{
    private readonly DumpSymbols? _givenSymbols;
    private readonly Lazy<DumpSymbols> _symbols;
    private SymbolStore? _ownStore;
    private readonly ConcurrentDictionary<uint, IReadOnlyList<StackFrame>> _stacks = new();
    private readonly ConcurrentDictionary<ulong, CallSiteVerdict> _callSites = new();
    private readonly ConcurrentDictionary<uint, ThreadState> _states = new();
    private readonly object _exceptionLock = new();
    private IReadOnlyList<StackFrame>? _exceptionStack;

    /// <summary>Frames a thread's walk returns at most (Stack Overflow's exception walk goes to <see cref="StackWalkOptions.MaxFramesLimit"/>).</summary>
    public const int MaxFrames = 1024;

    /// <summary>The dump's symbols: the caller's, or loaded on first use from <see cref="PatternOptions.SymbolPath"/>.</summary>
    public DumpSymbols Symbols => _symbols.Value;

    /// <summary>True when a symbol path was configured (the caller's symbols have a store, or the options name a path).</summary>
    public bool HasSymbolPath => _givenSymbols is not null ? _givenSymbols.Store is not null : !string.IsNullOrWhiteSpace(Options.SymbolPath);

    private DumpSymbols CreateSymbols()
    {
        if (_givenSymbols is not null) return _givenSymbols;
        var path = SymbolPath.Parse(Options.SymbolPath);
        _ownStore = path.IsEmpty ? null : new SymbolStore(path);
        return new DumpSymbols(Dump, _ownStore);
    }

    public void Dispose()
    {
        if (_givenSymbols is null && _symbols.IsValueCreated) _symbols.Value.Dispose();
        _ownStore?.Dispose();
    }

    /// <summary>The thread's stack from its own context, symbolized; empty when it cannot be walked. Walked once.</summary>
    public IReadOnlyList<StackFrame> StackOf(DumpThread thread) =>
        _stacks.GetOrAdd(thread.Id, _ => Walk(() => Dump.WalkStack(thread, Symbols.WalkOptions(MaxFrames))));

    /// <summary>
    /// The exception thread's stack from the exception context (.ecxr), symbolized; empty without an exception or its
    /// context. A stack overflow is walked to the frame limit of 100,000 so its recursion can be counted.
    /// </summary>
    public IReadOnlyList<StackFrame> ExceptionStack
    {
        get
        {
            lock (_exceptionLock)
            {
                if (_exceptionStack is not null) return _exceptionStack;
                int max = Dump.Exception?.Code == 0xC00000FD ? StackWalkOptions.MaxFramesLimit : MaxFrames;
                _exceptionStack = Walk(() => Dump.WalkExceptionStack(Symbols.WalkOptions(max)));
                return _exceptionStack;
            }
        }
    }

    /// <summary>The stack that shows what a thread was doing: the exception context's for the exception thread, else its own.</summary>
    public IReadOnlyList<StackFrame> LiveStack(DumpThread thread) =>
        IsExceptionThread(thread) && ExceptionStack.Count > 0 ? ExceptionStack : StackOf(thread);

    public bool IsExceptionThread(DumpThread thread) => Dump.Exception is { } e && e.ThreadId == thread.Id;

    private IReadOnlyList<StackFrame> Walk(Func<IReadOnlyList<StackFrame>> walk)
    {
        IReadOnlyList<StackFrame> frames;
        try
        {
            frames = walk();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            return [];
        }
        Symbols.Annotate(frames);
        return frames;
    }

    /// <summary>Whether a call instruction ends right before <paramref name="returnAddress"/> (code from the dump or the image file).</summary>
    public CallSiteVerdict CallSiteOf(ulong returnAddress) => _callSites.GetOrAdd(returnAddress, a =>
    {
        if (Dump.Architecture is not (CpuArchitecture.X64 or CpuArchitecture.X86)) return CallSiteVerdict.Unknown;
        int bitness = Dump.Architecture == CpuArchitecture.X86 ? 32 : 64;
        return CallSite.Check(a, bitness, (x, buffer) =>
            Dump.ModuleAt(x) is { } m ? Symbols.Images.Get(m).Read(x, buffer) : Dump.Memory.Read(x, buffer));
    });

    private Machine.Disassembly.Disassembler? _disassembler;

    /// <summary>A disassembler over this context's symbols (call targets named through import slots and stubs).</summary>
    public Machine.Disassembly.Disassembler Disassembler =>
        LazyInitializer.EnsureInitialized(ref _disassembler, () => new Machine.Disassembly.Disassembler(Dump, Symbols));

    /// <summary>
    /// Whether the address lies in an executable section of a module image: false outside every module; null when the
    /// module's section table is known neither from the dump nor from an image file.
    /// </summary>
    public bool? InExecutableImage(ulong address) =>
        Dump.ModuleAt(address) is { } m ? Symbols.Images.Get(m).IsExecutable(address) : false;

    /// <summary>A frame as evidence shows it: "module!function+0x1a", "module+0x1234" or the address.</summary>
    public string FrameText(StackFrame frame) => frame.Symbol ?? Where(frame.InstructionPointer);

    /// <summary>
    /// The signature key of a frame: lower-case "module!function" (no offset) when the function is named, else
    /// "module+0xrva" (stable across dumps of the same binary), else "no-module". Module names as WinDbg writes them.
    /// </summary>
    public string FrameKey(StackFrame frame)
    {
        var module = Dump.ModuleAt(frame.InstructionPointer);
        if (module is null) return "no-module";
        string name = ModuleNames.DebuggerName(module.Name);
        return (frame.Function is { } f ? $"{name}!{f}" : $"{name}+0x{frame.InstructionPointer - module.BaseAddress:x}").ToLowerInvariant();
    }

    /// <summary>An operating-system module: under the Windows folder, or one of the OS's own DLLs by name.</summary>
    public static bool IsSystemModule(DumpModule? module)
    {
        if (module is null) return false;
        string path = (module.Path ?? module.Name).Replace('/', '\\');
        if (path.Contains("\\windows\\", StringComparison.OrdinalIgnoreCase)) return true;
        return StackNames.OsModules.Contains(ModuleNames.DebuggerName(System.IO.Path.GetFileName(path)).ToLowerInvariant());
    }

    /// <summary>A module that raises exceptions for others (the OS, the C/C++ runtimes, the CLR): Exception Module looks past it.</summary>
    public static bool IsRaisingHelper(DumpModule? module)
    {
        if (module is null) return false;
        string name = ModuleNames.DebuggerName(module.Name).ToLowerInvariant();
        return name is "ntdll" or "kernelbase" or "kernel32" or "ucrtbase" or "ucrtbased" or "msvcrt" or "clr" or "coreclr"
               || name.StartsWith("vcruntime140", StringComparison.Ordinal) || name.StartsWith("msvcp", StringComparison.Ordinal)
               || name.StartsWith("msvcr", StringComparison.Ordinal);
    }

    /// <summary>
    /// The frames that matter on a stack: frames in modules that are neither OS modules nor raising helpers, found by
    /// the context, unwind data or the frame pointer, or by a scan whose call site is not disproved. A frame equal to
    /// the one before it (same instruction pointer) is given once.
    /// </summary>
    /// <remarks>
    /// The list ends in the thread-start code: once a system-module frame follows a frame that matters (the caller of
    /// the application's start function: kernel32!BaseThreadInitThunk, ntdll!RtlUserThreadStart, as Truncated Stack
    /// Trace names the bottom of a stack), the first frame found by scanning ends it. Below the thread start a scan
    /// only finds stale values (Rough Stack Trace, Incorrect Stack Trace), e.g. the start address itself; without
    /// module code their call sites cannot be disproved. System frames above the first frame that matters (a wait stub,
    /// MessageBox, the raising code) do not end the list: a blocked thread's caller may be found by a scan past them.
    /// </remarks>
    public IEnumerable<StackFrame> FramesThatMatter(IReadOnlyList<StackFrame> frames)
    {
        bool matched = false, inStartCode = false;
        ulong? previous = null;
        foreach (var f in frames)
        {
            if (inStartCode && f.Trust == FrameTrust.Scan) yield break;
            var m = Dump.ModuleAt(f.InstructionPointer);
            if (m is null) continue;
            if (IsSystemModule(m))
            {
                inStartCode |= matched;
                continue;
            }
            if (IsRaisingHelper(m) || (f.Trust == FrameTrust.Scan && CallSiteOf(f.InstructionPointer) == CallSiteVerdict.NotCall)) continue;
            matched = true;
            if (f.InstructionPointer == previous) continue;
            previous = f.InstructionPointer;
            yield return f;
        }
    }

    /// <summary>The thread classifier: Active, Passive, Blocked (with the wait kind), or Unknown when system frames are unnamed.</summary>
    public ThreadState StateOf(DumpThread thread) => _states.GetOrAdd(thread.Id, _ => Classify(StackOf(thread)));

    private ThreadState Classify(IReadOnlyList<StackFrame> frames)
    {
        if (frames.Count == 0) return new(ThreadActivity.Unknown, null, "no stack (context or stack memory missing)");
        var top = frames[0];
        var module = Dump.ModuleAt(top.InstructionPointer);
        if (module is null) return new(ThreadActivity.Active, null, $"executing at {FrameText(top)}, outside every module");
        if (!IsSystemModule(module)) return new(ThreadActivity.Active, null, $"running {FrameText(top)}");
        if (top.Function is null)
            return new(ThreadActivity.Unknown, null, $"top frame {FrameText(top)} is in {module.Name} without a function name (no symbols or exports for it)");
        string stub = StackNames.Normalize(top.Function);
        if (!StackNames.WaitStubs.TryGetValue(stub, out string? stubKind))
            return new(ThreadActivity.Active, null, $"in {FrameText(top)}, not a wait");
        string kind = stubKind;
        foreach (var f in frames.Skip(1).Take(16))
        {
            if (f.Function is null) continue;
            if (StackNames.WaitKindOf(f.Function) is { } k)
            {
                kind = k;
                break;
            }
        }
        var names = frames.Where(f => f.Function is not null).Select(f => f.Function!).ToArray();
        foreach (var (passiveKind, frameName) in StackNames.PassiveDispatchers)
        {
            if (kind != passiveKind) continue;
            if (frameName is null || names.Any(n => n.Contains(frameName, StringComparison.Ordinal)))
                if (!(kind == "Message" && names.Any(n => n.Contains("SendMessage", StringComparison.Ordinal))))
                    return new(ThreadActivity.Passive, kind, $"idle {kind} wait in {FrameText(top)}");
        }
        var caller = FramesThatMatter(frames).FirstOrDefault();
        return new(ThreadActivity.Blocked, kind, $"{kind} wait in {FrameText(top)}" + (caller is not null ? $" from {FrameText(caller)}" : ""));
    }

    /// <summary>Whether the dump holds all process memory (MiniDumpWithFullMemory): memory below SP is then present.</summary>
    public bool HasFullMemory => ((Dump.File?.Flags ?? 0) & 0x2) != 0;
}

/// <summary>Function and module names the stack detectors recognise (data tables, not logic).</summary>
internal static class StackNames
{
    public static readonly HashSet<string> OsModules = new(StringComparer.Ordinal)
    {
        "ntdll", "kernel32", "kernelbase", "user32", "win32u", "gdi32", "gdi32full", "combase", "ole32", "oleaut32", "rpcrt4",
        "sechost", "advapi32", "ws2_32", "shell32", "shlwapi", "comctl32", "ucrtbase", "msvcrt", "wow64", "wow64cpu", "wow64win",
        "dbghelp", "dbgcore", "bcrypt", "crypt32", "msvcp_win", "imm32", "uxtheme", "winmm", "version",
    };

    /// <summary>"ZwWaitForSingleObject" → "NtWaitForSingleObject"; a leading "_" and an "@n" suffix (x86) are dropped.</summary>
    public static string Normalize(string function)
    {
        string f = function.TrimStart('_');
        int at = f.IndexOf('@');
        if (at > 0) f = f[..at];
        return f.StartsWith("Zw", StringComparison.Ordinal) ? "Nt" + f[2..] : f;
    }

    /// <summary>Wait stubs (ntdll, win32u) and the wait kind each implies when no caller frame says more.</summary>
    public static readonly Dictionary<string, string> WaitStubs = new(StringComparer.Ordinal)
    {
        ["NtWaitForSingleObject"] = "Object", ["NtWaitForMultipleObjects"] = "Object", ["NtWaitForAlertByThreadId"] = "Object",
        ["NtDelayExecution"] = "Sleep", ["NtRemoveIoCompletion"] = "IoCompletion", ["NtRemoveIoCompletionEx"] = "IoCompletion",
        ["NtWaitForWorkViaWorkerFactory"] = "WorkerFactory", ["NtSignalAndWaitForSingleObject"] = "Object",
        ["NtWaitForKeyedEvent"] = "Object", ["NtAlpcSendWaitReceivePort"] = "Rpc/Alpc", ["NtReplyWaitReceivePort"] = "Rpc/Alpc",
        ["NtReplyWaitReceivePortEx"] = "Rpc/Alpc", ["NtReadFile"] = "SyncIo", ["NtWriteFile"] = "SyncIo",
        ["NtDeviceIoControlFile"] = "SyncIo", ["NtFsControlFile"] = "SyncIo", ["NtUserGetMessage"] = "Message",
        ["NtUserWaitMessage"] = "Message", ["NtUserMsgWaitForMultipleObjectsEx"] = "Message", ["NtUserMessageCall"] = "SendMessage",
    };

    /// <summary>Caller frames that give the wait kind, most specific first.</summary>
    private static readonly (string Kind, string[] Names)[] KindFrames =
    [
        ("CriticalSection", ["RtlEnterCriticalSection", "RtlpEnterCriticalSectionContended", "RtlpWaitOnCriticalSection"]),
        ("SrwLock", ["RtlAcquireSRWLockExclusive", "RtlAcquireSRWLockShared", "AcquireSRWLock"]),
        ("ConditionVariable", ["SleepConditionVariable", "RtlSleepConditionVariable"]),
        ("Loader", ["LdrpLoadDll", "LdrpDrainWorkQueue", "LdrLoadDll"]),
        ("Com", ["CoWaitForMultipleHandles", "CCliModalLoop"]),
        ("Rpc/Alpc", ["NdrClientCall", "NdrpClientCall"]),
        ("SendMessage", ["SendMessage", "NtUserMessageCall"]),
        ("Message", ["GetMessage", "WaitMessage", "MsgWaitForMultipleObjects"]),
        ("IoCompletion", ["GetQueuedCompletionStatus"]),
        ("Sleep", ["SleepEx", "Sleep"]),
        ("Object", ["WaitForSingleObject", "WaitForMultipleObjects", "SignalObjectAndWait"]),
    ];

    public static string? WaitKindOf(string function)
    {
        string f = Normalize(function);
        foreach (var (kind, names) in KindFrames)
            if (names.Any(n => f.StartsWith(n, StringComparison.Ordinal))) return kind;
        return null;
    }

    /// <summary>Idle waits of known dispatchers: the wait kind and a frame name that must be on the stack (null: any).</summary>
    public static readonly (string Kind, string? Frame)[] PassiveDispatchers =
    [
        ("WorkerFactory", "TppWorkerThread"),
        ("Message", null),
        ("IoCompletion", null),
        ("Rpc/Alpc", "LRPC_ADDRESS"),
        ("Rpc/Alpc", "RPC_LISTENER"),
    ];

    public static readonly string[] ExceptionDispatch =
        ["KiUserExceptionDispatcher", "RtlDispatchException", "RtlRaiseException", "RaiseException", "_CxxThrowException", "CxxThrowException"];

    public static readonly string[] HeapFailure = ["RtlReportCriticalFailure", "RtlpHeapHandleError", "RtlpLogHeapFailure"];

    public static readonly string[] HeapCode =
        ["RtlpFreeHeap", "RtlpAllocateHeap", "RtlpLowFragHeap", "RtlpCoalesceFreeBlocks", "RtlpHp", "RtlFreeHeap", "RtlAllocateHeap", "RtlpHeap"];

    public static readonly string[] ThreadStart = ["RtlUserThreadStart", "BaseThreadInitThunk", "_RtlUserThreadStart", "RtlpUserThreadStart"];

    public static readonly string[] NonCallTransitions =
        ["KiUserExceptionDispatcher", "KiUserApcDispatcher", "KiUserCallbackDispatcher", "RtlUserThreadStart", "Wow64", "BTCpuSimulate"];

    public static bool Matches(string? function, IEnumerable<string> names) =>
        function is not null && names.Any(n => Normalize(function).StartsWith(n.TrimStart('_'), StringComparison.Ordinal));
}
