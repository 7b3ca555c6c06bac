using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>Passive Thread (User Space): one summary of the threads idle in a known dispatcher's wait, by kind.</summary>
internal sealed class PassiveThreadDetector : IDetector
{
    public string Pattern => "Passive Thread (User Space)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var states = dump.Threads.Select(t => (Thread: t, State: context.StateOf(t))).ToArray();
        var passive = states.Where(s => s.State.Activity == ThreadActivity.Passive).ToArray();
        var unknown = states.Where(s => s.State.Activity == ThreadActivity.Unknown && !context.IsExceptionThread(s.Thread)).Select(s => s.Thread).ToArray();
        if (passive.Length > 0)
        {
            string byKind = string.Join(", ", passive.GroupBy(s => s.State.WaitKind).OrderByDescending(g => g.Count())
                .Select(g => $"{g.Count()} {g.Key} ({ThreadStacks.Ids(g.Select(s => s.Thread))})"));
            yield return context.Create(Pattern, Severity.Info, $"{passive.Length} of {states.Length} threads passive: {byKind}",
                string.Join(",", passive.Select(s => s.State.WaitKind).Distinct().Order(StringComparer.Ordinal)).ToLowerInvariant());
        }
        if (unknown.Length > 0)
            yield return context.NotEvaluated(Pattern, "wait-function-names",
                $"{unknown.Length} of {states.Length} threads not classified ({ThreadStacks.Ids(unknown)}): {ThreadStacks.UnknownHint}");
    }
}
