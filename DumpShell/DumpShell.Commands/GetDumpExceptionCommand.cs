using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>The stored exception, decoded (.exr -1, .lastevent); nothing for a dump without one.</summary>
[Cmdlet(VerbsCommon.Get, "DumpException", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpException))]
public sealed class GetDumpExceptionCommand : DumpCmdlet
{
    protected override MinidumpStreamType[] StreamsRead => [MinidumpStreamType.Exception, MinidumpStreamType.ModuleList];

    protected override void ProcessDump(Dump dump)
    {
        if (dump.Exception is { } exception)
            WriteObject(exception);
        else
            WriteVerbose($"{dump.Path} has no exception stream (a manual dump).");
    }
}
