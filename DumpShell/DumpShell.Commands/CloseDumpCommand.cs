using System.Management.Automation;

namespace DumpShell.Commands;

/// <summary>Releases dumps this runspace opened (the file mapping and everything parsed from it).</summary>
[Cmdlet(VerbsCommon.Close, "Dump", DefaultParameterSetName = "Path")]
public sealed class CloseDumpCommand : PSCmdlet
{
    [Parameter(ParameterSetName = "Path", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "DumpPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(ParameterSetName = "Dump", Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNull]
    public Dump[] Dump { get; set; } = [];

    [Parameter(ParameterSetName = "All", Mandatory = true)]
    public SwitchParameter All { get; set; }

    protected override void ProcessRecord()
    {
        var cache = DumpCache.Current;
        switch (ParameterSetName)
        {
            case "All":
                cache.CloseAll();
                break;
            case "Dump":
                foreach (var dump in Dump)
                    if (!cache.Close(dump.Path)) dump.Dispose();
                break;
            default:
                foreach (var path in Path)
                    foreach (var file in DumpResolver.ResolveFiles(this, path))
                        cache.Close(file);
                break;
        }
    }
}
