namespace DumpShell.Model;

/// <summary>How serious a <see cref="Finding"/> is (the scale of ../shared/docs/patterns.md).</summary>
public enum Severity
{
    /// <summary>Context or a neutral fact; no defect implied. Also every "Not evaluated:" data gap.</summary>
    Info = 0,
    /// <summary>Suspicious: it may explain the symptom, but a person has to confirm it.</summary>
    Warning = 1,
    /// <summary>The dump shows a defect: an invalid access, an unhandled exception, a blocked UI or service thread.</summary>
    Error = 2,
    /// <summary>The process cannot continue correctly: a deadlock, heap corruption, a stack-cookie failure.</summary>
    Critical = 3,
}

/// <summary>
/// One result of a pattern detector (Invoke-DumpPattern). Every property is a scalar, so Export-Csv writes one
/// clean row per finding and Group-Object Signature groups the same problem across many dumps.
/// </summary>
public sealed class Finding
{
    /// <summary>The canonical pattern name, as ../shared/docs/patterns.md spells it (e.g. "NULL Pointer (Data)").</summary>
    public required string Pattern { get; init; }
    /// <summary>The pattern's category (e.g. "Pointer Patterns").</summary>
    public required string Category { get; init; }
    public Severity Severity { get; init; }
    /// <summary>The OS thread id the finding is about (not the debugger's thread index); null for process-wide findings.</summary>
    public uint? ThreadId { get; init; }
    /// <summary>The module the finding points at (file name), if any.</summary>
    public string? Module { get; init; }
    /// <summary>The most useful single address: the faulting instruction, the module base, the TEB...</summary>
    public ulong? Address { get; init; }
    /// <summary>One line a person can check by hand. Data gaps start with "Not evaluated:".</summary>
    public required string Evidence { get; init; }
    /// <summary>What to do next.</summary>
    public string? Recommendation { get; init; }
    public required string DumpPath { get; init; }
    /// <summary>
    /// "&lt;Pattern&gt;|&lt;key&gt;": lower-case module and function names (or module+0xRVA), exception codes and type names;
    /// never absolute addresses, thread ids or times, so the same problem has the same signature in every dump.
    /// </summary>
    public required string Signature { get; init; }

    /// <summary>The dump's pointer size in bytes (4 or 8): how wide <see cref="Address"/> prints.</summary>
    public int PointerSize { get; init; } = 8;

    /// <summary>True for a "Not evaluated:" data-gap finding.</summary>
    public bool IsDataGap => Evidence.StartsWith(NotEvaluatedPrefix, StringComparison.Ordinal);

    /// <summary>How the evidence of a data-gap finding starts.</summary>
    public const string NotEvaluatedPrefix = "Not evaluated:";

    public override string ToString() => $"{Severity} {Pattern}: {Evidence}";
}
