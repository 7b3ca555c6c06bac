using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Multiple Exceptions (User Mode), from the Exception stream: the stored record chains to a different, non-harmless
/// exception, so more than one exception was in flight (one raised while another was being handled). Warning.
/// Counting threads in exception dispatch needs stack traces and is not done here.
/// </summary>
internal sealed class MultipleExceptionsDetector : IDetector
{
    public string Pattern => "Multiple Exceptions (User Mode)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = ExceptionFacts.Stored(dump);
        if (e is null) yield break;
        var chain = new List<DumpException>();
        for (var n = e; n is not null; n = n.Nested) chain.Add(n);
        var distinct = chain.Where(x => !ExceptionFacts.IsHarmless(x.Code)).ToArray();
        if (distinct.Length < 2) yield break;
        string list = string.Join(" <- ", distinct.Select(x => $"{ExceptionFacts.CodeText(x)} at {context.Where(x.Address)}"));
        yield return context.Create(Pattern, context.ExceptionSeverity(Severity.Warning),
            $"{distinct.Length} exceptions in flight on thread 0x{e.ThreadId:x}: {list} (the stored record chains to the earlier ones)",
            string.Join(",", distinct.Select(x => $"0x{x.Code:x8}")), e.ThreadId, e.Module, e.Address,
            recommendation: "The first exception of the chain (the last listed) is often the cause; the later ones happened while handling it.");
    }
}
