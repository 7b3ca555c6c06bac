using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>Handles from the HandleData stream (!handle), or with -Summary their counts by type (!handle 0 0).</summary>
[Cmdlet(VerbsCommon.Get, "DumpHandle", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpHandle), typeof(DumpHandleSummary))]
public sealed class GetDumpHandleCommand : DumpCmdlet
{
    /// <summary>Handle types to keep (Event, File, Key, ...); wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Type { get; set; }

    /// <summary>Counts by type instead of one object per handle.</summary>
    [Parameter]
    public SwitchParameter Summary { get; set; }

    protected override MinidumpStreamType[] StreamsRead => [MinidumpStreamType.HandleData];

    protected override void ProcessDump(Dump dump)
    {
        if (!dump.HasHandleData)
        {
            WriteError(new ErrorRecord(
                new InvalidOperationException($"{dump.Path} has no HandleData stream: it was written without MiniDumpWithHandleData."),
                "NoHandleData", ErrorCategory.ObjectNotFound, dump.Path));
            return;
        }
        var patterns = Type?.Select(t => new WildcardPattern(t, WildcardOptions.IgnoreCase)).ToArray();
        bool Keep(string? type) => patterns is null || patterns.Any(p => p.IsMatch(type ?? ""));
        if (Summary)
        {
            foreach (var row in dump.HandleSummary)
                if (Keep(row.Type)) WriteObject(row);
        }
        else
        {
            foreach (var handle in dump.Handles)
                if (Keep(handle.Type)) WriteObject(handle);
        }
    }
}
