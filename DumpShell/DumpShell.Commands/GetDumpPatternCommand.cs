using System.Management.Automation;
using DumpShell.Analysis;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>The pattern catalogue of ../shared/docs/patterns.md as objects: what each pattern means and whether this build detects it.</summary>
[Cmdlet(VerbsCommon.Get, "DumpPattern")]
[OutputType(typeof(PatternInfo))]
public sealed class GetDumpPatternCommand : PSCmdlet
{
    /// <summary>Pattern names, aliases or detector ids; wildcards allowed.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("Pattern")]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Categories (e.g. 'Pointer Patterns'); wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Category { get; set; }

    /// <summary>Only patterns of these kinds (Detect, View, Later).</summary>
    [Parameter]
    public PatternKind[]? Kind { get; set; }

    protected override void ProcessRecord()
    {
        var selected = PatternSelection.Select(this, Name, Category);
        foreach (var pattern in selected)
            if (Kind is null || Kind.Contains(pattern.Kind))
                WriteObject(pattern);
    }
}
