using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Embedded Comments: text the dump writer put in CommentStreamW / CommentStreamA (tool command line, trigger reason),
/// with the trigger classified (HungWindow, CpuThreshold, CommitThreshold, FirstChanceException, UnhandledException,
/// Manual). Empty or NUL-only streams do not count.
/// </summary>
internal sealed class EmbeddedCommentsDetector : IDetector
{
    private const int MaxCommentChars = 1000;

    public string Pattern => "Embedded Comments";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var trigger = context.Trigger;
        if (trigger.Text.Length == 0) yield break;
        string evidence = Text.Clip(trigger.Text, MaxCommentChars);
        if (trigger.Trigger != DumpTrigger.None) evidence += $" Trigger={trigger.Trigger}";
        string key = "trigger=" + trigger.Trigger.ToString().ToLowerInvariant() + (trigger.Tool is { } t ? "|" + t.ToLowerInvariant() : "");
        yield return context.Create(Pattern, Severity.Info, evidence, key,
            recommendation: trigger.Trigger == DumpTrigger.FirstChanceException
                ? "Written on a first-chance exception: the program may have handled it, so exception findings are one level lower."
                : null);
    }
}
