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

    protected override MinidumpStreamType[] StreamsRead =>
    [
        MinidumpStreamType.ThreadList, MinidumpStreamType.ThreadExList, MinidumpStreamType.ThreadInfoList,
        MinidumpStreamType.ThreadNames, MinidumpStreamType.Exception, MinidumpStreamType.SystemInfo,
        MinidumpStreamType.MemoryList, MinidumpStreamType.Memory64List,
    ];

    protected override void ProcessDump(Dump dump)
    {
        foreach (var thread in dump.Threads)
        {
            if (ThreadId is not null && !ThreadId.Contains(thread.Id)) continue;
            if (Index is not null && !Index.Contains(thread.Index)) continue;
            WriteObject(thread);
        }
    }
}
