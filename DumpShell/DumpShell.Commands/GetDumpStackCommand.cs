using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>
/// Stack traces (k, kn, ~*k, .ecxr; k after .cxr): StackFrame objects with module, function, offset, source
/// line and how each frame was found (Trust). With -Raw, the raw stack (dps over the stack range): RawStackSlot objects.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpStack", DefaultParameterSetName = PathSet)]
[OutputType(typeof(StackFrame), typeof(RawStackSlot))]
public sealed class GetDumpStackCommand : DumpCmdlet
{
    /// <summary>OS thread ids; binds Id from Get-DumpThread's objects. Without a selection every thread is walked.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Id")]
    public uint[]? ThreadId { get; set; }

    /// <summary>Debugger ordinals (~n).</summary>
    [Parameter]
    public int[]? Index { get; set; }

    /// <summary>Only the exception thread, unwound from the exception context (.ecxr).</summary>
    [Parameter]
    public SwitchParameter Exception { get; set; }

    /// <summary>Start from the CONTEXT record at this address (.cxr); needs one -ThreadId or -Index.</summary>
    [Parameter]
    public DumpAddress? Context { get; set; }

    /// <summary>A symbol path for this call only (WinDbg syntax); otherwise Set-DumpSymbolPath's or _NT_SYMBOL_PATH.</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    /// <summary>At most this many frames per thread.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int MaxFrames { get; set; } = 256;

    /// <summary>
    /// dps over the stack range: every pointer-sized slot from the stack pointer (the exception context's for the
    /// exception thread, the CONTEXT's with -Context) up to the stack base, with the symbol of its value and whether a
    /// call ends right before it.
    /// </summary>
    [Parameter]
    public SwitchParameter Raw { get; set; }

    /// <summary>With -Raw: at most this many slots per thread.</summary>
    [Parameter]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int MaxSlots { get; set; } = RawStack.DefaultMaxSlots;

    /// <summary>
    /// A WOW64 process in an x64 dump: walk each thread's 32-bit stack from its WOW64 context (the x86 walker, the
    /// 32-bit stack bounds of its TEB32; frames of PointerSize 4); with -Context the record is an x86 CONTEXT. Without
    /// it the 64-bit stacks are walked.
    /// </summary>
    [Parameter]
    public SwitchParameter Wow64 { get; set; }

    /// <summary>
    /// Only the managed frames (!clrstack): the methods and runtime frames ClrMD reports, numbered from 0. Without it a
    /// thread of a dump whose CLR can be read shows native and managed frames in one stack (Kind, IsJitCode,
    /// ManagedMethod tell them apart). A CLR that cannot be read here is one DacNotAvailable error with -Managed.
    /// </summary>
    [Parameter]
    public SwitchParameter Managed { get; set; }

    /// <summary>The runtime's data access component (libmscordaccore.so, mscordaccore.dll) to use instead of finding one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DacPath { get; set; }

    /// <summary>
    /// kv: each native frame's first four argument slots (Arguments) and where they come from (ArgumentsSource). On x64
    /// they are the caller's home area above the return address, "HomeArea (unverified)": x64 code need not store its
    /// register arguments there, so a value is only a lead until the disassembly confirms it (False Function
    /// Parameters). On x86, the stack above the return address ([EBP+8], [EBP+0xC], ...), "Stack".
    /// </summary>
    [Parameter]
    public SwitchParameter Parameters { get; set; }

    /// <summary>The type name of the view that shows the argument slots (-Parameters).</summary>
    internal const string ParametersView = "DumpShell.Model.StackFrame#Parameters";

