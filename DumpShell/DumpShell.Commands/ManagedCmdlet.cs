using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Managed;

namespace DumpShell.Commands;

/// <summary>
/// The base of the cmdlets that read a dump's managed (.NET) side through ClrMD: -DacPath, and the rules every one of
/// them keeps. A dump without a CLR gives nothing and no error (a verbose message); a CLR whose DAC cannot be had
/// here gives one ErrorRecord "DacNotAvailable" naming the runtime version and what to do. Never guesses.
/// </summary>
public abstract class ManagedCmdlet : DumpCmdlet
{
    /// <summary>The runtime's data access component (libmscordaccore.so, mscordaccore.dll) to use instead of finding one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DacPath { get; set; }

    protected override MinidumpStreamType[]? StreamsRead =>
    [
        MinidumpStreamType.ModuleList, MinidumpStreamType.ThreadList, MinidumpStreamType.SystemInfo,
        MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List,
    ];

    /// <summary>The dump's ClrMD session when its runtime can be read; otherwise writes the verbose message or the error and returns null.</summary>
    protected ClrSession? ReadySession(Dump dump) => Ready(this, dump, DacPath, reportUnavailable: true);

    /// <summary>
    /// The ClrMD session of <paramref name="dump"/> when its runtime can be read. Without a CLR: a verbose message and null
    /// (no ClrMD object is made: one look at the module list). A CLR whose DAC cannot be had: the "DacNotAvailable"
    /// ErrorRecord when <paramref name="reportUnavailable"/>, else a verbose message; null either way.
    /// </summary>
    internal static ClrSession? Ready(PSCmdlet cmdlet, Dump dump, string? dacPath, bool reportUnavailable)
    {
        string? dac = dacPath is null ? null : cmdlet.GetUnresolvedProviderPathFromPSPath(dacPath);
        var session = ClrSession.For(dump, dac);
        switch (session.Status)
        {
            case ManagedStatus.NoClr:
                cmdlet.WriteVerbose($"{dump.Path} holds no .NET runtime (no libcoreclr, coreclr.dll or clr.dll among its modules): no managed data.");
                return null;
            case ManagedStatus.DacNotAvailable:
                var failure = session.Failure!;
                if (!reportUnavailable)
                {
                    cmdlet.WriteVerbose($"No managed data: {failure}");
                    return null;
                }
                cmdlet.WriteError(new ErrorRecord(new InvalidOperationException(failure.ToString()), "DacNotAvailable", ErrorCategory.NotInstalled, dump.Path)
                {
                    ErrorDetails = new ErrorDetails($"{failure.Message} {failure.Remedy}") { RecommendedAction = failure.Remedy },
                });
                return null;
            default:
                cmdlet.WriteVerbose($"{dump.Path}: {session.RuntimeModule!.DisplayVersion}, DAC {session.Dac!.DacPath ?? "(ClrMD)"} — {session.Dac.HowFound}.");
                return session;
        }
    }
}

/// <summary>The dump's CLR (!eeversion): flavour, version, DAC and how it was found, GC mode, heaps, AppDomains.</summary>
[Cmdlet(VerbsCommon.Get, "DumpClrRuntime", DefaultParameterSetName = PathSet)]
[OutputType(typeof(Model.ClrRuntimeInfo))]
public sealed class GetDumpClrRuntimeCommand : ManagedCmdlet
{
    protected override void ProcessDump(Dump dump)
    {
        if (ReadySession(dump)?.GetRuntimeInfo() is { } info) WriteObject(info);
    }
}

/// <summary>Managed exceptions (!pe): each thread's current exception, or the exception objects at -Address.</summary>
[Cmdlet(VerbsCommon.Get, "DumpManagedException", DefaultParameterSetName = PathSet)]
[OutputType(typeof(Model.ManagedException))]
public sealed class GetDumpManagedExceptionCommand : ManagedCmdlet
{
    /// <summary>Exception objects by address (hex as 0x…, or a number) instead of the threads' current exceptions.</summary>
    [Parameter]
    public DumpAddress[]? Address { get; set; }

    protected override void ProcessDump(Dump dump)
    {
        if (ReadySession(dump) is not { } session) return;
        if (Address is null)
        {
            foreach (var e in session.CurrentExceptions()) WriteObject(e);
            return;
        }
        foreach (var address in Address)
        {
            if (session.ExceptionAt(address.Value) is { } e) WriteObject(e);
            else
                WriteError(new ErrorRecord(new ArgumentException($"0x{address.Value:x} in {dump.Path} is not a managed exception object."),
                    "NotAnException", ErrorCategory.InvalidArgument, address.Value));
        }
    }
}

/// <summary>
/// The managed heap (!dumpheap): objects streamed as the heap is walked, or with -Statistics one line per type
/// (Type, Count, TotalSize) sorted like !dumpheap -stat.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpHeap", DefaultParameterSetName = PathSet)]
[OutputType(typeof(Model.HeapObject), typeof(Model.HeapTypeStatistics))]
public sealed class GetDumpHeapCommand : ManagedCmdlet
{
    /// <summary>Only types whose full name matches (wildcards).</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Type { get; set; }

    /// <summary>Only objects of at least this many bytes.</summary>
    [Parameter]
    public ulong MinSize { get; set; }

    /// <summary>One object per type: Count and TotalSize.</summary>
    [Parameter]
    public SwitchParameter Statistics { get; set; }

    private readonly CancellationTokenSource _stop = new();

    protected override void StopProcessing() => _stop.Cancel();

    protected override void ProcessDump(Dump dump)
    {
        if (ReadySession(dump) is not { } session) return;
        var patterns = Type?.Select(t => new WildcardPattern(t, WildcardOptions.IgnoreCase)).ToArray();
        Func<string, bool>? filter = patterns is null ? null : name => patterns.Any(p => p.IsMatch(name));
        if (Statistics)
        {
            foreach (var s in session.HeapStatistics(filter, MinSize, _stop.Token)) WriteObject(s);
            return;
        }
        foreach (var o in session.HeapObjects(filter, MinSize)) WriteObject(o);
    }
}
