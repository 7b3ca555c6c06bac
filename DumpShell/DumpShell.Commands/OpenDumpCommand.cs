using System.Management.Automation;

namespace DumpShell.Commands;

/// <summary>Opens dumps for this runspace and returns them, for -Dump on the other cmdlets.</summary>
[Cmdlet(VerbsCommon.Open, "Dump")]
[OutputType(typeof(Dump))]
public sealed class OpenDumpCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "DumpPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (var dump in DumpResolver.Open(this, Path)) WriteObject(dump);
    }
}
