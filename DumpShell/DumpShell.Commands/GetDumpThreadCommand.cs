using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>The dumped process's threads (~, !runaway).</summary>
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
        foreach (var thread in dump.Threads)
        {
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
