using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// The dumped process's threads (~, !runaway). When the dump holds a .NET runtime whose DAC loads on this host, each
/// thread the CLR knows carries its managed facts (ManagedThreadId, ClrKind, Apartment, LockCount, GCMode, current
/// exception, ManagedName): a dump without a CLR costs one look at its module list and makes no ClrMD object, and a CLR
/// whose DAC cannot be had leaves them empty (a verbose message). -Managed is the CLR's view (!threads): only the
/// threads the CLR knows, and the DacNotAvailable error when it cannot be read.
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpThread", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpThread))]
public sealed class GetDumpThreadCommand : DumpCmdlet
{
    /// <summary>Only these OS thread ids.</summary>
    [Parameter]
    [Alias("Id")]
    public uint[]? ThreadId { get; set; }

    /// <summary>Only these debugger ordinals (~n).</summary>
    [Parameter]
    public int[]? Index { get; set; }

    /// <summary>
    /// A WOW64 process in an x64 dump: each thread's 32-bit side (WinDbg's .effmach x86): the registers of its WOW64
    /// context, its 32-bit TEB and stack bounds, Architecture X86 and PointerSize 4.
    /// </summary>
    [Parameter]
    public SwitchParameter Wow64 { get; set; }

    /// <summary>Only the threads the CLR knows (!threads); a CLR that cannot be read here is one DacNotAvailable error.</summary>
    [Parameter]
    public SwitchParameter Managed { get; set; }

    /// <summary>The runtime's data access component (libmscordaccore.so, mscordaccore.dll) to use instead of finding one.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? DacPath { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
    [
        MinidumpStreamType.ThreadList, MinidumpStreamType.ThreadExList, MinidumpStreamType.ThreadInfoList,
        MinidumpStreamType.ThreadNames, MinidumpStreamType.Exception, MinidumpStreamType.SystemInfo,
        MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List,
    ];

    protected override void ProcessDump(Dump dump)
    {
        if (Wow64 && !dump.IsWow64)
        {
            WriteError(new ErrorRecord(new InvalidOperationException($"{dump.Path} is not a 64-bit dump of a 32-bit (WOW64) process."),
                "NotWow64", ErrorCategory.InvalidOperation, dump.Path));
            return;
        }
        if (Managed && Wow64)
        {
            WriteError(new ErrorRecord(new ArgumentException("-Managed and -Wow64 cannot be combined."), "ManagedWithWow64", ErrorCategory.InvalidArgument, dump.Path));
            return;
        }
        Managed.ClrSession? session = null;
        if (!Wow64)
        {
            try
            {
                session = ManagedCmdlet.Ready(this, dump, DacPath, reportUnavailable: Managed);
            }
            catch (Exception e) when (!Managed && e is not PipelineStoppedException and not OutOfMemoryException)
            {
                WriteVerbose($"No managed facts for {dump.Path}: {e.Message}");
            }
        }
        if (Managed && session is null) return;
        foreach (var native in dump.Threads)
        {
            var thread = native;
            if (session?.ThreadFacts(native.Id) is { } facts) thread = native.WithManaged(facts);
            else if (Managed) continue;
            if (ThreadId is not null && !ThreadId.Contains(thread.Id)) continue;
            if (Index is not null && !Index.Contains(thread.Index)) continue;
            if (!Wow64)
            {
                WriteObject(thread);
                continue;
            }
            if (dump.Wow64Thread(thread) is { } view) WriteObject(view);
            else WriteWarning($"Thread {thread.Id} (0x{thread.Id:x}) of {dump.Path} has no 32-bit context in the dump (TEB64.TlsSlots[1], the WOW64 save area).");
        }
    }
}
