using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>Each thread's last Win32 error and last NTSTATUS from its TEB, with names and messages (!gle -all; !gle with -ThreadId).</summary>
[Cmdlet(VerbsCommon.Get, "DumpLastError", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpLastError))]
public sealed class GetDumpLastErrorCommand : DumpCmdlet
{
    /// <summary>Only these OS thread ids.</summary>
    [Parameter]
    [Alias("Id")]
    public uint[]? ThreadId { get; set; }

    /// <summary>Hide threads whose last error and last status are both 0 (or not captured).</summary>
    [Parameter]
    public SwitchParameter NonZero { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
    [
        MinidumpStreamType.ThreadList, MinidumpStreamType.ThreadNames, MinidumpStreamType.SystemInfo,
        MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List,
    ];

    protected override void ProcessDump(Dump dump)
    {
        if (!dump.HasWindowsTebLayout)
        {
            WriteError(new ErrorRecord(
                new InvalidOperationException($"{dump.Path} is not a dump of a Windows x64 or x86 process ({dump.Platform} {dump.Architecture}): its threads have no TEB."),
                "NoTeb", ErrorCategory.ObjectNotFound, dump.Path));
            return;
        }
        var errors = dump.LastErrors;
        if (errors.Count > 0 && errors.All(e => e.LastError is null))
            WriteError(new ErrorRecord(
                new InvalidOperationException($"{dump.Path} does not hold the threads' TEBs, so their last errors are unknown (needs MiniDumpWithProcessThreadData or full memory)."),
                "TebNotInDump", ErrorCategory.ObjectNotFound, dump.Path));
        foreach (var e in errors)
        {
            if (ThreadId is not null && !ThreadId.Contains(e.ThreadId)) continue;
            if (NonZero && e.LastError is null or 0 && e.LastStatus is null or 0) continue;
            WriteObject(e);
        }
    }
}
