using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Managed Code Exception: each live thread's current .NET exception (ClrMD), with type, message, HResult, inner
/// exception and throwing method. The dump's failure (see <see cref="ManagedSpace.Failure"/>) is Error; the others Info.
/// Signature: the exception type and the throwing method, lower-case (no addresses).
/// </summary>
internal sealed class ManagedCodeExceptionDetector : IDetector
{
    public string Pattern => "Managed Code Exception";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (ManagedSpace.Ready(dump, context, Pattern, out var gap) is not { } session)
        {
            if (gap is not null)
            {
                // 0xE0434352 without a DAC: a managed exception of unknown type, not a native one.
                if (dump.Exception is { Code: 0xE0434352 or 0xE0434F4D } e)
                    yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Error),
                        $"Not evaluated: managed exception 0x{e.Code:X8} on thread 0x{e.ThreadId:x}, type unknown (DAC missing)",
                        "not-evaluated|dac", e.ThreadId, recommendation: gap.Recommendation);
                else yield return gap;
            }
            yield break;
        }
        var current = ManagedSpace.CurrentExceptions(session);
        var failure = ManagedSpace.Failure(dump, current);
        foreach (var e in current)
        {
            if (e.ThreadId is null) continue;
            bool isFailure = ReferenceEquals(e, failure);
            string? method = ManagedSpace.ThrowingMethod(e);
            var thread = dump.Threads.FirstOrDefault(t => t.Id == e.ThreadId);
            string name = session.ThreadFacts(e.ThreadId.Value)?.Name is { } n ? $" ({n})" : thread?.Name is { } tn ? $" ({tn})" : "";
            string evidence = $"{e.Type}: \"{Text.Clip(e.Message ?? "", 160)}\" HResult 0x{e.HResult:X8}" +
                              (method is null ? "" : $" at {method}") + $" on thread 0x{e.ThreadId:x}{name}" +
                              (e.InnerException is { } inner ? $"; inner {inner.Type}: \"{Text.Clip(inner.Message ?? "", 120)}\"" : "") +
                              (isFailure ? "; unhandled: the dump's failure" : "");
            yield return context.Create(Pattern, isFailure ? context.ExceptionSeverity(Severity.Error) : Severity.Info, evidence,
                Key(e), e.ThreadId, e.Frames.FirstOrDefault()?.Module, e.Address,
                recommendation: isFailure
                    ? "Read the exception and its inner exceptions: Get-DumpManagedException; the throwing thread's mixed stack: Get-DumpStack -ThreadId <id>."
                    : "An exception in flight on this thread (being thrown or caught): Get-DumpManagedException.");
        }
    }

    /// <summary>"app.orderprocessingexception|app.program.c": type and throwing method, lower-case.</summary>
    public static string Key(ManagedException e) =>
        $"{e.Type}|{ManagedSpace.ThrowingMethod(e) ?? "no-frame"}".ToLowerInvariant();
}
