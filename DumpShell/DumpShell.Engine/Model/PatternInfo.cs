namespace DumpShell.Model;

/// <summary>How a pattern is handled (the Kind column of ../shared/docs/patterns.md).</summary>
public enum PatternKind
{
    /// <summary>An automatic detector in Invoke-DumpPattern produces findings.</summary>
    Detect,
    /// <summary>No detector: a person decides; a named cmdlet shows the data needed.</summary>
    View,
    /// <summary>Needs data or machinery outside the current scope.</summary>
    Later,
}

/// <summary>One entry of the pattern catalogue (Get-DumpPattern).</summary>
public sealed class PatternInfo
{
    /// <summary>The canonical name, as the catalogue spells it.</summary>
    public required string Name { get; init; }
    public required string Category { get; init; }
    public PatternKind Kind { get; init; }
    /// <summary>What the pattern means, in a sentence or two.</summary>
    public required string Description { get; init; }
    /// <summary>True when this build has a detector for the pattern (Invoke-DumpPattern reports it).</summary>
    public bool Detected { get; init; }
    /// <summary>The detector's id (the catalogue's Invoke-DumpPattern:&lt;Id&gt;), for detect patterns.</summary>
    public string? DetectorId { get; init; }
    /// <summary>The cmdlet that shows the pattern: Invoke-DumpPattern for detect patterns, the viewing cmdlet for view patterns.</summary>
    public required string ShownBy { get; init; }
    /// <summary>Course exercises that use the pattern (e.g. "P4", "P1 (and P2)").</summary>
    public string? Exercises { get; init; }
    /// <summary>Other spellings -Name accepts.</summary>
    public required IReadOnlyList<string> Aliases { get; init; }
    /// <summary>What this build does not do yet for the pattern (null when nothing is missing).</summary>
    public string? Note { get; init; }
}
