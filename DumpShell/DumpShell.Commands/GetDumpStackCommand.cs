using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>
/// Stack traces (k, kn, ~*k, .ecxr; k after .cxr): StackFrame objects with module, function, offset, source
/// line and how each frame was found (Trust).
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpStack", DefaultParameterSetName = PathSet)]
[OutputType(typeof(StackFrame))]
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

    protected override MinidumpStreamType[] StreamsRead =>
        [MinidumpStreamType.ThreadList, MinidumpStreamType.Exception, MinidumpStreamType.ModuleList,
         MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List];

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolPath);
        var options = symbols.WalkOptions(MaxFrames);
        try
        {
            if (Exception)
            {
                if (dump.Exception is null)
                {
                    WriteError(new ErrorRecord(new InvalidOperationException($"{dump.Path} has no exception stream (a manual dump)."),
                        "NoException", ErrorCategory.ObjectNotFound, dump.Path));
                    return;
                }
                Emit(symbols, dump.WalkExceptionStack(options));
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
                if (dump.ReadContext(address.Value) is not { } start)
                {
                    WriteError(new ErrorRecord(new InvalidOperationException($"No readable CONTEXT record at {address} in {dump.Path}."),
                        "ContextNotInDump", ErrorCategory.ObjectNotFound, address.ToString()));
                    return;
                }
                Emit(symbols, dump.WalkStack(threads[0].Id, start, options));
                return;
            }

            foreach (var thread in threads)
            {
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

    private void Emit(DumpSymbols symbols, IReadOnlyList<StackFrame> frames)
    {
        symbols.Annotate(frames);
        foreach (var frame in frames) WriteObject(frame);
    }
}
