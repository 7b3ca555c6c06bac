using DumpShell.Model;

namespace DumpShell.Analysis;

/// <summary>
/// A pattern detector: reads one dump and returns the findings of one pattern. A detector that lacks the data it
/// needs returns nothing or one Info finding whose evidence starts with "Not evaluated:"; it never guesses.
/// </summary>
public interface IDetector
{
    /// <summary>The canonical name of the pattern this detector reports (its findings' Pattern).</summary>
    string Pattern { get; }

    /// <summary>The findings for <paramref name="dump"/>. May throw; <see cref="PatternRunner"/> isolates failures.</summary>
    IEnumerable<Finding> Run(Dump dump, DetectorContext context);
}

/// <summary>Options of a pattern run (Invoke-DumpPattern's parameters).</summary>
public sealed class PatternOptions
{
    public static readonly PatternOptions Default = new();

    /// <summary>Memory Leak: private commit at or above this is suspicious; null means the catalogue's default.</summary>
    public ulong? LeakThreshold { get; init; }

    /// <summary>Handle Leak: a total handle count at or above this is suspicious; null means the catalogue's default (10,000).</summary>
    public int? HandleThreshold { get; init; }

    /// <summary>Not My Version: modules and their allowed version ranges; null when no baseline was given.</summary>
    public IReadOnlyList<VersionBaselineEntry>? Baseline { get; init; }

    /// <summary>Environment Hint: variables that are expected in this process (no Warning for them), e.g. __COMPAT_LAYER.</summary>
    public IReadOnlyCollection<string> ExpectedVariables { get; init; } = [];

    /// <summary>
    /// The symbol path (WinDbg syntax) for the stack detectors when the caller gives no loaded symbols; null or empty:
    /// names come from dump memory and exports only, and Reduced Symbolic Information says no path was configured.
    /// </summary>
    public string? SymbolPath { get; init; }

    /// <summary>Not My Thread and Unknown Component: extra folders that count as "our product".</summary>
    public IReadOnlyCollection<string> ProductPaths { get; init; } = [];
}

/// <summary>One baseline row: a module and the versions it may have (inclusive).</summary>
public sealed record VersionBaselineEntry(string Module, Version? MinVersion, Version? MaxVersion);

/// <summary>A detector that threw: the runner's stand-in for its findings.</summary>
public sealed class DetectorFailure
{
    public required string Pattern { get; init; }
    /// <summary>The detector's type name.</summary>
    public required string Detector { get; init; }
    public required string DumpPath { get; init; }
    public required Exception Exception { get; init; }
    public string Message => $"Detector '{Pattern}' ({Detector}) failed on {DumpPath}: {Exception.Message}";
    public override string ToString() => Message;
}

/// <summary>One item of a run: a finding, or the failure of one detector.</summary>
public sealed record PatternResult(Finding? Finding, DetectorFailure? Failure);
