namespace DumpShell.Model;

/// <summary>
/// The default analysis of one dump (WinDbg's !analyze -v, Get-DumpAnalysis): flat top-level facts (failure class,
/// exception, faulting thread, module and function, FailureBucket) plus the frames and findings.
/// </summary>
public sealed class DumpAnalysis
{
    public required string DumpPath { get; init; }
    /// <summary>The exception code's class ("AccessViolation", "StackOverflow", "CppException", ...), "Deadlock" or "Hang" without an exception, else "NoException".</summary>
    public required string FailureClass { get; init; }
    /// <summary>
    /// A grouping key that is the same for two dumps of the same bug: lower-case exception code + "_" + module!function
    /// of the faulting frame (module+0xRVA without symbols); never raw addresses, thread ids or times.
    /// </summary>
    public required string FailureBucket { get; init; }
    public uint? ExceptionCode { get; init; }
    public string? ExceptionCodeName { get; init; }
    /// <summary>What the exception means (access kind and target, fail-fast code, ...).</summary>
    public string? ExceptionDescription { get; init; }
    public ulong? ExceptionAddress { get; init; }
    /// <summary>The exception address as module+offset or module!function+offset.</summary>
    public string? ExceptionSymbol { get; init; }
    public uint? FaultingThreadId { get; init; }
    public string? FaultingThreadName { get; init; }
    /// <summary>The module of the faulting frame: the first exception-stack frame that matters (see <see cref="FramesThatMatter"/>).</summary>
    public string? FaultingModule { get; init; }
    /// <summary>"module!function" of the faulting frame, or "module+0xRVA" when the module has no symbols.</summary>
    public string? FaultingFunction { get; init; }
    /// <summary>The faulting frame as a debugger prints it (module!function+0x1c), with its source line when known.</summary>
    public string? FaultingFrame { get; init; }
    public string? FaultingSource { get; init; }
    /// <summary>
    /// Frames that matter: exception-stack frames in modules that are neither OS modules nor raising helpers (ntdll,
    /// kernelbase, kernel32, C/C++ runtimes, CLR), found by context, unwind data, frame pointer or a call-checked scan.
    /// </summary>
    public required string[] FramesThatMatter { get; init; }
    /// <summary>The exception stack (from .ecxr), or the main thread's stack without an exception (at most 64 frames).</summary>
    public required StackFrame[] Frames { get; init; }
    public required Finding[] Findings { get; init; }
    public int CriticalCount { get; init; }
    public int ErrorCount { get; init; }
    public int WarningCount { get; init; }
    public int InfoCount { get; init; }
    /// <summary>The most severe finding's pattern (first by severity, then by detector order).</summary>
    public string? PrimaryPattern { get; init; }
    public string? PrimaryEvidence { get; init; }
    public string? Recommendation { get; init; }
    /// <summary>Detectors that failed on this dump (their names).</summary>
    public required string[] FailedDetectors { get; init; }
    public string? SymbolPath { get; init; }
    public int PointerSize { get; init; } = 8;

    public override string ToString() => $"{FailureClass} {FailureBucket}";
}
