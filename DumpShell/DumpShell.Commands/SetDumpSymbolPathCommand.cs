using System.Management.Automation;
using DumpShell.Symbols;

namespace DumpShell.Commands;

/// <summary>Sets the symbol path for this session (.sympath, .sympath+, .symfix, .reload).</summary>
[Cmdlet(VerbsCommon.Set, "DumpSymbolPath", DefaultParameterSetName = "Path")]
[OutputType(typeof(string))]
public sealed class SetDumpSymbolPathCommand : PSCmdlet
{
    /// <summary>A path in WinDbg syntax: folders, cache*dir, srv*cache*https://server, separated by ';'.</summary>
    [Parameter(ParameterSetName = "Path", Mandatory = true, Position = 0)]
    [AllowEmptyString]
    public string SymbolPath { get; set; } = "";

    /// <summary>Add to the path in effect instead of replacing it (.sympath+).</summary>
    [Parameter(ParameterSetName = "Path")]
    [Parameter(ParameterSetName = "Microsoft")]
    public SwitchParameter Append { get; set; }

    /// <summary>Microsoft's public symbol server with the default cache (.symfix).</summary>
    [Parameter(ParameterSetName = "Microsoft", Mandatory = true)]
    public SwitchParameter Microsoft { get; set; }

    /// <summary>Keep the path; forget loaded symbols and remembered misses (.reload).</summary>
    [Parameter(ParameterSetName = "Reload", Mandatory = true)]
    public SwitchParameter Reload { get; set; }

    /// <summary>Write the path now in effect.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void EndProcessing()
    {
        var session = SymbolSession.Current;
        if (Reload)
        {
            session.Reload();
        }
        else
        {
            var path = Microsoft ? Symbols.SymbolPath.Parse("srv*" + Symbols.SymbolPath.MicrosoftSymbolServer) : Symbols.SymbolPath.Parse(SymbolSession.ResolveFolders(this, SymbolPath));
            session.SetPath(Append ? Symbols.SymbolPath.Combine(session.Path, path) : path);
        }
        if (PassThru) WriteObject(session.Path.ToString());
    }
}
