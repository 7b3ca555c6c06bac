using System.Management.Automation;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>Loaded modules (lm, lmv, !mv), or with -Unloaded the unloaded ones.</summary>
[Cmdlet(VerbsCommon.Get, "DumpModule", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpModule))]
public sealed class GetDumpModuleCommand : DumpCmdlet
{
    /// <summary>Module file names to keep; wildcards allowed ("kernel*", "*.exe").</summary>
    [Parameter(Position = 1)]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>List the UnloadedModuleList instead.</summary>
    [Parameter]
    public SwitchParameter Unloaded { get; set; }

    protected override MinidumpStreamType[] StreamsRead =>
        Unloaded ? [MinidumpStreamType.UnloadedModuleList] : [MinidumpStreamType.ModuleList];

    protected override void ProcessDump(Dump dump)
    {
        var patterns = Name?.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToArray();
        foreach (var module in Unloaded ? dump.UnloadedModules : dump.Modules)
        {
            if (patterns is not null && !patterns.Any(p => p.IsMatch(module.Name))) continue;
            WriteObject(module);
        }
    }
}
