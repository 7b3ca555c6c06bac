using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>What a dump is: OS, architecture, process, times, counts, streams (vertarget, .time, .dumpdebug).</summary>
[Cmdlet(VerbsCommon.Get, "DumpInfo", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpInfo), typeof(DumpStream))]
public sealed class GetDumpInfoCommand : DumpCmdlet
{
    /// <summary>One row per stream-directory entry instead of the summary.</summary>
    [Parameter]
    public SwitchParameter Streams { get; set; }

    /// <summary>The summary speaks for the whole file, so it reports every problem found in it.</summary>
    protected override MinidumpStreamType[]? StreamsRead => null;

    protected override void ProcessDump(Dump dump)
    {
        if (Streams)
            foreach (var stream in dump.GetStreams()) WriteObject(stream);
        else
            WriteObject(dump.GetInfo());
    }
}