    private Dump? _dump;
    private DumpShell.Managed.ClrSession? _clr;
    private Func<CpuContext, IReadOnlyList<StackFrame>>? _walkFrom;

    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ThreadList, MinidumpStreamType.Exception, MinidumpStreamType.ModuleList,
         MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        var options = symbols.WalkOptions(MaxFrames);
        _clr = null;
        _walkFrom = null;
        _dump = dump;
        try
        {
            if (Wow64 && !CheckWow64(dump)) return;
            if (Managed && (Raw || Wow64))
            {
                WriteError(new ErrorRecord(new ArgumentException("-Managed cannot be combined with -Raw or -Wow64."),
                    "ManagedWithRawOrWow64", ErrorCategory.InvalidArgument, dump.Path));
                return;
            }
            if (!Raw && !Wow64)
            {
                try
                {
                    _clr = ManagedCmdlet.Ready(this, dump, DacPath, reportUnavailable: Managed);
                }
                catch (System.Exception e) when (!Managed && e is not PipelineStoppedException and not OutOfMemoryException)
                {
                    WriteVerbose($"No managed frames for {dump.Path}: {e.Message}");
                }
                if (Managed && _clr is null) return;
            }
            if (Exception)
            {
                if (dump.Exception is null)
                {
                    WriteError(new ErrorRecord(new InvalidOperationException($"{dump.Path} has no exception stream (a manual dump)."),
                        "NoException", ErrorCategory.ObjectNotFound, dump.Path));
                    return;
                }
                if (Wow64)
                {
                    // The 32-bit side of the exception thread: its WOW64 context (the 32-bit state it left 32-bit code with).
                    if (dump.Threads.FirstOrDefault(t => t.Id == dump.Exception.ThreadId) is { } faulting) EmitWow64(dump, symbols, faulting, options);
                    return;
                }
                if (Raw) EmitRaw(dump, symbols, dump.Exception.ThreadId, dump.ExceptionContext?.StackPointer);
                else Emit(symbols, dump.WalkExceptionStack(options));
                return;
            }

            var threads = dump.Threads.Where(t => (ThreadId is null || ThreadId.Contains(t.Id)) && (Index is null || Index.Contains(t.Index))).ToList();
            if (ThreadId is not null || Index is not null)
                foreach (var missing in (ThreadId ?? []).Where(id => threads.All(t => t.Id != id)))
                    WriteError(new ErrorRecord(new ArgumentException($"{dump.Path} has no thread with id {missing} (0x{missing:x})."),
                        "ThreadNotFound", ErrorCategory.ObjectNotFound, missing));

            if (Context is { } address)
            {
                if (threads.Count != 1)
                {
                    WriteError(new ErrorRecord(new ArgumentException("-Context needs exactly one thread: give one -ThreadId or -Index."),
                        "ContextNeedsOneThread", ErrorCategory.InvalidArgument, address.ToString()));
                    return;
                }
                if (dump.ReadContext(address.Value, Wow64 ? CpuArchitecture.X86 : dump.Architecture) is not { } start)
                {
                    WriteError(new ErrorRecord(new InvalidOperationException($"No readable CONTEXT record at {address} in {dump.Path}."),
                        "ContextNotInDump", ErrorCategory.ObjectNotFound, address.ToString()));
                    return;
                }
                if (Raw) EmitRaw(dump, symbols, threads[0].Id, start.StackPointer);
                else Emit(symbols, dump.WalkStack(threads[0].Id, start, options));
                return;
            }

            foreach (var thread in threads)
            {
                if (Wow64)
                {
                    EmitWow64(dump, symbols, thread, options);
                    continue;
                }
                if (Raw)
                {
                    EmitRaw(dump, symbols, thread.Id,
                        thread.IsExceptionThread && dump.ExceptionContext is { } context ? context.StackPointer : thread.StackPointer);
                    continue;
                }
                // The exception thread's own context is inside the exception dispatcher; its story starts at .ecxr.
                var frames = thread.IsExceptionThread && dump.ExceptionContext is { } ecxr
                    ? dump.WalkStack(thread.Id, ecxr, options)
                    : dump.WalkStack(thread, options);
                Emit(symbols, frames);
            }
        }
        finally
        {
            if (SymbolPath is not null) symbols.Dispose();
        }
    }

    private void EmitRaw(Dump dump, DumpSymbols symbols, uint threadId, ulong? stackPointer)
    {
        var thread = dump.Threads.FirstOrDefault(t => t.Id == threadId);
        if (stackPointer is not { } sp || thread?.StackBase is not { } stackBase)
        {
            WriteError(new ErrorRecord(new InvalidOperationException(
                    $"Thread {threadId} (0x{threadId:x}) of {dump.Path} has no known {(stackPointer is null ? "stack pointer" : "stack base")}."),
                "StackRangeUnknown", ErrorCategory.ObjectNotFound, threadId));
            return;
        }
        if (sp >= stackBase)
        {
            WriteError(new ErrorRecord(new InvalidOperationException(
                    $"Thread {threadId} (0x{threadId:x}): the stack pointer {Hex.Address(sp, dump.PointerSize)} is not below the stack base {Hex.Address(stackBase, dump.PointerSize)}."),
                "StackPointerOutsideStack", ErrorCategory.InvalidData, threadId));
            return;
        }
        ulong slots = (stackBase - sp) / (ulong)dump.PointerSize;
        if (slots > (ulong)MaxSlots)
            WriteWarning($"Thread {threadId} (0x{threadId:x}): {slots} slots from {Hex.Address(sp, dump.PointerSize)} to the stack base; the first {MaxSlots} are shown (-MaxSlots).");
        foreach (var slot in RawStack.Read(dump, symbols, threadId, sp, stackBase, MaxSlots)) WriteObject(slot);
    }

    /// <summary>-Wow64 needs a WOW64 dump, and is not combined with -Raw (whose slots are the dump's pointer size).</summary>
    private bool CheckWow64(Dump dump)
    {
        if (Raw)
        {
            WriteError(new ErrorRecord(new ArgumentException("-Wow64 and -Raw cannot be combined (yet): -Raw lists the 64-bit stack's slots."),
                "Wow64WithRaw", ErrorCategory.InvalidArgument, dump.Path));
            return false;
        }
        if (dump.IsWow64) return true;
        WriteError(new ErrorRecord(new InvalidOperationException(
                $"{dump.Path} is not a 64-bit dump of a 32-bit (WOW64) process: {dump.Architecture}, {(dump.Architecture == CpuArchitecture.X64 ? "wow64.dll not loaded" : "not x64")}."),
            "NotWow64", ErrorCategory.InvalidOperation, dump.Path));
        return false;
    }

    private void EmitWow64(Dump dump, DumpSymbols symbols, DumpThread thread, Machine.Unwind.StackWalkOptions options)
    {
        if (dump.Wow64Thread(thread) is not { } view)
        {
            WriteWarning($"Thread {thread.Id} (0x{thread.Id:x}) of {dump.Path} has no 32-bit context in the dump (TEB64.TlsSlots[1], the WOW64 save area, is missing or not an x86 context).");
            return;
        }
        Emit(symbols, dump.WalkStack(view, options));
    }

    private void Emit(DumpSymbols symbols, IReadOnlyList<StackFrame> frames)
    {
        symbols.Annotate(frames);
        if (Parameters && _dump is not null) FrameArguments.Fill(_dump, frames);
        if (_clr is not null && frames.Count > 0)
        {
            uint threadId = frames[0].ThreadId;
            var dump = _clr.Dump;
            _walkFrom = start =>
            {
                var tail = dump.WalkStack(threadId, start, symbols.WalkOptions(MaxFrames));
                symbols.Annotate(tail);
                if (Parameters) FrameArguments.Fill(dump, tail);
                return tail;
            };
            if (Managed)
            {
                var managed = _clr.MergeStack(threadId, frames, _walkFrom, MaxFrames).Where(f => f.Kind != StackFrameKind.Native).ToList();
                for (int i = 0; i < managed.Count; i++) WriteFrame(Renumbered(managed[i], i, i + 1 < managed.Count ? managed[i + 1].InstructionPointer : null));
                return;
            }
            frames = _clr.MergeStack(threadId, frames, _walkFrom, MaxFrames);
        }
        foreach (var frame in frames) WriteFrame(frame);
    }

    /// <summary>With -Parameters a frame carries the type name of the kv view (its base object stays the StackFrame).</summary>
    private void WriteFrame(StackFrame frame)
    {
        if (!Parameters)
        {
            WriteObject(frame);
            return;
        }
        var shown = new PSObject(frame);
        shown.TypeNames.Insert(0, ParametersView);
        WriteObject(shown);
    }

    private static StackFrame Renumbered(StackFrame f, int number, ulong? returnAddress) => new()
    {
        DumpPath = f.DumpPath, ThreadId = f.ThreadId, Frame = number, ChildSP = f.ChildSP, InstructionPointer = f.InstructionPointer,
        FramePointer = f.FramePointer, Module = f.Module, Function = f.Function, Offset = f.Offset, Symbol = f.Symbol, Trust = f.Trust,
        PointerSize = f.PointerSize, Kind = f.Kind, IsJitCode = f.IsJitCode, ManagedMethod = f.ManagedMethod,
        SourceFile = f.SourceFile, Line = f.Line, ReturnAddress = returnAddress,
    };
}
